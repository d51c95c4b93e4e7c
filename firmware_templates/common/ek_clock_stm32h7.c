/*
 * edgekit firmware core: PLL1 set-up of STM32H7A3/B3 (e.g. 280 MHz on NUCLEO-H7A3ZI-Q) from the 64 MHz HSI, the
 * reset clock.
 *
 * Register facts (RM0455, as reproduced in the CMSIS device header stm32h7a3xxq.h and ST's stm32h7xx_hal_pwr.h):
 *   PWR 0x58024800: CSR1 +0x04 (ACTVOSRDY 13); CR3 +0x0C (BYPASS 0, LDOEN 1, SMPSEN 2: the supply configuration,
 *   writable once after power-on); SRDCR +0x18 (VOS 15:14, 11 = VOS0; VOSRDY 13).
 *   RCC 0x58024400: CR +0x00 (HSION 0, HSIRDY 2, PLL1ON 24, PLL1RDY 25); CFGR +0x10 (SW 2:0 / SWS 5:3: 000 HSI,
 *   011 PLL1); CDCFGR1 +0x18 (CDCPRE 11:8, CDPPRE 6:4 = APB3, HPRE 3:0); CDCFGR2 +0x1C (CDPPRE1 6:4, CDPPRE2 10:8);
 *   SRDCFGR +0x20 (SRDPPRE 6:4 = APB4); PLLCKSELR +0x28 (PLLSRC 1:0 = 00 HSI, DIVM1 9:4); PLLCFGR +0x2C
 *   (PLL1FRACEN 0, PLL1VCOSEL 1 = 0 wide VCO, PLL1RGE 3:2, DIVP1EN 16); PLL1DIVR +0x30 (N-1 8:0, P-1 15:9,
 *   Q-1 22:16, R-1 30:24).
 *   FLASH 0x52002000: ACR +0x00 (LATENCY 3:0).
 * 280 MHz as ST sets it up for this part (an STM32CubeH7 SystemClock_Config for STM32H7A3: direct SMPS supply,
 * VOS0, PLL reference 2 MHz, VCO 560 MHz wide range, P = 2, FLASH_LATENCY_6, all APB prescalers /2).
 */
#include "ek_clock.h"

#include "ek_config.h"
#include "ek_hw.h"
#include "ek_regs.h"

#define PWR_CSR1 0x58024804u
#define PWR_CR3 0x5802480Cu
#define PWR_SRDCR 0x58024818u
#define RCC_CR 0x58024400u
#define RCC_CFGR 0x58024410u
#define RCC_CDCFGR1 0x58024418u
#define RCC_CDCFGR2 0x5802441Cu
#define RCC_SRDCFGR 0x58024420u
#define RCC_PLLCKSELR 0x58024428u
#define RCC_PLLCFGR 0x5802442Cu
#define RCC_PLL1DIVR 0x58024430u
#define FLASH_ACR 0x52002000u

#define CSR1_ACTVOSRDY (1u << 13)
#define CR3_SUPPLY 0x7u /* BYPASS, LDOEN, SMPSEN */
#define SRDCR_VOS (3u << 14)
#define SRDCR_VOSRDY (1u << 13)
#define CR_HSIRDY (1u << 2)
#define CR_PLL1ON (1u << 24)
#define CR_PLL1RDY (1u << 25)
#define CFGR_SW 0x7u
#define CFGR_SWS (0x7u << 3)
#define ACR_LATENCY 0xFu

#if defined(EK_CLOCK_SUPPLY_DIRECT_SMPS)
#define SUPPLY (1u << 2)
#else
#define SUPPLY (1u << 1) /* LDO */
#endif
/* PLL1RGE: reference 1-2 MHz 00, 2-4 MHz 01, 4-8 MHz 10, 8-16 MHz 11 */
#define RGE (EK_CLOCK_PLL_IN_HZ < 2000000u ? 0u : EK_CLOCK_PLL_IN_HZ < 4000000u ? 1u : \
             EK_CLOCK_PLL_IN_HZ < 8000000u ? 2u : 3u)

static void buses(uint32_t ahb, uint32_t apb1, uint32_t apb2) {
    EK_REG32(RCC_CDCFGR1) = (EK_REG32(RCC_CDCFGR1) & ~0xF7Fu) | (ek_clock_ppre(apb1) << 4) | ek_clock_hpre(ahb);
    EK_REG32(RCC_CDCFGR2) = (EK_REG32(RCC_CDCFGR2) & ~0x770u) | (ek_clock_ppre(apb1) << 4) |
                            (ek_clock_ppre(apb2) << 8);
    EK_REG32(RCC_SRDCFGR) = (EK_REG32(RCC_SRDCFGR) & ~0x70u) | (ek_clock_ppre(apb1) << 4);
}

static int fallback(const char *step, const char **failed, uint32_t acr) {
    *failed = step;
    EK_REG32(RCC_CFGR) &= ~CFGR_SW; /* HSI */
    if (ek_hw_wait(RCC_CFGR, CFGR_SWS, 0u, EK_CLOCK_SPIN_LIMIT)) {
        buses(1u, 1u, 1u);
        EK_REG32(FLASH_ACR) = acr;
        EK_REG32(RCC_CR) &= ~CR_PLL1ON;
    }
    return 0;
}

int ek_clock_setup(const char **failed) {
    uint32_t acr = EK_REG32(FLASH_ACR);
    if (!ek_hw_wait(RCC_CR, CR_HSIRDY, CR_HSIRDY, EK_CLOCK_PROBE_LIMIT)) {
        *failed = "fallback-hsi";
        return 0;
    }
    /* The supply configuration is write-once: if something already wrote another one, ACTVOSRDY stays low. */
    EK_REG32(PWR_CR3) = (EK_REG32(PWR_CR3) & ~CR3_SUPPLY) | SUPPLY;
    if (!ek_hw_wait(PWR_CSR1, CSR1_ACTVOSRDY, CSR1_ACTVOSRDY, EK_CLOCK_SPIN_LIMIT)) {
        *failed = "fallback-supply";
        return 0;
    }
    EK_REG32(PWR_SRDCR) |= SRDCR_VOS; /* VOS0 */
    if (!ek_hw_wait(PWR_SRDCR, SRDCR_VOSRDY, SRDCR_VOSRDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-vos", failed, acr);
    }
    EK_REG32(RCC_PLLCKSELR) = (EK_REG32(RCC_PLLCKSELR) & ~((0x3Fu << 4) | 0x3u)) | (EK_CLOCK_PLL_M << 4);
    EK_REG32(RCC_PLLCFGR) = (EK_REG32(RCC_PLLCFGR) & ~0xFu) | (RGE << 2) | (1u << 16); /* integer, wide VCO, P on */
    EK_REG32(RCC_PLL1DIVR) = (EK_CLOCK_PLL_N - 1u) | ((EK_CLOCK_PLL_DIV - 1u) << 9) | (1u << 16) | (1u << 24);
    EK_REG32(RCC_CR) |= CR_PLL1ON;
    if (!ek_hw_wait(RCC_CR, CR_PLL1RDY, CR_PLL1RDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-pll", failed, acr);
    }
    EK_REG32(FLASH_ACR) = (acr & ~ACR_LATENCY) | EK_CLOCK_FLASH_WS;
    if ((EK_REG32(FLASH_ACR) & ACR_LATENCY) != EK_CLOCK_FLASH_WS) {
        return fallback("fallback-flash", failed, acr);
    }
    buses(EK_CLOCK_AHB_DIV, EK_CLOCK_APB1_DIV, EK_CLOCK_APB2_DIV);
    EK_REG32(RCC_CFGR) = (EK_REG32(RCC_CFGR) & ~CFGR_SW) | 0x3u;
    if (!ek_hw_wait(RCC_CFGR, CFGR_SWS, 0x3u << 3, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-switch", failed, acr);
    }
    return 1;
}
