/* edgekit AOT runtime: int8 depthwise convolutions for MVE (Helium) cores, portable C with the same results
 * elsewhere (see ek_conv.h); the pixel loop they run in is ek_depthwise_taps (ek_depthwise.c). 9-tap layers of
 * in_c % 16 == 0 have their own kernel (ek_depthwise_t9.c). */
#include "ek_conv.h"

#include "ek_depthwise_internal.h"
#include "ek_simd.h"

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

#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
/* Arguments of dw16_pairs_asm (field offsets in the asm: 0 base, 4 offs, 8 npairs, 12 odd, 16 filter, 20 rq,
 * 24 out, 28 npix, 32 step, 36 nblk, 40 ch, 44 off, 48 lo, 52 hi). */
typedef struct {
    uintptr_t base;
    const intptr_t *offs;
    int32_t npairs, odd; /* ntaps >> 1, ntaps & 1 */
    const int8_t *filter;
    const int32_t *rq;
    int8_t *out;
    int32_t npix;
    intptr_t step;
    int32_t nblk, ch, off, lo, hi;
} dw16_args_t;

/* The 16-channel blocks of ek_depthwise_conv2d_s8_mve_pairs for a->npix pixels, all in one naked function (no
 * compiler glue between the tap loop and the requantization): per block the 4 int32 accumulators q0..q3 start at
 * the rq groups' biases; per tap pair two VMUL.I16 per 8 channels and their VADD.I16, widened into the
 * accumulators (VMOVLB / VMOVLT), a WLS / LE loop; an odd last tap the same way without its partner; then the 4
 * groups requantized in place (VSHL, VQRDMULH, ties-away fix-up, VRSHL, + off), narrowed into channel order
 * (VQMOVNB / VQMOVNT), clamped on int16 lanes (lo in q6 per block, hi in q7 for the call), two 8-byte stores.
 * Registers: r0 args, r1 block base, r2 tap offsets, r3 / r4 tap addresses, r5 filter, r6 rq, r7 output,
 * r8 pixel base, r9 pixels left, r10 blocks left, r11 pixel output, r12 scalars, lr the tap loop. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* a naked function reads its argument in the asm */
/* One rq group of dw16_pairs_asm requantized in place: SHL(A, G) the left shift (EK_DW16_SHL) or none
 * (EK_DW16_NO_SHL: every channel's out_shift <= 0). */
#define EK_DW16_SHL(A, G) "vldrb.s32 q4, [r6, #" G "32]\n\t" "vshl.s32 " A ", " A ", q4\n\t"
#define EK_DW16_NO_SHL(A, G) ""
#define EK_DW16_RQ(A, G, SHL)                 \
        SHL(A, G)                             \
        "vldrw.32 q4, [r6, #" G "16]\n\t"     \
        "vqrdmulh.s32 " A ", " A ", q4\n\t"   \
        "vldrb.s32 q4, [r6, #" G "36]\n\t"    \
        "vand q5, " A ", q4\n\t"              \
        "vshr.s32 q5, q5, #31\n\t"            \
        "vqadd.s32 " A ", " A ", q5\n\t"      \
        "vrshl.s32 " A ", " A ", q4\n\t"      \
        "vadd.i32 " A ", " A ", r12\n\t"
#define EK_DW16_ASM(NAME, SHL) \
__attribute__((naked, noinline)) static void NAME(const dw16_args_t *a) {                                        \
    __asm__ volatile(                                                                                            \
        "push {r4-r11, lr}\n\t"                                                                                  \
        "vpush {d8-d15}\n\t"                                                                                     \
        "ldr r8, [r0]\n\t"                                                                                       \
        "ldr r9, [r0, #28]\n\t"                                                                                  \
        "ldr r11, [r0, #24]\n\t"                                                                                 \
        "ldr r12, [r0, #52]\n\t"                                                                                 \
        "vdup.16 q7, r12\n"                                                                                      \
        "1:\n\t" /* a pixel */                                                                                   \
        "ldrd r5, r6, [r0, #16]\n\t"                                                                             \
        "mov r1, r8\n\t"                                                                                         \
        "mov r7, r11\n\t"                                                                                        \
        "ldr r10, [r0, #36]\n"                                                                                   \
        "2:\n\t" /* a block of 16 channels */                                                                    \
        "vldrw.32 q0, [r6]\n\t"                                                                                  \
        "vldrw.32 q1, [r6, #40]\n\t"                                                                             \
        "vldrw.32 q2, [r6, #80]\n\t"                                                                             \
        "vldrw.32 q3, [r6, #120]\n\t"                                                                            \
        "ldrd r2, r12, [r0, #4]\n\t"                                                                             \
        "wls lr, r12, 4f\n"                                                                                      \
        "3:\n\t"                                                                                                 \
        "ldr r3, [r2], #4\n\t"                                                                                   \
        "ldr r4, [r2], #4\n\t"                                                                                   \
        "add r3, r1\n\t"                                                                                         \
        "add r4, r1\n\t"                                                                                         \
        "vldrb.s16 q4, [r3]\n\t"                                                                                 \
        "vldrb.s16 q5, [r5]\n\t"                                                                                 \
        "vmul.i16 q6, q4, q5\n\t"                                                                                \
        "vldrb.s16 q4, [r4]\n\t"                                                                                 \
        "vldrb.s16 q5, [r5, #16]\n\t"                                                                            \
        "vmul.i16 q4, q4, q5\n\t"                                                                                \
        "vadd.i16 q6, q6, q4\n\t"                                                                                \
        "vmovlb.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q0, q0, q4\n\t"                                                                                \
        "vmovlt.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q1, q1, q4\n\t"                                                                                \
        "vldrb.s16 q4, [r3, #8]\n\t"                                                                             \
        "vldrb.s16 q5, [r5, #8]\n\t"                                                                             \
        "vmul.i16 q6, q4, q5\n\t"                                                                                \
        "vldrb.s16 q4, [r4, #8]\n\t"                                                                             \
        "vldrb.s16 q5, [r5, #24]\n\t"                                                                            \
        "vmul.i16 q4, q4, q5\n\t"                                                                                \
        "vadd.i16 q6, q6, q4\n\t"                                                                                \
        "vmovlb.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q2, q2, q4\n\t"                                                                                \
        "vmovlt.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q3, q3, q4\n\t"                                                                                \
        "adds r5, #32\n\t"                                                                                       \
        "le lr, 3b\n"                                                                                            \
        "4:\n\t"                                                                                                 \
        "ldr r3, [r0, #12]\n\t"                                                                                  \
        "cbz r3, 5f\n\t"                                                                                         \
        "ldr r3, [r2]\n\t"                                                                                       \
        "add r3, r1\n\t"                                                                                         \
        "vldrb.s16 q4, [r3]\n\t"                                                                                 \
        "vldrb.s16 q5, [r5]\n\t"                                                                                 \
        "vmul.i16 q6, q4, q5\n\t"                                                                                \
        "vmovlb.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q0, q0, q4\n\t"                                                                                \
        "vmovlt.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q1, q1, q4\n\t"                                                                                \
        "vldrb.s16 q4, [r3, #8]\n\t"                                                                             \
        "vldrb.s16 q5, [r5, #8]\n\t"                                                                             \
        "vmul.i16 q6, q4, q5\n\t"                                                                                \
        "vmovlb.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q2, q2, q4\n\t"                                                                                \
        "vmovlt.s16 q4, q6\n\t"                                                                                  \
        "vadd.i32 q3, q3, q4\n\t"                                                                                \
        "adds r5, #16\n"                                                                                         \
        "5:\n\t" /* requantize the 4 groups (widening loads reach 127 bytes: r6 moves by 80 after two groups) */ \
        "ldr r12, [r0, #44]\n\t"                                                                                 \
        EK_DW16_RQ("q0", "", SHL) EK_DW16_RQ("q1", "40+", SHL)                                                   \
        "adds r6, #80\n\t"                                                                                       \
        EK_DW16_RQ("q2", "", SHL) EK_DW16_RQ("q3", "40+", SHL)                                                   \
        "adds r6, #80\n\t"                                                                                       \
        "ldr r12, [r0, #48]\n\t"                                                                                 \
        "vdup.16 q6, r12\n\t"                                                                                    \
        "vqmovnb.s32 q4, q0\n\t"                                                                                 \
        "vqmovnt.s32 q4, q1\n\t"                                                                                 \
        "vmax.s16 q4, q4, q6\n\t"                                                                                \
        "vmin.s16 q4, q4, q7\n\t"                                                                                \
        "vstrb.16 q4, [r7]\n\t"                                                                                  \
        "vqmovnb.s32 q5, q2\n\t"                                                                                 \
        "vqmovnt.s32 q5, q3\n\t"                                                                                 \
        "vmax.s16 q5, q5, q6\n\t"                                                                                \
        "vmin.s16 q5, q5, q7\n\t"                                                                                \
        "vstrb.16 q5, [r7, #8]\n\t"                                                                              \
        "adds r7, #16\n\t"                                                                                       \
        "adds r1, #16\n\t"                                                                                       \
        "subs r10, #1\n\t"                                                                                       \
        "bne 2b\n\t"                                                                                             \
        "ldr r12, [r0, #32]\n\t"                                                                                 \
        "add r8, r12\n\t"                                                                                        \
        "ldr r12, [r0, #40]\n\t"                                                                                 \
        "add r11, r12\n\t"                                                                                       \
        "subs r9, #1\n\t"                                                                                        \
        "bne 1b\n\t"                                                                                             \
        "vpop {d8-d15}\n\t"                                                                                      \
        "pop {r4-r11, pc}\n\t");                                                                                 \
}
EK_DW16_ASM(dw16_pairs_asm, EK_DW16_SHL)
EK_DW16_ASM(dw16_pairs_asm_nls, EK_DW16_NO_SHL)
#pragma GCC diagnostic pop
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
 * results are narrowed back into channel order (VQMOVNB / VQMOVNT). The 16-channel blocks run in dw16_pairs_asm
 * (all pixels of the run in one call when in_c % 16 == 0), the 8- and 4-channel blocks below.
 * Both: per group of 4 channels the EK_RQ_WORDS dw_rq words (ek_common.h); the 4-channel blocks in int32 lanes. */
EK_INLINE void depthwise_pixels_mve_any(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs, int32_t ntaps,
                                       const void *filter_, int8_t *out, int32_t npix, intptr_t step, const int pairs,
                                       const int nls, const int ch8) {
    const int8_t *filter = (const int8_t *)filter_;
    const int32_t ch = ch8 ? 8 : p->in_c; /* ch8: a copy for 8 channels only (no 16- or 4-channel blocks) */
#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
    dw16_args_t args;
#define DW16_CALL(a) (nls ? dw16_pairs_asm_nls(a) : dw16_pairs_asm(a))
    if (pairs && ch >= 16) { /* the 16-channel blocks in dw16_pairs_asm: all pixels at once if there is no rest */
        args.base = base;
        args.offs = offs;
        args.npairs = ntaps >> 1;
        args.odd = ntaps & 1;
        args.filter = filter;
        args.rq = p->dw_rq;
        args.out = out;
        args.npix = (ch & 15) == 0 ? npix : 1;
        args.step = step;
        args.nblk = ch >> 4;
        args.ch = ch;
        args.off = p->out_offset;
        args.lo = p->act_min;
        args.hi = p->act_max;
        if ((ch & 15) == 0) {
            DW16_CALL(&args);
            return;
        }
    }
    if (pairs && ch == 8 && step == 8 && npix >= 2) {
        /* 8 channels, stride 1: two neighbouring pixels are 16 contiguous bytes per tap, one 16-channel block for
         * dw16_pairs_asm with the generator's doubled taps (after the 8-channel ones) and rq groups (g0 g1 g0 g1) */
        const int32_t n2 = npix & ~1;
        args.base = base;
        args.offs = offs;
        args.npairs = ntaps >> 1;
        args.odd = ntaps & 1;
        args.filter = filter + (size_t)ntaps * 8;
        args.rq = p->dw_rq;
        args.out = out;
        args.npix = n2 >> 1;
        args.step = 16;
        args.nblk = 1;
        args.ch = 16;
        args.off = p->out_offset;
        args.lo = p->act_min;
        args.hi = p->act_max;
        DW16_CALL(&args);
        base += (uintptr_t)n2 * 8;
        out += n2 * 8;
        npix -= n2;
    }
#endif
    for (; npix > 0; npix--, base += (uintptr_t)step, out += ch) {
#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
        const int32_t ch16 = ch & ~15, off = p->out_offset, lo = p->act_min, hi = p->act_max;
        const int8_t *fp = filter;
        const int32_t *rq = p->dw_rq;
        int32_t c = 0;
        const int32x4_t lo_v = vdupq_n_s32(lo), hi_v = vdupq_n_s32(hi);
        if (pairs && ch16 > 0) {
            args.base = base;
            args.out = out;
            DW16_CALL(&args);
            fp += (size_t)ch16 * ntaps;
            rq += (ch16 >> 2) * EK_RQ_WORDS;
            c = ch16;
        }
        for (; !pairs && c < ch16; c += 16, rq += 4 * EK_RQ_WORDS) { /* pairs: dw16_pairs_asm above */
            const uintptr_t bc = base + (uintptr_t)c;
            int32x4_t a0 = vldrwq_s32(rq), a1 = vldrwq_s32(rq + EK_RQ_WORDS);
            int32x4_t a2 = vldrwq_s32(rq + 2 * EK_RQ_WORDS), a3 = vldrwq_s32(rq + 3 * EK_RQ_WORDS);
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
    (void)nls;
#undef DW16_CALL
}

static EK_NOINLINE void depthwise_pixels_mve(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                             int32_t ntaps, const void *filter, int8_t *out, int32_t npix,
                                             intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 0, 0, 0);
}

static EK_NOINLINE void depthwise_pixels_mve_pairs(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                                   int32_t ntaps, const void *filter, int8_t *out, int32_t npix,
                                                   intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 1, 0, 0);
}

/* depthwise_pixels_mve_pairs for layers without a left shift (dw16_pairs_asm_nls) */
static EK_NOINLINE void depthwise_pixels_mve_pairs_nls(const ek_conv_params_t *p, uintptr_t base,
                                                       const intptr_t *offs, int32_t ntaps, const void *filter,
                                                       int8_t *out, int32_t npix, intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 1, 1, 0);
}

/* depthwise_pixels_mve_pairs(_nls) for in_c == 8 (the generator's choice): only the 8-channel code */
static EK_NOINLINE void depthwise_pixels_mve_pairs8(const ek_conv_params_t *p, uintptr_t base, const intptr_t *offs,
                                                    int32_t ntaps, const void *filter, int8_t *out, int32_t npix,
                                                    intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 1, 0, 1);
}

static EK_NOINLINE void depthwise_pixels_mve_pairs8_nls(const ek_conv_params_t *p, uintptr_t base,
                                                        const intptr_t *offs, int32_t ntaps, const void *filter,
                                                        int8_t *out, int32_t npix, intptr_t step) {
    depthwise_pixels_mve_any(p, base, offs, ntaps, filter, out, npix, step, 1, 1, 1);
}

void ek_depthwise_conv2d_s8_mve_pairs(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                      const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve_pairs);
}

void ek_depthwise_conv2d_s8_mve_pairs_nls(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                          const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve_pairs_nls);
}

void ek_depthwise_conv2d_s8_mve_pairs8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                       const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve_pairs8);
}

void ek_depthwise_conv2d_s8_mve_pairs8_nls(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                           const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve_pairs8_nls);
}

void ek_depthwise_conv2d_s8_mve(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, int8_t *output, void *scratch) {
    (void)bias;
    ek_depthwise_taps(p, input, filter, output, (int8_t *)scratch, depthwise_pixels_mve);
}
