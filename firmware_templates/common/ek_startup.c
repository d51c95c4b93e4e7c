/*
 * edgekit firmware core: vector table, reset handler and fault handlers (C, no assembly file).
 *
 * Reset: enable the FPU (when the build uses one), point VTOR at our table, paint the stack
 * (for the high-water mark), copy .data, zero .bss and the arena section, set the arena guard
 * words, set MSPLIM on Armv8-M Mainline, then call main().
 * Faults: print "e-[hardfault pc=0x........]" on the UART, then exit (semihosting) or halt.
 */
#include <stddef.h>
#include <stdint.h>

#include "ek_config.h"
#include "ek_port.h"
#include "ek_regs.h"
#include "ek_startup.h"
#include "ek_timer.h"

/* Symbols from the linker script (linker.ld). */
extern uint32_t __ek_data_load[], __ek_data_start[], __ek_data_end[];
extern uint32_t __ek_bss_start[], __ek_bss_end[];
extern uint32_t __ek_arena_start[], __ek_arena_end[];
extern uint32_t __ek_arena_guard_lo[], __ek_arena_guard_hi[];
extern uint32_t __ek_stack_limit[], __ek_stack_top[];

int main(void);
void ek_reset_handler(void) __attribute__((noreturn));
void ek_fault_handler(void) __attribute__((naked));
void ek_fault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));
static void systick_handler(void);

#ifndef EK_NUM_IRQS
#define EK_NUM_IRQS 32
#endif

typedef void (*ek_vector_t)(void);

/* Cortex-M vector table: initial SP, 15 system exceptions, EK_NUM_IRQS external interrupts. */
__attribute__((section(".vectors"), used)) const ek_vector_t ek_vectors[16 + EK_NUM_IRQS] = {
    [0] = (ek_vector_t)(uintptr_t)__ek_stack_top,
    [1] = ek_reset_handler,
    [2] = ek_fault_handler,  /* NMI */
    [3] = ek_fault_handler,  /* HardFault */
    [4] = ek_fault_handler,  /* MemManage */
    [5] = ek_fault_handler,  /* BusFault */
    [6] = ek_fault_handler,  /* UsageFault */
    [7] = ek_fault_handler,  /* SecureFault (Armv8-M) */
    [11] = ek_fault_handler, /* SVCall */
    [12] = ek_fault_handler, /* DebugMonitor */
    [14] = ek_fault_handler, /* PendSV */
    [15] = systick_handler,
    [16 ... 16 + EK_NUM_IRQS - 1] = ek_fault_handler,
};

static void systick_handler(void) {
    ek_timer_systick_isr();
}

static inline uintptr_t current_sp(void) {
    uintptr_t sp;
    __asm__ __volatile__("mov %0, sp" : "=r"(sp));
    return sp;
}

void ek_reset_handler(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    EK_SCB_CPACR |= (0xFu << 20); /* CP10 + CP11 full access: FPU (and MVE) */
    ek_barrier();
#endif
    EK_SCB_VTOR = (uint32_t)(uintptr_t)ek_vectors;

    /* Paint the unused stack below the current SP; ek_stack_usage() scans for the first overwrite. */
    uint32_t *paint_end = (uint32_t *)((current_sp() - 64u) & ~(uintptr_t)3u);
    for (uint32_t *p = __ek_stack_limit; p < paint_end; p++) {
        *p = EK_STACK_PAINT;
    }

    const uint32_t *src = __ek_data_load;
    for (uint32_t *dst = __ek_data_start; dst < __ek_data_end; dst++) {
        *dst = *src++;
    }
    for (uint32_t *dst = __ek_bss_start; dst < __ek_bss_end; dst++) {
        *dst = 0;
    }
    for (uint32_t *dst = __ek_arena_start; dst < __ek_arena_end; dst++) {
        *dst = 0;
    }
    for (int i = 0; i < EK_GUARD_WORDS; i++) {
        __ek_arena_guard_lo[i] = EK_GUARD_VALUE;
        __ek_arena_guard_hi[i] = EK_GUARD_VALUE;
    }
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* A stack overflow now raises a UsageFault (reported as a hardfault) instead of corrupting RAM. */
    __asm__ __volatile__("msr msplim, %0" : : "r"((uint32_t)(uintptr_t)__ek_stack_limit));
#endif
    ek_barrier();

    int rc = main();
    (void)ek_port_exit(rc);
    for (;;) {
    }
}

/* Common entry of every fault: find the stacked frame, move SP to a known-good place, report. */
void ek_fault_handler(void) {
    __asm__ __volatile__(
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
        "movs r2, #0\n\t"
        "msr msplim, r2\n\t" /* the report must not trip the stack limit again */
#endif
        "mov r1, lr\n\t"
        "movs r0, #4\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "ldr r2, =__ek_stack_top\n\t"
        "mov sp, r2\n\t"
        "ldr r2, =ek_fault_report\n\t"
        "bx r2\n\t"
        ".ltorg\n");
}

static void put_str(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    ek_port_write(s, n);
}

static void put_hex32(uint32_t v) {
    char buf[10] = {'0', 'x'};
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xFu];
    }
    ek_port_write(buf, sizeof buf);
}

void ek_fault_report(const uint32_t *frame, uint32_t exc_return) {
    (void)exc_return;
    uint32_t ipsr;
    __asm__ __volatile__("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;
    /* Read the stacked PC only if the frame lies inside our stack (a wild SP would fault again). */
    uintptr_t f = (uintptr_t)frame;
    uint32_t pc = 0;
    if (f >= (uintptr_t)__ek_stack_limit && f + 32u <= (uintptr_t)__ek_stack_top && (f & 3u) == 0) {
        pc = frame[6];
    }
    ek_port_write("\r\n", 2);
    if (ipsr == 3u) {
        put_str("e-[hardfault pc=");
        put_hex32(pc);
    } else {
        put_str("e-[exception ");
        char num[4] = {(char)('0' + ipsr / 100u), (char)('0' + ipsr / 10u % 10u), (char)('0' + ipsr % 10u), ' '};
        ek_port_write(num, sizeof num);
        put_str("pc=");
        put_hex32(pc);
    }
    put_str("]\r\n");
    (void)ek_port_exit(EK_FAULT_EXIT_CODE);
    for (;;) {
    }
}

void ek_stack_usage(size_t *used, size_t *reserved) {
    const uint32_t *p = __ek_stack_limit;
    while (p < __ek_stack_top && *p == EK_STACK_PAINT) {
        p++;
    }
    *used = (size_t)((uintptr_t)__ek_stack_top - (uintptr_t)p);
    *reserved = (size_t)((uintptr_t)__ek_stack_top - (uintptr_t)__ek_stack_limit);
}

int ek_arena_guard_check(void) {
    if ((uintptr_t)__ek_arena_end == (uintptr_t)__ek_arena_start) {
        return -1; /* the arena is not in its own section: no guards around it */
    }
    for (int i = 0; i < EK_GUARD_WORDS; i++) {
        if (__ek_arena_guard_lo[i] != EK_GUARD_VALUE) {
            return 1;
        }
        if (__ek_arena_guard_hi[i] != EK_GUARD_VALUE) {
            return 2;
        }
    }
    return 0;
}
