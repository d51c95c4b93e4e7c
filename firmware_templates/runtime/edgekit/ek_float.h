/*
 * edgekit AOT runtime: float32 kernels, TFLM's float reference kernels (reference_ops::*) operation for operation.
 *
 * The sums run in the reference kernels' order (conv: filter row, column, input channel; pools: window row, then
 * column; reductions: the input's row-major order), products and sums are separate roundings: the runtime is
 * compiled as ISO C (-std=c99), where GCC does not contract a * b + c into a fused multiply-add (-ffp-contract=off
 * is ISO C's default), so a Cortex-M4F's VFMA is never used and the results equal TFLM's bit for bit. exp, log,
 * tanh, sin, cos and expm1 come from the C library (newlib on the device, glibc under TFLM's host interpreter):
 * those results may differ in the last bits (tolerances in edgekit/codegen/aot/ops/float_common.py).
 * On a core without an FPU the same C runs on the compiler's IEEE soft-float routines (same results).
 *
 * Fused activations are the clamp [act_min, act_max] (TFLM's CalculateActivationRange: -FLT_MAX..FLT_MAX for
 * none), applied as ``x < act_min ? act_min : x`` then ``act_max < x ? act_max : x`` (std::max / std::min).
 */
#ifndef EK_FLOAT_H
#define EK_FLOAT_H

#include <math.h> /* HUGE_VALF in generated constants */
#include <stddef.h>
#include <stdint.h>

#include "ek_math.h"
#include "ek_reduce.h"

/* CONV_2D (in_c / filter_in_c groups) and DEPTHWISE_CONV_2D (depth_mult output channels per input channel);
 * NHWC input and output, filter [out_c][k_h][k_w][filter_in_c] (conv) or [1][k_h][k_w][out_c] (depthwise). */
typedef struct {
    int32_t batches, in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, filter_in_c, depth_mult;
    int32_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    float act_min, act_max;
} ek_f32_conv_params;

void ek_f32_conv(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias, float *out);
void ek_f32_depthwise(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias,
                      float *out);

/* FULLY_CONNECTED: out[b][u] = clamp(sum_d in[b][d] * w[u][d] + bias[u]); bias may be NULL. */
void ek_f32_fully_connected(const float *in, const float *weights, const float *bias, float *out, int32_t batches,
                            int32_t depth, int32_t units, float act_min, float act_max);

/* AVERAGE_POOL_2D / MAX_POOL_2D / L2_POOL_2D; windows clipped at the borders. */
#define EK_F32_POOL_AVG 0
#define EK_F32_POOL_MAX 1
#define EK_F32_POOL_L2 2
typedef struct {
    int32_t kind;
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    float act_min, act_max;
} ek_f32_pool_params;

void ek_f32_pool(const ek_f32_pool_params *p, const float *in, float *out);

/* SOFTMAX (beta) and LOG_SOFTMAX over the last dimension of rows x depth values. */
void ek_f32_softmax(const float *in, float *out, int32_t rows, int32_t depth, float beta);
void ek_f32_log_softmax(const float *in, float *out, int32_t rows, int32_t depth);

/* broadcasting binary ops (the generator's ek_nshape, strides of inputs 0 and 1) */
#define EK_F32_ADD 0
#define EK_F32_SUB 1
#define EK_F32_MUL 2
#define EK_F32_DIV 3
#define EK_F32_MAXIMUM 4
#define EK_F32_MINIMUM 5
#define EK_F32_SQUARED_DIFFERENCE 6
#define EK_F32_FLOOR_DIV 7
#define EK_F32_FLOOR_MOD 8
#define EK_F32_PRELU 9
void ek_f32_binary(int32_t op, const float *in1, const float *in2, float *out, const ek_nshape *shape,
                   float act_min, float act_max);

/* elementwise unary ops; ``param`` is LEAKY_RELU's alpha (unused otherwise) */
#define EK_F32_ABS 0
#define EK_F32_NEG 1
#define EK_F32_EXP 2
#define EK_F32_LOG 3
#define EK_F32_SQRT 4
#define EK_F32_RSQRT 5
#define EK_F32_SQUARE 6
#define EK_F32_SIN 7
#define EK_F32_COS 8
#define EK_F32_FLOOR 9
#define EK_F32_CEIL 10
#define EK_F32_ROUND 11
#define EK_F32_LOGISTIC 12
#define EK_F32_TANH 13
#define EK_F32_RELU 14
#define EK_F32_RELU6 15
#define EK_F32_RELU_N1_TO_1 16
#define EK_F32_ELU 17
#define EK_F32_HARD_SWISH 18
#define EK_F32_LEAKY_RELU 19
#define EK_F32_RELU_0_TO_1 20
void ek_f32_unary(int32_t op, const float *in, float *out, size_t n, float param);

/* ADD_N: out[i] = 0 + in[0][i] + in[1][i] + ... */
void ek_f32_add_n(const float *const *in, int32_t num_inputs, float *out, size_t n);

/* MEAN, SUM, REDUCE_MAX, REDUCE_MIN over the generator's ek_reduce_shape (inner dims in the input's order) */
#define EK_F32_REDUCE_MEAN 0
#define EK_F32_REDUCE_SUM 1
#define EK_F32_REDUCE_MAX 2
#define EK_F32_REDUCE_MIN 3
void ek_f32_reduce(int32_t op, const float *in, float *out, const ek_reduce_shape *s);

#endif /* EK_FLOAT_H */
