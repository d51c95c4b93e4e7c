"""CONCATENATION along any axis, any element type (int8 inputs must share the output's quantization)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import CTYPES, OpContext, OpHandler, register


def _concat_params(ctx: OpContext) -> tuple[int, list[int]]:
    out = ctx.output(0)
    ctx.require(ctx.options.get("fused_activation_function", "NONE") == "NONE",
                "fused activations on CONCATENATION are not supported (TFLM rejects them too)")
    ctx.require(out.dtype in CTYPES, f"dtype {out.dtype} is not supported")
    rank = len(out.shape)
    axis = int(ctx.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    ctx.require(0 <= axis < rank, f"axis {ctx.options.get('axis')} out of range for rank {rank}")
    itemsize = np.dtype(out.dtype).itemsize
    blocks = []
    total = 0
    for k in range(len(ctx.op.inputs)):
        t = ctx.input(k)
        ctx.require(t is not None, f"input {k} is missing")
        ctx.require(t.dtype == out.dtype, f"input {k} dtype {t.dtype} != output dtype {out.dtype}")
        ctx.require(len(t.shape) == rank, f"input {k} has rank {len(t.shape)}, output {rank}")
        ctx.require(all(t.shape[d] == out.shape[d] for d in range(rank) if d != axis),
                    f"input {k} shape {t.shape} does not fit output {out.shape} along axis {axis}")
        if out.dtype == "int8":
            tq, oq = t.quantization, out.quantization
            ctx.require(tq is not None and oq is not None and tq.scale[:1] == oq.scale[:1]
                        and tq.zero_point[:1] == oq.zero_point[:1],
                        f"input {k} quantization differs from the output's (TFLM requires equal)")
        blocks.append(int(np.prod(t.shape[axis:], dtype=np.int64)) * itemsize)
        total += t.shape[axis]
    ctx.require(total == out.shape[axis], f"inputs add up to {total} along axis {axis}, output has {out.shape[axis]}")
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    return outer, blocks


@register
class Concatenation(OpHandler):
    """CONCATENATION: one memcpy per input block."""

    opcodes = ("CONCATENATION",)

    def check(self, ctx: OpContext) -> None:
        _concat_params(ctx)

    def emit(self, ctx: OpContext) -> str:
        outer, blocks = _concat_params(ctx)
        ptrs = ", ".join(ctx.ptr(t, "uint8_t") for t in ctx.op.inputs)
        return "\n".join([
            "{",
            f"    const void *const inputs[{len(blocks)}] = {{{ptrs}}};",
            f"    static const uint32_t blocks[{len(blocks)}] = {{{', '.join(f'{b}u' for b in blocks)}}};",
            f"    ek_concat(inputs, blocks, {len(blocks)}, {outer}u, {ctx.ptr(ctx.op.outputs[0], 'uint8_t')});",
            "}",
        ])
