/*
 * edgekit AOT runtime: integer SVDF (see ek_svdf.h), one body for the int16 and the int8 state types.
 * The time-weighted sums wrap modulo 2^32 like TFLM's int32 arithmetic does in practice (int16 state times int16
 * weights over a long memory can exceed int32), without undefined behaviour. The feature and time dot products are
 * ek_dot.h's (SMLAD on DSP cores, VMLADAVA on MVE).
 */
#include "ek_svdf.h"

#include "ek_dot.h"

/* The time-weighted sum of one filter: sum w[j] * (s[j] - zp), modulo 2^32. */
EK_INLINE uint32_t ek_svdf_time_s16(const int16_t *w, const int16_t *s, int32_t n, int32_t zp) {
    uint32_t acc = 0;
    int32_t j;
    if (zp == 0) {
        return ek_dot_s16x16(w, s, n);
    }
    for (j = 0; j < n; j++) {
        acc += (uint32_t)(int32_t)w[j] * (uint32_t)((int32_t)s[j] - zp);
    }
    return acc;
}

EK_INLINE uint32_t ek_svdf_time_s8(const int8_t *w, const int8_t *s, int32_t n, int32_t zp) {
    return ek_dot_s8_off(s, w, n, -zp);
}

#define EK_SVDF_BODY(STATE_T, STATE_MIN, STATE_MAX, TIME_DOT)                                                           \
    const int32_t total = p->batches * p->filters * p->memory;                                                 \
    int32_t b, f, u, k;                                                                                        \
    if (total > 1) {                                                                                           \
        memmove(state, state + 1, (size_t)(total - 1) * sizeof(STATE_T));                                      \
    }                                                                                                          \
    for (b = 0; b < p->batches; b++) {                                                                         \
        const int8_t *x = input + (size_t)b * (size_t)p->n_input;                                              \
        for (f = 0; f < p->filters; f++) {                                                                     \
            const int8_t *w = w_feature + (size_t)f * (size_t)p->n_input;                                      \
            int32_t acc = (int32_t)ek_dot_s8_off(x, w, p->n_input, -p->in_zp);                                 \
            acc = ek_clamp_i32(ek_mbqm(acc, p->mult1, p->shift1), STATE_MIN, STATE_MAX);                       \
            /* TFLM adds the zero point after the clamp and stores without saturating */                     \
            state[((size_t)b * (size_t)p->filters + (size_t)f) * (size_t)p->memory + (size_t)p->memory - 1] =  \
                (STATE_T)(acc + p->state_zp);                                                                  \
        }                                                                                                      \
    }                                                                                                          \
    for (b = 0; b < p->batches; b++) {                                                                         \
        for (f = 0; f < p->filters; f++) {                                                                     \
            const STATE_T *s = state + ((size_t)b * (size_t)p->filters + (size_t)f) * (size_t)p->memory;       \
            const STATE_T *w = w_time + (size_t)f * (size_t)p->memory;                                         \
            scratch[b * p->filters + f] = (int32_t)TIME_DOT(w, s, p->memory, p->state_zp);                    \
        }                                                                                                      \
        for (u = 0; u < p->units; u++) {                                                                       \
            uint32_t acc = bias != NULL ? (uint32_t)bias[u] : 0u;                                              \
            for (k = 0; k < p->rank; k++) {                                                                    \
                acc += (uint32_t)scratch[b * p->filters + u * p->rank + k];                                    \
            }                                                                                                  \
            output[b * p->units + u] = ek_sat_i8(ek_mbqm((int32_t)acc, p->mult2, p->shift2) + p->out_zp);      \
        }                                                                                                      \
    }

void ek_svdf_s16(const ek_svdf_params_t *p, const int8_t *input, const int8_t *w_feature, const int16_t *w_time,
                 const int32_t *bias, int16_t *state, int8_t *output, int32_t *scratch) {
    EK_SVDF_BODY(int16_t, -32768, 32767, ek_svdf_time_s16)
}

void ek_svdf_s8(const ek_svdf_params_t *p, const int8_t *input, const int8_t *w_feature, const int8_t *w_time,
                const int32_t *bias, int8_t *state, int8_t *output, int32_t *scratch) {
    EK_SVDF_BODY(int8_t, -128, 127, ek_svdf_time_s8)
}
