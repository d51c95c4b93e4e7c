/*
 * edgekit AOT runtime: int8 CONV_2D / FULLY_CONNECTED with sparse weights (most of them zero).
 *
 * The generator stores, per output channel (filter row) r, only its non-zero weights as entries of two bytes:
 *   entry = { delta (uint8): distance from the previous entry's input offset (the first: from offset 0),
 *             weight (int8) }
 * counts[r] entries per row, rows in order, all rows' entries back to back. A gap longer than 255 is bridged by
 * entries of weight 0 (delta 255), which add nothing. The input offset (-input zero point) is folded into the
 * bias by the generator: bias[r] = bias_r + in_offset * sum_k filter[r][k] (mod 2^32), so each entry costs
 * load-delta, load-weight, load-input, multiply-accumulate on the raw int8 input; sums are exact mod 2^32 in
 * any order, so the results are TFLM's bit for bit (padding taps read the input zero point x = -in_offset,
 * whose folded contribution w * (x + in_offset) is 0, exactly like TFLM's skipped taps).
 * Up to 4 output pixels / batch rows share one pass over a row's entries.
 */
#ifndef EK_SPARSE_H
#define EK_SPARSE_H

#include "ek_common.h"
#include "ek_conv.h"
#include "ek_fully_connected.h"

typedef struct {
    int32_t rows;               /* output channels */
    int32_t depth;              /* input values per column (k_h * k_w * in_c, or the FC depth) */
    const uint16_t *counts;     /* entries per row */
    const uint8_t *entries;     /* (delta, weight) pairs, rows in order */
    const int32_t *bias;        /* folded bias, rows values */
} ek_sparse_t;

/* CONV_2D without groups (k_c == in_c), any stride/dilation/padding. scratch: EK_SPARSE_CONV_SCRATCH bytes
 * (4 int8 patches of depth), none (NULL) when the conv is 1x1 without padding. */
void ek_sparse_conv2d_s8(const ek_conv_params_t *p, const ek_sparse_t *s, const int8_t *input, int8_t *output,
                         void *scratch);
#define EK_SPARSE_CONV_SCRATCH(depth, direct) ((direct) ? 0u : 4u * (unsigned)(depth))

/* FULLY_CONNECTED with filter_offset == 0 (the only case TFLM allows for int8 per-channel, and the usual one). */
void ek_sparse_fc_s8(const ek_fc_params_t *p, const ek_sparse_t *s, const int8_t *input, int8_t *output);

#endif /* EK_SPARSE_H */
