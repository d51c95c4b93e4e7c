/* edgekit AOT runtime: GATHER, GATHER_ND (see ek_gather.h). */
#include "ek_gather.h"

int ek_gather(const ek_gather_params_t *p, const void *input, const int32_t *coords, void *output) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t inner = (size_t)p->inner_bytes;
    int32_t b, o, k;
    for (b = 0; b < p->batch; b++) {
        const int32_t *c = coords + (size_t)b * (size_t)p->coord_size;
        for (o = 0; o < p->outer; o++) {
            const uint8_t *base = in + ((size_t)b * (size_t)p->outer + (size_t)o) * (size_t)p->axis_size * inner;
            for (k = 0; k < p->coord_size; k++) {
                const int32_t idx = c[k];
                if (idx < 0 || idx >= p->axis_size) {
                    return EK_ERR_BAD_PARAM;
                }
                memcpy(out, base + (size_t)idx * inner, inner);
                out += inner;
            }
        }
    }
    return EK_OK;
}

int ek_gather_nd(const ek_gather_nd_params_t *p, const void *input, const int32_t *indices, void *output) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t es = (size_t)p->elem_size;
    const size_t slice = (size_t)p->slice_elems * es;
    int32_t i, j;
    for (i = 0; i < p->n_slices; i++) {
        int64_t from = 0;
        for (j = 0; j < p->nd; j++) {
            from += (int64_t)indices[(size_t)i * (size_t)p->nd + (size_t)j] * p->dim_elems[j];
        }
        if (from < 0 || from + p->slice_elems > p->total_elems) {
            return EK_ERR_BAD_PARAM;
        }
        memcpy(out + (size_t)i * slice, in + (size_t)from * es, slice);
    }
    return EK_OK;
}
