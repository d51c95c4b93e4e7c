/* edgekit AOT runtime: float32 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and pools (see ek_float.h). */
#include "ek_float.h"

#include <math.h>

static float ek_f32_clamp(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return hi < x ? hi : x;
}

void ek_f32_conv(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias, float *out) {
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t per_group = p->out_c / groups;
    int32_t b, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < p->batches; b++) {
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (oc = 0; oc < p->out_c; oc++) {
                    const int32_t c0 = (oc / per_group) * p->filter_in_c;
                    float total = 0.0f;
                    for (ky = 0; ky < p->k_h; ky++) {
                        const int32_t iy = y0 + p->dil_h * ky;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < p->k_w; kx++) {
                            const int32_t ix = x0 + p->dil_w * kx;
                            const float *src, *w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            src = in + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c + c0;
                            w = filter + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * p->filter_in_c;
                            for (ic = 0; ic < p->filter_in_c; ic++) {
                                const float prod = src[ic] * w[ic];
                                total += prod;
                            }
                        }
                    }
                    *out++ = ek_f32_clamp(total + (bias != NULL ? bias[oc] : 0.0f), p->act_min, p->act_max);
                }
            }
        }
    }
}

void ek_f32_depthwise(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias,
                      float *out) {
    int32_t b, oy, ox, ic, m, ky, kx;
    for (b = 0; b < p->batches; b++) {
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (ic = 0; ic < p->in_c; ic++) {
                    for (m = 0; m < p->depth_mult; m++) {
                        const int32_t oc = m + ic * p->depth_mult;
                        float total = 0.0f;
                        for (ky = 0; ky < p->k_h; ky++) {
                            const int32_t iy = y0 + p->dil_h * ky;
                            if (iy < 0 || iy >= p->in_h) {
                                continue;
                            }
                            for (kx = 0; kx < p->k_w; kx++) {
                                const int32_t ix = x0 + p->dil_w * kx;
                                float prod;
                                if (ix < 0 || ix >= p->in_w) {
                                    continue;
                                }
                                prod = in[(((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic] *
                                       filter[((size_t)ky * p->k_w + kx) * p->out_c + oc];
                                total += prod;
                            }
                        }
                        out[(((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                            ek_f32_clamp(total + (bias != NULL ? bias[oc] : 0.0f), p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void ek_f32_fully_connected(const float *in, const float *weights, const float *bias, float *out, int32_t batches,
                            int32_t depth, int32_t units, float act_min, float act_max) {
    int32_t b, u, d;
    for (b = 0; b < batches; b++) {
        const float *x = in + (size_t)b * depth;
        for (u = 0; u < units; u++) {
            const float *w = weights + (size_t)u * depth;
            float total = 0.0f;
            for (d = 0; d < depth; d++) {
                const float prod = x[d] * w[d];
                total += prod;
            }
            *out++ = ek_f32_clamp(total + (bias != NULL ? bias[u] : 0.0f), act_min, act_max);
        }
    }
}

void ek_f32_pool(const ek_f32_pool_params *p, const float *in, float *out) {
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; b++) {
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t ky0 = y0 < 0 ? -y0 : 0;
                const int32_t kx0 = x0 < 0 ? -x0 : 0;
                const int32_t ky1 = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
                const int32_t kx1 = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
                for (c = 0; c < p->channels; c++) {
                    float acc = p->kind == EK_F32_POOL_MAX ? -3.40282347e+38f : 0.0f;
                    int32_t count = 0;
                    float result;
                    for (ky = ky0; ky < ky1; ky++) {
                        for (kx = kx0; kx < kx1; kx++) {
                            const float v =
                                in[(((size_t)b * p->in_h + y0 + ky) * p->in_w + x0 + kx) * p->channels + c];
                            if (p->kind == EK_F32_POOL_MAX) {
                                acc = acc < v ? v : acc;
                            } else if (p->kind == EK_F32_POOL_L2) {
                                const float sq = v * v;
                                acc += sq;
                            } else {
                                acc += v;
                            }
                            count++;
                        }
                    }
                    if (p->kind == EK_F32_POOL_AVG) {
                        result = acc / (float)count;
                    } else if (p->kind == EK_F32_POOL_L2) {
                        result = sqrtf(acc / (float)count);
                    } else {
                        result = acc;
                    }
                    *out++ = ek_f32_clamp(result, p->act_min, p->act_max);
                }
            }
        }
    }
}
