/*
 * edgekit firmware core: the port interface.
 *
 * Everything the protocol (ek_protocol.c) needs from the platform goes through
 * these few functions, so the protocol also builds on a host (tests, fuzzing)
 * with a host port instead of the UART/timer port of a microcontroller.
 */
#ifndef EK_PORT_H
#define EK_PORT_H

#include <stddef.h>
#include <stdint.h>

/* Bring up the UART and the timer (MCU) or stdio (host). */
void ek_port_init(void);

/* One received byte (0..255), or -1 when none is waiting (never blocks). */
int ek_port_getc(void);

/* Send n bytes to the host (blocks until queued). */
void ek_port_write(const char *buf, size_t n);

/* Free-running timer: ticks since ek_port_init, its rate, and its kind ("dwt", "systick", "host"). */
uint64_t ek_port_ticks(void);
uint32_t ek_port_tick_hz(void);
const char *ek_port_timer_kind(void);
/* Align the timer's phase to now (deterministic intervals under emulation); may be a no-op. */
void ek_port_timer_rephase(void);

/* The CPU clock now and how it was set: "pll", "reset" (no clock set-up), "fallback-<step>" (the set-up timed
 * out at that step: back at the reset clock). 0 when the port cannot tell (the SDK owns the clock). */
uint32_t ek_port_core_hz(const char **state);

/* Stack high-water mark in bytes (0, 0 when the port cannot tell). */
void ek_port_stack(size_t *used, size_t *reserved);

/* Guard words around the model's arena: 0 intact, 1 low guard hit, 2 high guard hit, -1 no guards. */
int ek_port_arena_guard(void);

/* End the program with an exit code (semihosting / host exit). Returns -1 if the port cannot exit. */
int ek_port_exit(int code);

#endif /* EK_PORT_H */
