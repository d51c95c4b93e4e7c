/*
 * edgekit firmware core: bring-up helpers for the UART drivers of real chips (STM32, nRF).
 *
 * ek_hw_enable_bits() sets the board profile's firmware.enable_bits (RCC clock enables, supply switches) in
 * order; ek_hw_wait() polls a status flag a bounded number of times, so that a block that never answers (a clock
 * left off, or QEMU, which leaves many RCC/GPIO/CLOCK blocks unimplemented: their reads return 0) slows the
 * firmware down instead of hanging it.
 */
#ifndef EK_HW_H
#define EK_HW_H

#include <stdint.h>

#include "ek_config.h"
#include "ek_regs.h"

/* Polls of a status flag before giving up: >= 2^20 reads is over 80 ms at 64 MHz and ~1 s at 4 MHz, far
 * longer than one character at 9600 baud (1.04 ms). */
#define EK_HW_SPIN_LIMIT (1u << 20)

static inline void ek_hw_enable_bits(void) {
#if EK_NUM_ENABLE_BITS > 0
    static const uint32_t bits[EK_NUM_ENABLE_BITS][2] = EK_ENABLE_BITS;
    for (unsigned i = 0; i < EK_NUM_ENABLE_BITS; i++) {
        EK_REG32(bits[i][0]) |= 1u << bits[i][1];
        (void)EK_REG32(bits[i][0]); /* read back: the clock runs before the peripheral is touched */
    }
#endif
}

/* Wait until (*addr & mask) == want; 1 if it got there within `limit` reads, 0 if not. */
static inline int ek_hw_wait(uint32_t addr, uint32_t mask, uint32_t want, uint32_t limit) {
    for (uint32_t i = 0; i < limit; i++) {
        if ((EK_REG32(addr) & mask) == want) {
            return 1;
        }
    }
    return 0;
}

#endif /* EK_HW_H */
