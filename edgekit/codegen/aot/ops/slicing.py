"""STRIDED_SLICE and SLICE: one strided copy (TFLM reference semantics, computed at generation time).

STRIDED_SLICE follows TFLM's kernel, which reads ``begin_mask``, ``end_mask`` and ``shrink_axis_mask``
and ignores ``ellipsis_mask``, ``new_axis_mask`` and ``offset``. A model that sets those is accepted
only where TensorFlow's meaning of the masks (ellipsis expansion, inserted axes) selects exactly the
elements TFLM's reading does; otherwise the op is refused naming the mask, rather than running one of
two different slices. Slices with positive strides may run in place over their input.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register
from edgekit.codegen.aot.ops.transpose import const_ints, require_small
from edgekit.codegen.aot.strided import Copy, emit_copy, row_major

_SS_DTYPES = ("int8", "int16", "int32", "float32", "bool")
_SLICE_DTYPES = ("int8", "int16", "int32", "float32", "bool")


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else lo if v < lo else v


def _axis_range(size: int, begin: int, end: int, stride: int, bmask: bool, emask: bool,
                shrink: bool) -> tuple[int, int]:
    """(start, count) along one axis as TFLM's StridedSliceStartForAxis / EndForAxis and loop compute them."""
    start = begin + size if begin < 0 else begin
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if bmask:
        start = 0 if stride > 0 else size - 1
    if shrink:
        stop = start if start >= size else start + 1
    else:
        stop = end + size if end < 0 else end
        stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
        if emask:
            stop = size if stride > 0 else -1
    count = len(range(start, stop, stride))
    return start, count


def _picks(start: int, count: int, stride: int) -> tuple[int, int, int]:
    """The elements an axis range selects, as a comparable triple (the stride matters only for 2+ elements)."""
    return (start if count else 0, count, stride if count > 1 else 0)


def _tf_spec(rank: int, begin: list[int], end: list[int], strides: list[int], o: dict) -> tuple | None:
    """TensorFlow's dense reading of a sparse slice spec: per input dim (begin, end, stride, bmask, emask,
    shrink) plus the output shape with inserted axes; None when the spec is invalid."""
    bm, em, el, na, sh = (int(o.get(k, 0)) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                                    "shrink_axis_mask"))
    n = len(begin)
    if bin(el).count("1") > 1:
        return None
    if not el:  # an implicit ellipsis after the last entry
        el |= 1 << n
        n += 1
    dense: list[tuple] = []
    out_shape: list[object] = []  # ints for new axes, ("dim", d) for input dims kept
    for i in range(n):
        bit = 1 << i
        if el & bit:
            after = sum(1 for j in range(i + 1, n) if (na >> j) & 1 and not (el >> j) & 1)
            target = min(rank - (n - i) + 1 + after, rank)
            while len(dense) < target:
                out_shape.append(("dim", len(dense)))
                dense.append((0, 0, 1, True, True, False))
        elif na & bit:
            out_shape.append(1)
        else:
            if len(dense) >= rank or i >= len(begin):
                return None
            if not sh & bit:
                out_shape.append(("dim", len(dense)))
            dense.append((begin[i], end[i], strides[i], bool(bm & bit), bool(em & bit), bool(sh & bit)))
    if len(dense) != rank:
        return None
    return dense, out_shape


def _strided_slice(ctx: OpContext) -> Copy:
    require_small(ctx)
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require(inp is not None, "input is missing")
    ctx.require_dtype(inp, *_SS_DTYPES, what="input")
    ctx.require(out.dtype == inp.dtype, f"output dtype {out.dtype} != input dtype {inp.dtype}")
    shape, rank = list(inp.shape), len(inp.shape)
    ctx.require(1 <= rank <= 4, f"input rank {rank} not supported (1..4, TFLM's limit)")
    begin, end, strides = (const_ints(ctx, k, what) for k, what in ((1, "begin"), (2, "end"), (3, "strides")))
    ctx.require(len(begin) == len(end) == len(strides) == rank,
                f"begin/end/strides have {len(begin)}/{len(end)}/{len(strides)} values; TFLM reads one per input "
                f"dimension ({rank})")
    ctx.require(all(s != 0 for s in strides), "a stride is 0")
    o = ctx.options
    ctx.require(not o.get("offset", False), "offset=True is not supported (TFLM ignores it)")
    shrink = int(o.get("shrink_axis_mask", 0))
    starts, counts = [], []
    for d in range(rank):
        s, c = _axis_range(shape[d], begin[d], end[d], strides[d], bool(o.get("begin_mask", 0) >> d & 1),
                           bool(o.get("end_mask", 0) >> d & 1), bool(shrink >> d & 1))
        if shrink >> d & 1:
            ctx.require(strides[d] > 0, f"shrink_axis_mask on axis {d} with negative stride {strides[d]} "
                        "(TFLM's kernel copies nothing there)")
            ctx.require(-shape[d] <= begin[d] < shape[d], f"shrink_axis_mask on axis {d}: begin {begin[d]} is "
                        f"outside the axis (size {shape[d]})")
        starts.append(s)
        counts.append(c)
    tflm_shape = [counts[d] for d in range(rank) if not shrink >> d & 1]
    for mask in ("ellipsis_mask", "new_axis_mask"):
        if int(o.get(mask, 0)):
            tf = _tf_spec(rank, begin, end, strides, o)
            agree = False
            if tf is not None:
                dense, tf_out = tf
                tf_ranges = [_axis_range(shape[d], *dense[d]) for d in range(rank)]
                tf_shape = [x if isinstance(x, int) else tf_ranges[x[1]][1] for x in tf_out]
                agree = tf_shape == tflm_shape and all(
                    _picks(starts[d], counts[d], strides[d]) == _picks(*tf_ranges[d], dense[d][2])
                    for d in range(rank))
            ctx.require(agree, f"{mask}={int(o.get(mask, 0))} is not supported: TFLM ignores it and would slice "
                        "differently from TensorFlow's meaning")
    ctx.require(list(out.shape) == tflm_shape, f"output shape {list(out.shape)} != the slice's shape {tflm_shape}")
    ctx.require(0 not in counts, f"the slice is empty (shape {counts})")
    in_strides = row_major(shape)
    return Copy(counts, [in_strides[d] * strides[d] for d in range(rank)],
                src_offset=sum(starts[d] * in_strides[d] for d in range(rank)))


def _slice(ctx: OpContext) -> Copy:
    require_small(ctx)
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require(inp is not None, "input is missing")
    ctx.require_dtype(inp, *_SLICE_DTYPES, what="input")
    ctx.require(out.dtype == inp.dtype, f"output dtype {out.dtype} != input dtype {inp.dtype}")
    shape, rank = list(inp.shape), len(inp.shape)
    ctx.require(1 <= rank <= 5, f"input rank {rank} not supported (1..5, TFLM's limit)")
    begin = const_ints(ctx, 1, "begin", ("int32", "int64"))
    size = const_ints(ctx, 2, "size", ("int32", "int64"))
    ctx.require(ctx.input(1).dtype == ctx.input(2).dtype, "begin and size have different dtypes")
    ctx.require(len(begin) == len(size) == rank, f"begin/size have {len(begin)}/{len(size)} values for rank {rank}")
    sizes = [shape[d] - begin[d] if size[d] == -1 else size[d] for d in range(rank)]
    for d in range(rank):
        ctx.require(0 <= begin[d] and 0 <= sizes[d] and begin[d] + sizes[d] <= shape[d],
                    f"axis {d}: begin {begin[d]} size {size[d]} outside the input (size {shape[d]})")
    ctx.require(list(out.shape) == sizes, f"output shape {list(out.shape)} != slice size {sizes}")
    in_strides = row_major(shape)
    return Copy(sizes, in_strides, src_offset=sum(b * s for b, s in zip(begin, in_strides, strict=True)))


_VIEWS = {"STRIDED_SLICE": _strided_slice, "SLICE": _slice}


@register
class Slice(OpHandler):
    """STRIDED_SLICE / SLICE: one strided copy; in place over the input when the slice walks forward."""

    opcodes = tuple(_VIEWS)

    def check(self, ctx: OpContext) -> None:
        _VIEWS[ctx.op.opcode](ctx)

    def inplace(self, ctx: OpContext) -> bool:
        return _VIEWS[ctx.op.opcode](ctx).monotone()

    def emit(self, ctx: OpContext) -> str:
        copy = _VIEWS[ctx.op.opcode](ctx)
        es = np.dtype(ctx.input(0).dtype).itemsize
        src, dst = ctx.ptr(ctx.op.inputs[0], "uint8_t"), ctx.ptr(ctx.op.outputs[0], "uint8_t")
        lines = emit_copy(copy, src, dst, es)
        if src == dst:
            lines.insert(0, "/* in place: the output starts at its input and never overtakes it */")
        return "\n".join(lines)
