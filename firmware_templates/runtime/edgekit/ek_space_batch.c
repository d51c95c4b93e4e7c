/* edgekit AOT runtime: BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND (see ek_space_batch.h). */
#include "ek_space_batch.h"

void ek_batch_to_space(const ek_space_batch_params_t *p, const void *input, void *output) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t px = (size_t)p->depth_bytes;
    int32_t ib, ih, iw;
    for (ib = 0; ib < p->in_b; ib++) {
        const int32_t ob = ib % p->out_b;
        const int32_t s = ib / p->out_b;
        for (ih = 0; ih < p->in_h; ih++) {
            const int32_t oh = ih * p->block_h + s / p->block_w - p->top;
            if (oh < 0 || oh >= p->out_h) {
                continue;
            }
            for (iw = 0; iw < p->in_w; iw++) {
                const int32_t ow = iw * p->block_w + s % p->block_w - p->left;
                if (ow < 0 || ow >= p->out_w) {
                    continue;
                }
                memcpy(out + (((size_t)ob * (size_t)p->out_h + (size_t)oh) * (size_t)p->out_w + (size_t)ow) * px,
                       in + (((size_t)ib * (size_t)p->in_h + (size_t)ih) * (size_t)p->in_w + (size_t)iw) * px, px);
            }
        }
    }
}

void ek_space_to_batch(const ek_space_batch_params_t *p, const void *input, void *output) {
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const size_t px = (size_t)p->depth_bytes;
    int32_t ob, oh, ow;
    for (ob = 0; ob < p->out_b; ob++) {
        const int32_t b = ob % p->in_b;
        const int32_t shift_w = (ob / p->in_b) % p->block_w;
        const int32_t shift_h = (ob / p->in_b) / p->block_w;
        for (oh = 0; oh < p->out_h; oh++) {
            const int32_t ih = oh * p->block_h + shift_h - p->top;
            for (ow = 0; ow < p->out_w; ow++) {
                const int32_t iw = ow * p->block_w + shift_w - p->left;
                if (ih < 0 || ih >= p->in_h || iw < 0 || iw >= p->in_w) {
                    memset(out, 0, px);
                } else {
                    memcpy(out, in + (((size_t)b * (size_t)p->in_h + (size_t)ih) * (size_t)p->in_w + (size_t)iw) * px,
                           px);
                }
                out += px;
            }
        }
    }
}
