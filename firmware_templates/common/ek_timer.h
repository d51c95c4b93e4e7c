/*
 * edgekit firmware core: a free-running 64-bit tick counter.
 *
 * EK_TIMER_DWT: the DWT cycle counter at the core clock, extended to 64 bits in software;
 * if CYCCNT is absent or does not count (QEMU), it falls back to SysTick at run time.
 * EK_TIMER_SYSTICK: SysTick at EK_TIMER_HZ (24-bit hardware counter, wrap interrupts
 * chained to 64 bits in software).
 */
#ifndef EK_TIMER_H
#define EK_TIMER_H

#include <stdint.h>

void ek_timer_init(void);
uint64_t ek_timer_ticks(void);
uint32_t ek_timer_hz(void);
const char *ek_timer_kind(void);
void ek_timer_systick_isr(void);
/* Re-align the SysTick phase to "now" so the next interval starts on a tick boundary (no-op with the DWT).
 * Under QEMU -icount this makes per-inference tick counts exactly repeatable. */
void ek_timer_rephase(void);
/* The CPU clock the DWT and SysTick count, when it is not EK_CORE_CLOCK_HZ (a clock module switched to its PLL);
 * call before ek_timer_init. */
void ek_timer_set_core_hz(uint32_t hz);

#endif /* EK_TIMER_H */
