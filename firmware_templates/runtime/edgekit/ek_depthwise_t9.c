/* edgekit AOT runtime: ek_depthwise_conv2d_s8_mve_t9(x2)(_nls)(_nc), MVE depthwise for 9 taps (3x3, 1x9, 9x1; any
 * stride, dilation, padding) and in_c % 16 == 0 (t9x2: in_c == 8 in pixel pairs, stride_w 1) with weights in
 * [-127, 127]; portable C with the same results elsewhere (see ek_conv.h). One naked-asm call covers many output
 * rows (no per-pixel tap tables: per-pixel padding masks), the 9 tap pointers live in registers, tap pairs are
 * summed in int16 from VMULLB/VMULLT.S8 products. */
#include <stddef.h>

#include "ek_conv.h"

#include "ek_simd.h"

/* ek_depthwise_conv2d_s8_mve_t9 (9 taps, in_c % 16 == 0, weights in [-127, 127]): nrows output rows of the same
 * (at most EK_DW9_COLS) columns per call, every pixel through the same 9 tap offsets, the taps in the padding (bit t
 * of the pixel's mask, the row's masks at row_masks) re-pointed at zp_row. Arguments of dw9_asm (field offsets in the
 * asm: 0 rq, 4 filter, 8 nblk, 12 off, 16 base, 20 step, 24 masks, 28 masks_end, 32 zp, 36 offs, 40 lo, 44 hi,
 * 48 out, 52 row_masks, 56 row_adv, 60 out_adv, 64 nrows); a mask's bit 15 says the pixel may keep the last
 * pixel's tap pointers (stride 1, both inside); rq points EK_DW9_RQ_BIAS words and filter
 * EK_DW9_F_BIAS bytes into their first block (where the asm keeps its pointers); base and masks are cursors the call
 * advances (a row's pixels end where masks reaches masks_end), after a row base by row_adv more and the output by
 * out_adv bytes. */
#define EK_DW9_TAPS 0x1FFu
#define EK_DW9_REUSE 0x8000u
#define EK_DW9_RQ_BIAS 34
#define EK_DW9_F_BIAS 64
#define EK_DW9_COLS 16
typedef struct {
    const int32_t *rq;
    const int8_t *filter;
    int32_t nblk, off;
    uintptr_t base;
    intptr_t step;
    const uint16_t *masks, *masks_end;
    const int8_t *zp;
    const intptr_t *offs;
    int32_t lo, hi;
    int8_t *out;
    const uint16_t *row_masks;
    intptr_t row_adv, out_adv;
    int32_t nrows;
} dw9_args_t;

#if EK_HAVE_MVE && !EK_SINGLE_ROUNDING
/* The rows and pixels of a dw9_args_t in one naked function. Per pixel the 9 tap addresses in r1-r6, r8, r9, r11 (base
 * + offs[t], or zp_row for a padding tap: CSEL on the mask bits), each advanced by 16 per 16-channel block. Per block
 * and tap pair, 16 int8 lanes (VLDRB.8) multiplied into int16 products of the even and odd channels (VMULLB.S8 /
 * VMULLT.S8; the second tap's input is loaded twice, there is no ninth Q register), the pair summed in int16
 * (|w| <= 127), then widened into the 4 int32 accumulators q0..q3 = channels {0,4,8,12} {2,6,10,14} {1,5,9,13}
 * {3,7,11,15} (VMOVLB / VMOVLT; the generator orders the rq groups so, dw_t9_order): 19 instructions per 2 taps x 16
 * channels, 12 for the odd tap. Then each group requantized in place (RQ: EK_DW9_FULL or EK_DW9_RIGHT), narrowed in
 * channel order (VQMOVNB/T.S32 to even / odd channels in int16, + off saturating, VQMOVNB/T.S16 to 16 int8), clamped
 * (CLAMP: lo / hi vectors on the stack; none in the _nc variants), one 16-byte store: 126 instructions per block
 * without the clamp, 28 more per pixel (15 when it keeps the last pixel's tap pointers). The filter pointer r10
 * stays at the block's tap 4 and the rq pointer r7 at its last group's multipliers (every load in immediate range, the
 * last load of each post-indexed to the next block; the widening loads need a low register). r0 holds off in the
 * block loop, r12 the output (the whole call), lr the block count. Stack: 36 + 64 bytes of saved registers and a
 * 40-byte frame. */
/* the field offsets the asm reads (a negative array size otherwise) */
typedef char dw9_args_layout[offsetof(dw9_args_t, masks_end) == 28 && offsetof(dw9_args_t, offs) == 36 &&
                             offsetof(dw9_args_t, out) == 48 && offsetof(dw9_args_t, nrows) == 64 ? 1 : -1];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* a naked function reads its argument in the asm */
/* One rq group requantized in place (lshift bytes at L, multipliers at M, rshift bytes at S from r7). FULL: VSHL by the
 * left shifts, VQRDMULH, the ties-away fix-up for any right shift (>= 0) and VRSHL. RIGHT (every shift <= -1): no
 * VSHL, and the fix-up is x - (x < 0) before VRSHL (the same for right shifts >= 1; x > INT32_MIN after VQRDMULH).
 * _LAST: the block's last group, its multipliers loaded last (post-indexed to the next block), the shifts in q5. */
#define EK_DW9_FULL(A, L, M, S)               \
        "vldrb.s32 q4, [r7, #" L "]\n\t"      \
        "vshl.s32 " A ", " A ", q4\n\t"       \
        "vldrw.32 q4, [r7, #" M "]\n\t"       \
        "vqrdmulh.s32 " A ", " A ", q4\n\t"   \
        "vldrb.s32 q4, [r7, #" S "]\n\t"      \
        "vand q5, " A ", q4\n\t"              \
        "vshr.s32 q5, q5, #31\n\t"            \
        "vqadd.s32 " A ", " A ", q5\n\t"      \
        "vrshl.s32 " A ", " A ", q4\n\t"
#define EK_DW9_FULL_LAST(A, L, S)             \
        "vldrb.s32 q4, [r7, #" L "]\n\t"      \
        "vshl.s32 " A ", " A ", q4\n\t"       \
        "vldrb.s32 q5, [r7, #" S "]\n\t"      \
        "vldrw.32 q4, [r7], #160\n\t"         \
        "vqrdmulh.s32 " A ", " A ", q4\n\t"   \
        "vand q4, " A ", q5\n\t"              \
        "vshr.s32 q4, q4, #31\n\t"            \
        "vqadd.s32 " A ", " A ", q4\n\t"      \
        "vrshl.s32 " A ", " A ", q5\n\t"
#define EK_DW9_RIGHT(A, L, M, S)              \
        "vldrw.32 q4, [r7, #" M "]\n\t"       \
        "vqrdmulh.s32 " A ", " A ", q4\n\t"   \
        "vshr.s32 q4, " A ", #31\n\t"         \
        "vadd.i32 " A ", " A ", q4\n\t"       \
        "vldrb.s32 q4, [r7, #" S "]\n\t"      \
        "vrshl.s32 " A ", " A ", q4\n\t"
#define EK_DW9_RIGHT_LAST(A, L, S)            \
        "vldrb.s32 q5, [r7, #" S "]\n\t"      \
        "vldrw.32 q4, [r7], #160\n\t"         \
        "vqrdmulh.s32 " A ", " A ", q4\n\t"   \
        "vshr.s32 q4, " A ", #31\n\t"         \
        "vadd.i32 " A ", " A ", q4\n\t"       \
        "vrshl.s32 " A ", " A ", q5\n\t"
#define EK_DW9_WIDEN                          \
        "vmovlb.s16 q4, q6\n\t"               \
        "vadd.i32 q0, q0, q4\n\t"             \
        "vmovlt.s16 q4, q6\n\t"               \
        "vadd.i32 q1, q1, q4\n\t"             \
        "vmovlb.s16 q4, q7\n\t"               \
        "vadd.i32 q2, q2, q4\n\t"             \
        "vmovlt.s16 q4, q7\n\t"               \
        "vadd.i32 q3, q3, q4\n\t"
/* the [lo, hi] clamp of the 16 int8 results in q6 (the _nc kernels: none, [lo, hi] is the int8 range); _SETUP: lo
 * and hi in every lane, on the stack (the _nc kernels: nothing) */
#define EK_DW9_CLAMP_ASM_SETUP                \
        "ldr r12, [r0, #40]\n\t"              \
        "vdup.8 q4, r12\n\t"                  \
        "vstrw.32 q4, [sp]\n\t"               \
        "ldr r12, [r0, #44]\n\t"              \
        "vdup.8 q4, r12\n\t"                  \
        "vstrw.32 q4, [sp, #16]\n\t"
#define EK_DW9_NO_CLAMP
#define EK_DW9_NO_CLAMP_SETUP
#define EK_DW9_CLAMP_ASM                      \
        "vldrw.32 q7, [sp]\n\t"               \
        "vmax.s8 q6, q6, q7\n\t"              \
        "vldrw.32 q7, [sp, #16]\n\t"          \
        "vmin.s8 q6, q6, q7\n\t"
/* taps in registers XA, XB, their weights at addressing modes WA, WB */
#define EK_DW9_PAIR(XA, XB, WA, WB)           \
        "vldrb.u8 q4, [" XA "], #16\n\t"      \
        "vldrw.u32 q5, " WA "\n\t"            \
        "vmullb.s8 q6, q4, q5\n\t"            \
        "vmullt.s8 q7, q4, q5\n\t"            \
        "vldrb.u8 q4, [" XB "]\n\t"           \
        "vldrw.u32 q5, " WB "\n\t"            \
        "vmullb.s8 q4, q4, q5\n\t"            \
        "vadd.i16 q6, q6, q4\n\t"             \
        "vldrb.u8 q4, [" XB "], #16\n\t"      \
        "vmullt.s8 q4, q4, q5\n\t"            \
        "vadd.i16 q7, q7, q4\n\t"             \
        EK_DW9_WIDEN
/* taps 2k and 2k + 1 re-pointed at zp_row (r10) by bits 2k, 2k + 1 of the mask r7 (as N and C) */
#define EK_DW9_ZP(SH, RA, RB) \
    "lsls lr, r7, #" SH "\n\t" "csel " RA ", r10, " RA ", mi\n\t" "csel " RB ", r10, " RB ", cs\n\t"
#define EK_DW9_ASM(NAME, RQ, CLAMP) \
__attribute__((naked, noinline)) static void NAME(dw9_args_t *a) {                                                \
    __asm__ volatile(                                                                                            \
        "push {r4-r11, lr}\n\t"                                                                                  \
        "vpush {d8-d15}\n\t"                                                                                     \
        "sub sp, #40\n\t"                                                                                        \
        "str r0, [sp, #32]\n\t"                                                                                  \
        CLAMP##_SETUP                                                                                            \
        "ldr r12, [r0, #48]\n"                                                                                    \
        "0:\n\t" /* a row */                                                                                     \
        "ldr r10, [r0, #52]\n\t"                                                                                 \
        "str r10, [r0, #24]\n"                                                                                    \
        "1:\n\t" /* a pixel: its mask, the next base */                                                          \
        "ldr r10, [r0, #24]\n\t"                                                                                 \
        "ldrh r7, [r10], #2\n\t"                                                                                 \
        "str r10, [r0, #24]\n\t"                                                                                 \
        "ldrd r10, lr, [r0, #16]\n\t"                                                                            \
        "add lr, r10\n\t"                                                                                        \
        "str lr, [r0, #16]\n\t"                                                                                  \
        "lsls lr, r7, #17\n\t" /* C: the tap pointers of the last pixel are this one's */                        \
        "bcs 3f\n\t"                                                                                             \
        "ldr lr, [r0, #36]\n\t" /* the tap addresses */                                                          \
        "ldm lr, {r1-r6, r8, r9, r11}\n\t"                                                                       \
        "add r1, r10\n\t"                                                                                        \
        "add r2, r10\n\t"                                                                                        \
        "add r3, r10\n\t"                                                                                        \
        "add r4, r10\n\t"                                                                                        \
        "add r5, r10\n\t"                                                                                        \
        "add r6, r10\n\t"                                                                                        \
        "add r8, r10\n\t"                                                                                        \
        "add r9, r10\n\t"                                                                                        \
        "add r11, r10\n\t"                                                                                       \
        "lsls lr, r7, #23\n\t"                                                                                   \
        "beq 3f\n\t"                                                                                             \
        "ldr r10, [r0, #32]\n\t" /* padding taps at zp_row */                                                    \
        EK_DW9_ZP("31", "r1", "r2") EK_DW9_ZP("29", "r3", "r4") EK_DW9_ZP("27", "r5", "r6")                      \
        EK_DW9_ZP("25", "r8", "r9")                                                                              \
        "lsls lr, r7, #23\n\t"                                                                                   \
        "csel r11, r10, r11, mi\n"                                                                               \
        "3:\n\t"                                                                                                 \
        "ldm r0, {r7, r10, lr}\n\t"                                                                              \
        "ldr r0, [r0, #12]\n\t"                                                                                  \
        "dls lr, lr\n"                                                                                           \
        "2:\n\t" /* a block of 16 channels */                                                                    \
        "vldrw.32 q0, [r7, #-136]\n\t"                                                                           \
        "vldrw.32 q1, [r7, #-96]\n\t"                                                                            \
        "vldrw.32 q2, [r7, #-56]\n\t"                                                                            \
        "vldrw.32 q3, [r7, #-16]\n\t"                                                                            \
        EK_DW9_PAIR("r1", "r2", "[r10, #-64]", "[r10, #-48]")                                                    \
        EK_DW9_PAIR("r3", "r4", "[r10, #-32]", "[r10, #-16]")                                                    \
        EK_DW9_PAIR("r6", "r8", "[r10, #16]", "[r10, #32]")                                                      \
        "vldrb.u8 q4, [r11], #16\n\t"                                                                            \
        "vldrw.u32 q5, [r10, #64]\n\t"                                                                           \
        "vmullb.s8 q6, q4, q5\n\t"                                                                               \
        "vmullt.s8 q7, q4, q5\n\t"                                                                               \
        EK_DW9_WIDEN                                                                                             \
        EK_DW9_PAIR("r9", "r5", "[r10, #48]", "[r10], #144")                                                     \
        RQ("q0", "-104", "-120", "-100")                                                                         \
        RQ("q1", "-64", "-80", "-60")                                                                            \
        RQ("q2", "-24", "-40", "-20")                                                                            \
        RQ##_LAST("q3", "16", "20")                                                                              \
        "vqmovnb.s32 q4, q0\n\t"                                                                                 \
        "vqmovnt.s32 q4, q1\n\t"                                                                                 \
        "vqmovnb.s32 q5, q2\n\t"                                                                                 \
        "vqmovnt.s32 q5, q3\n\t"                                                                                 \
        "vqadd.s16 q4, q4, r0\n\t"                                                                               \
        "vqadd.s16 q5, q5, r0\n\t"                                                                               \
        "vqmovnb.s16 q6, q4\n\t"                                                                                 \
        "vqmovnt.s16 q6, q5\n\t"                                                                                 \
        CLAMP                                                                                                    \
        "vstrb.8 q6, [r12], #16\n\t"                                                                             \
        "le lr, 2b\n\t"                                                                                          \
        "ldr r0, [sp, #32]\n\t"                                                                                  \
        "ldrd r7, r10, [r0, #24]\n\t"                                                                            \
        "cmp r7, r10\n\t"                                                                                        \
        "bne 1b\n\t"                                                                                             \
        "ldrd r7, r10, [r0, #56]\n\t" /* the next row */                                                         \
        "ldr r1, [r0, #16]\n\t"                                                                                  \
        "add r1, r7\n\t"                                                                                         \
        "str r1, [r0, #16]\n\t"                                                                                  \
        "add r12, r10\n\t"                                                                                       \
        "ldr r10, [r0, #64]\n\t"                                                                                 \
        "subs r10, #1\n\t"                                                                                       \
        "str r10, [r0, #64]\n\t"                                                                                 \
        "bne 0b\n\t"                                                                                             \
        "add sp, #40\n\t"                                                                                        \
        "vpop {d8-d15}\n\t"                                                                                      \
        "pop {r4-r11, pc}\n\t");                                                                                 \
}
EK_DW9_ASM(dw9_asm, EK_DW9_FULL, EK_DW9_CLAMP_ASM)
EK_DW9_ASM(dw9_asm_nls, EK_DW9_RIGHT, EK_DW9_CLAMP_ASM)
EK_DW9_ASM(dw9_asm_nc, EK_DW9_FULL, EK_DW9_NO_CLAMP)
EK_DW9_ASM(dw9_asm_nls_nc, EK_DW9_RIGHT, EK_DW9_NO_CLAMP)
#pragma GCC diagnostic pop
#else
/* The portable C of dw9_asm (every variant; the clamp is a no-op for _nc layers): the same taps, rq groups and
 * results, channel by channel. */
static void dw9_pixels_c(dw9_args_t *a) {
    int8_t *out = a->out;
    int32_t r, blk, j, t;
    for (r = 0; r < a->nrows; r++, a->base += (uintptr_t)a->row_adv, out += a->out_adv) {
        a->masks = a->row_masks;
        for (; a->masks != a->masks_end; a->base += (uintptr_t)a->step) {
            const uint32_t m = *a->masks++ & EK_DW9_TAPS;
            const int8_t *fp = a->filter - EK_DW9_F_BIAS;
            const int32_t *q = a->rq - EK_DW9_RQ_BIAS;
            uintptr_t addr[9];
            for (t = 0; t < 9; t++) {
                addr[t] = (m >> t) & 1u ? (uintptr_t)a->zp : a->base + (uintptr_t)a->offs[t];
            }
            for (blk = 0; blk < a->nblk; blk++, fp += 9 * 16, q += 4 * EK_RQ_WORDS, out += 16) {
                for (j = 0; j < 16; j++) { /* channel j: rq group (dw_t9_order) and lane */
                    const int32_t *g = q + (((j & 1) << 1) | ((j >> 1) & 1)) * EK_RQ_WORDS;
                    const int lane = j >> 2;
                    uint32_t acc = (uint32_t)g[lane];
                    for (t = 0; t < 9; t++) {
                        const int8_t *xp = (const int8_t *)(addr[t] + (uintptr_t)blk * 16u);
                        acc += (uint32_t)((int32_t)xp[j] * (int32_t)fp[t * 16 + j]);
                    }
                    out[j] = (int8_t)ek_clamp_i32(ek_mbqm((int32_t)acc, g[4 + lane], ek_rq_shift(g, lane)) + a->off,
                                                  a->lo, a->hi);
                }
            }
        }
    }
}
#define dw9_asm dw9_pixels_c
#define dw9_asm_nls dw9_pixels_c
#define dw9_asm_nc dw9_pixels_c
#define dw9_asm_nls_nc dw9_pixels_c
#endif

/* What both walkers compute first: the zero-point row, the tap offsets, the kernel's constant arguments, the rows
 * whose windows lie inside vertically. */
typedef struct {
    dw9_args_t a;
    intptr_t offs[9];
    uint32_t colbits; /* the taps of column kx = 0 */
    int32_t oy_a, oy_b; /* rows [oy_a, oy_b): windows inside vertically */
} dw9_layer_t;

static EK_NOINLINE void dw9_setup(dw9_layer_t *l, const ek_dw9_params_t *p, const int8_t *filter, int8_t *zp_row) {
    const int32_t ch = p->in_c, nblk = (ch + 15) >> 4; /* 8 channels: the one block of a pixel pair */
    const int32_t in_h = p->in_h, in_w = p->in_w, k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h;
    int32_t ky, kx, t = 0;
    memset(zp_row, -p->in_offset, (size_t)nblk << 4);
    l->colbits = 0;
    for (ky = 0; ky < k_h; ky++) {
        l->colbits |= 1u << (ky * k_w);
        for (kx = 0; kx < k_w; kx++) {
            l->offs[t++] = ((intptr_t)ky * dil_h * in_w + (intptr_t)kx * p->dil_w) * ch;
        }
    }
    l->a.filter = filter + EK_DW9_F_BIAS;
    l->a.rq = p->dw_rq + EK_DW9_RQ_BIAS;
    l->a.nblk = nblk;
    l->a.off = p->out_offset;
    l->a.offs = l->offs;
    l->a.zp = zp_row;
    l->a.lo = p->act_min;
    l->a.hi = p->act_max;
    {
        const int32_t sh = p->stride_h, below = in_h - (k_h - 1) * dil_h + p->pad_h;
        int32_t oy_b = below > 0 ? (below + sh - 1) / sh : 0;
        l->oy_a = (p->pad_h + sh - 1) / sh;
        l->oy_b = oy_b < p->out_h ? oy_b : p->out_h;
    }
}

/* A 9-tap depthwise layer (k_h * k_w == 9, any stride, dilation and padding) in column chunks of EK_DW9_COLS: the
 * chunk's column padding masks computed once; per batch one call of `run` for each row whose windows touch the
 * padding above or below (its masks | the row's, on the stack) and one for all rows between. `pair` is a constant
 * (each walker below gets its own copy).
 * pair 1 (in_c == 8, stride_w 1, pad_w <= 1, out_w >= 4, columns 1 .. out_w - 2 inside horizontally: the
 * generator's dw_t9_pairs): two neighbouring pixels' taps are 16 contiguous bytes, one 16-channel block for the
 * kernel with the generator's doubled filter and rq groups. The columns from 1 go in pairs (pixels of 16 channels,
 * 16 bytes apart); column 0 alone as the first half of a pair, then column out_w - 1 (and out_w - 2 if out_w is
 * odd) as the second half, through its own padding mask: the other half is computed from columns inside and
 * written over by a later call. */
EK_INLINE void dw9_walk(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output,
                        int8_t *zp_row, void (*run)(dw9_args_t *), const int pair) {
    const int32_t in_h = p->in_h, in_w = p->in_w, ch = pair ? 8 : p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t k_h = p->k_h, k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w, stride_w = pair ? 1 : p->stride_w;
    const intptr_t row_step = (intptr_t)p->stride_h * in_w * ch;
    /* pair: the single columns first (0, out_w - 1, out_w - 2 if out_w is odd), then pairs up to inner */
    const int32_t nlone = pair ? 2 + (out_w & 1) : 0, inner = pair ? out_w - 1 - (out_w & 1) : out_w;
    uint16_t cmask[EK_DW9_COLS], rmask[EK_DW9_COLS];
    dw9_layer_t l;
    int32_t b, oy, ox0 = pair, k = 0, ky, kx, i;
    dw9_setup(&l, p, filter, zp_row);
    for (;;) {
        /* n pixels sx columns apart, the first one's mask from column c0, its base and output from c0 - half */
        int32_t c0 = ox0, n, sx = 1, half = 0;
        if (pair && k < nlone) {
            c0 = k ? out_w - k : 0;
            half = k > 0;
            n = 1;
            k++;
        } else if (ox0 < inner) {
            sx = pair ? 2 : 1;
            n = (inner - ox0) / sx;
            n = n < EK_DW9_COLS ? n : EK_DW9_COLS;
            ox0 += EK_DW9_COLS * sx;
        } else {
            break;
        }
        {
            const int32_t ix0 = c0 * stride_w - p->pad_w;
            l.a.step = (intptr_t)sx * stride_w * ch;
            for (i = 0; i < n; i++) {
                uint32_t m = 0;
                for (kx = 0; kx < k_w; kx++) {
                    if ((uint32_t)(ix0 + i * sx * stride_w + kx * dil_w) >= (uint32_t)in_w) {
                        m |= l.colbits << kx;
                    }
                }
                /* stride 1 (pair: 2 columns of 8 channels) and this and the last pixel inside: the tap pointers the
                 * block loop advanced by 16 x nblk bytes */
                if (i > 0 && m == 0 && (cmask[i - 1] & EK_DW9_TAPS) == 0 && stride_w == 1) {
                    m = EK_DW9_REUSE;
                }
                cmask[i] = (uint16_t)m;
            }
            l.a.row_adv = row_step - (intptr_t)n * l.a.step;
            l.a.out_adv = pair ? (intptr_t)(out_w - 2 * n) * 8 : (intptr_t)(out_w - n) * ch; /* pair: 16 B a pixel */
            for (b = 0; b < p->batches; b++) {
                const uintptr_t in_b = (uintptr_t)input + (uintptr_t)((size_t)b * in_h * in_w * ch);
                const size_t o_b = (size_t)b * out_h * out_w;
                for (oy = 0; oy < out_h; oy += l.a.nrows) {
                    const int32_t iy0 = oy * p->stride_h - p->pad_h;
                    l.a.base = in_b + (uintptr_t)(((intptr_t)iy0 * in_w + ix0 - half) * ch);
                    l.a.out = output + (o_b + (size_t)oy * out_w + (size_t)(c0 - half)) * ch;
                    if (oy < l.oy_a || oy >= l.oy_b) { /* one row of windows touching the padding */
                        uint32_t rm = 0;
                        for (ky = 0; ky < k_h; ky++) {
                            if ((uint32_t)(iy0 + ky * dil_h) >= (uint32_t)in_h) {
                                rm |= ((1u << k_w) - 1u) << (ky * k_w);
                            }
                        }
                        for (i = 0; i < n; i++) {
                            rmask[i] = (uint16_t)((cmask[i] & ~EK_DW9_REUSE) | rm);
                        }
                        l.a.row_masks = rmask;
                        l.a.masks_end = rmask + n;
                        l.a.nrows = 1;
                    } else { /* the rows whose windows lie inside vertically */
                        l.a.row_masks = cmask;
                        l.a.masks_end = cmask + n;
                        l.a.nrows = l.oy_b - oy;
                    }
                    {
                        const int32_t nrows = l.a.nrows; /* the asm counts it down */
                        run(&l.a);
                        l.a.nrows = nrows;
                    }
                }
            }
        }
    }
}


static void dw9_layer(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output,
                      int8_t *zp_row, void (*run)(dw9_args_t *)) {
    dw9_walk(p, input, filter, output, zp_row, run, 0);
}

/* 8-channel layers in pixel pairs (the t9x2 entries) */
static void dw9_layer_x2(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter, int8_t *output,
                         int8_t *zp_row, void (*run)(dw9_args_t *)) {
    dw9_walk(p, input, filter, output, zp_row, run, 1);
}

void ek_depthwise_conv2d_s8_mve_t9(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                   int8_t *output, void *scratch) {
    dw9_layer(p, input, filter, output, (int8_t *)scratch, dw9_asm);
}

void ek_depthwise_conv2d_s8_mve_t9_nls(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                       int8_t *output, void *scratch) {
    dw9_layer(p, input, filter, output, (int8_t *)scratch, dw9_asm_nls);
}

void ek_depthwise_conv2d_s8_mve_t9_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                      int8_t *output, void *scratch) {
    dw9_layer(p, input, filter, output, (int8_t *)scratch, dw9_asm_nc);
}

void ek_depthwise_conv2d_s8_mve_t9_nls_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                          int8_t *output, void *scratch) {
    dw9_layer(p, input, filter, output, (int8_t *)scratch, dw9_asm_nls_nc);
}

void ek_depthwise_conv2d_s8_mve_t9x2(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, void *scratch) {
    dw9_layer_x2(p, input, filter, output, (int8_t *)scratch, dw9_asm);
}

void ek_depthwise_conv2d_s8_mve_t9x2_nls(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, void *scratch) {
    dw9_layer_x2(p, input, filter, output, (int8_t *)scratch, dw9_asm_nls);
}

void ek_depthwise_conv2d_s8_mve_t9x2_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                        int8_t *output, void *scratch) {
    dw9_layer_x2(p, input, filter, output, (int8_t *)scratch, dw9_asm_nc);
}

void ek_depthwise_conv2d_s8_mve_t9x2_nls_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                            int8_t *output, void *scratch) {
    dw9_layer_x2(p, input, filter, output, (int8_t *)scratch, dw9_asm_nls_nc);
}
