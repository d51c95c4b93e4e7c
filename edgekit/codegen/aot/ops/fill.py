"""FILL and ZEROS_LIKE for the element types TFLM has them for (values copied as they are, no quantization)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register
from edgekit.codegen.aot.ops.transpose import const_ints, require_small


def _check(ctx: OpContext) -> None:
    require_small(ctx)
    out = ctx.output(0)
    if ctx.op.opcode == "ZEROS_LIKE":
        inp = ctx.input(0)
        ctx.require(inp is not None, "input is missing")
        ctx.require_dtype(inp, "int8", "int32", "int64", "float32", what="input")
        ctx.require(out.dtype == inp.dtype and list(out.shape) == list(inp.shape),
                    f"output {out.dtype}{list(out.shape)} != input {inp.dtype}{list(inp.shape)}")
        return
    dims = const_ints(ctx, 0, "dims", ("int8", "int16", "int32", "int64"))
    value = ctx.input(1)
    ctx.require(value is not None and len(value.shape) == 0, "value must be a scalar tensor")
    ctx.require_dtype(value, "int8", "int32", "float32", what="value")
    ctx.require(out.dtype == value.dtype, f"output dtype {out.dtype} != value dtype {value.dtype}")
    ctx.require(dims == list(out.shape), f"dims {dims} != output shape {list(out.shape)}")


@register
class Fill(OpHandler):
    """FILL (ek_fill_value) / ZEROS_LIKE (memset 0)."""

    opcodes = ("FILL", "ZEROS_LIKE")

    def check(self, ctx: OpContext) -> None:
        _check(ctx)

    def emit(self, ctx: OpContext) -> str:
        _check(ctx)
        out = ctx.output(0)
        dst = ctx.ptr(ctx.op.outputs[0], "uint8_t")
        if ctx.op.opcode == "ZEROS_LIKE":
            return f"memset({dst}, 0, {out.nbytes}u);"
        count = int(np.prod(out.shape, dtype=np.int64))
        es = np.dtype(out.dtype).itemsize
        return f"ek_fill_value({dst}, {ctx.ptr(ctx.op.inputs[1], 'uint8_t')}, {count}u, {es});"
