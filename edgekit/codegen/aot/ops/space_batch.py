"""BATCH_TO_SPACE_ND and SPACE_TO_BATCH_ND on 3-D / 4-D int8 (or float32) tensors, as TFLM computes them.

TFLM's SPACE_TO_BATCH_ND pads with a value it never sets (it reads 0 from a fresh arena) where TFLite
pads with the output zero point; padding with a non-zero zero point is refused rather than guessed.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register
from edgekit.codegen.aot.ops.transpose import const_ints, require_small

_DTYPES = ("int8", "float32")


def _params(ctx: OpContext) -> dict[str, int]:
    require_small(ctx)
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require(inp is not None, "input is missing")
    ctx.require_dtype(inp, *_DTYPES, what="input")
    ctx.require(out.dtype == inp.dtype, f"output dtype {out.dtype} != input dtype {inp.dtype}")
    ishape, oshape = list(inp.shape), list(out.shape)
    rank = len(ishape)
    ctx.require(rank in (3, 4) and len(oshape) == rank, f"input rank {rank} / output rank {len(oshape)} not "
                "supported (3 or 4, TFLM's limit)")
    spatial = rank - 2
    block = const_ints(ctx, 1, "block_shape")
    edges = const_ints(ctx, 2, "crops" if ctx.op.opcode == "BATCH_TO_SPACE_ND" else "paddings")
    ctx.require(len(block) == spatial and len(edges) == 2 * spatial,
                f"block_shape {block} / crops or paddings {edges} do not fit {spatial} spatial dims")
    ctx.require(all(b > 0 for b in block) and all(e >= 0 for e in edges),
                f"block_shape {block} must be positive, crops/paddings {edges} non-negative")
    if rank == 3:  # NHC: W = 1
        ishape, oshape = [*ishape[:2], 1, *ishape[2:]], [*oshape[:2], 1, *oshape[2:]]
        block, edges = [*block, 1], [*edges, 0, 0]
    (ib, ih, iw, c), (ob, oh, ow, oc) = ishape, oshape
    bh, bw = block
    if ctx.op.opcode == "BATCH_TO_SPACE_ND":
        ctx.require(ib % (bh * bw) == 0, f"input batch {ib} is not a multiple of the block {bh}x{bw}")
        want = [ib // (bh * bw), ih * bh - edges[0] - edges[1], iw * bw - edges[2] - edges[3], c]
    else:
        ph, pw = ih + edges[0] + edges[1], iw + edges[2] + edges[3]
        ctx.require(ph % bh == 0 and pw % bw == 0, f"padded input {ph}x{pw} is not a multiple of the block {bh}x{bw}")
        want = [ib * bh * bw, ph // bh, pw // bw, c]
        q = out.quantization
        zp = int(q.zero_point[0]) if q is not None and q.zero_point else 0
        ctx.require(not any(edges) or zp == 0 or out.dtype != "int8",
                    f"paddings {edges} with output zero point {zp}: TFLM pads with an unset value (0), TFLite with "
                    "the zero point")
    ctx.require([ob, oh, ow, oc] == want and min(want) > 0, f"output shape {list(out.shape)} does not match "
                f"{want} (NHWC)")
    return dict(in_b=ib, in_h=ih, in_w=iw, out_b=ob, out_h=oh, out_w=ow, block_h=bh, block_w=bw, top=edges[0],
                left=edges[2], depth_bytes=c * np.dtype(inp.dtype).itemsize)


@register
class SpaceBatch(OpHandler):
    """BATCH_TO_SPACE_ND / SPACE_TO_BATCH_ND (ek_space_batch.h)."""

    opcodes = ("BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND")

    def check(self, ctx: OpContext) -> None:
        _params(ctx)

    def emit(self, ctx: OpContext) -> str:
        fn = "ek_batch_to_space" if ctx.op.opcode == "BATCH_TO_SPACE_ND" else "ek_space_to_batch"
        return "\n".join(["{", *("    " + line for line in c_struct("ek_space_batch_params_t", "p",
                                                                      _params(ctx)).splitlines()),
                          f"    {fn}(&p, {ctx.ptr(ctx.op.inputs[0], 'uint8_t')}, "
                          f"{ctx.ptr(ctx.op.outputs[0], 'uint8_t')});", "}"])
