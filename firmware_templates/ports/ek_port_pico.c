/*
 * edgekit firmware port for the Raspberry Pi Pico SDK (ek_port.h): the protocol over stdio (USB CDC,
 * pico_enable_stdio_usb), raw (no CR/LF translation); timing with the firmware core's ek_timer.c
 * (SysTick at the core clock on RP2040, the DWT cycle counter on RP2350), its SysTick handler
 * installed through the SDK.
 */
#include <stdio.h>

#include "hardware/exception.h"
#include "pico/stdlib.h"

#include "ek_config.h"
#include "ek_port.h"
#include "ek_timer.h"

void ek_port_init(void) {
    stdio_init_all();
    exception_set_exclusive_handler(SYSTICK_EXCEPTION, ek_timer_systick_isr);
    ek_timer_init();
}

int ek_port_getc(void) {
    int c = getchar_timeout_us(0);
    return c < 0 ? -1 : (c & 0xFF);
}

void ek_port_write(const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        putchar_raw((unsigned char)buf[i]);
    }
    stdio_flush();
}

uint64_t ek_port_ticks(void) {
    return ek_timer_ticks();
}

uint32_t ek_port_core_hz(const char **state) {
    *state = "sdk";
    return 0; /* the SDK (or the host) owns the clock: the harness uses the board profile's figure */
}

uint32_t ek_port_tick_hz(void) {
    return ek_timer_hz();
}

const char *ek_port_timer_kind(void) {
    return ek_timer_kind();
}

void ek_port_timer_rephase(void) {
    ek_timer_rephase();
}

void ek_port_stack(size_t *used, size_t *reserved) {
    *used = 0;
    *reserved = 0;
}

int ek_port_arena_guard(void) {
    return -1;
}

int ek_port_exit(int code) {
    (void)code;
    return -1;
}
