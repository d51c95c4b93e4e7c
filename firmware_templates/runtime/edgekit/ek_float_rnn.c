/* edgekit AOT runtime: float32 LSTM, SVDF and BATCH_MATMUL (see ek_float_rnn.h). */
#include "ek_float_rnn.h"

#include <float.h>
#include <string.h>

#include "ek_common.h"
#include "ek_float.h"

/* Products and sums stay two roundings (TFLM's) in any C dialect: GNU modes (-std=gnu11: PlatformIO, Arduino,
 * ESP-IDF, Zephyr builds) let GCC contract a * b + c into a fused VFMA otherwise. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* TFLM's ActivationFunctionWithMinMax with the "no activation" range (every FC and Mul of the float LSTM):
 * std::min(std::max(x, -FLT_MAX), FLT_MAX), which turns an infinity into +-FLT_MAX and keeps a NaN. */
static float ek_f32_unbounded(float x) {
    x = x < -FLT_MAX ? -FLT_MAX : x;
    return FLT_MAX < x ? FLT_MAX : x;
}

/* One step of one batch row: x [n_input], h and c [n_state] updated in place, out [n_state]. */
static void ek_f32_lstm_step(const ek_f32_lstm_params *p, const float *x, float *h, float *c, float *out,
                             float *gates) {
    const int32_t n_in = p->n_input, n = p->n_state;
    float *const f = gates, *const in = gates + n, *const g = gates + 2 * n, *const o = gates + 3 * n;
    float *const dst[4] = {f, in, g, o};
    int32_t u, d, k;
    /* gate = FC(x, W, bias) + FC(h, R, no bias): each FC's sum from 0 in index order, then + bias (+ 0.0f for the
     * recurrent one, as TFLM adds a zero bias) and the unbounded clamp; the four gates share the loads of x / h */
    for (u = 0; u < n; u++) {
        const float *w0 = p->w_in[0] + (size_t)u * n_in, *w1 = p->w_in[1] + (size_t)u * n_in;
        const float *w2 = p->w_in[2] + (size_t)u * n_in, *w3 = p->w_in[3] + (size_t)u * n_in;
        const float *r0 = p->w_rec[0] + (size_t)u * n, *r1 = p->w_rec[1] + (size_t)u * n;
        const float *r2 = p->w_rec[2] + (size_t)u * n, *r3 = p->w_rec[3] + (size_t)u * n;
        float a[4] = {0.0f, 0.0f, 0.0f, 0.0f}, r[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (d = 0; d < n_in; d++) {
            const float v = x[d];
            const float p0 = v * w0[d], p1 = v * w1[d], p2 = v * w2[d], p3 = v * w3[d];
            a[0] += p0;
            a[1] += p1;
            a[2] += p2;
            a[3] += p3;
        }
        for (d = 0; d < n; d++) {
            const float v = h[d];
            const float p0 = v * r0[d], p1 = v * r1[d], p2 = v * r2[d], p3 = v * r3[d];
            r[0] += p0;
            r[1] += p1;
            r[2] += p2;
            r[3] += p3;
        }
        for (k = 0; k < 4; k++) {
            const float fc_in = ek_f32_unbounded(a[k] + p->bias[k][u]);
            const float fc_rec = ek_f32_unbounded(r[k] + 0.0f);
            dst[k][u] = fc_in + fc_rec;
        }
    }
    ek_f32_unary(EK_F32_LOGISTIC, f, f, (size_t)n, 0.0f);
    ek_f32_unary(EK_F32_LOGISTIC, in, in, (size_t)n, 0.0f);
    ek_f32_unary(EK_F32_TANH, g, g, (size_t)n, 0.0f);
    ek_f32_unary(EK_F32_LOGISTIC, o, o, (size_t)n, 0.0f);
    /* cell = forget * cell + input * cell_gate (each product clamped as TFLM's Mul), then the clip:
     * std::max(std::min(clip, c), -clip) */
    for (u = 0; u < n; u++) {
        float cu = ek_f32_unbounded(f[u] * c[u]);
        const float ig = ek_f32_unbounded(in[u] * g[u]);
        cu = cu + ig;
        if (p->cell_clip > 0.0f) {
            cu = cu < p->cell_clip ? cu : p->cell_clip;
            cu = cu < -p->cell_clip ? -p->cell_clip : cu;
        }
        c[u] = cu;
    }
    /* hidden = tanh(cell) * output gate (the recurrent FCs above have read the old hidden state already) */
    ek_f32_unary(EK_F32_TANH, c, f, (size_t)n, 0.0f);
    for (u = 0; u < n; u++) {
        h[u] = ek_f32_unbounded(f[u] * o[u]);
    }
    memcpy(out, h, (size_t)n * sizeof(float));
}

void ek_f32_lstm(const ek_f32_lstm_params *p, const float *input, float *hidden, float *cell, float *output,
                 float *scratch) {
    const int32_t n = p->n_state, n_in = p->n_input;
    int32_t b, t;
    if (p->time_major) {  /* TFLM steps all batches at once; each row is independent, so row by row is the same */
        for (t = 0; t < p->steps; t++) {
            for (b = 0; b < p->batches; b++) {
                const size_t row = (size_t)t * p->batches + b;
                ek_f32_lstm_step(p, input + row * n_in, hidden + (size_t)b * n, cell + (size_t)b * n,
                                 output + row * n, scratch);
            }
        }
        return;
    }
    for (b = 0; b < p->batches; b++) {
        for (t = 0; t < p->steps; t++) {
            const size_t row = (size_t)b * p->steps + t;
            ek_f32_lstm_step(p, input + row * n_in, hidden + (size_t)b * n, cell + (size_t)b * n, output + row * n,
                             scratch);
        }
    }
}

/* tflite::TfLiteMax / TfLiteMin (std::fmax / std::fmin): a NaN operand yields the other one; between equal values
 * (+0 / -0) the first operand, as glibc's fmaxf / fminf (the host reference; checked). SVDF never produces -0 before
 * its activation (every sum starts from +0.0f), so the tie is moot there. */
static float ek_f32_fmax(float x, float y) {
    if (x != x) {
        return y;
    }
    if (y != y) {
        return x;
    }
    return x >= y ? x : y;
}

static float ek_f32_fmin(float x, float y) {
    if (x != x) {
        return y;
    }
    if (y != y) {
        return x;
    }
    return x <= y ? x : y;
}

static float ek_f32_svdf_act(int32_t act, float a) {
    switch (act) {
    case EK_F32_SVDF_RELU: return ek_f32_fmax(0.0f, a);
    case EK_F32_SVDF_RELU_N1_TO_1: return ek_f32_fmax(-1.0f, ek_f32_fmin(a, 1.0f));
    case EK_F32_SVDF_RELU6: return ek_f32_fmax(0.0f, ek_f32_fmin(a, 6.0f));
    case EK_F32_SVDF_TANH: return tanhf(a);
    case EK_F32_SVDF_SIGN_BIT: return signbit(a) ? 1.0f : 0.0f;
    default: return a;
    }
}

void ek_f32_svdf(const ek_f32_svdf_params *p, const float *input, const float *w_feature, const float *w_time,
                 const float *bias, float *state, float *output, float *scratch) {
    const int32_t m = p->memory, nf = p->filters, n_in = p->n_input;
    const size_t total = (size_t)p->batches * nf * m;
    int32_t b, f, k, u;
    if (total > 1) {  /* the state moves one step to the past (the newest column is overwritten below) */
        memmove(state, state + 1, (total - 1) * sizeof(float));
    }
    for (b = 0; b < p->batches; b++) {  /* newest column: the feature FC of this input */
        const float *x = input + (size_t)b * n_in;
        for (f = 0; f < nf; f++) {
            const float *w = w_feature + (size_t)f * n_in;
            float dot = 0.0f;
            for (k = 0; k < n_in; k++) {
                dot += w[k] * x[k];
            }
            state[((size_t)b * nf + f) * m + (m - 1)] = dot;
        }
    }
    for (b = 0; b < p->batches; b++) {  /* each filter's state . its time weights */
        for (f = 0; f < nf; f++) {
            const float *s = state + ((size_t)b * nf + f) * m, *w = w_time + (size_t)f * m;
            float acc = 0.0f;
            for (k = 0; k < m; k++) {
                acc += w[k] * s[k];
            }
            scratch[(size_t)b * nf + f] = acc;
        }
    }
    for (b = 0; b < p->batches; b++) {  /* bias (or 0) + the unit's rank filters, then the activation */
        const float *s = scratch + (size_t)b * nf;
        float *o = output + (size_t)b * p->units;
        for (u = 0; u < p->units; u++) {
            float acc = bias != NULL ? bias[u] : 0.0f;
            for (k = 0; k < p->rank; k++) {
                acc += s[u * p->rank + k];
            }
            o[u] = ek_f32_svdf_act(p->activation, acc);
        }
    }
}

void ek_f32_batch_matmul(const ek_f32_batch_matmul_params *p, const float *lhs, const float *rhs, float *out) {
    int32_t b0, b1, b2, i, j, k;
    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            for (b2 = 0; b2 < p->batch[2]; b2++) {
                const float *l = lhs + (size_t)b0 * p->lhs_batch_stride[0] + (size_t)b1 * p->lhs_batch_stride[1] +
                                 (size_t)b2 * p->lhs_batch_stride[2];
                const float *r = rhs + (size_t)b0 * p->rhs_batch_stride[0] + (size_t)b1 * p->rhs_batch_stride[1] +
                                 (size_t)b2 * p->rhs_batch_stride[2];
                for (i = 0; i < p->rows; i++) {
                    for (j = 0; j < p->cols; j++) {
                        float total = 0.0f;
                        for (k = 0; k < p->depth; k++) {
                            total += l[(size_t)i * p->lhs_row_stride + (size_t)k * p->lhs_depth_stride] *
                                     r[(size_t)j * p->rhs_col_stride + (size_t)k * p->rhs_depth_stride];
                        }
                        *out++ = total;
                    }
                }
            }
        }
    }
}

int ek_f32_embedding_hybrid(const int32_t *ids, int32_t n_ids, const int8_t *table, int32_t rows, int32_t cols,
                            float scale, float *out) {
    int32_t i, k;
    for (i = 0; i < n_ids; i++) {
        const int32_t id = ids[i];
        const int8_t *row;
        if (id < 0 || id >= rows) {
            return EK_ERR_BAD_PARAM;
        }
        row = table + (size_t)id * cols;
        for (k = 0; k < cols; k++) {
            *out++ = (float)row[k] * scale;  /* TFLM: (value - 0) * scale, int promoted to float */
        }
    }
    return EK_OK;
}
