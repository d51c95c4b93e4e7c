/*
 * edgekit firmware core: DWT / SysTick tick counter (see ek_timer.h).
 */
#include "ek_timer.h"

#include "ek_config.h"
#include "ek_regs.h"

#define SYSTICK_RELOAD 0x00FFFFFFu /* 24-bit counter, counts down */

enum { KIND_SYSTICK = 0, KIND_DWT = 1 };

static int kind = KIND_SYSTICK;
static volatile uint32_t systick_wraps; /* incremented by the SysTick interrupt */
static uint64_t systick_base;           /* ticks counted before the last re-phase */
static uint32_t dwt_high;               /* upper 32 bits of the extended cycle count */
static uint32_t dwt_last;               /* last CYCCNT read, to detect wraps */
static uint32_t core_hz = EK_CORE_CLOCK_HZ;     /* what the DWT counts */
static uint32_t systick_hz = EK_TIMER_HZ;       /* what SysTick counts (CLKSOURCE = 1: the processor clock) */

void ek_timer_set_core_hz(uint32_t hz) {
    core_hz = hz;
    systick_hz = hz == EK_CORE_CLOCK_HZ ? EK_TIMER_HZ : hz; /* a clock module switched: SysTick follows the CPU */
}

static void systick_start(void) {
    EK_SYST_CSR = 0;
    EK_SYST_RVR = SYSTICK_RELOAD;
    EK_SYST_CVR = 0; /* any write clears the counter; it reloads on the next tick */
    EK_SYST_CSR = EK_SYST_CSR_CLKSOURCE | EK_SYST_CSR_TICKINT | EK_SYST_CSR_ENABLE;
}

#if EK_TIMER_DWT
/* Enable CYCCNT and check that it counts; 0 if the core has none or it stays still (QEMU). */
static int dwt_start(void) {
    EK_DEMCR |= EK_DEMCR_TRCENA;
    EK_DWT_LAR = 0xC5ACCE55u; /* unlock on cores with a CoreSight lock (Cortex-M7) */
    if (EK_DWT_CTRL & EK_DWT_CTRL_NOCYCCNT) {
        return 0;
    }
    EK_DWT_CYCCNT = 0;
    EK_DWT_CTRL |= EK_DWT_CTRL_CYCCNTENA;
    uint32_t before = EK_DWT_CYCCNT;
    for (volatile int i = 0; i < 64; i++) {
    }
    return EK_DWT_CYCCNT != before;
}
#endif

void ek_timer_init(void) {
    systick_wraps = 0;
    systick_base = 0;
#if EK_TIMER_DWT
    if (dwt_start()) {
        kind = KIND_DWT;
        dwt_high = 0;
        dwt_last = EK_DWT_CYCCNT;
    }
#endif
    /* SysTick runs in both modes: with the DWT its interrupt only keeps the 64-bit extension fresh. */
    systick_start();
}

void ek_timer_systick_isr(void) {
    if (kind == KIND_DWT) {
        (void)ek_timer_ticks();
    } else {
        systick_wraps++;
    }
}

uint64_t ek_timer_ticks(void) {
    uint32_t primask = ek_irq_save();
    uint64_t ticks;
    if (kind == KIND_DWT) {
        uint32_t now = EK_DWT_CYCCNT;
        if (now < dwt_last) {
            dwt_high++;
        }
        dwt_last = now;
        ticks = ((uint64_t)dwt_high << 32) | now;
    } else {
        uint32_t wraps = systick_wraps;
        uint32_t value = EK_SYST_CVR;
        if (EK_SCB_ICSR & EK_ICSR_PENDSTSET) {
            /* wrapped, interrupt not yet taken: count it and read again after the wrap */
            wraps++;
            value = EK_SYST_CVR;
        }
        /* The wrap interrupt is pended when the counter reaches 0, one tick before the reload:
         * so 0 counts as the first tick of the next period (phase 0), the reload value as phase 1. */
        ticks = systick_base + ((uint64_t)wraps << 24) + ((SYSTICK_RELOAD - value + 1u) & SYSTICK_RELOAD);
    }
    ek_irq_restore(primask);
    return ticks;
}

void ek_timer_rephase(void) {
    if (kind == KIND_DWT) {
        return;
    }
    uint32_t primask = ek_irq_save();
    uint64_t now = ek_timer_ticks();
    EK_SYST_CVR = 0;                 /* clears the counter: the next tick reloads it (phase 0) */
    EK_SCB_ICSR = EK_ICSR_PENDSTCLR; /* drop a wrap that was pending: it is counted in `now` */
    systick_wraps = 0;
    systick_base = now;
    ek_irq_restore(primask);
}

uint32_t ek_timer_hz(void) {
    return kind == KIND_DWT ? core_hz : systick_hz;
}

const char *ek_timer_kind(void) {
    return kind == KIND_DWT ? "dwt" : "systick";
}
