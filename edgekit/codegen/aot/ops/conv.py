"""CONV_2D (incl. grouped) and DEPTHWISE_CONV_2D, int8 with per-channel or per-tensor weights."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, fused_range, register, scale_zp
from edgekit.codegen.aot.quant import conv_multipliers


def _conv_params(ctx: OpContext, depthwise: bool) -> dict[str, object]:
    """Validate the operator and compute every kernel parameter (shared by check and emit)."""
    inp, filt, bias, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.require_dtype(inp, "int8", what="input")
    ctx.require_dtype(filt, "int8", what="filter")
    ctx.require_dtype(out, "int8", what="output")
    ctx.require(filt.is_const, f"filter '{filt.name}' is not a constant")
    if bias is not None:
        ctx.require_dtype(bias, "int32", what="bias")
        ctx.require(bias.is_const, f"bias '{bias.name}' is not a constant")
    ctx.require(len(inp.shape) == 4 and len(filt.shape) == 4 and len(out.shape) == 4,
                f"expected 4-D input/filter/output, got {inp.shape}, {filt.shape}, {out.shape}")
    n, in_h, in_w, in_c = inp.shape
    ob, out_h, out_w, out_c = out.shape
    ctx.require(ob == n, f"batch mismatch: input {n}, output {ob}")
    opts = ctx.options
    stride_h, stride_w = int(opts.get("stride_h", 1)), int(opts.get("stride_w", 1))
    dil_h, dil_w = int(opts.get("dilation_h_factor", 1)), int(opts.get("dilation_w_factor", 1))
    padding = opts.get("padding", "SAME")
    if depthwise:
        _, k_h, k_w, f_c = filt.shape
        mult = int(opts.get("depth_multiplier", 1)) or 1
        ctx.require(filt.shape[0] == 1, f"depthwise filter must have shape [1,h,w,c], got {filt.shape}")
        ctx.require(f_c == out_c, f"filter channels {f_c} != output channels {out_c}")
        # TFLM derives the multiplier from the shapes when the option disagrees
        if in_c * mult != out_c:
            ctx.require(in_c > 0 and out_c % in_c == 0, f"output channels {out_c} not a multiple of input {in_c}")
            mult = out_c // in_c
        k_c = 1
        quant_dim_expected = 3
    else:
        f_oc, k_h, k_w, k_c = filt.shape
        ctx.require(f_oc == out_c, f"filter outputs {f_oc} != output channels {out_c}")
        ctx.require(k_c > 0 and in_c % k_c == 0, f"input channels {in_c} not a multiple of filter depth {k_c}")
        groups = in_c // k_c
        ctx.require(out_c % groups == 0, f"output channels {out_c} not divisible into {groups} groups")
        mult = 1
        quant_dim_expected = 0
    try:
        ph = compute_padding(padding, in_h, k_h, stride_h, dil_h)
        pw = compute_padding(padding, in_w, k_w, stride_w, dil_w)
    except ValueError as exc:
        ctx.fail(str(exc))
    ctx.require((ph.out_size, pw.out_size) == (out_h, out_w),
                f"output {out_h}x{out_w} does not match {padding} padding ({ph.out_size}x{pw.out_size})")
    in_scale, in_zp = scale_zp(ctx, inp, "input")
    out_scale, out_zp = scale_zp(ctx, out, "output")
    fq = filt.quantization
    ctx.require(fq is not None and len(fq.scale) in (1, out_c), f"filter '{filt.name}' needs 1 or {out_c} scales")
    if len(fq.scale) > 1:
        ctx.require(fq.quantized_dimension == quant_dim_expected,
                    f"filter quantized along dim {fq.quantized_dimension}, expected {quant_dim_expected}")
    if bias is not None:
        ctx.require(int(np.prod(bias.shape)) == out_c, f"bias has {int(np.prod(bias.shape))} values, expected {out_c}")
    mults, shifts = conv_multipliers(in_scale, fq.scale, out_scale, out_c)
    ctx.require(all(-31 <= s <= 30 for s in shifts), "requantization shift out of range")
    act_min, act_max = fused_range(ctx, out)
    return dict(batches=n, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
                k_h=k_h, k_w=k_w, k_c=k_c, stride_h=stride_h, stride_w=stride_w, dil_h=dil_h, dil_w=dil_w,
                pad_h=ph.before, pad_w=pw.before, depth_multiplier=mult, in_offset=-in_zp, out_offset=out_zp,
                act_min=act_min, act_max=act_max, _mults=mults, _shifts=shifts)


class _ConvBase(OpHandler):
    depthwise = False
    kernel = ""

    def check(self, ctx: OpContext) -> None:
        _conv_params(ctx, self.depthwise)

    def emit(self, ctx: OpContext) -> str:
        p = _conv_params(ctx, self.depthwise)
        mult = ctx.const_array(f"{ctx.ident}_mult", np.array(p.pop("_mults"), dtype=np.int32), "int32_t")
        shift = ctx.const_array(f"{ctx.ident}_shift", np.array(p.pop("_shifts"), dtype=np.int8), "int8_t")
        p.update(out_mult=mult, out_shift=shift)
        bias = ctx.ptr(ctx.op.inputs[2], "int32_t", role="bias") if ctx.input(2) is not None else "NULL"
        filt = ctx.ptr(ctx.op.inputs[1], role="filter")
        return "\n".join([
            "{",
            *("    " + line for line in c_struct("ek_conv_params_t", "p", p).splitlines()),
            f"    {self.kernel}(&p, {ctx.ptr(ctx.op.inputs[0])}, {filt}, {bias},",
            f"        {ctx.ptr(ctx.op.outputs[0])});",
            "}",
        ])


@register
class Conv2D(_ConvBase):
    """CONV_2D: SAME/VALID padding, strides, dilations, groups, fused ReLU family."""

    opcodes = ("CONV_2D",)
    kernel = "ek_conv2d_s8"


@register
class DepthwiseConv2D(_ConvBase):
    """DEPTHWISE_CONV_2D: any depth multiplier, strides, dilations, fused ReLU family."""

    opcodes = ("DEPTHWISE_CONV_2D",)
    depthwise = True
    kernel = "ek_depthwise_conv2d_s8"
