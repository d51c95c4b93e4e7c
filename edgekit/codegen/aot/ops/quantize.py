"""QUANTIZE and DEQUANTIZE (``ek_quantize.c``; 8-bit -> 8-bit requantization uses ``ek_lut8``).

Supported like TFLM: float32 -> int8/int16; int8 -> int8, int8 <-> uint8 (table look-up);
int16 -> int8, int8 -> int16, int16 -> int16, int8/int16 -> int32, int32 -> int8/int16;
DEQUANTIZE int8/uint8/int16 -> float32.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.activations import as_table
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register, scale_zp
from edgekit.codegen.aot.quant import f32, mbqm, quantize_multiplier

_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_SUFFIX = {"int8": "s8", "uint8": "u8", "int16": "s16", "int32": "s32", "float32": "f32"}
_CTYPE = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}


def c_float(x: float) -> str:
    """A C float literal that parses back to exactly float32(x)."""
    return f"{float(np.float32(x)):.9e}f"


def requantize_multiplier(in_scale: float, out_scale: float) -> tuple[int, int]:
    """TFLM's QUANTIZE ``effective_scale = double(in_scale) / double(out_scale)``, quantized."""
    return quantize_multiplier(f32(in_scale) / f32(out_scale))


def requantize_table(in_dtype: str, in_scale: float, in_zp: int, out_dtype: str, out_scale: float,
                     out_zp: int) -> np.ndarray:
    """TFLM ``reference_ops::Requantize`` between 8-bit types for every input byte."""
    lo, hi = _RANGES[in_dtype]
    values = np.arange(lo, hi + 1, dtype=np.int64)
    mult, shift = requantize_multiplier(in_scale, out_scale)
    out = np.clip(mbqm(values - in_zp, mult, shift) + out_zp, *_RANGES[out_dtype])
    return as_table(out, values)


@register
class Quantize(OpHandler):
    """QUANTIZE."""

    opcodes = ("QUANTIZE",)

    def _kind(self, ctx: OpContext) -> str:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require(inp is not None and inp.size == out.size, "input and output differ in size")
        pair = (inp.dtype, out.dtype)
        scale_zp(ctx, out, "output")
        if pair in (("float32", "int8"), ("float32", "int16")):
            return "float"
        scale_zp(ctx, inp, "input")
        if pair in (("int8", "int8"), ("int8", "uint8"), ("uint8", "int8")):
            return "lut"
        if pair in (("int16", "int8"), ("int8", "int16"), ("int16", "int16"), ("int8", "int32"), ("int16", "int32"),
                    ("int32", "int8"), ("int32", "int16")):
            shift = requantize_multiplier(scale_zp(ctx, inp, "input")[0], scale_zp(ctx, out, "output")[0])[1]
            ctx.require(shift <= 30, "input scale is too large relative to the output scale")
            return "int"
        ctx.fail(f"QUANTIZE from {inp.dtype} to {out.dtype} is not supported")

    def check(self, ctx: OpContext) -> None:
        self._kind(ctx)

    def emit(self, ctx: OpContext) -> str:
        kind = self._kind(ctx)
        inp, out = ctx.input(0), ctx.output(0)
        src, dst = ctx.op.inputs[0], ctx.op.outputs[0]
        out_scale, out_zp = scale_zp(ctx, out, "output")
        n = out.size
        if kind == "float":
            return (f"ek_quantize_f32_{_SUFFIX[out.dtype]}({ctx.ptr(src, 'float')}, "
                    f"{ctx.ptr(dst, _CTYPE[out.dtype])}, {n}u, {c_float(out_scale)}, {out_zp});")
        in_scale, in_zp = scale_zp(ctx, inp, "input")
        if kind == "lut":
            table = requantize_table(inp.dtype, in_scale, in_zp, out.dtype, out_scale, out_zp)
            name = ctx.const_array(f"{ctx.ident}_requantize_lut", table, "uint8_t")
            return f"ek_lut8({ctx.ptr(src, 'uint8_t')}, {ctx.ptr(dst, 'uint8_t')}, {n}u, {name});"
        mult, shift = requantize_multiplier(in_scale, out_scale)
        fn = f"ek_requantize_{_SUFFIX[inp.dtype]}_{_SUFFIX[out.dtype]}"
        return (f"{fn}({ctx.ptr(src, _CTYPE[inp.dtype])}, {ctx.ptr(dst, _CTYPE[out.dtype])}, {n}u, "
                f"{mult}, {shift}, {in_zp}, {out_zp});")

    def inplace(self, ctx: OpContext) -> bool:
        inp, out = ctx.input(0), ctx.output(0)
        return inp.dtype in ("int8", "uint8") and out.dtype in ("int8", "uint8")


@register
class Dequantize(OpHandler):
    """DEQUANTIZE to float32."""

    opcodes = ("DEQUANTIZE",)

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(inp, "int8", "uint8", "int16", what="input")
        ctx.require_dtype(out, "float32", what="output")
        ctx.require(inp.size == out.size, "input and output differ in size")
        scale_zp(ctx, inp, "input")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        inp = ctx.input(0)
        scale, zp = scale_zp(ctx, inp, "input")
        return (f"ek_dequantize_{_SUFFIX[inp.dtype]}_f32({ctx.ptr(ctx.op.inputs[0], _CTYPE[inp.dtype])}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')}, {inp.size}u, {c_float(scale)}, {zp});")
