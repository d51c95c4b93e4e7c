/*
 * edgekit AOT runtime: BATCH_MATMUL, int8 (int32 accumulators) and int16 (int64 accumulators, zero points 0)
 * with TFLM reference semantics (reference_ops::BatchMatMul: out = requantize(sum_k (L - zl) (R - zr))).
 *
 * The generator folds adj_x / adj_y and the layout of a constant right-hand side into element strides, and
 * describes up to 3 batch dimensions with each side's batch stride (0 where that side broadcasts).
 * Output: [batch...][rows][cols], row-major.
 */
#ifndef EK_BATCH_MATMUL_H
#define EK_BATCH_MATMUL_H

#include <stdint.h>

typedef struct {
    int32_t batch[3];              /* output batch extents (1 when unused) */
    int32_t lhs_batch_stride[3];   /* element strides per batch dimension (0: broadcast) */
    int32_t rhs_batch_stride[3];
    int32_t rows, cols, depth;
    int32_t lhs_row_stride, lhs_depth_stride;   /* L[i][k] = lhs[i * row_stride + k * depth_stride] */
    int32_t rhs_col_stride, rhs_depth_stride;   /* R[k][j] = rhs[j * col_stride + k * depth_stride] */
    int32_t lhs_offset, rhs_offset;             /* -zero points */
    int32_t out_offset, out_multiplier, out_shift, act_min, act_max;
} ek_batch_matmul_params;

void ek_batch_matmul_s8(const int8_t *lhs, const int8_t *rhs, int8_t *out, const ek_batch_matmul_params *p);
void ek_batch_matmul_s16(const int16_t *lhs, const int16_t *rhs, int16_t *out, const ek_batch_matmul_params *p);

#endif /* EK_BATCH_MATMUL_H */
