"""TFLM's int16 look-up tables (``LUTPopulate<int16_t>``: 513 entries with midpoint-error correction, computed in
float32) and ``LUTLookup``, for the int16 SOFTMAX (its ``exp`` and ``1 / (1 + x)`` tables).

The generator computes the tables once per model; float32 arithmetic is done step by step in numpy float32 and the
exponential by the C library's ``expf`` (what TFLM's ``std::exp(float)`` calls), so the tables are TFLM's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

F = np.float32
INT16_RANGE = 65535  # numeric_limits<int16_t>::max() - min()


@lru_cache(maxsize=1)
def _expf() -> Callable[[float], float]:
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    fn = lib.expf
    fn.argtypes, fn.restype = [ctypes.c_float], ctypes.c_float
    return fn


def expf(x: np.float32) -> np.float32:
    """The C library's single-precision exp."""
    return F(_expf()(float(x)))


def one_over_one_plus(x: np.float32) -> np.float32:
    """``1.0f / (1.0f + x)`` in float32."""
    return F(F(1.0) / F(F(1.0) + x))


def _round(x: np.float32) -> np.float32:
    """``std::round`` (half away from zero) of a float32."""
    v = float(x)
    r = math.floor(abs(v) + 0.5) if abs(v) - math.floor(abs(v)) >= 0.5 else math.floor(abs(v))
    return F(math.copysign(r, v))


def lut_populate_int16(input_scale: float, input_zp: int, output_scale: float, output_zp: int,
                       transform: Callable[[np.float32], np.float32]) -> np.ndarray:
    """TFLM ``LUTPopulate<int16_t>`` (``LUTPopulateInt16<float>``): int16[513]."""
    in_s, out_s = F(input_scale), F(output_scale)
    input_min = F(in_s * F(-32768 - input_zp))
    input_max = F(in_s * F(32767 - input_zp))
    output_min = F(out_s * F(-32768 - output_zp))
    output_max = F(out_s * F(32767 - output_zp))
    steps = 512
    step = F(F(input_max - input_min) / F(steps))
    half_step = F(step / F(2))
    inv = F(F(65536) / F(output_max - output_min))
    lut = np.zeros(steps + 1, dtype=np.int16)
    for i in range(steps):
        x = F(input_min + F(F(i) * step))
        val = transform(x)
        val_mid = transform(F(x + half_step))
        val_next = transform(F(input_min + F(F(i + 1) * step)))
        sample = _round(F(val * inv))
        mid_interp = _round(F(F(F(val_next * inv) + _round(F(val * inv))) / F(2)))
        mid_val = _round(F(val_mid * inv))
        bias = _round(F(F(mid_interp - mid_val) / F(2)))
        lut[i] = int(min(max(float(F(sample - bias)), -32768.0), 32767.0))
    last = _round(F(transform(input_max) * inv))
    lut[steps] = int(min(max(float(last), -32768.0), 32767.0))
    return lut


def softmax16_luts() -> tuple[np.ndarray, np.ndarray]:
    """(exp table over [-10, 0], 1 / (1 + x) table over [0, 1]) as TFLM's int16 SOFTMAX prepare builds them."""
    exp_lut = lut_populate_int16(float(F(F(10.0) / F(INT16_RANGE))), 32767, float(F(F(2.0) / F(INT16_RANGE))), 0,
                                 expf)
    recip_lut = lut_populate_int16(float(F(F(1.0) / F(INT16_RANGE))), -32768, float(F(F(2.0) / F(INT16_RANGE))), 0,
                                   one_over_one_plus)
    return exp_lut, recip_lut
