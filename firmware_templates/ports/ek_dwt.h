/*
 * edgekit port helper: the Cortex-M DWT cycle counter as a 64-bit tick count, without interrupts.
 *
 * For SDKs that own SysTick (Zephyr, Mbed): CYCCNT is extended to 64 bits in software, so
 * ek_dwt_ticks() must run at least once per counter period (2^32 cycles: 67 s at 64 MHz); the ports
 * call it from their main loop or a periodic timer. Needs ek_regs.h (register addresses).
 */
#ifndef EK_DWT_H
#define EK_DWT_H

#include <stdint.h>

#include "ek_regs.h"

static uint32_t ek_dwt_high;
static uint32_t ek_dwt_last;

/* Enable CYCCNT; 0 if the core has none or it does not count. */
static inline int ek_dwt_start(void) {
    EK_DEMCR |= EK_DEMCR_TRCENA;
    EK_DWT_LAR = 0xC5ACCE55u;
    if (EK_DWT_CTRL & EK_DWT_CTRL_NOCYCCNT) {
        return 0;
    }
    EK_DWT_CYCCNT = 0;
    EK_DWT_CTRL |= EK_DWT_CTRL_CYCCNTENA;
    uint32_t before = EK_DWT_CYCCNT;
    for (volatile int i = 0; i < 64; i++) {
    }
    ek_dwt_high = 0;
    ek_dwt_last = EK_DWT_CYCCNT;
    return EK_DWT_CYCCNT != before;
}

static inline uint64_t ek_dwt_ticks(void) {
    uint32_t primask = ek_irq_save();
    uint32_t now = EK_DWT_CYCCNT;
    if (now < ek_dwt_last) {
        ek_dwt_high++;
    }
    ek_dwt_last = now;
    uint64_t ticks = ((uint64_t)ek_dwt_high << 32) | now;
    ek_irq_restore(primask);
    return ticks;
}

#endif /* EK_DWT_H */
