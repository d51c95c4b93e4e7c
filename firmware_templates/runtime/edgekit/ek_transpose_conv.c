/*
 * edgekit AOT runtime: TRANSPOSE_CONV (see ek_transpose_conv.h). The per-tap dot products over the input channels
 * are ek_dot.h's (DSP / MVE); the taps reaching an output pixel are found once for all its output channels.
 */
#include "ek_transpose_conv.h"

#include "ek_dot.h"

/* the input row (or column) that reaches output position `o` through filter tap `k`, or -1 */
EK_INLINE int32_t ek_tc_source(int32_t o, int32_t pad, int32_t k, int32_t stride, int32_t size) {
    const int32_t t = o + pad - k;
    if (t < 0 || t % stride != 0 || t / stride >= size) {
        return -1;
    }
    return t / stride;
}

/* The filter taps that reach one output element, in (ky, kx) order: ek_tc_next_tap() gives the next one's
 * input pixel and filter row offsets (elements), 0 when there is none left. Both element widths use it. */
typedef struct {
    const ek_transpose_conv_params_t *p;
    int32_t b, oy, ox, oc, ky, kx;
} ek_tc_taps;

static ek_tc_taps ek_tc_taps_of(const ek_transpose_conv_params_t *p, int32_t b, int32_t oy, int32_t ox, int32_t oc) {
    ek_tc_taps t;
    t.p = p;
    t.b = b;
    t.oy = oy;
    t.ox = ox;
    t.oc = oc;
    t.ky = 0;
    t.kx = 0;
    return t;
}

static int ek_tc_next_tap(ek_tc_taps *t, size_t *in_off, size_t *f_off) {
    const ek_transpose_conv_params_t *p = t->p;
    for (; t->ky < p->k_h; t->ky++, t->kx = 0) {
        const int32_t iy = ek_tc_source(t->oy, p->pad_h, t->ky, p->stride_h, p->in_h);
        if (iy < 0) {
            continue;
        }
        while (t->kx < p->k_w) {
            const int32_t kx = t->kx++;
            const int32_t ix = ek_tc_source(t->ox, p->pad_w, kx, p->stride_w, p->in_w);
            if (ix < 0) {
                continue;
            }
            *in_off = (((size_t)t->b * (size_t)p->in_h + (size_t)iy) * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c;
            *f_off = (((size_t)t->oc * (size_t)p->k_h + (size_t)t->ky) * (size_t)p->k_w + (size_t)kx) *
                     (size_t)p->in_c;
            return 1;
        }
    }
    return 0;
}

/* The taps reaching one output pixel, listed once for all its output channels: input offsets and filter offsets
 * within one output channel's filter. -1 when the filter has more than EK_TC_MAX_TAPS taps (then each channel
 * walks them itself). */
#define EK_TC_MAX_TAPS 64
static int32_t ek_tc_pixel_taps(const ek_transpose_conv_params_t *p, int32_t b, int32_t oy, int32_t ox, size_t *io,
                                size_t *fo) {
    ek_tc_taps t = ek_tc_taps_of(p, b, oy, ox, 0);
    int32_t n = 0;
    if (p->k_h * p->k_w > EK_TC_MAX_TAPS) {
        return -1;
    }
    while (ek_tc_next_tap(&t, &io[n], &fo[n])) {
        n++;
    }
    return n;
}

void ek_transpose_conv_s8(const ek_transpose_conv_params_t *p, const int8_t *input, const int8_t *filter,
                          const int32_t *bias, int8_t *output) {
    const size_t fsize = (size_t)p->k_h * (size_t)p->k_w * (size_t)p->in_c;
    size_t tio[EK_TC_MAX_TAPS], tfo[EK_TC_MAX_TAPS];
    int32_t b, oy, ox, oc, t;
    for (b = 0; b < p->batches; b++) {
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t n = ek_tc_pixel_taps(p, b, oy, ox, tio, tfo);
                int8_t *out = output + (((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w +
                                        (size_t)ox) * (size_t)p->out_c;
                for (oc = 0; oc < p->out_c; oc++) {
                    uint32_t acc = 0;  /* TFLM's int32 scratch sums, modulo 2^32 without undefined behaviour */
                    ek_tc_taps taps = ek_tc_taps_of(p, b, oy, ox, oc);
                    size_t io, fo;
                    for (t = 0; t < n; t++) {
                        acc += ek_dot_s8_off(input + tio[t], filter + (size_t)oc * fsize + tfo[t], p->in_c,
                                             p->in_offset);
                    }
                    while (n < 0 && ek_tc_next_tap(&taps, &io, &fo)) {
                        acc += ek_dot_s8_off(input + io, filter + fo, p->in_c, p->in_offset);
                    }
                    if (bias != NULL) {
                        acc += (uint32_t)bias[oc];
                    }
                    out[oc] = (int8_t)ek_clamp_i32(ek_mbqm((int32_t)acc, p->out_mult[oc], p->out_shift[oc]) +
                                                       p->out_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}

void ek_transpose_conv_s16(const ek_transpose_conv_params_t *p, const int16_t *input, const int8_t *filter,
                           const int64_t *bias, int16_t *output) {
    const size_t fsize = (size_t)p->k_h * (size_t)p->k_w * (size_t)p->in_c;
    size_t tio[EK_TC_MAX_TAPS], tfo[EK_TC_MAX_TAPS];
    int32_t b, oy, ox, oc, t;
    for (b = 0; b < p->batches; b++) {
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t n = ek_tc_pixel_taps(p, b, oy, ox, tio, tfo);
                int16_t *out = output + (((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w +
                                         (size_t)ox) * (size_t)p->out_c;
                for (oc = 0; oc < p->out_c; oc++) {
                    int64_t acc = 0;
                    ek_tc_taps taps = ek_tc_taps_of(p, b, oy, ox, oc);
                    size_t io, fo;
                    for (t = 0; t < n; t++) {
                        acc += ek_dot_s16x8(input + tio[t], filter + (size_t)oc * fsize + tfo[t], p->in_c);
                    }
                    while (n < 0 && ek_tc_next_tap(&taps, &io, &fo)) {
                        acc += ek_dot_s16x8(input + io, filter + fo, p->in_c);
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    out[oc] = (int16_t)ek_clamp_i32(ek_mbqm64(acc, p->out_mult[oc], p->out_shift[oc]),
                                                    p->act_min, p->act_max);
                }
            }
        }
    }
}
