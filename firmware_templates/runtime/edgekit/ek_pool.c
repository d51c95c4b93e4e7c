/* edgekit AOT runtime: int8 pooling (see ek_pool.h). */
#include "ek_pool.h"

#include "ek_simd.h"

#if EK_HAVE_MVE
/* The window sums of 8 channels (int16 lanes; |sum| <= 128 * count <= 32640 for count <= 255) of one output pixel;
 * lanes at and past `n` are 0. */
static int16x8_t avg_sums8(const int8_t *in_b, int32_t in_w, int32_t ch, int32_t iy0, int32_t ky0, int32_t ky1,
                           int32_t ix0, int32_t kx0, int32_t kx1, int32_t c, int32_t n) {
    const mve_pred16_t pr = vctp16q((uint32_t)n);
    int16x8_t acc = vdupq_n_s16(0);
    int32_t ky, kx;
    for (ky = ky0; ky < ky1; ky++) {
        const int8_t *row = in_b + ((size_t)(iy0 + ky) * in_w + (size_t)(ix0 + kx0)) * ch + c;
        for (kx = kx0; kx < kx1; kx++, row += ch) {
            acc = vaddq_s16(acc, vldrbq_z_s16(row, pr));
        }
    }
    return acc;
}

/* Per lane, TFLM's rounded average of window sums x (|x| <= 32640) over count <= 255 taps: sign(x) * floor((|x| +
 * count / 2) / count), through the high word of (a << 8) * m with m = ceil(2^24 / count): exact, since a < 2^15 and
 * m * count - 2^24 < 2^8 keep the error below 1 / count. */
static int32x4_t avg_div4(int32x4_t x, int32_t half, uint32_t m) {
    const int32x4_t a = vshlq_n_s32(vaddq_n_s32(vabsq_s32(x), half), 8);
    const int32x4_t q = vreinterpretq_s32_u32(vmulhq_u32(vreinterpretq_u32_s32(a), vdupq_n_u32(m)));
    return vpselq_s32(vnegq_s32(q), q, vcmpltq_n_s32(x, 0));
}

/* The averages of 8 channels' sums s over count <= 255 taps, clamped, stored to the first n bytes of out. */
EK_INLINE void avg_store8(int8_t *out, int16x8_t s, int32_t count, int32_t n, int32_t act_min, int32_t act_max) {
    const uint32_t m = ((1u << 24) + (uint32_t)count - 1u) / (uint32_t)count;
    int16x8_t r = vmovnbq_s32(s, avg_div4(vmovlbq_s16(s), count / 2, m)); /* even channels */
    r = vmovntq_s32(r, avg_div4(vmovltq_s16(s), count / 2, m));           /* odd channels */
    r = vminq_s16(vmaxq_s16(r, vdupq_n_s16((int16_t)act_min)), vdupq_n_s16((int16_t)act_max));
    vstrbq_p_s16(out, r, vctp16q((uint32_t)n));
}
#endif

/* TFLM's rounded average: half away from zero. */
EK_INLINE int32_t avg_round(int32_t acc, int32_t count) {
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

int ek_avgpool_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output) {
    /* locals: int8_t stores may alias the parameter struct */
    const int32_t ch = p->channels, batches = p->batches, in_h = p->in_h, in_w = p->in_w;
    const int32_t out_h = p->out_h, out_w = p->out_w, k_h = p->k_h, k_w = p->k_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, pad_h = p->pad_h, pad_w = p->pad_w;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * ch;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - pad_h;
            const int32_t ky0 = ek_tap_start(iy0, 1);
            const int32_t ky1 = ek_tap_end(iy0, 1, in_h, k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const int32_t kx0 = ek_tap_start(ix0, 1);
                const int32_t kx1 = ek_tap_end(ix0, 1, in_w, k_w);
                const int32_t count = (ky1 - ky0) * (kx1 - kx0);
                int8_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * ch;
                if (ky1 <= ky0 || kx1 <= kx0) {
                    return EK_ERR_EMPTY_WINDOW;
                }
                c = 0;
#if EK_HAVE_MVE
                if (count <= 255) { /* MVE: 8 channels per int16 vector add and vector division */
                    for (; c < ch; c += 8) {
                        const int32_t n = ch - c < 8 ? ch - c : 8;
                        avg_store8(out + c, avg_sums8(in_b, in_w, ch, iy0, ky0, ky1, ix0, kx0, kx1, c, n), count, n,
                                   act_min, act_max);
                    }
                }
#endif
                for (; c < ch; c++) {
                    int32_t acc = 0;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *row = in_b + (size_t)(iy0 + ky) * in_w * ch + c;
                        for (kx = kx0; kx < kx1; kx++) {
                            acc += row[(size_t)(ix0 + kx) * ch];
                        }
                    }
                    out[c] = (int8_t)ek_clamp_i32(avg_round(acc, count), act_min, act_max);
                }
            }
        }
    }
    return EK_OK;
}

void ek_avgpool_s8_global(const int8_t *input, int8_t *output, int32_t batches, int32_t pixels, int32_t channels,
                          int32_t act_min, int32_t act_max) {
    int32_t b, c, i;
    for (b = 0; b < batches; b++, input += (size_t)pixels * channels, output += channels) {
#if EK_HAVE_MVE
        for (c = 0; c < channels; c += 8) { /* 8 channels per int16 vector add */
            const int32_t n = channels - c < 8 ? channels - c : 8;
            const mve_pred16_t pr = vctp16q((uint32_t)n);
            const int8_t *x = input + c;
            int16x8_t acc = vdupq_n_s16(0);
            for (i = 0; i < pixels; i++, x += channels) {
                acc = vaddq_s16(acc, vldrbq_z_s16(x, pr));
            }
            avg_store8(output + c, acc, pixels, n, act_min, act_max);
        }
#else
        for (c = 0; c < channels; c++) {
            int32_t acc = 0;
            for (i = 0; i < pixels; i++) {
                acc += input[(size_t)i * channels + c];
            }
            output[c] = (int8_t)ek_clamp_i32(avg_round(acc, pixels), act_min, act_max);
        }
#endif
    }
}

void ek_maxpool_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output) {
    /* locals: int8_t stores may alias the parameter struct */
    const int32_t ch = p->channels, batches = p->batches, in_h = p->in_h, in_w = p->in_w;
    const int32_t out_h = p->out_h, out_w = p->out_w, k_h = p->k_h, k_w = p->k_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, pad_h = p->pad_h, pad_w = p->pad_w;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * ch;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - pad_h;
            const int32_t ky0 = ek_tap_start(iy0, 1);
            const int32_t ky1 = ek_tap_end(iy0, 1, in_h, k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const int32_t kx0 = ek_tap_start(ix0, 1);
                const int32_t kx1 = ek_tap_end(ix0, 1, in_w, k_w);
                int8_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * ch;
                c = 0;
#if EK_HAVE_MVE
                for (; c < ch; c += 16) { /* MVE: 16 channels per VMAX, the last ones predicated */
                    const mve_pred16_t pr = vctp8q((uint32_t)(ch - c));
                    int8x16_t m = vdupq_n_s8(-128);
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *row = in_b + ((size_t)(iy0 + ky) * in_w + (size_t)(ix0 + kx0)) * ch + c;
                        for (kx = kx0; kx < kx1; kx++, row += ch) {
                            m = vmaxq_s8(m, vldrbq_z_s8(row, pr));
                        }
                    }
                    m = vminq_s8(vmaxq_s8(m, vdupq_n_s8((int8_t)act_min)), vdupq_n_s8((int8_t)act_max));
                    vstrbq_p_s8(out + c, m, pr);
                }
#endif
                for (; c < ch; c++) {
                    int32_t m = -128;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *row = in_b + (size_t)(iy0 + ky) * in_w * ch + c;
                        for (kx = kx0; kx < kx1; kx++) {
                            const int32_t v = row[(size_t)(ix0 + kx) * ch];
                            m = v > m ? v : m;
                        }
                    }
                    out[c] = (int8_t)ek_clamp_i32(m, act_min, act_max);
                }
            }
        }
    }
}
