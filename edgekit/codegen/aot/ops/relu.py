"""RELU and RELU6, int8 and int16 (TFLM semantics: RELU requantizes, RELU6 clamps in the input's domain)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register, scale_zp
from edgekit.codegen.aot.quant import quantize_multiplier, round_half_away


def _relu_params(ctx: OpContext) -> dict[str, int]:
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require_dtype(inp, "int8", "int16", what="input")
    ctx.require_dtype(out, inp.dtype, what="output")
    ctx.require(inp.shape == out.shape, f"input {inp.shape} and output {out.shape} differ")
    in_scale, in_zp = scale_zp(ctx, inp, "input")
    out_scale, out_zp = scale_zp(ctx, out, "output")
    lo, hi = (-32768, 32767) if inp.dtype == "int16" else (-128, 127)
    if inp.dtype == "int16" and ctx.op.opcode == "RELU":
        ctx.require(in_zp == 0 and out_zp == 0, "int16 RELU needs zero points 0 (TFLM)")
    if ctx.op.opcode == "RELU6":
        six = round_half_away(float(np.float32(6.0) / np.float32(in_scale))) + in_zp
        return {"lower": in_zp, "upper": max(lo, min(hi, six))}
    # ReluPrepare: multiplier = double(float(in_scale / out_scale)); min = zp + roundf(0 / scale)
    mult, shift = quantize_multiplier(float(np.float32(in_scale) / np.float32(out_scale)))
    ctx.require(-31 <= shift <= 30, "requantization shift out of range")
    return {"in_zp": in_zp, "out_zp": out_zp, "mult": mult, "shift": shift,
            "act_min": max(lo, out_zp), "act_max": hi}


@register
class Relu(OpHandler):
    """RELU / RELU6 on int8 and int16 tensors (in place allowed)."""

    opcodes = ("RELU", "RELU6")

    def check(self, ctx: OpContext) -> None:
        _relu_params(ctx)

    def inplace(self, ctx: OpContext) -> bool:
        return True

    def emit(self, ctx: OpContext) -> str:
        p = _relu_params(ctx)
        n = int(np.prod(ctx.output(0).shape, dtype=np.int64))
        ct, sfx = ("int16_t", "s16") if ctx.input(0).dtype == "int16" else ("int8_t", "s8")
        src, dst = ctx.ptr(ctx.op.inputs[0], ct), ctx.ptr(ctx.op.outputs[0], ct)
        if ctx.op.opcode == "RELU6":
            return f"ek_clamp_{sfx}({src}, {dst}, {n}u, {p['lower']}, {p['upper']});"
        return (f"ek_relu_{sfx}({src}, {dst}, {n}u, {p['in_zp']}, {p['out_zp']}, {p['mult']}, {p['shift']}, "
                f"{p['act_min']}, {p['act_max']});")
