/*
 * edgekit AOT runtime: MIRROR_PAD (REFLECT / SYMMETRIC) for any element size, up to 5 dimensions,
 * with TFLM's index mapping: left of the input, output i reads input (left + offset - 1) - i;
 * right of it, the j-th padded element reads (size - 1 - offset) - j; offset is 1 for REFLECT
 * (the edge is not repeated) and 0 for SYMMETRIC.
 */
#ifndef EK_MIRROR_PAD_H
#define EK_MIRROR_PAD_H

#include "ek_common.h"

#define EK_MIRROR_PAD_DIMS 5

typedef struct {
    int32_t in_shape[EK_MIRROR_PAD_DIMS];   /* leading dims padded with 1 */
    int32_t out_shape[EK_MIRROR_PAD_DIMS];
    int32_t before[EK_MIRROR_PAD_DIMS];     /* padding before each dim */
    int32_t offset;                         /* 1 REFLECT, 0 SYMMETRIC */
    int32_t elem_size;
} ek_mirror_pad_params_t;

void ek_mirror_pad(const ek_mirror_pad_params_t *p, const void *input, void *output);

#endif /* EK_MIRROR_PAD_H */
