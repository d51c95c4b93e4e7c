/* edgekit AOT runtime: FULLY_CONNECTED with the filter pre-widened to int16 (see ek_fully_connected_s8_w16 in
 * ek_fully_connected.h). Per group of 4 input values and 4 filter rows: one input word sign-extended once (2 SXTB16),
 * the rows' 8 weight words in two LDM, 8 SMLAD. */
#include "ek_fully_connected.h"

#include "ek_simd.h"

/* One group: input word, its two SXTB16, rows 0-1 then rows 2-3 (4 weight words each, ascending registers). */
#define EK_FCW16_GROUP_ASM                               \
    "ldr %[xh], [%[px]], #4\n\t"                         \
    "ldm %[pw]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"       \
    "sxtb16 %[xl], %[xh]\n\t"                            \
    "sxtb16 %[xh], %[xh], ror #8\n\t"                    \
    "smlad %[a0], %[w0], %[xl], %[a0]\n\t"               \
    "smlad %[a0], %[w1], %[xh], %[a0]\n\t"               \
    "smlad %[a1], %[w2], %[xl], %[a1]\n\t"               \
    "smlad %[a1], %[w3], %[xh], %[a1]\n\t"               \
    "ldm %[pw]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"       \
    "smlad %[a2], %[w0], %[xl], %[a2]\n\t"               \
    "smlad %[a2], %[w1], %[xh], %[a2]\n\t"               \
    "smlad %[a3], %[w2], %[xl], %[a3]\n\t"               \
    "smlad %[a3], %[w3], %[xh], %[a3]\n\t"

/* 4 rows x `groups` groups of 4 raw input bytes at x; acc[0..3] accumulate. Returns the weights after them. */
static const ek_u32a_t *dot_4rows(const ek_u32a_t *pw, const int8_t *x, int32_t groups, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if EK_HAVE_DSP && defined(__thumb2__)
    register uint32_t w0 __asm__("r8");
    register uint32_t w1 __asm__("r9");
    register uint32_t w2 __asm__("r10");
    register uint32_t w3 __asm__("r11");
    uint32_t xl, xh;
    if (groups & 1) {
        __asm__ __volatile__(EK_FCW16_GROUP_ASM
                             : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [pw] "+r"(pw),
                               [px] "+r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3),
                               [xl] "=&r"(xl), [xh] "=&r"(xh)
                             :
                             : "memory");
    }
    if (groups >= 2) {
        const ek_u32a_t *end = pw + 8 * (groups & ~1);
        __asm__ __volatile__("1:\n\t" EK_FCW16_GROUP_ASM EK_FCW16_GROUP_ASM
                             "cmp %[pw], %[end]\n\t"
                             "bne 1b\n\t"
                             : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [pw] "+r"(pw),
                               [px] "+r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3),
                               [xl] "=&r"(xl), [xh] "=&r"(xh)
                             : [end] "r"(end)
                             : "cc", "memory");
    }
#else
    for (; groups > 0; groups--, pw += 8, x += 4) {
        const uint32_t xw = ek_ld32(x), xl = ek_sxtb16(xw), xh = ek_sxtb16_ror8(xw);
        a0 = ek_smlad(pw[1], xh, ek_smlad(pw[0], xl, a0));
        a1 = ek_smlad(pw[3], xh, ek_smlad(pw[2], xl, a1));
        a2 = ek_smlad(pw[5], xh, ek_smlad(pw[4], xl, a2));
        a3 = ek_smlad(pw[7], xh, ek_smlad(pw[6], xl, a3));
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return pw;
}

/* acc requantized with rs = -shift - 1 >= 1, rnd = 2^(rs - 1) (ek_mbqm_pos's formula; ek_mbqm in EK_SINGLE_ROUNDING
 * builds), + offset, clamped. */
EK_INLINE int8_t fc_rq(int32_t x, int32_t m, int32_t rnd, int32_t rs, int32_t off, int32_t lo, int32_t hi) {
#if EK_SINGLE_ROUNDING
    (void)rnd;
    return (int8_t)ek_clamp_i32(ek_mbqm(x, m, -rs - 1) + off, lo, hi);
#else
    const uint32_t lo0 = ((uint32_t)x & 0x80000000u) | 0x40000000u;
    const uint32_t hi0 = (uint32_t)(x >> 31) + (uint32_t)rnd;
    const int64_t acc = (int64_t)(((uint64_t)hi0 << 32) | lo0) + (int64_t)x * m;
    return (int8_t)ek_clamp_i32(((int32_t)(acc >> 32) >> rs) + off, lo, hi);
#endif
}

void ek_fully_connected_s8_w16(const ek_fc_params_t *p, const int8_t *input, const int16_t *filter,
                               const int32_t *rq, int8_t *output) {
    const int32_t batches = p->batches, depth = p->accum_depth, rows = p->out_depth;
    const int32_t groups = depth >> 2, rest = depth & 3, off = p->out_offset, lo = p->act_min, hi = p->act_max;
    int32_t b;
    for (b = 0; b < batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * rows;
        const ek_u32a_t *pw = (const ek_u32a_t *)(const void *)filter;
        const int32_t *q = rq;
        uint32_t xt = 0, tl = 0, th = 0;
        int32_t r = 0, k;
        for (k = 0; k < rest; k++) { /* the last rest (1..3) input values, zero-padded (their weights are 0) */
            xt |= (uint32_t)(uint8_t)x[4 * groups + k] << (8 * k);
        }
        tl = ek_sxtb16(xt);
        th = ek_sxtb16_ror8(xt);
        for (; r + 3 < rows; r += 4, q += 16) {
            int32_t acc[4];
            acc[0] = q[0];
            acc[1] = q[1];
            acc[2] = q[2];
            acc[3] = q[3];
            pw = dot_4rows(pw, x, groups, acc);
            if (rest != 0) {
                for (k = 0; k < 4; k++, pw += 2) {
                    acc[k] = ek_smlad(pw[1], th, ek_smlad(pw[0], tl, acc[k]));
                }
            }
            {
                /* all 4 results before the int8 stores (which may alias anything) */
                const int8_t v0 = fc_rq(acc[0], q[4], q[8], q[12], off, lo, hi);
                const int8_t v1 = fc_rq(acc[1], q[5], q[9], q[13], off, lo, hi);
                const int8_t v2 = fc_rq(acc[2], q[6], q[10], q[14], off, lo, hi);
                const int8_t v3 = fc_rq(acc[3], q[7], q[11], q[15], off, lo, hi);
                out[r] = v0;
                out[r + 1] = v1;
                out[r + 2] = v2;
                out[r + 3] = v3;
            }
        }
        for (; r < rows; r++, q += 4) { /* rows % 4 last rows: plain, [bias, mult, rnd, rs] each */
            int32_t a = q[0], g;
            const int8_t *xp = x;
            for (g = 0; g < groups; g++, pw += 2, xp += 4) {
                const uint32_t xw = ek_ld32(xp);
                a = ek_smlad(pw[1], ek_sxtb16_ror8(xw), ek_smlad(pw[0], ek_sxtb16(xw), a));
            }
            if (rest != 0) {
                a = ek_smlad(pw[1], th, ek_smlad(pw[0], tl, a));
                pw += 2;
            }
            out[r] = fc_rq(a, q[1], q[2], q[3], off, lo, hi);
        }
    }
}
