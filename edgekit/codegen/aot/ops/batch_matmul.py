"""BATCH_MATMUL, int8 and int16 (``ek_batch_matmul.c``), bit-exact with TFLM's reference kernel.

adj_x / adj_y become element strides; batch dimensions (up to 3, i.e. 5-D operands as TFLM) broadcast
where one side has 1. A constant right-hand side that is not already [..., cols, depth] (adj_y false) is
transposed here once, so the kernel reads both operands contiguously (TFLM transposes it at run time).
The output multiplier is TFLM's ``GetQuantizedConvolutionMultipler`` (float product of the two input
scales, divided in double); int16 needs zero points 0 and accumulates in 64 bits, as TFLM.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.quant import fc_multiplier

RANK = 5


def _extent(shape: tuple[int, ...], d: int) -> int:
    """TFLM's ``batch_matmul::extent``: the element stride of dimension d, 0 where it has size 1."""
    return 0 if shape[d] == 1 else math.prod(shape[d + 1:])


def geometry(ctx: OpContext) -> tuple[dict[str, object], bool]:
    """Shapes and element strides of a BATCH_MATMUL (any dtype; ``ctx.fail`` on what TFLM rejects), and whether a
    constant right-hand side is stored transposed ([..., cols, depth])."""
    lhs, rhs, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(rhs is not None, "rhs is missing")
    ctx.require(2 <= len(lhs.shape) <= RANK and 2 <= len(rhs.shape) <= RANK,
                f"operands must have 2 to {RANK} dimensions")
    adj_x, adj_y = bool(ctx.options.get("adj_x", False)), bool(ctx.options.get("adj_y", False))
    lsh = (1,) * (RANK - len(lhs.shape)) + tuple(lhs.shape)
    rsh = (1,) * (RANK - len(rhs.shape)) + tuple(rhs.shape)
    rows, depth = (lsh[4], lsh[3]) if adj_x else (lsh[3], lsh[4])
    r_depth, cols = (rsh[4], rsh[3]) if adj_y else (rsh[3], rsh[4])
    ctx.require(depth == r_depth, f"lhs {list(lhs.shape)} and rhs {list(rhs.shape)} do not multiply "
                                  f"(adj_x={adj_x}, adj_y={adj_y})")
    batch = []
    for d in range(3):
        ctx.require(lsh[d] == rsh[d] or 1 in (lsh[d], rsh[d]),
                    f"batch dimensions of {list(lhs.shape)} and {list(rhs.shape)} do not broadcast")
        batch.append(max(lsh[d], rsh[d]))
    out_rank = max(len(lhs.shape), len(rhs.shape))
    want = (*batch, rows, cols)[RANK - out_rank:]
    ctx.require(tuple(out.shape) == want, f"output {list(out.shape)} is not {list(want)}")
    transpose_rhs = bool(rhs.is_const and not adj_y)
    if transpose_rhs:  # stored as [..., cols, depth]
        rsh = (*rsh[:3], cols, depth)
    rhs_cols_first = adj_y or transpose_rhs
    return {
        "batch": batch, "lhs_batch_stride": [_extent(lsh, d) for d in range(3)],
        "rhs_batch_stride": [_extent(rsh, d) for d in range(3)], "rows": rows, "cols": cols, "depth": depth,
        "lhs_row_stride": 1 if adj_x else depth, "lhs_depth_stride": rows if adj_x else 1,
        "rhs_col_stride": depth if rhs_cols_first else 1, "rhs_depth_stride": 1 if rhs_cols_first else cols,
    }, transpose_rhs


def transposed_rhs(ctx: OpContext, ctype: str) -> str:
    """C expression of a constant rhs stored as [..., cols, depth] (transposed once here; TFLM does it at run
    time)."""
    arr = ctx.input(1).array()
    arr = arr.reshape((1,) * (RANK - arr.ndim) + arr.shape)
    name = ctx.const_array(f"{ctx.ident}_rhs_t", np.ascontiguousarray(np.swapaxes(arr, -1, -2)), ctype)
    return f"((const {ctype} *){name})"


class _Plan:
    """Shapes and strides of one BATCH_MATMUL (``ctx.fail`` on anything TFLM would reject)."""

    def __init__(self, ctx: OpContext) -> None:
        lhs, rhs, out = ctx.input(0), ctx.input(1), ctx.output(0)
        ctx.require_dtype(lhs, "int8", "int16", what="lhs")
        ctx.require(rhs is not None and rhs.dtype == lhs.dtype and out.dtype == lhs.dtype,
                    "lhs, rhs and output must have one dtype (int8 or int16)")
        self.params, self.transpose_rhs = geometry(ctx)
        (sl, zl), (sr, zr), (so, zo) = (scale_zp(ctx, lhs, "lhs"), scale_zp(ctx, rhs, "rhs"),
                                        scale_zp(ctx, out, "output"))
        mult, shift = fc_multiplier(sl, sr, so)
        info = np.iinfo(lhs.dtype)
        if lhs.dtype == "int16":
            ctx.require(zl == 0 and zr == 0 and zo == 0, "int16 BATCH_MATMUL needs zero points 0 (TFLM)")
            ctx.require(shift < 8, "input scales too large relative to the output scale")
        else:
            ctx.require(shift <= 30, "input scales too large relative to the output scale")
        self.params.update(lhs_offset=-zl, rhs_offset=-zr, out_offset=zo, out_multiplier=mult, out_shift=shift,
                           act_min=int(info.min), act_max=int(info.max))


@register
class BatchMatMul(OpHandler):
    """BATCH_MATMUL, int8 / int16, constant or variable operands."""

    opcodes = ("BATCH_MATMUL",)

    def check(self, ctx: OpContext) -> None:
        _Plan(ctx)

    def emit(self, ctx: OpContext) -> str:
        plan = _Plan(ctx)
        ctype = "int8_t" if ctx.output(0).dtype == "int8" else "int16_t"
        if plan.transpose_rhs:
            rhs = transposed_rhs(ctx, ctype)
        else:
            rhs = ctx.ptr(ctx.op.inputs[1], ctype, role="rhs")
        fn = "ek_batch_matmul_s8" if ctype == "int8_t" else "ek_batch_matmul_s16"
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_batch_matmul_params", "p",
                                                                  plan.params).splitlines()),
                          f"    {fn}({ctx.ptr(ctx.op.inputs[0], ctype)}, {rhs}, "
                          f"{ctx.ptr(ctx.op.outputs[0], ctype)}, &p);", "}"])
