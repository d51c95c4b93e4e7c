/*
 * edgekit AOT runtime: int8 ADD, SUB and MUL with broadcasting and fused activation
 * (TFLM reference semantics: reference_integer_ops::AddFunc, SubElementwise, MulElementwise).
 *
 * ADD/SUB rescale both inputs to a common scale with 20 bits of headroom, add (subtract),
 * and rescale to the output; MUL multiplies the zero-point-corrected inputs and rescales
 * once. All multipliers, shifts and the activation clamp are computed by the generator.
 *
 * Broadcasting: the generator describes the output as up to EK_BCAST_MAX_DIMS (merged)
 * dimensions and gives each input's element stride per dimension, 0 where it broadcasts.
 */
#ifndef EK_ELEMENTWISE_H
#define EK_ELEMENTWISE_H

#include <stdint.h>

#define EK_BCAST_MAX_DIMS 6

typedef struct {
    int32_t ndims;                         /* 1 .. EK_BCAST_MAX_DIMS */
    int32_t dims[EK_BCAST_MAX_DIMS];       /* output extents, outermost first */
    int32_t stride1[EK_BCAST_MAX_DIMS];    /* input 1 element strides (0: broadcast) */
    int32_t stride2[EK_BCAST_MAX_DIMS];    /* input 2 element strides (0: broadcast) */
} ek_bcast;

typedef struct {
    int32_t input1_offset;      /* -input1 zero point */
    int32_t input2_offset;      /* -input2 zero point */
    int32_t output_offset;      /* output zero point */
    int32_t left_shift;         /* 20 for int8 */
    int32_t input1_multiplier;
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;
    int32_t output_shift;       /* <= 0 */
    int32_t act_min;
    int32_t act_max;
    /* Optional (NULL: computed per element): the rescaled inputs as 256-entry tables indexed by value + 128,
     * table1[v + 128] = ek_mbqm_smaller_than_one((v + input1_offset) << left_shift, input1_multiplier,
     * input1_shift), table2 the same for input 2, NEGATED for SUB; then output_shift <= -2 and
     * out_round = 1 << (out_rshift - 1), out_rshift = -output_shift - 1 (one 64-bit multiply-accumulate per
     * element, as in ek_mbqm_pos). Ignored by EK_SINGLE_ROUNDING builds (the generator's tables are double-rounded). */
    const int32_t *table1;
    const int32_t *table2;
    int32_t out_round;
    int32_t out_rshift;
} ek_add_params;

typedef struct {
    int32_t input1_offset;      /* -input1 zero point */
    int32_t input2_offset;      /* -input2 zero point */
    int32_t output_offset;      /* output zero point */
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} ek_mul_params;

/* out may be the same buffer as in1 when in1 is not broadcast. */
void ek_add_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_add_params *p);
void ek_sub_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_add_params *p);
void ek_mul_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_mul_params *p);

#endif /* EK_ELEMENTWISE_H */
