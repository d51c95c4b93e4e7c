/*
 * edgekit AOT runtime: float32 UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF, BATCH_MATMUL and the hybrid EMBEDDING_LOOKUP, in
 * the operation order of TFLM's float kernels (lstm_eval.h's EvalLstm<float>, svdf_common.cc's EvalFloatSvdfReference, reference_ops::
 * BatchMatMul). Every sum starts at 0.0f and runs in TFLM's order; products and sums are separate roundings (ISO C,
 * no contraction: ek_float.h). Sigmoid / tanh go through ek_f32_unary (TFLM's float Logistic with its cutoffs,
 * tanhf), so LSTM and SVDF with a TANH activation carry the C library's last-bit differences
 * (edgekit/codegen/aot/ops/float_common.py).
 */
#ifndef EK_FLOAT_RNN_H
#define EK_FLOAT_RNN_H

#include <stddef.h>
#include <stdint.h>

/* LSTM gate order in the weight / bias arrays below (TFLM computes them in this order) */
#define EK_F32_LSTM_FORGET 0
#define EK_F32_LSTM_INPUT 1
#define EK_F32_LSTM_CELL 2
#define EK_F32_LSTM_OUTPUT 3

typedef struct {
    int32_t batches, steps, n_input, n_state;
    int32_t time_major;     /* input [steps][batches][n_input], else [batches][steps][n_input] */
    float cell_clip;        /* > 0: the cell state is clipped to [-cell_clip, cell_clip] after each step */
    const float *w_in[4];   /* [n_state][n_input] per gate */
    const float *w_rec[4];  /* [n_state][n_state] per gate */
    const float *bias[4];   /* [n_state] per gate */
} ek_f32_lstm_params;

/* hidden / cell: the variable state tensors [batches][n_state]; scratch: 4 * n_state floats (the gates). */
void ek_f32_lstm(const ek_f32_lstm_params *p, const float *input, float *hidden, float *cell, float *output,
                 float *scratch);

/* SVDF: state [batches][filters][memory] (variable), feature weights [filters][n_input], time weights
 * [filters][memory], bias [units] or NULL; activation one of EK_F32_SVDF_*; scratch: batches * filters floats. */
#define EK_F32_SVDF_NONE 0
#define EK_F32_SVDF_RELU 1
#define EK_F32_SVDF_RELU_N1_TO_1 2
#define EK_F32_SVDF_RELU6 3
#define EK_F32_SVDF_TANH 4
#define EK_F32_SVDF_SIGN_BIT 5
typedef struct {
    int32_t batches, n_input, filters, units, rank, memory, activation;
} ek_f32_svdf_params;

void ek_f32_svdf(const ek_f32_svdf_params *p, const float *input, const float *w_feature, const float *w_time,
                 const float *bias, float *state, float *output, float *scratch);

/* BATCH_MATMUL: out[b][r][c] = sum_k lhs[b][r][k] * rhs[b][k][c] over up to 3 broadcast batch dimensions; element
 * strides as ek_batch_matmul.h's (0 for a broadcast batch dimension). */
typedef struct {
    int32_t batch[3];
    int32_t lhs_batch_stride[3], rhs_batch_stride[3];
    int32_t rows, cols, depth;
    int32_t lhs_row_stride, lhs_depth_stride, rhs_col_stride, rhs_depth_stride;
} ek_f32_batch_matmul_params;

void ek_f32_batch_matmul(const ek_f32_batch_matmul_params *p, const float *lhs, const float *rhs, float *out);

/* EMBEDDING_LOOKUP with an int8 table and float32 output (TFLM's hybrid path): row ids[i] of table
 * [rows][cols] as (float)v * scale; EK_ERR_BAD_PARAM (nothing more written) for an id outside [0, rows). */
int ek_f32_embedding_hybrid(const int32_t *ids, int32_t n_ids, const int8_t *table, int32_t rows, int32_t cols,
                            float scale, float *out);

#endif /* EK_FLOAT_RNN_H */
