/*
 * edgekit AOT runtime: ARG_MAX / ARG_MIN and int8 CUMSUM along one axis (TFLM reference semantics:
 * reference_ops::ArgMinMax, reference_ops::CumSum).
 *
 * The tensor is seen as [outer][axis][inner] (outer: the dimensions before the axis, inner: after).
 * ARG_MAX / ARG_MIN give the first index of the extreme value. CUMSUM rescales each input like TFLM's
 * int8 CUMSUM (left shift 20, input multiplier 1/2, accumulator starting at the rescaled -zero point),
 * sums in wrapping int32 and rescales the running sum to the output.
 */
#ifndef EK_SCAN_H
#define EK_SCAN_H

#include <stdint.h>

/* out has outer * inner elements: int32 (out_bytes 4) or int64 (out_bytes 8); is_max 1 for ARG_MAX. */
void ek_argminmax_s8(const int8_t *in, void *out, int32_t outer, int32_t axis_size, int32_t inner, int32_t is_max,
                     int32_t out_bytes);

typedef struct {
    int32_t input_offset;        /* -input zero point */
    int32_t input_multiplier, input_shift;
    int32_t output_multiplier, output_shift;
    int32_t output_offset;       /* output zero point */
    int32_t exclusive, reverse;
} ek_cumsum_params;

void ek_cumsum_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t axis_size, int32_t inner,
                  const ek_cumsum_params *p);

#endif /* EK_SCAN_H */
