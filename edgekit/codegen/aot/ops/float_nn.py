"""float32 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE/MAX/L2_POOL_2D, SOFTMAX, LOG_SOFTMAX.

Kernels in ``ek_float_nn.c`` / ``ek_float.c``: TFLM's float reference kernels, same loop order (float_common.py
says which results are bit-exact). Weights stay in their TFLite layout as ``static const float`` arrays (flash).
"""

from __future__ import annotations

import math

from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.ops.base import OpContext, c_struct
from edgekit.codegen.aot.ops.dispatch import FloatOpHandler, register_float
from edgekit.codegen.aot.ops.float_common import act_range, c_float, require_f32
from edgekit.codegen.aot.ops.pooling import pool_window


def _block(struct: str, ctype: str, fields: dict[str, object], call: str) -> str:
    return "\n".join(["{", *("    " + ln for ln in c_struct(ctype, struct, fields).splitlines()), f"    {call}", "}"])


def _conv_params(ctx: OpContext, depthwise: bool) -> dict[str, object]:
    inp, filt, bias, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    require_f32(ctx, (inp, "input"), (filt, "filter"), (out, "output"))
    if bias is not None:
        require_f32(ctx, (bias, "bias"))
    ctx.require(len(inp.shape) == 4 and len(filt.shape) == 4 and len(out.shape) == 4,
                f"expected 4-D input/filter/output, got {inp.shape}, {filt.shape}, {out.shape}")
    n, in_h, in_w, in_c = (int(v) for v in inp.shape)
    ob, out_h, out_w, out_c = (int(v) for v in out.shape)
    ctx.require(ob == n, f"batch mismatch: input {n}, output {ob}")
    opts = ctx.options
    s_h, s_w = int(opts.get("stride_h", 1)), int(opts.get("stride_w", 1))
    d_h, d_w = int(opts.get("dilation_h_factor", 1)), int(opts.get("dilation_w_factor", 1))
    if depthwise:
        _, k_h, k_w, f_c = (int(v) for v in filt.shape)
        ctx.require(filt.shape[0] == 1 and f_c == out_c, f"depthwise filter {filt.shape} does not fit {out.shape}")
        ctx.require(in_c > 0 and out_c % in_c == 0, f"output channels {out_c} not a multiple of input {in_c}")
        k_c, mult = 1, out_c // in_c
    else:
        f_oc, k_h, k_w, k_c = (int(v) for v in filt.shape)
        ctx.require(f_oc == out_c, f"filter outputs {f_oc} != output channels {out_c}")
        ctx.require(k_c > 0 and in_c > 0 and in_c % k_c == 0 and out_c % (in_c // k_c) == 0,
                    f"input channels {in_c} / filter depth {k_c} / output channels {out_c} do not form groups")
        mult = 1
    if bias is not None:
        ctx.require(bias.size == out_c, f"bias has {bias.size} values, expected {out_c}")
    try:
        ph = compute_padding(opts.get("padding", "SAME"), in_h, k_h, s_h, d_h)
        pw = compute_padding(opts.get("padding", "SAME"), in_w, k_w, s_w, d_w)
    except ValueError as exc:
        ctx.fail(str(exc))
    ctx.require((ph.out_size, pw.out_size) == (out_h, out_w),
                f"output {out_h}x{out_w} does not match the padding ({ph.out_size}x{pw.out_size})")
    lo, hi = act_range(ctx)
    return dict(batches=n, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c, k_h=k_h, k_w=k_w,
                filter_in_c=k_c, depth_mult=mult, stride_h=s_h, stride_w=s_w, dil_h=d_h, dil_w=d_w,
                pad_h=ph.before, pad_w=pw.before, act_min=lo, act_max=hi)


def _bias(ctx: OpContext) -> str:
    return ctx.ptr(ctx.op.inputs[2], "float", role="bias") if ctx.input(2) is not None else "NULL"


@register_float
class FloatConv(FloatOpHandler):
    """float32 CONV_2D (groups, dilation, SAME/VALID, fused ReLU family) and DEPTHWISE_CONV_2D."""

    opcodes = ("CONV_2D", "DEPTHWISE_CONV_2D")

    def check(self, ctx: OpContext) -> None:
        _conv_params(ctx, ctx.op.opcode == "DEPTHWISE_CONV_2D")

    def emit(self, ctx: OpContext) -> str:
        dw = ctx.op.opcode == "DEPTHWISE_CONV_2D"
        p = _conv_params(ctx, dw)
        i, o = ctx.op.inputs, ctx.op.outputs
        fn = "ek_f32_depthwise" if dw else "ek_f32_conv"
        call = (f"{fn}(&p, {ctx.ptr(i[0], 'float')}, {ctx.ptr(i[1], 'float', role='filter')}, {_bias(ctx)}, "
                f"{ctx.ptr(o[0], 'float')});")
        return _block("p", "ek_f32_conv_params", p, call)


def _fc_params(ctx: OpContext) -> tuple[int, int, int]:
    inp, filt, bias, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    require_f32(ctx, (inp, "input"), (filt, "weights"), (out, "output"))
    if bias is not None:
        require_f32(ctx, (bias, "bias"))
    ctx.require(len(filt.shape) == 2 and len(out.shape) >= 1, f"weights must be 2-D, got {filt.shape}")
    units, depth = (int(v) for v in filt.shape)
    ctx.require(int(out.shape[-1]) == units, f"output depth {out.shape[-1]} != weight rows {units}")
    batches = math.prod(int(v) for v in out.shape[:-1])
    ctx.require(inp.size == batches * depth, f"input {inp.shape} does not hold {batches} rows of {depth}")
    if bias is not None:
        ctx.require(bias.size == units, f"bias has {bias.size} values, expected {units}")
    return batches, depth, units


@register_float
class FloatFullyConnected(FloatOpHandler):
    """float32 FULLY_CONNECTED (optional bias, keep_num_dims, fused ReLU family)."""

    opcodes = ("FULLY_CONNECTED",)

    def check(self, ctx: OpContext) -> None:
        _fc_params(ctx)
        act_range(ctx)
        wf = ctx.options.get("weights_format", "DEFAULT")
        ctx.require(wf in ("DEFAULT", 0), f"weights format {wf} is not supported")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        batches, depth, units = _fc_params(ctx)
        lo, hi = act_range(ctx)
        i = ctx.op.inputs
        return (f"ek_f32_fully_connected({ctx.ptr(i[0], 'float')}, {ctx.ptr(i[1], 'float', role='weights')}, "
                f"{_bias(ctx)}, {ctx.ptr(ctx.op.outputs[0], 'float')}, {batches}, {depth}, {units}, {lo}, {hi});")


_POOL_KIND = {"AVERAGE_POOL_2D": "EK_F32_POOL_AVG", "MAX_POOL_2D": "EK_F32_POOL_MAX", "L2_POOL_2D": "EK_F32_POOL_L2"}


@register_float
class FloatPool(FloatOpHandler):
    """float32 AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D (TFLM has L2_POOL_2D in float32 only)."""

    opcodes = tuple(_POOL_KIND)

    def _params(self, ctx: OpContext) -> dict[str, object]:
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(len(inp.shape) == 4 and len(out.shape) == 4, f"expected 4-D tensors, got {inp.shape}")
        n, in_h, in_w, c = (int(v) for v in inp.shape)
        on, out_h, out_w, oc = (int(v) for v in out.shape)
        ctx.require((on, oc) == (n, c), f"batch/channels differ: input {inp.shape}, output {out.shape}")
        k_h, k_w, s_h, s_w, ph, pw = pool_window(ctx, in_h, in_w, out_h, out_w)
        lo, hi = act_range(ctx)
        return dict(kind=_POOL_KIND[ctx.op.opcode], batches=n, in_h=in_h, in_w=in_w, channels=c, out_h=out_h,
                    out_w=out_w, k_h=k_h, k_w=k_w, stride_h=s_h, stride_w=s_w, pad_h=ph.before, pad_w=pw.before,
                    act_min=lo, act_max=hi)

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = self._params(ctx)
        return _block("p", "ek_f32_pool_params", p,
                      f"ek_f32_pool(&p, {ctx.ptr(ctx.op.inputs[0], 'float')}, {ctx.ptr(ctx.op.outputs[0], 'float')});")


@register_float
class FloatSoftmax(FloatOpHandler):
    """float32 SOFTMAX (beta) and LOG_SOFTMAX over the last dimension."""

    opcodes = ("SOFTMAX", "LOG_SOFTMAX")

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(len(inp.shape) >= 1 and inp.size == out.size, f"input {inp.shape} / output {out.shape} differ")

    def inplace(self, ctx: OpContext) -> bool:
        return True  # each row is read whole before it is written (max, then sum, then the quotients)

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        inp = ctx.input(0)
        depth = int(inp.shape[-1])
        rows = inp.size // depth if depth else 0
        src, dst = ctx.ptr(ctx.op.inputs[0], "float"), ctx.ptr(ctx.op.outputs[0], "float")
        if ctx.op.opcode == "LOG_SOFTMAX":
            return f"ek_f32_log_softmax({src}, {dst}, {rows}, {depth});"
        return f"ek_f32_softmax({src}, {dst}, {rows}, {depth}, {c_float(ctx.options.get('beta', 1.0))});"


@register_float
class FloatDequantize16(FloatOpHandler):
    """DEQUANTIZE of a constant float16 tensor: folded into a float32 constant at generate time (fold.py)."""

    opcodes = ("DEQUANTIZE",)

    def claims(self, ctx: OpContext) -> bool:
        first = ctx.input(0)
        return first is not None and first.dtype == "float16"

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require(inp.is_const, f"float16 input '{inp.name}' is not a constant: float16 activations are not "
                    "supported (float16 weights are, converted to float32 when the code is generated)")
        ctx.require(out.is_const, f"float16 constant '{inp.name}' could not be folded: its float32 output "
                    f"'{out.name}' is a graph output or has another shape")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        return "/* nothing to do: folded into a float32 constant when the code was generated */"


def conv_params(ctx: OpContext) -> dict[str, object]:
    """The ``ek_f32_conv_params`` fields of a float32 CONV_2D (for fusion.py's CONV_2D + ADD blocks)."""
    return _conv_params(ctx, False)
