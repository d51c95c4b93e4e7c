/*
 * edgekit firmware core: the port (ek_port.h) on a microcontroller: UART, timer, semihosting.
 */
#include "ek_port.h"

#include "ek_clock.h"
#include "ek_config.h"
#include "ek_gpio.h"
#include "ek_semihost.h"
#include "ek_startup.h"
#include "ek_timer.h"
#include "ek_uart.h"

void ek_port_init(void) {
    ek_clock_init(); /* first: the UART divider and the timer rate follow the clock it leaves running */
    ek_timer_set_core_hz(ek_clock_core_hz());
    ek_uart_init();
    ek_timer_init();
    ek_gpio_init(); /* the energy pin, driven low (nothing when the board has none) */
}

int ek_port_getc(void) {
    return ek_uart_getc();
}

void ek_port_write(const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ek_uart_putc((uint8_t)buf[i]);
    }
}

uint64_t ek_port_ticks(void) {
    return ek_timer_ticks();
}

uint32_t ek_port_tick_hz(void) {
    return ek_timer_hz();
}

void ek_port_timer_rephase(void) {
    ek_timer_rephase();
}

uint32_t ek_port_core_hz(const char **state) {
    *state = ek_clock_state();
    return ek_clock_core_hz();
}

const char *ek_port_timer_kind(void) {
    return ek_timer_kind();
}

void ek_port_stack(size_t *used, size_t *reserved) {
    ek_stack_usage(used, reserved);
}

int ek_port_arena_guard(void) {
    return ek_arena_guard_check();
}

int ek_port_exit(int code) {
#if EK_SEMIHOSTING
    ek_semihost_exit(code);
#else
    (void)code;
    return -1;
#endif
}
