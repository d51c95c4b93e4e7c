"""MIRROR_PAD (REFLECT / SYMMETRIC) for int8 and float32 (TFLM's types), up to 5 dimensions (ek_mirror_pad.h)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register
from edgekit.codegen.aot.ops.transpose import const_ints, require_small

MAX_DIMS = 5


def _params(ctx: OpContext) -> dict[str, object]:
    require_small(ctx)
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require(inp is not None, "input is missing")
    ctx.require_dtype(inp, "int8", "float32", what="input")
    ctx.require(out.dtype == inp.dtype, f"output dtype {out.dtype} != input dtype {inp.dtype}")
    shape, rank = list(inp.shape), len(inp.shape)
    ctx.require(1 <= rank <= MAX_DIMS, f"rank {rank} not supported (1..{MAX_DIMS})")
    pads = const_ints(ctx, 1, "paddings", ("int32", "int64"))
    ctx.require(len(pads) == 2 * rank, f"paddings have {len(pads)} values, expected {2 * rank}")
    mode = ctx.options.get("mode", "REFLECT")
    ctx.require(mode in ("REFLECT", "SYMMETRIC"), f"mode {mode} not supported (REFLECT, SYMMETRIC)")
    offset = 1 if mode == "REFLECT" else 0
    for d in range(rank):
        lo, hi = pads[2 * d], pads[2 * d + 1]
        ctx.require(0 <= lo <= shape[d] - offset and 0 <= hi <= shape[d] - offset,
                    f"paddings {lo}, {hi} of dim {d} (size {shape[d]}) out of range for {mode} "
                    f"(0..{shape[d] - offset})")
    want = [shape[d] + pads[2 * d] + pads[2 * d + 1] for d in range(rank)]
    ctx.require(list(out.shape) == want, f"output shape {list(out.shape)} != {want}")
    lead = MAX_DIMS - rank
    return dict(in_shape=[1] * lead + shape, out_shape=[1] * lead + want,
                before=[0] * lead + [pads[2 * d] for d in range(rank)], offset=offset,
                elem_size=np.dtype(inp.dtype).itemsize)


@register
class MirrorPad(OpHandler):
    """MIRROR_PAD: per-dimension mirrored indices, the interior of each row moved with memcpy."""

    opcodes = ("MIRROR_PAD",)

    def check(self, ctx: OpContext) -> None:
        _params(ctx)

    def emit(self, ctx: OpContext) -> str:
        return "\n".join(["{", *("    " + line for line in c_struct("ek_mirror_pad_params_t", "p",
                                                                      _params(ctx)).splitlines()),
                          f"    ek_mirror_pad(&p, {ctx.ptr(ctx.op.inputs[0], 'uint8_t')}, "
                          f"{ctx.ptr(ctx.op.outputs[0], 'uint8_t')});", "}"])
