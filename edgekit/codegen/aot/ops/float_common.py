"""Shared pieces of the float32 handlers (``float_nn.py``, ``float_elementwise.py``; kernels in ``ek_float*.c``).

Float handlers are registered with :func:`~edgekit.codegen.aot.ops.base.register_float` beside the integer ones, so
an opcode's REGISTRY entry picks the float32 handler for a float operator and the integer handler otherwise.

Agreement with TFLM's float reference kernels (the PyPI tflite-micro host interpreter), per op:

* bit for bit (:data:`EXACT`): everything computed with + - * / sqrt and comparisons, in the reference kernels'
  order (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, the pools, ADD/SUB/MUL/DIV, MAXIMUM/MINIMUM,
  SQUARED_DIFFERENCE, FLOOR_DIV/FLOOR_MOD, PRELU, the ReLU family, LEAKY_RELU, HARD_SWISH, ABS, NEG, SQRT,
  RSQRT, SQUARE, FLOOR, CEIL, ROUND, ADD_N, MEAN/SUM/REDUCE_MAX/REDUCE_MIN). IEEE 754 rounds each of these
  correctly, soft-float included, and ISO C mode keeps GCC from fusing multiply-adds (ek_float.h).
* within :data:`LIBM_ULP` units in the last place (:func:`tolerance`): ops through the C library's
  exp / log / tanh / sin / cos / expm1 (EXP, LOG, SIN, COS, TANH, LOGISTIC, ELU, SOFTMAX, LOG_SOFTMAX). glibc's
  and newlib's single-precision functions are each within 1 ulp of the true value (both are derived from Arm's
  optimized-routines for expf / logf; sinf / cosf / tanhf are documented at <= 1-2 ulp), so two of them differ by
  at most 2 ulp at the function's output; SOFTMAX divides by a sum of ``depth`` such values, whose relative error
  is at most 2 ulp as well (every term has the same sign), giving 4 ulp at the quotient. LOG_SOFTMAX subtracts
  ``log(sum)``; its error is absolute: 4 ulp of ``log(sum)``, at least 4 * 2^-23 * |output|.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext

FLT_MAX = "3.40282347e+38f"
LIBM_ULP = 4  # the bound derived above, for the C-library ops
EXACT = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D",
    "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "FLOOR_DIV", "FLOOR_MOD", "PRELU",
    "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "HARD_SWISH", "ABS", "NEG", "SQRT", "RSQRT",
    "SQUARE", "FLOOR", "CEIL", "ROUND", "ADD_N", "MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN",
})


def c_float(x: float) -> str:
    """A C float literal that parses back to exactly float32(x) (infinities as +-FLT_MAX are not used here)."""
    v = float(np.float32(x))
    if v == float("inf"):
        return "HUGE_VALF"
    if v == float("-inf"):
        return "(-HUGE_VALF)"
    return f"{v:.9e}f"


def act_range(ctx: OpContext) -> tuple[str, str]:
    """C literals (min, max) of the fused activation, as TFLM's CalculateActivationRange for float."""
    fused = ctx.options.get("fused_activation_function", "NONE")
    ranges = {"NONE": (f"(-{FLT_MAX})", FLT_MAX), "RELU": ("0.0f", FLT_MAX), "RELU6": ("0.0f", "6.0f"),
              "RELU_N1_TO_1": ("-1.0f", "1.0f")}
    if fused not in ranges:
        ctx.fail(f"fused activation {fused} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
    return ranges[fused]


def require_f32(ctx: OpContext, *tensors: tuple[object, str]) -> None:
    """``ctx.fail`` unless every (tensor, what) is present and float32."""
    for tensor, what in tensors:
        ctx.require_dtype(tensor, "float32", what=what)


def tolerance(opcode: str, reference: np.ndarray) -> np.ndarray:
    """Per-element absolute tolerance of a float32 output of ``opcode`` against TFLM's (0 where bit-exact)."""
    ref = np.abs(np.asarray(reference, dtype=np.float32))
    if opcode in EXACT:
        return np.zeros_like(ref)
    ulp = np.spacing(np.maximum(ref, np.float32(np.finfo(np.float32).tiny)))
    if opcode == "LOG_SOFTMAX":  # error of log(sum): a few ulp of numbers up to |output|, at least 1.0's ulp
        ulp = np.maximum(ulp, np.spacing(np.float32(1.0)) * 8)
    return (LIBM_ULP * ulp).astype(np.float32)
