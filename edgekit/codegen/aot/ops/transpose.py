"""TRANSPOSE, REVERSE_V2, BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_DEPTH: fixed rearrangements of the input.

Each becomes one strided copy (``ek_strided_copy``, :mod:`edgekit.codegen.aot.strided`); the values are
moved, never requantized (TFLM compares no quantization parameters for these ops). Element types are
the ones TFLM's kernel accepts for the op.
"""

from __future__ import annotations

import itertools

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register
from edgekit.codegen.aot.strided import Copy, emit_copy, row_major

# dtypes of TFLM's kernels
_DTYPES = {
    "TRANSPOSE": ("int8", "int16", "float32"),
    "REVERSE_V2": ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
    "BROADCAST_TO": ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
    "DEPTH_TO_SPACE": ("int8", "float32"),
    "SPACE_TO_DEPTH": ("int8", "float32"),
}


def const_ints(ctx: OpContext, k: int, what: str, dtypes: tuple[str, ...] = ("int32",)) -> list[int]:
    """The values of constant input ``k`` (an integer tensor) or ``ctx.fail``."""
    t = ctx.input(k)
    ctx.require(t is not None, f"{what} tensor is missing")
    ctx.require(t.is_const, f"{what} must be a constant tensor (TFLM requires it)")
    ctx.require(t.dtype in dtypes, f"{what} has dtype {t.dtype}; supported: {', '.join(dtypes)}")
    return [int(v) for v in t.array().reshape(-1)]


def require_small(ctx: OpContext) -> None:
    """``ctx.fail`` unless every tensor of the op has elements (TFLM treats an empty one as dynamic and refuses
    it) and fits the kernels' 32-bit byte offsets (< 2 GiB)."""
    for k in (*ctx.op.inputs, *ctx.op.outputs):
        if k >= 0:
            t = ctx.subgraph.tensors[k]
            ctx.require(all(d > 0 for d in t.shape), f"tensor '{t.name}' {list(t.shape)} is empty")
            ctx.require(t.nbytes < 2**31 and all(d < 2**31 for d in t.shape),
                        f"tensor '{t.name}' {list(t.shape)} is too large (2 GiB at most)")


def same_type_io(ctx: OpContext) -> tuple[list[int], list[int], int]:
    """(input shape, output shape, element size) after checking input 0 and output 0 share a supported dtype."""
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require(inp is not None, "input is missing")
    require_small(ctx)
    dtypes = _DTYPES.get(ctx.op.opcode, ("int8", "int16"))
    ctx.require_dtype(inp, *dtypes, what="input")
    ctx.require(out.dtype == inp.dtype, f"output dtype {out.dtype} != input dtype {inp.dtype}")
    return list(inp.shape), list(out.shape), np.dtype(inp.dtype).itemsize


def _transpose(ctx: OpContext) -> Copy:
    in_shape, out_shape, _ = same_type_io(ctx)
    rank = len(in_shape)
    ctx.require(1 <= rank <= 5, f"rank {rank} not supported (1..5, TFLM's limit)")
    perm = const_ints(ctx, 1, "perm")
    ctx.require(sorted(perm) == list(range(rank)), f"perm {perm} is not a permutation of 0..{rank - 1}")
    ctx.require(out_shape == [in_shape[p] for p in perm], f"output shape {out_shape} != input shape permuted")
    strides = row_major(in_shape)
    return Copy(out_shape, [strides[p] for p in perm])


def _reverse(ctx: OpContext) -> Copy:
    in_shape, out_shape, _ = same_type_io(ctx)
    rank = len(in_shape)
    ctx.require(1 <= rank <= 6 and out_shape == in_shape, f"input {in_shape} / output {out_shape} not supported")
    axes = const_ints(ctx, 1, "axis")
    ctx.require(len(axes) <= rank, f"{len(axes)} axes for a rank-{rank} input")
    axes = sorted(a + rank if a < 0 else a for a in axes)
    ctx.require(all(0 <= a < rank for a in axes), f"axis out of range for rank {rank}")
    ctx.require(all(b == a + 1 for a, b in itertools.pairwise(axes)),
                f"axes {axes} are not contiguous (TFLM supports contiguous axes only)")
    strides = row_major(in_shape)
    src = [-s if d in axes else s for d, s in enumerate(strides)]
    offset = sum((in_shape[d] - 1) * strides[d] for d in axes)
    return Copy(out_shape, src, src_offset=offset)


def _broadcast(ctx: OpContext) -> Copy:
    in_shape, out_shape, _ = same_type_io(ctx)
    shape = const_ints(ctx, 1, "shape", ("int32", "int64"))
    rank = len(out_shape)
    ctx.require(1 <= rank <= 5, f"output rank {rank} not supported (1..5, TFLM's limit)")
    ctx.require(shape == out_shape, f"shape {shape} != output shape {out_shape}")
    ctx.require(len(in_shape) <= rank, f"input rank {len(in_shape)} > output rank {rank}")
    ext = [1] * (rank - len(in_shape)) + in_shape
    ctx.require(all(i in (1, o) for i, o in zip(ext, out_shape, strict=True)),
                f"input shape {in_shape} does not broadcast to {out_shape}")
    strides = row_major(ext)
    return Copy(out_shape, [0 if i == 1 else s for i, s in zip(ext, strides, strict=True)])


def _depth_space(ctx: OpContext) -> Copy:
    in_shape, out_shape, _ = same_type_io(ctx)
    ctx.require(len(in_shape) == 4 and len(out_shape) == 4, "input and output must be 4-D (NHWC)")
    b = int(ctx.options.get("block_size", 0))
    ctx.require(b > 0, f"block_size {b} must be positive")
    n, h, w, c = in_shape
    if ctx.op.opcode == "DEPTH_TO_SPACE":
        ctx.require(c % (b * b) == 0, f"input depth {c} is not a multiple of block_size^2 = {b * b}")
        co = c // (b * b)
        ctx.require(out_shape == [n, h * b, w * b, co], f"output shape {out_shape} != {[n, h * b, w * b, co]}")
        # output (n, y, by, x, bx, c') <- input (n, y, x, (by * b + bx) * c' + c')
        return Copy([n, h, b, w, b, co], [h * w * c, w * c, b * co, c, co, 1])
    ctx.require(h % b == 0 and w % b == 0, f"input {h}x{w} is not a multiple of block_size {b}")
    ctx.require(out_shape == [n, h // b, w // b, c * b * b], f"output shape {out_shape} != "
                f"{[n, h // b, w // b, c * b * b]}")
    # output (n, y, x, by, bx, c) <- input (n, y * b + by, x * b + bx, c)
    return Copy([n, h // b, w // b, b, b, c], [h * w * c, b * w * c, b * c, w * c, c, 1])


_VIEWS = {"TRANSPOSE": _transpose, "REVERSE_V2": _reverse, "BROADCAST_TO": _broadcast,
          "DEPTH_TO_SPACE": _depth_space, "SPACE_TO_DEPTH": _depth_space}


@register
class Rearrange(OpHandler):
    """One strided copy from input 0 to output 0."""

    opcodes = tuple(_VIEWS)

    def check(self, ctx: OpContext) -> None:
        _VIEWS[ctx.op.opcode](ctx)

    def emit(self, ctx: OpContext) -> str:
        copy = _VIEWS[ctx.op.opcode](ctx)
        es = np.dtype(ctx.input(0).dtype).itemsize
        src, dst = ctx.ptr(ctx.op.inputs[0], "uint8_t"), ctx.ptr(ctx.op.outputs[0], "uint8_t")
        return "\n".join(emit_copy(copy, src, dst, es))
