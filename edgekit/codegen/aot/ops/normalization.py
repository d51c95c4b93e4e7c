"""L2_NORMALIZATION and LOG_SOFTMAX over the last dimension, int8 (``ek_normalization.c``).

TFLM's int8 L2_NORMALIZATION (``l2norm.cc``) takes at most 4-D input, no fused activation, and writes
in scale 1/128 with zero point 0 whatever the output tensor says. Its int8 LOG_SOFTMAX (``log_softmax.cc``)
requires the output quantization (16/256, 127); the generator tabulates the rescaled differences and
their Q12 exps for the 256 possible values of ``x - max(row)``, the device takes the fixed-point log.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops import fixedpoint as fp
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.ops.softmax import softmax_input_params
from edgekit.codegen.aot.quant import quantize_multiplier, rdbpot, srdhm


def _rows(ctx: OpContext) -> tuple[int, int]:
    inp, out = ctx.input(0), ctx.output(0)
    ctx.require_dtype(inp, "int8", what="input")
    ctx.require_dtype(out, "int8", what="output")
    ctx.require(len(inp.shape) >= 1 and tuple(inp.shape) == tuple(out.shape),
                f"input {list(inp.shape)} and output {list(out.shape)} differ")
    depth = int(inp.shape[-1])
    return inp.size // max(depth, 1), depth


@register
class L2Normalization(OpHandler):
    """L2_NORMALIZATION, int8 (TFLM: up to 4-D, activation NONE)."""

    opcodes = ("L2_NORMALIZATION",)

    def check(self, ctx: OpContext) -> None:
        _rows(ctx)
        ctx.require(len(ctx.input(0).shape) <= 4, "TFLM's L2_NORMALIZATION takes at most 4-D input")
        act = ctx.options.get("fused_activation_function", "NONE")
        ctx.require(act == "NONE", f"fused activation {act}: TFLM's L2_NORMALIZATION supports NONE only")
        scale_zp(ctx, ctx.input(0), "input")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        outer, depth = _rows(ctx)
        zp = scale_zp(ctx, ctx.input(0), "input")[1]
        return f"ek_l2norm_s8({ctx.ptr(ctx.op.inputs[0])}, {ctx.ptr(ctx.op.outputs[0])}, {outer}, {depth}, {zp});"

    def inplace(self, ctx: OpContext) -> bool:
        return True


def log_softmax_params(input_scale: float) -> dict[str, object]:
    """Tables and constants of TFLM's int8 LOG_SOFTMAX (``PreprocessLogSoftmaxScalingExp`` with beta 1).

    Raises ValueError where TFLM's Prepare aborts (input scale below 2**-26; reverse divisor not below 1).
    """
    mult, shift, diff_min = softmax_input_params(1.0, input_scale)
    reverse = float(1 << (31 - shift)) / float(mult)
    if not 0.0 < reverse < 1.0:
        raise ValueError(f"input scale {input_scale:g} gives a reverse scaling divisor {reverse:g} outside (0, 1)")
    rev_m, rev_s = quantize_multiplier(reverse)
    diff = -np.arange(256, dtype=np.int64)
    q5 = srdhm(fp.wrap32(diff << shift), mult)
    exp = np.where(diff >= diff_min, rdbpot(fp.exp_on_negative_values(q5, 5), 12), 0)
    return {"exp_q12": exp.astype(np.int32), "diff_q5": fp.wrap32(q5).astype(np.int32), "diff_min": diff_min,
            "reverse_multiplier": rev_m, "reverse_shift": rev_s}


@register
class LogSoftmax(OpHandler):
    """LOG_SOFTMAX, int8 (output scale 16/256, zero point 127, as TFLM requires)."""

    opcodes = ("LOG_SOFTMAX",)

    def _params(self, ctx: OpContext) -> dict[str, object]:
        _rows(ctx)
        in_scale, _ = scale_zp(ctx, ctx.input(0), "input")
        out_scale, out_zp = scale_zp(ctx, ctx.output(0), "output")
        ctx.require(np.float32(out_scale) == np.float32(16 / 256) and out_zp == 127,
                    f"output quantization ({out_scale:g}, {out_zp}) is not TFLM's (16/256, 127)")
        try:
            return log_softmax_params(in_scale)
        except ValueError as exc:
            ctx.fail(str(exc))

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        params = self._params(ctx)
        outer, depth = _rows(ctx)
        params["exp_q12"] = ctx.const_array(f"{ctx.ident}_log_softmax_exp", params["exp_q12"], "int32_t")
        params["diff_q5"] = ctx.const_array(f"{ctx.ident}_log_softmax_q5", params["diff_q5"], "int32_t")
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_log_softmax_params", "p", params).splitlines()),
                          f"    ek_log_softmax_s8({ctx.ptr(ctx.op.inputs[0])}, {ctx.ptr(ctx.op.outputs[0])}, "
                          f"{outer}, {depth}, &p);", "}"])

    def inplace(self, ctx: OpContext) -> bool:
        return True
