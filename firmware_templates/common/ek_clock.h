/*
 * edgekit firmware core: the clock the core runs at.
 *
 * ek_clock_init() runs first at boot. With a clock module (the board profile's firmware.clock picks
 * ek_clock_<family>.c) it sets up the PLL from an internal oscillator; every wait on a status flag is bounded, and
 * if one times out the module returns to the reset clock (EK_CORE_CLOCK_HZ, firmware.core_clock_hz). Without a
 * module (ek_clock_reset.c) the core stays at the reset clock. Either way ek_clock_core_hz() and ek_clock_uart_hz()
 * say what really runs: the UART divider, the DWT/SysTick rate and the ek-info% reply use them.
 */
#ifndef EK_CLOCK_H
#define EK_CLOCK_H

#include <stdint.h>

void ek_clock_init(void);
uint32_t ek_clock_core_hz(void);  /* the CPU clock now (what the DWT and SysTick count) */
uint32_t ek_clock_uart_hz(void);  /* the UART's kernel clock now */
const char *ek_clock_state(void); /* "reset" (no module), "pll", or "fallback-<step>" (a step timed out) */

/* Implemented by the module: 1 when the PLL runs, else 0 with *failed = "fallback-<step>" (NULL: no set-up). */
int ek_clock_setup(const char **failed);

/* Polls of a status flag before a step is given up: an oscillator, regulator or PLL that is ready within
 * microseconds on silicon (a PLL lock takes ~100-200 us) answers within a few hundred polls; 2^16 polls are tens
 * of ms at the reset clock. The first probe (the oscillator the core already runs from, so it must read ready) is
 * shorter: under QEMU, whose STM32 RCC is unimplemented (reads 0, each read logged by -d unimp), it fails fast. */
#define EK_CLOCK_SPIN_LIMIT (1u << 16)
#define EK_CLOCK_PROBE_LIMIT (1u << 10)

/* AHB prescaler field (HPRE, 4 bits) and APB prescaler fields (PPREx, 3 bits), the same encoding on STM32F4/L4/H7
 * (CMSIS device headers: RCC_CFGR_HPRE_DIV2 = 0x8 << HPRE_Pos ... DIV512 = 0xF; RCC_CFGR_PPRE1_DIV2 = 0x4 ...
 * DIV16 = 0x7); note /32 does not exist for HPRE. */
static inline uint32_t ek_clock_hpre(uint32_t div) {
    switch (div) {
    case 2: return 0x8u;
    case 4: return 0x9u;
    case 8: return 0xAu;
    case 16: return 0xBu;
    case 64: return 0xCu;
    case 128: return 0xDu;
    case 256: return 0xEu;
    case 512: return 0xFu;
    default: return 0x0u;
    }
}

static inline uint32_t ek_clock_ppre(uint32_t div) {
    switch (div) {
    case 2: return 0x4u;
    case 4: return 0x5u;
    case 8: return 0x6u;
    case 16: return 0x7u;
    default: return 0x0u;
    }
}

#endif /* EK_CLOCK_H */
