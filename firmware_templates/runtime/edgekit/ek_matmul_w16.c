/* edgekit AOT runtime: the int8 matrix kernel with pre-widened int16 weights (see ek_matmul_s8w16 in ek_matmul.h).
 * The weights' SXTB16 moved to the generator: per group of 4 depth values and 2 rows x 2 columns, one LDM of the
 * columns' 4 words, one LDM of the rows' 4 weight words and 8 SMLAD; on DSP cores the two-column row pairs run
 * in one asm block (pairs_2cols), elsewhere the same layout in portable C. */
#include "ek_matmul.h"

#include "ek_simd.h"

#if EK_HAVE_DSP && defined(__thumb2__) && defined(__OPTIMIZE__) && !defined(__clang__) && !EK_SINGLE_ROUNDING
#define EK_W16_ASM 1
/* One group with both weight rows in one LDM: 10 instructions per 16 MACs, 40 bytes of code (32-bit encodings). */
#define EK_W16_GROUP_ASM                                  \
    "ldmia.w %[pcol]!, {%[x0], %[x1], %[x2], %[x3]}\n\t" \
    "ldmia.w %[pw]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"   \
    "smlad %[a00], %[w0], %[x0], %[a00]\n\t"             \
    "smlad %[a01], %[w0], %[x1], %[a01]\n\t"             \
    "smlad %[a00], %[w1], %[x2], %[a00]\n\t"             \
    "smlad %[a01], %[w1], %[x3], %[a01]\n\t"             \
    "smlad %[a10], %[w2], %[x0], %[a10]\n\t"             \
    "smlad %[a11], %[w2], %[x1], %[a11]\n\t"             \
    "smlad %[a10], %[w3], %[x2], %[a10]\n\t"             \
    "smlad %[a11], %[w3], %[x3], %[a11]\n\t"
#define EK_W16_GROUP_BYTES 40
/* Accumulator A requantized in place (rq_w16 without the offset): multiplier M, rounding RND, shift RS. */
#define EK_W16_RQ_ASM(A, M, RND, RS)                      \
    "and %[w0], %[" A "], #0x80000000\n\t"               \
    "orr %[w0], %[w0], #0x40000000\n\t"                  \
    "add %[w1], %[" RND "], %[" A "], asr #31\n\t"       \
    "smlal %[w0], %[w1], %[" A "], %[" M "]\n\t"         \
    "asr %[" A "], %[w1], %[" RS "]\n\t"
#else
#define EK_W16_ASM 0
#endif

/* Two rows x two columns over `groups` groups of 4 depth values; acc[row * 2 + col] accumulate (portable C). */
EK_INLINE void dot_2x2_w16(const ek_u32a_t *pw, const ek_u32a_t *pc, int32_t groups, int32_t *acc) {
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
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
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

#if EK_W16_ASM
/* Every row pair of a two-column ek_matmul_s8w16 in one asm block (out0 != end on entry); returns the filter after
 * the pairs. All 14 allocatable registers are in use: 4 accumulators, the weight and column pointers, 4 weight and
 * 4 column words (explicit, ascending for LDM); the rest of the state lives in memory operands. Per pair: the
 * biases, the depth through an 8-group unrolled block entered part-way by a computed ADD PC (no loop register; the
 * chunk counter in memory), one LDM of the pair's requantization words, 4 requantizations, SSAT, the two output
 * pairs packed (BFI), clamped (SSUB8 / SEL) and stored with STRH. */
__attribute__((optimize("omit-frame-pointer"))) /* needs r7 too, also in builds that keep frame pointers */
static const ek_u32a_t *pairs_2cols(const ek_u32a_t *pw, const ek_u32a_t *cols, int32_t groups, const int32_t *rq,
                                    int8_t *out0, int8_t *out1, const int8_t *end, int32_t off, uint32_t lo4,
                                    uint32_t hi4) {
    register uint32_t w0 __asm__("r4"), w1 __asm__("r5"), w2 __asm__("r6"), w3 __asm__("r7");
    register uint32_t x0 __asm__("r8"), x1 __asm__("r9"), x2 __asm__("r10"), x3 __asm__("r11");
    uint32_t a00, a01, a10, a11;
    const ek_u32a_t *pcol;
    const int32_t first = groups & 7;
    const int32_t entry = first != 0 ? (8 - first) * EK_W16_GROUP_BYTES : 0;
    const int32_t chunks = (groups >> 3) - (first == 0 ? 1 : 0);
    int32_t cnt;
    uint32_t lohi[2];
    lohi[0] = lo4;
    lohi[1] = hi4;
    __asm__ __volatile__(
        "1:\n\t"
        "ldr %[x0], %[rq]\n\t"
        "ldrd %[a00], %[a10], [%[x0]]\n\t"
        "mov %[a01], %[a00]\n\t"
        "mov %[a11], %[a10]\n\t"
        "ldr %[pcol], %[cols]\n\t"
        "ldr %[x1], %[chunks]\n\t"
        "str %[x1], %[cnt]\n\t"
        "ldr %[x0], %[entry]\n\t"
        "add pc, %[x0]\n\t" /* PC reads as this instruction + 4: the first group below */
        "nop\n\t"
        "2:\n\t"
        EK_W16_GROUP_ASM EK_W16_GROUP_ASM EK_W16_GROUP_ASM EK_W16_GROUP_ASM
        EK_W16_GROUP_ASM EK_W16_GROUP_ASM EK_W16_GROUP_ASM EK_W16_GROUP_ASM
        "ldr %[x0], %[cnt]\n\t"
        "subs %[x0], %[x0], #1\n\t"
        "str %[x0], %[cnt]\n\t"
        "bcs 2b\n\t"
        /* w0, w1 = the biases (unused), w2, w3 = multipliers, x0, x1 = rounding, x2, x3 = shifts */
        "ldr %[pcol], %[rq]\n\t"
        "ldmia.w %[pcol]!, {%[w0], %[w1], %[w2], %[w3], %[x0], %[x1], %[x2], %[x3]}\n\t"
        "str %[pcol], %[rq]\n\t"
        EK_W16_RQ_ASM("a00", "w2", "x0", "x2")
        EK_W16_RQ_ASM("a01", "w2", "x0", "x2")
        EK_W16_RQ_ASM("a10", "w3", "x1", "x3")
        EK_W16_RQ_ASM("a11", "w3", "x1", "x3")
        "ldr %[w0], %[off]\n\t"
        "add %[a00], %[a00], %[w0]\n\t"
        "add %[a01], %[a01], %[w0]\n\t"
        "add %[a10], %[a10], %[w0]\n\t"
        "add %[a11], %[a11], %[w0]\n\t"
        "ssat %[a00], #8, %[a00]\n\t"
        "ssat %[a01], #8, %[a01]\n\t"
        "ssat %[a10], #8, %[a10]\n\t"
        "ssat %[a11], #8, %[a11]\n\t"
        "bfi %[a00], %[a10], #8, #8\n\t"
        "bfi %[a01], %[a11], #8, #8\n\t"
        "ldrd %[w0], %[w1], %[lohi]\n\t"
        "ssub8 %[w2], %[a00], %[w0]\n\t"
        "sel %[a00], %[a00], %[w0]\n\t"
        "ssub8 %[w2], %[w1], %[a00]\n\t"
        "sel %[a00], %[a00], %[w1]\n\t"
        "ssub8 %[w2], %[a01], %[w0]\n\t"
        "sel %[a01], %[a01], %[w0]\n\t"
        "ssub8 %[w2], %[w1], %[a01]\n\t"
        "sel %[a01], %[a01], %[w1]\n\t"
        "ldr %[x0], %[out0]\n\t"
        "strh %[a00], [%[x0]], #2\n\t"
        "str %[x0], %[out0]\n\t"
        "ldr %[x1], %[out1]\n\t"
        "strh %[a01], [%[x1]], #2\n\t"
        "str %[x1], %[out1]\n\t"
        "ldr %[x2], %[end]\n\t"
        "cmp %[x0], %[x2]\n\t"
        "bne 1b\n\t"
        : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [pcol] "=&r"(pcol),
          [pw] "+r"(pw), [w0] "=r"(w0), [w1] "=r"(w1), [w2] "=r"(w2), [w3] "=r"(w3), [x0] "=r"(x0),
          [x1] "=r"(x1), [x2] "=r"(x2), [x3] "=r"(x3), [rq] "+m"(rq), [out0] "+m"(out0), [out1] "+m"(out1),
          [cnt] "=m"(cnt)
        : [cols] "m"(cols), [chunks] "m"(chunks), [entry] "m"(entry), [off] "m"(off), [lohi] "m"(lohi),
          [end] "m"(end)
        : "cc", "memory");
    return pw;
}
#endif

/* Requantization with the rq words of ek_matmul_s8w16 (m = multiplier, rnd = 2^(rs - 1), rs = -shift - 1 >= 1):
 * ek_mbqm_pos's 64-bit formula (ek_mbqm with shift -rs - 1 in EK_SINGLE_ROUNDING builds), + out_offset, saturated to
 * int8 (clamped to the activation range by the caller). */
EK_INLINE int32_t rq_w16(int32_t x, int32_t m, int32_t rnd, int32_t rs, int32_t off) {
#if EK_SINGLE_ROUNDING
    (void)rnd;
    return ek_ssat8(ek_mbqm(x, m, -rs - 1) + off);
#else
    const uint32_t lo0 = ((uint32_t)x & 0x80000000u) | 0x40000000u;
    const uint32_t hi0 = (uint32_t)(x >> 31) + (uint32_t)rnd;
    const int64_t acc = (int64_t)(((uint64_t)hi0 << 32) | lo0) + (int64_t)x * m;
    return ek_ssat8(((int32_t)(acc >> 32) >> rs) + off);
#endif
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
#if EK_W16_ASM
        if (out0 != end) {
            const int32_t pairs = rows >> 1;
            pw = pairs_2cols(pw, c, groups, rq, out0, out1, end, off, lo4, hi4);
            rq += 8 * pairs;
            out0 += 2 * pairs;
            out1 += 2 * pairs;
        }
#else
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
#endif
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
