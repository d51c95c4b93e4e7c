"""Elementwise int8 activations by table look-up: LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU.

Each of these maps one int8 input byte to one int8 output byte, so the generator evaluates TFLM's
exact integer algorithm for all 256 inputs (numpy models of the arithmetic in ``fixedpoint``) and
the device only does a table look-up (``ek_lut8``, 256 bytes of flash per operator). Table
entries are indexed by the input byte (``(uint8_t)x``). (RELU and RELU6 are in ``relu.py``.)
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.codegen.aot.ops import fixedpoint as fp
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register, scale_zp
from edgekit.codegen.aot.quant import f32, mbqm, quantize_multiplier, rdbpot, round_half_away

INT8_VALUES = np.arange(-128, 128, dtype=np.int64)


def as_table(values: np.ndarray, inputs: np.ndarray = INT8_VALUES) -> np.ndarray:
    """Order per-input results (for ``inputs``, int8 or uint8 values) by input byte, as uint8."""
    table = np.zeros(256, dtype=np.uint8)
    table[np.asarray(inputs, dtype=np.int64) & 0xFF] = np.asarray(values, dtype=np.int64) & 0xFF
    return table


def _frexp_multiplier(real: float) -> tuple[int, int]:
    """The multiplier/shift TFLM's LOGISTIC/TANH prepare computes: frexp + round, no renormalisation."""
    q, shift = math.frexp(real)
    return int(fp.wrap32(round_half_away(q * (1 << 31)))), shift


def _input_radius(integer_bits: int, left_shift: int) -> int:
    """TFLite ``CalculateInputRadius(integer_bits, left_shift, 31)``.

    For input scales below 2**-28 ``left_shift`` is negative and TFLM shifts by a negative count
    (undefined behaviour: the x86 host build gets radius 0, a step function; Arm builds differ).
    We use the mathematical value, 2**-left_shift, so such inputs give sigmoid/tanh near 0.
    """
    return math.floor(((1 << integer_bits) - 1) * 2.0 ** (31 - integer_bits) * 2.0 ** -left_shift)


def _q4_sigmoid_like(scale: float, zero_point: int, func, out_shift: int, out_offset: int) -> np.ndarray:
    """Shared body of TFLM's int8 LOGISTIC and TANH (input rescaled to Q4, gemmlowp function, Q0 out)."""
    mult, shift = _frexp_multiplier(f32(scale) * float(1 << 27))
    radius = _input_radius(4, shift)
    x = INT8_VALUES - zero_point
    out = np.where(x <= -radius, -128, 127).astype(np.int64)
    inside = (x > -radius) & (x < radius)
    if inside.any():
        q4 = mbqm(x[inside], mult, shift)
        out[inside] = np.clip(rdbpot(func(q4, 4), out_shift) + out_offset, -128, 127)
    return out


def logistic_table(scale: float, zero_point: int) -> np.ndarray:
    """TFLM int8 LOGISTIC for every input (output quantization is fixed at 1/256, -128)."""
    return as_table(_q4_sigmoid_like(scale, zero_point, fp.logistic, 23, -128))


def tanh_table(scale: float, zero_point: int) -> np.ndarray:
    """TFLM int8 TANH for every input (output quantization is fixed at 1/128, 0)."""
    return as_table(_q4_sigmoid_like(scale, zero_point, fp.tanh, 24, 0))


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier then TFLite's ``DownScaleInt32ToInt16Multiplier``."""
    m32, exponent = quantize_multiplier(real)
    m16 = 32767 if m32 >= (1 << 31) - 1 - (1 << 15) else (m32 + (1 << 15)) >> 16
    return m16, exponent


def hard_swish_params(in_scale: float, out_scale: float) -> tuple[int, int, int, int]:
    """(output_mult16, output_exponent, reluish_mult16, reluish_exponent) as TFLM's HardSwishPrepare.

    Ratios of the float32 scales in double precision, which is what the PyPI tflite-micro build
    matches (measured; a float32 division differs in rare cases).
    """
    hires = f32(1.0 / 128.0) * f32(in_scale)
    out_m, out_e = _int16_multiplier(hires / f32(out_scale))
    relu_m, relu_e = _int16_multiplier(hires / f32(3.0 / 32768.0))
    return out_m, out_e, relu_m, relu_e


def hard_swish_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 HARD_SWISH (int16 fixed point, ``reference_ops::HardSwish``) for every input."""
    out_m, out_e, relu_m, relu_e = hard_swish_params(in_scale, out_scale)
    value = fp.wrap16(INT8_VALUES - in_zp)
    hires = fp.wrap16(value * 128)
    preshift = fp.srdhm16(hires, out_m)
    reluish = hires
    if relu_e > 0:
        reluish = fp.sat_shl16(reluish, relu_e - 1)
    reluish = fp.srdhm16(reluish, relu_m)
    if relu_e > 0:
        reluish = fp.sat_shl16(reluish, 1)
    if relu_e < 0:
        reluish = fp.rdbpot16(reluish, -relu_e)
    reluish = fp.wrap16((reluish + (1 << 15)) >> 1)
    out = fp.rdbpot16(fp.sdhm16(reluish, preshift), -out_e)
    out = fp.wrap16(out + out_zp)
    return as_table(np.clip(out, -128, 127))


def leaky_relu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int, alpha: float) -> np.ndarray:
    """TFLM int8 LEAKY_RELU (``reference_ops::QuantizeLeakyRelu``) for every input.

    The multipliers are computed from the float32 scales in double precision: TFLM's source
    writes the products in float, but the PyPI tflite-micro build matches double (measured:
    with float, alpha=-0.5 cases differ by one step).
    """
    alpha_m, alpha_s = quantize_multiplier(f32(in_scale) * f32(alpha) / f32(out_scale))
    id_m, id_s = quantize_multiplier(f32(in_scale) / f32(out_scale))
    x = INT8_VALUES - in_zp
    pos = out_zp + mbqm(np.maximum(x, 0), id_m, id_s)
    neg = mbqm(np.minimum(x, 0), abs(alpha_m), alpha_s)
    neg = out_zp + (-neg if alpha_m < 0 else neg)
    return as_table(np.clip(np.where(x >= 0, pos, neg), -128, 127))


class LutOp(OpHandler):
    """Base of int8 -> int8 elementwise ops computed as ``ek_lut8`` with a generated table."""

    def table(self, ctx: OpContext, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
        """The 256-entry table (uint8, indexed by the input byte) or ``ctx.fail``."""
        raise NotImplementedError

    def _table(self, ctx: OpContext) -> np.ndarray:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(inp, "int8", what="input")
        ctx.require_dtype(out, "int8", what="output")
        ctx.require(inp.size == out.size, f"input {list(inp.shape)} and output {list(out.shape)} differ in size")
        return self.table(ctx, *scale_zp(ctx, inp, "input"), *scale_zp(ctx, out, "output"))

    def check(self, ctx: OpContext) -> None:
        self._table(ctx)

    def emit(self, ctx: OpContext) -> str:
        name = ctx.const_array(f"{ctx.ident}_{ctx.op.opcode.lower()}_lut", self._table(ctx), "uint8_t")
        src, dst = ctx.ptr(ctx.op.inputs[0], "uint8_t"), ctx.ptr(ctx.op.outputs[0], "uint8_t")
        return f"ek_lut8({src}, {dst}, {ctx.output(0).size}u, {name});"

    def inplace(self, ctx: OpContext) -> bool:
        return True


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's ``CheckedLog2`` in float32: (whether x is a power of two within 1e-3 in log2, the rounded log2)."""
    lg = np.float32(np.log(np.float32(x))) * np.float32(1.0 / np.log(np.float32(2.0)))
    rounded = np.float32(np.round(lg))
    return bool(abs(np.float32(lg - rounded)) < np.float32(1e-3)), int(rounded)


def act16_params(ctx: OpContext, tanh: bool) -> tuple[int, int]:
    """(multiplier, right shift) rescaling an int16 LOGISTIC / TANH input to steps of 1 / (3 * 4096) as TFLM's
    prepare computes them (multiplier 0: a power-of-two input scale, the input times 3 << shift); checks zero points
    0 and the output scale 2^-15 TFLM requires."""
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require_dtype(out, "int16", what="output")
    ctx.require(inp.size == out.size, f"input {list(inp.shape)} and output {list(out.shape)} differ in size")
    (in_scale, in_zp), (out_scale, out_zp) = scale_zp(ctx, inp, "input"), scale_zp(ctx, out, "output")
    ctx.require(in_zp == 0 and out_zp == 0, "int16 LOGISTIC / TANH need zero points 0 (TFLM)")
    ok, lg = checked_log2(out_scale)
    ctx.require(ok and lg == -15, f"output scale {out_scale:g} is not 2^-15 (TFLM requires it)")
    pot, lg = checked_log2(in_scale)
    shift = 12 + lg
    if pot and (shift == 0 or (tanh and shift == 1)):
        return 0, shift
    mult, shift = float(f32(in_scale)) * 4096.0 * 3.0, 0
    while mult <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        mult *= 2.0
    ctx.require(int(mult) <= 32767, f"input scale {in_scale:g} too large for TFLM's int16 {ctx.op.opcode}")
    return int(mult), shift


class _Act16(LutOp):
    """LOGISTIC / TANH: int8 by table, int16 by ``ek_sigmoid_s16`` / ``ek_tanh_s16`` (``ek_lstm.c``)."""

    def _is16(self, ctx: OpContext) -> bool:
        return ctx.input(0) is not None and ctx.input(0).dtype == "int16"

    def check(self, ctx: OpContext) -> None:
        if self._is16(ctx):
            act16_params(ctx, ctx.op.opcode == "TANH")
        else:
            super().check(ctx)

    def emit(self, ctx: OpContext) -> str:
        if not self._is16(ctx):
            return super().emit(ctx)
        mult, shift = act16_params(ctx, ctx.op.opcode == "TANH")
        src, dst = ctx.ptr(ctx.op.inputs[0], "int16_t"), ctx.ptr(ctx.op.outputs[0], "int16_t")
        fn = "ek_tanh_s16" if ctx.op.opcode == "TANH" else "ek_sigmoid_s16"
        return f"{fn}({mult}, {shift}, {src}, {dst}, {ctx.output(0).size});"


@register
class Logistic(_Act16):
    """LOGISTIC (sigmoid), int8; TFLM requires output zero point -128 (scale 1/256 is assumed)."""

    opcodes = ("LOGISTIC",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        ctx.require(out_zp == -128, f"output zero point is {out_zp}; TFLM's int8 LOGISTIC requires -128")
        return logistic_table(in_scale, in_zp)


@register
class Tanh(_Act16):
    """TANH, int8 (TFLM assumes output scale 1/128, zero point 0)."""

    opcodes = ("TANH",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        return tanh_table(in_scale, in_zp)


@register
class HardSwish(LutOp):
    """HARD_SWISH, int8."""

    opcodes = ("HARD_SWISH",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        ctx.require(hard_swish_params(in_scale, out_scale)[1] <= 0,
                    "output scale is smaller than input scale / 128 (TFLM rejects this HARD_SWISH)")
        return hard_swish_table(in_scale, in_zp, out_scale, out_zp)


@register
class LeakyRelu(LutOp):
    """LEAKY_RELU, int8 (by table) and int16 (``ek_leaky_relu_s16``)."""

    opcodes = ("LEAKY_RELU",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        return leaky_relu_table(in_scale, in_zp, out_scale, out_zp, float(ctx.options.get("alpha", 0.2)))

    def _is16(self, ctx: OpContext) -> bool:
        return ctx.input(0) is not None and ctx.input(0).dtype == "int16"

    def _params16(self, ctx: OpContext) -> tuple[int, ...]:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(out, "int16", what="output")
        ctx.require(inp.size == out.size, f"input {list(inp.shape)} and output {list(out.shape)} differ in size")
        (in_scale, in_zp), (out_scale, out_zp) = scale_zp(ctx, inp, "input"), scale_zp(ctx, out, "output")
        alpha = float(ctx.options.get("alpha", 0.2))
        alpha_m, alpha_s = quantize_multiplier(f32(in_scale) * f32(alpha) / f32(out_scale))
        id_m, id_s = quantize_multiplier(f32(in_scale) / f32(out_scale))
        ctx.require(max(alpha_s, id_s) <= 30, "input scale too large relative to the output scale")
        return in_zp, out_zp, id_m, id_s, abs(alpha_m), alpha_s, int(alpha_m < 0)

    def check(self, ctx: OpContext) -> None:
        if self._is16(ctx):
            self._params16(ctx)
        else:
            super().check(ctx)

    def emit(self, ctx: OpContext) -> str:
        if not self._is16(ctx):
            return super().emit(ctx)
        args = ", ".join(str(v) for v in self._params16(ctx))
        src, dst = ctx.ptr(ctx.op.inputs[0], "int16_t"), ctx.ptr(ctx.op.outputs[0], "int16_t")
        return f"ek_leaky_relu_s16({src}, {dst}, {ctx.output(0).size}u, {args});"
