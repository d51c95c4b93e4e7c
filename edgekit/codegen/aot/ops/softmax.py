"""SOFTMAX with int8 input and int8 (or int16) output, bit-exact with TFLM's reference kernel.

TFLM rescales ``x - max(row)`` by ``beta * input_scale`` into gemmlowp Q5, takes the fixed-point
``exp``, sums in Q12, and scales each exp by a Newton-Raphson reciprocal of the sum. Since
``x - max`` of int8 values lies in [-255, 0], the generator tabulates the exp for all 256
differences (``softmax_exp_table``, 1 KB of flash); the device does the sum, one reciprocal per
row and the output scaling (``ek_softmax_s8`` in ``ek_softmax.c``).
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops import fixedpoint as fp
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register, scale_zp
from edgekit.codegen.aot.quant import f32, quantize_multiplier, rdbpot, srdhm

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


def softmax_input_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """``(input_multiplier, input_left_shift, diff_min)`` as TFLM's ``CalculateSoftmaxParams`` (int8).

    Raises ValueError where TFLM's ``QuantizeMultiplierGreaterThanOne`` check would abort
    (``beta * input_scale`` below 2**-26).
    """
    real = min(f32(beta) * f32(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ValueError(f"beta * input_scale = {real / (1 << 26):g} is too small for TFLM's int8 softmax")
    multiplier, shift = quantize_multiplier(real)
    radius = np.floor(((1 << SCALED_DIFF_INTEGER_BITS) - 1) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
                      / float(1 << shift))
    return multiplier, shift, -int(radius)


def softmax_exp_table(beta: float, input_scale: float) -> np.ndarray:
    """int32[256]: entry k is TFLM's Q0 ``exp`` of the input difference -k (0 where TFLM skips it)."""
    multiplier, shift, diff_min = softmax_input_params(beta, input_scale)
    diff = -np.arange(256, dtype=np.int64)
    used = diff >= diff_min
    table = np.zeros(256, dtype=np.int64)
    rescaled = srdhm(diff[used] << shift, multiplier)  # MultiplyByQuantizedMultiplierGreaterThanOne
    table[used] = fp.exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
    return table.astype(np.int32)


def softmax_reference(x: np.ndarray, table: np.ndarray, out_bits: int = 8) -> np.ndarray:
    """numpy model of the device kernel (rows along the last axis), for tests."""
    x = np.asarray(x, dtype=np.int64)
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    for r, row in enumerate(rows):
        e = np.asarray(table, dtype=np.int64)[row.max() - row]
        total = int(rdbpot(e, ACCUMULATION_INTEGER_BITS).sum())
        headroom_plus_one = 32 - total.bit_length()
        bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one
        shifted_sum_minus_one = int(fp.wrap32((total << headroom_plus_one) - (1 << 31)))
        scale = fp.one_over_one_plus_x_for_x_in_0_1(np.array([shifted_sum_minus_one]))[0]
        exponent = min(bits_over_unit + 31 - out_bits, 31)
        low = -(1 << (out_bits - 1))
        out[r] = np.clip(rdbpot(srdhm(e, int(scale)), exponent) + low, low, -low - 1)
    return out.reshape(x.shape)


@register
class Softmax(OpHandler):
    """SOFTMAX over the last dimension: int8 -> int8 (scale 1/256, zp -128), int8 -> int16, int16 -> int16
    (``ek_softmax_s16``, TFLM's LUT kernel)."""

    opcodes = ("SOFTMAX",)

    def _params16(self, ctx: OpContext) -> tuple[int, int]:
        """int16 -> int16 (TFLM's SoftmaxInt16): (input multiplier, shift) or ``ctx.fail``."""
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(out, "int16", what="output")
        ctx.require(len(inp.shape) >= 1 and inp.shape == out.shape,
                    f"input {list(inp.shape)} and output {list(out.shape)} differ")
        (in_scale, in_zp), (out_scale, out_zp) = scale_zp(ctx, inp, "input"), scale_zp(ctx, out, "output")
        ctx.require(in_zp == 0 and out_zp == 0, "int16 SOFTMAX needs zero points 0 (TFLM)")
        ctx.require(abs(f32(out_scale) - 1 / 32768) <= 0.001 / 32768, f"output scale {out_scale:g} is not 2^-15")
        mult, shift = quantize_multiplier(f32(in_scale) * f32(float(ctx.options.get("beta", 1.0))) / (10.0 / 65535.0))
        ctx.require(shift <= 30, "input scale * beta too large for TFLM's int16 SOFTMAX")
        return mult, shift

    def _params(self, ctx: OpContext) -> tuple[np.ndarray, int]:
        """(exp table, output bits) or ``ctx.fail``."""
        inp, out = ctx.input(0), ctx.output(0)
        if inp is not None and inp.dtype == "int16":
            self._params16(ctx)
            return np.zeros(0, dtype=np.int32), 16
        ctx.require_dtype(inp, "int8", what="input")
        ctx.require_dtype(out, "int8", "int16", what="output")
        ctx.require(len(inp.shape) >= 1 and inp.shape == out.shape,
                    f"input {list(inp.shape)} and output {list(out.shape)} differ")
        in_scale, _ = scale_zp(ctx, inp, "input")
        out_scale, out_zp = scale_zp(ctx, out, "output")
        if out.dtype == "int8":
            ctx.require(out_zp == -128 and np.float32(out_scale) == np.float32(1 / 256),
                        f"int8 output quantization ({out_scale:g}, {out_zp}) is not TFLM's (1/256, -128)")
        else:
            ctx.require(out_zp == -32768 and abs(out_scale - 1 / 65536) <= 0.001 / 65536,
                        f"int16 output quantization ({out_scale:g}, {out_zp}) is not TFLM's (1/65536, -32768)")
        try:
            table = softmax_exp_table(float(ctx.options.get("beta", 1.0)), in_scale)
        except ValueError as exc:
            ctx.fail(str(exc))
        return table, 8 if out.dtype == "int8" else 16

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        if ctx.input(0).dtype == "int16":
            return self._emit16(ctx)
        table, out_bits = self._params(ctx)
        name = ctx.const_array(f"{ctx.ident}_softmax_exp", table, "int32_t")
        inp = ctx.input(0)
        depth = int(inp.shape[-1])
        outer = inp.size // max(depth, 1)
        src = ctx.ptr(ctx.op.inputs[0], "int8_t")
        if out_bits == 8:
            return f"ek_softmax_s8({src}, {ctx.ptr(ctx.op.outputs[0], 'int8_t')}, {outer}, {depth}, {name});"
        return f"ek_softmax_s8_s16({src}, {ctx.ptr(ctx.op.outputs[0], 'int16_t')}, {outer}, {depth}, {name});"

    def _emit16(self, ctx: OpContext) -> str:
        from edgekit.codegen.aot.ops.lut16 import softmax16_luts

        mult, shift = self._params16(ctx)
        exp_lut, recip_lut = softmax16_luts()
        e = ctx.const_array("softmax16_exp_lut", exp_lut, "int16_t")
        r = ctx.const_array("softmax16_recip_lut", recip_lut, "int16_t")
        depth = int(ctx.input(0).shape[-1])
        outer = ctx.input(0).size // max(depth, 1)
        return (f"ek_softmax_s16({ctx.ptr(ctx.op.inputs[0], 'int16_t')}, {ctx.ptr(ctx.op.outputs[0], 'int16_t')}, "
                f"{outer}, {depth}, {mult}, {shift}, {e}, {r});")

    def inplace(self, ctx: OpContext) -> bool:
        return ctx.output(0).dtype == "int8" and ctx.input(0).dtype == "int8"
