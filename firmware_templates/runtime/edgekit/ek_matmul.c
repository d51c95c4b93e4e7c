/* edgekit AOT runtime: int8 matrix kernel (see ek_matmul.h). */
#include "ek_matmul.h"

#include "ek_simd.h"

typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t stride, offset, lo, hi;
} requant_t;

EK_INLINE int8_t requant(int32_t acc, const requant_t *rq, int32_t r) {
    const int32_t i = r * rq->stride;
    const int32_t v = ek_mbqm_pos(acc, rq->mult[i], rq->shift[i]) + rq->offset;
    return (int8_t)ek_clamp_i32(v, rq->lo, rq->hi);
}

/* Two rows x two columns; returns the 4 sums in acc[row * 2 + col]. Per group of 4 depth values: filter words
 * w0 (row 0), w1 (row 1); column words c0.lo, c1.lo, c0.hi, c1.hi. */
static void dot_2x2(const ek_u32a_t *pw, const ek_u32a_t *pc, int32_t groups, int32_t *acc) {
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if EK_HAVE_DSP
    if (groups > 0) {
        /* 17 instructions per 16 MACs: LDRD with write-back, SXTB16 with rotation, SMLAD */
        const ek_u32a_t *end = pw + 2 * groups;
        uint32_t w0, w1, x0, x1, t;
        __asm__ __volatile__(
            "1:\n\t"
            "ldrd %[w0], %[w1], [%[pw]], #8\n\t"
            "ldrd %[x0], %[x1], [%[pc]], #16\n\t"
            "sxtb16 %[t], %[w0]\n\t"
            "smlad %[a00], %[t], %[x0], %[a00]\n\t"
            "smlad %[a01], %[t], %[x1], %[a01]\n\t"
            "sxtb16 %[t], %[w1]\n\t"
            "smlad %[a10], %[t], %[x0], %[a10]\n\t"
            "smlad %[a11], %[t], %[x1], %[a11]\n\t"
            "ldrd %[x0], %[x1], [%[pc], #-8]\n\t"
            "sxtb16 %[w0], %[w0], ror #8\n\t"
            "smlad %[a00], %[w0], %[x0], %[a00]\n\t"
            "smlad %[a01], %[w0], %[x1], %[a01]\n\t"
            "sxtb16 %[w1], %[w1], ror #8\n\t"
            "smlad %[a10], %[w1], %[x0], %[a10]\n\t"
            "smlad %[a11], %[w1], %[x1], %[a11]\n\t"
            "cmp %[pw], %[end]\n\t"
            "bne 1b\n\t"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [pw] "+r"(pw), [pc] "+r"(pc),
              [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1), [t] "=&r"(t)
            : [end] "r"(end)
            : "cc", "memory");
    }
#else
    for (; groups > 0; groups--) {
        const uint32_t w0 = pw[0], w1 = pw[1];
        const uint32_t x0l = pc[0], x1l = pc[1], x0h = pc[2], x1h = pc[3];
        const uint32_t w0l = ek_sxtb16(w0), w0h = ek_sxtb16_ror8(w0);
        const uint32_t w1l = ek_sxtb16(w1), w1h = ek_sxtb16_ror8(w1);
        pw += 2;
        pc += 4;
        a00 = ek_smlad(w0l, x0l, a00);
        a01 = ek_smlad(w0l, x1l, a01);
        a10 = ek_smlad(w1l, x0l, a10);
        a11 = ek_smlad(w1l, x1l, a11);
        a00 = ek_smlad(w0h, x0h, a00);
        a01 = ek_smlad(w0h, x1h, a01);
        a10 = ek_smlad(w1h, x0h, a10);
        a11 = ek_smlad(w1h, x1h, a11);
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

void ek_matmul_s8(const ek_matmul_t *q, const int16_t *cols, int32_t ncols, const int8_t *filter,
                  const int32_t *bias, int8_t *out0, int8_t *out1) {
    const int32_t depth = q->depth, rows = q->rows, groups = depth >> 2;
    const ek_u32a_t *c = (const ek_u32a_t *)(const void *)cols;
    requant_t rq_local;
    const requant_t *rq = &rq_local;
    int32_t r = 0, g;
    rq_local.mult = q->out_mult;
    rq_local.shift = q->out_shift;
    rq_local.stride = q->mult_stride;
    rq_local.offset = q->out_offset;
    rq_local.lo = q->act_min;
    rq_local.hi = q->act_max;
    for (; r + 1 < rows; r += 2) {
        const ek_u32a_t *pw = (const ek_u32a_t *)(const void *)(filter + (size_t)r * depth);
        const int32_t b0 = bias != NULL ? bias[r] : 0, b1 = bias != NULL ? bias[r + 1] : 0;
        if (ncols == 2) {
            int32_t acc[4];
            acc[0] = b0;
            acc[1] = b0;
            acc[2] = b1;
            acc[3] = b1;
            dot_2x2(pw, c, groups, acc);
            {
                /* all 4 results before the int8 stores (which may alias anything), each row's multiplier once */
                const int32_t i0 = r * rq->stride, i1 = (r + 1) * rq->stride;
                const int32_t m0 = rq->mult[i0], m1 = rq->mult[i1], s0 = rq->shift[i0], s1 = rq->shift[i1];
                const int32_t lo = rq->lo, hi = rq->hi, off = rq->offset;
                const int8_t v00 = (int8_t)ek_clamp_i32(ek_mbqm_pos(acc[0], m0, s0) + off, lo, hi);
                const int8_t v01 = (int8_t)ek_clamp_i32(ek_mbqm_pos(acc[1], m0, s0) + off, lo, hi);
                const int8_t v10 = (int8_t)ek_clamp_i32(ek_mbqm_pos(acc[2], m1, s1) + off, lo, hi);
                const int8_t v11 = (int8_t)ek_clamp_i32(ek_mbqm_pos(acc[3], m1, s1) + off, lo, hi);
                out0[r] = v00;
                out1[r] = v01;
                out0[r + 1] = v10;
                out1[r + 1] = v11;
            }
        } else {
            int32_t a0 = b0, a1 = b1;
            const ek_u32a_t *pc = c;
            for (g = groups; g > 0; g--) {
                const uint32_t w0 = pw[0], w1 = pw[1], xl = pc[0], xh = pc[1];
                pw += 2;
                pc += 2;
                a0 = ek_smlad(ek_sxtb16(w0), xl, a0);
                a1 = ek_smlad(ek_sxtb16(w1), xl, a1);
                a0 = ek_smlad(ek_sxtb16_ror8(w0), xh, a0);
                a1 = ek_smlad(ek_sxtb16_ror8(w1), xh, a1);
            }
            out0[r] = requant(a0, rq, r);
            out0[r + 1] = requant(a1, rq, r + 1);
        }
    }
    if (r < rows) {
        const ek_u32a_t *pw = (const ek_u32a_t *)(const void *)(filter + (size_t)r * depth);
        const ek_u32a_t *pc = c;
        int32_t a0 = bias != NULL ? bias[r] : 0, a1 = a0;
        for (g = groups; g > 0; g--) {
            const uint32_t w = pw[0];
            const uint32_t wl = ek_sxtb16(w), wh = ek_sxtb16_ror8(w);
            pw += 1;
            if (ncols == 2) {
                a0 = ek_smlad(wl, pc[0], a0);
                a1 = ek_smlad(wl, pc[1], a1);
                a0 = ek_smlad(wh, pc[2], a0);
                a1 = ek_smlad(wh, pc[3], a1);
                pc += 4;
            } else {
                a0 = ek_smlad(wl, pc[0], a0);
                a0 = ek_smlad(wh, pc[1], a0);
                pc += 2;
            }
        }
        out0[r] = requant(a0, rq, r);
        if (ncols == 2) {
            out1[r] = requant(a1, rq, r);
        }
    }
}

#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
/* ek_matmul_mve_s8 on MVE: the whole loop over the row groups in one naked function. Per group of 4 rows the 4 sums
 * live in r0 r2 r4 r6 (starting at the group's biases: one LDMDB); r8 walks the column, r9 the filter (continuous
 * over the groups), r10 counts the segments. Per chunk of 16 depth values 1 column load, 4 weight loads, 4 VMLADAVA
 * (36 bytes); 6 chunks per pass (IC's 96-deep runs in one), the first pass entered at chunk 6 * passes - chunks (r12,
 * BX), after a pass a computed address (frame): one pass straight on, else the loop's end (r1 counts the passes);
 * after the chunks the run's tail (depth % 16, one VCTP predicate on the column load) or the segment's end. Then the
 * 4 sums requantized in q3 (VSHL, VQRDMULH, ties-away fix-up, VRSHL with the group's rq words at r5 - 16,
 * post-incremented by the multipliers' load), + out_offset (q6), clamped (q4, q5), stored through one VCTP.32
 * predicate (min(rows left (r7), 4) bytes, r3 post-incremented). r11 = seg_stride - 16 * chunks.
 * Frame: [sp] passes, [sp+4] x, [sp+8] segments, [sp+12] the address after a pass, [sp+16] after the chunks,
 * [sp+20] the segment's end, [sp+24] tail. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* a naked function reads its arguments in the asm */
#define EK_MVE_X1_CHUNK                          \
        "vldrb.8 q0, [r8], #16\n\t"             \
        "vldrb.8 q1, [r9], #16\n\t"             \
        "vmladava.s8 r0, q0, q1\n\t"            \
        "vldrb.8 q1, [r9], #16\n\t"             \
        "vmladava.s8 r2, q0, q1\n\t"            \
        "vldrb.8 q1, [r9], #16\n\t"             \
        "vmladava.s8 r4, q0, q1\n\t"            \
        "vldrb.8 q1, [r9], #16\n\t"             \
        "vmladava.s8 r6, q0, q1\n\t"
__attribute__((naked, noinline)) static void mve_x1_asm(const ek_mve_mm_t *q, const int8_t *x, int32_t seg_stride,
                                                        int8_t *out) {
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d8-d13}\n\t"
        "sub sp, #32\n\t"
        "ldr r4, [r0]\n\t"
        "lsrs r5, r4, #4\n\t" /* chunks c */
        "and r6, r4, #15\n\t"
        "str r6, [sp, #24]\n\t"
        "sub r11, r2, r5, lsl #4\n\t"
        "adds r7, r5, #5\n\t" /* passes m = ceil(c / 6) */
        "movs r8, #6\n\t"
        "udiv r7, r7, r8\n\t"
        "ldr r4, [r0, #4]\n\t"
        "str r7, [sp]\n\t"
        "strd r1, r4, [sp, #4]\n\t"
        "mul r8, r7, r8\n\t" /* entry: chunk 6 m - c of the loop body (36 bytes each), after it if c == 0 */
        "subs r8, r8, r5\n\t"
        "movs r10, #36\n\t"
        "adr r12, .Lx1_c0\n\t"
        "mla r12, r8, r10, r12\n\t"
        "cbnz r5, 21f\n\t"
        "adr r12, .Lx1_after\n"
        "21:\n\t"
        "orr r12, r12, #1\n\t"
        "adr r9, .Lx1_seg1\n\t" /* the segment's end: one pass, else the pass counter reloaded */
        "cmp r7, #1\n\t"
        "it gt\n\t"
        "adrgt r9, .Lx1_segN\n\t"
        "orr r9, r9, #1\n\t"
        "str r9, [sp, #20]\n\t"
        "cbz r6, 22f\n\t" /* after the chunks: the tail, else the segment's end */
        "adr r9, .Lx1_tail\n\t"
        "orr r9, r9, #1\n"
        "22:\n\t"
        "str r9, [sp, #16]\n\t"
        "cmp r7, #1\n\t" /* after a pass: one pass, straight on; else the loop's end */
        "ble 23f\n\t"
        "adr r9, .Lx1_loop\n\t"
        "orr r9, r9, #1\n"
        "23:\n\t"
        "str r9, [sp, #12]\n\t"
        "ldr r7, [r0, #8]\n\t"
        "ldr r4, [r0, #12]\n\t"
        "vdup.32 q6, r4\n\t"
        "ldr r4, [r0, #16]\n\t"
        "vdup.32 q4, r4\n\t"
        "ldr r4, [r0, #20]\n\t"
        "vdup.32 q5, r4\n\t"
        "ldr r9, [r0, #24]\n\t"
        "ldr r5, [r0, #28]\n\t"
        "adds r5, #16\n"
        ".Lx1_group:\n\t" /* a group of 4 rows */
        "ldmdb r5, {r0, r2, r4, r6}\n\t"
        "ldm sp, {r1, r8, r10}\n\t"
        "bx r12\n"
        ".Lx1_next:\n\t" /* the next segment */
        "add r8, r11\n\t"
        "bx r12\n"
        ".Lx1_segN:\n\t"
        "subs r10, #1\n\t"
        "beq .Lx1_rq\n\t"
        "add r8, r11\n\t"
        "ldr r1, [sp]\n\t"
        "bx r12\n"
        ".Lx1_c0:\n\t"
        EK_MVE_X1_CHUNK
        ".Lx1_c1:\n\t"
        ".if .Lx1_c1 - .Lx1_c0 - 36\n\t" /* the entry arithmetic above */
        ".error \"EK_MVE_X1_CHUNK is not 36 bytes\"\n\t"
        ".endif\n\t"
        EK_MVE_X1_CHUNK
        EK_MVE_X1_CHUNK
        EK_MVE_X1_CHUNK
        EK_MVE_X1_CHUNK
        EK_MVE_X1_CHUNK
        "ldr pc, [sp, #12]\n"
        ".Lx1_loop:\n\t"
        "subs r1, #1\n\t"
        "bne .Lx1_c0\n"
        ".Lx1_after:\n\t"
        "ldr pc, [sp, #16]\n"
        ".Lx1_tail:\n\t"
        "ldr lr, [sp, #24]\n\t"
        "vctp.8 lr\n\t"
        "vpst\n\t"
        "vldrbt.8 q0, [r8]\n\t"
        "vldrb.8 q1, [r9], #16\n\t"
        "vmladava.s8 r0, q0, q1\n\t"
        "vldrb.8 q1, [r9], #16\n\t"
        "vmladava.s8 r2, q0, q1\n\t"
        "vldrb.8 q1, [r9], #16\n\t"
        "vmladava.s8 r4, q0, q1\n\t"
        "vldrb.8 q1, [r9], #16\n\t"
        "vmladava.s8 r6, q0, q1\n\t"
        "ldr pc, [sp, #20]\n"
        ".Lx1_seg1:\n\t"
        "subs r10, #1\n\t"
        "bne .Lx1_next\n"
        ".Lx1_rq:\n\t" /* requantize, clamp, store the group's 4 results */
        "vmov q3[2], q3[0], r0, r4\n\t"
        "vmov q3[3], q3[1], r2, r6\n\t"
        "vldrb.s32 q2, [r5, #16]\n\t"
        "vshl.s32 q3, q3, q2\n\t"
        "vldrw.32 q2, [r5], #40\n\t"
        "vqrdmulh.s32 q3, q3, q2\n\t"
        "vldrb.s32 q2, [r5, #-20]\n\t"
        "vand q1, q3, q2\n\t"
        "vshr.s32 q1, q1, #31\n\t"
        "vqadd.s32 q3, q3, q1\n\t"
        "vrshl.s32 q3, q3, q2\n\t"
        "vadd.i32 q3, q3, q6\n\t"
        "vmax.s32 q3, q3, q4\n\t"
        "vmin.s32 q3, q3, q5\n\t"
        "vctp.32 r7\n\t"
        "vpst\n\t"
        "vstrbt.32 q3, [r3], #4\n\t"
        "subs r7, #4\n\t"
        "bgt .Lx1_group\n\t"
        "add sp, #32\n\t"
        "vpop {d8-d13}\n\t"
        "pop {r4-r11, pc}\n\t");
}
#undef EK_MVE_X1_CHUNK
#pragma GCC diagnostic pop
/* ek_matmul_mve_s8_x2 on MVE: the whole loop over the row groups in one naked function (no compiler-allocated
 * registers around it). Per group of 4 rows the 8 sums (2 columns x 4 rows) live in the 8 even registers r0..r12, lr
 * (VMLADAVA needs even ones, each column's 4 start at the group's biases: one LDMDB); r1 / r3 walk the two columns,
 * r5 the filter (continuous over the groups), r7 the rq words (+ 16: the multipliers' load post-increments it to
 * the next group's), r9 counts the segments, r11 the
 * passes of the chunk loop. Per chunk of 16 depth values: 2 column loads, 4 weight loads (each shared by the two
 * columns), 8 VMLADAVA = 14 instructions for 128 MACs, 8 chunks per pass, the first pass entered at chunk
 * (-chunks) & 7 through a computed address (LDR PC from the frame, set once per call, as are the others: after a
 * pass, the loop's SUBS + BNE if there are more passes (> 8 chunks), else straight on; after the chunks, the run's
 * tail (depth % 16, one VCTP predicate on the column loads; the filter's padding is zero) or the next segment or,
 * for one run, the requantization itself). With one pass per run r11 holds the segment step instead (the next
 * segment: 2 ADD + LDR PC). The 8 sums then go into q0 (column 0) and q1
 * (column 1), requantized with the group's words loaded once for both (VSHL only with q->x2rq = ek_mve_x2_shl, VQRDMULH, ties-away
 * fix-up, VRSHL: ek_mve_mbqm_right), + out_offset, clamped (q4..q6 hold offset, min, max for the whole call),
 * stored through one VCTP.32 predicate (min(rows left, 4) bytes per column, post-incremented; out0, out1 and the
 * rows left in one LDM / STM).
 * A depth <= 16 in one run (1x1 convs over few channels) takes its own loop: both columns loaded once (VCTP) and
 * kept in q0 / q1, per group 4 weight loads, 8 VMLADAVA and the requantization in q3 / q7 (r1 / r3 the outputs).
 * npairs pairs of columns per call, the next pair at x0 / x1 + xstep and out0 / out1 + ostep.
 * Frame: r4-r11, lr (36 B), d8-d15 (64 B), 80 B of locals: [sp] out0, [sp+4] out1, [sp+8] rows left, [sp+12]
 * segments, [sp+16] r11's start in a run (the passes, or the segment step for one pass) (the store's LDM reloads
 * r9 / r11 with these for the next group), [sp+20] x0, [sp+24] x1, [sp+28] the chunk loop's entry, [sp+32] the
 * address after the chunks, [sp+36] the tail's predicate, [sp+40] seg_stride - 16 * chunks,
 * [sp+44] filter, [sp+48] rq + 16, [sp+52] rows, [sp+56] a pair's entry (the small loop for depth <= 16 in one run,
 * else the group loop), [sp+60] depth, [sp+64] out_offset, [sp+68] the address after the last segment (its
 * requantization: with VSHL or without), [sp+72] the small loop's requantization, [sp+76] the address after a pass;
 * the stack arguments out0 / out1 / npairs / xstep / ostep at [sp+180] ... [sp+196]. ek_mve_mm_t fields: depth 0,
 * segments 4, rows 8, out_offset 12, act_min 16, act_max 20, filter 24, rq 28, x2rq 32 (its 4 words: the addresses
 * after the last segment of one pass, of the small loop's requantization, of one run's, after the segment loop). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* a naked function reads its arguments in the asm */
/* Two columns (C0, C1: q0, q1 in EK_MVE_X2_MAC4) times 4 weight vectors from r5 (post-incremented): the 8 sums
 * r0 r2 r4 r6 (column 0) and r8 r10 r12 lr (column 1) of a group of 4 rows. Shared by the two-pixel asm loops. */
#define EK_MVE_X2_MAC4Q(C0, C1)                 \
        "vldrb.8 q2, [r5], #16\n\t"             \
        "vmladava.s8 r0, " C0 ", q2\n\t"        \
        "vmladava.s8 r8, " C1 ", q2\n\t"        \
        "vldrb.8 q2, [r5], #16\n\t"             \
        "vmladava.s8 r2, " C0 ", q2\n\t"        \
        "vmladava.s8 r10, " C1 ", q2\n\t"       \
        "vldrb.8 q2, [r5], #16\n\t"             \
        "vmladava.s8 r4, " C0 ", q2\n\t"        \
        "vmladava.s8 r12, " C1 ", q2\n\t"       \
        "vldrb.8 q2, [r5], #16\n\t"             \
        "vmladava.s8 r6, " C0 ", q2\n\t"        \
        "vmladava.s8 lr, " C1 ", q2\n\t"
#define EK_MVE_X2_MAC4 EK_MVE_X2_MAC4Q("q0", "q1")

/* One chunk of 16 depth values: both columns' loads (post-incremented) and EK_MVE_X2_MAC4; 14 instructions of 4 bytes
 * (mve_x2_asm's 8-chunk loop is entered at a computed chunk). */
#define EK_MVE_X2_CHUNK                       \
        "vldrb.8 q0, [r1], #16\n\t"            \
        "vldrb.8 q1, [r3], #16\n\t"            \
        EK_MVE_X2_MAC4

__attribute__((naked, noinline)) static void mve_x2_asm(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1,
                                                        int32_t seg_stride, int8_t *out0, int8_t *out1, int32_t npairs,
                                                        int32_t xstep, int32_t ostep) {
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "sub sp, #80\n\t"
        "strd r1, r2, [sp, #20]\n\t"
        "ldr r4, [r0]\n\t"
        "str r4, [sp, #60]\n\t"
        "lsrs r5, r4, #4\n\t" /* chunks c */
        "and r6, r4, #15\n\t"
        "movs r8, #1\n\t" /* the tail's predicate (VCTP.8 tail): (1 << tail) - 1 */
        "lsls r8, r8, r6\n\t"
        "subs r8, #1\n\t"
        "str r8, [sp, #36]\n\t"
        "sub r3, r3, r5, lsl #4\n\t"
        "str r3, [sp, #40]\n\t"
        "adds r7, r5, #7\n\t" /* passes of the 8-chunk loop */
        "lsrs r7, r7, #3\n\t"
        "cmp r7, #1\n\t" /* r11 in the segment loop: the passes if more than one, else the segment step */
        "ite gt\n\t"
        "strgt r7, [sp, #16]\n\t"
        "strle r3, [sp, #16]\n\t"
        "rsbs r8, r5, #0\n\t" /* entry: chunk (-c) & 7 of the loop body (56 bytes each), after it if c == 0 */
        "and r8, r8, #7\n\t"
        "movs r10, #56\n\t"
        "adr r12, .Lx2_c0\n\t"
        "mla r10, r8, r10, r12\n\t"
        "cbnz r5, 12f\n\t"
        "adr r10, .Lx2_after\n"
        "12:\n\t"
        "orr r10, r10, #1\n\t"
        "str r10, [sp, #28]\n\t"
        "ldr lr, [r0, #32]\n\t" /* x2rq: the requantizations without VSHL (ek_mve_x2_nls) or with (ek_mve_x2_shl) */
        "ldm lr, {r9, r10, r11}\n\t" /* after the last segment of one pass, the small loop's, one run's */
        "cmp r7, #1\n\t"
        "it gt\n\t"
        "ldrgt r9, [lr, #12]\n\t" /* more passes: the segment loop's end */
        "ldr r4, [r0, #4]\n\t" /* one run: after the chunks (and the tail) straight to the requantization */
        "str r4, [sp, #12]\n\t"
        "cmp r4, #1\n\t"
        "it eq\n\t"
        "moveq r9, r11\n\t"
        "strd r9, r10, [sp, #68]\n\t"
        "cbz r6, 13f\n\t" /* after the chunks: the tail, else [sp, #68] */
        "adr r9, .Lx2_tail\n\t"
        "orr r9, r9, #1\n"
        "13:\n\t"
        "str r9, [sp, #32]\n\t"
        "cmp r7, #1\n\t" /* after a pass: one pass, the address after the chunks; else the loop's end */
        "ble 16f\n\t"
        "adr r9, .Lx2_loop\n\t"
        "orr r9, r9, #1\n"
        "16:\n\t"
        "str r9, [sp, #76]\n\t"
        "ldr r6, [sp, #60]\n\t" /* a pair's entry: the small loop if depth <= 16 in one run (r4 = segments) */
        "adr r7, .Lx2_group\n\t"
        "cmp r6, #16\n\t"
        "bgt 11f\n\t"
        "cmp r4, #1\n\t"
        "it eq\n\t"
        "adreq r7, .Lx2_small\n"
        "11:\n\t"
        "orr r7, r7, #1\n\t"
        "str r7, [sp, #56]\n\t"
        "ldr r4, [r0, #8]\n\t"
        "str r4, [sp, #52]\n\t"
        "str r4, [sp, #8]\n\t"
        "ldr r4, [r0, #12]\n\t"
        "str r4, [sp, #64]\n\t"
        "vdup.32 q4, r4\n\t"
        "ldr r4, [r0, #16]\n\t"
        "vdup.32 q5, r4\n\t"
        "ldr r4, [r0, #20]\n\t"
        "vdup.32 q6, r4\n\t"
        "ldr r5, [r0, #24]\n\t"
        "ldr r7, [r0, #28]\n\t"
        "adds r7, #16\n\t"
        "strd r5, r7, [sp, #44]\n\t"
        "ldrd r4, r6, [sp, #180]\n\t"
        "strd r4, r6, [sp]\n\t"
        "ldrd r9, r11, [sp, #12]\n\t" /* the first group's r9, r11 (each group's store reloads them) */
        "ldr pc, [sp, #56]\n" /* a pair of columns (r1, r2) */
        ".Lx2_small:\n\t"
        "ldr r4, [sp, #60]\n\t" /* depth <= 16 in one run: both columns loaded once, kept in q0 / q1 */
        "vctp.8 r4\n\t"
        "vpstt\n\t"
        "vldrbt.8 q0, [r1]\n\t"
        "vldrbt.8 q1, [r2]\n\t"
        "ldrd r1, r3, [sp]\n\t"
        "ldr r9, [sp, #8]\n"
        "7:\n\t" /* a group: 4 weight vectors, 8 VMLADAVA, the requantization in q3 / q7 */
        "ldmdb r7, {r0, r2, r4, r6}\n\t"
        "ldmdb r7, {r8, r10, r12, lr}\n\t"
        EK_MVE_X2_MAC4
        "vmov q3[2], q3[0], r0, r4\n\t"
        "vmov q3[3], q3[1], r2, r6\n\t"
        "vmov q7[2], q7[0], r8, r12\n\t"
        "vmov q7[3], q7[1], r10, lr\n\t"
        "ldr pc, [sp, #72]\n"
        ".Lx2_sc:\n\t"
        "vldrw.32 q2, [r7], #40\n\t"
        "vqrdmulh.s32 q3, q3, q2\n\t"
        "vqrdmulh.s32 q7, q7, q2\n\t"
        "vldrb.s32 q2, [r7, #-20]\n\t"
        "vand q4, q3, q2\n\t"
        "vshr.s32 q4, q4, #31\n\t"
        "vqadd.s32 q3, q3, q4\n\t"
        "vrshl.s32 q3, q3, q2\n\t"
        "vand q4, q7, q2\n\t"
        "vshr.s32 q4, q4, #31\n\t"
        "vqadd.s32 q7, q7, q4\n\t"
        "vrshl.s32 q7, q7, q2\n\t"
        "ldr r0, [sp, #64]\n\t"
        "vadd.i32 q3, q3, r0\n\t"
        "vadd.i32 q7, q7, r0\n\t"
        "vmax.s32 q3, q3, q5\n\t"
        "vmax.s32 q7, q7, q5\n\t"
        "vmin.s32 q3, q3, q6\n\t"
        "vmin.s32 q7, q7, q6\n\t"
        "vctp.32 r9\n\t"
        "vpstt\n\t"
        "vstrbt.32 q3, [r1], #4\n\t"
        "vstrbt.32 q7, [r3], #4\n\t"
        "subs r9, #4\n\t"
        "bgt 7b\n\t"
        "b 9f\n"
        ".Lx2_group:\n"
        "1:\n\t" /* a group of 4 rows: both columns' sums start at the folded biases */
        "ldmdb r7, {r0, r2, r4, r6}\n\t"
        "ldmdb r7, {r8, r10, r12, lr}\n\t"
        "ldrd r1, r3, [sp, #20]\n\t" /* the columns (r9, r11: the segments, passes or segment step) */
        "ldr pc, [sp, #28]\n"
        ".Lx2_seg:\n\t" /* the next segment (run) */
        "ldr r11, [sp, #40]\n\t"
        "add r1, r11\n\t"
        "add r3, r11\n\t"
        "ldr r11, [sp, #16]\n\t"
        "ldr pc, [sp, #28]\n"
        ".Lx2_seg1:\n\t" /* the next segment of one pass each (r11 = the segment step) */
        "add r1, r11\n\t"
        "add r3, r11\n\t"
        "ldr pc, [sp, #28]\n"
        ".Lx2_c0:\n\t" /* 8 chunks of 16 per pass, entered at chunk (-c) & 7 */
        EK_MVE_X2_CHUNK
        ".Lx2_c1:\n\t"
        ".if .Lx2_c1 - .Lx2_c0 - 56\n\t" /* the entry arithmetic above */
        ".error \"EK_MVE_X2_CHUNK is not 56 bytes\"\n\t"
        ".endif\n\t"
        EK_MVE_X2_CHUNK
        EK_MVE_X2_CHUNK
        EK_MVE_X2_CHUNK
        EK_MVE_X2_CHUNK
        EK_MVE_X2_CHUNK
        EK_MVE_X2_CHUNK
        EK_MVE_X2_CHUNK
        "ldr pc, [sp, #76]\n"
        ".Lx2_loop:\n\t"
        "subs r11, #1\n\t"
        "bne .Lx2_c0\n"
        ".Lx2_after:\n\t"
        "ldr pc, [sp, #32]\n"
        ".Lx2_tail:\n\t"
        "vldr P0, [sp, #36]\n\t" /* no free register: the predicate from the frame */
        "vpstt\n\t"
        "vldrbt.8 q0, [r1]\n\t"
        "vldrbt.8 q1, [r3]\n\t"
        EK_MVE_X2_MAC4
        "ldr pc, [sp, #68]\n"
        ".Lx2_segendN:\n\t" /* the segment loop's end, then requantize, clamp, store the group's 2 x 4 results */
        "subs r9, #1\n\t"
        "bne .Lx2_seg\n\t"
        "b .Lx2_rq\n"
        ".Lx2_segend1:\n\t"
        "subs r9, #1\n\t"
        "bne .Lx2_seg1\n"
        ".Lx2_rq:\n\t"
        "vmov q0[2], q0[0], r0, r4\n\t"
        "vmov q0[3], q0[1], r2, r6\n\t"
        "vmov q1[2], q1[0], r8, r12\n\t"
        "vmov q1[3], q1[1], r10, lr\n"
        ".Lx2_rqc:\n\t"
        "vldrw.32 q2, [r7], #40\n\t"
        "vqrdmulh.s32 q0, q0, q2\n\t"
        "vqrdmulh.s32 q1, q1, q2\n\t"
        "vldrb.s32 q2, [r7, #-20]\n\t"
        "vand q3, q0, q2\n\t"
        "vshr.s32 q3, q3, #31\n\t"
        "vqadd.s32 q0, q0, q3\n\t"
        "vrshl.s32 q0, q0, q2\n\t"
        "vand q3, q1, q2\n\t"
        "vshr.s32 q3, q3, #31\n\t"
        "vqadd.s32 q1, q1, q3\n\t"
        "vrshl.s32 q1, q1, q2\n\t"
        "vadd.i32 q0, q0, q4\n\t"
        "vadd.i32 q1, q1, q4\n\t"
        "vmax.s32 q0, q0, q5\n\t"
        "vmax.s32 q1, q1, q5\n\t"
        "vmin.s32 q0, q0, q6\n\t"
        "vmin.s32 q1, q1, q6\n\t"
        "ldm sp, {r0, r2, r4, r9, r11}\n\t" /* out0, out1, rows left; the next group's r9, r11 */
        "vctp.32 r4\n\t"
        "vpstt\n\t"
        "vstrbt.32 q0, [r0], #4\n\t"
        "vstrbt.32 q1, [r2], #4\n\t"
        "subs r4, #4\n\t"
        "stm sp, {r0, r2, r4}\n\t"
        "bgt 1b\n"
        "9:\n\t" /* the next pair: columns + xstep, outputs + ostep, filter, rq words and rows from the start */
        "add r4, sp, #180\n\t"
        "ldm r4, {r0, r2, r6, r8, r10}\n\t" /* out0, out1, npairs, xstep, ostep */
        "subs r6, #1\n\t"
        "beq 10f\n\t"
        "add r0, r10\n\t"
        "add r2, r10\n\t"
        "stm r4, {r0, r2, r6}\n\t"
        "ldrd r5, r7, [sp, #44]\n\t"
        "ldr r4, [sp, #52]\n\t"
        "stm sp, {r0, r2, r4}\n\t"
        "ldrd r1, r2, [sp, #20]\n\t"
        "add r1, r8\n\t"
        "add r2, r8\n\t"
        "strd r1, r2, [sp, #20]\n\t"
        "ldr pc, [sp, #56]\n"
        "10:\n\t"
        "add sp, #80\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r11, pc}\n\t"
        ".p2align 2\n\t"
        ".global ek_mve_x2_nls\n\t"
        ".type ek_mve_x2_nls, %object\n"
        "ek_mve_x2_nls:\n\t"
        ".word .Lx2_segend1 + 1, .Lx2_sc + 1, .Lx2_rq + 1, .Lx2_segendN + 1\n\t"
        ".size ek_mve_x2_nls, 16\n\t");
}

/* The VSHL (left shift) requantizations of mve_x2_asm and their addresses (ek_mve_x2_shl): a section of their own,
 * linked only by a model that names ek_mve_x2_shl (a layer with a left shift). Branches back into mve_x2_asm. */
__attribute__((naked, noinline, used)) static void mve_x2_shl_asm(void) {
    __asm__ volatile(
        ".Lx2_sshl:\n\t" /* the small loop's */
        "vldrb.s32 q2, [r7, #16]\n\t"
        "vshl.s32 q3, q3, q2\n\t"
        "vshl.s32 q7, q7, q2\n\t"
        "b .Lx2_sc\n"
        ".Lx2_segshlN:\n\t"
        "subs r9, #1\n\t"
        "bne .Lx2_seg\n\t"
        "b .Lx2_rqshl\n"
        ".Lx2_segshl1:\n\t"
        "subs r9, #1\n\t"
        "bne .Lx2_seg1\n"
        ".Lx2_rqshl:\n\t"
        "vmov q0[2], q0[0], r0, r4\n\t"
        "vmov q0[3], q0[1], r2, r6\n\t"
        "vmov q1[2], q1[0], r8, r12\n\t"
        "vmov q1[3], q1[1], r10, lr\n\t"
        "vldrb.s32 q2, [r7, #16]\n\t"
        "vshl.s32 q0, q0, q2\n\t"
        "vshl.s32 q1, q1, q2\n\t"
        "b .Lx2_rqc\n\t"
        ".p2align 2\n\t"
        ".global ek_mve_x2_shl\n\t"
        ".type ek_mve_x2_shl, %object\n"
        "ek_mve_x2_shl:\n\t"
        ".word .Lx2_segshl1 + 1, .Lx2_sshl + 1, .Lx2_rqshl + 1, .Lx2_segshlN + 1\n\t"
        ".size ek_mve_x2_shl, 16\n\t");
}
#pragma GCC diagnostic pop

/* A single pair of columns of depth 17..32 in one run, no left shift (im2col patches of the RGB first convs,
 * 3x3x3 = 27): a light entry (no locals but the 2 output pointers, no pair / segment loops), both columns' second
 * chunks loaded once (one VCTP predicate) and kept in q4 / q5, and per group one straight pass: the group's biases
 * (LDMDB), both columns' first chunks, 8 weight loads, 16 VMLADAVA, then the same requantization as mve_x2_asm
 * without VSHL. Registers: r1 / r3 the columns, r5 the filter, r7 the rq words + 16 (post-incremented by the
 * multipliers' load), r9 out_offset, r11 rows left, the 8 sums in the even registers; q6 / q7 min, max. Frame:
 * r4-r11, lr (36 B), d8-d15 (64 B), [sp] out0, [sp+4] out1 (the stack arguments, at [sp+108]); r3 (seg_stride) unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* a naked function reads its arguments in the asm */
__attribute__((naked, noinline)) void ek_matmul_mve_s8_x2_d32(const ek_mve_mm_t *q, const int8_t *x0,
                                                             const int8_t *x1, int32_t seg_stride, int8_t *out0,
                                                             int8_t *out1) {
#define EK_X2_D32_RQ(A)                         \
        "vand q3, " A ", q2\n\t"                \
        "vshr.s32 q3, q3, #31\n\t"              \
        "vqadd.s32 " A ", " A ", q3\n\t"        \
        "vrshl.s32 " A ", " A ", q2\n\t"
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "vpush {d8-d15}\n\t"
        "sub sp, #8\n\t"
        "ldrd r3, r4, [sp, #108]\n\t"
        "strd r3, r4, [sp]\n\t"
        "mov r3, r2\n\t"
        "ldr r9, [r0]\n\t"
        "subs r9, #16\n\t"
        "vctp.8 r9\n\t"
        "vpstt\n\t"
        "vldrbt.8 q4, [r1, #16]\n\t"
        "vldrbt.8 q5, [r3, #16]\n\t"
        "ldr r11, [r0, #8]\n\t"
        "ldr r9, [r0, #12]\n\t"
        "ldr r4, [r0, #16]\n\t"
        "vdup.32 q6, r4\n\t"
        "ldr r4, [r0, #20]\n\t"
        "vdup.32 q7, r4\n\t"
        "ldr r5, [r0, #24]\n\t"
        "ldr r7, [r0, #28]\n\t"
        "adds r7, #16\n"
        "1:\n\t" /* a group of 4 rows */
        "ldmdb r7, {r0, r2, r4, r6}\n\t"
        "ldmdb r7, {r8, r10, r12, lr}\n\t"
        "vldrb.8 q0, [r1]\n\t"
        "vldrb.8 q1, [r3]\n\t"
        EK_MVE_X2_MAC4Q("q0", "q1")
        EK_MVE_X2_MAC4Q("q4", "q5")
        "vmov q0[2], q0[0], r0, r4\n\t"
        "vmov q0[3], q0[1], r2, r6\n\t"
        "vmov q1[2], q1[0], r8, r12\n\t"
        "vmov q1[3], q1[1], r10, lr\n\t"
        "vldrw.32 q2, [r7], #40\n\t"
        "vqrdmulh.s32 q0, q0, q2\n\t"
        "vqrdmulh.s32 q1, q1, q2\n\t"
        "vldrb.s32 q2, [r7, #-20]\n\t"
        EK_X2_D32_RQ("q0")
        EK_X2_D32_RQ("q1")
        "vadd.i32 q0, q0, r9\n\t"
        "vadd.i32 q1, q1, r9\n\t"
        "vmax.s32 q0, q0, q6\n\t"
        "vmax.s32 q1, q1, q6\n\t"
        "vmin.s32 q0, q0, q7\n\t"
        "vmin.s32 q1, q1, q7\n\t"
        "ldrd r0, r2, [sp]\n\t"
        "vctp.32 r11\n\t"
        "vpstt\n\t"
        "vstrbt.32 q0, [r0], #4\n\t"
        "vstrbt.32 q1, [r2], #4\n\t"
        "strd r0, r2, [sp]\n\t"
        "subs r11, #4\n\t"
        "bgt 1b\n\t"
        "add sp, #8\n\t"
        "vpop {d8-d15}\n\t"
        "pop {r4-r11, pc}\n\t");
#undef EK_MVE_X2_MAC4
#undef EK_MVE_X2_MAC4Q
#undef EK_X2_D32_RQ
}
#pragma GCC diagnostic pop
#endif

#if !(EK_HAVE_MVE && !EK_SINGLE_ROUNDING)
const uint32_t ek_mve_x2_nls[4] = {0u, 0u, 0u, 0u}; /* the portable kernels read no x2rq */
const uint32_t ek_mve_x2_shl[4] = {1u, 1u, 1u, 1u};
#endif

void ek_matmul_mve_s8_x2n(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride, int8_t *out0,
                          int8_t *out1, int32_t npairs, int32_t xstep, int32_t ostep) {
#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
    mve_x2_asm(q, x0, x1, seg_stride, out0, out1, npairs, xstep, ostep);
#else
    for (; npairs > 0; npairs--, x0 += xstep, x1 += xstep, out0 += ostep, out1 += ostep) {
        ek_matmul_mve_s8(q, x0, seg_stride, out0);
        ek_matmul_mve_s8(q, x1, seg_stride, out1);
    }
#endif
}

void ek_matmul_mve_s8_x2(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride, int8_t *out0,
                         int8_t *out1) {
    ek_matmul_mve_s8_x2n(q, x0, x1, seg_stride, out0, out1, 1, 0, 0);
}

#if !(EK_HAVE_MVE && !EK_SINGLE_ROUNDING)
void ek_matmul_mve_s8_x2_d32(const ek_mve_mm_t *q, const int8_t *x0, const int8_t *x1, int32_t seg_stride,
                             int8_t *out0, int8_t *out1) {
    ek_matmul_mve_s8_x2(q, x0, x1, seg_stride, out0, out1);
}
#endif

void ek_matmul_mve_s8(const ek_mve_mm_t *q, const int8_t *x, int32_t seg_stride, int8_t *out) {
#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
    mve_x1_asm(q, x, seg_stride, out);
#else
    const int32_t depth = q->depth, rows = q->rows, segs = q->segments;
    const int32_t off = q->out_offset, lo = q->act_min, hi = q->act_max;
    const int32_t *rq = q->rq;
    const int8_t *w = q->filter;
    int32_t r;
    const int32_t depth16 = (depth + 15) & ~15;
    for (r = 0; r < rows; r += 4, rq += EK_RQ_WORDS, w += 4 * segs * depth16) {
        int32_t k, j, g;
        for (k = 0; k < 4 && r + k < rows; k++) {
            uint32_t a = (uint32_t)rq[k]; /* modulo 2^32, like VMLADAVA */
            for (g = 0; g < segs; g++) {
                const int8_t *xs = x + (size_t)g * seg_stride, *ws = w + (size_t)g * 4 * depth16;
                for (j = 0; j < depth; j++) {
                    a += (uint32_t)((int32_t)ws[(j >> 4) * 64 + k * 16 + (j & 15)] * (int32_t)xs[j]);
                }
            }
            out[r + k] = (int8_t)ek_clamp_i32(ek_mbqm((int32_t)a, rq[4 + k], ek_rq_shift(rq, k)) + off, lo, hi);
        }
    }
#endif
}
