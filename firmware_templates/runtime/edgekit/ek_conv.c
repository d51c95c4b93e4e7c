/* edgekit AOT runtime: int8 convolutions (see ek_conv.h).
 * Parameters are copied into locals first: stores through int8_t pointers may alias anything, so
 * the compiler would otherwise reload every field after each output byte. */
#include "ek_conv.h"

void ek_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output) {
    const int32_t batches = p->batches, in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t k_h = p->k_h, k_w = p->k_w, k_c = p->k_c;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t pad_h = p->pad_h, pad_w = p->pad_w;
    const int32_t in_offset = p->in_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    const int32_t groups = in_c / k_c;
    const int32_t per_group = out_c / groups;
    const size_t filter_size = (size_t)k_h * k_w * k_c;
    int32_t b, oy, ox, g, oc, ky, kx, ic;
    for (b = 0; b < batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - pad_h;
            const int32_t ky0 = ek_tap_start(iy0, dil_h);
            const int32_t ky1 = ek_tap_end(iy0, dil_h, in_h, k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const int32_t kx0 = ek_tap_start(ix0, dil_w);
                const int32_t kx1 = ek_tap_end(ix0, dil_w, in_w, k_w);
                int8_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * out_c;
                for (g = 0; g < groups; g++) {
                    for (oc = g * per_group; oc < (g + 1) * per_group; oc++) {
                        const int8_t *f_oc = filter + (size_t)oc * filter_size;
                        int32_t acc = 0;
                        for (ky = ky0; ky < ky1; ky++) {
                            const int32_t iy = iy0 + ky * dil_h;
                            for (kx = kx0; kx < kx1; kx++) {
                                const int32_t ix = ix0 + kx * dil_w;
                                const int8_t *ip = in_b + ((size_t)iy * in_w + ix) * in_c + (size_t)g * k_c;
                                const int8_t *fp = f_oc + ((size_t)ky * k_w + kx) * k_c;
                                for (ic = 0; ic < k_c; ic++) {
                                    acc += (int32_t)fp[ic] * ((int32_t)ip[ic] + in_offset);
                                }
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        acc = ek_mbqm(acc, out_mult[oc], out_shift[oc]) + out_offset;
                        out[oc] = (int8_t)ek_clamp_i32(acc, act_min, act_max);
                    }
                }
            }
        }
    }
}

void ek_depthwise_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output) {
    const int32_t batches = p->batches, in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t k_h = p->k_h, k_w = p->k_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t pad_h = p->pad_h, pad_w = p->pad_w;
    const int32_t mult = p->depth_multiplier;
    const int32_t in_offset = p->in_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    int32_t b, oy, ox, ic, m, ky, kx;
    for (b = 0; b < batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - pad_h;
            const int32_t ky0 = ek_tap_start(iy0, dil_h);
            const int32_t ky1 = ek_tap_end(iy0, dil_h, in_h, k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const int32_t kx0 = ek_tap_start(ix0, dil_w);
                const int32_t kx1 = ek_tap_end(ix0, dil_w, in_w, k_w);
                int8_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * out_c;
                for (ic = 0; ic < in_c; ic++) {
                    for (m = 0; m < mult; m++) {
                        const int32_t oc = ic * mult + m;
                        int32_t acc = 0;
                        for (ky = ky0; ky < ky1; ky++) {
                            const int32_t iy = iy0 + ky * dil_h;
                            const int8_t *in_row = in_b + (size_t)iy * in_w * in_c + ic;
                            const int8_t *f_row = filter + (size_t)ky * k_w * out_c + oc;
                            for (kx = kx0; kx < kx1; kx++) {
                                const int32_t ix = ix0 + kx * dil_w;
                                acc += (int32_t)f_row[(size_t)kx * out_c] *
                                       ((int32_t)in_row[(size_t)ix * in_c] + in_offset);
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        acc = ek_mbqm(acc, out_mult[oc], out_shift[oc]) + out_offset;
                        out[oc] = (int8_t)ek_clamp_i32(acc, act_min, act_max);
                    }
                }
            }
        }
    }
}
