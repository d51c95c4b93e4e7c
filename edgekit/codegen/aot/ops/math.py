"""Elementwise math ops with TFLM's int8 / int16 kernels (``ek_math.c``; 8-bit unary ops by ``ek_lut8``).

Unary, int8 by table look-up (TFLM's arithmetic evaluated for all 256 inputs here): ABS, RSQRT, ELU, and
LOGICAL_NOT on bool; int16 ABS and RSQRT in C. Broadcasting binary ops (``ek_binary``): MAXIMUM, MINIMUM,
SQUARED_DIFFERENCE, PRELU, EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, LOGICAL_AND,
LOGICAL_OR; and SELECT_V2 (``ek_select``). Multipliers follow the TFLM kernels' Prepare functions
(``elementwise.cc``, ``elu.cc``, ``squared_difference.cc``, ``prelu_common.cc``, ``comparisons.cc``).
TFLM has no int8 kernel for NEG or EXP (float32 only), so neither is here.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.codegen.aot.ops.activations import INT8_VALUES, LutOp, as_table
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.ops.fixedpoint import inv_sqrt_multiplier_exp
from edgekit.codegen.aot.quant import f32, mbqm, quantize_multiplier, round_half_away

MAX_DIMS = 6
MAX_BROADCAST_RANK = 5  # TFLM's broadcasting kernels extend shapes to at most 5 (some 4) dimensions
EK_TYPES = {"int8": "EK_T_S8", "int16": "EK_T_S16", "int32": "EK_T_S32", "bool": "EK_T_BOOL"}
TABLE_MIN_ELEMENTS = 1024  # below this two 1 KB rescale tables cost more flash than they save time
ELEM_BYTES = {"int8": 1, "uint8": 1, "bool": 1, "int16": 2, "int32": 4, "float32": 4}


def nd_layout(shapes: list[tuple[int, ...]], out_shape: tuple[int, ...]) -> dict[str, object]:
    """The ``ek_nshape`` fields for inputs of ``shapes`` (1 to 3) broadcast to ``out_shape``.

    Size-1 output dimensions are dropped and dimensions contiguous in every input are merged.
    Raises ValueError when a shape does not broadcast to ``out_shape``.

    >>> nd_layout([(1, 4, 4, 8), (8,)], (1, 4, 4, 8))["dims"][:2], nd_layout([(2, 3)], (2, 3))["ndims"]
    ([16, 8], 1)
    """
    rank = len(out_shape)
    strides: list[list[int]] = []
    for shape in shapes:
        if len(shape) > rank:
            raise ValueError(f"shape {list(shape)} does not broadcast to {list(out_shape)}")
        full = (1,) * (rank - len(shape)) + tuple(shape)
        st, acc = [0] * rank, 1
        for d in reversed(range(rank)):
            if full[d] not in (1, out_shape[d]):
                raise ValueError(f"shape {list(shape)} does not broadcast to {list(out_shape)}")
            st[d] = acc if full[d] != 1 else 0
            acc *= full[d]
        strides.append(st)
    while len(strides) < 3:
        strides.append([0] * rank)
    keep = [d for d in range(rank) if out_shape[d] != 1]
    dims = [int(out_shape[d]) for d in keep]
    sts = [[s[d] for d in keep] for s in strides]
    d = len(dims) - 1
    while d > 0:
        if all(s[d - 1] == s[d] * dims[d] for s in sts):
            dims[d - 1] *= dims[d]
            for s in sts:
                s[d - 1] = s[d]
                del s[d]
            del dims[d]
        d -= 1
    if not dims:
        dims, sts = [1], [[0], [0], [0]]
    if len(dims) > MAX_DIMS:
        raise ValueError(f"broadcast needs {len(dims)} loop dimensions; at most {MAX_DIMS} are supported")
    pad = [0] * (MAX_DIMS - len(dims))
    return {"ndims": len(dims), "dims": dims + pad, "stride": "{" + ", ".join(
        "{" + ", ".join(str(v) for v in s + pad) + "}" for s in sts) + "}"}


def _layout(ctx: OpContext, inputs: list[int]) -> dict[str, object]:
    out = ctx.output(0)
    shapes = [tuple(ctx.input(k).shape) for k in inputs]
    ranks = [len(s) for s in shapes] + [len(out.shape)]
    if any(s != tuple(out.shape) for s in shapes):
        ctx.require(max(ranks) <= MAX_BROADCAST_RANK,
                    f"broadcasting {max(ranks)}-D tensors; TFLM broadcasts at most {MAX_BROADCAST_RANK}-D")
    try:
        return nd_layout(shapes, tuple(out.shape))
    except ValueError as exc:
        ctx.fail(str(exc))


# -- unary --------------------------------------------------------------------------------------

def abs_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 ABS (``AbsEvalQuantized``) for every input; rescaled only when the scales differ."""
    value = np.abs(INT8_VALUES - in_zp)
    if f32(in_scale) != f32(out_scale):
        mult, shift = quantize_multiplier(float(np.float32(in_scale) / np.float32(out_scale)))
        value = mbqm(value, mult, shift)
    return as_table(np.clip(value + out_zp, -128, 127))


def rsqrt_multiplier(in_scale: float, out_scale: float) -> tuple[int, int]:
    """TFLM's RSQRT output multiplier: ``1 / double(sqrt(float in_scale) * float out_scale)``."""
    prod = np.float32(np.sqrt(np.float32(in_scale))) * np.float32(out_scale)
    return quantize_multiplier(1.0 / float(prod))


def rsqrt_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 RSQRT (``RsqrtEvalQuantized``) for every input >= the zero point (0 below: TFLM fails there)."""
    mult, shift = rsqrt_multiplier(in_scale, out_scale)
    out = np.zeros(256, dtype=np.int64)
    for k, v in enumerate(INT8_VALUES):
        value = int(v) - in_zp
        if value < 0:
            continue
        if value == 0:
            out[k] = 127
            continue
        inv_m, inv_s = inv_sqrt_multiplier_exp(value, -1)
        data = int(mbqm(np.int64(1), inv_m, inv_s + 20))
        out[k] = np.clip(int(mbqm(np.int64(data), mult, shift - 20)) + out_zp, -128, 127)
    return as_table(out)


def elu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 ELU (``PopulateLookupTable`` in float32: ``x < 0 ? exp(x) - 1 : x``, rounded half away)."""
    inverse = np.float32(1.0) / np.float32(out_scale)
    out = []
    for v in INT8_VALUES:
        x = np.float32(in_scale) * np.float32(int(v) - in_zp)
        y = np.float32(np.float32(math.exp(float(x))) - np.float32(1.0)) if x < 0 else x
        rescaled = np.float32(round_half_away(float(np.float32(y * inverse))))
        out.append(int(np.float32(rescaled + np.float32(out_zp))))
    return as_table(np.clip(np.array(out, dtype=np.int64), -128, 127))


@register
class Abs(LutOp):
    """ABS: int8 by table; int16 (zero points 0, as TFLM requires) in ``ek_abs_s16``."""

    opcodes = ("ABS",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        return abs_table(in_scale, in_zp, out_scale, out_zp)

    def _s16(self, ctx: OpContext) -> tuple[int, int, int]:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(out, "int16", what="output")
        ctx.require(inp.size == out.size, "input and output differ in size")
        (si, zi), (so, zo) = scale_zp(ctx, inp, "input"), scale_zp(ctx, out, "output")
        ctx.require(zi == 0 and zo == 0, "int16 ABS needs zero points 0 (TFLM)")
        if f32(si) == f32(so):
            return 0, 0, 0
        mult, shift = quantize_multiplier(float(np.float32(si) / np.float32(so)))
        ctx.require(shift <= 30, "input scale too large relative to the output scale")
        return 1, mult, shift

    def check(self, ctx: OpContext) -> None:
        if ctx.input(0) is not None and ctx.input(0).dtype == "int16":
            self._s16(ctx)
        else:
            super().check(ctx)

    def emit(self, ctx: OpContext) -> str:
        if ctx.input(0).dtype != "int16":
            return super().emit(ctx)
        rescale, mult, shift = self._s16(ctx)
        src, dst = ctx.ptr(ctx.op.inputs[0], "int16_t"), ctx.ptr(ctx.op.outputs[0], "int16_t")
        return f"ek_abs_s16({src}, {dst}, {ctx.output(0).size}u, {rescale}, {mult}, {shift});"


@register
class Rsqrt(LutOp):
    """RSQRT: int8 by table, int16 (zero points 0) in ``ek_rsqrt_s16``; an input below the zero point fails the
    inference like TFLM (EK_ERR_OP)."""

    opcodes = ("RSQRT",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        return rsqrt_table(in_scale, in_zp, out_scale, out_zp)

    def _s16(self, ctx: OpContext) -> tuple[int, int]:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require_dtype(out, "int16", what="output")
        ctx.require(inp.size == out.size, "input and output differ in size")
        (si, zi), (so, zo) = scale_zp(ctx, inp, "input"), scale_zp(ctx, out, "output")
        ctx.require(zi == 0 and zo == 0, "int16 RSQRT needs zero points 0 (TFLM)")
        mult, shift = rsqrt_multiplier(si, so)
        ctx.require(-11 <= shift <= 30, f"output multiplier 2^{shift} is out of the supported range")
        return mult, shift

    def check(self, ctx: OpContext) -> None:
        if ctx.input(0) is not None and ctx.input(0).dtype == "int16":
            self._s16(ctx)
        else:
            super().check(ctx)

    def emit(self, ctx: OpContext) -> str:
        src = ctx.op.inputs[0]
        if ctx.input(0).dtype == "int16":
            mult, shift = self._s16(ctx)
            return (f"if (ek_rsqrt_s16({ctx.ptr(src, 'int16_t')}, {ctx.ptr(ctx.op.outputs[0], 'int16_t')}, "
                    f"{ctx.output(0).size}u, {mult}, {shift}) != EK_OK) return EK_ERR_OP({ctx.op.index});")
        zp = scale_zp(ctx, ctx.input(0), "input")[1]
        check = (f"if (ek_count_below_s8({ctx.ptr(src)}, {ctx.output(0).size}u, {zp}) != 0u) "
                 f"return EK_ERR_OP({ctx.op.index});")
        return check + "\n" + super().emit(ctx)


@register
class Elu(LutOp):
    """ELU, int8."""

    opcodes = ("ELU",)

    def table(self, ctx, in_scale, in_zp, out_scale, out_zp):
        return elu_table(in_scale, in_zp, out_scale, out_zp)


@register
class LogicalNot(OpHandler):
    """LOGICAL_NOT on bool tensors (a table: 0 -> 1, anything else -> 0)."""

    opcodes = ("LOGICAL_NOT",)

    def check(self, ctx: OpContext) -> None:
        ctx.require_dtype(ctx.input(0), "bool", what="input")
        ctx.require_dtype(ctx.output(0), "bool", what="output")
        ctx.require(ctx.input(0).size == ctx.output(0).size, "input and output differ in size")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        table = np.zeros(256, dtype=np.uint8)
        table[0] = 1
        name = ctx.const_array("logical_not_lut", table, "uint8_t")
        src, dst = ctx.ptr(ctx.op.inputs[0], "uint8_t"), ctx.ptr(ctx.op.outputs[0], "uint8_t")
        return f"ek_lut8({src}, {dst}, {ctx.output(0).size}u, {name});"

    def inplace(self, ctx: OpContext) -> bool:
        return True


# -- binary -------------------------------------------------------------------------------------

COMPARISONS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")


def _smaller_than_one(ctx: OpContext, real: float, what: str) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierSmallerThanOneExp`` (aborts outside (0, 1): refused here)."""
    ctx.require(0.0 < real < 1.0, f"{what} {real:g} is outside (0, 1) (TFLM aborts on this model)")
    return quantize_multiplier(real)


@register
class Binary(OpHandler):
    """MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, PRELU, the comparisons and LOGICAL_AND / LOGICAL_OR."""

    opcodes = ("MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "PRELU", *COMPARISONS, "LOGICAL_AND", "LOGICAL_OR")

    def _params(self, ctx: OpContext) -> dict[str, object]:
        a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
        op = ctx.op.opcode
        ctx.require(a is not None and b is not None, "needs two inputs")
        p: dict[str, object] = {"op": f"EK_BIN_{op.replace('LOGICAL_', '').replace('SQUARED_DIFFERENCE', 'SQDIFF')}"}
        if op in ("LOGICAL_AND", "LOGICAL_OR"):
            for t, what in ((a, "input 1"), (b, "input 2"), (out, "output")):
                ctx.require_dtype(t, "bool", what=what)
        elif op in ("MAXIMUM", "MINIMUM"):
            ctx.require_dtype(a, "int8", "int16", "int32", what="input 1")
            ctx.require(b.dtype == a.dtype and out.dtype == a.dtype, "inputs and output must have one dtype")
        elif op in COMPARISONS:  # TFLM: int8 (rescaled), int32, and bool for (NOT_)EQUAL; no int16
            ctx.require_dtype(a, "int8", "int32", *(("bool",) if op in ("EQUAL", "NOT_EQUAL") else ()),
                              what="input 1")
            ctx.require(b.dtype == a.dtype, "the two inputs must have one dtype")
            ctx.require_dtype(out, "bool", what="output")
            if a.dtype == "int8":
                (s1, z1), (s2, z2) = scale_zp(ctx, a, "input 1"), scale_zp(ctx, b, "input 2")
                m1, sh1 = _smaller_than_one(ctx, f32(s1), "input 1 scale")
                m2, sh2 = _smaller_than_one(ctx, f32(s2), "input 2 scale")
                p.update(scaled=1, left_shift=8, in1_offset=-z1, in2_offset=-z2, in1_mult=m1, in1_shift=sh1,
                         in2_mult=m2, in2_shift=sh2)
        elif op == "SQUARED_DIFFERENCE":
            ctx.require_dtype(a, "int8", "int16", what="input 1")
            ctx.require(b.dtype == a.dtype and out.dtype == a.dtype, "inputs and output must have one dtype")
            p.update(self._sqdiff(ctx, a, b, out))
        else:  # PRELU
            ctx.require_dtype(a, "int8", "int16", what="input")
            ctx.require_dtype(b, "int8", what="alpha")
            ctx.require(out.dtype == a.dtype, "input and output must have one dtype")
            (si, zi), (sa, za), (so, zo) = (scale_zp(ctx, a, "input"), scale_zp(ctx, b, "alpha"),
                                            scale_zp(ctx, out, "output"))
            m1, sh1 = quantize_multiplier(f32(si) / f32(so))
            m2, sh2 = quantize_multiplier(f32(si) * f32(sa) / f32(so))
            ctx.require(max(sh1, sh2) <= 30, "input scale too large relative to the output scale")
            info = np.iinfo(a.dtype)
            p.update(in1_offset=-zi, in2_offset=-za, out_offset=zo, in1_mult=m1, in1_shift=sh1, in2_mult=m2,
                     in2_shift=sh2, act_min=int(info.min), act_max=int(info.max))
        p.update(in1_type=EK_TYPES[a.dtype], in2_type=EK_TYPES[b.dtype], out_type=EK_TYPES[out.dtype])
        return p

    @staticmethod
    def _sqdiff(ctx: OpContext, a, b, out) -> dict[str, object]:
        (s1, z1), (s2, z2), (so, zo) = (scale_zp(ctx, a, "input 1"), scale_zp(ctx, b, "input 2"),
                                        scale_zp(ctx, out, "output"))
        left_shift = 7 if a.dtype == "int8" else 0
        if a.dtype == "int16":
            ctx.require(z1 == 0 and z2 == 0 and zo == 0, "int16 SQUARED_DIFFERENCE needs zero points 0 (TFLM)")
        twice_max = 2.0 * max(f32(s1), f32(s2))
        m1, sh1 = _smaller_than_one(ctx, f32(s1) / twice_max, "input 1 rescale")
        m2, sh2 = _smaller_than_one(ctx, f32(s2) / twice_max, "input 2 rescale")
        real_out = twice_max * twice_max / float(np.float32((1 << (2 * left_shift)) * np.float32(so)))
        mo, sho = quantize_multiplier(real_out)
        ctx.require(sho <= 30, f"output scale {so:g} too small for the input scales")
        info = np.iinfo(a.dtype)
        return {"left_shift": left_shift, "in1_offset": -z1, "in2_offset": -z2, "out_offset": zo, "in1_mult": m1,
                "in1_shift": sh1, "in2_mult": m2, "in2_shift": sh2, "out_mult": mo, "out_shift": sho,
                "act_min": int(info.min), "act_max": int(info.max)}

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)
        _layout(ctx, [0, 1])

    @staticmethod
    def _tables(ctx: OpContext, params: dict[str, object]) -> None:
        """Rescale tables for int8 SQUARED_DIFFERENCE / comparison inputs of large ops (ek_math.h)."""
        if params.get("left_shift") is None or ctx.input(0).dtype != "int8" or ctx.output(0).size < TABLE_MIN_ELEMENTS:
            return
        v = np.arange(-128, 128, dtype=np.int64)
        for k in (1, 2):
            x = (v + int(params[f"in{k}_offset"])) << int(params["left_shift"])
            table = mbqm(x, int(params[f"in{k}_mult"]), int(params[f"in{k}_shift"])).astype(np.int32)
            params[f"table{k}"] = ctx.const_array(f"{ctx.ident}_in{k}_rescale", table, "int32_t")

    def emit(self, ctx: OpContext) -> str:
        params, shape = self._params(ctx), _layout(ctx, [0, 1])
        self._tables(ctx, params)
        a, b, o = ctx.op.inputs[0], ctx.op.inputs[1], ctx.op.outputs[0]
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_nshape", "shape", shape).splitlines()),
                          *("    " + ln for ln in c_struct("ek_binary_params", "p", params).splitlines()),
                          f"    ek_binary({ctx.ptr(a, 'void')}, {ctx.ptr(b, 'void')}, {ctx.ptr(o, 'void')}, "
                          "&shape, &p);", "}"])


@register
class SelectV2(OpHandler):
    """SELECT_V2: bool condition, int8 / int16 values (as TFLM), broadcasting. (TFLM registers no SELECT.)"""

    opcodes = ("SELECT_V2",)

    def check(self, ctx: OpContext) -> None:
        cond, x, y, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
        ctx.require_dtype(cond, "bool", what="condition")
        ctx.require_dtype(x, "int8", "int16", what="x")  # TFLM: int8, int16, float32
        ctx.require(y is not None and y.dtype == x.dtype and out.dtype == x.dtype,
                    "x, y and the output must have one dtype")
        _layout(ctx, [0, 1, 2])

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        shape = _layout(ctx, [0, 1, 2])
        c, x, y = ctx.op.inputs[:3]
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_nshape", "shape", shape).splitlines()),
                          f"    ek_select({ctx.ptr(c, 'uint8_t')}, {ctx.ptr(x, 'void')}, {ctx.ptr(y, 'void')}, "
                          f"{ctx.ptr(ctx.op.outputs[0], 'void')}, &shape, {ELEM_BYTES[ctx.output(0).dtype]});", "}"])
