/* edgekit AOT runtime: sparse-weight CONV_2D / FULLY_CONNECTED (see ek_sparse.h). */
#include "ek_sparse.h"

/* The 4-column entry loop in Thumb-2 assembly (Cortex-M3 and up; optimized builds, where the 13 registers it
 * needs are free); elsewhere the C loop, with the same results. */
#if defined(__GNUC__) && defined(__thumb2__) && defined(__OPTIMIZE__)
#define EK_SPARSE_ASM 1
#else
#define EK_SPARSE_ASM 0
#endif

typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t stride, offset, lo, hi;
} sp_requant_t;

EK_INLINE int8_t sp_requant(int32_t acc, int32_t m, int32_t s, const sp_requant_t *rq) {
    return (int8_t)ek_clamp_i32(ek_mbqm_pos(acc, m, s) + rq->offset, rq->lo, rq->hi);
}

/* All rows for `ncols` (1..4) columns: out_k[r * out_step] = requant(bias[r] + sum_e w_e * col_k[off_e]). */
static void sparse_rows(const ek_sparse_t *s, const sp_requant_t *rq, const int8_t *const *cols, int32_t ncols,
                        int8_t *const *outs) {
    const int32_t rows = s->rows;
    const uint16_t *counts = s->counts;
    const int32_t *bias = s->bias;
    const uint8_t *e = s->entries;
    int32_t r;
    if (ncols == 4) {
        const int8_t *c0 = cols[0], *c1 = cols[1], *c2 = cols[2], *c3 = cols[3];
        int8_t *o0 = outs[0], *o1 = outs[1], *o2 = outs[2], *o3 = outs[3];
        for (r = 0; r < rows; r++) {
            const uint8_t *end = e + 2 * (size_t)counts[r];
            int32_t a0 = bias[r], a1 = a0, a2 = a0, a3 = a0;
            uint32_t off = 0;
#if EK_SPARSE_ASM
            if (e != end) {
                /* 13 instructions per entry (4 MACs); gcc's loop of the C below takes 14 */
                int32_t w, t;
                __asm__ __volatile__(
                    "1:\n\t"
                    "ldrsb %[w], [%[e], #1]\n\t"
                    "ldrb %[t], [%[e]], #2\n\t"
                    "add %[off], %[off], %[t]\n\t"
                    "ldrsb %[t], [%[c0], %[off]]\n\t"
                    "mla %[a0], %[w], %[t], %[a0]\n\t"
                    "ldrsb %[t], [%[c1], %[off]]\n\t"
                    "mla %[a1], %[w], %[t], %[a1]\n\t"
                    "ldrsb %[t], [%[c2], %[off]]\n\t"
                    "mla %[a2], %[w], %[t], %[a2]\n\t"
                    "ldrsb %[t], [%[c3], %[off]]\n\t"
                    "mla %[a3], %[w], %[t], %[a3]\n\t"
                    "cmp %[e], %[end]\n\t"
                    "bne 1b\n\t"
                    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [e] "+r"(e), [off] "+r"(off),
                      [w] "=&r"(w), [t] "=&r"(t)
                    : [c0] "r"(c0), [c1] "r"(c1), [c2] "r"(c2), [c3] "r"(c3), [end] "r"(end)
                    : "cc", "memory");
            }
#else
            while (e != end) {
                const int32_t w = (int8_t)e[1];
                off += e[0];
                e += 2;
                a0 += w * c0[off];
                a1 += w * c1[off];
                a2 += w * c2[off];
                a3 += w * c3[off];
            }
#endif
            {
                /* all 4 results before the int8 stores (which may alias anything) */
                const int32_t i = r * rq->stride, m = rq->mult[i], sh = rq->shift[i];
                const int8_t v0 = sp_requant(a0, m, sh, rq), v1 = sp_requant(a1, m, sh, rq);
                const int8_t v2 = sp_requant(a2, m, sh, rq), v3 = sp_requant(a3, m, sh, rq);
                o0[r] = v0;
                o1[r] = v1;
                o2[r] = v2;
                o3[r] = v3;
            }
        }
        return;
    }
    for (; ncols > 0; ncols--, cols++, outs++) {
        const int8_t *c = cols[0];
        int8_t *o = outs[0];
        e = s->entries;
        for (r = 0; r < rows; r++) {
            const uint8_t *end = e + 2 * (size_t)counts[r];
            int32_t a = bias[r];
            uint32_t off = 0;
            while (e != end) {
                off += e[0];
                a += (int8_t)e[1] * c[off];
                e += 2;
            }
            {
                const int32_t i = r * rq->stride;
                o[r] = sp_requant(a, rq->mult[i], rq->shift[i], rq);
            }
        }
    }
}

/* im2col patch of output pixel (oy, ox): k_h x k_w x in_c int8, padding taps set to the input zero point.
 * Without dilation the taps of a patch row inside the input are one contiguous run of the input row. */
static void sparse_patch(const ek_conv_params_t *p, const int8_t *in_b, int32_t oy, int32_t ox, int8_t *patch) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_w = p->k_w, dil_w = p->dil_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    const int zp = (int)(uint8_t)(int8_t)-p->in_offset;
    const size_t row = (size_t)k_w * in_c;
    int32_t ky, kx;
    for (ky = 0; ky < p->k_h; ky++) {
        const int32_t iy = iy0 + ky * p->dil_h;
        int8_t *dst = patch + (size_t)ky * row;
        if (iy < 0 || iy >= in_h) {
            memset(dst, zp, row);
        } else if (dil_w == 1 && ix0 >= 0 && ix0 + k_w <= in_w) {
            memcpy(dst, in_b + ((size_t)iy * in_w + ix0) * in_c, row);
        } else {
            for (kx = 0; kx < k_w; kx++) {
                const int32_t ix = ix0 + kx * dil_w;
                if (ix < 0 || ix >= in_w) {
                    memset(dst + (size_t)kx * in_c, zp, (size_t)in_c);
                } else {
                    memcpy(dst + (size_t)kx * in_c, in_b + ((size_t)iy * in_w + ix) * in_c, (size_t)in_c);
                }
            }
        }
    }
}

void ek_sparse_conv2d_s8(const ek_conv_params_t *p, const ek_sparse_t *s, const int8_t *input, int8_t *output,
                         void *scratch) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_w = p->out_w, out_c = p->out_c;
    const int32_t per_image = p->out_h * out_w, total = p->batches * per_image, depth = s->depth;
    const int direct = scratch == NULL;
    sp_requant_t rq;
    int32_t i;
    rq.mult = p->out_mult;
    rq.shift = p->out_shift;
    rq.stride = 1;
    rq.offset = p->out_offset;
    rq.lo = p->act_min;
    rq.hi = p->act_max;
    for (i = 0; i < total; i += 4) {
        const int32_t n = total - i >= 4 ? 4 : total - i;
        const int8_t *cols[4];
        int8_t *outs[4];
        int32_t j;
        for (j = 0; j < n; j++) {
            const int32_t b = (i + j) / per_image, pix = (i + j) - b * per_image;
            const int32_t oy = pix / out_w, ox = pix - oy * out_w;
            const int8_t *in_b = input + (size_t)b * in_h * in_w * in_c;
            if (direct) {
                cols[j] = in_b + ((size_t)oy * p->stride_h * in_w + (size_t)ox * p->stride_w) * in_c;
            } else {
                int8_t *patch = (int8_t *)scratch + (size_t)j * depth;
                sparse_patch(p, in_b, oy, ox, patch);
                cols[j] = patch;
            }
            outs[j] = output + (size_t)(i + j) * out_c;
        }
        sparse_rows(s, &rq, cols, n, outs);
    }
}

void ek_sparse_fc_s8(const ek_fc_params_t *p, const ek_sparse_t *s, const int8_t *input, int8_t *output) {
    const int32_t batches = p->batches, depth = p->accum_depth, out_depth = p->out_depth;
    sp_requant_t rq;
    int32_t b;
    rq.mult = p->out_mult;
    rq.shift = p->out_shift;
    rq.stride = p->per_channel ? 1 : 0;
    rq.offset = p->out_offset;
    rq.lo = p->act_min;
    rq.hi = p->act_max;
    for (b = 0; b < batches; b += 4) {
        const int32_t n = batches - b >= 4 ? 4 : batches - b;
        const int8_t *cols[4];
        int8_t *outs[4];
        int32_t j;
        for (j = 0; j < n; j++) {
            cols[j] = input + (size_t)(b + j) * depth;
            outs[j] = output + (size_t)(b + j) * out_depth;
        }
        sparse_rows(s, &rq, cols, n, outs);
    }
}
