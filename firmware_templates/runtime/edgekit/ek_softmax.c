/* edgekit AOT runtime: int8 SOFTMAX (see ek_softmax.h). */
#include "ek_softmax.h"

#include "ek_common.h"

/* Number of leading zero bits of a non-zero x. */
static int ek_clz32(uint32_t x) {
#if defined(__GNUC__)
    return __builtin_clz(x);
#else
    int n = 0;
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent in 1..30. */
static int32_t ek_sat_shl(int32_t x, int exponent) {
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* Wrapping int32 addition and subtraction (gemmlowp adds raw int32 values without saturation). */
static int32_t ek_add_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t ek_sub_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0 a in [0, 1) -> Q0 1 / (1 + a) (also used by ek_normalization.c). */
int32_t ek_one_over_one_plus_x(int32_t a) {
    /* RoundingHalfSum(a, 1.0): (a + INT32_MAX + sign) / 2, truncated */
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t one_q2 = (int32_t)1 << 29;
    /* Q2: x = 48/17 - 32/17 * half_denominator, then three Newton-Raphson steps */
    int32_t x = ek_add_wrap(1515870810, ek_srdhm(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t one_minus = ek_sub_wrap(one_q2, ek_srdhm(half_denominator, x));
        x = ek_add_wrap(x, ek_sat_shl(ek_srdhm(x, one_minus), 2));
    }
    return ek_sat_shl(x, 1); /* Q2 / 2 -> Q0 */
}

/* One row: returns the Q0 reciprocal scale and sets *exponent for the output shift. */
static int32_t ek_softmax_row_scale(const int8_t *in, int32_t depth, int32_t max_in_row,
                                    const int32_t exp_table[256], int out_bits, int *exponent) {
    uint32_t sum = 0u; /* Q12 sum of the exps */
    int32_t c;
    int headroom_plus_one, bits_over_unit;
    for (c = 0; c < depth; c++) {
        sum += (uint32_t)ek_rdbpot(exp_table[max_in_row - in[c]], 12);
    }
    if (sum == 0u) {
        sum = 1u; /* only after wrap-around (rows longer than 4096); TFLM is undefined there too */
    }
    headroom_plus_one = ek_clz32(sum); /* normally sum >= 2^19: the max element's exp is 1.0 */
    bits_over_unit = 12 - headroom_plus_one;
    *exponent = bits_over_unit + 31 - out_bits;
    if (*exponent > 31) {
        *exponent = 31; /* TFLM aborts here (a sum of exps >= 512 with int8 output); saturate instead */
    } else if (*exponent < 0) {
        *exponent = 0;
    }
    return ek_one_over_one_plus_x((int32_t)((sum << headroom_plus_one) - 0x80000000u));
}

static int32_t ek_row_max(const int8_t *in, int32_t depth) {
    int32_t m = -128;
    int32_t c;
    for (c = 0; c < depth; c++) {
        if (in[c] > m) {
            m = in[c];
        }
    }
    return m;
}

void ek_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, const int32_t exp_table[256]) {
    int32_t r, c;
    for (r = 0; r < outer; r++) {
        const int8_t *x = in + (size_t)r * (size_t)depth;
        int8_t *y = out + (size_t)r * (size_t)depth;
        const int32_t max_in_row = ek_row_max(x, depth);
        int exponent;
        const int32_t scale = ek_softmax_row_scale(x, depth, max_in_row, exp_table, 8, &exponent);
        for (c = 0; c < depth; c++) {
            const int32_t e = exp_table[max_in_row - x[c]];
            y[c] = ek_sat_i8(ek_rdbpot(ek_srdhm(scale, e), exponent) - 128);
        }
    }
}

void ek_softmax_s8_s16(const int8_t *in, int16_t *out, int32_t outer, int32_t depth,
                       const int32_t exp_table[256]) {
    int32_t r, c;
    for (r = 0; r < outer; r++) {
        const int8_t *x = in + (size_t)r * (size_t)depth;
        int16_t *y = out + (size_t)r * (size_t)depth;
        const int32_t max_in_row = ek_row_max(x, depth);
        int exponent;
        const int32_t scale = ek_softmax_row_scale(x, depth, max_in_row, exp_table, 16, &exponent);
        for (c = 0; c < depth; c++) {
            const int32_t e = exp_table[max_in_row - x[c]];
            y[c] = ek_sat_i16(ek_rdbpot(ek_srdhm(scale, e), exponent) - 32768);
        }
    }
}
