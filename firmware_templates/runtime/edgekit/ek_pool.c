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
#endif

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
                if (count <= 255) { /* MVE: 8 channels per int16 vector add, the rounding division per channel */
                    for (; c < ch; c += 8) {
                        int16_t sums[8];
                        const int32_t n = ch - c < 8 ? ch - c : 8;
                        int32_t j;
                        vst1q_s16(sums, avg_sums8(in_b, in_w, ch, iy0, ky0, ky1, ix0, kx0, kx1, c, n));
                        for (j = 0; j < n; j++) {
                            const int32_t acc = sums[j];
                            const int32_t avg = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                            out[c + j] = (int8_t)ek_clamp_i32(avg, act_min, act_max);
                        }
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
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    out[c] = (int8_t)ek_clamp_i32(acc, act_min, act_max);
                }
            }
        }
    }
    return EK_OK;
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
