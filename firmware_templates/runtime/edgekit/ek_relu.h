/*
 * edgekit AOT runtime: int8 RELU / RELU6 / RELU_N1_TO_1 (TFLM semantics).
 * RELU requantizes (input zero point removed, scaled by in_scale/out_scale, output zero point
 * added) and clamps; RELU6 and RELU_N1_TO_1 clamp in the input's quantized domain.
 * In place (input == output) is allowed.
 */
#ifndef EK_RELU_H
#define EK_RELU_H

#include "ek_common.h"

void ek_relu_s8(const int8_t *input, int8_t *output, uint32_t n, int32_t in_zp, int32_t out_zp,
                int32_t mult, int32_t shift, int32_t act_min, int32_t act_max);

/* out = in > upper ? upper : (in < lower ? lower : in) */
void ek_clamp_s8(const int8_t *input, int8_t *output, uint32_t n, int8_t lower, int8_t upper);

#endif /* EK_RELU_H */
