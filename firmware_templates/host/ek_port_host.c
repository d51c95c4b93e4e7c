/*
 * edgekit firmware core: a host port (ek_port.h) for tests and fuzzing. Reads stdin, writes stdout;
 * the "timer" counts calls (deterministic), there is no stack paint and no arena guard.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ek_port.h"

static uint64_t fake_ticks;

void ek_port_init(void) {
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
