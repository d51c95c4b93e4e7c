/*
 * edgekit AOT runtime: integer SVDF (see ek_svdf.h), one body for the int16 and the int8 state types.
 * The time-weighted sums wrap modulo 2^32 like TFLM's int32 arithmetic does in practice (int16 state times int16
 * weights over a long memory can exceed int32), without undefined behaviour. The feature and time dot products are
 * ek_dot.h's (SMLAD on DSP cores, VMLADAVA on MVE).
 */
#include "ek_svdf.h"

#include "ek_dot.h"

/*
 * The feature dot of one filter: sum (x[i] + off) * w[i], modulo 2^32. On DSP cores x + off is widened once per
 * batch into xw (ek_widen_s8_reordered: [x0, x2], [x1, x3] per group of 4, matching SXTB16's weight pairs), so
 * each filter only extends its weights; the last n % 4 terms are summed from x.
 */
EK_INLINE uint32_t ek_svdf_feature(const int8_t *x, const int16_t *xw, const int8_t *w, int32_t n, int32_t off) {
#if EK_HAVE_DSP && !EK_HAVE_MVE
    const int32_t n4 = n & ~3;
    uint32_t acc = 0;
    int32_t i;
    for (i = 0; i < n4; i += 4) {
        const uint32_t ww = ek_ld32(w + i);
        acc = (uint32_t)ek_smlad(ek_ld32(xw + i), ek_sxtb16(ww), (int32_t)acc);
        acc = (uint32_t)ek_smlad(ek_ld32(xw + i + 2), ek_sxtb16_ror8(ww), (int32_t)acc);
    }
    for (; i < n; i++) {
        acc += (uint32_t)(((int32_t)x[i] + off) * w[i]);
    }
    return acc;
#else
    (void)xw;
    return ek_dot_s8_off(x, w, n, off);
#endif
}

/*
 * One filter's memory step and time-weighted sum in one pass: s[j] = s[j + 1] for j < m - 1, s[m - 1] = v, and the
 * sum of w[j] * (s[j] - zp) over the shifted memory, modulo 2^32. TFLM shifts the whole state buffer by one element
 * and then overwrites each filter's last element, which is the same as shifting each filter's memory on its own.
 */
EK_INLINE uint32_t ek_svdf_step_s16(const int16_t *w, int16_t *s, int32_t m, int32_t zp, int16_t v) {
    const int32_t n = m - 1;
    uint32_t acc = 0;
    int32_t j = 0;
    if (zp == 0) {
#if EK_HAVE_MVE
        for (; j < n; j += 8) {
            const mve_pred16_t p = vctp16q((uint32_t)(n - j));
            const int16x8_t sv = vldrhq_z_s16(s + j + 1, p);  /* loaded before the store over s + j */
            vstrhq_p_s16(s + j, sv, p);
            acc = (uint32_t)vmladavaq_s16((int32_t)acc, vldrhq_z_s16(w + j, p), sv);
        }
#elif EK_HAVE_DSP
        for (; j + 2 <= n; j += 2) {
            const uint32_t sv = ek_ld32(s + j + 1);
            ek_st32(s + j, sv);
            acc = (uint32_t)ek_smlad(ek_ld32(w + j), sv, (int32_t)acc);
        }
#endif
    }
    for (; j < n; j++) {
        s[j] = s[j + 1];
        acc += (uint32_t)(int32_t)w[j] * (uint32_t)((int32_t)s[j] - zp);
    }
    s[n] = v;
    return acc + (uint32_t)(int32_t)w[n] * (uint32_t)((int32_t)v - zp);
}

EK_INLINE uint32_t ek_svdf_step_s8(const int8_t *w, int8_t *s, int32_t m, int32_t zp, int8_t v) {
    const int32_t n = m - 1, off = -zp;
    uint32_t acc = 0;
    int32_t j = 0;
#if EK_HAVE_MVE
    uint32_t wsum = 0;  /* sum (s + off) * w = sum s * w + off * sum w, modulo 2^32 */
    for (; j < n; j += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - j));
        const int8x16_t sv = vldrbq_z_s8(s + j + 1, p);  /* loaded before the store over s + j */
        const int8x16_t wv = vldrbq_z_s8(w + j, p);
        vstrbq_p_s8(s + j, sv, p);
        acc = (uint32_t)vmladavaq_s8((int32_t)acc, sv, wv);
        wsum = (uint32_t)vaddvaq_s8((int32_t)wsum, wv);
    }
    acc += wsum * (uint32_t)off;
    j = n;
#elif EK_HAVE_DSP
    const uint32_t off2 = ek_dup16(off);
    for (; j + 4 <= n; j += 4) {
        const uint32_t sv = ek_ld32(s + j + 1), ww = ek_ld32(w + j);
        ek_st32(s + j, sv);
        acc = (uint32_t)ek_smlad(ek_sadd16(ek_sxtb16(sv), off2), ek_sxtb16(ww), (int32_t)acc);
        acc = (uint32_t)ek_smlad(ek_sadd16(ek_sxtb16_ror8(sv), off2), ek_sxtb16_ror8(ww), (int32_t)acc);
    }
#endif
    for (; j < n; j++) {
        s[j] = s[j + 1];
        acc += (uint32_t)(((int32_t)s[j] + off) * w[j]);
    }
    s[n] = v;
    return acc + (uint32_t)(((int32_t)v + off) * w[n]);
}

#define EK_SVDF_BODY(STATE_T, STATE_MIN, STATE_MAX, STEP)                                                              \
    int32_t b, f, u, k;                                                                                        \
    int16_t *xw = (int16_t *)(scratch + p->batches * p->filters); /* (n_input + 3) / 4 * 4 int16 */        \
    for (b = 0; b < p->batches; b++) {                                                                         \
        const int8_t *x = input + (size_t)b * (size_t)p->n_input;                                              \
        if (EK_HAVE_DSP && !EK_HAVE_MVE) {                                                                     \
            ek_widen_s8_reordered(x, xw, p->n_input, -p->in_zp, 4, 2);                                         \
        }                                                                                                      \
        for (f = 0; f < p->filters; f++) {                                                                     \
            const int8_t *w = w_feature + (size_t)f * (size_t)p->n_input;                                      \
            int32_t acc = (int32_t)ek_svdf_feature(x, xw, w, p->n_input, -p->in_zp);                       \
            acc = ek_clamp_i32(ek_mbqm(acc, p->mult1, p->shift1), STATE_MIN, STATE_MAX);                       \
            /* TFLM adds the zero point after the clamp and stores without saturating */                     \
            scratch[b * p->filters + f] = (int32_t)STEP(w_time + (size_t)f * (size_t)p->memory,                 \
                state + ((size_t)b * (size_t)p->filters + (size_t)f) * (size_t)p->memory, p->memory,         \
                p->state_zp, (STATE_T)(acc + p->state_zp));                                                    \
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
    EK_SVDF_BODY(int16_t, -32768, 32767, ek_svdf_step_s16)
}

void ek_svdf_s8(const ek_svdf_params_t *p, const int8_t *input, const int8_t *w_feature, const int8_t *w_time,
                const int32_t *bias, int8_t *state, int8_t *output, int32_t *scratch) {
    EK_SVDF_BODY(int8_t, -128, 127, ek_svdf_step_s8)
}
