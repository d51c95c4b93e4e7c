/*
 * edgekit firmware core: PLL set-up of STM32F4 (F405/F407/F446 ...) from the 16 MHz HSI, the reset clock.
 *
 * Register facts (RM0090 / RM0390, as reproduced in the CMSIS device headers stm32f4xx.h and libopencm3's
 * stm32/f4 rcc/pwr/flash headers):
 *   RCC 0x40023800: CR +0x00 (HSION 0, HSIRDY 1, PLLON 24, PLLRDY 25); PLLCFGR +0x04 (PLLM 5:0, PLLN 14:6,
 *   PLLP 17:16 = P/2 - 1, PLLSRC 22 = 0 for HSI, PLLQ 27:24); CFGR +0x08 (SW 1:0 / SWS 3:2: 00 HSI, 10 PLL;
 *   HPRE 7:4, PPRE1 12:10, PPRE2 15:13); APB1ENR +0x40 (PWREN 28).
 *   PWR 0x40007000: CR +0x00 (VOS 15:14 on F42x/F446, bit 14 on F405 - scale 1 either way when set; ODEN 16,
 *   ODSWEN 17); CSR +0x04 (VOSRDY 14, ODRDY 16, ODSWRDY 17).
 *   FLASH 0x40023C00: ACR +0x00 (LATENCY 3:0, PRFTEN 8, ICEN 9, DCEN 10).
 * Order (the RM's "increasing the CPU frequency" sequence): PLL on, over-drive (F446 above 168 MHz: ODEN, wait
 * ODRDY, ODSWEN, wait ODSWRDY), flash wait states (read back), bus prescalers, then switch SYSCLK to the PLL.
 *
 * QEMU's netduinoplus2 models no RCC (reads return 0): the HSI probe times out and the core stays at the reset
 * clock the profile states (QEMU's fixed 168 MHz), reported as "fallback-hsi".
 */
#include "ek_clock.h"

#include "ek_config.h"
#include "ek_hw.h"
#include "ek_regs.h"

#define RCC_CR 0x40023800u
#define RCC_PLLCFGR 0x40023804u
#define RCC_CFGR 0x40023808u
#define RCC_APB1ENR 0x40023840u
#define PWR_CR 0x40007000u
#define PWR_CSR 0x40007004u
#define FLASH_ACR 0x40023C00u

#define CR_HSION (1u << 0)
#define CR_HSIRDY (1u << 1)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW 0x3u
#define CFGR_SWS 0xCu
#define CFGR_SW_PLL 0x2u
#define CFGR_SWS_PLL 0x8u
#define CFGR_BUS_MASK ((0xFu << 4) | (0x7u << 10) | (0x7u << 13))
#define APB1ENR_PWREN (1u << 28)
#define PWR_CR_ODEN (1u << 16)
#define PWR_CR_ODSWEN (1u << 17)
#define PWR_CSR_VOSRDY (1u << 14)
#define PWR_CSR_ODRDY (1u << 16)
#define PWR_CSR_ODSWRDY (1u << 17)
#define ACR_LATENCY 0xFu
#define ACR_CACHES ((1u << 8) | (1u << 9) | (1u << 10)) /* prefetch, instruction and data caches */

/* Back to the HSI: switch first, and only once the switch is seen lower the wait states again. */
static int fallback(const char *step, const char **failed, uint32_t acr) {
    *failed = step;
    EK_REG32(RCC_CFGR) &= ~CFGR_SW;
    if (ek_hw_wait(RCC_CFGR, CFGR_SWS, 0u, EK_CLOCK_SPIN_LIMIT)) {
        EK_REG32(RCC_CFGR) &= ~CFGR_BUS_MASK;
        EK_REG32(FLASH_ACR) = acr;
        EK_REG32(RCC_CR) &= ~CR_PLLON;
    }
    return 0;
}

int ek_clock_setup(const char **failed) {
    uint32_t acr = EK_REG32(FLASH_ACR);
    EK_REG32(RCC_CR) |= CR_HSION; /* on since reset: the core runs from it */
    if (!ek_hw_wait(RCC_CR, CR_HSIRDY, CR_HSIRDY, EK_CLOCK_PROBE_LIMIT)) {
        *failed = "fallback-hsi"; /* nothing was changed yet */
        return 0;
    }
    EK_REG32(RCC_APB1ENR) |= APB1ENR_PWREN;
    (void)EK_REG32(RCC_APB1ENR);
#if defined(EK_CLOCK_REG_OVERDRIVE)
    EK_REG32(PWR_CR) |= 3u << 14; /* VOS = 11: scale 1 (F42x/F446), written while the PLL is off */
#else
    EK_REG32(PWR_CR) |= 1u << 14; /* scale 1 (F405/F407: VOS is this one bit) */
#endif
    EK_REG32(RCC_PLLCFGR) = EK_CLOCK_PLL_M | (EK_CLOCK_PLL_N << 6) | ((EK_CLOCK_PLL_DIV / 2u - 1u) << 16) |
                            (EK_CLOCK_PLL_Q << 24); /* PLLSRC (bit 22) = 0: HSI */
    EK_REG32(RCC_CR) |= CR_PLLON;
    if (!ek_hw_wait(RCC_CR, CR_PLLRDY, CR_PLLRDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-pll", failed, acr);
    }
    if (!ek_hw_wait(PWR_CSR, PWR_CSR_VOSRDY, PWR_CSR_VOSRDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-vos", failed, acr);
    }
#if defined(EK_CLOCK_REG_OVERDRIVE)
    EK_REG32(PWR_CR) |= PWR_CR_ODEN;
    if (!ek_hw_wait(PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-overdrive", failed, acr);
    }
    EK_REG32(PWR_CR) |= PWR_CR_ODSWEN;
    if (!ek_hw_wait(PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-overdrive", failed, acr);
    }
#endif
    EK_REG32(FLASH_ACR) = (acr & ~ACR_LATENCY) | EK_CLOCK_FLASH_WS | ACR_CACHES;
    if ((EK_REG32(FLASH_ACR) & ACR_LATENCY) != EK_CLOCK_FLASH_WS) {
        return fallback("fallback-flash", failed, acr);
    }
    EK_REG32(RCC_CFGR) = (EK_REG32(RCC_CFGR) & ~CFGR_BUS_MASK) | (ek_clock_hpre(EK_CLOCK_AHB_DIV) << 4) |
                         (ek_clock_ppre(EK_CLOCK_APB1_DIV) << 10) | (ek_clock_ppre(EK_CLOCK_APB2_DIV) << 13);
    EK_REG32(RCC_CFGR) = (EK_REG32(RCC_CFGR) & ~CFGR_SW) | CFGR_SW_PLL;
    if (!ek_hw_wait(RCC_CFGR, CFGR_SWS, CFGR_SWS_PLL, EK_CLOCK_SPIN_LIMIT)) {
        return fallback("fallback-switch", failed, acr);
    }
    return 1;
}
