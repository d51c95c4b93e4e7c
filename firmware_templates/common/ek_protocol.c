/*
 * edgekit firmware core: the host protocol, device side (see ek_protocol.h, docs/protocol.md).
 */
#include "ek_protocol.h"

#include <string.h>

#include "ek_model.h"
#include "ek_port.h"

#if EK_GPIO_ENERGY
#include "ek_gpio.h"
#else /* no energy pin (or a port without ek_gpio.h): the edges cost nothing */
#define ek_gpio_energy_high() ((void)0)
#define ek_gpio_energy_low() ((void)0)
#endif

#if EK_GPIO_ENERGY && EK_GPIO_TIMESTAMP
/* An MLPerf Tiny energy-mode timestamp: the idle-high pin pulled low for EK_GPIO_PULSE_US (a falling edge). */
static void gpio_timestamp(void) {
    ek_gpio_pin_low();
    uint32_t hz = ek_port_tick_hz(); /* 32-bit arithmetic: no 64-bit division helper gets linked */
    uint32_t hold = hz / 1000000u * EK_GPIO_PULSE_US + hz % 1000000u * EK_GPIO_PULSE_US / 1000000u;
    uint64_t t0 = ek_port_ticks();
    while (ek_port_ticks() - t0 < hold) {
    }
    ek_gpio_pin_high();
}
#else
#define gpio_timestamp() ((void)0)
#endif

#ifndef EK_EDGEKIT_VERSION
#define EK_EDGEKIT_VERSION "0"
#endif
#ifndef EK_BOARD_ID
#define EK_BOARD_ID "unknown"
#endif

/* dtypes of output 0, for m-results (EK_OUT0_DTYPE in ek_config.h) */
#define EK_DT_FLOAT32 0
#define EK_DT_INT8 1
#define EK_DT_UINT8 2
#define EK_DT_INT16 3
#define EK_DT_INT32 4
#ifndef EK_OUT0_DTYPE
#define EK_OUT0_DTYPE EK_DT_INT8
#endif
#ifndef EK_OUT0_SCALE
#define EK_OUT0_SCALE 1.0f
#endif
#ifndef EK_OUT0_ZERO_POINT
#define EK_OUT0_ZERO_POINT 0
#endif

enum { LOAD_NONE = 0, LOAD_HEX = 1, LOAD_BIN = 2 };

#define MAX_TOKENS 4
#define OUT_CHUNK 64 /* bytes per m-ek-out line */

typedef struct {
    const char *s;
    size_t n;
} tok_t;

/* ------------------------------------------------------------------ output ---------- */

static void out_n(const char *s, size_t n) {
    ek_port_write(s, n);
}

static void out(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') { /* not strlen(): libc's is 220 bytes of speed-tuned code */
        n++;
    }
    out_n(s, n);
}

static void out_eol(void) {
    out_n("\r\n", 2);
}

static void out_line(const char *s) {
    out(s);
    out_eol();
}

static void out_ready(void) {
    out_line("m-ready");
}

/* Number printing uses 32-bit integer arithmetic only: no float or double formatting, and none of
 * libgcc's 64-bit division or soft-double helpers (about 3 KB on Cortex-M) get linked. */

/* The decimal digits of the unsigned integer w[0..nw-1] (32-bit words, most significant first; the
 * words are consumed), written backwards so that the last digit lands just before `end`; returns how
 * many. Divides by 10 in 16-bit halves, so every division is 32-bit by 32-bit. */
static size_t dec_digits(uint32_t *w, size_t nw, char *end) {
    size_t n = 0;
    uint32_t any;
    do {
        uint32_t rem = 0;
        any = 0;
        for (size_t i = 0; i < nw; i++) {
            uint32_t hi = rem << 16 | w[i] >> 16;
            uint32_t lo = (hi % 10u) << 16 | (w[i] & 0xFFFFu);
            w[i] = (hi / 10u) << 16 | lo / 10u;
            rem = lo % 10u;
            any |= w[i];
        }
        *--end = (char)('0' + rem);
        n++;
    } while (any != 0);
    return n;
}

static void out_u64(uint64_t v) {
    uint32_t w[2] = {(uint32_t)(v >> 32), (uint32_t)v};
    char buf[20];
    size_t n = dec_digits(w, 2, buf + sizeof buf);
    out_n(buf + sizeof buf - n, n);
}

static void out_i64(int64_t v) {
    if (v < 0) {
        out_n("-", 1);
        out_u64((uint64_t)0 - (uint64_t)v);
    } else {
        out_u64((uint64_t)v);
    }
}

/* A float32 value with 3 decimals, rounded as printf("%.3f") rounds it (exact value, ties to even; no
 * minus sign on a value that rounds to 0.000); magnitudes of 1e15 and more as "<15 digits>e<exp>",
 * rounded the same way; "nan", "inf", "-inf". Integer arithmetic on the float's bits: v = m * 2^e. */
static void out_f3(float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 31);
    int e = (int)(bits >> 23 & 0xFFu);
    uint32_t m = bits & 0x7FFFFFu;
    if (e == 0xFF) {
        out(m != 0 ? "nan" : neg ? "-inf" : "inf");
        return;
    }
    if (e == 0) {
        e = 1; /* subnormal */
    } else {
        m |= 0x800000u;
    }
    e -= 150;
    char buf[44]; /* 2^128 has 39 digits */
    char *end = buf + sizeof buf;
    size_t n;
    if (e < 0) {
        /* |v| < 2^24: thousandths = m * 1000 / 2^-e rounded half to even; m * 1000 < 2^34, so beyond a
         * shift of 40 the result is 0 and the rest is below one half */
        uint64_t x = (uint64_t)m * 1000u, milli = 0;
        if (-e <= 40) {
            uint64_t half = (uint64_t)1 << (-e - 1);
            uint64_t rest = x & ((half << 1) - 1u);
            milli = x >> -e;
            if (rest > half || (rest == half && (milli & 1u))) {
                milli++;
            }
        }
        neg = neg && milli != 0;
        uint32_t w[2] = {(uint32_t)(milli >> 32), (uint32_t)milli};
        n = dec_digits(w, 2, end);
        while (n < 4) {
            *(end - ++n) = '0';
        }
        end -= 3; /* the integer digits end here; the 3 decimals follow */
        n -= 3;
    } else {
        /* an integer, m << e < 2^128 */
        uint32_t w[4] = {0, 0, 0, 0};
        unsigned word = (unsigned)e / 32u, bit = (unsigned)e % 32u;
        w[3 - word] = m << bit;
        if (bit != 0 && word < 3) {
            w[2 - word] = m >> (32u - bit);
        }
        n = dec_digits(w, 4, end);
        if (n > 15) {
            /* keep 15 digits, round the rest half to even, print the dropped count as the exponent */
            char *d = end - n;
            int up = d[15] > '5';
            for (size_t i = 16; i < n && !up && d[15] == '5'; i++) {
                up = d[i] != '0';
            }
            up = up || (d[15] == '5' && ((d[14] - '0') & 1));
            size_t i = 15;
            while (up && i > 0) {
                up = d[--i] == '9';
                d[i] = up ? '0' : (char)(d[i] + 1);
            }
            if (up) {
                *--d = '1'; /* 999...9 rounded up: one more digit */
            }
            if (neg) {
                out_n("-", 1);
            }
            out_n(d, (size_t)(end - d) - (n - 15));
            out_n("e", 1);
            out_u64(n - 15);
            return;
        }
    }
    if (neg) {
        out_n("-", 1);
    }
    out_n(end - n, n);
    if (e < 0) {
        char frac[4] = {'.', end[0], end[1], end[2]};
        out_n(frac, sizeof frac);
    } else {
        out_n(".000", 4);
    }
}

static void out_hex(const uint8_t *b, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char buf[2 * OUT_CHUNK];
    while (n > 0) {
        size_t k = n < OUT_CHUNK ? n : OUT_CHUNK;
        for (size_t i = 0; i < k; i++) {
            buf[2 * i] = digits[b[i] >> 4];
            buf[2 * i + 1] = digits[b[i] & 0xFu];
        }
        out_n(buf, 2 * k);
        b += k;
        n -= k;
    }
}

/* Text from the model or the host, made safe inside "[...]": at most max chars, no brackets, spaces or controls. */
static void out_field(const char *s, size_t max) {
    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        char c = s[i];
        if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7F || c == '[' || c == ']') {
            c = '_';
        }
        out_n(&c, 1);
    }
}

static void out_error(const char *msg) {
    out("e-[");
    out(msg);
    out_line("]");
}

/* e-[<prefix><number><suffix>] */
static void out_error_num(const char *prefix, int64_t v, const char *suffix) {
    out("e-[");
    out(prefix);
    out_i64(v);
    out(suffix);
    out_line("]");
}

/* ------------------------------------------------------------------ parsing --------- */

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Split into at most MAX_TOKENS tokens; returns MAX_TOKENS + 1 if there are more. */
static size_t tokenize(const char *s, size_t len, tok_t *toks) {
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && is_space(s[i])) {
            i++;
        }
        if (i == len) {
            break;
        }
        size_t start = i;
        while (i < len && !is_space(s[i])) {
            i++;
        }
        if (n == MAX_TOKENS) {
            return MAX_TOKENS + 1;
        }
        toks[n].s = s + start;
        toks[n].n = i - start;
        n++;
    }
    return n;
}

static int tok_is(tok_t t, const char *lit) {
    size_t i = 0;
    while (i < t.n && lit[i] != '\0' && t.s[i] == lit[i]) {
        i++;
    }
    return i == t.n && lit[i] == '\0';
}

/* Decimal 0..4294967295, digits only; 0 on success. */
static int parse_u32(tok_t t, uint32_t *out_v) {
    if (t.n == 0 || t.n > 10) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.s[i] < '0' || t.s[i] > '9') {
            return -1;
        }
        v = v * 10u + (uint64_t)(t.s[i] - '0');
    }
    if (v > 0xFFFFFFFFu) {
        return -1;
    }
    *out_v = (uint32_t)v;
    return 0;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* ------------------------------------------------------------------ model glue ------ */

static size_t model_input_total(void) {
    size_t total = 0;
    for (int i = 0; i < EK_NUM_INPUTS; i++) {
        total += ek_model_input_bytes(i);
    }
    return total;
}

/* Copy the loaded input into the model's input tensors (in order), before every inference. */
static void copy_input(const ek_proto_t *p) {
    size_t off = 0;
    for (int i = 0; i < EK_NUM_INPUTS && off < p->in_total; i++) {
        size_t n = ek_model_input_bytes(i);
        if (n > p->in_total - off) {
            n = p->in_total - off;
        }
        void *dst = ek_model_input(i);
        if (dst != NULL && n > 0) {
            memcpy(dst, p->input + off, n);
        }
        off += n;
    }
}

static float out0_value(const uint8_t *b, size_t i) {
#if EK_OUT0_DTYPE == EK_DT_FLOAT32
    float f;
    memcpy(&f, b + 4 * i, 4);
    return f;
#elif EK_OUT0_DTYPE == EK_DT_INT8
    int32_t q = (int8_t)b[i];
#elif EK_OUT0_DTYPE == EK_DT_UINT8
    int32_t q = b[i];
#elif EK_OUT0_DTYPE == EK_DT_INT16
    int16_t s;
    memcpy(&s, b + 2 * i, 2);
    int32_t q = s;
#elif EK_OUT0_DTYPE == EK_DT_INT32
    int32_t q;
    memcpy(&q, b + 4 * i, 4);
#else
#error "unknown EK_OUT0_DTYPE"
#endif
#if EK_OUT0_DTYPE != EK_DT_FLOAT32
    return (float)(q - (int32_t)(EK_OUT0_ZERO_POINT)) * (float)(EK_OUT0_SCALE);
#endif
}

static size_t out0_elem_size(void) {
#if EK_OUT0_DTYPE == EK_DT_INT8 || EK_OUT0_DTYPE == EK_DT_UINT8
    return 1;
#elif EK_OUT0_DTYPE == EK_DT_INT16
    return 2;
#else
    return 4;
#endif
}

static void out_results(void) {
    out("m-results-[");
    if (EK_NUM_OUTPUTS > 0) {
        const uint8_t *b = (const uint8_t *)ek_model_output(0);
        size_t count = b != NULL ? ek_model_output_bytes(0) / out0_elem_size() : 0;
        for (size_t i = 0; i < count; i++) {
            if (i > 0) {
                out_n(",", 1);
            }
            out_f3(out0_value(b, i));
        }
    }
    out_line("]");
}

/* n / d, the remainder in *rem: binary long division, so that libgcc's 64-bit division is not linked
 * (64 steps; used only to print timestamps, never inside a timed run). */
static uint64_t div_u64_u32(uint64_t n, uint32_t d, uint32_t *rem) {
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        r = r << 1 | (n >> i & 1u);
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1 << i;
        }
    }
    *rem = (uint32_t)r;
    return q;
}

static uint64_t ticks_to_us(uint64_t ticks) {
    uint32_t hz = ek_port_tick_hz(), r;
    if (hz == 0) {
        return 0;
    }
    uint64_t s = div_u64_u32(ticks, hz, &r);
    return s * 1000000u + div_u64_u32((uint64_t)r * 1000000u, hz, &r);
}

/* ------------------------------------------------------------------ commands -------- */

/* Shared size checks of "db load N" and "ek-bin N"; 0 if a load of n bytes may start. */
static int start_load(ek_proto_t *p, const char *what, const tok_t *arg, int mode) {
    uint32_t n;
    if (parse_u32(*arg, &n) != 0) {
        out("e-[");
        out(what);
        out_line(": malformed size]");
        return -1;
    }
    if (n == 0) {
        out("e-[");
        out(what);
        out_line(": size must be > 0]");
        return -1;
    }
    if (n > p->in_total) {
        out("e-[");
        out(what);
        out(": ");
        out_u64(n);
        out(" bytes exceeds buffer of ");
        out_u64(p->in_total);
        out_line("]");
        return -1;
    }
    memset(p->input, 0, sizeof p->input);
    p->expect = n;
    p->have = 0;
    p->loading = mode;
    p->loaded = 0;
    p->bin_last = ek_port_ticks();
    return 0;
}

static void finish_load(ek_proto_t *p) {
    p->loading = LOAD_NONE;
    p->loaded = 1;
    out_line("m-load-done");
}

static void cmd_db(ek_proto_t *p, const tok_t *t, size_t n) {
    if (n < 2) {
        out_error("db: missing argument");
        return;
    }
    if (tok_is(t[1], "load")) {
        if (n != 3) {
            out_error(n < 3 ? "db load: missing size" : "db load: too many arguments");
            return;
        }
        if (start_load(p, "db load", &t[2], LOAD_HEX) == 0) {
            out("m-[Expecting ");
            out_u64(p->expect);
            out_line(" bytes]");
        }
        return;
    }
    if (n != 2) {
        out_error("db: too many arguments");
        return;
    }
    if (p->loading != LOAD_HEX) {
        out_error("db: no load in progress");
        return;
    }
    tok_t h = t[1];
    if (h.n % 2 != 0) {
        out_error("db: malformed hex");
        return;
    }
    for (size_t i = 0; i < h.n; i++) {
        if (hex_val(h.s[i]) < 0) {
            out_error("db: malformed hex");
            return;
        }
    }
    size_t bytes = h.n / 2;
    if (bytes > p->expect - p->have) {
        out_error("db: too many bytes");
        return;
    }
    for (size_t i = 0; i < bytes; i++) {
        p->input[p->have++] = (uint8_t)(hex_val(h.s[2 * i]) << 4 | hex_val(h.s[2 * i + 1]));
    }
    if (p->have == p->expect) {
        finish_load(p);
    }
}

static void cmd_infer(ek_proto_t *p, const tok_t *t, size_t n) {
    uint32_t count = 1, warmup = 0;
    if (n > 3) {
        out_error("infer: too many arguments");
        return;
    }
    if ((n > 1 && parse_u32(t[1], &count) != 0) || (n > 2 && parse_u32(t[2], &warmup) != 0)) {
        out_error("infer: malformed number");
        return;
    }
    if (count == 0) {
        out_error("infer: N must be > 0");
        return;
    }
    if (p->init_rc != 0) {
        out_error_num("infer: model init failed ", p->init_rc, "");
        return;
    }
    if (!p->loaded) {
        out_error("infer: no input loaded");
        return;
    }
    p->have_results = 0;
    p->laps_n = 0;
    out("m-warmup-start-");
    out_u64(warmup);
    out_eol();
    for (uint32_t i = 0; i < warmup; i++) {
        copy_input(p);
        int rc = ek_model_invoke();
        if (rc != 0) {
            out_error_num("infer: runtime error ", rc, "");
            return;
        }
    }
    out_line("m-warmup-done");
    out("m-infer-start-");
    out_u64(count);
    out_eol();
    gpio_timestamp(); /* MLPerf energy mode: the timed loop starts at this falling edge */
    uint64_t start = ek_port_ticks();
    for (uint32_t i = 0; i < count; i++) {
        copy_input(p);
        ek_port_timer_rephase();
        uint64_t t0 = ek_port_ticks();
        ek_gpio_energy_high(); /* the energy window is exactly the inference (warm-ups are not marked) */
        int rc = ek_model_invoke();
        ek_gpio_energy_low();
        uint64_t t1 = ek_port_ticks();
        if (rc != 0) {
            gpio_timestamp(); /* close the timed region for the energy monitor */
            out_error_num("infer: runtime error ", rc, "");
            return;
        }
        if (p->laps_n < EK_MAX_LAPS) {
            p->laps[p->laps_n] = t1 - t0;
        }
        p->laps_n++;
    }
    uint64_t end = ek_port_ticks();
    gpio_timestamp(); /* ... and ends at this one */
    p->have_results = 1;
    out("m-lap-us-");
    out_u64(ticks_to_us(start));
    out_eol();
    out("m-lap-us-");
    out_u64(ticks_to_us(end));
    out_eol();
    out_line("m-infer-done");
    out_results();
}

static void cmd_info(const ek_proto_t *p) {
    (void)p;
    out("m-ek-runtime-[");
    out_field(ek_runtime_name, 32);
    out(" ");
    out_field(ek_runtime_version, 32);
    out_line("]");
    out("m-ek-model-[");
    out_field(ek_model_name, 64);
    out(" ");
    out_field(ek_model_sha256, 16);
    out_line("]");
    out("m-ek-arena-[");
    out_u64(ek_model_arena_used());
    out(" ");
    out_u64(EK_ARENA_SIZE);
    out_line("]");
    out("m-ek-inputs-[");
    for (int i = 0; i < EK_NUM_INPUTS; i++) {
        if (i > 0) {
            out_n(",", 1);
        }
        out_u64(ek_model_input_bytes(i));
    }
    out_line("]");
    out("m-ek-outputs-[");
    for (int i = 0; i < EK_NUM_OUTPUTS; i++) {
        if (i > 0) {
            out_n(",", 1);
        }
        out_u64(ek_model_output_bytes(i));
    }
    out_line("]");
    out("m-ek-timer-[");
    out(ek_port_timer_kind());
    out(" ");
    out_u64(ek_port_tick_hz());
    out_line("]");
    const char *clock_state = "";
    uint32_t core_hz = ek_port_core_hz(&clock_state);
    if (core_hz > 0) {
        out("m-ek-clock-[");
        out_u64(core_hz);
        out(" ");
        out_field(clock_state, 32);
        out_line("]");
    }
    out("m-ek-line-max-[");
    out_u64(EK_LINE_MAX);
    out_line("]");
    out("m-ek-board-[");
    out_field(EK_BOARD_ID, 64);
    out_line("]");
}

static void cmd_laps(const ek_proto_t *p) {
    out("m-ek-laps-n-[");
    out_u64(p->laps_n);
    out_line("]");
    out("m-ek-laps-[");
    uint32_t kept = p->laps_n < EK_MAX_LAPS ? p->laps_n : EK_MAX_LAPS;
    for (uint32_t i = 0; i < kept; i++) {
        if (i > 0) {
            out_n(",", 1);
        }
        out_u64(p->laps[i]);
    }
    out_line("]");
}

static void cmd_out(const ek_proto_t *p, const tok_t *t, size_t n) {
    uint32_t idx = 0;
    if (n > 2) {
        out_error("ek-out: too many arguments");
        return;
    }
    if (n == 2 && parse_u32(t[1], &idx) != 0) {
        out_error("ek-out: malformed number");
        return;
    }
    if (idx >= (uint32_t)EK_NUM_OUTPUTS) {
        out_error_num("ek-out: no output ", idx, "");
        return;
    }
    if (!p->have_results) {
        out_error("ek-out: no inference yet");
        return;
    }
    const uint8_t *b = (const uint8_t *)ek_model_output((int)idx);
    size_t bytes = b != NULL ? ek_model_output_bytes((int)idx) : 0;
    for (size_t off = 0; off < bytes; off += OUT_CHUNK) {
        size_t k = bytes - off < OUT_CHUNK ? bytes - off : OUT_CHUNK;
        out("m-ek-out-");
        out_u64(idx);
        out("-[");
        out_hex(b + off, k);
        out_line("]");
    }
    out("m-ek-out-");
    out_u64(idx);
    out_line("-end");
}

static void cmd_canary(const ek_proto_t *p) {
    const char *bad[4];
    int nbad = 0;
    for (int i = 0; i < EK_INPUT_GUARD_WORDS; i++) {
        if (p->in_guard_lo[i] != EK_INPUT_GUARD_VALUE) {
            bad[nbad++] = "input-low";
            break;
        }
    }
    for (int i = 0; i < EK_INPUT_GUARD_WORDS; i++) {
        if (p->in_guard_hi[i] != EK_INPUT_GUARD_VALUE) {
            bad[nbad++] = "input-high";
            break;
        }
    }
    int arena = ek_port_arena_guard();
    if (arena == 1) {
        bad[nbad++] = "arena-low";
    } else if (arena == 2) {
        bad[nbad++] = "arena-high";
    }
    if (ek_model_arena_used() > (size_t)EK_ARENA_SIZE) {
        bad[nbad++] = "arena-size";
    }
    if (nbad == 0) {
        out_line("m-ek-canary-[ok]");
        return;
    }
    out("m-ek-canary-[corrupt ");
    for (int i = 0; i < nbad; i++) {
        if (i > 0) {
            out_n(",", 1);
        }
        out(bad[i]);
    }
    out_line("]");
}

static void cmd_exit(const tok_t *t, size_t n) {
    uint32_t code = 0;
    if (n > 2) {
        out_error("ek-exit: too many arguments");
        return;
    }
    if (n == 2 && (parse_u32(t[1], &code) != 0 || code > 255u)) {
        out_error("ek-exit: code must be 0..255");
        return;
    }
    out("m-ek-exit-[");
    out_u64(code);
    out_line("]");
    if (ek_port_exit((int)code) != 0) {
        out_error("ek-exit: not supported on this board");
    }
}

/* One complete command (without '%'). */
static void dispatch(ek_proto_t *p) {
    tok_t t[MAX_TOKENS];
    size_t n = tokenize(p->line, p->len, t);
    if (n == 0) {
        out_ready(); /* an empty command: just m-ready (a cheap way to synchronise) */
        return;
    }
    if (n > MAX_TOKENS) {
        out_error("too many arguments");
    } else if (tok_is(t[0], "name")) {
        out_line("m-name-dut-[edgekit]");
    } else if (tok_is(t[0], "profile")) {
        out_line("m-profile-[edgekit-" EK_EDGEKIT_VERSION "]");
        out("m-model-[");
        out_field(ek_model_name, 64);
        out_line("]");
    } else if (tok_is(t[0], "db")) {
        cmd_db(p, t, n);
    } else if (tok_is(t[0], "infer")) {
        cmd_infer(p, t, n);
    } else if (tok_is(t[0], "results")) {
        if (p->have_results) {
            out_results();
        } else {
            out_error("results: no inference yet");
        }
    } else if (tok_is(t[0], "ek-info")) {
        cmd_info(p);
    } else if (tok_is(t[0], "ek-laps")) {
        cmd_laps(p);
    } else if (tok_is(t[0], "ek-out")) {
        cmd_out(p, t, n);
    } else if (tok_is(t[0], "ek-stack")) {
        size_t used = 0, reserved = 0;
        ek_port_stack(&used, &reserved);
        out("m-ek-stack-[");
        out_u64(used);
        out(" ");
        out_u64(reserved);
        out_line("]");
    } else if (tok_is(t[0], "ek-canary")) {
        cmd_canary(p);
    } else if (tok_is(t[0], "ek-bin")) {
        if (n != 2) {
            out_error(n < 2 ? "ek-bin: missing size" : "ek-bin: too many arguments");
        } else if (start_load(p, "ek-bin", &t[1], LOAD_BIN) == 0) {
            out("m-ek-bin-ready-");
            out_u64(p->expect);
            out_eol();
            return; /* m-ready follows m-load-done */
        }
    } else if (tok_is(t[0], "ek-exit")) {
        cmd_exit(t, n);
    } else {
        out("e-[unknown command: ");
        out_field(t[0].s, t[0].n < 32 ? t[0].n : 32);
        out_line("]");
    }
    out_ready();
}

/* ------------------------------------------------------------------ public ---------- */

void ek_proto_init(ek_proto_t *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < EK_INPUT_GUARD_WORDS; i++) {
        p->in_guard_lo[i] = EK_INPUT_GUARD_VALUE;
        p->in_guard_hi[i] = EK_INPUT_GUARD_VALUE;
    }
    size_t total = model_input_total();
    p->in_total = total < (size_t)EK_INPUT_BYTES ? total : (size_t)EK_INPUT_BYTES;
    p->init_rc = ek_model_init();
}

void ek_proto_boot(ek_proto_t *p) {
    out_line("m-boot-[edgekit]");
    if (p->init_rc != 0) {
        out_error_num("model init failed ", p->init_rc, "");
    }
    size_t total = model_input_total();
    if (total > (size_t)EK_INPUT_BYTES) {
        out("e-[config: model inputs need ");
        out_u64(total);
        out(" bytes, input buffer holds ");
        out_u64(EK_INPUT_BYTES);
        out_line("]");
    }
    out_ready();
}

void ek_proto_feed(ek_proto_t *p, uint8_t c) {
    if (p->loading == LOAD_BIN) {
        if (p->have < p->expect && p->have < sizeof p->input) {
            p->input[p->have++] = c;
        }
        p->bin_last = ek_port_ticks();
        if (p->have >= p->expect) {
            finish_load(p);
            out_ready();
        }
        return;
    }
    if (c == '%') {
        if (p->overflow) {
            out_error("line too long");
            out_ready();
        } else {
            dispatch(p);
        }
        p->len = 0;
        p->overflow = 0;
        return;
    }
    if (p->len == 0 && !p->overflow && is_space((char)c)) {
        return; /* whitespace before a command */
    }
    if (p->len < EK_LINE_MAX) {
        p->line[p->len++] = (char)c;
    } else {
        p->overflow = 1;
    }
}

void ek_proto_poll(ek_proto_t *p) {
    if (p->loading != LOAD_BIN) {
        return;
    }
    uint32_t hz = ek_port_tick_hz();
    uint64_t limit = (uint64_t)(hz / 1000u) * EK_BIN_TIMEOUT_MS;
    if (limit != 0 && ek_port_ticks() - p->bin_last > limit) {
        p->loading = LOAD_NONE;
        out("e-[ek-bin: timeout after ");
        out_u64(p->have);
        out(" of ");
        out_u64(p->expect);
        out_line(" bytes]");
        out_ready();
    }
}
