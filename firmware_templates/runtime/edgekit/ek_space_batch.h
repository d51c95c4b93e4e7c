/*
 * edgekit AOT runtime: BATCH_TO_SPACE_ND and SPACE_TO_BATCH_ND on NHWC tensors (3-D inputs are
 * NHC with W = 1), TFLM reference semantics: whole pixels (depth_bytes) move with memcpy.
 *
 * BATCH_TO_SPACE_ND: input batch ib = s * out_b + b (s = spatial offset, 0 .. block_h * block_w - 1)
 * lands at output (b, ih * block_h + s / block_w - top, iw * block_w + s % block_w - left); pixels
 * falling in the crops are dropped.
 * SPACE_TO_BATCH_ND: output batch ob reads input (ob % in_b, oh * block_h + shift_h - top,
 * ow * block_w + shift_w - left) with shift = ob / in_b, or writes zero bytes in the padding.
 */
#ifndef EK_SPACE_BATCH_H
#define EK_SPACE_BATCH_H

#include "ek_common.h"

typedef struct {
    int32_t in_b, in_h, in_w;
    int32_t out_b, out_h, out_w;
    int32_t block_h, block_w;
    int32_t top, left;          /* crops (batch to space) or paddings (space to batch) before */
    int32_t depth_bytes;        /* bytes per pixel */
} ek_space_batch_params_t;

void ek_batch_to_space(const ek_space_batch_params_t *p, const void *input, void *output);
void ek_space_to_batch(const ek_space_batch_params_t *p, const void *input, void *output);

#endif /* EK_SPACE_BATCH_H */
