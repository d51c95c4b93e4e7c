"""RESIZE_NEAREST_NEIGHBOR (int8, int16, float32) and RESIZE_BILINEAR (int8) with align_corners and
half_pixel_centers, TFLM reference semantics.

The source rows and columns are computed here, once, with TFLM's own arithmetic (float32 for nearest,
10-bit fixed point for int8 bilinear) and stored as small tables; the C kernels only copy and blend.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register
from edgekit.codegen.aot.ops.transpose import const_ints, require_small

MAX_SIZE = 1 << 15  # output rows / columns (the tables hold one entry per output row and column)


def _round_away(v: float) -> int:
    """TfLiteRound: half away from zero."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """TFLM's GetNearestNeighbor for every output index (float32 arithmetic)."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5 if half_pixel else 0.0)
    out = []
    for i in range(out_size):
        v = float((f32(i) + offset) * scale)
        k = min(_round_away(v) if align_corners else math.floor(v), in_size - 1)
        out.append(max(0, k) if half_pixel else k)
    return out


def _tdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def bilinear_table(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list[tuple[int, int, int]]:
    """(lower, upper, 10-bit fraction) per output index, as TFLM's ComputeInterpolationValuesInteger."""
    scale = _tdiv(1024 * in_size + out_size // 2, out_size)
    if align_corners and out_size > 1:
        scale = _tdiv(1024 * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    rows = []
    for i in range(out_size):
        v = i * scale + _tdiv(scale, 2) - 512 if half_pixel else i * scale
        lo = max(_tdiv(v, 1024), 0)
        hi = min(_tdiv(v + 1023, 1024), in_size - 1)
        rows.append((lo, hi, v - 1024 * lo))
    return rows


def _params(ctx: OpContext) -> tuple[dict[str, int], list[int], list[int]]:
    bilinear = ctx.op.opcode == "RESIZE_BILINEAR"
    require_small(ctx)
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require(inp is not None, "input is missing")
    ctx.require_dtype(inp, *(("int8",) if bilinear else ("int8", "int16", "float32")), what="input")
    ctx.require(out.dtype == inp.dtype, f"output dtype {out.dtype} != input dtype {inp.dtype}")
    ctx.require(len(inp.shape) == 4 and len(out.shape) == 4, "input and output must be 4-D (NHWC)")
    size = const_ints(ctx, 1, "size")
    ctx.require(len(size) == 2 and 0 < min(size) and max(size) <= MAX_SIZE,
                f"size {size} must be two values in 1..{MAX_SIZE}")
    n, h, w, c = inp.shape
    ctx.require(list(out.shape) == [n, size[0], size[1], c], f"output shape {list(out.shape)} != "
                f"{[n, size[0], size[1], c]}")
    align = bool(ctx.options.get("align_corners", False))
    half = bool(ctx.options.get("half_pixel_centers", False))
    if bilinear:
        ctx.require(not (align and half), "align_corners and half_pixel_centers both set (TFLM rejects it)")
        ys = bilinear_table(h, size[0], align, half)
        xs = bilinear_table(w, size[1], align, half)
        for axis, rows, limit in (("height", ys, h), ("width", xs, w)):
            ctx.require(all(0 <= lo < limit and 0 <= hi < limit and -1024 < f < 1024 for lo, hi, f in rows),
                        f"{axis} {limit} -> {len(rows)}: TFLM's fixed-point source positions leave the input")
        ytab, xtab = [v for r in ys for v in r], [v for r in xs for v in r]
    else:
        ytab = nearest_indices(h, size[0], align, half)
        xtab = nearest_indices(w, size[1], align, half)
        ctx.require(all(0 <= v < h for v in ytab) and all(0 <= v < w for v in xtab),
                    "source rows/columns leave the input")
    fields = dict(batch=n, in_h=h, in_w=w, out_h=size[0], out_w=size[1], depth=c,
                  elem_size=np.dtype(inp.dtype).itemsize)
    return fields, ytab, xtab


@register
class Resize(OpHandler):
    """RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR (ek_resize.h)."""

    opcodes = ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")

    def check(self, ctx: OpContext) -> None:
        _params(ctx)

    def emit(self, ctx: OpContext) -> str:
        fields, ytab, xtab = _params(ctx)
        ys = ctx.const_array(f"{ctx.ident}_rows", np.array(ytab, dtype=np.int32), "int32_t")
        xs = ctx.const_array(f"{ctx.ident}_cols", np.array(xtab, dtype=np.int32), "int32_t")
        if ctx.op.opcode == "RESIZE_BILINEAR":
            call = (f"ek_resize_bilinear_s8(&p, {ys}, {xs}, {ctx.ptr(ctx.op.inputs[0])}, "
                    f"{ctx.ptr(ctx.op.outputs[0])});")
        else:
            call = (f"ek_resize_nearest(&p, {ys}, {xs}, {ctx.ptr(ctx.op.inputs[0], 'uint8_t')}, "
                    f"{ctx.ptr(ctx.op.outputs[0], 'uint8_t')});")
        return "\n".join(["{", *("    " + line for line in c_struct("ek_resize_params_t", "p", fields).splitlines()),
                          f"    {call}", "}"])
