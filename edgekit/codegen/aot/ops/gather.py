"""GATHER (axis, batch_dims) and GATHER_ND: int8 (and float32) values picked by int32 indices (TFLM's types).

The indices may be a model input or a constant; they are read at run time and an out-of-range index
makes ``ek_model_invoke`` fail with the op's error code instead of reading outside the tensor.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register
from edgekit.codegen.aot.ops.transpose import require_small

_DTYPES = ("int8", "float32")


def _prod(dims: list[int]) -> int:
    return int(np.prod(dims, dtype=np.int64)) if dims else 1


def _io(ctx: OpContext, what: str) -> tuple[list[int], list[int], list[int], int]:
    require_small(ctx)
    params, idx, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(params is not None and idx is not None, f"{what} or indices missing")
    ctx.require_dtype(params, *_DTYPES, what=what)
    ctx.require_dtype(idx, "int32", what="indices")
    ctx.require(out.dtype == params.dtype, f"output dtype {out.dtype} != {what} dtype {params.dtype}")
    return list(params.shape), list(idx.shape), list(out.shape), np.dtype(params.dtype).itemsize


def _gather(ctx: OpContext) -> dict[str, int]:
    shape, ishape, oshape, es = _io(ctx, "input")
    rank = len(shape)
    ctx.require(rank >= 1, "the input is a scalar")
    axis = int(ctx.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    ctx.require(0 <= axis < rank, f"axis {ctx.options.get('axis')} out of range for rank {rank}")
    bd = int(ctx.options.get("batch_dims", 0))
    bd = bd + len(ishape) if bd < 0 else bd
    ctx.require(0 <= bd <= axis and bd < rank and bd <= len(ishape),
                f"batch_dims {ctx.options.get('batch_dims')} not supported with axis {axis}, input rank {rank}, "
                f"indices rank {len(ishape)}")
    ctx.require(shape[:bd] == ishape[:bd], f"batch dims of input {shape} and indices {ishape} differ")
    want = shape[:axis] + ishape[bd:] + shape[axis + 1:]
    ctx.require(oshape == want, f"output shape {oshape} != {want}")
    return dict(batch=_prod(shape[:bd]), outer=_prod(shape[bd:axis]), axis_size=shape[axis],
                coord_size=_prod(ishape[bd:]), inner_bytes=_prod(shape[axis + 1:]) * es)


def _gather_nd(ctx: OpContext) -> dict[str, object]:
    shape, ishape, oshape, es = _io(ctx, "params")
    ctx.require(len(shape) >= 1 and len(ishape) >= 1, "params and indices must be at least vectors")
    ctx.require(min(shape) > 0, f"params shape {shape} has an empty dimension")
    nd = ishape[-1]
    ctx.require(1 <= nd <= min(len(shape), 5), f"index tuples of {nd} values not supported (1..5, <= params rank)")
    want = ishape[:-1] + shape[nd:]
    ctx.require(oshape == want, f"output shape {oshape} != {want}")
    total = _prod(shape)
    dim_elems, remain = [], total
    for d in range(nd):
        remain //= shape[d]
        dim_elems.append(remain)
    return dict(n_slices=_prod(ishape[:-1]), nd=nd, dim_elems=dim_elems + [0] * (5 - nd),
                slice_elems=_prod(shape[nd:]), total_elems=total, elem_size=es)


@register
class Gather(OpHandler):
    """GATHER / GATHER_ND (ek_gather.h)."""

    opcodes = ("GATHER", "GATHER_ND")

    def check(self, ctx: OpContext) -> None:
        (_gather if ctx.op.opcode == "GATHER" else _gather_nd)(ctx)

    def emit(self, ctx: OpContext) -> str:
        nd = ctx.op.opcode == "GATHER_ND"
        fields = _gather_nd(ctx) if nd else _gather(ctx)
        ctype, fn = ("ek_gather_nd_params_t", "ek_gather_nd") if nd else ("ek_gather_params_t", "ek_gather")
        args = (f"&p, {ctx.ptr(ctx.op.inputs[0], 'uint8_t')}, {ctx.ptr(ctx.op.inputs[1], 'int32_t')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'uint8_t')}")
        return "\n".join(["{", *("    " + line for line in c_struct(ctype, "p", fields).splitlines()),
                          f"    if ({fn}({args}) != EK_OK) return EK_ERR_OP({ctx.op.index});", "}"])
