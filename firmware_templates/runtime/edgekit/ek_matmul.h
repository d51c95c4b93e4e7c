/*
 * edgekit AOT runtime: the int8 matrix kernel behind CONV_2D (im2col) and FULLY_CONNECTED.
 *
 * For one or two "columns" (output pixels / batch rows) of `depth` int16 values (input + input offset,
 * widened by ek_widen_s8_reordered) and `rows` filter rows of `depth` int8 weights:
 *   out[r] = clamp(mbqm(bias[r] + sum_k filter[r][k] * col[k], mult[r*ms], shift[r*ms]) + out_offset)
 * i.e. TFLM's reference int32 accumulation (sums modulo 2^32 are order-independent) and requantization.
 * Blocking: 2 rows x 2 columns (4 accumulators), 4 depth values per step (SMLAD on DSP cores).
 *
 * Layouts (prepared by the generator / the caller; depth is a multiple of 4, zero-padded):
 *   filter: rows in pairs, each pair as 4-byte groups r0[0..3] r1[0..3] r0[4..7] r1[4..7] ...;
 *           an odd last row plain. 4-byte aligned.
 *   cols:   one column: depth int16 (groups reordered: words lo, hi per group); two columns: per group the
 *           words c0.lo c1.lo c0.hi c1.hi (ek_widen_s8_reordered with gstride 4 / 8, hioff 2 / 4). 4-byte aligned.
 */
#ifndef EK_MATMUL_H
#define EK_MATMUL_H

#include "ek_common.h"

typedef struct {
    int32_t depth;            /* K: values per column / filter row, a multiple of 4 */
    int32_t rows;             /* output channels */
    int32_t out_offset;       /* output zero point */
    int32_t act_min, act_max;
    int32_t mult_stride;      /* 1: per-channel out_mult/out_shift; 0: one for all rows */
    const int32_t *out_mult;
    const int8_t *out_shift;
} ek_matmul_t;

/* ncols 1 or 2; out1 unused when ncols == 1. bias may be NULL. */
void ek_matmul_s8(const ek_matmul_t *q, const int16_t *cols, int32_t ncols, const int8_t *filter,
                  const int32_t *bias, int8_t *out0, int8_t *out1);

/* ek_matmul_s8 with the filter pre-widened to int16 by the generator (DSP cores: no SXTB16 in the inner loop; 2 rows
 * x 2 columns per step, the two columns' 4 words in one LDM and the two rows' 4 weight words in another, 10
 * instructions per 16 MACs) and its requantization words precomputed (a zero multiplier may come with any shift: the
 * generator gives it -2). filter (int16, 4-byte aligned): rows in pairs, per group of 4 depth values the row-0 values
 * [w0, w2, w1, w3] then the row-1 values (the order ek_widen_s8_reordered gives the column); an odd last row plain,
 * its groups reordered the same way. rq: per row pair 8 int32 [bias0, bias1, mult0, mult1, rnd0, rnd1, rs0, rs1],
 * an odd last row [bias, mult, rnd, rs], with rs = -out_shift - 1 (every out_shift <= -2) and rnd = 2^(rs - 1).
 * q->out_mult, out_shift and mult_stride are unused. Same results as ek_matmul_s8. */
void ek_matmul_s8w16(const ek_matmul_t *q, const int16_t *cols, int32_t ncols, const int16_t *filter,
                     const int32_t *rq, int8_t *out0, int8_t *out1);

/* The MVE matrix kernel (Cortex-M55/M85 Helium; portable C elsewhere, same results): one column of raw int8 values
 * against `rows` filter rows, out[r] = requant(bias[r] + sum_k filter[r][k] * column[k]), where bias is the
 * generator's folded bias (bias[r] + in_offset * sum_k filter[r][k], mod 2^32: the input offset costs nothing per
 * MAC). The column is `segments` runs of `depth` values (any depth), run s at x + s * seg_stride: a conv's k_h input
 * rows read in place, or one run.
 *   filter: rows in groups of 4 (the last one padded with zero rows); per group and per segment the run's depth
 *           zero-padded to a multiple of 16 and stored in chunks of 16: r0[0..15] r1[0..15] r2[0..15] r3[0..15]
 *           r0[16..31] ... so that one post-incremented pointer feeds the 4 rows.
 *   rq:     per group of 4 rows EK_RQ_WORDS int32 (ek_common.h): [bias x4][out_mult x4][max(out_shift, 0) as 4
 *           int8][min(out_shift, 0) as 4 int8] (4-byte aligned).
 * MVE: 16 MACs per VMLADAVA, 4 rows per pass, each run's tail through a VCTP-predicated input load, 4 results
 * requantized per vector (VSHL, VQRDMULH, rounding VRSHL: TFLM's double rounding) and one (predicated) store. */
typedef struct {
    int32_t depth;      /* values per segment */
    int32_t segments;   /* >= 1 */
    int32_t rows;
    int32_t out_offset;
    int32_t act_min, act_max;
    const int8_t *filter;
    const int32_t *rq;
    const uint32_t *x2rq; /* the pair kernels' requantization (the generator's choice): ek_mve_x2_shl if a row has a
                           * left shift (max(out_shift, 0) > 0), else ek_mve_x2_nls (no VSHL); NULL where only
                           * ek_matmul_mve_s8 runs (it always shifts) */
} ek_mve_mm_t;

/* The two x2rq values (code addresses in the MVE build: a model links the VSHL code only if it names ek_mve_x2_shl). */
extern const uint32_t ek_mve_x2_nls[4];
extern const uint32_t ek_mve_x2_shl[4];

void ek_matmul_mve_s8(const ek_mve_mm_t *q, const int8_t *x, int32_t seg_stride, int8_t *out);

/* ek_matmul_mve_s8 for two columns at once (x0 -> out0, x1 -> out1, same seg_stride): on MVE each weight vector is
 * loaded once for both columns (0.125 instructions per MAC in the depth loop) and each group's requantization words
 * once; same results as two ek_matmul_mve_s8 calls (which it is elsewhere). */
void ek_matmul_mve_s8_x2(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride, int8_t *out0,
                         int8_t *out1);
/* ek_matmul_mve_s8_x2 for one run of depth 17..32 without left shift (segments == 1, 16 < depth <= 32, no row with a left shift;
 * the im2col patches of the RGB first convs): both columns' second chunks loaded once, one straight pass per group.
 * The generator names it where a layer meets the conditions (a separate entry, so that other models do not link it);
 * ek_matmul_mve_s8_x2 elsewhere. */
void ek_matmul_mve_s8_x2_d32(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride,
                             int8_t *out0, int8_t *out1);
/* The pair kernel a conv entry calls for its patch pairs: ek_matmul_mve_s8_x2 or ek_matmul_mve_s8_x2_d32. */
typedef void (*ek_mve_x2_fn)(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride,
                             int8_t *out0, int8_t *out1);
/* npairs ek_matmul_mve_s8_x2 passes in one call, pair k at x0 / x1 + k * xstep into out0 / out1 + k * ostep (a 1x1
 * conv over contiguous pixels: no per-pair call and set-up). */
void ek_matmul_mve_s8_x2n(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride, int8_t *out0,
                          int8_t *out1, int32_t npairs, int32_t xstep, int32_t ostep);

#endif /* EK_MATMUL_H */
