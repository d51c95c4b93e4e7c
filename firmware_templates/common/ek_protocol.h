/*
 * edgekit firmware core: the host protocol, device side (docs/protocol.md).
 *
 * Byte-driven and platform-free: feed every received byte to ek_proto_feed(); replies go out
 * through ek_port_write(). It reads untrusted input, so every buffer is bounded: a command
 * longer than EK_LINE_MAX is discarded whole, hex is validated before anything is stored, and
 * sizes are checked against the input buffer. Builds on a host with a host port (tests, fuzzing).
 */
#ifndef EK_PROTOCOL_H
#define EK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "ek_config.h"

#ifndef EK_LINE_MAX
#define EK_LINE_MAX 256           /* longest command, without its '%' */
#endif
#ifndef EK_MAX_LAPS
#define EK_MAX_LAPS 64            /* per-inference ticks kept for ek-laps */
#endif
#ifndef EK_BIN_TIMEOUT_MS
#define EK_BIN_TIMEOUT_MS 2000    /* an ek-bin upload that stalls this long is abandoned */
#endif
#ifndef EK_INPUT_BYTES
#error "ek_config.h must define EK_INPUT_BYTES (total bytes of the model's inputs)"
#endif

#define EK_INPUT_CAP ((EK_INPUT_BYTES) > 0 ? ((EK_INPUT_BYTES) + 3u) / 4u * 4u : 4u)  /* 4-byte multiple, never 0 */
#define EK_INPUT_GUARD_WORDS 4
#define EK_INPUT_GUARD_VALUE 0xEC6A4D01u

typedef struct ek_proto {
    /* command line being received */
    size_t len;
    int overflow;               /* the command outgrew the buffer: answer "line too long" at its '%' */
    char line[EK_LINE_MAX];
    /* the input buffer, with guard words on both sides (kept adjacent: same struct, 4-byte multiples) */
    uint32_t in_guard_lo[EK_INPUT_GUARD_WORDS];
    uint8_t input[EK_INPUT_CAP];
    uint32_t in_guard_hi[EK_INPUT_GUARD_WORDS];
    size_t in_total;            /* M: bytes of all model inputs that fit the buffer */
    size_t expect;              /* bytes announced by db load / ek-bin */
    size_t have;                /* bytes received so far */
    int loading;                /* 0 none, 1 hex (db), 2 binary (ek-bin) */
    int loaded;                 /* a complete input is in the buffer */
    uint64_t bin_last;          /* tick of the last binary byte (timeout) */
    /* model state */
    int init_rc;                /* ek_model_init() result */
    int have_results;           /* the last infer succeeded */
    uint32_t laps_n;            /* timed inferences of the last infer */
    uint64_t laps[EK_MAX_LAPS];
} ek_proto_t;

/* Reset the state and initialise the model (ek_model_init). */
void ek_proto_init(ek_proto_t *p);

/* Print the boot banner ("m-boot-[edgekit]", "m-ready"). */
void ek_proto_boot(ek_proto_t *p);

/* Process one byte from the host. */
void ek_proto_feed(ek_proto_t *p, uint8_t c);

/* Call while no byte is waiting: abandons a binary upload that stalled for EK_BIN_TIMEOUT_MS. */
void ek_proto_poll(ek_proto_t *p);

#endif /* EK_PROTOCOL_H */
