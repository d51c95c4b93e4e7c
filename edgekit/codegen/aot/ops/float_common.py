"""Shared pieces of the float32 handlers (``float_nn.py``, ``float_elementwise.py``; kernels in ``ek_float*.c``).

Float handlers are registered with :func:`~edgekit.codegen.aot.ops.dispatch.register_float` beside the integer ones, so
an opcode's REGISTRY entry picks the float32 handler for a float operator and the integer handler otherwise.

Agreement with TFLM's float reference kernels (the PyPI tflite-micro host interpreter), per op:

* bit for bit (every op not in :data:`LIBM`, data movement included): everything computed with + - * / sqrt and
  comparisons, in the reference kernels' order (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, the pools,
  ADD/SUB/MUL/DIV, MAXIMUM/MINIMUM, SQUARED_DIFFERENCE, FLOOR_DIV/FLOOR_MOD, PRELU, RELU/RELU6, LEAKY_RELU,
  HARD_SWISH, ABS, NEG, SQRT, RSQRT, SQUARE, FLOOR, CEIL, ROUND, ADD_N, MEAN/SUM/REDUCE_MAX/REDUCE_MIN; in
  float_ops.py the comparisons, SELECT_V2, ARG_MAX/ARG_MIN, CUMSUM, L2_NORMALIZATION, RESIZE_BILINEAR and
  TRANSPOSE_CONV; a CONV_2D + ADD pair fused by fusion.py, which keeps the two roundings). IEEE 754
  rounds each of these correctly, soft-float included, and ISO C mode keeps GCC from fusing multiply-adds
  (ek_float.h).
* within :data:`LIBM_ULP` units in the last place (:func:`tolerance`): ops through the C library's
  exp / log / tanh / sin / cos / expm1 (EXP, LOG, SIN, COS, TANH, LOGISTIC, ELU, SOFTMAX, LOG_SOFTMAX). glibc's
  and newlib's single-precision functions are each within 1 ulp of the true value (both are derived from Arm's
  optimized-routines for expf / logf; sinf / cosf / tanhf are documented at <= 1-2 ulp), so two of them differ by
  at most 2 ulp at the function's output. SOFTMAX divides one such value by their sum (same order on both sides,
  every term positive): 2 ulp relative in the terms gives 2 ulp in the exact sum, and the quotient 4 ulp, plus
  the sums' own roundings, which can differ where the terms differ (at most 1/2 ulp per addition in the worst
  case; not seen in the tests, where softmax rows of 50 agree within 1 ulp). LOG_SOFTMAX subtracts ``log(sum)``:
  its error is absolute, bounded by 8 ulp of 1.0 or 4 ulp of the output, whichever is larger. On one core (device
  against device) all ops are deterministic.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext

FLT_MAX = "3.40282347e+38f"
LIBM_ULP = 4  # the bound derived above, for the C-library ops
LIBM = frozenset({"EXP", "LOG", "SIN", "COS", "TANH", "LOGISTIC", "ELU", "SOFTMAX", "LOG_SOFTMAX"})


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
    if opcode not in LIBM:
        return np.zeros_like(ref)
    ulp = np.spacing(np.maximum(ref, np.float32(np.finfo(np.float32).tiny)))
    if opcode == "LOG_SOFTMAX":  # error of log(sum): a few ulp of numbers up to |output|, at least 1.0's ulp
        ulp = np.maximum(ulp, np.spacing(np.float32(1.0)) * 8)
    return (LIBM_ULP * ulp).astype(np.float32)


def output_bound(sg, tensor: int):
    """The bound a float32 graph output is held to against TFLM (a function of the reference values), or None.

    The producing op's :func:`tolerance` when no float op upstream is in :data:`LIBM` (their results are
    TFLM's bit for bit, so only the last op can differ); None when a C-library op lies upstream (its last-bit
    differences propagate through ops whose conditioning the generator does not know: reported, not judged).
    """
    producer = {t: op for op in sg.operators for t in op.outputs}
    op = producer.get(tensor)
    if op is None:
        return None
    seen, todo = set(), [t for t in op.inputs if t >= 0]
    while todo:
        t = todo.pop()
        if t in seen or t not in producer:
            continue
        seen.add(t)
        up = producer[t]
        if sg.tensors[t].dtype == "float32" and up.opcode in LIBM:
            return None
        todo.extend(i for i in up.inputs if i >= 0)
    opcode = op.opcode
    return lambda reference: tolerance(opcode, reference)
