/*
 * edgekit AOT runtime: int8 convolutions (CONV_2D incl. grouped, DEPTHWISE_CONV_2D).
 * Semantics of TFLM's reference per-channel kernels: int32 accumulation of
 * filter * (input + in_offset), optional int32 bias, per-channel requantization with
 * ek_mbqm, output offset, clamp to [act_min, act_max]. Taps that fall in the padding are skipped.
 * Layouts: input/output NHWC; CONV_2D filter [out_c][k_h][k_w][k_c]; depthwise filter [1][k_h][k_w][out_c].
 */
#ifndef EK_CONV_H
#define EK_CONV_H

#include "ek_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w, k_c;          /* k_c = in_c / groups (CONV_2D); 1 for depthwise */
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_h, pad_w;           /* padding before the first row / column */
    int32_t depth_multiplier;       /* depthwise only */
    int32_t in_offset;              /* -input zero point */
    int32_t out_offset;             /* output zero point */
    int32_t act_min, act_max;
    const int32_t *out_mult;        /* per output channel, Q31 */
    const int8_t *out_shift;        /* per output channel, >0 = left */
} ek_conv_params_t;

void ek_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output);

void ek_depthwise_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output);

#endif /* EK_CONV_H */
