/* edgekit AOT runtime: int8 convolutions (see ek_conv.h).
 * Parameters are copied into locals first: stores through int8_t pointers may alias anything, so
 * the compiler would otherwise reload every field after each output byte. */
#include "ek_conv.h"

#include "ek_matmul.h"
#include "ek_simd.h"

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

EK_INLINE int8_t requant_dw(int32_t acc, const int32_t *out_mult, const int8_t *out_shift, int32_t oc,
                            int32_t out_offset, int32_t act_min, int32_t act_max) {
    return (int8_t)ek_clamp_i32(ek_mbqm_pos(acc, out_mult[oc], out_shift[oc]) + out_offset, act_min, act_max);
}

/* 4 channels x 1 tap: x and w hold 4 int8 lanes (channels c..c+3). */
#define EK_DW_TAP(x, w)                                          \
    do {                                                         \
        const uint32_t xl_ = ek_sxtb16(x), wl_ = ek_sxtb16(w);   \
        const uint32_t xh_ = ek_sxtb16_ror8(x), wh_ = ek_sxtb16_ror8(w); \
        a0 = ek_smlabb(wl_, xl_, a0);                            \
        a2 = ek_smlatt(wl_, xl_, a2);                            \
        a1 = ek_smlabb(wh_, xh_, a1);                            \
        a3 = ek_smlatt(wh_, xh_, a3);                            \
    } while (0)

/* `npix` output pixels of a depthwise conv (multiplier 1, ch % 4 == 0) along a row: tap t of the pixel at
 * `base` (an address as an integer) reads base + offs[t]; the next pixel is at base + step (taps in the padding
 * have offsets that point at a row of input zero points, with step 0). Channels in groups of 4, taps innermost,
 * accumulators start at dw_bias_full (the input offset folded in at generation time). The filter is regrouped
 * by the generator as [ch / 4][tap][4]. 3x3 windows are unrolled.
 * Not inlined: a small function of its own gets a spill-free inner loop. */
static EK_NOINLINE void depthwise_pixels(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                         int32_t ntaps, const void *filter_, int8_t *out, int32_t npix,
                                         intptr_t step) {
    const int8_t *filter = (const int8_t *)filter_;
    const int32_t ch = p->in_c;
    const int32_t *bias_full = p->dw_bias_full, *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    const int32_t out_offset = p->out_offset, act_min = p->act_min, act_max = p->act_max;
    int32_t c, t;
    for (; npix > 0; npix--, base += (uintptr_t)step, out += ch) {
        const ek_u32a_t *fp = (const ek_u32a_t *)(const void *)filter;
        for (c = 0; c < ch; c += 4) {
            const uintptr_t bc = base + (uintptr_t)c;
            int32_t a0 = bias_full[c], a1 = bias_full[c + 1], a2 = bias_full[c + 2], a3 = bias_full[c + 3];
            if (ntaps == 9) {
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[0])), fp[0]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[1])), fp[1]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[2])), fp[2]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[3])), fp[3]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[4])), fp[4]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[5])), fp[5]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[6])), fp[6]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[7])), fp[7]);
                EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[8])), fp[8]);
            } else {
                for (t = 0; t < ntaps; t++) {
                    EK_DW_TAP(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[t])), fp[t]);
                }
            }
            fp += ntaps;
            {
                /* all 4 results before the int8 stores (which may alias anything) */
                const int8_t v0 = requant_dw(a0, out_mult, out_shift, c, out_offset, act_min, act_max);
                const int8_t v1 = requant_dw(a1, out_mult, out_shift, c + 1, out_offset, act_min, act_max);
                const int8_t v2 = requant_dw(a2, out_mult, out_shift, c + 2, out_offset, act_min, act_max);
                const int8_t v3 = requant_dw(a3, out_mult, out_shift, c + 3, out_offset, act_min, act_max);
                out[c] = v0;
                out[c + 1] = v1;
                out[c + 2] = v2;
                out[c + 3] = v3;
            }
        }
    }
}

/* ek_mbqm_pos(x, mult, shift) for shift <= -2 from the dw_rq words of a channel (q[0] = mult, q[4] = round =
 * 2^(rshift - 1), q[8] = rshift = -shift - 1, see ek_conv.h): its one 64-bit multiply-accumulate with the
 * per-channel constants precomputed: start value (low, high) = (2^30 + [x < 0] * 2^31, round - [x < 0]),
 * result = high word >> rshift. */
EK_INLINE int32_t ek_dw_requant(int32_t x, const int32_t *q) {
#if EK_SINGLE_ROUNDING
    return ek_mbqm(x, q[0], -q[8] - 1);
#else
    const int32_t s = x >> 31;
    const uint32_t lo0 = 0x40000000u + ((uint32_t)s << 31);
    const uint32_t hi0 = (uint32_t)q[4] + (uint32_t)s;
    const int64_t acc = (int64_t)(((uint64_t)hi0 << 32) | lo0) + (int64_t)x * q[0];
    return (int32_t)(acc >> 32) >> q[8];
#endif
}

/* 4 channels x 1 tap with packed 16-bit weights: wl = [w0, w2], wh = [w1, w3]. */
#define EK_DW_TAP16(x, wl, wh)                                   \
    do {                                                         \
        const uint32_t xl_ = ek_sxtb16(x), xh_ = ek_sxtb16_ror8(x); \
        a0 = ek_smlabb(wl, xl_, a0);                             \
        a2 = ek_smlatt(wl, xl_, a2);                             \
        a1 = ek_smlabb(wh, xh_, a1);                             \
        a3 = ek_smlatt(wh, xh_, a3);                             \
    } while (0)

#if EK_HAVE_DSP && defined(__thumb2__)
/* One tap of 4 channels in Thumb-2: tap offset, input word, the 2 packed weight words, 2 SXTB16, 4 MACs (gcc
 * spills when it schedules the unrolled C version itself). */
#define EK_DW_TAP_ASM                                   \
    "ldr    %[x], [%[o]], #4\n\t"                       \
    "ldr    %[x], [%[b], %[x]]\n\t"                     \
    "ldrd   %[wl], %[wh], [%[f]], #8\n\t"               \
    "sxtb16 %[xl], %[x]\n\t"                            \
    "sxtb16 %[x], %[x], ror #8\n\t"                     \
    "smlabb %[a0], %[wl], %[xl], %[a0]\n\t"             \
    "smlatt %[a2], %[wl], %[xl], %[a2]\n\t"             \
    "smlabb %[a1], %[wh], %[x], %[a1]\n\t"              \
    "smlatt %[a3], %[wh], %[x], %[a3]\n\t"
#define EK_DW_ASM_OPS                                                                                   \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [o] "+r"(o), [f] "+r"(fp), [x] "=&r"(x), \
      [xl] "=&r"(xl), [wl] "=&r"(wl), [wh] "=&r"(wh)                                                    \
    : [b] "r"(bc)                                                                                        \
    : "memory"
#endif

/* depthwise_pixels for the packed filter ([ch / 4][tap][w0, w2, w1, w3] int16) and the dw_rq table. */
static EK_NOINLINE void depthwise_pixels16(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                           int32_t ntaps, const void *filter, int8_t *out, int32_t npix,
                                           intptr_t step) {
    const int32_t ch = p->in_c;
    const int32_t *rq = p->dw_rq;
    const int32_t out_offset = p->out_offset;
    const uint32_t act_min4 = ((uint32_t)p->act_min & 0xFFu) * 0x01010101u;
    const uint32_t act_max4 = ((uint32_t)p->act_max & 0xFFu) * 0x01010101u;
    int32_t c;
    for (; npix > 0; npix--, base += (uintptr_t)step, out += ch) {
        const ek_u32a_t *fp = (const ek_u32a_t *)filter;
        const int32_t *q = rq;
        for (c = 0; c < ch; c += 4, q += 16) {
            const uintptr_t bc = base + (uintptr_t)c;
            int32_t a0 = q[0], a1 = q[1], a2 = q[2], a3 = q[3];
#if EK_HAVE_DSP && defined(__thumb2__)
            const intptr_t *o = offs;
            uint32_t x, xl, wl, wh;
            if (ntaps == 9) {
                __asm__(EK_DW_TAP_ASM EK_DW_TAP_ASM EK_DW_TAP_ASM EK_DW_TAP_ASM EK_DW_TAP_ASM EK_DW_TAP_ASM
                        EK_DW_TAP_ASM EK_DW_TAP_ASM EK_DW_TAP_ASM EK_DW_ASM_OPS);
            } else {
                int32_t t;
                for (t = 0; t < ntaps; t++) {
                    __asm__(EK_DW_TAP_ASM EK_DW_ASM_OPS);
                }
            }
#else
            int32_t t;
            for (t = 0; t < ntaps; t++, fp += 2) {
                EK_DW_TAP16(ek_ld32((const int8_t *)(bc + (uintptr_t)offs[t])), fp[0], fp[1]);
            }
#endif
            {
                /* the 4 results saturated to int8, packed into one word, clamped lane-wise, one store */
                const int32_t v0 = ek_ssat8(ek_dw_requant(a0, q + 4) + out_offset);
                const int32_t v1 = ek_ssat8(ek_dw_requant(a1, q + 5) + out_offset);
                const int32_t v2 = ek_ssat8(ek_dw_requant(a2, q + 6) + out_offset);
                const int32_t v3 = ek_ssat8(ek_dw_requant(a3, q + 7) + out_offset);
                ek_st32(out + c, ek_clamp_s8x4(ek_pack_s8x4(v0, v1, v2, v3), act_min4, act_max4));
            }
        }
    }
}

typedef void (*ek_dw_pixels_fn)(const ek_conv_params_t *, uintptr_t, const intptr_t *, int32_t, const void *,
                                int8_t *, int32_t, intptr_t);

/* Depthwise, multiplier 1, ch % 4 == 0, k_h * k_w <= EK_DW_MAX_TAPS, with dw_bias_full and the regrouped
 * filter. Runs of output pixels whose whole window lies inside the input share one offset table (one call
 * per run); a pixel whose window touches the padding gets its own table, padding taps reading zp_row
 * (ch input zero points, in scratch). Addresses are computed as integers (modulo 2^N) so that no pointer
 * ever points outside its object. */
static void depthwise_taps(const ek_conv_params_t *p, const int8_t *input, const void *filter, int8_t *output,
                           int8_t *zp_row, ek_dw_pixels_fn pixels) {
    const int32_t in_h = p->in_h, in_w = p->in_w, ch = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t stride_w = p->stride_w, pad_w = p->pad_w;
    const intptr_t step = (intptr_t)stride_w * ch;
    intptr_t inner[EK_DW_MAX_TAPS], border[EK_DW_MAX_TAPS];
    int32_t b, oy, ox, ky, kx, t = 0;
    memset(zp_row, -p->in_offset, (size_t)ch);
    for (ky = 0; ky < k_h; ky++) {
        for (kx = 0; kx < k_w; kx++) {
            inner[t++] = ((intptr_t)ky * dil_h * in_w + (intptr_t)kx * dil_w) * ch;
        }
    }
    for (b = 0; b < p->batches; b++) {
        const uintptr_t in_b = (uintptr_t)(input + (size_t)b * in_h * in_w * ch);
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int row_inside = iy0 >= 0 && iy0 + (k_h - 1) * dil_h < in_h;
            int8_t *out = output + ((size_t)b * out_h + oy) * out_w * ch;
            ox = 0;
            while (ox < out_w) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const uintptr_t base = in_b + (uintptr_t)(((intptr_t)iy0 * in_w + ix0) * ch);
                if (row_inside && ix0 >= 0 && ix0 + (k_w - 1) * dil_w < in_w) {
                    int32_t n = 1;
                    while (ox + n < out_w && (ox + n) * stride_w - pad_w + (k_w - 1) * dil_w < in_w) {
                        n++;
                    }
                    pixels(p, base, inner, t, filter, out, n, step);
                    ox += n;
                    out += (size_t)n * ch;
                } else {
                    const intptr_t to_zp = (intptr_t)((uintptr_t)zp_row - base);
                    int32_t u = 0;
                    for (ky = 0; ky < k_h; ky++) {
                        const int32_t iy = iy0 + ky * dil_h;
                        for (kx = 0; kx < k_w; kx++, u++) {
                            const int32_t ix = ix0 + kx * dil_w;
                            const int inside = (uint32_t)iy < (uint32_t)in_h && (uint32_t)ix < (uint32_t)in_w;
                            border[u] = inside ? inner[u] : to_zp;
                        }
                    }
                    pixels(p, base, border, t, filter, out, 1, 0);
                    ox += 1;
                    out += ch;
                }
            }
        }
    }
}

/* depth_multiplier == 1: per output pixel, channels in groups of 4 (4 accumulators), taps innermost. */
static void depthwise_m1(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, int8_t *output) {
    const int32_t batches = p->batches, in_h = p->in_h, in_w = p->in_w, ch = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w;
    const int32_t k_h = p->k_h, k_w = p->k_w;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t pad_h = p->pad_h, pad_w = p->pad_w;
    const int32_t in_offset = p->in_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    const uint32_t off2 = ek_dup16(in_offset);
    const int32_t ch4 = ch & ~3;
    const size_t in_row = (size_t)in_w * ch, f_row = (size_t)k_w * ch;
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_row;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - pad_h;
            const int32_t ky0 = ek_tap_start(iy0, dil_h);
            const int32_t ky1 = ek_tap_end(iy0, dil_h, in_h, k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const int32_t kx0 = ek_tap_start(ix0, dil_w);
                const int32_t kx1 = ek_tap_end(ix0, dil_w, in_w, k_w);
                int8_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * ch;
                for (c = 0; c < ch4; c += 4) {
                    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                    if (bias != NULL) {
                        a0 = bias[c];
                        a1 = bias[c + 1];
                        a2 = bias[c + 2];
                        a3 = bias[c + 3];
                    }
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *ip = in_b + (size_t)(iy0 + ky * dil_h) * in_row + (size_t)(ix0 + kx0 * dil_w) * ch + c;
                        const int8_t *fp = filter + (size_t)ky * f_row + (size_t)kx0 * ch + c;
                        for (kx = kx0; kx < kx1; kx++) {
                            const uint32_t x = ek_ld32(ip), w = ek_ld32(fp);
                            const uint32_t xl = ek_sadd16(ek_sxtb16(x), off2), xh = ek_sadd16(ek_sxtb16_ror8(x), off2);
                            const uint32_t wl = ek_sxtb16(w), wh = ek_sxtb16_ror8(w);
                            a0 = ek_smlabb(wl, xl, a0);
                            a2 = ek_smlatt(wl, xl, a2);
                            a1 = ek_smlabb(wh, xh, a1);
                            a3 = ek_smlatt(wh, xh, a3);
                            ip += (size_t)dil_w * ch;
                            fp += ch;
                        }
                    }
                    out[c] = requant_dw(a0, out_mult, out_shift, c, out_offset, act_min, act_max);
                    out[c + 1] = requant_dw(a1, out_mult, out_shift, c + 1, out_offset, act_min, act_max);
                    out[c + 2] = requant_dw(a2, out_mult, out_shift, c + 2, out_offset, act_min, act_max);
                    out[c + 3] = requant_dw(a3, out_mult, out_shift, c + 3, out_offset, act_min, act_max);
                }
                for (; c < ch; c++) {
                    int32_t acc = bias != NULL ? bias[c] : 0;
                    for (ky = ky0; ky < ky1; ky++) {
                        const int8_t *ip = in_b + (size_t)(iy0 + ky * dil_h) * in_row + c;
                        const int8_t *fp = filter + (size_t)ky * f_row + c;
                        for (kx = kx0; kx < kx1; kx++) {
                            acc += fp[(size_t)kx * ch] * (ip[(size_t)(ix0 + kx * dil_w) * ch] + in_offset);
                        }
                    }
                    out[c] = requant_dw(acc, out_mult, out_shift, c, out_offset, act_min, act_max);
                }
            }
        }
    }
}

static void depthwise_any(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
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

/* im2col patch of output pixel (oy, ox) of batch image in_b: k_h x k_w x in_c int8, taps in the padding set to
 * the input zero point (so that value + in_offset == 0: TFLM skips those taps). */
/* Patch rows are often short (a few bytes for 3-channel inputs): inline word moves instead of a library call. */
static void copy_bytes(int8_t *dst, const int8_t *src, size_t n) {
    size_t k = 0;
#if EK_HAVE_MVE
    for (; k < n; k += 16) { /* 16 bytes per load / store, the last ones predicated */
        const mve_pred16_t pr = vctp8q((uint32_t)(n - k));
        vstrbq_p_s8(dst + k, vldrbq_z_s8(src + k, pr), pr);
    }
    return;
#endif
    if (n >= 32) {
        memcpy(dst, src, n);
        return;
    }
    for (; k + 4 <= n; k += 4) {
        ek_st32(dst + k, ek_ld32(src + k));
    }
    for (; k < n; k++) {
        dst[k] = src[k];
    }
}

static void fill_bytes(int8_t *dst, uint32_t word, size_t n) {
    size_t k = 0;
#if EK_HAVE_MVE
    const int8x16_t v = vdupq_n_s8((int8_t)word);
    for (; k < n; k += 16) {
        vstrbq_p_s8(dst + k, v, vctp8q((uint32_t)(n - k)));
    }
    return;
#endif
    for (; k + 4 <= n; k += 4) {
        ek_st32(dst + k, word);
    }
    for (; k < n; k++) {
        dst[k] = (int8_t)word;
    }
}

static void gather_patch(const ek_conv_params_t *p, const int8_t *in_b, int32_t oy, int32_t ox, int8_t *patch) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_h = p->k_h, k_w = p->k_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    const int32_t kx0 = ek_tap_start(ix0, 1), kx1 = ek_tap_end(ix0, 1, in_w, k_w);
    const uint32_t zp4 = ((uint32_t)(uint8_t)(int8_t)-p->in_offset) * 0x01010101u;
    const size_t row = (size_t)k_w * in_c;
    int32_t ky;
    for (ky = 0; ky < k_h; ky++) {
        const int32_t iy = iy0 + ky;
        int8_t *dst = patch + (size_t)ky * row;
        if (iy < 0 || iy >= in_h || kx1 <= kx0) {
            fill_bytes(dst, zp4, row);
            continue;
        }
        if (kx0 > 0) {
            fill_bytes(dst, zp4, (size_t)kx0 * in_c);
        }
        copy_bytes(dst + (size_t)kx0 * in_c, in_b + ((size_t)iy * in_w + ix0 + kx0) * in_c,
                   (size_t)(kx1 - kx0) * in_c);
        if (kx1 < k_w) {
            fill_bytes(dst + (size_t)kx1 * in_c, zp4, (size_t)(k_w - kx1) * in_c);
        }
    }
}

void ek_conv2d_s8_im2col(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, int8_t *output, void *scratch) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, in_offset = p->in_offset;
    const int32_t depth = p->k_h * p->k_w * in_c, depth4 = (depth + 3) & ~3;
    const int32_t per_image = out_h * out_w, total = p->batches * per_image;
    const int direct = p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    int16_t *cols = (int16_t *)scratch;
    int8_t *patch = (int8_t *)(cols + 2 * depth4);
    ek_matmul_t q;
    int32_t i;
    q.depth = depth4;
    q.rows = out_c;
    q.out_offset = p->out_offset;
    q.act_min = p->act_min;
    q.act_max = p->act_max;
    q.mult_stride = 1;
    q.out_mult = p->out_mult;
    q.out_shift = p->out_shift;
    for (i = 0; i < total; i += 2) {
        const int32_t n = total - i >= 2 ? 2 : 1;
        int32_t j;
        for (j = 0; j < n; j++) {
            const int32_t b = (i + j) / per_image, pix = (i + j) - b * per_image;
            const int32_t oy = pix / out_w, ox = pix - oy * out_w;
            const int8_t *in_b = input + (size_t)b * in_h * in_w * in_c;
            const int8_t *src;
            if (direct) {
                src = in_b + ((size_t)oy * stride_h * in_w + (size_t)ox * stride_w) * in_c;
            } else {
                gather_patch(p, in_b, oy, ox, patch);
                src = patch;
            }
            ek_widen_s8_reordered(src, cols + 2 * j, depth, in_offset, 4 * n, 2 * n);
        }
        ek_matmul_s8(&q, cols, n, filter, bias, output + (size_t)i * out_c, output + (size_t)(i + n - 1) * out_c);
    }
}

void ek_conv2d_s8_mve(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *rq,
                      int8_t *output, void *scratch) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t out_c = p->out_c, stride_h = p->stride_h, stride_w = p->stride_w, k_h = p->k_h, k_w = p->k_w;
    const int32_t run = k_w * in_c, in_row = in_w * in_c;
    const int direct = k_h == 1 && k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    const int rows_in_place = EK_CONV_MVE_SEGMENTED(k_h, k_w, in_c);
    int8_t *patch = (int8_t *)scratch;
    ek_mve_mm_t q;
    int32_t b, oy, ox;
    q.depth = rows_in_place ? run : k_h * run;
    q.segments = rows_in_place ? k_h : 1;
    q.rows = out_c;
    q.out_offset = p->out_offset;
    q.act_min = p->act_min;
    q.act_max = p->act_max;
    q.filter = filter;
    q.rq = rq;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_row;
        int8_t *out = output + (size_t)b * out_h * out_w * out_c;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - p->pad_h;
            const int rows_inside = iy0 >= 0 && iy0 + k_h <= in_h;
            for (ox = 0; ox < out_w; ox++, out += out_c) {
                const int32_t ix0 = ox * stride_w - p->pad_w;
                if (direct) {
                    ek_matmul_mve_s8(&q, in_b + ((size_t)oy * stride_h * in_w + (size_t)ox * stride_w) * in_c, 0, out);
                } else if (rows_inside && ix0 >= 0 && ix0 + k_w <= in_w) {
                    /* the window lies inside the input: its k_h rows read in place, or copied into the patch
                     * (one predicated 16-byte move per 16 bytes, no padding checks) */
                    const int8_t *win = in_b + (size_t)iy0 * in_row + (size_t)ix0 * in_c;
                    if (rows_in_place) {
                        ek_matmul_mve_s8(&q, win, in_row, out);
                    } else {
                        int32_t ky;
#if EK_HAVE_MVE
                        if (run <= 16) { /* one predicated load / store per row */
                            const mve_pred16_t pr = vctp8q((uint32_t)run);
                            for (ky = 0; ky < k_h; ky++) {
                                vstrbq_p_s8(patch + (size_t)ky * run, vldrbq_z_s8(win + (size_t)ky * in_row, pr), pr);
                            }
                        } else
#endif
                        {
                            for (ky = 0; ky < k_h; ky++) {
                                copy_bytes(patch + (size_t)ky * run, win + (size_t)ky * in_row, (size_t)run);
                            }
                        }
                        ek_matmul_mve_s8(&q, patch, run, out);
                    }
                } else {
                    gather_patch(p, in_b, oy, ox, patch);
                    ek_matmul_mve_s8(&q, patch, run, out);
                }
            }
        }
    }
}

#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
/* One 4-channel block of an MVE depthwise pixel: taps ([tap][4] weights at fp) in int32 lanes, its rq group. */
EK_INLINE void mve_dw_block4(uintptr_t bc, const intptr_t *offs, int32_t ntaps, const int8_t *fp, const int32_t *rq,
                             int32_t off, int32x4_t lo, int32x4_t hi, int8_t *out) {
    int32x4_t a = vldrwq_s32(rq);
    int32_t t;
    for (t = 0; t < ntaps; t++, fp += 4) {
        a = vaddq_s32(a, vmulq_s32(vldrbq_s32((const int8_t *)(bc + (uintptr_t)offs[t])), vldrbq_s32(fp)));
    }
    vstrbq_s32(out, ek_mve_requant_rq(a, rq, off, lo, hi));
}
#endif

#if !(EK_HAVE_MVE && !EK_SINGLE_ROUNDING)
/* The portable C of depthwise_pixels_mve (pairs 0) and depthwise_pixels_mve_pairs (pairs 1) for one pixel: the
 * same blocks, rq groups and results as their vector paths, channel by channel (sums modulo 2^32). */
static void mve_dw_pixel_c(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs, int32_t ntaps,
                           const int8_t *fp, int8_t *out, int pairs) {
    const int32_t ch = p->in_c, ch16 = ch & ~15;
    const int32_t off = p->out_offset, lo = p->act_min, hi = p->act_max;
    const int32_t *rq = p->dw_rq;
    int32_t c, j, t;
    for (c = 0; c < ch; ) {
        const int32_t width = c < ch16 ? 16 : (pairs && ((ch - c) & 8) ? 8 : 4);
        const uintptr_t bc = base + (uintptr_t)c;
        for (j = 0; j < width; j++) {
            /* rq group and lane of channel j: with pairs, 16-channel blocks hold {0,2,4,6} {1,3,5,7} {8,..,14}
             * {9,..,15} and 8-channel blocks {0,2,4,6} {1,3,5,7}; otherwise groups of 4 in order */
            const int permuted = pairs && width > 4;
            const int32_t g = permuted ? ((j >> 3) << 1) + (j & 1) : j >> 2, lane = permuted ? (j & 7) >> 1 : j & 3;
            const int32_t *q = rq + g * EK_RQ_WORDS;
            uint32_t acc = (uint32_t)q[lane];
            for (t = 0; t < ntaps; t++) {
                const int8_t *xp = (const int8_t *)(bc + (uintptr_t)offs[t]);
                acc += (uint32_t)((int32_t)xp[j] * (int32_t)fp[t * width + j]);
            }
            out[c + j] = (int8_t)ek_clamp_i32(ek_mbqm((int32_t)acc, q[4 + lane], ek_rq_shift(q, lane)) + off, lo, hi);
        }
        fp += ntaps * width;
        rq += EK_RQ_WORDS * (width / 4);
        c += width;
    }
}
#endif

/* depthwise_pixels for the MVE depthwise kernels; `pairs` is a constant (each kernel below gets its own copy).
 * pairs 0 (ek_depthwise_conv2d_s8_mve, any weights): channels in blocks of 16 ([tap][16] each), then of 4
 * ([tap][4]); 4 int32 lanes per VMUL + VADD, a 16-channel block's 4 input and 4 weight loads per tap at immediate
 * offsets.
 * pairs 1 (ek_depthwise_conv2d_s8_mve_pairs, weights in [-127, 127], so that the sum of two int8 x int8 products
 * fits int16): blocks of 16, then one of 8 if in_c & 8, then one of 4 if in_c & 4; per tap pair and 8 channels two
 * VMUL.I16 and a VADD.I16, the sums widened (VMOVLB / VMOVLT) into the int32 accumulators: 28 instructions per 2
 * taps x 16 channels. The accumulators hold channels {0,2,4,6}, {1,3,5,7}, {8,10,12,14}, {9,11,13,15} of a 16-block
 * ({0,2,4,6}, {1,3,5,7} of an 8-block): the rq groups come in that order (the generator permutes them), and the
 * results are narrowed back into channel order (VQMOVNB / VQMOVNT).
 * Both: per group of 4 channels the EK_RQ_WORDS dw_rq words (ek_common.h); the 4-channel blocks in int32 lanes. */
EK_INLINE void depthwise_pixels_mve_any(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs, int32_t ntaps,
                                       const void *filter_, int8_t *out, int32_t npix, intptr_t step, const int pairs) {
    const int8_t *filter = (const int8_t *)filter_;
    const int32_t ch = p->in_c;
    for (; npix > 0; npix--, base += (uintptr_t)step, out += ch) {
#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
        const int32_t ch16 = ch & ~15, off = p->out_offset, lo = p->act_min, hi = p->act_max;
        const int8_t *fp = filter;
        const int32_t *rq = p->dw_rq;
        int32_t c;
        const int32x4_t lo_v = vdupq_n_s32(lo), hi_v = vdupq_n_s32(hi);
        for (c = 0; c < ch16; c += 16, rq += 4 * EK_RQ_WORDS) {
            const uintptr_t bc = base + (uintptr_t)c;
            int32x4_t a0 = vldrwq_s32(rq), a1 = vldrwq_s32(rq + EK_RQ_WORDS);
            int32x4_t a2 = vldrwq_s32(rq + 2 * EK_RQ_WORDS), a3 = vldrwq_s32(rq + 3 * EK_RQ_WORDS);
            if (pairs) {
                const intptr_t *o = offs;
                int16x8_t x, w, pr;
                uint32_t t0, t1;
                if (ntaps >= 2) {
                    __asm__ __volatile__(
                        "dls lr, %[n]\n"
                        "1:\n\t"
                        "ldr %[t0], [%[o]], #4\n\t"
                        "ldr %[t1], [%[o]], #4\n\t"
                        "add %[t0], %[t0], %[bc]\n\t"
                        "add %[t1], %[t1], %[bc]\n\t"
                        "vldrb.s16 %q[x], [%[t0]]\n\t"
                        "vldrb.s16 %q[w], [%[f]]\n\t"
                        "vmul.i16 %q[p], %q[x], %q[w]\n\t"
                        "vldrb.s16 %q[x], [%[t1]]\n\t"
                        "vldrb.s16 %q[w], [%[f], #16]\n\t"
                        "vmul.i16 %q[x], %q[x], %q[w]\n\t"
                        "vadd.i16 %q[p], %q[p], %q[x]\n\t"
                        "vmovlb.s16 %q[x], %q[p]\n\t"
                        "vadd.i32 %q[a0], %q[a0], %q[x]\n\t"
                        "vmovlt.s16 %q[x], %q[p]\n\t"
                        "vadd.i32 %q[a1], %q[a1], %q[x]\n\t"
                        "vldrb.s16 %q[x], [%[t0], #8]\n\t"
                        "vldrb.s16 %q[w], [%[f], #8]\n\t"
                        "vmul.i16 %q[p], %q[x], %q[w]\n\t"
                        "vldrb.s16 %q[x], [%[t1], #8]\n\t"
                        "vldrb.s16 %q[w], [%[f], #24]\n\t"
                        "vmul.i16 %q[x], %q[x], %q[w]\n\t"
                        "vadd.i16 %q[p], %q[p], %q[x]\n\t"
                        "vmovlb.s16 %q[x], %q[p]\n\t"
                        "vadd.i32 %q[a2], %q[a2], %q[x]\n\t"
                        "vmovlt.s16 %q[x], %q[p]\n\t"
                        "vadd.i32 %q[a3], %q[a3], %q[x]\n\t"
                        "adds %[f], #32\n\t"
                        "le lr, 1b\n\t"
                        : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3), [x] "=&w"(x), [w] "=&w"(w),
                          [p] "=&w"(pr), [t0] "=&l"(t0), [t1] "=&l"(t1), [o] "+r"(o), [f] "+l"(fp)
                        : [n] "r"(ntaps >> 1), [bc] "r"(bc)
                        : "lr", "memory");
                }
                if (ntaps & 1) {
                    const int8_t *xp = (const int8_t *)(bc + (uintptr_t)*o);
                    int16x8_t q = vmulq_s16(vldrbq_s16(xp), vldrbq_s16(fp));
                    a0 = vaddq_s32(a0, vmovlbq_s16(q));
                    a1 = vaddq_s32(a1, vmovltq_s16(q));
                    q = vmulq_s16(vldrbq_s16(xp + 8), vldrbq_s16(fp + 8));
                    a2 = vaddq_s32(a2, vmovlbq_s16(q));
                    a3 = vaddq_s32(a3, vmovltq_s16(q));
                    fp += 16;
                }
                {
                    /* 4 x 11 instructions of requantization, then per 8 channels a saturating narrowing into channel
                     * order (VQMOVNB / VQMOVNT), the clamp on int16 lanes and one 8-byte store */
                    const int32_t *q = rq;
                    int8_t *dst = out + c;
                    int32x4_t t, u;
                    __asm__ __volatile__(
                        EK_MVE_RQ_ASM("a0", "off") EK_MVE_RQ_ASM("a1", "off") EK_MVE_RQ_ASM("a2", "off")
                        EK_MVE_RQ_ASM("a3", "off")
                        "vqmovnb.s32 %q[t], %q[a0]\n\t"
                        "vqmovnt.s32 %q[t], %q[a1]\n\t"
                        "vdup.16 %q[u], %[lo]\n\t"
                        "vmax.s16 %q[t], %q[t], %q[u]\n\t"
                        "vdup.16 %q[u], %[hi]\n\t"
                        "vmin.s16 %q[t], %q[t], %q[u]\n\t"
                        "vstrb.16 %q[t], [%[dst]]\n\t"
                        "vqmovnb.s32 %q[t], %q[a2]\n\t"
                        "vqmovnt.s32 %q[t], %q[a3]\n\t"
                        "vdup.16 %q[u], %[lo]\n\t"
                        "vmax.s16 %q[t], %q[t], %q[u]\n\t"
                        "vdup.16 %q[u], %[hi]\n\t"
                        "vmin.s16 %q[t], %q[t], %q[u]\n\t"
                        "vstrb.16 %q[t], [%[dst], #8]\n\t"
                        : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3), [t] "=&w"(t), [u] "=&w"(u),
                          [rq] "+l"(q)
                        : [off] "r"(off), [lo] "r"(lo), [hi] "r"(hi), [dst] "l"(dst)
                        : "memory");
                }
            } else {
                if (ntaps > 0) {
                    /* 19 instructions per tap (16 MACs): tap offset, address, 4 x (2 loads, VMUL, VADD), the loop */
                    const intptr_t *o = offs;
                    int32x4_t x, w;
                    uint32_t addr;
                    __asm__ __volatile__(
                        "dls lr, %[n]\n"
                        "1:\n\t"
                        "ldr %[t], [%[o]], #4\n\t"
                        "add %[t], %[t], %[bc]\n\t"
                        "vldrb.s32 %q[x], [%[t]]\n\t"
                        "vldrb.s32 %q[w], [%[f]]\n\t"
                        "vmul.i32 %q[x], %q[x], %q[w]\n\t"
                        "vadd.i32 %q[a0], %q[a0], %q[x]\n\t"
                        "vldrb.s32 %q[x], [%[t], #4]\n\t"
                        "vldrb.s32 %q[w], [%[f], #4]\n\t"
                        "vmul.i32 %q[x], %q[x], %q[w]\n\t"
                        "vadd.i32 %q[a1], %q[a1], %q[x]\n\t"
                        "vldrb.s32 %q[x], [%[t], #8]\n\t"
                        "vldrb.s32 %q[w], [%[f], #8]\n\t"
                        "vmul.i32 %q[x], %q[x], %q[w]\n\t"
                        "vadd.i32 %q[a2], %q[a2], %q[x]\n\t"
                        "vldrb.s32 %q[x], [%[t], #12]\n\t"
                        "vldrb.s32 %q[w], [%[f], #12]\n\t"
                        "adds %[f], #16\n\t"
                        "vmul.i32 %q[x], %q[x], %q[w]\n\t"
                        "vadd.i32 %q[a3], %q[a3], %q[x]\n\t"
                        "le lr, 1b\n\t"
                        : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3), [x] "=&w"(x), [w] "=&w"(w),
                          [t] "=&l"(addr), [o] "+r"(o), [f] "+l"(fp)
                        : [n] "r"(ntaps), [bc] "r"(bc)
                        : "lr", "memory");
                }
                vstrbq_s32(out + c, ek_mve_requant_rq(a0, rq, off, lo_v, hi_v));
                vstrbq_s32(out + c + 4, ek_mve_requant_rq(a1, rq + EK_RQ_WORDS, off, lo_v, hi_v));
                vstrbq_s32(out + c + 8, ek_mve_requant_rq(a2, rq + 2 * EK_RQ_WORDS, off, lo_v, hi_v));
                vstrbq_s32(out + c + 12, ek_mve_requant_rq(a3, rq + 3 * EK_RQ_WORDS, off, lo_v, hi_v));
            }
        }
        if (pairs && (ch & 8)) { /* one block of 8: the same pair sums on one int16 vector, 17 per 2 taps */
            const uintptr_t bc = base + (uintptr_t)c;
            int32x4_t a0 = vldrwq_s32(rq), a1 = vldrwq_s32(rq + EK_RQ_WORDS);
            const intptr_t *o = offs;
            const int32_t *q = rq;
            int16x8_t x, w, pr;
            int32x4_t u;
            uint32_t t0, t1;
            if (ntaps >= 2) {
                __asm__ __volatile__(
                    "dls lr, %[n]\n"
                    "1:\n\t"
                    "ldr %[t0], [%[o]], #4\n\t"
                    "ldr %[t1], [%[o]], #4\n\t"
                    "add %[t0], %[t0], %[bc]\n\t"
                    "add %[t1], %[t1], %[bc]\n\t"
                    "vldrb.s16 %q[x], [%[t0]]\n\t"
                    "vldrb.s16 %q[w], [%[f]]\n\t"
                    "vmul.i16 %q[p], %q[x], %q[w]\n\t"
                    "vldrb.s16 %q[x], [%[t1]]\n\t"
                    "vldrb.s16 %q[w], [%[f], #8]\n\t"
                    "vmul.i16 %q[x], %q[x], %q[w]\n\t"
                    "vadd.i16 %q[p], %q[p], %q[x]\n\t"
                    "vmovlb.s16 %q[x], %q[p]\n\t"
                    "vadd.i32 %q[a0], %q[a0], %q[x]\n\t"
                    "vmovlt.s16 %q[x], %q[p]\n\t"
                    "vadd.i32 %q[a1], %q[a1], %q[x]\n\t"
                    "adds %[f], #16\n\t"
                    "le lr, 1b\n\t"
                    : [a0] "+w"(a0), [a1] "+w"(a1), [x] "=&w"(x), [w] "=&w"(w), [p] "=&w"(pr), [t0] "=&l"(t0),
                      [t1] "=&l"(t1), [o] "+r"(o), [f] "+l"(fp)
                    : [n] "r"(ntaps >> 1), [bc] "r"(bc)
                    : "lr", "memory");
            }
            if (ntaps & 1) {
                const int16x8_t m = vmulq_s16(vldrbq_s16((const int8_t *)(bc + (uintptr_t)*o)), vldrbq_s16(fp));
                a0 = vaddq_s32(a0, vmovlbq_s16(m));
                a1 = vaddq_s32(a1, vmovltq_s16(m));
                fp += 8;
            }
            {
                int8_t *dst = out + c;
                int32x4_t t;
                __asm__ __volatile__(
                    EK_MVE_RQ_ASM("a0", "off") EK_MVE_RQ_ASM("a1", "off")
                    "vqmovnb.s32 %q[t], %q[a0]\n\t"
                    "vqmovnt.s32 %q[t], %q[a1]\n\t"
                    "vdup.16 %q[u], %[lo]\n\t"
                    "vmax.s16 %q[t], %q[t], %q[u]\n\t"
                    "vdup.16 %q[u], %[hi]\n\t"
                    "vmin.s16 %q[t], %q[t], %q[u]\n\t"
                    "vstrb.16 %q[t], [%[dst]]\n\t"
                    : [a0] "+w"(a0), [a1] "+w"(a1), [t] "=&w"(t), [u] "=&w"(u), [rq] "+l"(q)
                    : [off] "r"(off), [lo] "r"(lo), [hi] "r"(hi), [dst] "l"(dst)
                    : "memory");
            }
            c += 8;
            rq += 2 * EK_RQ_WORDS;
        }
        for (; c < ch; c += 4, rq += EK_RQ_WORDS, fp += 4 * ntaps) {
            mve_dw_block4(base + (uintptr_t)c, offs, ntaps, fp, rq, off, lo_v, hi_v, out + c);
        }
#else
        mve_dw_pixel_c(p, base, offs, ntaps, filter, out, pairs);
#endif
    }
}

static EK_NOINLINE void depthwise_pixels_mve(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                             int32_t ntaps, const void *filter, int8_t *out, int32_t npix,
                                             intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 0);
}

static EK_NOINLINE void depthwise_pixels_mve_pairs(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                                   int32_t ntaps, const void *filter, int8_t *out, int32_t npix,
                                                   intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 1);
}

void ek_depthwise_conv2d_s8_mve_pairs(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                      const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve_pairs);
}

void ek_depthwise_conv2d_s8_mve(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve);
}

void ek_depthwise_conv2d_s8_fast(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels);
}

void ek_depthwise_conv2d_s8_packed(const ek_conv_params_t *p, const int8_t *input, const int16_t *filter,
                                   const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels16);
}

void ek_depthwise_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output) {
    ek_depthwise_conv2d_s8_taps(p, input, filter, bias, output, NULL);
}

void ek_depthwise_conv2d_s8_taps(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, int8_t *output, void *scratch) {
    if (scratch != NULL && p->dw_bias_full != NULL && p->depth_multiplier == 1 && p->in_c % 4 == 0 &&
        p->k_h * p->k_w <= EK_DW_MAX_TAPS) {
        depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels);
    } else if (p->depth_multiplier == 1) {
        depthwise_m1(p, input, filter, bias, output);
    } else {
        depthwise_any(p, input, filter, bias, output);
    }
}
