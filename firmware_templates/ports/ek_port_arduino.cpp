/*
 * edgekit firmware port for Arduino cores (ek_port.h): the protocol on Serial (USB CDC on the Nano 33
 * BLE Sense; the baud rate does not matter there). Timing: the DWT cycle counter on Cortex-M cores that
 * have one (EK_TIMER_DWT), extended in software from loop(); else micros().
 */
#include <Arduino.h>

extern "C" {
#include "ek_config.h"
#include "ek_port.h"
}

#if EK_TIMER_DWT
extern "C" {
#include "ek_dwt.h"
}
static int use_dwt;
#endif

static uint32_t us_high, us_last;

extern "C" void ek_port_init(void) {
    Serial.begin(EK_UART_BAUD);
#if EK_TIMER_DWT
    use_dwt = ek_dwt_start();
#endif
    us_last = micros();
}

extern "C" int ek_port_getc(void) {
    return Serial.available() > 0 ? (Serial.read() & 0xFF) : -1;
}

extern "C" void ek_port_write(const char *buf, size_t n) {
    Serial.write(reinterpret_cast<const uint8_t *>(buf), n);
}

extern "C" uint64_t ek_port_ticks(void) {
#if EK_TIMER_DWT
    if (use_dwt) {
        return ek_dwt_ticks();
    }
#endif
    noInterrupts();
    uint32_t now = micros();
    if (now < us_last) {
        us_high++;
    }
    us_last = now;
    uint64_t t = (static_cast<uint64_t>(us_high) << 32) | now;
    interrupts();
    return t;
}

extern "C" uint32_t ek_port_core_hz(const char **state) {
    *state = "sdk";
    return 0; /* the SDK (or the host) owns the clock: the harness uses the board profile's figure */
}

extern "C" uint32_t ek_port_tick_hz(void) {
#if EK_TIMER_DWT
    if (use_dwt) {
        return EK_CORE_CLOCK_HZ;
    }
#endif
    return 1000000u;
}

extern "C" const char *ek_port_timer_kind(void) {
#if EK_TIMER_DWT
    if (use_dwt) {
        return "dwt";
    }
#endif
    return "micros";
}

/* The DWT counter and micros() run free: nothing to align. */
extern "C" void ek_port_timer_rephase(void) {
}

extern "C" void ek_port_stack(size_t *used, size_t *reserved) {
    *used = 0;
    *reserved = 0;
}

extern "C" int ek_port_arena_guard(void) {
    return -1;
}

extern "C" int ek_port_exit(int code) {
    (void)code;
    return -1;
}
