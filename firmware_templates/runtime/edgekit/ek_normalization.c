/* edgekit AOT runtime: L2_NORMALIZATION and LOG_SOFTMAX (see ek_normalization.h). */
#include "ek_normalization.h"

#include "ek_common.h"
#include "ek_softmax.h"

static int ek_clz(uint32_t x) {
#if defined(__GNUC__)
    return x == 0u ? 32 : __builtin_clz(x);
#else
    int n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

static int32_t ek_wadd(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t ek_wsub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* gemmlowp SaturatingRoundingMultiplyByPOT for exponent >= 0 (a saturating left shift). */
static int32_t ek_sat_pot(int32_t x, int exponent) {
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

static int32_t ek_sat_add(int32_t a, int32_t b) {
    const int64_t s = (int64_t)a + b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}

/* TFLite GetInvSqrtQuantizedMultiplierExp(input, kReverseShift = -1). */
void ek_inv_sqrt(int32_t input, int32_t *multiplier, int *shift) {
    const int32_t half_three = (1 << 28) + (1 << 27);
    int32_t half_input, x;
    int s = 11, pairs, i;
    if (input <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (input >= (1 << 29)) {
        input /= 4;
        s++;
    }
    pairs = (ek_clz((uint32_t)input) - 1) / 2 - 1;
    s -= pairs;
    input <<= 2 * pairs;
    half_input = ek_rdbpot(input >> 1, 1);
    x = 1 << 28; /* Q3 one */
    for (i = 0; i < 5; i++) {
        const int32_t x3 = ek_sat_pot(ek_srdhm(ek_srdhm(x, x), x), 6);
        x = ek_sat_pot(ek_wsub(ek_srdhm(half_three, x), ek_srdhm(half_input, x3)), 3);
    }
    x = ek_srdhm(x, 1518500250); /* * sqrt(2) / 2 */
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *multiplier = x;
    *shift = -s;
}

void ek_l2norm_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, int32_t input_zp) {
    int32_t r, c;
    for (r = 0; r < outer; r++) {
        const int8_t *x = in + (size_t)r * (size_t)depth;
        int8_t *y = out + (size_t)r * (size_t)depth;
        uint32_t acc = 0u;
        int32_t mult;
        int shift;
        for (c = 0; c < depth; c++) {
            const int32_t v = x[c] - input_zp;
            acc += (uint32_t)(v * v);
        }
        ek_inv_sqrt((int32_t)acc, &mult, &shift);
        for (c = 0; c < depth; c++) {
            y[c] = ek_sat_i8(ek_mbqm(x[c] - input_zp, mult, shift + 7));
        }
    }
}

/* TFLite log_x_for_x_greater_than_or_equal_to_1<5>() of a Q12 value: Q5 log. */
static int32_t ek_log_q12_to_q5(int32_t z_a) {
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t shifted_quarter = 1 << 23; /* Rescale<6>(1/4) */
    const int z_a_headroom_plus_1 = ek_clz((uint32_t)z_a);
    const int32_t r_a_tmp = ek_sat_pot(z_a, z_a_headroom_plus_1 - 1);
    const int32_t r_a_raw = ek_sat_pot(ek_srdhm(r_a_tmp, sqrt_half), 1);
    const int32_t z_a_pow_2_adj = ek_sat_add(ek_sat_pot(12 - z_a_headroom_plus_1, 25), shifted_quarter);
    const int32_t z_b = ek_srdhm(z_a, sqrt_half);
    const int z_b_headroom = ek_clz((uint32_t)z_b) - 1;
    const int32_t r_b_raw = ek_sat_pot(z_a, z_b_headroom);
    const int32_t z_b_pow_2_adj = ek_sat_add(ek_sat_pot(12 - z_b_headroom, 25), -shifted_quarter);
    const int32_t r = r_a_raw < r_b_raw ? r_a_raw : r_b_raw;
    const int32_t z_pow_2_adj = z_a_pow_2_adj > z_b_pow_2_adj ? z_a_pow_2_adj : z_b_pow_2_adj;
    const int64_t half_sum = (int64_t)r + sqrt_sqrt_half;
    const int32_t p = (int32_t)((half_sum + (half_sum >= 0 ? 1 : -1)) / 2);
    const int32_t q = ek_wadd(ek_wsub(r, sqrt_sqrt_half), ek_wsub(r, sqrt_sqrt_half));
    const int32_t common_sq = ek_srdhm(q, q);
    const int32_t num = ek_wadd(ek_srdhm(q, r), ek_srdhm(ek_srdhm(q, common_sq), alpha_n));
    const int32_t denom_minus_one = ek_wadd(
        ek_srdhm(p, ek_wadd(ek_wadd(alpha_i, q), ek_srdhm(alpha_d, common_sq))), ek_srdhm(alpha_f, q));
    const int32_t recip_denom = ek_one_over_one_plus_x(denom_minus_one);
    const int32_t num_scaled = ek_rdbpot(num, 6);
    return ek_sat_pot(ek_wadd(ek_srdhm(z_pow_2_adj, log_2), ek_srdhm(num_scaled, recip_denom)), 1);
}

void ek_log_softmax_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t depth, const ek_log_softmax_params *p) {
    int32_t r, c;
    for (r = 0; r < outer; r++) {
        const int8_t *x = in + (size_t)r * (size_t)depth;
        int8_t *y = out + (size_t)r * (size_t)depth;
        int32_t max_in_row = -128, log_sum, adjusted;
        uint32_t sum = 0u;
        for (c = 0; c < depth; c++) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < depth; c++) {
            sum += (uint32_t)p->exp_q12[max_in_row - x[c]];
        }
        log_sum = ek_log_q12_to_q5((int32_t)sum);
        adjusted = ek_mbqm(ek_wadd(log_sum, INT32_MIN), p->reverse_multiplier, p->reverse_shift);
        if (adjusted < p->diff_min - 1) {
            adjusted = p->diff_min - 1;
        }
        for (c = 0; c < depth; c++) {
            const int32_t diff = x[c] - max_in_row;
            if (diff > adjusted) {
                y[c] = ek_sat_i8(ek_rdbpot(ek_wsub(p->diff_q5[-diff], log_sum), 22) + 127);
            } else {
                y[c] = -128;
            }
        }
    }
}
