/* edgekit AOT runtime: RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR (see ek_resize.h). */
#include "ek_resize.h"

void ek_resize_nearest(const ek_resize_params_t *p, const int32_t *ys, const int32_t *xs, const void *input,
                       void *output) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t px = (size_t)p->depth * (size_t)p->elem_size;
    const size_t row = (size_t)p->in_w * px;
    int32_t b, y, x;
    for (b = 0; b < p->batch; b++) {
        const uint8_t *img = in + (size_t)b * (size_t)p->in_h * row;
        for (y = 0; y < p->out_h; y++) {
            const uint8_t *src = img + (size_t)ys[y] * row;
            for (x = 0; x < p->out_w; x++) {
                memcpy(out, src + (size_t)xs[x] * px, px);
                out += px;
            }
        }
    }
}

void ek_resize_bilinear_s8(const ek_resize_params_t *p, const int32_t *ys, const int32_t *xs, const int8_t *input,
                           int8_t *output) {
    const size_t depth = (size_t)p->depth;
    const size_t row = (size_t)p->in_w * depth;
    int32_t b, y, x;
    size_t c;
    for (b = 0; b < p->batch; b++) {
        const int8_t *img = input + (size_t)b * (size_t)p->in_h * row;
        for (y = 0; y < p->out_h; y++) {
            const int8_t *r0 = img + (size_t)ys[3 * y] * row;
            const int8_t *r1 = img + (size_t)ys[3 * y + 1] * row;
            const int32_t fy = ys[3 * y + 2];
            for (x = 0; x < p->out_w; x++) {
                const size_t c0 = (size_t)xs[3 * x] * depth;
                const size_t c1 = (size_t)xs[3 * x + 1] * depth;
                const int32_t fx = xs[3 * x + 2];
                /* weights of the four pixels; |sum| < 2^31 for int8 values (fractions in (-1024, 1024)) */
                const int32_t w00 = (1024 - fy) * (1024 - fx);
                const int32_t w10 = fy * (1024 - fx);
                const int32_t w01 = (1024 - fy) * fx;
                const int32_t w11 = fy * fx;
                for (c = 0; c < depth; c++) {
                    const int32_t acc = r0[c0 + c] * w00 + r1[c0 + c] * w10 + r0[c1 + c] * w01 + r1[c1 + c] * w11;
#if EK_SINGLE_ROUNDING
                    *output++ = (int8_t)((acc + (1 << 19)) >> 20);
#else
                    *output++ = (int8_t)((acc + (acc > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20));
#endif
                }
            }
        }
    }
}
