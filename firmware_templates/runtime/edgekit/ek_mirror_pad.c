/* edgekit AOT runtime: MIRROR_PAD (see ek_mirror_pad.h). */
#include "ek_mirror_pad.h"

static int32_t ek_mirror_index(int32_t i, int32_t left, int32_t size, int32_t offset) {
    if (i < left) {
        const int32_t o = left + offset - 1;
        return o - ek_min_i32(i, o - offset);
    }
    i -= left;
    if (i >= size) {
        const int32_t o = size - 1 - offset;
        return o - ek_min_i32(i - size, o);
    }
    return i;
}

void ek_mirror_pad(const ek_mirror_pad_params_t *p, const void *input, void *output) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t es = (size_t)p->elem_size;
    const int32_t *is = p->in_shape;
    const int32_t *os = p->out_shape;
    const int32_t *bf = p->before;
    const int32_t left = bf[4];
    const int32_t row = is[4];
    int32_t d0, d1, d2, d3, x;
    for (d0 = 0; d0 < os[0]; d0++) {
        const size_t i0 = (size_t)ek_mirror_index(d0, bf[0], is[0], p->offset);
        for (d1 = 0; d1 < os[1]; d1++) {
            const size_t i1 = i0 * (size_t)is[1] + (size_t)ek_mirror_index(d1, bf[1], is[1], p->offset);
            for (d2 = 0; d2 < os[2]; d2++) {
                const size_t i2 = i1 * (size_t)is[2] + (size_t)ek_mirror_index(d2, bf[2], is[2], p->offset);
                for (d3 = 0; d3 < os[3]; d3++) {
                    const size_t i3 = i2 * (size_t)is[3] + (size_t)ek_mirror_index(d3, bf[3], is[3], p->offset);
                    const uint8_t *src = in + i3 * (size_t)row * es;
                    for (x = 0; x < left; x++) {
                        memcpy(out, src + (size_t)ek_mirror_index(x, left, row, p->offset) * es, es);
                        out += es;
                    }
                    memcpy(out, src, (size_t)row * es);
                    out += (size_t)row * es;
                    for (x = left + row; x < os[4]; x++) {
                        memcpy(out, src + (size_t)ek_mirror_index(x, left, row, p->offset) * es, es);
                        out += es;
                    }
                }
            }
        }
    }
}
