/*
 * edgekit firmware core: PLL set-up of STM32L4 / L4+ (e.g. STM32L4R5 at 120 MHz) from HSI16 or MSI; the reset clock
 * is MSI 4 MHz.
 *
 * Register facts (RM0432 / RM0351, as reproduced in the CMSIS device headers stm32l4r5xx.h / stm32l4xx.h):
 *   RCC 0x40021000: CR +0x00 (MSIRDY 1, HSION 8, HSIRDY 10, PLLON 24, PLLRDY 25); CFGR +0x08 (SW 1:0 / SWS 3:2:
 *   00 MSI, 11 PLL; HPRE 7:4, PPRE1 10:8, PPRE2 13:11); PLLCFGR +0x0C (PLLSRC 1:0: 01 MSI, 10 HSI16; PLLM 7:4 =
 *   M - 1 (4 bits on L4+); PLLN 14:8; PLLREN 24; PLLR 26:25 = R/2 - 1); APB1ENR1 +0x58 (PWREN 28).
 *   PWR 0x40007000: CR1 +0x00 (VOS 10:9, 01 = range 1); SR2 +0x14 (VOSF 10: 1 while the regulator changes);
 *   CR5 +0x80 (R1MODE 8: 0 = range 1 boost, needed above 80 MHz on L4+; 1 at reset).
 *   FLASH 0x40022000: ACR +0x00 (LATENCY 3:0, PRFTEN 8, ICEN 9, DCEN 10); boost range 1: one wait state per
 *   20 MHz of HCLK, 5 at 120 MHz.
 * Above 80 MHz ST's HAL (HAL_RCC_ClockConfig, STM32L4+) switches to the PLL with the AHB prescaler at /2 and
 * restores /1 after at least 1 us; this module does the same.
 */
#include "ek_clock.h"

#include "ek_config.h"
#include "ek_hw.h"
#include "ek_regs.h"

#define RCC_CR 0x40021000u
#define RCC_CFGR 0x40021008u
#define RCC_PLLCFGR 0x4002100Cu
#define RCC_APB1ENR1 0x40021058u
#define PWR_CR1 0x40007000u
#define PWR_SR2 0x40007014u
#define PWR_CR5 0x40007080u
#define FLASH_ACR 0x40022000u

#define CR_MSIRDY (1u << 1)
#define CR_HSION (1u << 8)
#define CR_HSIRDY (1u << 10)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW 0x3u
#define CFGR_SWS 0xCu
#define CFGR_HPRE (0xFu << 4)
#define CFGR_BUS_MASK (CFGR_HPRE | (0x7u << 8) | (0x7u << 11))
#define APB1ENR1_PWREN (1u << 28)
#define CR1_VOS (3u << 9)
#define CR1_VOS_RANGE1 (1u << 9)
#define SR2_VOSF (1u << 10)
#define CR5_R1MODE (1u << 8)
#define ACR_LATENCY 0xFu
#define ACR_CACHES ((1u << 8) | (1u << 9) | (1u << 10))

#if EK_CLOCK_PLL_SRC_MSI
#define PLLSRC 0x1u
#define OSC_ON 0u
#define OSC_RDY CR_MSIRDY
#else
#define PLLSRC 0x2u
#define OSC_ON CR_HSION
#define OSC_RDY CR_HSIRDY
#endif
#define TRANSITION (EK_CLOCK_HCLK_HZ > 80000000u && EK_CLOCK_AHB_DIV == 1u)

static int fallback(const char *step, const char **failed, uint32_t acr) {
    *failed = step;
    EK_REG32(RCC_CFGR) &= ~CFGR_SW; /* MSI */
    if (ek_hw_wait(RCC_CFGR, CFGR_SWS, 0u, EK_CLOCK_SPIN_LIMIT)) {
        EK_REG32(RCC_CFGR) &= ~CFGR_BUS_MASK;
        EK_REG32(FLASH_ACR) = acr;
        EK_REG32(RCC_CR) &= ~CR_PLLON;
    }
    return 0;
}

int ek_clock_setup(const char **failed) {
    uint32_t acr = EK_REG32(FLASH_ACR);
    EK_REG32(RCC_APB1ENR1) |= APB1ENR1_PWREN;
    (void)EK_REG32(RCC_APB1ENR1);
    EK_REG32(RCC_CR) |= OSC_ON;
    if (!ek_hw_wait(RCC_CR, OSC_RDY, OSC_RDY, EK_CLOCK_PROBE_LIMIT)) {
        *failed = "fallback-osc";
        return 0;
    }
#if defined(EK_CLOCK_REG_BOOST)
    EK_REG32(PWR_CR5) &= ~CR5_R1MODE; /* boost first, then range 1 if the regulator was elsewhere */
#endif
    EK_REG32(PWR_CR1) = (EK_REG32(PWR_CR1) & ~CR1_VOS) | CR1_VOS_RANGE1;
    if (!ek_hw_wait(PWR_SR2, SR2_VOSF, 0u, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-vos", failed, acr);
    }
    EK_REG32(RCC_PLLCFGR) = PLLSRC | ((EK_CLOCK_PLL_M - 1u) << 4) | (EK_CLOCK_PLL_N << 8) | (1u << 24) |
                            ((EK_CLOCK_PLL_DIV / 2u - 1u) << 25);
    EK_REG32(RCC_CR) |= CR_PLLON;
    if (!ek_hw_wait(RCC_CR, CR_PLLRDY, CR_PLLRDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-pll", failed, acr);
    }
    EK_REG32(FLASH_ACR) = (acr & ~ACR_LATENCY) | EK_CLOCK_FLASH_WS | ACR_CACHES;
    if ((EK_REG32(FLASH_ACR) & ACR_LATENCY) != EK_CLOCK_FLASH_WS) {
        return fallback("fallback-flash", failed, acr);
    }
    uint32_t hpre = TRANSITION ? ek_clock_hpre(2u) : ek_clock_hpre(EK_CLOCK_AHB_DIV);
    EK_REG32(RCC_CFGR) = (EK_REG32(RCC_CFGR) & ~CFGR_BUS_MASK) | (hpre << 4) |
                         (ek_clock_ppre(EK_CLOCK_APB1_DIV) << 8) | (ek_clock_ppre(EK_CLOCK_APB2_DIV) << 11);
    EK_REG32(RCC_CFGR) |= CFGR_SW; /* 11: PLL */
    if (!ek_hw_wait(RCC_CFGR, CFGR_SWS, CFGR_SWS, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-switch", failed, acr);
    }
    if (TRANSITION) {
        for (volatile uint32_t i = 0; i < EK_CLOCK_HCLK_HZ / 2000000u; i++) { /* >= 1 us at HCLK / 2 */
        }
        EK_REG32(RCC_CFGR) &= ~CFGR_HPRE;
    }
    return 1;
}
