/*
 * edgekit AOT runtime: GATHER and GATHER_ND (TFLM reference semantics: a memcpy per index, int32
 * indices read at run time).
 *
 * GATHER: for each batch b, outer o and coordinate k, copies inner_bytes from input slice
 * ((b * outer + o) * axis_size + coords[b * coord_size + k]). An index outside [0, axis_size) makes
 * it return EK_ERR_BAD_PARAM without writing further (TFLM reads out of bounds there).
 * GATHER_ND: slice i starts at sum_j indices[i * nd + j] * dim_elems[j] (elements); like TFLM it
 * fails (EK_ERR_BAD_PARAM) only when the slice falls outside the whole input.
 */
#ifndef EK_GATHER_H
#define EK_GATHER_H

#include "ek_common.h"

#define EK_GATHER_ND_MAX 5

typedef struct {
    int32_t batch;        /* product of the batch_dims leading dims */
    int32_t outer;        /* product of the dims between batch_dims and axis */
    int32_t axis_size;
    int32_t coord_size;   /* indices per batch */
    int32_t inner_bytes;  /* bytes of one gathered slice */
} ek_gather_params_t;

int ek_gather(const ek_gather_params_t *p, const void *input, const int32_t *coords, void *output);

typedef struct {
    int32_t n_slices;
    int32_t nd;                            /* index tuple length, 1..EK_GATHER_ND_MAX */
    int32_t dim_elems[EK_GATHER_ND_MAX];   /* elements per step of each indexed dim */
    int32_t slice_elems;
    int32_t total_elems;                   /* elements of the input */
    int32_t elem_size;
} ek_gather_nd_params_t;

int ek_gather_nd(const ek_gather_nd_params_t *p, const void *input, const int32_t *indices, void *output);

#endif /* EK_GATHER_H */
