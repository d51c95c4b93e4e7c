/*
 * edgekit AOT runtime: the dot products of the 16x8 convolutions / FULLY_CONNECTED, SVDF and TRANSPOSE_CONV.
 *
 * Each returns exactly what the plain loop does (int64 sums exact, int32 sums modulo 2^32, as TFLM's int32
 * accumulators wrap in practice). Cortex-M55 (MVE): VMLALDAVA / VMLADAVA over 8 or 16 lanes with tail
 * predication; DSP cores (M4/M7/M33): SMLALD / SMLAD on halfword pairs (int8 operands sign-extended with
 * SXTB16); elsewhere (host, M0/M3) the plain loop.
 *
 *   ek_dot_s16x8(x, w, n)        sum x[i] * w[i], int16 x int8, exact in int64
 *   ek_dot_s16x16(a, b, n)       sum a[i] * b[i], int16 x int16, modulo 2^32
 *   ek_dot_s8_off(x, w, n, off)  sum (x[i] + off) * w[i], int8 x int8, modulo 2^32 (|off| <= 256)
 */
#ifndef EK_DOT_H
#define EK_DOT_H

#include "ek_simd.h"

#if EK_HAVE_DSP && !EK_HAVE_MVE
/* [lo half of a, lo half of b] and [hi half of a, hi half of b]: PKHBT / PKHTB (gcc 12 builds them from 2 ops each) */
EK_INLINE uint32_t ek_pkhbt16(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
EK_INLINE uint32_t ek_pkhtb16(uint32_t a, uint32_t b) {
    uint32_t r; /* PKHTB r, b, a, asr #16: top half from b, bottom from a's top */
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#endif

EK_INLINE int64_t ek_dot_s16x8(const int16_t *x, const int8_t *w, int32_t n) {
    int64_t acc = 0;
    int32_t i = 0;
#if EK_HAVE_MVE
    for (; i < n; i += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(n - i));
        acc = vmlaldavaq_s16(acc, vldrhq_z_s16(x + i, p), vldrbq_z_s16(w + i, p));
    }
#else
#if EK_HAVE_DSP
    for (; i + 4 <= n; i += 4) {
        const uint32_t ww = ek_ld32(w + i);
        const uint32_t even = ek_sxtb16(ww), odd = ek_sxtb16_ror8(ww);  /* [w0, w2], [w1, w3] */
        const uint32_t w01 = ek_pkhbt16(even, odd), w23 = ek_pkhtb16(even, odd);  /* [w0, w1], [w2, w3] */
        acc = __smlald((int16x2_t)ek_ld32(x + i), (int16x2_t)w01, acc);
        acc = __smlald((int16x2_t)ek_ld32(x + i + 2), (int16x2_t)w23, acc);
    }
#endif
    for (; i < n; i++) {
        acc += (int32_t)x[i] * w[i];
    }
#endif
    return acc;
}

/* Two ek_dot_s16x8 sums over the same x (two output channels): on DSP cores x is put in SXTB16's pair order
 * once ([x0, x2], [x1, x3] by PKHBT / PKHTB) and each weight word only needs its two SXTB16s. */
EK_INLINE void ek_dot2_s16x8(const int16_t *x, const int8_t *w0, const int8_t *w1, int32_t n, int64_t *acc0,
                             int64_t *acc1) {
#if EK_HAVE_DSP && !EK_HAVE_MVE
    int64_t a0 = 0, a1 = 0;
    int32_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        const uint32_t x01 = ek_ld32(x + i), x23 = ek_ld32(x + i + 2);
        const uint32_t x02 = ek_pkhbt16(x01, x23), x13 = ek_pkhtb16(x01, x23);  /* [x0, x2], [x1, x3] */
        const uint32_t u0 = ek_ld32(w0 + i), u1 = ek_ld32(w1 + i);
        a0 = __smlald((int16x2_t)x02, (int16x2_t)ek_sxtb16(u0), a0);
        a0 = __smlald((int16x2_t)x13, (int16x2_t)ek_sxtb16_ror8(u0), a0);
        a1 = __smlald((int16x2_t)x02, (int16x2_t)ek_sxtb16(u1), a1);
        a1 = __smlald((int16x2_t)x13, (int16x2_t)ek_sxtb16_ror8(u1), a1);
    }
    for (; i < n; i++) {
        a0 += (int32_t)x[i] * w0[i];
        a1 += (int32_t)x[i] * w1[i];
    }
    *acc0 = a0;
    *acc1 = a1;
#else
    *acc0 = ek_dot_s16x8(x, w0, n);
    *acc1 = ek_dot_s16x8(x, w1, n);
#endif
}

EK_INLINE uint32_t ek_dot_s16x16(const int16_t *a, const int16_t *b, int32_t n) {
    uint32_t acc = 0;
    int32_t i = 0;
#if EK_HAVE_MVE
    for (; i < n; i += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(n - i));
        acc = (uint32_t)vmladavaq_s16((int32_t)acc, vldrhq_z_s16(a + i, p), vldrhq_z_s16(b + i, p));
    }
#else
#if EK_HAVE_DSP
    for (; i + 2 <= n; i += 2) {
        acc = (uint32_t)ek_smlad(ek_ld32(a + i), ek_ld32(b + i), (int32_t)acc);
    }
#endif
    for (; i < n; i++) {
        acc += (uint32_t)((int32_t)a[i] * b[i]);
    }
#endif
    return acc;
}

EK_INLINE uint32_t ek_dot_s8_off(const int8_t *x, const int8_t *w, int32_t n, int32_t off) {
    uint32_t acc = 0;
    int32_t i = 0;
#if EK_HAVE_MVE
    uint32_t wsum = 0;  /* sum (x + off) * w = sum x * w + off * sum w, modulo 2^32 */
    for (; i < n; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        const int8x16_t wv = vldrbq_z_s8(w + i, p);
        acc = (uint32_t)vmladavaq_s8((int32_t)acc, vldrbq_z_s8(x + i, p), wv);
        wsum = (uint32_t)vaddvaq_s8((int32_t)wsum, wv);
    }
    acc += wsum * (uint32_t)off;
#else
#if EK_HAVE_DSP
    const uint32_t off2 = ek_dup16(off);
    for (; i + 4 <= n; i += 4) {
        const uint32_t xw = ek_ld32(x + i), ww = ek_ld32(w + i);
        acc = (uint32_t)ek_smlad(ek_sadd16(ek_sxtb16(xw), off2), ek_sxtb16(ww), (int32_t)acc);
        acc = (uint32_t)ek_smlad(ek_sadd16(ek_sxtb16_ror8(xw), off2), ek_sxtb16_ror8(ww), (int32_t)acc);
    }
#endif
    for (; i < n; i++) {
        acc += (uint32_t)(((int32_t)x[i] + off) * w[i]);
    }
#endif
    return acc;
}

#endif /* EK_DOT_H */
