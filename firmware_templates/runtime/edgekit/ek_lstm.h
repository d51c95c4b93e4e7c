/*
 * edgekit AOT runtime: integer UNIDIRECTIONAL_SEQUENCE_LSTM as TFLM's kernel computes it
 * (int8 activations and weights, int16 cell state, int32 gate biases; or 16x8: int16 activations, int64 biases;
 * no peephole, projection, layer norm or CIFG: TFLM's kernel rejects those).
 *
 * Per time step, for every gate g in (forget, input, cell, output):
 *   pre_g  = sat16(FC(x_t; W_g, b_g) + FC(h; R_g))   both FCs requantized to int16 Q3.12 (scale 2^-12), saturated
 *   gate_g = sigmoid16(pre_g) (tanh16 for the cell gate when cell_act is EK_LSTM_TANH), Q0.15
 *   c      = sat16(mul(gate_f, c) + mul(gate_i, gate_c)), clipped to +-cell_clip when cell_clip > 0
 *   h      = mul8(tanh16(c), gate_o) + h_zero_point
 * The output gate is computed after the cell update (it reads the old h), as TFLM does. The FC sums are TFLM's
 * int32 sums (mod 2^32, order-independent), 4 products per two SMLADs on DSP cores.
 */
#ifndef EK_LSTM_H
#define EK_LSTM_H

#include "ek_common.h"

#define EK_LSTM_SIGMOID 0
#define EK_LSTM_TANH 1

/* gate indices into the per-gate arrays */
#define EK_LSTM_FORGET 0
#define EK_LSTM_INPUT 1
#define EK_LSTM_CELL 2
#define EK_LSTM_OUTPUT 3

typedef struct {
    int32_t batches, steps, n_input, n_state;
    int32_t time_major;          /* 1: input [steps][batches][n_input]; 0: [batches][steps][n_input] */
    int32_t hid_zp;              /* hidden state (and output) zero point */
    int32_t in_mult[4], rec_mult[4];   /* per gate: input FC and recurrent FC requantization to Q3.12 */
    int32_t in_shift[4], rec_shift[4];
    int32_t fc_mult, fc_shift;   /* forget gate x cell -> cell */
    int32_t ic_mult, ic_shift;   /* input gate x cell gate -> cell */
    int32_t oh_mult, oh_shift;   /* tanh(cell) x output gate -> hidden (int8) */
    int32_t cell_clip;           /* quantized clip (0: none) */
    int32_t tanh_mult, tanh_shift;  /* tanh16 input rescale of the cell state (TFLM's power-of-two form) */
    int32_t cell_act;            /* EK_LSTM_SIGMOID or EK_LSTM_TANH for the cell gate */
    const int8_t *w_in[4];       /* [n_state][n_input] */
    const int8_t *w_rec[4];      /* [n_state][n_state] */
    /* [n_state] folded biases (the generator's, mod 2^32): gate bias + input offset * row sum of w_in, and
     * hidden offset * row sum of w_rec; the FCs then multiply raw int8 values (symmetric weights only) */
    const int32_t *in_bias[4];
    const int32_t *rec_bias[4];
    int32_t wide;                /* 16x8: int16 input / hidden / output (zero point 0), int64 biases */
    const int64_t *bias64[4];    /* 16x8 only: the gate biases (NULL: none) */
} ek_lstm_params_t;

/* hidden: [batches][n_state] int8 and cell: [batches][n_state] int16, both updated in place (the variable tensors);
 * output: like the input with n_state values per step; scratch: 4 * batches * n_state int16. */
void ek_lstm_s8(const ek_lstm_params_t *p, const int8_t *input, int8_t *hidden, int16_t *cell, int8_t *output,
                int16_t *scratch);
/* 16x8 (p->wide): the same with int16 activations, hidden state and output (TFLM's int16 LSTM) */
void ek_lstm_s16(const ek_lstm_params_t *p, const int16_t *input, int16_t *hidden, int16_t *cell, int16_t *output,
                 int16_t *scratch);

/* TFLM's int16 logistic / tanh (reference_integer_ops, LUT with interpolation). `mult` / `left_shift` as TFLM:
 * mult == 0 means the power-of-two form (input times 3 << left_shift). In place allowed. */
void ek_sigmoid_s16(int32_t mult, int32_t left_shift, const int16_t *in, int16_t *out, int32_t n);
void ek_tanh_s16(int32_t mult, int32_t left_shift, const int16_t *in, int16_t *out, int32_t n);

#endif /* EK_LSTM_H */
