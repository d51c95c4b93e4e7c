/* edgekit AOT runtime: the int8 matrix kernel with pre-widened int16 weights (see ek_matmul_s8w16 in ek_matmul.h).
 * The weights' SXTB16 moved to the generator: per group of 4 depth values and 2 rows x 2 columns, one LDM of the
 * columns' 4 words, two LDRD of the rows' weights and 8 SMLAD. */
#include "ek_matmul.h"

#include "ek_simd.h"

/* One group: the 4 column words (c0.lo c1.lo c0.hi c1.hi, ascending registers for LDM), row 0's two weight words
 * against both columns, then row 1's. 11 instructions per 16 MACs. */
#define EK_W16_GROUP_ASM                                \
    "ldm %[pc]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"     \
    "ldrd %[w0], %[w1], [%[pw]], #8\n\t"                \
    "smlad %[a00], %[w0], %[x0], %[a00]\n\t"            \
    "smlad %[a01], %[w0], %[x1], %[a01]\n\t"            \
    "smlad %[a00], %[w1], %[x2], %[a00]\n\t"            \
    "smlad %[a01], %[w1], %[x3], %[a01]\n\t"            \
    "ldrd %[w0], %[w1], [%[pw]], #8\n\t"                \
    "smlad %[a10], %[w0], %[x0], %[a10]\n\t"            \
    "smlad %[a11], %[w0], %[x1], %[a11]\n\t"            \
    "smlad %[a10], %[w1], %[x2], %[a10]\n\t"            \
    "smlad %[a11], %[w1], %[x3], %[a11]\n\t"

/* Two rows x two columns over `groups` groups of 4 depth values; acc[row * 2 + col] accumulate. */
static void dot_2x2_w16(const ek_u32a_t *pw, const ek_u32a_t *pc, int32_t groups, int32_t *acc) {
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if EK_HAVE_DSP && defined(__thumb2__)
    register uint32_t x0 __asm__("r8");
    register uint32_t x1 __asm__("r9");
    register uint32_t x2 __asm__("r10");
    register uint32_t x3 __asm__("r11");
    uint32_t w0, w1;
    if (groups & 1) {
        __asm__ __volatile__(EK_W16_GROUP_ASM
                             : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [pw] "+r"(pw),
                               [pc] "+r"(pc), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),
                               [x2] "=&r"(x2), [x3] "=&r"(x3)
                             :
                             : "memory");
    }
    if (groups >= 2) {
        const ek_u32a_t *end = pw + 4 * (groups & ~1);
        __asm__ __volatile__("1:\n\t" EK_W16_GROUP_ASM EK_W16_GROUP_ASM
                             "cmp %[pw], %[end]\n\t"
                             "bne 1b\n\t"
                             : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [pw] "+r"(pw),
                               [pc] "+r"(pc), [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1),
                               [x2] "=&r"(x2), [x3] "=&r"(x3)
                             : [end] "r"(end)
                             : "cc", "memory");
    }
#else
    for (; groups > 0; groups--, pw += 4, pc += 4) {
        a00 = ek_smlad(pw[0], pc[0], a00);
        a01 = ek_smlad(pw[0], pc[1], a01);
        a00 = ek_smlad(pw[1], pc[2], a00);
        a01 = ek_smlad(pw[1], pc[3], a01);
        a10 = ek_smlad(pw[2], pc[0], a10);
        a11 = ek_smlad(pw[2], pc[1], a11);
        a10 = ek_smlad(pw[3], pc[2], a10);
        a11 = ek_smlad(pw[3], pc[3], a11);
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Requantization with the rq words of ek_matmul_s8w16 (m = multiplier, rnd = 2^(rs - 1), rs = -shift - 1 >= 1):
 * ek_mbqm_pos's 64-bit formula, + out_offset, saturated to int8 (clamped to the activation range by the caller). */
EK_INLINE int32_t rq_w16(int32_t x, int32_t m, int32_t rnd, int32_t rs, int32_t off) {
    const uint32_t lo0 = ((uint32_t)x & 0x80000000u) | 0x40000000u;
    const uint32_t hi0 = (uint32_t)(x >> 31) + (uint32_t)rnd;
    const int64_t acc = (int64_t)(((uint64_t)hi0 << 32) | lo0) + (int64_t)x * m;
    return ek_ssat8(((int32_t)(acc >> 32) >> rs) + off);
}

/* Two int8 results (low bytes of v0, v1) clamped lane-wise and stored at out[0], out[1]. */
EK_INLINE void store2(int8_t *out, int32_t v0, int32_t v1, uint32_t lo4, uint32_t hi4) {
    const uint32_t w = ek_clamp_s8x4(((uint32_t)v0 & 0xFFu) | ((uint32_t)v1 << 8), lo4, hi4);
    out[0] = (int8_t)w;
    out[1] = (int8_t)(w >> 8);
}

void ek_matmul_s8w16(const ek_matmul_t *q, const int16_t *cols, int32_t ncols, const int16_t *filter,
                     const int32_t *rq, int8_t *out0, int8_t *out1) {
    const int32_t groups = q->depth >> 2, rows = q->rows, off = q->out_offset;
    const uint32_t lo4 = (uint32_t)(uint8_t)q->act_min * 0x01010101u, hi4 = (uint32_t)(uint8_t)q->act_max * 0x01010101u;
    const ek_u32a_t *c = (const ek_u32a_t *)(const void *)cols;
    const ek_u32a_t *pw = (const ek_u32a_t *)(const void *)filter;
    int8_t *const end = out0 + (rows & ~1);
    int32_t g;
    if (ncols == 2) {
        for (; out0 != end; out0 += 2, out1 += 2, rq += 8, pw += 4 * groups) {
            int32_t acc[4];
            acc[0] = rq[0];
            acc[1] = rq[0];
            acc[2] = rq[1];
            acc[3] = rq[1];
            dot_2x2_w16(pw, c, groups, acc);
            {
                /* all 4 results before the int8 stores (which may alias anything) */
                const int32_t v00 = rq_w16(acc[0], rq[2], rq[4], rq[6], off);
                const int32_t v01 = rq_w16(acc[1], rq[2], rq[4], rq[6], off);
                const int32_t v10 = rq_w16(acc[2], rq[3], rq[5], rq[7], off);
                const int32_t v11 = rq_w16(acc[3], rq[3], rq[5], rq[7], off);
                store2(out0, v00, v10, lo4, hi4);
                store2(out1, v01, v11, lo4, hi4);
            }
        }
    } else {
        for (; out0 != end; out0 += 2, rq += 8) {
            int32_t a0 = rq[0], a1 = rq[1];
            const ek_u32a_t *pc = c;
            for (g = groups; g > 0; g--, pw += 4, pc += 2) {
                a0 = ek_smlad(pw[0], pc[0], a0);
                a0 = ek_smlad(pw[1], pc[1], a0);
                a1 = ek_smlad(pw[2], pc[0], a1);
                a1 = ek_smlad(pw[3], pc[1], a1);
            }
            store2(out0, rq_w16(a0, rq[2], rq[4], rq[6], off), rq_w16(a1, rq[3], rq[5], rq[7], off), lo4, hi4);
        }
    }
    if (rows & 1) { /* the odd last row: rq words [bias, mult, rnd, rs] */
        const ek_u32a_t *pc = c;
        int32_t a0 = rq[0], a1 = a0;
        for (g = groups; g > 0; g--, pw += 2) {
            if (ncols == 2) {
                a0 = ek_smlad(pw[0], pc[0], a0);
                a1 = ek_smlad(pw[0], pc[1], a1);
                a0 = ek_smlad(pw[1], pc[2], a0);
                a1 = ek_smlad(pw[1], pc[3], a1);
                pc += 4;
            } else {
                a0 = ek_smlad(pw[0], pc[0], a0);
                a0 = ek_smlad(pw[1], pc[1], a0);
                pc += 2;
            }
        }
        out0[0] = (int8_t)ek_clamp_i32(rq_w16(a0, rq[1], rq[2], rq[3], off), q->act_min, q->act_max);
        if (ncols == 2) {
            out1[0] = (int8_t)ek_clamp_i32(rq_w16(a1, rq[1], rq[2], rq[3], off), q->act_min, q->act_max);
        }
    }
}
