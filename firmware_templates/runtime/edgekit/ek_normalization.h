/*
 * edgekit AOT runtime: int8 L2_NORMALIZATION and LOG_SOFTMAX over the last dimension (TFLM reference
 * semantics: reference_integer_ops::L2Normalization, reference_ops::LogSoftmaxQuantized).
 *
 * L2_NORMALIZATION: per row the sum of squares of (x - zero point), its inverse square root as a
 * quantized multiplier (TFLite's GetInvSqrtQuantizedMultiplierExp, gemmlowp Newton-Raphson), output
 * scale 1/128, zero point 0 (what TFLM assumes).
 * LOG_SOFTMAX: per row the Q12 sum of exp(x - max) (tabulated by the generator for the 256 possible
 * differences), its gemmlowp fixed-point log in Q5, and x - max - log(sum) in the output quantization
 * 16/256, zero point 127 (what TFLM requires).
 * Rows are the last dimension (depth); outer is the number of rows; in and out may be one buffer.
 */
#ifndef EK_NORMALIZATION_H
#define EK_NORMALIZATION_H

#include <stdint.h>

/* TFLite GetInvSqrtQuantizedMultiplierExp(input, -1): 1 / sqrt(input) ~ multiplier * 2^shift / 2^31, shift <= 0
 * (input 0 and 1 give INT32_MAX, 0). Also used by ek_rsqrt_s16. */
void ek_inv_sqrt(int32_t input, int32_t *multiplier, int *shift);

void ek_l2norm_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, int32_t input_zp);

typedef struct {
    const int32_t *exp_q12;   /* [256]: Rescale<12>(exp) of the difference -k; 0 below diff_min */
    const int32_t *diff_q5;   /* [256]: the difference -k rescaled to Q5 (TFLM's input multiplier) */
    int32_t diff_min;
    int32_t reverse_multiplier, reverse_shift;  /* shift <= 0 */
} ek_log_softmax_params;

void ek_log_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, const ek_log_softmax_params *p);

#endif /* EK_NORMALIZATION_H */
