"""MEAN, SUM, REDUCE_MAX and REDUCE_MIN over constant axes, int8 (``ek_reduce.c``); MEAN / SUM also int16.

TFLM computes int8 MEAN as ``QuantizedMeanOrSum``: an int32 sum, minus ``zero_point * count``,
rescaled by ``input_scale / output_scale`` with ``1/count`` folded into the multiplier
(``(multiplier << shift) / count``, ``shift = min(floor(log2 count), 32, 31 + output_shift)``).
The generator does that folding, so the device only sums and rescales.
"""

from __future__ import annotations

import math

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.ops.fixedpoint import wrap32
from edgekit.codegen.aot.quant import f32, quantize_multiplier

MAX_DIMS = 6


def resolve_axes(axes: list[int], rank: int) -> list[int]:
    """TFLite's ``ResolveAxis``: negative axes counted from the end, duplicates dropped (order kept)."""
    out: list[int] = []
    for a in axes:
        c = a + rank if a < 0 else a
        if not 0 <= c < rank:
            raise ValueError(f"axis {a} is out of range for a {rank}-D input")
        if c not in out:
            out.append(c)
    return out


def _merge(dims: list[int], strides: list[int]) -> tuple[list[int], list[int]]:
    keep = [k for k, d in enumerate(dims) if d != 1]
    dims, strides = [dims[k] for k in keep], [strides[k] for k in keep]
    k = len(dims) - 1
    while k > 0:
        if strides[k - 1] == strides[k] * dims[k]:
            dims[k - 1] *= dims[k]
            strides[k - 1] = strides[k]
            del dims[k], strides[k]
        k -= 1
    return dims, strides


def reduce_layout(shape: tuple[int, ...], axes: list[int]) -> dict[str, object]:
    """The ``ek_reduce_shape`` fields: kept ("outer") and reduced ("inner") dims with element strides.

    >>> reduce_layout((1, 4, 4, 8), [1, 2])['inner_dims'][:1], reduce_layout((1, 4, 4, 8), [1, 2])['outer_dims'][:1]
    ([16], [8])
    """
    rank = len(shape)
    strides = [math.prod(shape[d + 1:]) for d in range(rank)]
    outer = _merge([shape[d] for d in range(rank) if d not in axes], [strides[d] for d in range(rank) if d not in axes])
    inner = _merge([shape[d] for d in axes], [strides[d] for d in axes])
    if len(outer[0]) > MAX_DIMS or len(inner[0]) > MAX_DIMS:
        raise ValueError(f"reduction of a {rank}-D tensor needs more than {MAX_DIMS} loop dimensions")
    fields: dict[str, object] = {}
    for name, (dims, st) in (("outer", outer), ("inner", inner)):
        pad = [0] * (MAX_DIMS - len(dims))
        fields[f"{name}_ndims"] = len(dims)
        fields[f"{name}_dims"] = dims + pad
        fields[f"{name}_strides"] = st + pad
    return fields


def mean_multiplier(in_scale: float, out_scale: float, count: int, *, mean: bool = True) -> tuple[int, int]:
    """(multiplier, shift) TFLM applies to ``sum - zp * count`` for int8 MEAN (or SUM with mean=False)."""
    mult, shift = quantize_multiplier(f32(in_scale) / f32(out_scale))
    if mean and count > 0:
        s = min(count.bit_length() - 1, 32, 31 + shift)
        mult = int(wrap32((mult << s) // count))
        shift -= s
    return mult, shift


class _Reduce(OpHandler):
    dtypes: tuple[str, ...] = ("int8",)

    def _layout(self, ctx: OpContext) -> tuple[dict[str, object], int]:
        """(layout fields, elements per output) or ``ctx.fail``."""
        inp, axis, out = ctx.input(0), ctx.input(1), ctx.output(0)
        ctx.require_dtype(inp, *self.dtypes, what="input")
        ctx.require_dtype(out, inp.dtype, what="output")
        ctx.require(axis is not None and axis.dtype == "int32" and (axis.is_const or axis.size == 0),
                    "axes must be a constant int32 tensor")
        try:
            values = axis.array().reshape(-1) if axis.size else []
            axes = resolve_axes([int(a) for a in values], len(inp.shape))
            layout = reduce_layout(tuple(inp.shape), axes)
        except ValueError as exc:
            ctx.fail(str(exc))
        count = math.prod(inp.shape[a] for a in axes)
        ctx.require(inp.size == out.size * count,
                    f"output {list(out.shape)} does not match reducing {list(inp.shape)} over axes {axes}")
        return layout, count

    def inplace(self, ctx: OpContext) -> bool:
        return True  # every output element is written after its inputs are read, at a lower offset


@register
class MeanSum(_Reduce):
    """MEAN and SUM, int8 and int16 (``ek_reduce_sum_s16``)."""

    opcodes = ("MEAN", "SUM")
    dtypes = ("int8", "int16")

    def _params(self, ctx: OpContext) -> tuple[dict[str, object], dict[str, object]]:
        layout, count = self._layout(ctx)
        in_scale, in_zp = scale_zp(ctx, ctx.input(0), "input")
        out_scale, out_zp = scale_zp(ctx, ctx.output(0), "output")
        mult, shift = mean_multiplier(in_scale, out_scale, count, mean=ctx.op.opcode == "MEAN")
        ctx.require(-31 <= shift <= 30, f"rescale {in_scale:g} / {out_scale:g} is out of the supported range")
        params = {"zp_times_count": int(wrap32(in_zp * count)), "multiplier": mult, "shift": shift,
                  "output_zp": out_zp}
        return layout, params

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        layout, params = self._params(ctx)
        ct, sfx = ("int16_t", "s16") if ctx.input(0).dtype == "int16" else ("int8_t", "s8")
        src, dst = ctx.ptr(ctx.op.inputs[0], ct), ctx.ptr(ctx.op.outputs[0], ct)
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_reduce_shape", "shape", layout).splitlines()),
                          *("    " + ln for ln in c_struct("ek_reduce_params", "p", params).splitlines()),
                          f"    ek_reduce_sum_{sfx}({src}, {dst}, &shape, &p);", "}"])


@register
class ReduceMinMax(_Reduce):
    """REDUCE_MAX and REDUCE_MIN, int8 (TFLM requires equal input and output quantization)."""

    opcodes = ("REDUCE_MAX", "REDUCE_MIN")

    def check(self, ctx: OpContext) -> None:
        self._layout(ctx)
        in_q = scale_zp(ctx, ctx.input(0), "input")
        out_q = scale_zp(ctx, ctx.output(0), "output")
        ctx.require(f32(in_q[0]) == f32(out_q[0]) and in_q[1] == out_q[1],
                    "input and output quantization differ (TFLM requires them equal)")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        layout, _ = self._layout(ctx)
        is_max = int(ctx.op.opcode == "REDUCE_MAX")
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_reduce_shape", "shape", layout).splitlines()),
                          f"    ek_reduce_minmax_s8({ctx.ptr(ctx.op.inputs[0])}, {ctx.ptr(ctx.op.outputs[0])}, "
                          f"&shape, {is_max});", "}"])
