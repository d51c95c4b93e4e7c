/*
 * edgekit AOT runtime: more float32 kernels (TFLM's float reference kernels, same operation order; see ek_float.h
 * for why the results are TFLM's bit for bit): comparisons, SELECT_V2, ARG_MAX / ARG_MIN, CUMSUM,
 * L2_NORMALIZATION, RESIZE_BILINEAR and TRANSPOSE_CONV.
 */
#ifndef EK_FLOAT_OPS_H
#define EK_FLOAT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ek_math.h"

/* broadcasting comparisons (the generator's ek_nshape, strides of inputs 0 and 1): bool bytes 0 / 1 */
#define EK_F32_EQUAL 0
#define EK_F32_NOT_EQUAL 1
#define EK_F32_LESS 2
#define EK_F32_LESS_EQUAL 3
#define EK_F32_GREATER 4
#define EK_F32_GREATER_EQUAL 5
void ek_f32_compare(int32_t op, const float *in1, const float *in2, uint8_t *out, const ek_nshape *shape);

/* SELECT_V2: out = cond ? x : y (strides: [0] cond, [1] x, [2] y) */
void ek_f32_select(const uint8_t *cond, const float *x, const float *y, float *out, const ek_nshape *shape);

/* ARG_MAX (is_max 1) / ARG_MIN along the middle of [outer][size][inner]: int32 indices, the first extreme wins */
void ek_f32_argminmax(const float *in, int32_t *out, int32_t outer, int32_t size, int32_t inner, int32_t is_max);

/* CUMSUM along the middle of [outer][size][inner], running sums from 0 (exclusive: before adding; reverse: from
 * the end) */
void ek_f32_cumsum(const float *in, float *out, int32_t outer, int32_t size, int32_t inner, int32_t exclusive,
                   int32_t reverse);

/* L2_NORMALIZATION over the last dimension: x / max(sqrt(sum x*x), 1e-6f) */
void ek_f32_l2_norm(const float *in, float *out, int32_t rows, int32_t depth);

/* RESIZE_BILINEAR, NHWC; align_corners / half_pixel_centers as TFLite's options */
typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w, align_corners, half_pixel_centers;
} ek_f32_resize_params;
void ek_f32_resize_bilinear(const ek_f32_resize_params *p, const float *in, float *out);

/* TRANSPOSE_CONV: input NHWC [b][in_h][in_w][in_c], filter [out_c][k_h][k_w][in_c], bias [out_c] or NULL */
typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    float act_min, act_max;
} ek_f32_tconv_params;
void ek_f32_transpose_conv(const ek_f32_tconv_params *p, const float *in, const float *filter, const float *bias,
                           float *out);

#endif /* EK_FLOAT_OPS_H */
