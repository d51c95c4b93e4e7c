/*
 * edgekit AOT runtime: int8 FULLY_CONNECTED (TFLM reference semantics).
 * filter [rows >= out_depth][accum_depth]; per-tensor (one multiplier) or per-channel requantization.
 */
#ifndef EK_FULLY_CONNECTED_H
#define EK_FULLY_CONNECTED_H

#include "ek_common.h"
#include "ek_matmul.h"

typedef struct {
    int32_t batches;         /* product of all output dims but the last */
    int32_t accum_depth;     /* filter's last dim */
    int32_t out_depth;       /* output's last dim */
    int32_t in_offset;       /* -input zero point */
    int32_t filter_offset;   /* -filter zero point (0 for per-channel) */
    int32_t out_offset;      /* output zero point */
    int32_t act_min, act_max;
    int32_t per_channel;     /* 0: out_mult[0] / out_shift[0] for every channel */
    const int32_t *out_mult;
    const int8_t *out_shift;
} ek_fc_params_t;

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output);

/* filter_offset == 0 only; filter in the ek_matmul_s8 layout (out_depth rows, depth zero-padded to a multiple
 * of 4). Input rows are widened to int16 in scratch (2 or 4 bytes per padded depth value for 1 or 2+ batch rows,
 * 4-byte aligned), then ek_matmul_s8 (SMLAD on DSP cores). Same results as ek_fully_connected_s8. */
void ek_fully_connected_s8_mat(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch);

/* filter_offset == 0 only; no scratch. filter in the ek_matmul_s8 layout (out_depth rows, depth zero-padded to a
 * multiple of 4); `bias` (out_depth values, required) is the folded bias of the generator:
 * bias[r] + in_offset * sum_k filter[r][k] (mod 2^32), so the raw int8 input is used directly, sign-extended
 * once per 4 values for 4 filter rows. Same results as ek_fully_connected_s8 (sums are exact mod 2^32). */
void ek_fully_connected_s8_vec(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output);

/* ek_fully_connected_s8_vec with the filter pre-widened to int16 by the generator (DSP cores: no SXTB16 of weights;
 * portable C elsewhere, same results). filter (int16, 4-byte aligned): rows in blocks of 4, per block and group of
 * 4 input values (depth zero-padded to a multiple of 4) each row's values [w0, w2, w1, w3]; the rows % 4 last rows
 * plain, groups reordered the same way. rq: per block of 4 rows 16 int32 [bias x4][mult x4][rnd x4][rs x4], each
 * last row [bias, mult, rnd, rs]; bias folded as for ek_fully_connected_s8_vec, rs = -out_shift - 1 (every
 * out_shift <= -2), rnd = 2^(rs - 1). out_mult / out_shift unused. */
void ek_fully_connected_s8_w16(const ek_fc_params_t *p, const int8_t *input, const int16_t *filter,
                               const int32_t *rq, int8_t *output);

/* filter_offset == 0 only; no scratch; for MVE cores (portable C elsewhere, same results): each of `batches` input
 * rows through ek_matmul_mve_s8 with the generator's q (ek_matmul.h: depth accum_depth, rows out_depth, the
 * ek_matmul_mve_s8 layouts of the filter rows and of the folded bias, as for ek_fully_connected_s8_vec, with the
 * requantization). A single row is the generator's direct ek_matmul_mve_s8 call. */
void ek_fully_connected_s8_mve(const ek_mve_mm_t *q, const int8_t *input, int8_t *output, int32_t batches);

#endif /* EK_FULLY_CONNECTED_H */
