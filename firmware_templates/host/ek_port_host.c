/*
 * edgekit firmware core: a host port (ek_port.h) for tests and fuzzing. Reads stdin, writes stdout;
 * the "timer" counts calls (deterministic), there is no stack paint and no arena guard.
 * With an energy pin configured (EK_GPIO_ENERGY in ek_config.h) and EK_GPIO_LOG=1 in the environment it logs
 * the pin's edges to stderr ("ek-gpio-energy-high ticks=N").
 */
#include <stdio.h>
#include <stdlib.h>

#include "ek_port.h"

#include "ek_gpio.h"

static uint64_t fake_ticks;

#if EK_GPIO_ENERGY
/* The energy pin of a hosted build: its edges go to stderr when EK_GPIO_LOG is set (and not "0"). */
static int gpio_log;

static void gpio_event(const char *what) {
    if (gpio_log) {
        fprintf(stderr, "ek-gpio-energy-%s ticks=%llu\n", what, (unsigned long long)fake_ticks);
    }
}

void ek_gpio_init(void) {
    const char *env = getenv("EK_GPIO_LOG");
    gpio_log = env != NULL && env[0] != '\0' && env[0] != '0';
    gpio_event("init");
}

void ek_gpio_pin_high(void) {
    gpio_event("high");
}

void ek_gpio_pin_low(void) {
    gpio_event("low");
}
#endif

void ek_port_init(void) {
    ek_gpio_init();
}

int ek_port_getc(void) {
    int c = getchar();
    return c == EOF ? -1 : c;
}

void ek_port_write(const char *buf, size_t n) {
    fwrite(buf, 1, n, stdout);
}

uint64_t ek_port_ticks(void) {
    return fake_ticks += 1000u;
}

uint32_t ek_port_core_hz(const char **state) {
    *state = "host";
    return 0; /* the SDK (or the host) owns the clock: the harness uses the board profile's figure */
}

uint32_t ek_port_tick_hz(void) {
    return 1000000u;
}

void ek_port_timer_rephase(void) {
}

const char *ek_port_timer_kind(void) {
    return "host";
}

void ek_port_stack(size_t *used, size_t *reserved) {
    *used = 0;
    *reserved = 0;
}

int ek_port_arena_guard(void) {
    return -1;
}

int ek_port_exit(int code) {
    fflush(stdout);
    exit(code);
}
