"""ADD, SUB and MUL on int8 tensors with broadcasting and fused activation (``ek_elementwise.c``); also on int16
(``ek_int16.c``).

Multipliers follow TFLM's ``CalculateOpDataAdd`` / ``CalculateOpDataSub`` /
``CalculateOpDataMul``; the broadcast is described to the kernel as merged output dimensions
with per-input element strides (0 where an input repeats).
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, fused_range, register, scale_zp
from edgekit.codegen.aot.ops.int_arith import check_int32, emit_int32, is_int32
from edgekit.codegen.aot.quant import f32, mbqm, quantize_multiplier

MAX_DIMS = 6
ADD_LEFT_SHIFT = 20
ADD_LEFT_SHIFT_16 = 15
ADD_TABLE_MIN_ELEMENTS = 1024  # below this the two 1 KB input tables cost more flash than they save time


def broadcast_layout(shape1: tuple[int, ...], shape2: tuple[int, ...],
                     out_shape: tuple[int, ...]) -> tuple[list[int], list[int], list[int]]:
    """``(dims, strides1, strides2)`` walking ``out_shape`` in order, size-1 and contiguous dims merged.

    Raises ValueError when the input shapes do not broadcast to ``out_shape``.

    >>> broadcast_layout((1, 4, 4, 8), (8,), (1, 4, 4, 8))
    ([16, 8], [8, 1], [0, 1])
    """
    rank = len(out_shape)
    if len(shape1) > rank or len(shape2) > rank:
        raise ValueError(f"shapes {list(shape1)} and {list(shape2)} do not broadcast to {list(out_shape)}")
    s1 = (1,) * (rank - len(shape1)) + tuple(shape1)
    s2 = (1,) * (rank - len(shape2)) + tuple(shape2)

    def strides(shape: tuple[int, ...]) -> list[int]:
        st, acc = [0] * rank, 1
        for d in reversed(range(rank)):
            if shape[d] not in (1, out_shape[d]):
                raise ValueError(f"shapes {list(shape1)} and {list(shape2)} do not broadcast to {list(out_shape)}")
            st[d] = acc if shape[d] != 1 else 0
            acc *= shape[d]
        return st

    st1, st2 = strides(s1), strides(s2)
    keep = [d for d in range(rank) if out_shape[d] != 1]
    dims = [int(out_shape[d]) for d in keep]
    st1 = [st1[d] for d in keep]
    st2 = [st2[d] for d in keep]
    d = len(dims) - 1
    while d > 0:
        if st1[d - 1] == st1[d] * dims[d] and st2[d - 1] == st2[d] * dims[d]:
            dims[d - 1] *= dims[d]
            st1[d - 1], st2[d - 1] = st1[d], st2[d]
            del dims[d], st1[d], st2[d]
        d -= 1
    if not dims:
        return [1], [0], [0]
    return dims, st1, st2


def add_params(s1: float, s2: float, so: float, left_shift: int = ADD_LEFT_SHIFT) -> dict[str, int]:
    """Multipliers/shifts of TFLM's int8 (``left_shift`` 20) and int16 (15) ADD and SUB
    (``CalculateOpDataAdd``/``Sub``).

    Computed in double from the float32 scales: TFLM's SUB source divides in float, but the PyPI
    tflite-micro build matches double (measured on cases where the two differ).
    """
    twice_max = 2 * max(f32(s1), f32(s2))
    reals = (f32(s1) / twice_max, f32(s2) / twice_max, twice_max / ((1 << left_shift) * f32(so)))
    out: dict[str, int] = {}
    for key, real in zip(("input1", "input2", "output"), reals, strict=True):
        if not 0.0 < real < 1.0:
            raise ValueError(f"{key} rescale factor {real:g} is outside (0, 1): output scale too small "
                             "for the input scales (TFLM aborts on this model)")
        out[f"{key}_multiplier"], out[f"{key}_shift"] = quantize_multiplier(real)
    return out


def add_tables(params: dict[str, int], negate2: bool) -> tuple[np.ndarray, np.ndarray]:
    """ek_add_params.table1 / table2: every int8 value's rescaled input (TFLM's AddFunc up to the sum), index
    value + 128; table2 negated for SUB."""
    v = np.arange(-128, 128, dtype=np.int64)
    out = []
    for k, sign in (("input1", 1), ("input2", -1 if negate2 else 1)):
        x = (v + params[f"{k}_offset"]) << params["left_shift"]
        out.append((sign * mbqm(x, params[f"{k}_multiplier"], params[f"{k}_shift"])).astype(np.int32))
    return out[0], out[1]


class _Binary(OpHandler):
    """Common checks of the two-input int8 ops."""

    def _common(self, ctx: OpContext, dtype: str = "int8") -> tuple[dict[str, object], tuple[float, int],
                                                                    tuple[float, int], tuple[float, int]]:
        a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
        ctx.require_dtype(a, dtype, what="input 1")
        ctx.require_dtype(b, dtype, what="input 2")
        ctx.require_dtype(out, dtype, what="output")
        try:
            dims, st1, st2 = broadcast_layout(a.shape, b.shape, out.shape)
        except ValueError as exc:
            ctx.fail(str(exc))
        ctx.require(len(dims) <= MAX_DIMS, f"broadcast needs {len(dims)} dimensions; at most {MAX_DIMS} supported")
        pad = [0] * (MAX_DIMS - len(dims))
        shape = {"ndims": len(dims), "dims": dims + pad, "stride1": st1 + pad, "stride2": st2 + pad}
        return (shape, scale_zp(ctx, a, "input 1"), scale_zp(ctx, b, "input 2"), scale_zp(ctx, out, "output"))

    def _emit(self, ctx: OpContext, fn: str, ptype: str, params: dict[str, object], shape: dict[str, object]) -> str:
        a, b, o = ctx.op.inputs[0], ctx.op.inputs[1], ctx.op.outputs[0]
        ct = "int16_t" if ctx.output(0).dtype == "int16" else "int8_t"
        lines = ["{", *("    " + ln for ln in c_struct("ek_bcast", "shape", shape).splitlines()),
                 *("    " + ln for ln in c_struct(ptype, "p", params).splitlines()),
                 f"    {fn}({ctx.ptr(a, ct)}, {ctx.ptr(b, ct)}, {ctx.ptr(o, ct)}, &shape, &p);", "}"]
        return "\n".join(lines)

    def inplace(self, ctx: OpContext) -> bool:
        return not is_int32(ctx) and ctx.input(0).size == ctx.output(0).size


@register
class AddSub(_Binary):
    """ADD and SUB, int8 and int16 (TFLM's general rescaling path, ``left_shift`` 15, in ``ek_add_s16``; int32:
    int_arith.py)."""

    opcodes = ("ADD", "SUB")

    def _params(self, ctx: OpContext) -> tuple[dict[str, object], dict[str, object]]:
        is16 = ctx.output(0).dtype == "int16"
        shape, (s1, z1), (s2, z2), (so, zo) = self._common(ctx, "int16" if is16 else "int8")
        left_shift = ADD_LEFT_SHIFT_16 if is16 else ADD_LEFT_SHIFT
        try:
            mults = add_params(s1, s2, so, left_shift)
        except ValueError as exc:
            ctx.fail(str(exc))
        lo, hi = fused_range(ctx, ctx.output(0), *((-32768, 32767) if is16 else (-128, 127)))
        params = {"input1_offset": -z1, "input2_offset": -z2, "output_offset": zo, "left_shift": left_shift,
                  **mults, "act_min": lo, "act_max": hi}
        return shape, params

    def check(self, ctx: OpContext) -> None:
        if is_int32(ctx):  # plain integer ADD / SUB (int_arith.py)
            return check_int32(ctx)
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        if is_int32(ctx):
            return emit_int32(ctx)
        fn, params, shape = self.kernel_params(ctx)
        return self._emit(ctx, fn, "ek_add_params", params, shape)

    def kernel_params(self, ctx: OpContext) -> tuple[str, dict[str, object], dict[str, object]]:
        """``(function, ek_add_params fields, ek_bcast fields)`` of the operator."""
        shape, params = self._params(ctx)
        if ctx.output(0).dtype == "int16":
            return ("ek_add_s16" if ctx.op.opcode == "ADD" else "ek_sub_s16"), params, shape
        fn = "ek_add_s8" if ctx.op.opcode == "ADD" else "ek_sub_s8"
        if ctx.output(0).size >= ADD_TABLE_MIN_ELEMENTS and params["output_shift"] <= -2:
            t1, t2 = add_tables(params, negate2=ctx.op.opcode == "SUB")
            rshift = -int(params["output_shift"]) - 1
            params.update(table1=ctx.const_array(f"{ctx.ident}_in1_table", t1, "int32_t"),
                          table2=ctx.const_array(f"{ctx.ident}_in2_table", t2, "int32_t"),
                          out_round=1 << (rshift - 1), out_rshift=rshift)
        return fn, params, shape


@register
class Mul(_Binary):
    """MUL, int8 and int16 (``ek_mul_s16``; int32: int_arith.py)."""

    opcodes = ("MUL",)

    def _params(self, ctx: OpContext) -> tuple[dict[str, object], dict[str, object]]:
        is16 = ctx.output(0).dtype == "int16"
        shape, (s1, z1), (s2, z2), (so, zo) = self._common(ctx, "int16" if is16 else "int8")
        if is16:
            ctx.require(z1 == z2 == zo == 0, "int16 MUL needs zero points 0 (TFLM)")
        mult, shift = quantize_multiplier(f32(s1) * f32(s2) / f32(so))
        ctx.require(shift <= 30, f"input scales {s1:g} * {s2:g} are too large for output scale {so:g}")
        lo, hi = fused_range(ctx, ctx.output(0), *((-32768, 32767) if is16 else (-128, 127)))
        params = {"input1_offset": -z1, "input2_offset": -z2, "output_offset": zo, "output_multiplier": mult,
                  "output_shift": shift, "act_min": lo, "act_max": hi}
        return shape, params

    def check(self, ctx: OpContext) -> None:
        if is_int32(ctx):  # plain integer MUL (int_arith.py)
            return check_int32(ctx)
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        if is_int32(ctx):
            return emit_int32(ctx)
        shape, params = self._params(ctx)
        fn = "ek_mul_s16" if ctx.output(0).dtype == "int16" else "ek_mul_s8"
        return self._emit(ctx, fn, "ek_mul_params", params, shape)
