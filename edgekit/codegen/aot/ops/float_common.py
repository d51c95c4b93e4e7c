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
  (ek_float.h; ek_float_nn.c also turns contraction off itself, for builds in a GNU C mode). The conv / depthwise /
  FC / pool kernels compute several outputs per pass, each still summed in TFLM's order; on Helium cores
  (Cortex-M55 / M85, MVE-F) 4 outputs ride in the lanes of a vector, VMUL then VADD, which is bit for bit too
  except where a product or partial sum is subnormal (MVE arithmetic flushes it to zero) or NaN (MVE returns the
  default NaN: the payload may differ).
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
* BATCH_MATMUL and SVDF (float_rnn.py, ``ek_float_rnn.c``) are + and * in TFLM's order: bit for bit, except SVDF with
  a fused TANH, whose last step is ``tanhf``: TANH's bound (:func:`op_tolerance`). Its state holds the feature sums
  before the activation, so nothing of the C library is carried to the next invocation.
* UNIDIRECTIONAL_SEQUENCE_LSTM (:data:`RECURRENT`): TFLM's float order exactly (the host build, same C library as
  the TFLM host interpreter, equals it bit for bit: tests/test_aot_float_rnn.py), but each step calls expf / tanhf
  five times per unit and feeds the result back through the recurrent weights, so the C library's last-bit
  differences grow with the sequence. A worst-case bound follows the first-order recurrence
  ``E_t = max_u [D_t + |c| (Rf E)/4 + (Ri E)/4 + (Rg E) + (Ro E)/4] + eta`` (R the row sums of |recurrent weights|,
  ``sigmoid' <= 1/4``, ``tanh' <= 1``, ``|gates| <= 1``): for TFLM's mnist_lstm (20 units, 28 steps) it multiplies
  by ~21 per step, 1e29 after 28 steps, i.e. it says nothing. So an LSTM output, and everything downstream of it, is
  reported (max abs / relative difference), not judged: :func:`output_bound` gives None. Measured on QEMU
  (newlib) against the host interpreter (glibc): mnist_lstm's softmax output within 3.9e-6 relative, 1e-12..3e-8
  absolute, top-1 equal (notes/floatlstm.md); the tests hold device runs to top-1 and 1e-4 relative.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext

FLT_MAX = "3.40282347e+38f"
LIBM_ULP = 4  # the bound derived above, for the C-library ops
LIBM = frozenset({"EXP", "LOG", "SIN", "COS", "TANH", "LOGISTIC", "ELU", "SOFTMAX", "LOG_SOFTMAX"})
RECURRENT = frozenset({"UNIDIRECTIONAL_SEQUENCE_LSTM"})  # C-library results fed back: reported, not judged


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


def libm_kind(op) -> str | None:
    """The opcode whose C-library bound an operator's float output carries (``op.opcode`` for :data:`LIBM` and
    :data:`RECURRENT` ops, "TANH" for an SVDF with a fused tanh), or None when it is + - * / only."""
    if op.opcode in LIBM or op.opcode in RECURRENT:
        return op.opcode
    if op.opcode == "SVDF" and op.options.get("fused_activation_function") == "TANH":
        return "TANH"
    return None


def op_tolerance(op, reference: np.ndarray) -> np.ndarray:
    """:func:`tolerance` of an operator's output (SVDF with a fused tanh: TANH's)."""
    return tolerance(libm_kind(op) or op.opcode, reference)


def output_bound(sg, tensor: int):
    """The bound a float32 graph output is held to against TFLM (a function of the reference values), or None.

    The producing op's :func:`op_tolerance` when no float op upstream calls the C library (their results are
    TFLM's bit for bit, so only the last op can differ); None for an LSTM output or when a C-library op lies
    upstream (its last-bit differences propagate through ops whose conditioning the generator does not know:
    reported, not judged).
    """
    producer = {t: op for op in sg.operators for t in op.outputs}
    op = producer.get(tensor)
    if op is None or op.opcode in RECURRENT:
        return None
    seen, todo = set(), [t for t in op.inputs if t >= 0]
    while todo:
        t = todo.pop()
        if t in seen or t not in producer:
            continue
        seen.add(t)
        up = producer[t]
        if sg.tensors[t].dtype == "float32" and libm_kind(up) is not None:
            return None
        todo.extend(i for i in up.inputs if i >= 0)
    return lambda reference: op_tolerance(op, reference)
