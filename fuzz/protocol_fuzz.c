/*
 * libFuzzer harness for the device side of the host protocol (firmware_templates/common/ek_protocol.c).
 *
 * Each input is a byte stream from the host, fed to ek_proto_feed() one byte at a time after a fresh
 * ek_proto_init(), followed by a few ek_proto_poll() calls (an unfinished ek-bin upload times out).
 * The model is the test fixture (tests/fixtures/firmware/ek_model.c, its invoke renamed
 * fixture_model_invoke at compile time), wrapped here with an inference budget per input.
 *
 * Besides the sanitizers, the harness checks what the protocol promises the host: every output byte is
 * printable ASCII or CR LF, every line starts with "m-" or "e-", no line is longer than a reply can be,
 * and the guard words around the input buffer are intact. A violation aborts (a crash for libFuzzer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ek_model.h"
#include "ek_port.h"
#include "ek_protocol.h"

#define INVOKE_BUDGET 200 /* inferences allowed per fuzz input; later ones fail with runtime error 99 */
#define LINE_LIMIT 512     /* longest legitimate reply line (m-ek-out: 64 bytes -> 128 hex + prefix) */

int fixture_model_invoke(void);

static ek_proto_t proto;
static unsigned invokes;
static uint64_t fake_ticks;
static size_t line_len;
static char line_start[2];

static void fail(const char *why) {
    fprintf(stderr, "protocol_fuzz: %s\n", why);
    abort();
}

int ek_model_invoke(void) {
    if (++invokes > INVOKE_BUDGET) {
        return 99;
    }
    return fixture_model_invoke();
}

/* ---- the port: output is checked, not printed ---- */

void ek_port_init(void) {
}

int ek_port_getc(void) {
    return -1;
}

void ek_port_write(const char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            if (line_len == 0) {
                fail("bare LF (a line must end with CR LF)");
            }
            line_len = 0;
            continue;
        }
        if (c == '\r') {
            if (i + 1 < n && buf[i + 1] != '\n') {
                fail("CR not followed by LF");
            }
            if (line_len < 2 || line_start[1] != '-' || (line_start[0] != 'm' && line_start[0] != 'e')) {
                fail("a reply line does not start with m- or e-");
            }
            line_len = 1; /* the LF ends it */
            continue;
        }
        if (c < 0x20 || c >= 0x7F) {
            fail("non-printable byte in the device output");
        }
        if (line_len < 2) {
            line_start[line_len] = (char)c;
        }
        if (++line_len > LINE_LIMIT) {
            fail("reply line too long");
        }
    }
}

uint64_t ek_port_ticks(void) {
    return fake_ticks += 1000u;
}

uint32_t ek_port_tick_hz(void) {
    return 1000000u;
}

uint32_t ek_port_core_hz(const char **state) {
    *state = "fuzz";
    return 1000000u; /* non-zero: the fuzzer also drives the m-ek-clock- line of ek-info */
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
    (void)code;
    return -1; /* as on a board without semihosting */
}

static void check_guards(void) {
    for (int i = 0; i < EK_INPUT_GUARD_WORDS; i++) {
        if (proto.in_guard_lo[i] != EK_INPUT_GUARD_VALUE || proto.in_guard_hi[i] != EK_INPUT_GUARD_VALUE) {
            fail("input guard word overwritten");
        }
    }
    if (proto.len > EK_LINE_MAX || proto.have > sizeof proto.input || proto.in_total > sizeof proto.input) {
        fail("parser state out of bounds");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    invokes = 0;
    line_len = 0;
    ek_proto_init(&proto);
    for (size_t i = 0; i < size; i++) {
        ek_proto_feed(&proto, data[i]);
    }
    check_guards();
    for (int i = 0; i < 3000 && proto.loading == 2; i++) { /* the fake clock runs 1 ms per reading */
        ek_proto_poll(&proto);
    }
    if (proto.loading == 2) {
        fail("an abandoned ek-bin upload never timed out");
    }
    if (line_len != 0) {
        fail("output ends in the middle of a line");
    }
    check_guards();
    return 0;
}
