/* edgekit AOT runtime: int8 pooling (see ek_pool.h). */
#include "ek_pool.h"

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
                for (c = 0; c < ch; c++) {
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
                for (c = 0; c < ch; c++) {
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
