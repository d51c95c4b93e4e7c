/* edgekit AOT runtime: float32 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and pools (see ek_float.h). */
#include "ek_float.h"

#include <math.h>

static float ek_f32_clamp(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return hi < x ? hi : x;
}

/* One output pixel's channels [oc0, oc1) of one group: four at a time (each sum still in TFLM's order: filter row,
 * column, input channel), the rest one by one. */
static void ek_f32_conv_pixel(const ek_f32_conv_params *p, const float *in_b, const float *filter, const float *bias,
                              float *out, int32_t y0, int32_t x0, int32_t oc0, int32_t oc1, int32_t c0) {
    const size_t fstride = (size_t)p->k_h * p->k_w * p->filter_in_c;
    int32_t oc = oc0, ky, kx, ic;
    for (; oc + 4 <= oc1; oc += 4) {
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
        for (ky = 0; ky < p->k_h; ky++) {
            const int32_t iy = y0 + p->dil_h * ky;
            if (iy < 0 || iy >= p->in_h) {
                continue;
            }
            for (kx = 0; kx < p->k_w; kx++) {
                const int32_t ix = x0 + p->dil_w * kx;
                const float *src, *w0;
                if (ix < 0 || ix >= p->in_w) {
                    continue;
                }
                src = in_b + ((size_t)iy * p->in_w + ix) * p->in_c + c0;
                w0 = filter + (size_t)oc * fstride + ((size_t)ky * p->k_w + kx) * p->filter_in_c;
                for (ic = 0; ic < p->filter_in_c; ic++) {
                    const float x = src[ic];
                    const float p0 = x * w0[ic], p1 = x * w0[fstride + ic];
                    const float p2 = x * w0[2 * fstride + ic], p3 = x * w0[3 * fstride + ic];
                    t0 += p0;
                    t1 += p1;
                    t2 += p2;
                    t3 += p3;
                }
            }
        }
        out[oc] = ek_f32_clamp(t0 + (bias != NULL ? bias[oc] : 0.0f), p->act_min, p->act_max);
        out[oc + 1] = ek_f32_clamp(t1 + (bias != NULL ? bias[oc + 1] : 0.0f), p->act_min, p->act_max);
        out[oc + 2] = ek_f32_clamp(t2 + (bias != NULL ? bias[oc + 2] : 0.0f), p->act_min, p->act_max);
        out[oc + 3] = ek_f32_clamp(t3 + (bias != NULL ? bias[oc + 3] : 0.0f), p->act_min, p->act_max);
    }
    for (; oc < oc1; oc++) {
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
                src = in_b + ((size_t)iy * p->in_w + ix) * p->in_c + c0;
                w = filter + (size_t)oc * fstride + ((size_t)ky * p->k_w + kx) * p->filter_in_c;
                for (ic = 0; ic < p->filter_in_c; ic++) {
                    const float prod = src[ic] * w[ic];
                    total += prod;
                }
            }
        }
        out[oc] = ek_f32_clamp(total + (bias != NULL ? bias[oc] : 0.0f), p->act_min, p->act_max);
    }
}

void ek_f32_conv(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias, float *out) {
    const int32_t groups = p->in_c / p->filter_in_c;
    const int32_t per_group = p->out_c / groups;
    int32_t b, oy, ox, g;
    for (b = 0; b < p->batches; b++) {
        const float *in_b = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (g = 0; g < groups; g++) {
                    ek_f32_conv_pixel(p, in_b, filter, bias, out, y0, x0, g * per_group, (g + 1) * per_group,
                                      g * p->filter_in_c);
                }
                out += p->out_c;
            }
        }
    }
}

void ek_f32_depthwise(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias,
                      float *out) {
    /* each output's sum in TFLM's order (filter row, then column), all channels of a pixel side by side: the
     * output pixel itself holds the running sums */
    int32_t b, oy, ox, ic, m, ky, kx, oc;
    for (b = 0; b < p->batches; b++) {
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                float *acc = out + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (oc = 0; oc < p->out_c; oc++) {
                    acc[oc] = 0.0f;
                }
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
                        src = in + (((size_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                        w = filter + ((size_t)ky * p->k_w + kx) * p->out_c;
                        for (ic = 0, oc = 0; ic < p->in_c; ic++) {
                            const float x = src[ic];
                            for (m = 0; m < p->depth_mult; m++, oc++) {
                                const float prod = x * w[oc];
                                acc[oc] += prod;
                            }
                        }
                    }
                }
                for (oc = 0; oc < p->out_c; oc++) {
                    acc[oc] = ek_f32_clamp(acc[oc] + (bias != NULL ? bias[oc] : 0.0f), p->act_min, p->act_max);
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
        for (u = 0; u + 4 <= units; u += 4) { /* four units at a time, each summed in TFLM's order */
            const float *w0 = weights + (size_t)u * depth;
            const float *w1 = w0 + depth, *w2 = w1 + depth, *w3 = w2 + depth;
            float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
            for (d = 0; d < depth; d++) {
                const float v = x[d];
                const float p0 = v * w0[d], p1 = v * w1[d], p2 = v * w2[d], p3 = v * w3[d];
                t0 += p0;
                t1 += p1;
                t2 += p2;
                t3 += p3;
            }
            *out++ = ek_f32_clamp(t0 + (bias != NULL ? bias[u] : 0.0f), act_min, act_max);
            *out++ = ek_f32_clamp(t1 + (bias != NULL ? bias[u + 1] : 0.0f), act_min, act_max);
            *out++ = ek_f32_clamp(t2 + (bias != NULL ? bias[u + 2] : 0.0f), act_min, act_max);
            *out++ = ek_f32_clamp(t3 + (bias != NULL ? bias[u + 3] : 0.0f), act_min, act_max);
        }
        for (; u < units; u++) {
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
