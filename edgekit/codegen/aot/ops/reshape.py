"""RESHAPE, SQUEEZE, EXPAND_DIMS: no data movement (the output shares the input's memory)."""

from __future__ import annotations

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register


@register
class Reshape(OpHandler):
    """Shape-only ops: free when the planner aliases the output to the input, a memmove otherwise."""

    opcodes = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require(inp is not None, "input is missing")
        ctx.require(inp.dtype == out.dtype, f"input dtype {inp.dtype} != output dtype {out.dtype}")
        ctx.require(inp.nbytes == out.nbytes, f"input {inp.shape} and output {out.shape} differ in size")
        # like TFLM, the bytes are reused as they are (quantization parameters are not compared)

    def inplace(self, ctx: OpContext) -> bool:
        return True

    def emit(self, ctx: OpContext) -> str:
        src = ctx.ptr(ctx.op.inputs[0], "uint8_t")
        dst = ctx.ptr(ctx.op.outputs[0], "uint8_t")
        if src == dst:
            return "/* nothing to do: the output shares the input's memory */"
        return f"memmove({dst}, {src}, {ctx.output(0).nbytes}u);"
