/* edgekit AOT runtime: int8 FULLY_CONNECTED (see ek_fully_connected.h). */
#include "ek_fully_connected.h"

#include "ek_matmul.h"
#include "ek_simd.h"

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output) {
    /* locals: int8_t stores may alias the parameter struct */
    const int32_t batches = p->batches, depth = p->accum_depth, out_depth = p->out_depth;
    const int32_t in_offset = p->in_offset, filter_offset = p->filter_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max, per_channel = p->per_channel;
    const int32_t *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    int32_t b, oc, d;
    for (b = 0; b < batches; b++) {
        const int8_t *in = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_depth;
        for (oc = 0; oc < out_depth; oc++) {
            const int8_t *f = filter + (size_t)oc * depth;
            const int32_t ch = per_channel ? oc : 0;
            int32_t acc = 0;
            if (filter_offset == 0) {
                for (d = 0; d < depth; d++) {
                    acc += (int32_t)f[d] * ((int32_t)in[d] + in_offset);
                }
            } else {
                for (d = 0; d < depth; d++) {
                    acc += ((int32_t)f[d] + filter_offset) * ((int32_t)in[d] + in_offset);
                }
            }
            if (bias != NULL) {
                acc += bias[oc];
            }
            acc = ek_mbqm(acc, out_mult[ch], out_shift[ch]) + out_offset;
            out[oc] = (int8_t)ek_clamp_i32(acc, act_min, act_max);
        }
    }
}

void ek_fully_connected_s8_mat(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch) {
    const int32_t batches = p->batches, depth = p->accum_depth, out_depth = p->out_depth;
    int16_t *cols = (int16_t *)scratch;
    ek_matmul_t q;
    int32_t b;
    q.depth = (depth + 3) & ~3;
    q.rows = out_depth;
    q.out_offset = p->out_offset;
    q.act_min = p->act_min;
    q.act_max = p->act_max;
    q.mult_stride = p->per_channel ? 1 : 0;
    q.out_mult = p->out_mult;
    q.out_shift = p->out_shift;
    for (b = 0; b < batches; b += 2) {
        const int32_t n = batches - b >= 2 ? 2 : 1;
        int32_t j;
        for (j = 0; j < n; j++) {
            ek_widen_s8_reordered(input + (size_t)(b + j) * depth, cols + 2 * j, depth, p->in_offset, 4 * n,
                                  2 * n);
        }
        ek_matmul_s8(&q, cols, n, filter, bias, output + (size_t)b * out_depth,
                     output + (size_t)(b + n - 1) * out_depth);
    }
}

/* ---- one input row against 4 / 2 / 1 filter rows, raw int8 input (ek_fully_connected_s8_vec) ---- */

typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int32_t stride, offset, lo, hi;
} fc_requant_t;

EK_INLINE int8_t fc_requant(int32_t acc, const fc_requant_t *rq, int32_t r) {
    const int32_t i = r * rq->stride;
    const int32_t v = ek_mbqm_pos(acc, rq->mult[i], rq->shift[i]) + rq->offset;
    return (int8_t)ek_clamp_i32(v, rq->lo, rq->hi);
}

/* The last rest (1..3) input bytes as a zero-padded word (the padded weights are zero). */
EK_INLINE uint32_t fc_tail_word(const int8_t *x, int32_t rest) {
    uint32_t w = (uint8_t)x[0];
    if (rest > 1) {
        w |= (uint32_t)(uint8_t)x[1] << 8;
    }
    if (rest > 2) {
        w |= (uint32_t)(uint8_t)x[2] << 16;
    }
    return w;
}

/* Rows r..r+3: pair (r, r+1) at pa, pair (r+2, r+3) at pb (ek_matmul_s8 layout), `groups` full groups of 4
 * input bytes at x, then an optional tail word xt (rest != 0). Adds the 4 dot products to acc. */
EK_NOINLINE static void dot_4x1(const ek_u32a_t *pa, const ek_u32a_t *pb, const int8_t *x, int32_t groups, uint32_t xt,
                    int32_t rest, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if EK_HAVE_DSP
    if (groups > 0) {
        /* 23 instructions per 16 MACs: the input word is sign-extended once for 4 rows */
        const ek_u32a_t *end = pa + 2 * groups;
        uint32_t w0, w1, xl, xh, t;
        __asm__ __volatile__(
            "1:\n\t"
            "ldr %[xh], [%[px]], #4\n\t"
            "ldrd %[w0], %[w1], [%[pa]], #8\n\t"
            "sxtb16 %[xl], %[xh]\n\t"
            "sxtb16 %[xh], %[xh], ror #8\n\t"
            "sxtb16 %[t], %[w0]\n\t"
            "smlad %[a0], %[t], %[xl], %[a0]\n\t"
            "sxtb16 %[w0], %[w0], ror #8\n\t"
            "smlad %[a0], %[w0], %[xh], %[a0]\n\t"
            "sxtb16 %[t], %[w1]\n\t"
            "smlad %[a1], %[t], %[xl], %[a1]\n\t"
            "sxtb16 %[w1], %[w1], ror #8\n\t"
            "smlad %[a1], %[w1], %[xh], %[a1]\n\t"
            "ldrd %[w0], %[w1], [%[pb]], #8\n\t"
            "sxtb16 %[t], %[w0]\n\t"
            "smlad %[a2], %[t], %[xl], %[a2]\n\t"
            "sxtb16 %[w0], %[w0], ror #8\n\t"
            "smlad %[a2], %[w0], %[xh], %[a2]\n\t"
            "sxtb16 %[t], %[w1]\n\t"
            "smlad %[a3], %[t], %[xl], %[a3]\n\t"
            "sxtb16 %[w1], %[w1], ror #8\n\t"
            "smlad %[a3], %[w1], %[xh], %[a3]\n\t"
            "cmp %[pa], %[end]\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [pa] "+r"(pa), [pb] "+r"(pb),
              [px] "+r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1), [xl] "=&r"(xl), [xh] "=&r"(xh), [t] "=&r"(t)
            : [end] "r"(end)
            : "cc", "memory");
    }
#else
    for (; groups > 0; groups--) {
        const uint32_t xw = ek_ld32(x);
        const uint32_t xl = ek_sxtb16(xw), xh = ek_sxtb16_ror8(xw);
        x += 4;
        a0 = ek_smlad(ek_sxtb16(pa[0]), xl, a0);
        a0 = ek_smlad(ek_sxtb16_ror8(pa[0]), xh, a0);
        a1 = ek_smlad(ek_sxtb16(pa[1]), xl, a1);
        a1 = ek_smlad(ek_sxtb16_ror8(pa[1]), xh, a1);
        a2 = ek_smlad(ek_sxtb16(pb[0]), xl, a2);
        a2 = ek_smlad(ek_sxtb16_ror8(pb[0]), xh, a2);
        a3 = ek_smlad(ek_sxtb16(pb[1]), xl, a3);
        a3 = ek_smlad(ek_sxtb16_ror8(pb[1]), xh, a3);
        pa += 2;
        pb += 2;
    }
#endif
    if (rest != 0) {
        const uint32_t xl = ek_sxtb16(xt), xh = ek_sxtb16_ror8(xt);
        a0 = ek_smlad(ek_sxtb16(pa[0]), xl, a0);
        a0 = ek_smlad(ek_sxtb16_ror8(pa[0]), xh, a0);
        a1 = ek_smlad(ek_sxtb16(pa[1]), xl, a1);
        a1 = ek_smlad(ek_sxtb16_ror8(pa[1]), xh, a1);
        a2 = ek_smlad(ek_sxtb16(pb[0]), xl, a2);
        a2 = ek_smlad(ek_sxtb16_ror8(pb[0]), xh, a2);
        a3 = ek_smlad(ek_sxtb16(pb[1]), xl, a3);
        a3 = ek_smlad(ek_sxtb16_ror8(pb[1]), xh, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* `nrows` (1 or 2) rows at pw: a pair (interleaved words) or one plain row. */
static void dot_small(const ek_u32a_t *pw, int32_t nrows, const int8_t *x, int32_t groups, uint32_t xt,
                      int32_t rest, int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], g;
    for (g = 0; g <= groups; g++) {
        uint32_t xw, xl, xh;
        if (g == groups) {
            if (rest == 0) {
                break;
            }
            xw = xt;
        } else {
            xw = ek_ld32(x + 4 * g);
        }
        xl = ek_sxtb16(xw);
        xh = ek_sxtb16_ror8(xw);
        a0 = ek_smlad(ek_sxtb16(pw[0]), xl, a0);
        a0 = ek_smlad(ek_sxtb16_ror8(pw[0]), xh, a0);
        if (nrows == 2) {
            a1 = ek_smlad(ek_sxtb16(pw[1]), xl, a1);
            a1 = ek_smlad(ek_sxtb16_ror8(pw[1]), xh, a1);
        }
        pw += nrows;
    }
    acc[0] = a0;
    acc[1] = a1;
}

void ek_fully_connected_s8_vec(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output) {
    const int32_t batches = p->batches, depth = p->accum_depth, rows = p->out_depth;
    const int32_t depth4 = (depth + 3) & ~3, groups = depth >> 2, rest = depth & 3;
    fc_requant_t rq;
    int32_t b;
    rq.mult = p->out_mult;
    rq.shift = p->out_shift;
    rq.stride = p->per_channel ? 1 : 0;
    rq.offset = p->out_offset;
    rq.lo = p->act_min;
    rq.hi = p->act_max;
    for (b = 0; b < batches; b++) {
        const int8_t *x = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * rows;
        const uint32_t xt = rest != 0 ? fc_tail_word(x + 4 * groups, rest) : 0u;
        int32_t r = 0;
        for (; r + 3 < rows; r += 4) {
            const ek_u32a_t *pa = (const ek_u32a_t *)(const void *)(filter + (size_t)r * depth4);
            int32_t acc[4];
            acc[0] = bias[r];
            acc[1] = bias[r + 1];
            acc[2] = bias[r + 2];
            acc[3] = bias[r + 3];
            dot_4x1(pa, pa + depth4 / 2, x, groups, xt, rest, acc);
            {
                /* all 4 results before the int8 stores (which may alias anything) */
                const int8_t v0 = fc_requant(acc[0], &rq, r), v1 = fc_requant(acc[1], &rq, r + 1);
                const int8_t v2 = fc_requant(acc[2], &rq, r + 2), v3 = fc_requant(acc[3], &rq, r + 3);
                out[r] = v0;
                out[r + 1] = v1;
                out[r + 2] = v2;
                out[r + 3] = v3;
            }
        }
        while (r < rows) {
            const int32_t n = rows - r >= 2 ? 2 : 1;
            int32_t acc[2];
            acc[0] = bias[r];
            acc[1] = n == 2 ? bias[r + 1] : 0;
            dot_small((const ek_u32a_t *)(const void *)(filter + (size_t)r * depth4), n, x, groups, xt, rest, acc);
            out[r] = fc_requant(acc[0], &rq, r);
            if (n == 2) {
                out[r + 1] = fc_requant(acc[1], &rq, r + 1);
            }
            r += n;
        }
    }
}

void ek_fully_connected_s8_mve(const ek_mve_mm_t *q, const int8_t *input, int8_t *output, int32_t batches) {
    for (; batches > 0; batches--, input += q->depth, output += q->rows) {
        ek_matmul_mve_s8(q, input, 0, output);
    }
}
