/*
 * edgekit AOT runtime: int8 MEAN, SUM, REDUCE_MAX and REDUCE_MIN over any set of axes
 * (TFLM reference semantics: reference_ops::QuantizedMeanOrSum, ReduceGeneric).
 *
 * The generator splits the input's dimensions into "outer" ones (kept; they enumerate the
 * outputs in order) and "inner" ones (reduced), each with its element stride, after dropping
 * size-1 dimensions and merging contiguous ones.
 *
 * MEAN and SUM: output = clamp(mbqm(sum - input_zp * count, multiplier, shift) + output_zp),
 * where for MEAN the generator has folded 1/count into multiplier and shift exactly as TFLM.
 */
#ifndef EK_REDUCE_H
#define EK_REDUCE_H

#include <stdint.h>

#define EK_REDUCE_MAX_DIMS 6

typedef struct {
    int32_t outer_ndims;                        /* 0 .. EK_REDUCE_MAX_DIMS (0: one output) */
    int32_t outer_dims[EK_REDUCE_MAX_DIMS];
    int32_t outer_strides[EK_REDUCE_MAX_DIMS];
    int32_t inner_ndims;                        /* 0 .. EK_REDUCE_MAX_DIMS (0: one element) */
    int32_t inner_dims[EK_REDUCE_MAX_DIMS];
    int32_t inner_strides[EK_REDUCE_MAX_DIMS];
} ek_reduce_shape;

typedef struct {
    int32_t zp_times_count;     /* input zero point * elements per output, wrapped to int32 */
    int32_t multiplier;
    int32_t shift;
    int32_t output_zp;
} ek_reduce_params;

/* Advance an odometer over dims; returns the change of the element offset, sets *done at the end (the int8
 * reductions here and the int16 ones of ek_int16.c). */
int32_t ek_odometer_step(int32_t *idx, const int32_t *dims, const int32_t *strides, int32_t ndims, int *done);
void ek_reduce_sum_s8(const int8_t *in, int8_t *out, const ek_reduce_shape *s, const ek_reduce_params *p);

/* is_max: 1 for REDUCE_MAX, 0 for REDUCE_MIN (input and output share scale and zero point). */
void ek_reduce_minmax_s8(const int8_t *in, int8_t *out, const ek_reduce_shape *s, int is_max);

#endif /* EK_REDUCE_H */
