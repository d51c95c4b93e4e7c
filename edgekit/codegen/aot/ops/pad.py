"""PAD and PADV2 for any element type, up to 5 dimensions (a copy; int8 PAD fills with the output zero point)."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import CTYPES, OpContext, OpHandler, c_struct, register

MAX_DIMS = 5


def _pad_params(ctx: OpContext) -> tuple[dict[str, object], np.ndarray]:
    inp, paddings, out = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(inp is not None and paddings is not None, "input or paddings missing")
    ctx.require(inp.dtype == out.dtype, f"input dtype {inp.dtype} != output dtype {out.dtype}")
    ctx.require(inp.dtype in CTYPES, f"dtype {inp.dtype} is not supported")
    ctx.require(paddings.is_const, "paddings must be a constant tensor")
    ctx.require(paddings.dtype == "int32", f"paddings must be int32 (TFLM reads them as int32), got {paddings.dtype}")
    rank = len(inp.shape)
    ctx.require(1 <= rank <= MAX_DIMS and len(out.shape) == rank, f"rank {rank} not supported (1..{MAX_DIMS})")
    pads = paddings.array().reshape(-1).astype(np.int64)
    ctx.require(pads.size == 2 * rank, f"paddings have {pads.size} values, expected {2 * rank}")
    pads = pads.reshape(rank, 2)
    ctx.require(bool((pads >= 0).all()), "negative paddings are not supported")
    for d in range(rank):
        ctx.require(out.shape[d] == inp.shape[d] + pads[d, 0] + pads[d, 1],
                    f"output dim {d} is {out.shape[d]}, expected {inp.shape[d] + pads[d, 0] + pads[d, 1]}")
    dtype = np.dtype(inp.dtype)
    const = ctx.input(2)
    if const is not None:
        ctx.require(const.is_const and const.dtype == inp.dtype and int(np.prod(const.shape)) == 1,
                    "constant_values must be a one-element constant of the input's dtype")
        if inp.dtype == "int8":
            cq, oq = const.quantization, out.quantization
            ctx.require(cq is not None and oq is not None and cq.zero_point[:1] == oq.zero_point[:1]
                        and cq.scale[:1] == oq.scale[:1], "constant_values quantization differs from the output's")
        value = const.array().reshape(-1)[:1].astype(dtype)
    elif inp.dtype == "int8":
        zp = out.quantization.zero_point[0] if out.quantization and out.quantization.zero_point else 0
        ctx.require(-128 <= zp <= 127, f"output zero point {zp} out of int8 range")
        value = np.array([zp], dtype=dtype)
    else:
        value = np.zeros(1, dtype=dtype)
    lead = MAX_DIMS - rank
    params = dict(in_shape=[1] * lead + list(inp.shape), out_shape=[1] * lead + list(out.shape),
                  before=[0] * lead + [int(x) for x in pads[:, 0]], elem_size=dtype.itemsize)
    return params, value


@register
class Pad(OpHandler):
    """PAD / PADV2 (constant padding)."""

    opcodes = ("PAD", "PADV2")

    def check(self, ctx: OpContext) -> None:
        _pad_params(ctx)

    def emit(self, ctx: OpContext) -> str:
        params, value = _pad_params(ctx)
        ctype = CTYPES[ctx.input(0).dtype]
        return "\n".join([
            "{",
            *("    " + line for line in c_struct("ek_pad_params_t", "p", params).splitlines()),
            f"    static const {ctype} value = {value.tolist()[0]!r}{'f' if ctype == 'float' else ''};",
            f"    ek_pad(&p, {ctx.ptr(ctx.op.inputs[0], 'uint8_t')}, &value, {ctx.ptr(ctx.op.outputs[0], 'uint8_t')});",
            "}",
        ])
