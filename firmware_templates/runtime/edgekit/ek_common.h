/*
 * edgekit AOT runtime: fixed-point helpers shared by every kernel.
 *
 * The integer semantics follow the TFLM reference kernels exactly, so that
 * edgekit's generated code gives the same bytes as the TFLM interpreter:
 *
 *   ek_srdhm(a, b)      saturating rounding doubling high multiply: round(a*b / 2^31),
 *                       ties away from zero, saturating INT32_MIN*INT32_MIN.
 *   ek_rdbpot(x, e)     rounding arithmetic right shift by e (0..31), ties away from zero.
 *   ek_mbqm(x, m, s)    x * m * 2^s / 2^31 with TFLM's rounding: "double rounding"
 *                       (srdhm then rdbpot) by default, or one rounding of the 64-bit
 *                       product when EK_SINGLE_ROUNDING is 1 (TFLITE_SINGLE_ROUNDING).
 *
 * The PyPI tflite-micro host interpreter was measured to use double rounding
 * (tests/test_aot_kernels.py checks it); define EK_SINGLE_ROUNDING=1 to match a TFLM
 * build made with TFLITE_SINGLE_ROUNDING.
 *
 * Signed right shifts of negative values are arithmetic on every compiler we target
 * (gcc, clang, arm-none-eabi-gcc); out-of-range conversions to int32_t wrap.
 */
#ifndef EK_COMMON_H
#define EK_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef EK_SINGLE_ROUNDING
#define EK_SINGLE_ROUNDING 0
#endif

#if defined(__GNUC__)
#define EK_INLINE static inline __attribute__((always_inline))
#define EK_RESTRICT __restrict__
#define EK_LIKELY(c) __builtin_expect(!!(c), 1)
#else
#define EK_LIKELY(c) (c)
#define EK_INLINE static inline
#define EK_RESTRICT
#endif

/* Return codes of ek_model_invoke() and of kernels that can fail. */
#define EK_OK 0
#define EK_ERR_EMPTY_WINDOW 1   /* a pooling window lies entirely in the padding */
#define EK_ERR_BAD_PARAM 2      /* a kernel parameter out of the range the kernel supports */
#define EK_ERR_OP(index) (1000 + (index))  /* ek_model_invoke(): operator `index` failed */

/* Interior of a windowed op: the range [start, end) of filter taps k with
 * 0 <= origin + k * dilation < size (and 0 <= k < taps). */
EK_INLINE int32_t ek_tap_start(int32_t origin, int32_t dilation) {
    return origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
}

EK_INLINE int32_t ek_tap_end(int32_t origin, int32_t dilation, int32_t size, int32_t taps) {
    const int32_t room = size - origin;
    const int32_t end = room <= 0 ? 0 : (room + dilation - 1) / dilation;
    return end < taps ? end : taps;
}

EK_INLINE int32_t ek_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
EK_INLINE int32_t ek_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

EK_INLINE int32_t ek_clamp_i32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

EK_INLINE int8_t ek_sat_i8(int32_t x) { return (int8_t)ek_clamp_i32(x, -128, 127); }
EK_INLINE int16_t ek_sat_i16(int32_t x) { return (int16_t)ek_clamp_i32(x, -32768, 32767); }

/* round(a * b / 2^31) as gemmlowp computes it: (ab + nudge) / 2^31 truncated toward zero with
 * nudge = 2^30 (ab >= 0) or 1 - 2^30 (ab < 0); INT32_MIN * INT32_MIN saturates to INT32_MAX.
 * For ab < 0, trunc((ab + 1 - 2^30) / 2^31) == floor((ab + 2^30) / 2^31), so both cases are one
 * arithmetic shift of ab + 2^30 (no 64-bit division on the hot path). */
EK_INLINE int32_t ek_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31].
 * gemmlowp adds 1 when the remainder exceeds mask/2 (+1 for negative x). Equivalently, with
 * w = x - 1 for negative x (x != INT32_MIN, whose remainder is 0 anyway):
 * floor(w / 2^e) + bit (e - 1) of w, i.e. floor((w + 2^(e-1)) / 2^e). */
EK_INLINE int32_t ek_rdbpot(int32_t x, int exponent) {
    if (exponent == 0) {
        return x;
    }
    {
        const int32_t w = (x < 0 && x != INT32_MIN) ? x - 1 : x;
        return (w >> exponent) + ((w >> (exponent - 1)) & 1);
    }
}

/* x * multiplier * 2^shift / 2^31 (multiplier in Q31, shift in [-31, 30]) with TFLM's rounding. */
EK_INLINE int32_t ek_mbqm(int32_t x, int32_t multiplier, int shift) {
#if EK_SINGLE_ROUNDING
    const int total_shift = 31 - shift;
    const int64_t round = (int64_t)1 << (total_shift - 1);
    return (int32_t)(((int64_t)x * multiplier + round) >> total_shift);
#else
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    /* TFLM computes x * (1 << left_shift) in int32; wrap the same way without UB. */
    const int32_t shifted = (int32_t)(uint32_t)((uint32_t)x << left_shift);
    return ek_rdbpot(ek_srdhm(shifted, multiplier), right_shift);
#endif
}

/* ek_mbqm for a non-negative multiplier (every multiplier from QuantizeMultiplier is in [0, 2^31)): the
 * same results with fewer instructions (the hot requantization of the conv / FC kernels).
 * shift >= 0: no rounding shift, srdhm of x << shift is one 64-bit multiply-accumulate.
 * shift = -r < 0: both roundings in one 64-bit sum. With A = x*m + 2^30, srdhm = v = floor(A / 2^31) and
 * rdbpot(v, r) = floor((v + 2^(r-1) - [v < 0]) / 2^r), so the result is
 * floor((A + 2^(30+r) - [v < 0] * 2^31) / 2^(31+r)). [v < 0] may be replaced by [x < 0]: they differ only
 * when v == 0, where floor((2^(r-1) - s) / 2^r) == 0 for s = 0 and 1. The high word of the sum shifted by
 * r - 1 is the result. */
EK_INLINE int32_t ek_mbqm_pos(int32_t x, int32_t multiplier, int shift) {
#if EK_SINGLE_ROUNDING
    return ek_mbqm(x, multiplier, shift);
#else
    if (EK_LIKELY(shift < -1)) {
        /* r = -shift >= 2: 2^(30+r) = 2^(r-2) * 2^32 only adds to the high word, and 2^30 - [x<0] * 2^31 is
         * (low, high) = (0x40000000 | sign bit of x, -[x<0]); the result is the high word shifted by r - 1. */
        const int32_t rs = -shift - 1;
        const uint32_t lo0 = ((uint32_t)x & 0x80000000u) | 0x40000000u;
        const uint32_t hi0 = (uint32_t)(x >> 31) + (1u << (rs - 1));
        const int64_t acc = (int64_t)(((uint64_t)hi0 << 32) | lo0) + (int64_t)x * multiplier;
        return (int32_t)(acc >> 32) >> rs;
    } else if (shift < 0) {
        const int32_t r = -shift;
        const uint32_t t = 1u << r;
        /* 2^30 + 2^(30+r) as (high, low) words */
        const uint64_t c0 = ((uint64_t)(t >> 2) << 32) | (0x40000000u | ((t & 2u) << 30));
        const int64_t acc = (int64_t)(c0 - (x < 0 ? ((uint64_t)1 << 31) : 0u)) + (int64_t)x * multiplier;
        return (int32_t)(acc >> 32) >> (r - 1);
    } else {
        const int32_t shifted = (int32_t)(uint32_t)((uint32_t)x << shift);
        return (int32_t)(((int64_t)shifted * multiplier + ((int64_t)1 << 30)) >> 31);
    }
#endif
}

/* TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
EK_INLINE int32_t ek_mbqm_smaller_than_one(int32_t x, int32_t multiplier, int shift) {
#if EK_SINGLE_ROUNDING
    return ek_mbqm(x, multiplier, shift);
#else
    return ek_rdbpot(ek_srdhm(x, multiplier), -shift);
#endif
}

/* TFLM's MultiplyByQuantizedMultiplierGreaterThanOne (shift >= 0). */
EK_INLINE int32_t ek_mbqm_greater_than_one(int32_t x, int32_t multiplier, int shift) {
#if EK_SINGLE_ROUNDING
    return ek_mbqm(x, multiplier, shift);
#else
    return ek_srdhm((int32_t)(uint32_t)((uint32_t)x << shift), multiplier);
#endif
}

/* TFLM's MultiplyByQuantizedMultiplier for a 64-bit x (int16 kernels; |x| < 2^47, shift in [-31, 7]).
 * Double-rounding builds first reduce the multiplier to Q15 (rounded, capped at 0x7FFF). */
EK_INLINE int32_t ek_mbqm64(int64_t x, int32_t multiplier, int shift) {
#if EK_SINGLE_ROUNDING
    const int total_shift = 31 - shift;
    return (int32_t)((x * multiplier + ((int64_t)1 << (total_shift - 1))) >> total_shift);
#else
    const int32_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int total_shift = 15 - shift;
    return (int32_t)((x * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift);
#endif
}

/* The MVE kernels' requantization words (ek_matmul.h): per group of 4 output channels EK_RQ_WORDS int32,
 * [bias x4][out_mult x4][max(out_shift, 0) as 4 int8][min(out_shift, 0) as 4 int8]. */
#define EK_RQ_WORDS 10
EK_INLINE int32_t ek_rq_shift(const int32_t *group, int lane) {
    return ((const int8_t *)(group + 8))[lane] + ((const int8_t *)(group + 9))[lane];
}

#endif /* EK_COMMON_H */
