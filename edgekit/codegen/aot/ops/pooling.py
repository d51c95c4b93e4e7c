"""AVERAGE_POOL_2D and MAX_POOL_2D, int8 and int16 (``ek_int16.c``); input and output share scale and zero point."""

from __future__ import annotations

from typing import Any

from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, fused_range, register, scale_zp


def pool_window(ctx: OpContext, in_h: int, in_w: int, out_h: int, out_w: int) -> tuple[int, int, int, int, Any, Any]:
    """The pool's filter size, strides and padding from its options, checked against the output size (any dtype):
    ``(k_h, k_w, stride_h, stride_w, pad_h, pad_w)`` with the paddings as :func:`compute_padding` gives them."""
    opts = ctx.options
    k_h, k_w = int(opts.get("filter_height", 1)), int(opts.get("filter_width", 1))
    s_h, s_w = int(opts.get("stride_h", 1)), int(opts.get("stride_w", 1))
    try:
        ph = compute_padding(opts.get("padding", "VALID"), in_h, k_h, s_h)
        pw = compute_padding(opts.get("padding", "VALID"), in_w, k_w, s_w)
    except ValueError as exc:
        ctx.fail(str(exc))
    ctx.require((ph.out_size, pw.out_size) == (out_h, out_w),
                f"output {out_h}x{out_w} does not match the padding ({ph.out_size}x{pw.out_size})")
    return k_h, k_w, s_h, s_w, ph, pw


def _pool_params(ctx: OpContext) -> dict[str, object]:
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require_dtype(inp, "int8", "int16", what="input")
    ctx.require_dtype(out, inp.dtype, what="output")
    ctx.require(len(inp.shape) == 4 and len(out.shape) == 4, f"expected 4-D tensors, got {inp.shape}, {out.shape}")
    n, in_h, in_w, c = inp.shape
    on, out_h, out_w, oc = out.shape
    ctx.require((on, oc) == (n, c), f"batch/channels differ: input {inp.shape}, output {out.shape}")
    in_scale, in_zp = scale_zp(ctx, inp, "input")
    out_scale, out_zp = scale_zp(ctx, out, "output")
    ctx.require(abs(in_scale - out_scale) <= 1e-6 and in_zp == out_zp,
                "input and output quantization differ (TFLM requires them equal)")
    k_h, k_w, s_h, s_w, ph, pw = pool_window(ctx, in_h, in_w, out_h, out_w)
    act_min, act_max = fused_range(ctx, out, *((-32768, 32767) if inp.dtype == "int16" else (-128, 127)))
    return dict(batches=n, in_h=in_h, in_w=in_w, channels=c, out_h=out_h, out_w=out_w, k_h=k_h, k_w=k_w,
                stride_h=s_h, stride_w=s_w, pad_h=ph.before, pad_w=pw.before, act_min=act_min, act_max=act_max)


def _global(p: dict[str, object]) -> bool:
    """A window over each whole image (one output pixel) of at most 255 pixels: ``ek_avgpool_s8_global`` on MVE
    cores (int16 vector sums)."""
    return (p["k_h"] == p["in_h"] and p["k_w"] == p["in_w"] and p["pad_h"] == 0 and p["pad_w"] == 0
            and int(p["in_h"]) * int(p["in_w"]) <= 255)


class _Pool(OpHandler):
    call = ""

    def check(self, ctx: OpContext) -> None:
        _pool_params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _pool_params(ctx)
        ct, sfx = ("int16_t", "s16") if ctx.input(0).dtype == "int16" else ("int8_t", "s8")
        args = f"&p, {ctx.ptr(ctx.op.inputs[0], ct)}, {ctx.ptr(ctx.op.outputs[0], ct)}"
        if self.call == "avg" and sfx == "s8" and ctx.mve and _global(p):  # no window arithmetic linked
            return (f"ek_avgpool_s8_global({ctx.ptr(ctx.op.inputs[0], ct)}, {ctx.ptr(ctx.op.outputs[0], ct)}, "
                    f"{p['batches']}, {int(p['in_h']) * int(p['in_w'])}, {p['channels']}, {p['act_min']}, "
                    f"{p['act_max']});")
        call = (f"    if (ek_avgpool_{sfx}({args}) != EK_OK) return EK_ERR_OP({ctx.op.index});" if self.call == "avg"
                else f"    ek_maxpool_{sfx}({args});")
        return "\n".join(["{", *("    " + line for line in c_struct("ek_pool_params_t", "p", p).splitlines()),
                          call, "}"])


@register
class AveragePool2D(_Pool):
    """AVERAGE_POOL_2D: windows clipped at the borders, rounding half away from zero."""

    opcodes = ("AVERAGE_POOL_2D",)
    call = "avg"


@register
class MaxPool2D(_Pool):
    """MAX_POOL_2D."""

    opcodes = ("MAX_POOL_2D",)
    call = "max"
