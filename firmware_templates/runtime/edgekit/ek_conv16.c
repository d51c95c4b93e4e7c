/* edgekit AOT runtime: the 16x8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (see ek_int16.h).
 *
 * TFLM's accumulators and requantization, so results are bit-exact: CONV_2D and FULLY_CONNECTED sum in 64 bits
 * (ek_dot_s16x8: SMLALD on DSP cores, VMLALDAVA on MVE), or modulo 2^32 with an int32 bias (the low word of the
 * same exact sum). Both convolutions share one walk over the output pixels (ek_s16_walk) that clips the filter
 * window to the input. CONV_2D with a patch buffer (the generator gives one unless the filter is 1x1) copies each
 * pixel's window into it (zeros outside the input) and takes one dot product per output channel; without one it
 * takes a whole clipped filter row as one dot product when its taps are adjacent in memory (no dilation along x,
 * one group), else one per tap. DEPTHWISE_CONV_2D with depth multiplier 1 sums 4 channels at a time
 * over the taps in 32 bits, exact while the window has at most 511 taps (|int16 x int8| <= 2^22): then the int64
 * bias is added (SMLAxy on DSP cores, VMUL + VADD on MVE); other multipliers and larger windows take the 64-bit loop.
 */
#include "ek_dot.h"
#include "ek_int16.h"

/* The requantized, clamped int16 of an accumulator; acc32: TFLM's int32 path (the sum wrapped to 32 bits). */
EK_INLINE int16_t ek_s16_out(int64_t acc, int acc32, int32_t mult, int shift, int32_t offset, int32_t lo,
                             int32_t hi) {
    const int32_t v = acc32 ? ek_mbqm((int32_t)(uint32_t)(uint64_t)acc, mult, shift) : ek_mbqm64(acc, mult, shift);
    return (int16_t)ek_clamp_i32((int32_t)((uint32_t)v + (uint32_t)offset), lo, hi);
}

/* The exact sum plus the bias: int64 bias, or (acc32) int32 bias added modulo 2^32. */
EK_INLINE int64_t ek_s16_biased(int64_t acc, const void *bias, int acc32, int32_t k) {
    if (acc32) {
        const uint32_t b = bias != NULL ? (uint32_t)((const int32_t *)bias)[k] : 0u;
        return (int64_t)(int32_t)((uint32_t)(uint64_t)acc + b);
    }
    return bias != NULL ? acc + ((const int64_t *)bias)[k] : acc;
}

/* One output pixel's clipped filter window: taps ky0..ky1-1, kx0..kx1-1 of the window at (iy0, ix0). */
typedef struct {
    int32_t iy0, ix0, ky0, ky1, kx0, kx1;
    const int16_t *in_b;  /* the pixel's batch of the input */
    int16_t *out;         /* its out_c outputs */
} ek_s16_win;

typedef void (*ek_s16_pixel_fn)(const ek_conv_params_t *p, const ek_s16_win *w, const int8_t *filter,
                                const void *bias, int acc32, int16_t *patch);

static void ek_s16_walk(const ek_conv_params_t *p, const int16_t *input, const int8_t *filter, const void *bias,
                        int acc32, int16_t *output, ek_s16_pixel_fn pixel, int16_t *patch) {
    int32_t b, oy, ox;
    ek_s16_win w;
    for (b = 0; b < p->batches; b++) {
        w.in_b = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            w.iy0 = oy * p->stride_h - p->pad_h;
            w.ky0 = ek_tap_start(w.iy0, p->dil_h);
            w.ky1 = ek_tap_end(w.iy0, p->dil_h, p->in_h, p->k_h);
            for (ox = 0; ox < p->out_w; ox++) {
                w.ix0 = ox * p->stride_w - p->pad_w;
                w.kx0 = ek_tap_start(w.ix0, p->dil_w);
                w.kx1 = ek_tap_end(w.ix0, p->dil_w, p->in_w, p->k_w);
                w.out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                pixel(p, &w, filter, bias, acc32, patch);
            }
        }
    }
}

/* Group g's window of one pixel as one run: k_h * k_w * k_c int16 in the filter's order, 0 where the window leaves
 * the input (the taps TFLM skips; 16x8 input zero points are 0). */
static void ek_conv16_patch(const ek_conv_params_t *p, const ek_s16_win *w, int32_t g, int16_t *patch) {
    const int32_t k_w = p->k_w, k_c = p->k_c;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ky++) {
        const int32_t iy = w->iy0 + ky * p->dil_h;
        for (kx = 0; kx < k_w; kx++) {
            int16_t *dst = patch + ((size_t)ky * k_w + kx) * k_c;
            if (ky >= w->ky0 && ky < w->ky1 && kx >= w->kx0 && kx < w->kx1) {
                const int32_t ix = w->ix0 + kx * p->dil_w;
                memcpy(dst, w->in_b + ((size_t)iy * p->in_w + ix) * p->in_c + (size_t)g * k_c,
                       (size_t)k_c * sizeof(int16_t));
            } else {
                memset(dst, 0, (size_t)k_c * sizeof(int16_t));
            }
        }
    }
}

static void ek_conv16_pixel(const ek_conv_params_t *p, const ek_s16_win *w, const int8_t *filter,
                            const void *bias, int acc32, int16_t *patch) {
    const int32_t in_w = p->in_w, in_c = p->in_c, k_w = p->k_w, k_c = p->k_c, out_c = p->out_c;
    const int32_t per_group = out_c / (in_c / k_c);
    const size_t filter_size = (size_t)p->k_h * k_w * k_c;
    const int rows = p->dil_w == 1 && k_c == in_c;  /* a clipped filter row is one run of memory */
    const int32_t run = rows ? (w->kx1 - w->kx0) * k_c : k_c;
    const int32_t kx_end = rows ? w->kx0 + 1 : w->kx1;
    int32_t oc, ky, kx;
    if (patch != NULL) {  /* one dot per output channel over the whole window */
        const int32_t groups = in_c / k_c;
        int32_t g;
        for (g = 0; g < groups; g++) {
            ek_conv16_patch(p, w, g, patch);
            for (oc = g * per_group; oc + 1 < (g + 1) * per_group; oc += 2) {
                int64_t a0, a1;
                ek_dot2_s16x8(patch, filter + (size_t)oc * filter_size, filter + (size_t)(oc + 1) * filter_size,
                              (int32_t)filter_size, &a0, &a1);
                w->out[oc] = ek_s16_out(ek_s16_biased(a0, bias, acc32, oc), acc32, p->out_mult[oc],
                                        p->out_shift[oc], 0, p->act_min, p->act_max);
                w->out[oc + 1] = ek_s16_out(ek_s16_biased(a1, bias, acc32, oc + 1), acc32, p->out_mult[oc + 1],
                                            p->out_shift[oc + 1], 0, p->act_min, p->act_max);
            }
            for (; oc < (g + 1) * per_group; oc++) {
                const int64_t acc = ek_dot_s16x8(patch, filter + (size_t)oc * filter_size, (int32_t)filter_size);
                w->out[oc] = ek_s16_out(ek_s16_biased(acc, bias, acc32, oc), acc32, p->out_mult[oc],
                                        p->out_shift[oc], 0, p->act_min, p->act_max);
            }
        }
        return;
    }
    if (w->kx1 <= w->kx0) {
        for (oc = 0; oc < out_c; oc++) {
            w->out[oc] = ek_s16_out(ek_s16_biased(0, bias, acc32, oc), acc32, p->out_mult[oc], p->out_shift[oc], 0,
                                    p->act_min, p->act_max);
        }
        return;
    }
    oc = 0;
    if (per_group == out_c) {  /* one group: two output channels per pass share the input loads */
        for (; oc + 1 < out_c; oc += 2) {
            const int8_t *f0 = filter + (size_t)oc * filter_size, *f1 = f0 + filter_size;
            int64_t acc0 = 0, acc1 = 0;
            for (ky = w->ky0; ky < w->ky1; ky++) {
                const int32_t iy = w->iy0 + ky * p->dil_h;
                for (kx = w->kx0; kx < kx_end; kx++) {
                    const int32_t ix = w->ix0 + kx * p->dil_w;
                    const size_t t = ((size_t)ky * k_w + kx) * k_c;
                    int64_t a0, a1;
                    ek_dot2_s16x8(w->in_b + ((size_t)iy * in_w + ix) * in_c, f0 + t, f1 + t, run, &a0, &a1);
                    acc0 += a0;
                    acc1 += a1;
                }
            }
            w->out[oc] = ek_s16_out(ek_s16_biased(acc0, bias, acc32, oc), acc32, p->out_mult[oc],
                                    p->out_shift[oc], 0, p->act_min, p->act_max);
            w->out[oc + 1] = ek_s16_out(ek_s16_biased(acc1, bias, acc32, oc + 1), acc32, p->out_mult[oc + 1],
                                        p->out_shift[oc + 1], 0, p->act_min, p->act_max);
        }
    }
    for (; oc < out_c; oc++) {
        const int16_t *in_g = w->in_b + (size_t)(oc / per_group) * k_c;
        const int8_t *f_oc = filter + (size_t)oc * filter_size;
        int64_t acc = 0;
        for (ky = w->ky0; ky < w->ky1; ky++) {
            const int32_t iy = w->iy0 + ky * p->dil_h;
            for (kx = w->kx0; kx < kx_end; kx++) {
                const int32_t ix = w->ix0 + kx * p->dil_w;
                acc += ek_dot_s16x8(in_g + ((size_t)iy * in_w + ix) * in_c, f_oc + ((size_t)ky * k_w + kx) * k_c,
                                    run);
            }
        }
        w->out[oc] = ek_s16_out(ek_s16_biased(acc, bias, acc32, oc), acc32, p->out_mult[oc], p->out_shift[oc], 0,
                                p->act_min, p->act_max);
    }
}

/* Depth multiplier 1, at most 511 taps: channels c .. c + 3 (c + 4 <= out_c) summed in 32 bits into acc. */
static void ek_dw16_four(const ek_conv_params_t *p, const ek_s16_win *w, const int8_t *filter, int32_t c,
                         int32_t *acc) {
    const int32_t in_w = p->in_w, ch = p->out_c;
    int32_t ky, kx;
#if EK_HAVE_MVE
    int32x4_t a = vdupq_n_s32(0);
#else
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#endif
    for (ky = w->ky0; ky < w->ky1; ky++) {
        const int32_t iy = w->iy0 + ky * p->dil_h;
        for (kx = w->kx0; kx < w->kx1; kx++) {
            const int16_t *ip = w->in_b + ((size_t)iy * in_w + (w->ix0 + kx * p->dil_w)) * ch + c;
            const int8_t *fp = filter + ((size_t)ky * p->k_w + kx) * ch + c;
#if EK_HAVE_MVE
            a = vaddq_s32(a, vmulq_s32(vldrhq_s32(ip), vldrbq_s32(fp)));
#elif EK_HAVE_DSP
            const uint32_t ww = ek_ld32(fp), x01 = ek_ld32(ip), x23 = ek_ld32(ip + 2);
            const uint32_t even = ek_sxtb16(ww), odd = ek_sxtb16_ror8(ww);  /* [w0, w2], [w1, w3] */
            a0 = __smlabb((int32_t)x01, (int32_t)even, a0);
            a1 = __smlatb((int32_t)x01, (int32_t)odd, a1);
            a2 = __smlabt((int32_t)x23, (int32_t)even, a2);
            a3 = __smlatt((int32_t)x23, (int32_t)odd, a3);
#else
            a0 += ip[0] * fp[0];
            a1 += ip[1] * fp[1];
            a2 += ip[2] * fp[2];
            a3 += ip[3] * fp[3];
#endif
        }
    }
#if EK_HAVE_MVE
    vst1q_s32(acc, a);
#else
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#endif
}

static void ek_dw16_pixel(const ek_conv_params_t *p, const ek_s16_win *w, const int8_t *filter, const void *bias,
                          int acc32, int16_t *patch) {
    const int32_t in_w = p->in_w, in_c = p->in_c, out_c = p->out_c, mult = p->depth_multiplier;
    const int64_t *bias64 = (const int64_t *)bias;
    const int32_t taps = (w->ky1 - w->ky0) * (w->kx1 - w->kx0);
    int32_t c = 0, oc, ky, kx;
    (void)acc32;
    (void)patch;
    if (mult == 1 && taps <= 511) {
        int32_t acc[4];
        for (; c + 4 <= out_c; c += 4) {
            int32_t k;
            ek_dw16_four(p, w, filter, c, acc);
            for (k = 0; k < 4; k++) {
                w->out[c + k] = ek_s16_out(ek_s16_biased(acc[k], bias64, 0, c + k), 0, p->out_mult[c + k],
                                           p->out_shift[c + k], 0, p->act_min, p->act_max);
            }
        }
    }
    for (oc = c; oc < out_c; oc++) {
        const int32_t ic = oc / mult;
        int64_t acc = 0;
        for (ky = w->ky0; ky < w->ky1; ky++) {
            const int32_t iy = w->iy0 + ky * p->dil_h;
            for (kx = w->kx0; kx < w->kx1; kx++) {
                const int32_t ix = w->ix0 + kx * p->dil_w;
                acc += (int64_t)filter[((size_t)ky * p->k_w + kx) * out_c + oc] *
                       w->in_b[((size_t)iy * in_w + ix) * in_c + ic];
            }
        }
        w->out[oc] = ek_s16_out(ek_s16_biased(acc, bias64, 0, oc), 0, p->out_mult[oc], p->out_shift[oc], 0,
                                p->act_min, p->act_max);
    }
}

void ek_conv2d_s16(const ek_conv_params_t *p, const int16_t *input, const int8_t *filter, const void *bias,
                   int acc32, int16_t *output, int16_t *patch) {
    ek_s16_walk(p, input, filter, bias, acc32, output, ek_conv16_pixel, patch);
}

void ek_depthwise_conv2d_s16(const ek_conv_params_t *p, const int16_t *input, const int8_t *filter,
                             const int64_t *bias, int16_t *output) {
    ek_s16_walk(p, input, filter, bias, 0, output, ek_dw16_pixel, NULL);
}

void ek_fully_connected_s16(const ek_fc_params_t *p, const int16_t *input, const int8_t *filter,
                            const void *bias, int acc32, int16_t *output) {
    const int32_t depth = p->accum_depth, out_depth = p->out_depth;
    const int offsets = p->filter_offset != 0 || p->in_offset != 0;
    int32_t b, r, k;
    for (b = 0; b < p->batches; b++) {
        const int16_t *in = input + (size_t)b * depth;
        int16_t *out = output + (size_t)b * out_depth;
        for (r = 0; r < out_depth; r++) {
            const int8_t *w = filter + (size_t)r * depth;
            const int32_t c = p->per_channel ? r : 0;
            int64_t acc = 0;
            if (!offsets) {
                acc = ek_dot_s16x8(in, w, depth);
            } else {
                for (k = 0; k < depth; k++) {
                    acc += ((int32_t)w[k] + p->filter_offset) * ((int32_t)in[k] + p->in_offset);
                }
            }
            out[r] = ek_s16_out(ek_s16_biased(acc, bias, acc32, r), acc32, p->out_mult[c], p->out_shift[c],
                                p->out_offset, p->act_min, p->act_max);
        }
    }
}
