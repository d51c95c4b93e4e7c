"""Quantization arithmetic done at code-generation time, with TFLite/TFLM's exact semantics.

Everything here mirrors what the TFLM kernels compute in their ``Prepare`` step, so that the
constants we bake into the generated C are the ones TFLM would use at run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgekit.errors import ModelError

INT8_MIN, INT8_MAX = -128, 127


class QuantizationError(ModelError, ValueError):
    """A model's scales give a multiplier TFLite's arithmetic cannot represent (NaN, infinite, too large).

    A :class:`ValueError` too, for the handlers that catch it to word their own message."""


def round_half_away(x: float) -> int:
    """``std::round``: nearest integer, ties away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``real ~= mult * 2**shift / 2**31`` with mult a Q31 int32.

    Returns ``(multiplier, shift)``; shift > 0 is a left shift. Zero (and values below ~2**-31,
    flushed to zero like TFLite does) give ``(0, 0)``.

    >>> quantize_multiplier(0.5)
    (1073741824, 0)
    >>> quantize_multiplier(1.0)
    (1073741824, 1)
    """
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise QuantizationError(f"a requantization multiplier is {real!r}: a tensor scale is zero, infinite or NaN",
                                hint="check the model's quantization parameters with 'edgekit inspect'")
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if abs(q_fixed) > (1 << 31):
        raise QuantizationError(f"quantize_multiplier({real!r}) overflowed")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def f32(x: float) -> float:
    """Round a Python float to float32 and back (TFLite keeps scales as C ``float``)."""
    return float(np.float32(x))


def conv_multipliers(input_scale: float, filter_scales: Sequence[float], output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """Per-channel (multiplier, shift) lists as TFLM's ``PopulateConvolutionQuantizationParams``.

    ``effective = double(input_scale) * double(filter_scale[c]) / double(output_scale)``; a single
    filter scale is broadcast to all ``channels``.
    """
    mults: list[int] = []
    shifts: list[int] = []
    for c in range(channels):
        fs = filter_scales[c] if len(filter_scales) > 1 else filter_scales[0]
        m, s = quantize_multiplier(f32(input_scale) * f32(fs) / f32(output_scale))
        mults.append(m)
        shifts.append(s)
    return mults, shifts


def fc_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """Per-tensor (multiplier, shift) as TFLM's ``GetQuantizedConvolutionMultipler``.

    Note the float32 product of the two input scales before the double division.
    """
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / f32(output_scale))


def quantize_value(f: float, scale: float, zero_point: int) -> int:
    """``zero_point + (int)roundf(f / scale)`` computed in float32, as TFLite's activation-range code."""
    q = np.float32(f) / np.float32(scale)
    return int(zero_point) + round_half_away(float(q))


def activation_range(fused: str, scale: float, zero_point: int, qmin: int = INT8_MIN,
                     qmax: int = INT8_MAX) -> tuple[int, int]:
    """TFLite's ``CalculateActivationRangeQuantized`` for a fused activation name.

    Returns ``(act_min, act_max)``; raises ValueError for activations that are not clamps.
    """
    if fused == "NONE":
        return qmin, qmax
    if fused == "RELU":
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if fused == "RELU6":
        return (max(qmin, quantize_value(0.0, scale, zero_point)),
                min(qmax, quantize_value(6.0, scale, zero_point)))
    if fused == "RELU_N1_TO_1":
        return (max(qmin, quantize_value(-1.0, scale, zero_point)),
                min(qmax, quantize_value(1.0, scale, zero_point)))
    raise ValueError(f"fused activation {fused} is not a clamp")


def srdhm(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Vectorised ``ek_srdhm`` (gemmlowp SaturatingRoundingDoublingHighMul) on int64 arrays."""
    a = np.asarray(a, dtype=np.int64)
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    # C division truncates toward zero
    q = np.where(num >= 0, num // (1 << 31), -((-num) // (1 << 31)))
    sat = (a == np.int64(b)) & (a == -(1 << 31))
    return np.where(sat, (1 << 31) - 1, q).astype(np.int64)


def rdbpot(x: np.ndarray, exponent: int) -> np.ndarray:
    """Vectorised ``ek_rdbpot`` (rounding divide by a power of two, ties away from zero)."""
    x = np.asarray(x, dtype=np.int64)
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def mbqm(x: np.ndarray, multiplier: int, shift: int, *, single_rounding: bool = False) -> np.ndarray:
    """Vectorised ``ek_mbqm`` (TFLite MultiplyByQuantizedMultiplier) for int32 inputs."""
    x = np.asarray(x, dtype=np.int64)
    if single_rounding:
        total = 31 - shift
        return (x * multiplier + (1 << (total - 1))) >> total
    left = max(shift, 0)
    right = max(-shift, 0)
    shifted = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 wrap
    return rdbpot(srdhm(shifted, multiplier), right)
