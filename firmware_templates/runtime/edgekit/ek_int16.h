/*
 * edgekit AOT runtime: the 16x8 kernels (int16 activations, int8 weights) of TFLM's reference integer ops:
 * CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD / SUB / MUL, LEAKY_RELU, SOFTMAX, MEAN / SUM and the pools on
 * int16 tensors
 * (int16 LOGISTIC / TANH: ek_sigmoid_s16 / ek_tanh_s16 of ek_lstm.h).
 *
 * Convolutions and FULLY_CONNECTED accumulate in 64 bits with an int64 bias and requantize with the 64-bit
 * MultiplyByQuantizedMultiplier (ek_mbqm64); with an int32 bias (or none and the option quantized_bias_type
 * int32) TFLM accumulates in 32 bits and requantizes with the 32-bit one (ek_mbqm): acc32 selects that.
 * CONV_2D and DEPTHWISE_CONV_2D ignore zero points (TFLM requires them to be 0), FULLY_CONNECTED applies them.
 * ADD / SUB are TFLM's general rescaling path with left_shift 15 (ek_add_params, ek_bcast).
 */
#ifndef EK_INT16_H
#define EK_INT16_H

#include <stddef.h>
#include <stdint.h>

#include "ek_conv.h"
#include "ek_elementwise.h"
#include "ek_fully_connected.h"
#include "ek_pool.h"
#include "ek_reduce.h"

/* bias: int64_t[out_c] (acc32 == 0) or int32_t[out_c] (acc32 != 0), or NULL. patch: NULL or k_h * k_w * k_c
 * int16 of scratch (the window as one dot product per output channel). Filter layouts as the int8
 * kernels' reference paths (ek_conv2d_s8, ek_depthwise_conv2d_s8). */
void ek_conv2d_s16(const ek_conv_params_t *p, const int16_t *input, const int8_t *filter, const void *bias,
                   int acc32, int16_t *output, int16_t *patch);
void ek_depthwise_conv2d_s16(const ek_conv_params_t *p, const int16_t *input, const int8_t *filter,
                             const int64_t *bias, int16_t *output);
/* out_mult / out_shift per output row when per_channel, else one value; filter [out_depth][accum_depth]. */
void ek_fully_connected_s16(const ek_fc_params_t *p, const int16_t *input, const int8_t *filter,
                            const void *bias, int acc32, int16_t *output);

void ek_add_s16(const int16_t *in1, const int16_t *in2, int16_t *out, const ek_bcast *shape,
                const ek_add_params *p);
void ek_sub_s16(const int16_t *in1, const int16_t *in2, int16_t *out, const ek_bcast *shape,
                const ek_add_params *p);
/* MUL: TFLM's MulElementwise (int32 product, one requantization); TFLM requires zero points 0. */
void ek_mul_s16(const int16_t *in1, const int16_t *in2, int16_t *out, const ek_bcast *shape,
                const ek_mul_params *p);

/* TFLM reference_ops::QuantizeLeakyRelu for int16: identity multiplier for inputs >= the zero point, alpha's
 * (possibly negative: its magnitude is passed with alpha_negative set) below it. */
void ek_leaky_relu_s16(const int16_t *in, int16_t *out, size_t n, int32_t in_zp, int32_t out_zp,
                       int32_t id_mult, int32_t id_shift, int32_t alpha_mult, int32_t alpha_shift,
                       int alpha_negative);

/* AVERAGE_POOL_2D (EK_ERR_EMPTY_WINDOW like TFLM when a window has no input element) and MAX_POOL_2D. */
int ek_avgpool_s16(const ek_pool_params_t *p, const int16_t *input, int16_t *output);
void ek_maxpool_s16(const ek_pool_params_t *p, const int16_t *input, int16_t *output);

/* SOFTMAX int16 -> int16 over rows of depth (zero points 0, output scale 2^-15): TFLM's SoftmaxInt16, x - max
 * rescaled by in_mult / in_shift (ek_mbqm) onto the exp table over [-10, 0], the sum's reciprocal by the 1 / (1 + x)
 * table; both tables are the generator's copies of TFLM's LUTPopulate<int16_t> (513 entries). in != out. */
void ek_softmax_s16(const int16_t *in, int16_t *out, int32_t outer, int32_t depth, int32_t in_mult,
                    int32_t in_shift, const int16_t *exp_lut, const int16_t *recip_lut);

/* MEAN / SUM with ek_reduce_sum_s8's parameters on int16 tensors (saturating to int16). */
void ek_reduce_sum_s16(const int16_t *in, int16_t *out, const ek_reduce_shape *s, const ek_reduce_params *p);

/* RELU (requantizing, as ek_relu_s8) and RELU6 (clamp to [lower, upper] in the input's domain) on int16. */
void ek_relu_s16(const int16_t *input, int16_t *output, uint32_t n, int32_t in_zp, int32_t out_zp, int32_t mult,
                 int32_t shift, int32_t act_min, int32_t act_max);
void ek_clamp_s16(const int16_t *input, int16_t *output, uint32_t n, int16_t lower, int16_t upper);

#endif /* EK_INT16_H */
