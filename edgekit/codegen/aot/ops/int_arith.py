"""int32 ADD, SUB, MUL and DIV without quantization, as TFLM computes them (e.g. the integer tail of micro_speech's
audio preprocessor). ADD ignores the fused activation (TFLM clamps int32 ADD to the full int32 range); SUB, MUL and
DIV clamp to it (``CalculateActivationRange``: RELU 0.., RELU6 0..6, RELU_N1_TO_1 -1..1). Overflow wraps; DIV
truncates towards zero. The int8 ADD / SUB / MUL handlers (elementwise.py) hand int32 operators to this module;
DIV is int32 only here. Runs on ``ek_binary`` (ek_math.h) with broadcasting.
"""

from __future__ import annotations

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register
from edgekit.codegen.aot.ops.math import _layout

_RANGES = {"NONE": (-(2**31), 2**31 - 1), "RELU": (0, 2**31 - 1), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}


def is_int32(ctx: OpContext) -> bool:
    """True when the operator's first input is int32 (this module's case)."""
    a = ctx.input(0)
    return a is not None and a.dtype == "int32"


def _params(ctx: OpContext) -> tuple[dict[str, object], dict[str, object]]:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(b is not None, "needs two inputs")
    for t, what in ((a, "input 1"), (b, "input 2"), (out, "output")):
        ctx.require_dtype(t, "int32", what=what)
        ctx.require(not (t.quantization and t.quantization.scale), f"{what} '{t.name}' is quantized; int32 "
                    f"{ctx.op.opcode} is plain integer arithmetic here (as in TFLM)")
    act = ctx.options.get("fused_activation_function", "NONE")
    ctx.require(act in _RANGES, f"fused activation {act} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
    lo, hi = _RANGES["NONE" if ctx.op.opcode == "ADD" else act]
    params = {"op": f"EK_BIN_{ctx.op.opcode}", "in1_type": "EK_T_S32", "in2_type": "EK_T_S32", "out_type": "EK_T_S32",
              "act_min": f"(int32_t){lo}" if lo == -(2**31) else lo, "act_max": hi}
    return _layout(ctx, [0, 1]), params


def check_int32(ctx: OpContext) -> None:
    """Reject unsupported int32 ADD / SUB / MUL / DIV operators."""
    _params(ctx)


def emit_int32(ctx: OpContext) -> str:
    """C for an int32 ADD / SUB / MUL / DIV operator."""
    shape, params = _params(ctx)
    a, b, o = ctx.op.inputs[0], ctx.op.inputs[1], ctx.op.outputs[0]
    return "\n".join(["{", *("    " + ln for ln in c_struct("ek_nshape", "shape", shape).splitlines()),
                      *("    " + ln for ln in c_struct("ek_binary_params", "p", params).splitlines()),
                      f"    ek_binary({ctx.ptr(a, 'void')}, {ctx.ptr(b, 'void')}, {ctx.ptr(o, 'void')}, &shape, &p);",
                      "}"])


@register
class Div(OpHandler):
    """DIV, int32 (TFLM's float32 and int8 DIV are not supported here)."""

    opcodes = ("DIV",)

    def check(self, ctx: OpContext) -> None:
        a = ctx.input(0)
        ctx.require(is_int32(ctx), f"only int32 DIV is supported (input is {a.dtype if a is not None else 'missing'})")
        check_int32(ctx)

    def emit(self, ctx: OpContext) -> str:
        return emit_int32(ctx)
