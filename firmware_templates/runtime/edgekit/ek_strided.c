/* edgekit AOT runtime: strided copy (see ek_strided.h). */
#include "ek_strided.h"

/* The innermost loop: n elements of es bytes with strides ss / ds. */
static void ek_copy_row(const uint8_t *s, uint8_t *d, int32_t n, int32_t ss, int32_t ds, int32_t es) {
    int32_t i;
    if (ss == es && ds == es) {
        memmove(d, s, (size_t)n * (size_t)es);
        return;
    }
    switch (es) {
    case 1:
        for (i = 0; i < n; i++, s += ss, d += ds) {
            *d = *s;
        }
        break;
    case 2:
        for (i = 0; i < n; i++, s += ss, d += ds) {
            memmove(d, s, 2);
        }
        break;
    case 4:
        for (i = 0; i < n; i++, s += ss, d += ds) {
            memmove(d, s, 4);
        }
        break;
    default: /* memmove: in place, an element may be copied onto itself */
        for (i = 0; i < n; i++, s += ss, d += ds) {
            memmove(d, s, (size_t)es);
        }
        break;
    }
}

void ek_strided_copy(const ek_copy_params_t *p, const void *src, void *dst) {
    const int32_t *n = p->shape;
    const int32_t *ss = p->src_stride;
    const int32_t *ds = p->dst_stride;
    const uint8_t *s0 = (const uint8_t *)src + p->src_offset;
    uint8_t *d0 = (uint8_t *)dst + p->dst_offset;
    int32_t i0, i1, i2, i3, i4;
    for (i0 = 0; i0 < n[0]; i0++) {
        const uint8_t *s1 = s0 + i0 * ss[0];
        uint8_t *d1 = d0 + i0 * ds[0];
        for (i1 = 0; i1 < n[1]; i1++) {
            const uint8_t *s2 = s1 + i1 * ss[1];
            uint8_t *d2 = d1 + i1 * ds[1];
            for (i2 = 0; i2 < n[2]; i2++) {
                const uint8_t *s3 = s2 + i2 * ss[2];
                uint8_t *d3 = d2 + i2 * ds[2];
                for (i3 = 0; i3 < n[3]; i3++) {
                    const uint8_t *s4 = s3 + i3 * ss[3];
                    uint8_t *d4 = d3 + i3 * ds[3];
                    for (i4 = 0; i4 < n[4]; i4++) {
                        ek_copy_row(s4 + i4 * ss[4], d4 + i4 * ds[4], n[5], ss[5], ds[5], p->elem_size);
                    }
                }
            }
        }
    }
}
