/* edgekit AOT runtime: float32 comparisons, SELECT_V2, ARG_MAX / ARG_MIN, CUMSUM, L2_NORMALIZATION,
 * RESIZE_BILINEAR, TRANSPOSE_CONV (see ek_float_ops.h). */
#include "ek_float_ops.h"

#include <math.h>

/* Never a fused multiply-add, whatever the build's C dialect: GNU modes (-std=gnu11, PlatformIO's / Arduino's
 * default) let GCC contract a * b + c into VFMA (one rounding instead of TFLM's two). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static uint8_t ek_f32_cmp(int32_t op, float a, float b) {
    switch (op) {
    case EK_F32_EQUAL:
        return (uint8_t)(a == b);
    case EK_F32_NOT_EQUAL:
        return (uint8_t)(a != b);
    case EK_F32_LESS:
        return (uint8_t)(a < b);
    case EK_F32_LESS_EQUAL:
        return (uint8_t)(a <= b);
    case EK_F32_GREATER:
        return (uint8_t)(a > b);
    default:
        return (uint8_t)(a >= b);
    }
}

/* the next row of the outer dimensions of an ek_nshape walk (k inputs); 0 when done */
static int ek_f32_next_row(const ek_nshape *s, int32_t *idx, int32_t *off, int32_t k) {
    int32_t d, j;
    for (d = s->ndims - 2; d >= 0; d--) {
        idx[d]++;
        for (j = 0; j < k; j++) {
            off[j] += s->stride[j][d];
        }
        if (idx[d] < s->dims[d]) {
            return 1;
        }
        for (j = 0; j < k; j++) {
            off[j] -= s->stride[j][d] * s->dims[d];
        }
        idx[d] = 0;
    }
    return 0;
}

void ek_f32_compare(int32_t op, const float *in1, const float *in2, uint8_t *out, const ek_nshape *shape) {
    int32_t idx[EK_NSHAPE_MAX_DIMS] = {0};
    int32_t off[2] = {0, 0};
    const int32_t nd = shape->ndims, inner = shape->dims[nd - 1];
    const int32_t s1 = shape->stride[0][nd - 1], s2 = shape->stride[1][nd - 1];
    int32_t i;
    do {
        for (i = 0; i < inner; i++) {
            *out++ = ek_f32_cmp(op, in1[off[0] + i * s1], in2[off[1] + i * s2]);
        }
    } while (ek_f32_next_row(shape, idx, off, 2));
}

void ek_f32_select(const uint8_t *cond, const float *x, const float *y, float *out, const ek_nshape *shape) {
    int32_t idx[EK_NSHAPE_MAX_DIMS] = {0};
    int32_t off[3] = {0, 0, 0};
    const int32_t nd = shape->ndims, inner = shape->dims[nd - 1];
    const int32_t sc = shape->stride[0][nd - 1], sx = shape->stride[1][nd - 1], sy = shape->stride[2][nd - 1];
    int32_t i;
    do {
        for (i = 0; i < inner; i++) {
            *out++ = cond[off[0] + i * sc] ? x[off[1] + i * sx] : y[off[2] + i * sy];
        }
    } while (ek_f32_next_row(shape, idx, off, 3));
}

void ek_f32_argminmax(const float *in, int32_t *out, int32_t outer, int32_t size, int32_t inner, int32_t is_max) {
    int32_t o, j, i;
    for (o = 0; o < outer; o++) {
        const float *base = in + (size_t)o * size * inner;
        for (j = 0; j < inner; j++) {
            float best = base[j];
            int32_t at = 0;
            for (i = 1; i < size; i++) {
                const float v = base[(size_t)i * inner + j];
                if (is_max ? v > best : v < best) {  /* TFLM's GreaterFn / LessFn: NaN never wins */
                    best = v;
                    at = i;
                }
            }
            out[(size_t)o * inner + j] = at;
        }
    }
}

void ek_f32_cumsum(const float *in, float *out, int32_t outer, int32_t size, int32_t inner, int32_t exclusive,
                   int32_t reverse) {
    int32_t o, j, i;
    for (o = 0; o < outer; o++) {
        for (j = 0; j < inner; j++) {
            float acc = 0.0f;
            for (i = 0; i < size; i++) {
                const size_t at = ((size_t)o * size + (size_t)(reverse ? size - 1 - i : i)) * inner + j;
                const float v = in[at];  /* read before the write: out may be in */
                if (exclusive) {
                    out[at] = acc;
                    acc += v;
                } else {
                    acc += v;
                    out[at] = acc;
                }
            }
        }
    }
}

void ek_f32_l2_norm(const float *in, float *out, int32_t rows, int32_t depth) {
    int32_t r, c;
    for (r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * depth;
        float *y = out + (size_t)r * depth;
        float sum = 0.0f, norm;
        for (c = 0; c < depth; c++) {
            const float sq = x[c] * x[c];
            sum += sq;
        }
        norm = sqrtf(sum);
        norm = norm < 1e-6f ? 1e-6f : norm;  /* std::max(norm, epsilon) */
        for (c = 0; c < depth; c++) {
            y[c] = x[c] / norm;
        }
    }
}

/* TFLM's ComputeInterpolationValues */
static void ek_f32_interp(int32_t value, float scale, int32_t half_pixel, int32_t size, float *scaled, int32_t *lo,
                          int32_t *hi) {
    float f;
    int32_t c;
    if (half_pixel) {
        *scaled = ((float)value + 0.5f) * scale - 0.5f;
    } else {
        *scaled = (float)value * scale;
    }
    f = floorf(*scaled);
    *lo = (int32_t)f > 0 ? (int32_t)f : 0;
    c = (int32_t)ceilf(*scaled);
    *hi = c < size - 1 ? c : size - 1;
}

void ek_f32_resize_bilinear(const ek_f32_resize_params *p, const float *in, float *out) {
    float hs = (float)p->in_h / (float)p->out_h, ws = (float)p->in_w / (float)p->out_w;
    const size_t row = (size_t)p->in_w * p->channels;
    int32_t b, y, x, c;
    if (p->align_corners && p->out_h > 1) {
        hs = (float)(p->in_h - 1) / (float)(p->out_h - 1);
    }
    if (p->align_corners && p->out_w > 1) {
        ws = (float)(p->in_w - 1) / (float)(p->out_w - 1);
    }
    for (b = 0; b < p->batches; b++) {
        const float *img = in + (size_t)b * p->in_h * row;
        for (y = 0; y < p->out_h; y++) {
            float iy;
            int32_t y0, y1;
            ek_f32_interp(y, hs, p->half_pixel_centers, p->in_h, &iy, &y0, &y1);
            for (x = 0; x < p->out_w; x++) {
                float ix;
                int32_t x0, x1;
                const float *a, *bb, *cc, *d;
                float dy, dx;
                ek_f32_interp(x, ws, p->half_pixel_centers, p->in_w, &ix, &x0, &x1);
                dy = iy - (float)y0;
                dx = ix - (float)x0;
                a = img + (size_t)y0 * row + (size_t)x0 * p->channels;
                bb = img + (size_t)y1 * row + (size_t)x0 * p->channels;
                cc = img + (size_t)y0 * row + (size_t)x1 * p->channels;
                d = img + (size_t)y1 * row + (size_t)x1 * p->channels;
                for (c = 0; c < p->channels; c++) {  /* the reference's expression, term by term */
                    const float t0 = a[c] * (1.0f - dy) * (1.0f - dx);
                    const float t1 = bb[c] * dy * (1.0f - dx);
                    const float t2 = cc[c] * (1.0f - dy) * dx;
                    const float t3 = d[c] * dy * dx;
                    *out++ = t0 + t1 + t2 + t3 + 0.0f;
                }
            }
        }
    }
}

void ek_f32_transpose_conv(const ek_f32_tconv_params *p, const float *in, const float *filter, const float *bias,
                           float *out) {
    /* TFLM scatters every input element into the outputs it touches (input row, column, channel order); here each
     * output gathers the same products in that same order, so every sum is TFLM's */
    const size_t fstride = (size_t)p->k_h * p->k_w * p->in_c;
    int32_t b, oy, ox, oc, iy, ix, ic;
    for (b = 0; b < p->batches; b++) {
        const float *in_b = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            /* input rows iy with 0 <= oy + pad_h - iy * stride_h < k_h */
            const int32_t ty = oy + p->pad_h;
            const int32_t iy0 = ty - p->k_h + 1 <= 0 ? 0 : (ty - p->k_h + p->stride_h) / p->stride_h;
            const int32_t iy1 = ty < 0 ? -1 : (ty / p->stride_h < p->in_h - 1 ? ty / p->stride_h : p->in_h - 1);
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t tx = ox + p->pad_w;
                const int32_t ix0 = tx - p->k_w + 1 <= 0 ? 0 : (tx - p->k_w + p->stride_w) / p->stride_w;
                const int32_t ix1 = tx < 0 ? -1 : (tx / p->stride_w < p->in_w - 1 ? tx / p->stride_w : p->in_w - 1);
                for (oc = 0; oc < p->out_c; oc++) {
                    float acc = 0.0f, v;
                    for (iy = iy0; iy <= iy1; iy++) {
                        const int32_t fy = ty - iy * p->stride_h;
                        for (ix = ix0; ix <= ix1; ix++) {
                            const int32_t fx = tx - ix * p->stride_w;
                            const float *src = in_b + ((size_t)iy * p->in_w + ix) * p->in_c;
                            const float *w = filter + (size_t)oc * fstride + ((size_t)fy * p->k_w + fx) * p->in_c;
                            for (ic = 0; ic < p->in_c; ic++) {
                                const float prod = src[ic] * w[ic];
                                acc += prod;
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    v = acc < p->act_min ? p->act_min : acc;
                    *out++ = p->act_max < v ? p->act_max : v;
                }
            }
        }
    }
}
