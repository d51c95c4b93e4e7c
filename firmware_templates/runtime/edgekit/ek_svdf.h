/*
 * edgekit AOT runtime: integer SVDF as TFLM's kernel computes it (int8 input, feature weights and output; int16 or
 * int8 time weights and activation state; int32 bias).
 *
 * Per invocation: the state [batches][filters][memory] shifts one step towards the past; its newest column gets
 * sat_T(mbqm(W_feature . (x - x_zp), m1)) + state_zp for every filter; each filter's activations are
 * sum_j W_time[f][j] * (state[f][j] - state_zp); per unit: bias + the sum over its `rank` filters, requantized
 * (m2) to the int8 output. The fused activation is not applied (TFLM's integer kernel ignores it too).
 */
#ifndef EK_SVDF_H
#define EK_SVDF_H

#include "ek_common.h"

typedef struct {
    int32_t batches, n_input, filters, units, rank, memory;
    int32_t in_zp, state_zp, out_zp;
    int32_t mult1, shift1;   /* feature FC -> state */
    int32_t mult2, shift2;   /* time FC + bias -> output */
} ek_svdf_params_t;

/* scratch: batches * filters int32, then (n_input + 3) / 4 * 4 int16 (the widened input on DSP cores) */
void ek_svdf_s16(const ek_svdf_params_t *p, const int8_t *input, const int8_t *w_feature, const int16_t *w_time,
                 const int32_t *bias, int16_t *state, int8_t *output, int32_t *scratch);
void ek_svdf_s8(const ek_svdf_params_t *p, const int8_t *input, const int8_t *w_feature, const int8_t *w_time,
                const int32_t *bias, int8_t *state, int8_t *output, int32_t *scratch);

#endif /* EK_SVDF_H */
