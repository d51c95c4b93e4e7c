"""SPLIT, SPLIT_V, UNPACK (several outputs) and PACK (several inputs): block copies, no requantization.

Each output of a split is one strided copy out of the input. Output 0 is copied last, so the memory
planner may place it over the input (it is the input's first rows, read in order): a split of a tensor
that dies there costs the arena only the other outputs. PACK is CONCATENATION along a new axis and
runs on ``ek_concat``.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, register
from edgekit.codegen.aot.ops.transpose import const_ints, require_small
from edgekit.codegen.aot.strided import Copy, emit_copy

_DTYPES = {"SPLIT": ("int8", "int16", "int32", "float32"), "SPLIT_V": ("int8", "int16", "int32", "float32"),
           "UNPACK": ("int8", "int16", "int32", "float32"), "PACK": ("int8", "int16", "int32", "int64", "float32")}


def _prod(dims: list[int]) -> int:
    return int(np.prod(dims, dtype=np.int64)) if dims else 1


def _split_copies(ctx: OpContext) -> list[Copy]:
    """One copy per output (in output order) of SPLIT / SPLIT_V / UNPACK."""
    require_small(ctx)
    op = ctx.op.opcode
    k_in, k_axis = {"SPLIT": (1, 0), "SPLIT_V": (0, 2), "UNPACK": (0, None)}[op]
    inp = ctx.input(k_in)
    ctx.require(inp is not None, "input is missing")
    ctx.require_dtype(inp, *_DTYPES[op], what="input")
    shape, rank = list(inp.shape), len(inp.shape)
    ctx.require(rank >= 1, "the input is a scalar")
    if k_axis is None:
        axis = int(ctx.options.get("axis", 0))
    else:
        axes = const_ints(ctx, k_axis, "axis")
        ctx.require(len(axes) == 1, f"axis has {len(axes)} values, expected 1")
        axis = axes[0]
    axis = axis + rank if axis < 0 else axis
    ctx.require(0 <= axis < rank, f"axis {axis} out of range for rank {rank}")
    outs = [ctx.output(k) for k in range(len(ctx.op.outputs))]
    ctx.require(all(o.dtype == inp.dtype for o in outs), f"an output's dtype differs from the input's {inp.dtype}")
    outer, inner = _prod(shape[:axis]), _prod(shape[axis + 1:])
    row = shape[axis] * inner
    copies, pos = [], 0
    if op == "UNPACK":
        n = int(ctx.options.get("num", 0))
        ctx.require(n == shape[axis] == len(outs), f"num {n}, {len(outs)} outputs, input dim {shape[axis]} "
                    f"along axis {axis}: they must agree")
        want = shape[:axis] + shape[axis + 1:]
        for k, o in enumerate(outs):
            ctx.require(list(o.shape) == want, f"output {k} shape {list(o.shape)} != {want}")
            copies.append(Copy([outer, inner], [row, 1], src_offset=k * inner))
        return copies
    if op == "SPLIT":
        n = int(ctx.options.get("num_splits", 0))
        ctx.require(n == len(outs) and n > 0 and shape[axis] % n == 0,
                    f"num_splits {n} with {len(outs)} outputs does not divide dim {shape[axis]} of axis {axis}")
    for k, o in enumerate(outs):
        ctx.require(len(o.shape) == rank and all(o.shape[d] == shape[d] for d in range(rank) if d != axis),
                    f"output {k} shape {list(o.shape)} does not fit input {shape} split along axis {axis}")
        if op == "SPLIT":
            ctx.require(o.shape[axis] == shape[axis] // len(outs), f"output {k} is not an equal split")
        part = o.shape[axis] * inner
        copies.append(Copy([outer, part], [row, 1], src_offset=pos))
        pos += part
    ctx.require(pos == row, f"outputs add up to {pos // max(inner, 1)} along axis {axis}, input has {shape[axis]}")
    return copies


@register
class Split(OpHandler):
    """SPLIT / SPLIT_V / UNPACK: one strided copy per output, output 0 last (it may share the input's memory)."""

    opcodes = ("SPLIT", "SPLIT_V", "UNPACK")

    def check(self, ctx: OpContext) -> None:
        _split_copies(ctx)

    def inplace(self, ctx: OpContext) -> bool:
        return _split_copies(ctx)[0].monotone()

    def inplace_input(self, ctx: OpContext) -> int:
        return 1 if ctx.op.opcode == "SPLIT" else 0

    def emit(self, ctx: OpContext) -> str:
        copies = _split_copies(ctx)
        inp = ctx.op.inputs[1 if ctx.op.opcode == "SPLIT" else 0]
        es = np.dtype(ctx.subgraph.tensors[inp].dtype).itemsize
        src = ctx.ptr(inp, "uint8_t")
        lines: list[str] = []
        for k in [*range(1, len(copies)), 0]:
            dst = ctx.ptr(ctx.op.outputs[k], "uint8_t")
            if k == 0 and dst == src:
                lines.append("/* output 0 shares the input's memory: moved into place last */")
            lines += emit_copy(copies[k], src, dst, es, name=f"cp{k}")
        return "\n".join(lines)


def _pack(ctx: OpContext) -> tuple[int, int]:
    """(outer, bytes per input block) of PACK."""
    require_small(ctx)
    out = ctx.output(0)
    ctx.require_dtype(out, *_DTYPES["PACK"], what="output")
    n = len(ctx.op.inputs)
    ctx.require(int(ctx.options.get("values_count", 0)) == n, f"values_count {ctx.options.get('values_count')} != "
                f"{n} inputs")
    rank = len(out.shape)
    axis = int(ctx.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    ctx.require(0 <= axis < rank and out.shape[axis] == n, f"axis {ctx.options.get('axis')} does not fit output "
                f"{list(out.shape)} with {n} inputs")
    want = list(out.shape[:axis]) + list(out.shape[axis + 1:])
    for k in range(n):
        t = ctx.input(k)
        ctx.require(t is not None and t.dtype == out.dtype, f"input {k} is missing or not {out.dtype}")
        ctx.require(list(t.shape) == want, f"input {k} shape {list(t.shape)} != {want}")
    return _prod(list(out.shape[:axis])), _prod(list(out.shape[axis + 1:])) * np.dtype(out.dtype).itemsize


@register
class Pack(OpHandler):
    """PACK: CONCATENATION of the inputs along a new axis (ek_concat)."""

    opcodes = ("PACK",)

    def check(self, ctx: OpContext) -> None:
        _pack(ctx)

    def emit(self, ctx: OpContext) -> str:
        outer, block = _pack(ctx)
        n = len(ctx.op.inputs)
        ptrs = ", ".join(ctx.ptr(t, "uint8_t") for t in ctx.op.inputs)
        return "\n".join([
            "{",
            f"    const void *const inputs[{n}] = {{{ptrs}}};",
            f"    static const uint32_t blocks[{n}] = {{{', '.join([f'{block}u'] * n)}}};",
            f"    ek_concat(inputs, blocks, {n}, {outer}u, {ctx.ptr(ctx.op.outputs[0], 'uint8_t')});",
            "}",
        ])
