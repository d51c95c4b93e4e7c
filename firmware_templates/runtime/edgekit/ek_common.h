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
#else
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

/* round(a * b / 2^31), ties away from zero; INT32_MIN * INT32_MIN saturates to INT32_MAX. */
EK_INLINE int32_t ek_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    {
        const int64_t ab = (int64_t)a * (int64_t)b;
        const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
        /* C99 division truncates toward zero, like gemmlowp's. */
        return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    }
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
EK_INLINE int32_t ek_rdbpot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
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

#endif /* EK_COMMON_H */
