/*
 * edgekit firmware port for Zephyr (ek_port.h): the protocol on the console UART (zephyr,console),
 * polled; timing with the DWT cycle counter (EK_TIMER_DWT), else the kernel's hardware cycle counter.
 */
#include <zephyr/device.h>
#include <zephyr/drivers/uart.h>
#include <zephyr/kernel.h>

#include "ek_config.h"
#include "ek_port.h"

#if EK_TIMER_DWT
#include "ek_dwt.h"
static int use_dwt;
#endif

static const struct device *const console = DEVICE_DT_GET(DT_CHOSEN(zephyr_console));
static uint32_t cyc_high, cyc_last;

static uint64_t kernel_cycles(void) {
    unsigned int key = irq_lock();
    uint32_t now = k_cycle_get_32();
    if (now < cyc_last) {
        cyc_high++;
    }
    cyc_last = now;
    uint64_t t = ((uint64_t)cyc_high << 32) | now;
    irq_unlock(key);
    return t;
}

/* Keeps the software extension of the 32-bit counters fresh while the firmware is idle. */
static void refresh(struct k_timer *timer) {
    (void)timer;
    (void)ek_port_ticks();
}
K_TIMER_DEFINE(ek_refresh_timer, refresh, NULL);

void ek_port_init(void) {
#if EK_TIMER_DWT
    use_dwt = ek_dwt_start();
#endif
    cyc_last = k_cycle_get_32();
    k_timer_start(&ek_refresh_timer, K_SECONDS(5), K_SECONDS(5));
}

int ek_port_getc(void) {
    unsigned char c;
    if (!device_is_ready(console) || uart_poll_in(console, &c) != 0) {
        return -1;
    }
    return c;
}

void ek_port_write(const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uart_poll_out(console, (unsigned char)buf[i]);
    }
}

uint64_t ek_port_ticks(void) {
#if EK_TIMER_DWT
    if (use_dwt) {
        return ek_dwt_ticks();
    }
#endif
    return kernel_cycles();
}

uint32_t ek_port_core_hz(const char **state) {
    *state = "sdk";
    return 0; /* the SDK (or the host) owns the clock: the harness uses the board profile's figure */
}

uint32_t ek_port_tick_hz(void) {
#if EK_TIMER_DWT
    if (use_dwt) {
        return EK_CORE_CLOCK_HZ;
    }
#endif
    return (uint32_t)sys_clock_hw_cycles_per_sec();
}

const char *ek_port_timer_kind(void) {
#if EK_TIMER_DWT
    if (use_dwt) {
        return "dwt";
    }
#endif
    return "k_cycle";
}

/* The DWT and kernel cycle counters run free: nothing to align. */
void ek_port_timer_rephase(void) {
}

void ek_port_stack(size_t *used, size_t *reserved) {
    *used = 0;
    *reserved = 0;
#if defined(CONFIG_THREAD_STACK_INFO) && defined(CONFIG_INIT_STACKS)
    size_t unused = 0;
    if (k_thread_stack_space_get(k_current_get(), &unused) == 0) {
        *reserved = k_current_get()->stack_info.size;
        *used = *reserved - unused;
    }
#endif
}

int ek_port_arena_guard(void) {
    return -1;
}

int ek_port_exit(int code) {
    (void)code;
    return -1;
}
