/* edgekit AOT runtime: int8 depthwise convolutions, portable C with SMLAD paths on DSP cores (see ek_conv.h).
 * ek_depthwise_taps is shared with the MVE kernels (ek_depthwise_mve.c). */
#include "ek_conv.h"

#include "ek_depthwise_internal.h"
#include "ek_simd.h"

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

#if EK_HAVE_DSP && defined(__thumb2__)
/* Accumulator A requantized in place with its channel's dw_rq words at byte offsets MO (mult), RO (round), SO
 * (rshift) from %[q]: ek_dw_requant. */
#define EK_DW_RQ_ASM(A, MO, RO, SO)                         \
    "ldr %[m], [%[q], #" MO "]\n\t"                        \
    "ldr %[r], [%[q], #" RO "]\n\t"                        \
    "ldr %[sh], [%[q], #" SO "]\n\t"                       \
    "and %[t0], %[" A "], #0x80000000\n\t"                 \
    "orr %[t0], %[t0], #0x40000000\n\t"                    \
    "add %[t1], %[r], %[" A "], asr #31\n\t"               \
    "smlal %[t0], %[t1], %[" A "], %[m]\n\t"               \
    "asr %[" A "], %[t1], %[sh]\n\t"
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
    const uint32_t act4[2] = {act_min4, act_max4};
    int32_t c;
    (void)act4;
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
#if EK_HAVE_DSP && defined(__thumb2__) && !EK_SINGLE_ROUNDING
            {
                /* the same in one asm block (gcc spills around the C version): per channel 3 loads of its rq words,
                 * ek_dw_requant's 64-bit multiply-accumulate, then offset, SSAT, BFI, SSUB8 / SEL, one store */
                uint32_t m, r, sh, t0, t1;
                __asm__ __volatile__(
                    EK_DW_RQ_ASM("a0", "16", "32", "48") EK_DW_RQ_ASM("a1", "20", "36", "52")
                    EK_DW_RQ_ASM("a2", "24", "40", "56") EK_DW_RQ_ASM("a3", "28", "44", "60")
                    "ldr %[t0], %[off]\n\t"
                    "add %[a0], %[a0], %[t0]\n\t"
                    "add %[a1], %[a1], %[t0]\n\t"
                    "add %[a2], %[a2], %[t0]\n\t"
                    "add %[a3], %[a3], %[t0]\n\t"
                    "ssat %[a0], #8, %[a0]\n\t"
                    "ssat %[a1], #8, %[a1]\n\t"
                    "ssat %[a2], #8, %[a2]\n\t"
                    "ssat %[a3], #8, %[a3]\n\t"
                    "bfi %[a0], %[a1], #8, #8\n\t"
                    "bfi %[a0], %[a2], #16, #8\n\t"
                    "bfi %[a0], %[a3], #24, #8\n\t"
                    "ldrd %[t0], %[t1], %[lohi]\n\t"
                    "ssub8 %[m], %[a0], %[t0]\n\t"
                    "sel %[a0], %[a0], %[t0]\n\t"
                    "ssub8 %[m], %[t1], %[a0]\n\t"
                    "sel %[a0], %[a0], %[t1]\n\t"
                    "str %[a0], [%[dst]]\n\t"
                    : [a0] "+&r"(a0), [a1] "+&r"(a1), [a2] "+&r"(a2), [a3] "+&r"(a3), [m] "=&r"(m), [r] "=&r"(r),
                      [sh] "=&r"(sh), [t0] "=&r"(t0), [t1] "=&r"(t1)
                    : [q] "r"(q), [dst] "r"(out + c), [off] "m"(out_offset), [lohi] "m"(act4)
                    : "memory");
            }
#else
            {
                /* the 4 results saturated to int8, packed into one word, clamped lane-wise, one store */
                const int32_t v0 = ek_ssat8(ek_dw_requant(a0, q + 4) + out_offset);
                const int32_t v1 = ek_ssat8(ek_dw_requant(a1, q + 5) + out_offset);
                const int32_t v2 = ek_ssat8(ek_dw_requant(a2, q + 6) + out_offset);
                const int32_t v3 = ek_ssat8(ek_dw_requant(a3, q + 7) + out_offset);
                ek_st32(out + c, ek_clamp_s8x4(ek_pack_s8x4(v0, v1, v2, v3), act_min4, act_max4));
            }
#endif
        }
    }
}

/* Depthwise, multiplier 1, ch % 4 == 0, k_h * k_w <= EK_DW_MAX_TAPS, with dw_bias_full and the regrouped
 * filter. Runs of output pixels whose whole window lies inside the input share one offset table (one call
 * per run); a pixel whose window touches the padding gets its own table, padding taps reading zp_row
 * (ch input zero points, in scratch). Addresses are computed as integers (modulo 2^N) so that no pointer
 * ever points outside its object. */
void ek_depthwise_taps(const ek_conv_params_t *p, const int8_t *input, const void *filter, int8_t *output,
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

void ek_depthwise_conv2d_s8_fast(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels);
}

void ek_depthwise_conv2d_s8_packed(const ek_conv_params_t *p, const int8_t *input, const int16_t *filter,
                                   const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels16);
}

void ek_depthwise_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output) {
    ek_depthwise_conv2d_s8_taps(p, input, filter, bias, output, NULL);
}

void ek_depthwise_conv2d_s8_taps(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, int8_t *output, void *scratch) {
    if (scratch != NULL && p->dw_bias_full != NULL && p->depth_multiplier == 1 && p->in_c % 4 == 0 &&
        p->k_h * p->k_w <= EK_DW_MAX_TAPS) {
        ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels);
    } else if (p->depth_multiplier == 1) {
        depthwise_m1(p, input, filter, bias, output);
    } else {
        depthwise_any(p, input, filter, bias, output);
    }
}
