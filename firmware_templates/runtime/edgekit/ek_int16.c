/* edgekit AOT runtime: the 16x8 elementwise, pool, softmax and reduction kernels (see ek_int16.h; the
 * convolutions and FULLY_CONNECTED are in ek_conv16.c). Plain reference loops: the accumulator and the
 * requantization are TFLM's, so results are bit-exact. */
#include "ek_int16.h"

#include "ek_common.h"

/* ADD / SUB: TFLM's AddElementwise / SubElementwise (general rescaling, left_shift 15) over the broadcast. */
static int16_t ek_add16_one(int32_t a, int32_t b, const ek_add_params *p, int sign) {
    const int32_t x1 = (int32_t)((uint32_t)(p->input1_offset + a) << p->left_shift);
    const int32_t x2 = (int32_t)((uint32_t)(p->input2_offset + b) << p->left_shift);
    const int32_t s1 = ek_mbqm_smaller_than_one(x1, p->input1_multiplier, p->input1_shift);
    const int32_t s2 = ek_mbqm_smaller_than_one(x2, p->input2_multiplier, p->input2_shift);
    const int32_t raw = sign > 0 ? s1 + s2 : s1 - s2;
    const int32_t o = ek_mbqm_smaller_than_one(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int16_t)ek_clamp_i32(o, p->act_min, p->act_max);
}

/* TFLM's MulElementwise on int16 (zero points 0: TFLM requires them; the offsets are applied anyway). */
static int16_t ek_mul16_one(int32_t a, int32_t b, const ek_mul_params *p) {
    const int32_t prod = (p->input1_offset + a) * (p->input2_offset + b);
    const int32_t o = ek_mbqm(prod, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int16_t)ek_clamp_i32(o, p->act_min, p->act_max);
}

/* Rows of the shared broadcast walk (ek_bcast_walk, ek_elementwise.h). */
EK_INLINE void ek_addsub16_row(const void *va, const void *vb, void *vout, int32_t n, int32_t sa, int32_t sb,
                               const void *p, int sign) {
    const int16_t *const a = (const int16_t *)va, *const b = (const int16_t *)vb;
    int16_t *const out = (int16_t *)vout;
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_add16_one(a[i * sa], b[i * sb], (const ek_add_params *)p, sign);
    }
}

static void ek_add16_row(const void *a, const void *b, void *out, int32_t n, int32_t sa, int32_t sb, const void *p) {
    ek_addsub16_row(a, b, out, n, sa, sb, p, 1);
}

static void ek_sub16_row(const void *a, const void *b, void *out, int32_t n, int32_t sa, int32_t sb, const void *p) {
    ek_addsub16_row(a, b, out, n, sa, sb, p, -1);
}

static void ek_mul16_row(const void *va, const void *vb, void *vout, int32_t n, int32_t sa, int32_t sb,
                         const void *p) {
    const int16_t *const a = (const int16_t *)va, *const b = (const int16_t *)vb;
    int16_t *const out = (int16_t *)vout;
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_mul16_one(a[i * sa], b[i * sb], (const ek_mul_params *)p);
    }
}

void ek_add_s16(const int16_t *in1, const int16_t *in2, int16_t *out, const ek_bcast *shape,
                const ek_add_params *p) {
    ek_bcast_walk(in1, in2, out, 2, shape, ek_add16_row, p);
}

void ek_sub_s16(const int16_t *in1, const int16_t *in2, int16_t *out, const ek_bcast *shape,
                const ek_add_params *p) {
    ek_bcast_walk(in1, in2, out, 2, shape, ek_sub16_row, p);
}

void ek_mul_s16(const int16_t *in1, const int16_t *in2, int16_t *out, const ek_bcast *shape,
                const ek_mul_params *p) {
    ek_bcast_walk(in1, in2, out, 2, shape, ek_mul16_row, p);
}

void ek_leaky_relu_s16(const int16_t *in, int16_t *out, size_t n, int32_t in_zp, int32_t out_zp,
                       int32_t id_mult, int32_t id_shift, int32_t alpha_mult, int32_t alpha_shift,
                       int alpha_negative) {
    size_t i;
    for (i = 0; i < n; i++) {
        const int32_t x = (int32_t)in[i] - in_zp;
        int32_t v;
        if (x >= 0) {
            v = ek_mbqm(x, id_mult, (int)id_shift);
        } else {
            v = ek_mbqm(x, alpha_mult, (int)alpha_shift);
            v = alpha_negative ? -v : v;
        }
        out[i] = ek_sat_i16(out_zp + v);
    }
}

/* AVERAGE_POOL_2D / MAX_POOL_2D on int16 (TFLM's reference_integer_ops int16 pools): windows clipped at the
 * borders, the average rounded half away from zero. */
static int ek_pool16(const ek_pool_params_t *p, const int16_t *input, int16_t *output, int avg) {
    const int32_t ch = p->channels, in_h = p->in_h, in_w = p->in_w, out_h = p->out_h, out_w = p->out_w;
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; b++) {
        const int16_t *in_b = input + (size_t)b * in_h * in_w * ch;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t ky0 = ek_tap_start(iy0, 1), ky1 = ek_tap_end(iy0, 1, in_h, p->k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const int32_t kx0 = ek_tap_start(ix0, 1), kx1 = ek_tap_end(ix0, 1, in_w, p->k_w);
                const int32_t count = (ky1 - ky0) * (kx1 - kx0);
                int16_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * ch;
                if (avg && (ky1 <= ky0 || kx1 <= kx0)) {
                    return EK_ERR_EMPTY_WINDOW;
                }
                for (c = 0; c < ch; c++) {
                    int32_t acc = avg ? 0 : -32768;
                    for (ky = ky0; ky < ky1; ky++) {
                        for (kx = kx0; kx < kx1; kx++) {
                            const int32_t v = in_b[((size_t)(iy0 + ky) * in_w + (size_t)(ix0 + kx)) * ch + c];
                            acc = avg ? acc + v : (v > acc ? v : acc);
                        }
                    }
                    if (avg) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    out[c] = (int16_t)ek_clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return EK_OK;
}

int ek_avgpool_s16(const ek_pool_params_t *p, const int16_t *input, int16_t *output) {
    return ek_pool16(p, input, output, 1);
}

void ek_maxpool_s16(const ek_pool_params_t *p, const int16_t *input, int16_t *output) {
    (void)ek_pool16(p, input, output, 0);
}

/* TFLM's LUTLookup on a 513-entry int16 table: 512 segments, linear interpolation on the low 7 bits. */
EK_INLINE int16_t ek_lut16_lookup(int16_t value, const int16_t *lut) {
    const int32_t index = 256 + (value >> 7);
    const int32_t offset = value & 0x7F;
    const int32_t slope = (int32_t)(int16_t)(lut[index + 1] - lut[index]);
    return (int16_t)(lut[index] + ((slope * offset + 64) >> 7));
}

void ek_softmax_s16(const int16_t *in, int16_t *out, int32_t outer, int32_t depth, int32_t in_mult,
                    int32_t in_shift, const int16_t *exp_lut, const int16_t *recip_lut) {
    int32_t i, c;
    for (i = 0; i < outer; i++) {
        const int16_t *x = in + (size_t)i * depth;
        int16_t *y = out + (size_t)i * depth;
        int32_t max_in_row = -32768, sum = 0, headroom, shifted, right_shift;
        int16_t recip;
        for (c = 0; c < depth; c++) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < depth; c++) {  /* the exps go to the output first (in != out) */
            const int32_t scaled = ek_mbqm(x[c] - max_in_row, in_mult, (int)in_shift) + 32767;
            y[c] = ek_lut16_lookup((int16_t)ek_clamp_i32(scaled, -32768, 32767), exp_lut);
            sum += y[c];
        }
        headroom = __builtin_clz((uint32_t)sum);
        shifted = (int32_t)((((int64_t)sum << (headroom - 1)) + (1 << 13)) >> 14);
        recip = ek_lut16_lookup((int16_t)ek_clamp_i32(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), recip_lut);
        right_shift = 31 - headroom;
        for (c = 0; c < depth; c++) {
            const int32_t r = (int32_t)(((int64_t)y[c] * recip + ((int64_t)1 << (right_shift - 1))) >> right_shift);
            y[c] = (int16_t)ek_clamp_i32(r, 0, 32767);
        }
    }
}

/* MEAN / SUM on int16: TFLM's QuantizedMeanOrSum<int16_t> (int32 sum wrapping, minus zp * count, one
 * requantization), the same parameters as ek_reduce_sum_s8. */
void ek_reduce_sum_s16(const int16_t *in, int16_t *out, const ek_reduce_shape *s, const ek_reduce_params *p) {
    int32_t idx[EK_REDUCE_MAX_DIMS] = {0};
    int32_t off = 0;
    int done = 0;
    while (!done) {
        int32_t in_idx[EK_REDUCE_MAX_DIMS] = {0};
        int32_t in_off = 0;
        int in_done = 0;
        uint32_t sum = 0u;
        int32_t shifted;
        while (!in_done) {
            sum += (uint32_t)(int32_t)in[off + in_off];
            in_off += ek_odometer_step(in_idx, s->inner_dims, s->inner_strides, s->inner_ndims, &in_done);
        }
        shifted = (int32_t)(sum - (uint32_t)p->zp_times_count);
        *out++ = ek_sat_i16(ek_mbqm(shifted, p->multiplier, p->shift) + p->output_zp);
        off += ek_odometer_step(idx, s->outer_dims, s->outer_strides, s->outer_ndims, &done);
    }
}

/* RELU / RELU6 on int16: TFLM's ReluQuantized<int16_t> (requantize, clamp) and Relu6Quantized<int16_t> (clamp in
 * the input's domain). */
void ek_relu_s16(const int16_t *input, int16_t *output, uint32_t n, int32_t in_zp, int32_t out_zp, int32_t mult,
                 int32_t shift, int32_t act_min, int32_t act_max) {
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t v = out_zp + ek_mbqm((int32_t)input[i] - in_zp, mult, (int)shift);
        output[i] = (int16_t)ek_clamp_i32(v, act_min, act_max);
    }
}

void ek_clamp_s16(const int16_t *input, int16_t *output, uint32_t n, int16_t lower, int16_t upper) {
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int16_t v = input[i];
        output[i] = v > upper ? upper : (v < lower ? lower : v);
    }
}
