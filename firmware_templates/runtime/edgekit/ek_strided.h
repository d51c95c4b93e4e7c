/*
 * edgekit AOT runtime: a strided copy, the one kernel behind the data-movement ops whose output is
 * a fixed rearrangement of their input (TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK,
 * REVERSE_V2, BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_DEPTH).
 *
 * The generator describes the rearrangement as up to EK_COPY_DIMS nested loops (outermost first):
 * element (i0..i5) goes from src + src_offset + sum(i_d * src_stride[d]) to
 * dst + dst_offset + sum(i_d * dst_stride[d]), strides in bytes (a source stride may be negative
 * (reversal) or 0 (broadcast)). Loops run in increasing index order and runs of the innermost
 * dimension that are contiguous on both sides move with memmove, so a copy whose destination
 * never runs ahead of its source (a slice of a tensor onto its own start) may work in place.
 */
#ifndef EK_STRIDED_H
#define EK_STRIDED_H

#include "ek_common.h"

#define EK_COPY_DIMS 6

typedef struct {
    int32_t shape[EK_COPY_DIMS];       /* leading dims padded with 1 */
    int32_t src_stride[EK_COPY_DIMS];  /* bytes */
    int32_t dst_stride[EK_COPY_DIMS];  /* bytes */
    int32_t src_offset;                /* bytes */
    int32_t dst_offset;                /* bytes */
    int32_t elem_size;                 /* 1, 2, 4 or 8 */
} ek_copy_params_t;

void ek_strided_copy(const ek_copy_params_t *p, const void *src, void *dst);

#endif /* EK_STRIDED_H */
