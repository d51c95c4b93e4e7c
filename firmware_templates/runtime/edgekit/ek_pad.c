/* edgekit AOT runtime: PAD / PADV2 (see ek_pad.h). */
#include "ek_pad.h"

static void ek_fill(uint8_t *dst, const uint8_t *value, size_t count, int32_t elem_size) {
    size_t i;
    if (count == 0) {
        return;
    }
    if (elem_size == 1) {
        memset(dst, value[0], count);
        return;
    }
    memcpy(dst, value, (size_t)elem_size);
    /* double the filled prefix until the region is full */
    for (i = 1; i < count;) {
        const size_t n = (i <= count - i) ? i : count - i;
        memcpy(dst + i * (size_t)elem_size, dst, n * (size_t)elem_size);
        i += n;
    }
}

void ek_pad(const ek_pad_params_t *p, const void *input, const void *pad_value, void *output) {
    const uint8_t *in = (const uint8_t *)input;
    const uint8_t *value = (const uint8_t *)pad_value;
    uint8_t *out = (uint8_t *)output;
    const size_t es = (size_t)p->elem_size;
    const int32_t *is = p->in_shape;
    const int32_t *os = p->out_shape;
    const int32_t *bf = p->before;
    const size_t row_out = (size_t)os[4];
    const size_t row_in = (size_t)is[4];
    const size_t left = (size_t)bf[4];
    const size_t right = row_out - row_in - left;
    int32_t d0, d1, d2, d3;
    for (d0 = 0; d0 < os[0]; d0++) {
        const int32_t i0 = d0 - bf[0];
        for (d1 = 0; d1 < os[1]; d1++) {
            const int32_t i1 = d1 - bf[1];
            for (d2 = 0; d2 < os[2]; d2++) {
                const int32_t i2 = d2 - bf[2];
                for (d3 = 0; d3 < os[3]; d3++) {
                    const int32_t i3 = d3 - bf[3];
                    const int inside = i0 >= 0 && i0 < is[0] && i1 >= 0 && i1 < is[1] &&
                                       i2 >= 0 && i2 < is[2] && i3 >= 0 && i3 < is[3];
                    if (!inside) {
                        ek_fill(out, value, row_out, p->elem_size);
                    } else {
                        const size_t src = ((((size_t)i0 * is[1] + i1) * is[2] + i2) * is[3] + i3) * row_in;
                        ek_fill(out, value, left, p->elem_size);
                        memcpy(out + left * es, in + src * es, row_in * es);
                        ek_fill(out + (left + row_in) * es, value, right, p->elem_size);
                    }
                    out += row_out * es;
                }
            }
        }
    }
}
