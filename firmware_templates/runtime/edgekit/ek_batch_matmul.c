/* edgekit AOT runtime: BATCH_MATMUL (see ek_batch_matmul.h). */
#include "ek_batch_matmul.h"

#include "ek_common.h"
#include "ek_simd.h"

/* sum_k (l[k] + lo) * (r[k] + ro) for contiguous rows, 4 values per step with dual 16-bit multiply-accumulates
 * (SMLAD on Cortex-M with DSP, the portable emulation elsewhere): the offset values fit 16 bits. int32, wrapping. */
static int32_t ek_dot_s8(const int8_t *l, const int8_t *r, int32_t n, int32_t lo, int32_t ro) {
    const uint32_t lo2 = ek_dup16(lo), ro2 = ek_dup16(ro);
    int32_t acc = 0, k = 0;
    for (; k + 4 <= n; k += 4) {
        const uint32_t a = ek_ld32(l + k), b = ek_ld32(r + k);
        acc = ek_smlad(ek_sadd16(ek_sxtb16(a), lo2), ek_sadd16(ek_sxtb16(b), ro2), acc);
        acc = ek_smlad(ek_sadd16(ek_sxtb16_ror8(a), lo2), ek_sadd16(ek_sxtb16_ror8(b), ro2), acc);
    }
    for (; k < n; k++) {
        acc = (int32_t)((uint32_t)acc + (uint32_t)((l[k] + lo) * (r[k] + ro)));
    }
    return acc;
}

void ek_batch_matmul_s8(const int8_t *lhs, const int8_t *rhs, int8_t *out, const ek_batch_matmul_params *p) {
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            for (b2 = 0; b2 < p->batch[2]; b2++) {
                const int8_t *l = lhs + b0 * p->lhs_batch_stride[0] + b1 * p->lhs_batch_stride[1] +
                                  b2 * p->lhs_batch_stride[2];
                const int8_t *r = rhs + b0 * p->rhs_batch_stride[0] + b1 * p->rhs_batch_stride[1] +
                                  b2 * p->rhs_batch_stride[2];
                for (i = 0; i < p->rows; i++) {
                    const int8_t *li = l + i * p->lhs_row_stride;
                    for (j = 0; j < p->cols; j++) {
                        const int8_t *rj = r + j * p->rhs_col_stride;
                        uint32_t acc = 0u; /* int32 sum; wraps like TFLM's (it never does in practice) */
                        if (p->lhs_depth_stride == 1 && p->rhs_depth_stride == 1) {
                            acc = (uint32_t)ek_dot_s8(li, rj, p->depth, p->lhs_offset, p->rhs_offset);
                        } else {
                            for (k = 0; k < p->depth; k++) {
                                acc += (uint32_t)((li[k * p->lhs_depth_stride] + p->lhs_offset) *
                                                  (rj[k * p->rhs_depth_stride] + p->rhs_offset));
                            }
                        }
                        *out++ = (int8_t)ek_clamp_i32(
                            ek_mbqm((int32_t)acc, p->out_multiplier, p->out_shift) + p->out_offset, p->act_min,
                            p->act_max);
                    }
                }
            }
        }
    }
}

void ek_batch_matmul_s16(const int16_t *lhs, const int16_t *rhs, int16_t *out, const ek_batch_matmul_params *p) {
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            for (b2 = 0; b2 < p->batch[2]; b2++) {
                const int16_t *l = lhs + b0 * p->lhs_batch_stride[0] + b1 * p->lhs_batch_stride[1] +
                                   b2 * p->lhs_batch_stride[2];
                const int16_t *r = rhs + b0 * p->rhs_batch_stride[0] + b1 * p->rhs_batch_stride[1] +
                                   b2 * p->rhs_batch_stride[2];
                for (i = 0; i < p->rows; i++) {
                    const int16_t *li = l + i * p->lhs_row_stride;
                    for (j = 0; j < p->cols; j++) {
                        const int16_t *rj = r + j * p->rhs_col_stride;
                        int64_t acc = 0;
                        for (k = 0; k < p->depth; k++) {
                            acc += (int64_t)li[k * p->lhs_depth_stride] * rj[k * p->rhs_depth_stride];
                        }
                        *out++ = (int16_t)ek_clamp_i32(ek_mbqm64(acc, p->out_multiplier, p->out_shift) + p->out_offset,
                                                       p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}
