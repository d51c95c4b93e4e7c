/*
 * edgekit AOT runtime: TRANSPOSE_CONV (TFLM reference semantics), int8 (per-channel or per-tensor requantization)
 * and 16x8 (int16 activations with zero point 0, int8 weights, int64 bias).
 * input [batches][in_h][in_w][in_c], filter [out_c][k_h][k_w][in_c], output [batches][out_h][out_w][out_c].
 * Input (y, x) feeds output (y * stride - pad + ky, x * stride - pad + kx). Each output is gathered from the inputs
 * that reach it; the sums equal TFLM's scattered ones (int32 sums wrap the same way in any order), so no scratch.
 */
#ifndef EK_TRANSPOSE_CONV_H
#define EK_TRANSPOSE_CONV_H

#include "ek_common.h"

typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w;
    int32_t stride_h, stride_w, pad_h, pad_w;
    int32_t in_offset;        /* -input zero point (int8 only) */
    int32_t out_offset;       /* output zero point (int8 only) */
    int32_t act_min, act_max;
    const int32_t *out_mult;  /* per output channel */
    const int8_t *out_shift;
} ek_transpose_conv_params_t;

void ek_transpose_conv_s8(const ek_transpose_conv_params_t *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, int8_t *output);
void ek_transpose_conv_s16(const ek_transpose_conv_params_t *p, const int16_t *input, const int8_t *filter,
                           const int64_t *bias, int16_t *output);

#endif /* EK_TRANSPOSE_CONV_H */
