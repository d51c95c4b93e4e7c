/*
 * edgekit AOT runtime: SOFTMAX, int8 input, int8 or int16 output (TFLM reference semantics).
 *
 * TFLM rescales each difference x - max(row) by beta * input_scale into gemmlowp's Q5 format
 * and takes gemmlowp's fixed-point exp. The differences of int8 values lie in [-255, 0], so the
 * generator tabulates those exps: exp_table[k] is the Q0 exp of the difference -k (0 for the
 * differences TFLM leaves out, below its diff_min). The kernel sums the exps in Q12, takes
 * gemmlowp's Newton-Raphson reciprocal of the sum once per row and scales every exp by it.
 *
 * The output quantization is TFLM's: int8 scale 1/256 zero point -128; int16 scale 1/65536
 * zero point -32768. Rows are the last dimension (depth); outer is the number of rows.
 */
#ifndef EK_SOFTMAX_H
#define EK_SOFTMAX_H

#include <stdint.h>

/* in and out may be the same buffer. */
void ek_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, const int32_t exp_table[256]);

void ek_softmax_s8_s16(const int8_t *in, int16_t *out, int32_t outer, int32_t depth,
                       const int32_t exp_table[256]);

/* gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0 in [0, 1) -> Q0 1 / (1 + a)), for other kernels. */
int32_t ek_one_over_one_plus_x(int32_t a);

#endif /* EK_SOFTMAX_H */
