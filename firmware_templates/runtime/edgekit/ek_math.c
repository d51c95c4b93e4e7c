/* edgekit AOT runtime: broadcasting elementwise math (see ek_math.h). */
#include "ek_math.h"

#include "ek_common.h"
#include "ek_normalization.h"

#define EK_CHUNK 32 /* elements per pass: operands are widened to int32 in blocks, then one loop per op */

/* dst[i] = element off + i * step of base (of type), widened to int32 (bool: 0 / 1). */
static void ek_load_block(const void *base, int32_t off, int32_t step, int32_t n, int32_t type, int32_t *dst) {
    int32_t i;
    switch (type) {
    case EK_T_S8: {
        const int8_t *s = (const int8_t *)base + off;
        for (i = 0; i < n; i++) {
            dst[i] = s[i * step];
        }
        break;
    }
    case EK_T_S16: {
        const int16_t *s = (const int16_t *)base + off;
        for (i = 0; i < n; i++) {
            dst[i] = s[i * step];
        }
        break;
    }
    case EK_T_S32: {
        const int32_t *s = (const int32_t *)base + off;
        for (i = 0; i < n; i++) {
            dst[i] = s[i * step];
        }
        break;
    }
    default: {
        const uint8_t *s = (const uint8_t *)base + off;
        for (i = 0; i < n; i++) {
            dst[i] = s[i * step] != 0u;
        }
        break;
    }
    }
}

static void ek_store_block(void *base, int32_t off, int32_t n, int32_t type, const int32_t *src) {
    int32_t i;
    switch (type) {
    case EK_T_S8:
        for (i = 0; i < n; i++) {
            ((int8_t *)base)[off + i] = (int8_t)src[i];
        }
        break;
    case EK_T_S16:
        for (i = 0; i < n; i++) {
            ((int16_t *)base)[off + i] = (int16_t)src[i];
        }
        break;
    case EK_T_S32:
        memcpy((int32_t *)base + off, src, (size_t)n * sizeof(int32_t));
        break;
    default:
        for (i = 0; i < n; i++) {
            ((uint8_t *)base)[off + i] = (uint8_t)(src[i] != 0);
        }
        break;
    }
}

static int32_t ek_wrap_mul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }

/* TFLM's rescale of a comparison / SQUARED_DIFFERENCE input: (x + offset) << left_shift, times a multiplier < 1
 * (non-negative multipliers: ek_mbqm_pos gives MultiplyByQuantizedMultiplierSmallerThanOneExp's results). */
static void ek_rescale_block(int32_t *x, int32_t n, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift,
                             const int32_t *table) {
    int32_t i;
#if !EK_SINGLE_ROUNDING
    if (table != NULL) {
        for (i = 0; i < n; i++) {
            x[i] = table[x[i] + 128];
        }
        return;
    }
#else
    (void)table;
#endif
    for (i = 0; i < n; i++) {
        x[i] = ek_mbqm_pos(ek_wrap_mul(x[i] + offset, (int32_t)(1u << left_shift)), mult, shift);
    }
}

/* o[i] = a[i] op b[i]; a and b may be modified. */
static void ek_binary_block(int32_t *a, int32_t *b, int32_t *o, int32_t n, const ek_binary_params *p) {
    int32_t i;
    switch (p->op) {
    case EK_BIN_MAXIMUM:
        for (i = 0; i < n; i++) {
            o[i] = a[i] > b[i] ? a[i] : b[i];
        }
        return;
    case EK_BIN_MINIMUM:
        for (i = 0; i < n; i++) {
            o[i] = a[i] < b[i] ? a[i] : b[i];
        }
        return;
    case EK_BIN_SQDIFF:
        ek_rescale_block(a, n, p->in1_offset, p->left_shift, p->in1_mult, p->in1_shift, p->table1);
        ek_rescale_block(b, n, p->in2_offset, p->left_shift, p->in2_mult, p->in2_shift, p->table2);
        for (i = 0; i < n; i++) {
            const int32_t d = a[i] - b[i];
            o[i] = ek_clamp_i32(ek_mbqm_pos(ek_wrap_mul(d, d), p->out_mult, p->out_shift) + p->out_offset,
                                p->act_min, p->act_max);
        }
        return;
    case EK_BIN_PRELU:
        for (i = 0; i < n; i++) {
            const int32_t x = p->in1_offset + a[i];
            const int32_t v = x >= 0 ? ek_mbqm_pos(x, p->in1_mult, p->in1_shift)
                                     : ek_mbqm_pos(ek_wrap_mul(x, p->in2_offset + b[i]), p->in2_mult, p->in2_shift);
            o[i] = ek_clamp_i32(v + p->out_offset, p->act_min, p->act_max);
        }
        return;
    case EK_BIN_ADD:
    case EK_BIN_SUB:
    case EK_BIN_MUL:
    case EK_BIN_DIV:
        for (i = 0; i < n; i++) {
            const uint32_t ua = (uint32_t)a[i], ub = (uint32_t)b[i];
            int32_t v;
            if (p->op == EK_BIN_ADD) v = (int32_t)(ua + ub);
            else if (p->op == EK_BIN_SUB) v = (int32_t)(ua - ub);
            else if (p->op == EK_BIN_MUL) v = ek_wrap_mul(a[i], b[i]);
            else if (b[i] == 0) v = 0;
            else if (b[i] == -1) v = (int32_t)(0u - ua);
            else v = a[i] / b[i];
            o[i] = ek_clamp_i32(v, p->act_min, p->act_max);
        }
        return;
    case EK_BIN_AND:
        for (i = 0; i < n; i++) {
            o[i] = a[i] && b[i];
        }
        return;
    case EK_BIN_OR:
        for (i = 0; i < n; i++) {
            o[i] = a[i] || b[i];
        }
        return;
    default:
        break;
    }
    if (p->scaled) {
        ek_rescale_block(a, n, p->in1_offset, p->left_shift, p->in1_mult, p->in1_shift, p->table1);
        ek_rescale_block(b, n, p->in2_offset, p->left_shift, p->in2_mult, p->in2_shift, p->table2);
    }
    for (i = 0; i < n; i++) {
        switch (p->op) {
        case EK_BIN_EQUAL:
            o[i] = a[i] == b[i];
            break;
        case EK_BIN_NOT_EQUAL:
            o[i] = a[i] != b[i];
            break;
        case EK_BIN_LESS:
            o[i] = a[i] < b[i];
            break;
        case EK_BIN_LESS_EQUAL:
            o[i] = a[i] <= b[i];
            break;
        case EK_BIN_GREATER:
            o[i] = a[i] > b[i];
            break;
        default:
            o[i] = a[i] >= b[i];
            break;
        }
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
    int32_t a[EK_CHUNK], b[EK_CHUNK], o[EK_CHUNK];
    int32_t i;
    for (i = 0; i < n; i += EK_CHUNK) {
        const int32_t m = n - i < EK_CHUNK ? n - i : EK_CHUNK;
        ek_load_block(c->in1, off[0] + i * step[0], step[0], m, p->in1_type, a);
        ek_load_block(c->in2, off[1] + i * step[1], step[1], m, p->in2_type, b);
        ek_binary_block(a, b, o, m, p);
        ek_store_block(c->out, out_off + i, m, p->out_type, o);
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
    const uint8_t *cond = c->cond + off[0];
    int32_t i;
    if (c->elem_bytes == 1) {
        const int8_t *x = (const int8_t *)c->x + off[1], *y = (const int8_t *)c->y + off[2];
        int8_t *o = (int8_t *)c->out + out_off;
        for (i = 0; i < n; i++) {
            o[i] = cond[i * step[0]] ? x[i * step[1]] : y[i * step[2]];
        }
    } else {
        const int16_t *x = (const int16_t *)c->x + off[1], *y = (const int16_t *)c->y + off[2];
        int16_t *o = (int16_t *)c->out + out_off;
        for (i = 0; i < n; i++) {
            o[i] = cond[i * step[0]] ? x[i * step[1]] : y[i * step[2]];
        }
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
