/*
 * edgekit AOT runtime: broadcasting elementwise ops beyond ADD/SUB/MUL, TFLM reference semantics.
 *
 * ek_binary: MAXIMUM, MINIMUM (raw values), SQUARED_DIFFERENCE (reference_integer_ops with TFLM's
 * left shift 7 for int8, 0 for int16), PRELU (reference_ops::BroadcastPrelu4DSlow: identity and
 * alpha multipliers), EQUAL .. GREATER_EQUAL (int8 inputs rescaled with left shift 8 as TFLM's
 * comparisons; int16 / int32 / bool raw), LOGICAL_AND / LOGICAL_OR (bool).
 * ek_select: SELECT_V2 (bool condition, raw element copy). ek_abs_s16: int16 ABS.
 * ek_count_below_s8: RSQRT's input check (TFLM fails the inference on a value below the zero point).
 *
 * Broadcasting: the generator describes the output as up to EK_NSHAPE_MAX_DIMS merged dimensions
 * and gives each input's element stride per dimension (0 where the input repeats).
 */
#ifndef EK_MATH_H
#define EK_MATH_H

#include <stddef.h>
#include <stdint.h>

#define EK_NSHAPE_MAX_DIMS 6

typedef struct {
    int32_t ndims;                                    /* 1 .. EK_NSHAPE_MAX_DIMS */
    int32_t dims[EK_NSHAPE_MAX_DIMS];                 /* output extents, outermost first */
    int32_t stride[3][EK_NSHAPE_MAX_DIMS];            /* element strides of inputs 0, 1, 2 (0: broadcast) */
} ek_nshape;

/* element types of ek_binary's operands */
#define EK_T_S8 0
#define EK_T_S16 1
#define EK_T_S32 2
#define EK_T_BOOL 3

/* ek_binary operations */
#define EK_BIN_MAXIMUM 0
#define EK_BIN_MINIMUM 1
#define EK_BIN_SQDIFF 2
#define EK_BIN_PRELU 3
#define EK_BIN_EQUAL 4
#define EK_BIN_NOT_EQUAL 5
#define EK_BIN_LESS 6
#define EK_BIN_LESS_EQUAL 7
#define EK_BIN_GREATER 8
#define EK_BIN_GREATER_EQUAL 9
#define EK_BIN_AND 10
#define EK_BIN_OR 11
/* int32 arithmetic without quantization (TFLM's int32 ADD / SUB / MUL / DIV): wrapping, then act_min..act_max;
 * DIV truncates towards zero (a zero divisor gives 0, INT32_MIN / -1 gives INT32_MIN: TFLM would trap) */
#define EK_BIN_ADD 12
#define EK_BIN_SUB 13
#define EK_BIN_MUL 14
#define EK_BIN_DIV 15

typedef struct {
    int32_t op;                   /* EK_BIN_* */
    int32_t in1_type, in2_type, out_type;  /* EK_T_* */
    int32_t in1_offset;           /* -input1 zero point */
    int32_t in2_offset;           /* -input2 (PRELU: alpha) zero point */
    int32_t out_offset;           /* output zero point */
    int32_t left_shift;           /* SQDIFF, scaled comparisons */
    int32_t in1_mult, in1_shift;  /* SQDIFF / comparisons: input rescale (shift <= 0); PRELU: identity multiplier */
    int32_t in2_mult, in2_shift;  /* SQDIFF / comparisons: input rescale; PRELU: input * alpha multiplier */
    int32_t out_mult, out_shift;  /* SQDIFF */
    int32_t scaled;               /* comparisons: 1 to rescale (int8), 0 to compare raw values */
    int32_t act_min, act_max;     /* SQDIFF, PRELU output clamp */
    /* Optional (NULL: computed per element), int8 inputs of SQDIFF / scaled comparisons: the rescaled input for
     * every value, indexed by value + 128 (what ek_mbqm_smaller_than_one gives). Ignored by EK_SINGLE_ROUNDING
     * builds (the generator's tables are double-rounded). */
    const int32_t *table1;
    const int32_t *table2;
} ek_binary_params;

void ek_binary(const void *in1, const void *in2, void *out, const ek_nshape *shape, const ek_binary_params *p);

/* out = cond ? x : y, elements of elem_bytes (1 or 2) bytes; stride[0] is cond's, [1] x's, [2] y's. */
void ek_select(const uint8_t *cond, const void *x, const void *y, void *out, const ek_nshape *shape,
               int32_t elem_bytes);

/* int16 ABS (zero points 0): |x| clamped, or rescaled by (multiplier, shift) when rescale is 1. */
void ek_abs_s16(const int16_t *in, int16_t *out, size_t n, int32_t rescale, int32_t multiplier, int32_t shift);

/* int16 RSQRT (zero points 0): TFLM's RsqrtEvalQuantized per element, output multiplier (multiplier, shift).
 * Returns EK_ERR_BAD_PARAM (and stops) at a negative input, as TFLM fails the inference there; else EK_OK. */
int ek_rsqrt_s16(const int16_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift);

/* Number of elements of in[0 .. n) below min_value. */
size_t ek_count_below_s8(const int8_t *in, size_t n, int32_t min_value);

#endif /* EK_MATH_H */
