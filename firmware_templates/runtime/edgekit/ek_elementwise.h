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

#include <stddef.h>
#include <stdint.h>

#define EK_BCAST_MAX_DIMS 6

typedef struct {
    int32_t ndims;                         /* 1 .. EK_BCAST_MAX_DIMS */
    int32_t dims[EK_BCAST_MAX_DIMS];       /* output extents, outermost first */
    int32_t stride1[EK_BCAST_MAX_DIMS];    /* input 1 element strides (0: broadcast) */
    int32_t stride2[EK_BCAST_MAX_DIMS];    /* input 2 element strides (0: broadcast) */
} ek_bcast;

/* The small fields of ek_add_params: int16 on MVE cores (52 bytes instead of 64), int32 elsewhere. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
typedef int16_t ek_add_small_t;
#else
typedef int32_t ek_add_small_t;
#endif

typedef struct {
    ek_add_small_t input1_offset;   /* -input1 zero point */
    ek_add_small_t input2_offset;   /* -input2 zero point */
    ek_add_small_t output_offset;   /* output zero point */
    ek_add_small_t left_shift;      /* 20 for int8 */
    int32_t input1_multiplier;
    ek_add_small_t input1_shift;    /* <= 0 */
    int32_t input2_multiplier;
    ek_add_small_t input2_shift;    /* <= 0 */
    int32_t output_multiplier;
    ek_add_small_t output_shift;    /* <= 0 */
    ek_add_small_t act_min;
    ek_add_small_t act_max;
    /* Optional (NULL: computed per element): the rescaled inputs as 256-entry tables indexed by value + 128,
     * table1[v + 128] = ek_mbqm_smaller_than_one((v + input1_offset) << left_shift, input1_multiplier,
     * input1_shift), table2 the same for input 2, NEGATED for SUB; then output_shift <= -2 and
     * out_round = 1 << (out_rshift - 1), out_rshift = -output_shift - 1 (one 64-bit multiply-accumulate per
     * element, as in ek_mbqm_pos). Ignored by EK_SINGLE_ROUNDING builds (the generator's tables are double-rounded). */
    const int32_t *table1;
    const int32_t *table2;
    int32_t out_round;
    ek_add_small_t out_rshift;
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

/* The broadcast walk of every element width (int8 in ek_elementwise.c, int16 in ek_int16.c): calls row() once per
 * run of the innermost dimension, in output order, with the run's first elements (esize bytes each) and the
 * inputs' inner strides in elements. Static inline, as the int8 walk was: each kernel file keeps its own copy
 * for the compiler to specialise. */
typedef void (*ek_bcast_row_fn)(const void *a, const void *b, void *out, int32_t n, int32_t sa, int32_t sb,
                                const void *params);

static inline void ek_bcast_walk(const void *in1, const void *in2, void *out, int32_t esize, const ek_bcast *s,
                                 ek_bcast_row_fn row, const void *params) {
    const uint8_t *const a = (const uint8_t *)in1, *const b = (const uint8_t *)in2;
    uint8_t *o = (uint8_t *)out;
    int32_t idx[EK_BCAST_MAX_DIMS] = {0};
    const int32_t last = s->ndims - 1;
    const int32_t n = s->dims[last];
    int32_t off1 = 0, off2 = 0;
    int32_t d;
    for (;;) {
        row(a + (size_t)off1 * (size_t)esize, b + (size_t)off2 * (size_t)esize, o, n, s->stride1[last],
            s->stride2[last], params);
        o += (size_t)n * (size_t)esize;
        /* advance the odometer over the outer dimensions */
        for (d = last - 1; d >= 0; d--) {
            idx[d]++;
            off1 += s->stride1[d];
            off2 += s->stride2[d];
            if (idx[d] < s->dims[d]) {
                break;
            }
            off1 -= s->stride1[d] * s->dims[d];
            off2 -= s->stride2[d] * s->dims[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

/* out may be the same buffer as in1 when in1 is not broadcast. */
void ek_add_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_add_params *p);
/* ek_add_s8 over n contiguous elements of same-shaped inputs (no broadcast walk, no ek_bcast), for an ADD whose
 * tables table1 / table2 are set (the generator's choice: a conv fused with an ADD on MVE cores). out may be in1 or
 * in2. */
void ek_add_s8_table_n(const int8_t *in1, const int8_t *in2, int8_t *out, int32_t n, const ek_add_params *p);
/* The fields of ek_add_params a table ADD reads (20 bytes instead of 52 on MVE cores; out_round is derived from
 * out_rshift), and ek_add_s8_table_n with them: a fused CONV_2D + ADD's (ek_conv2d_s8_mve_add). Not in
 * EK_SINGLE_ROUNDING builds (the tables are double-rounded): those take ek_add_params and ek_add_s8_table_n. */
typedef struct {
    const int32_t *table1, *table2;
    int32_t output_multiplier;
    int16_t out_rshift, output_offset, act_min, act_max;
} ek_add_table_t;
void ek_add_s8_table_t(const int8_t *in1, const int8_t *in2, int8_t *out, int32_t n, const ek_add_table_t *p);
void ek_sub_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_add_params *p);
void ek_mul_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_mul_params *p);

#endif /* EK_ELEMENTWISE_H */
