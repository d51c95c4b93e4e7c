"""Bit-exact numpy models of the integer arithmetic inside TFLM's int8 transcendental kernels.

TFLM computes int8 LOGISTIC, TANH and SOFTMAX with gemmlowp's fixed-point ``exp``, ``logistic``,
``tanh`` and ``1/(1+x)`` (``fixedpoint/fixedpoint.h``), and HARD_SWISH with int16 fixed point.
These functions reproduce that arithmetic on int64 numpy arrays holding int32 (or int16) raw
values, so the code generator can tabulate a kernel's output for every possible int8 input at
generation time. Nothing here runs on the device.

Naming: a "Qk" value is gemmlowp's ``FixedPoint<int32_t, k>``: k integer bits, 31 - k fraction
bits. All functions take and return raw integers.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.quant import rdbpot, srdhm

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32 (what int32 ``+``/``-`` do on every target we care about)."""
    return (np.asarray(x, dtype=np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)


def sat_shl(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>`` (exponent may be negative)."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rescale(x: np.ndarray, src_bits: int, dst_bits: int) -> np.ndarray:
    """gemmlowp ``Rescale<dst_bits>`` of a Q``src_bits`` value."""
    return sat_shl(x, src_bits - dst_bits)


def _exp_on_interval(a: np.ndarray) -> np.ndarray:
    """``exp_on_interval_between_negative_one_quarter_and_0_excl`` (Q0 in, Q0 out)."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = wrap32(a + (1 << 28))  # a + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


# (exponent, Q0 multiplier exp(-2**exponent)) of gemmlowp's barrel shifter
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``exp_on_negative_values`` of a Q``integer_bits`` value <= 0; returns Q0."""
    a = np.asarray(a, dtype=np.int64)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_one_quarter = wrap32((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval(rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where(remainder & bit, srdhm(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))  # -32.0
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal_q2(a: np.ndarray) -> np.ndarray:
    """The shared Newton-Raphson core: Q2 approximation of 1 / ((1 + a) / 2) for a Q0 a in [0, 1]."""
    a = np.asarray(a, dtype=np.int64)
    s = a + INT32_MAX  # RoundingHalfSum(a, One) in 64 bits, then (sum + sign) / 2 truncated
    half_denominator = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = wrap32(one_q2 - half_denominator_times_x)
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp ``one_over_one_plus_x_for_x_in_0_1`` (Q0 in, Q0 out)."""
    return rescale(_newton_reciprocal_q2(a), 1, 0)  # ExactMulByPot<-1> then Rescale<0>


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp ``one_minus_x_over_one_plus_x_for_x_in_0_1`` (Q0 in, Q0 out)."""
    return rescale(wrap32(_newton_reciprocal_q2(a) - (1 << 29)), 2, 0)


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``logistic`` of a Q``integer_bits`` value; returns Q0."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    abs_input = np.where(positive, a, wrap32(-a))
    if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-abs_input), integer_bits))
    if_negative = wrap32(INT32_MAX - if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative))


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``tanh`` of a Q``integer_bits`` value; returns Q0."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    n = np.where(negative, a, wrap32(-a))
    # neg_tanh_on_negative_values: ExactMulByPot<1> reinterprets n with one more integer bit
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, wrap32(-t), t))


# -- int16 helpers (HARD_SWISH) ----------------------------------------------------------------

def wrap16(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int16 (a C++ ``static_cast<int16_t>``)."""
    return (np.asarray(x, dtype=np.int64) + (1 << 15)) % (1 << 16) - (1 << 15)


def srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` for int16."""
    a = np.asarray(a, dtype=np.int64)
    ab = a * b
    num = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = np.where(num >= 0, num // (1 << 15), -((-num) // (1 << 15)))
    return np.where((a == b) & (a == -32768), 32767, wrap16(q))


def sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TFLite's non-rounding int16 ``SaturatingDoublingHighMul`` (truncating division)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    q = np.where(ab >= 0, ab // (1 << 15), -((-ab) // (1 << 15)))
    return np.where((a == b) & (a == -32768), 32767, wrap16(q))


def rdbpot16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT`` instantiated for int16 (every step cast to int16)."""
    x = np.asarray(x, dtype=np.int64)
    mask = int(wrap16((1 << exponent) - 1))
    remainder = wrap16(x & mask)
    threshold = wrap16((mask >> 1) + (x < 0))
    return wrap16(wrap16(x >> exponent) + (remainder > threshold))


def sat_shl16(x: np.ndarray, amount: int) -> np.ndarray:
    """TFLite's int16 ``SaturatingLeftShift`` (computed in 64 bits, clamped)."""
    return np.clip(np.asarray(x, dtype=np.int64) * (1 << amount), -32768, 32767)


# -- scalar helpers (RSQRT, L2_NORMALIZATION) ------------------------------------------------------

def inv_sqrt_multiplier_exp(value: int, reverse_shift: int = -1) -> tuple[int, int]:
    """TFLite ``GetInvSqrtQuantizedMultiplierExp``: (multiplier, shift) with 1/sqrt(value) ~ multiplier * 2**shift
    / 2**31, by gemmlowp Q3 Newton-Raphson (5 steps), for an int32 ``value >= 0`` (0 and 1 give INT32_MAX, 0)."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = (32 - value.bit_length() - 1) // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    half_input = int(rdbpot(np.int64(value >> 1), 1))
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28  # F3 one
    for _ in range(5):
        x3 = int(sat_shl(srdhm(srdhm(x, x), x), 6))
        x = int(sat_shl(wrap32(int(srdhm(half_three, x)) - int(srdhm(half_input, x3))), 3))
    x = int(srdhm(x, 1518500250))  # * sqrt(2) / 2
    if shift < 0:
        x = int(wrap32(x << -shift))
        shift = 0
    return x, shift * reverse_shift
