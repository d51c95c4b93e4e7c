"""ARG_MAX, ARG_MIN and CUMSUM along a constant axis, int8 (``ek_scan.c``).

TFLM's ARG_MAX / ARG_MIN take int8 input and a constant int32 axis and write int32 indices (its kernel has
no int64 output); the first extreme value wins. TFLM's int8 CUMSUM rescales like its ADD with
``left_shift = 20`` (``cumsum.cc``): input multiplier 1/2, output multiplier ``2 s_in / (2**20 s_out)``.
"""

from __future__ import annotations

import math

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.quant import f32, quantize_multiplier


def _axis(ctx: OpContext, rank: int) -> int:
    """The operator's single constant int32 axis, resolved against ``rank`` (or ``ctx.fail``)."""
    axis = ctx.input(1)
    ctx.require(axis is not None and axis.is_const and axis.dtype == "int32" and axis.size == 1,
                "the axis must be one constant int32 value")
    a = int(axis.array().reshape(-1)[0])
    a = a + rank if a < 0 else a
    ctx.require(0 <= a < rank, f"axis {a} is out of range for a {rank}-D input")
    return a


def _split(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    return math.prod(shape[:axis]), int(shape[axis]), math.prod(shape[axis + 1:])


@register
class ArgMinMax(OpHandler):
    """ARG_MAX and ARG_MIN: int8 input, int32 output (TFLM's kernel)."""

    opcodes = ("ARG_MAX", "ARG_MIN")

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(inp, "int8", what="input")
        ctx.require_dtype(out, "int32", what="output (TFLM's ARG_MAX / ARG_MIN write int32 only)")
        ctx.require(len(inp.shape) >= 1, "the input must have at least one dimension")
        outer, size, inner = _split(tuple(inp.shape), _axis(ctx, len(inp.shape)))
        ctx.require(size >= 1 and out.size == outer * inner,
                    f"output {list(out.shape)} does not match reducing {list(inp.shape)}")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        inp = ctx.input(0)
        outer, size, inner = _split(tuple(inp.shape), _axis(ctx, len(inp.shape)))
        is_max = int(ctx.op.opcode == "ARG_MAX")
        return (f"ek_argminmax_s8({ctx.ptr(ctx.op.inputs[0])}, {ctx.ptr(ctx.op.outputs[0], 'void')}, {outer}, "
                f"{size}, {inner}, {is_max}, 4);")


@register
class CumSum(OpHandler):
    """CUMSUM, int8 (exclusive and reverse)."""

    opcodes = ("CUMSUM",)

    def _params(self, ctx: OpContext) -> tuple[tuple[int, int, int], dict[str, object]]:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(inp, "int8", what="input")
        ctx.require_dtype(out, "int8", what="output")
        ctx.require(len(inp.shape) >= 1 and tuple(inp.shape) == tuple(out.shape),
                    "input and output must have one shape of at least one dimension")
        (si, zi), (so, zo) = scale_zp(ctx, inp, "input"), scale_zp(ctx, out, "output")
        twice = 2.0 * f32(si)
        in_m, in_s = quantize_multiplier(f32(si) / twice)
        real_out = twice / ((1 << 20) * f32(so))
        ctx.require(0.0 < real_out < 1.0, f"output rescale {real_out:g} is outside (0, 1) (TFLM aborts)")
        out_m, out_s = quantize_multiplier(real_out)
        o = ctx.options
        params = {"input_offset": -zi, "input_multiplier": in_m, "input_shift": in_s, "output_multiplier": out_m,
                  "output_shift": out_s, "output_offset": zo, "exclusive": int(bool(o.get("exclusive", False))),
                  "reverse": int(bool(o.get("reverse", False)))}
        return _split(tuple(inp.shape), _axis(ctx, len(inp.shape))), params

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        (outer, size, inner), params = self._params(ctx)
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_cumsum_params", "p", params).splitlines()),
                          f"    ek_cumsum_s8({ctx.ptr(ctx.op.inputs[0])}, {ctx.ptr(ctx.op.outputs[0])}, {outer}, "
                          f"{size}, {inner}, &p);", "}"])

    def inplace(self, ctx: OpContext) -> bool:
        return True
