"""CAST between TFLM's cast types, as its kernel computes it: ``static_cast`` element by element (integers wrap
modulo 2^bits, float to integer truncates towards zero; out-of-range floats are undefined in TFLM too).

Inputs: int8, int16, int32, uint32, float32, bool; outputs: int8, int16, int32, uint32, float32 (TFLM's set).
"""

from __future__ import annotations

from edgekit.codegen.aot.ops.base import CTYPES, OpContext, OpHandler, register

_IN = ("int8", "int16", "int32", "uint32", "float32", "bool")
_OUT = ("int8", "int16", "int32", "uint32", "float32")


@register
class Cast(OpHandler):
    """CAST: one C conversion per element."""

    opcodes = ("CAST",)

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(inp, *_IN, what="input")
        ctx.require_dtype(out, *_OUT, what="output")
        ctx.require(inp.size == out.size, f"input holds {inp.size} values, output {out.size}")

    def emit(self, ctx: OpContext) -> str:
        inp, out = ctx.input(0), ctx.output(0)
        tin, tout = CTYPES[inp.dtype], CTYPES[out.dtype]
        src = ctx.ptr(ctx.op.inputs[0], tin)
        dst = ctx.ptr(ctx.op.outputs[0], tout)
        value = "(x[i] != 0)" if inp.dtype == "bool" else "x[i]"
        return "\n".join([
            "{",
            f"    const {tin} *x = {src};",
            f"    {tout} *y = {dst};",
            f"    for (int32_t i = 0; i < {inp.size}; ++i) y[i] = ({tout}){value};",
            "}"])
