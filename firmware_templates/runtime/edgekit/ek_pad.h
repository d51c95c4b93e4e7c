/*
 * edgekit AOT runtime: PAD / PADV2 for any element size, up to 5 dimensions (TFLM semantics:
 * a pure copy; int8 PAD fills with the output zero point, PADV2 with its constant value).
 */
#ifndef EK_PAD_H
#define EK_PAD_H

#include "ek_common.h"

#define EK_PAD_MAX_DIMS 5

typedef struct {
    int32_t in_shape[EK_PAD_MAX_DIMS];   /* leading dims padded with 1 */
    int32_t out_shape[EK_PAD_MAX_DIMS];
    int32_t before[EK_PAD_MAX_DIMS];     /* padding before each dim (after = out - in - before) */
    int32_t elem_size;                   /* bytes per element */
} ek_pad_params_t;

/* pad_value points to one element of elem_size bytes. */
void ek_pad(const ek_pad_params_t *p, const void *input, const void *pad_value, void *output);

#endif /* EK_PAD_H */
