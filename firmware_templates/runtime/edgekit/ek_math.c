/* edgekit AOT runtime: broadcasting elementwise math (see ek_math.h). */
#include "ek_math.h"

#include "ek_common.h"
#include "ek_normalization.h"

static int32_t ek_load(const void *base, int32_t i, int32_t type) {
    switch (type) {
    case EK_T_S8:
        return ((const int8_t *)base)[i];
    case EK_T_S16:
        return ((const int16_t *)base)[i];
    case EK_T_S32:
        return ((const int32_t *)base)[i];
    default:
        return ((const uint8_t *)base)[i] != 0u;
    }
}

static void ek_store(void *base, int32_t i, int32_t type, int32_t v) {
    switch (type) {
    case EK_T_S8:
        ((int8_t *)base)[i] = (int8_t)v;
        break;
    case EK_T_S16:
        ((int16_t *)base)[i] = (int16_t)v;
        break;
    case EK_T_S32:
        ((int32_t *)base)[i] = v;
        break;
    default:
        ((uint8_t *)base)[i] = (uint8_t)(v != 0);
        break;
    }
}

static int32_t ek_wrap_mul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }

/* TFLM's rescale of a comparison / SQUARED_DIFFERENCE input: (x + offset) << left_shift, times a multiplier < 1. */
static int32_t ek_rescale_in(int32_t x, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift) {
    const int32_t shifted = ek_wrap_mul(x + offset, (int32_t)(1u << left_shift));
    return ek_mbqm_smaller_than_one(shifted, mult, shift);
}

static int32_t ek_binary_one(int32_t a, int32_t b, const ek_binary_params *p) {
    switch (p->op) {
    case EK_BIN_MAXIMUM:
        return a > b ? a : b;
    case EK_BIN_MINIMUM:
        return a < b ? a : b;
    case EK_BIN_SQDIFF: {
        const int32_t d = ek_rescale_in(a, p->in1_offset, p->left_shift, p->in1_mult, p->in1_shift) -
                          ek_rescale_in(b, p->in2_offset, p->left_shift, p->in2_mult, p->in2_shift);
        const int32_t o = ek_mbqm(ek_wrap_mul(d, d), p->out_mult, p->out_shift) + p->out_offset;
        return ek_clamp_i32(o, p->act_min, p->act_max);
    }
    case EK_BIN_PRELU: {
        const int32_t x = p->in1_offset + a;
        const int32_t o = x >= 0 ? ek_mbqm(x, p->in1_mult, p->in1_shift)
                                 : ek_mbqm(ek_wrap_mul(x, p->in2_offset + b), p->in2_mult, p->in2_shift);
        return ek_clamp_i32(o + p->out_offset, p->act_min, p->act_max);
    }
    case EK_BIN_AND:
        return a && b;
    case EK_BIN_OR:
        return a || b;
    default:
        break;
    }
    if (p->scaled) {
        a = ek_rescale_in(a, p->in1_offset, p->left_shift, p->in1_mult, p->in1_shift);
        b = ek_rescale_in(b, p->in2_offset, p->left_shift, p->in2_mult, p->in2_shift);
    }
    switch (p->op) {
    case EK_BIN_EQUAL:
        return a == b;
    case EK_BIN_NOT_EQUAL:
        return a != b;
    case EK_BIN_LESS:
        return a < b;
    case EK_BIN_LESS_EQUAL:
        return a <= b;
    case EK_BIN_GREATER:
        return a > b;
    default:
        return a >= b;
    }
}

/* Walk the output in order: off[k] is input k's element offset for the current output row. */
typedef void (*ek_nrow_fn)(const int32_t off[3], int32_t out_off, int32_t n, const int32_t step[3], void *ctx);

static void ek_nshape_walk(const ek_nshape *s, ek_nrow_fn row, void *ctx) {
    int32_t idx[EK_NSHAPE_MAX_DIMS] = {0};
    int32_t off[3] = {0, 0, 0};
    const int32_t last = s->ndims - 1;
    const int32_t n = s->dims[last];
    const int32_t step[3] = {s->stride[0][last], s->stride[1][last], s->stride[2][last]};
    int32_t out_off = 0;
    int32_t d, k;
    for (;;) {
        row(off, out_off, n, step, ctx);
        out_off += n;
        for (d = last - 1; d >= 0; d--) {
            idx[d]++;
            for (k = 0; k < 3; k++) {
                off[k] += s->stride[k][d];
            }
            if (idx[d] < s->dims[d]) {
                break;
            }
            for (k = 0; k < 3; k++) {
                off[k] -= s->stride[k][d] * s->dims[d];
            }
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

typedef struct {
    const void *in1, *in2;
    void *out;
    const ek_binary_params *p;
} ek_binary_ctx;

static void ek_binary_row(const int32_t off[3], int32_t out_off, int32_t n, const int32_t step[3], void *vctx) {
    const ek_binary_ctx *c = (const ek_binary_ctx *)vctx;
    const ek_binary_params *p = c->p;
    int32_t i;
    for (i = 0; i < n; i++) {
        const int32_t a = ek_load(c->in1, off[0] + i * step[0], p->in1_type);
        const int32_t b = ek_load(c->in2, off[1] + i * step[1], p->in2_type);
        ek_store(c->out, out_off + i, p->out_type, ek_binary_one(a, b, p));
    }
}

void ek_binary(const void *in1, const void *in2, void *out, const ek_nshape *shape, const ek_binary_params *p) {
    ek_binary_ctx c;
    c.in1 = in1;
    c.in2 = in2;
    c.out = out;
    c.p = p;
    ek_nshape_walk(shape, ek_binary_row, &c);
}

typedef struct {
    const uint8_t *cond;
    const uint8_t *x, *y;
    uint8_t *out;
    int32_t elem_bytes;
} ek_select_ctx;

static void ek_select_row(const int32_t off[3], int32_t out_off, int32_t n, const int32_t step[3], void *vctx) {
    const ek_select_ctx *c = (const ek_select_ctx *)vctx;
    const size_t eb = (size_t)c->elem_bytes;
    int32_t i;
    for (i = 0; i < n; i++) {
        const uint8_t *src = c->cond[off[0] + i * step[0]] ? c->x + (size_t)(off[1] + i * step[1]) * eb
                                                            : c->y + (size_t)(off[2] + i * step[2]) * eb;
        memcpy(c->out + (size_t)(out_off + i) * eb, src, eb);
    }
}

void ek_select(const uint8_t *cond, const void *x, const void *y, void *out, const ek_nshape *shape,
               int32_t elem_bytes) {
    ek_select_ctx c;
    c.cond = cond;
    c.x = (const uint8_t *)x;
    c.y = (const uint8_t *)y;
    c.out = (uint8_t *)out;
    c.elem_bytes = elem_bytes;
    ek_nshape_walk(shape, ek_select_row, &c);
}

void ek_abs_s16(const int16_t *in, int16_t *out, size_t n, int32_t rescale, int32_t multiplier, int32_t shift) {
    size_t i;
    for (i = 0; i < n; i++) {
        const int32_t v = in[i] < 0 ? -(int32_t)in[i] : in[i];
        out[i] = ek_sat_i16(rescale ? ek_mbqm(v, multiplier, shift) : v);
    }
}

int ek_rsqrt_s16(const int16_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift) {
    size_t i;
    for (i = 0; i < n; i++) {
        int32_t inv_m, data;
        int inv_s;
        if (in[i] < 0) {
            return EK_ERR_BAD_PARAM;
        }
        if (in[i] == 0) {
            out[i] = INT16_MAX; /* TFLM: a value at the zero point gives the largest output */
            continue;
        }
        ek_inv_sqrt(in[i], &inv_m, &inv_s);
        data = ek_mbqm(1, inv_m, inv_s + 20);
        out[i] = ek_sat_i16(ek_mbqm(data, multiplier, shift - 20));
    }
    return EK_OK;
}

size_t ek_count_below_s8(const int8_t *in, size_t n, int32_t min_value) {
    size_t i, count = 0;
    for (i = 0; i < n; i++) {
        count += in[i] < min_value;
    }
    return count;
}
