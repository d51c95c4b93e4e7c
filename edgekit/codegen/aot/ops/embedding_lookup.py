"""EMBEDDING_LOOKUP (TFLM's kernel): rows of a value table picked by int32 ids read at run time.

float32 -> float32 and int8 -> int8 copy whole rows (``ek_gather`` on axis 0); int8 -> float32 (TFLM's hybrid path)
dequantizes each row as ``(v - 0) * scale`` with the table's per-tensor scale, one float rounding per element
(``ek_f32_embedding_hybrid`` in ``ek_float_rnn.c``; the zero point must be 0, as TFLM checks). An id outside the
table makes ``ek_model_invoke`` fail with the op's error code, as TFLM's kernel returns an error.
"""

from __future__ import annotations

import math

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.ops.float_common import c_float


def _shapes(ctx: OpContext) -> tuple[int, int, int]:
    """(ids, rows, row elements) of the lookup."""
    ids, value, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(ids is not None and value is not None, "ids or value table missing")
    ctx.require_dtype(ids, "int32", what="ids")
    ctx.require(len(ids.shape) == 1, f"ids must be 1-D, got {list(ids.shape)}")
    ctx.require_dtype(value, "float32", "int8", what="value table")
    if value.dtype == "float32":
        ctx.require_dtype(out, "float32", what="output")
    else:
        ctx.require_dtype(out, "float32", "int8", what="output")
    ctx.require(len(value.shape) >= 2, f"value table must have 2 or more dimensions, got {list(value.shape)}")
    want = [ids.shape[0], *value.shape[1:]]
    ctx.require(list(out.shape) == want, f"output shape {list(out.shape)} != {want}")
    return int(ids.shape[0]), int(value.shape[0]), math.prod(int(d) for d in value.shape[1:])


@register
class EmbeddingLookup(OpHandler):
    """EMBEDDING_LOOKUP: float32, int8, and int8 table with float32 output (hybrid)."""

    opcodes = ("EMBEDDING_LOOKUP",)

    def check(self, ctx: OpContext) -> None:
        _shapes(ctx)
        if ctx.input(1).dtype == "int8" and ctx.output(0).dtype == "float32":
            _, zp = scale_zp(ctx, ctx.input(1), "value table")
            ctx.require(zp == 0, f"the int8 value table has zero point {zp}; TFLM's hybrid lookup needs 0")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        n_ids, rows, cols = _shapes(ctx)
        value, out = ctx.input(1), ctx.output(0)
        ids = ctx.ptr(ctx.op.inputs[0], "int32_t")
        fail = f"return EK_ERR_OP({ctx.op.index});"
        if value.dtype == "int8" and out.dtype == "float32":
            scale, _ = scale_zp(ctx, value, "value table")
            table = ctx.ptr(ctx.op.inputs[1], "int8_t", role="table")
            return (f"if (ek_f32_embedding_hybrid({ids}, {n_ids}, {table}, {rows}, {cols}, {c_float(scale)}, "
                    f"{ctx.ptr(ctx.op.outputs[0], 'float')}) != EK_OK) {fail}")
        elem = 4 if value.dtype == "float32" else 1
        fields = dict(batch=1, outer=1, axis_size=rows, coord_size=n_ids, inner_bytes=cols * elem)
        args = (f"&p, {ctx.ptr(ctx.op.inputs[1], 'uint8_t', role='table')}, {ids}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'uint8_t')}")
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_gather_params_t", "p", fields).splitlines()),
                          f"    if (ek_gather({args}) != EK_OK) {fail}", "}"])
