"""TRANSPOSE_CONV: int8 (per-channel or per-tensor weights, optional int32 bias) and 16x8 (int64 or int16 bias).

Inputs as TFLite orders them: 0 output_shape (int32 [4]; when not a constant, e.g. a model input as in TFLM's
seanet layers, it is ignored as TFLM does: the output tensor's static shape rules), 1 filter
[out_c][k_h][k_w][in_c], 2 input, 3 bias (optional). Padding is TFLM's: ``ComputePaddingHeightWidth`` of a
stride-s convolution over the *output* size (no offset);
multipliers per output channel as ``PopulateConvolutionQuantizationParams``.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, fused_range, register, scale_zp
from edgekit.codegen.aot.quant import conv_multipliers


def _params(ctx: OpContext) -> dict[str, object]:
    ctx.require(len(ctx.op.inputs) in (3, 4), f"expected 3 or 4 inputs, got {len(ctx.op.inputs)}")
    shape_t, filt, inp, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    bias = ctx.input(3)
    ctx.require_dtype(inp, "int8", "int16", what="input")
    ctx.require_dtype(out, inp.dtype, what="output")
    ctx.require_dtype(filt, "int8", what="filter")
    ctx.require(filt.is_const, f"filter '{filt.name}' is not a constant")
    ctx.require(shape_t is not None, "output_shape is missing")
    ctx.require(len(inp.shape) == 4 and len(filt.shape) == 4 and len(out.shape) == 4, "input, filter, output: 4-D")
    if shape_t.is_const:
        ctx.require([int(v) for v in shape_t.array().reshape(-1)] == list(out.shape),
                    f"output_shape {shape_t.array().tolist()} differs from the output tensor {list(out.shape)}")
    else:  # TFLM never reads it (the output tensor's static shape rules); a model input or computed value
        ctx.require_dtype(shape_t, "int32", what="output_shape")
        ctx.require(tuple(shape_t.shape) == (4,), f"output_shape must be int32 [4], got {list(shape_t.shape)}")
    batches, in_h, in_w, in_c = inp.shape
    out_c, k_h, k_w, f_in = filt.shape
    ctx.require(f_in == in_c and out.shape[0] == batches and out.shape[3] == out_c,
                f"filter {list(filt.shape)} does not match input {list(inp.shape)} / output {list(out.shape)}")
    int16 = inp.dtype == "int16"
    if bias is not None:
        ctx.require_dtype(bias, *(("int64", "int16") if int16 else ("int32",)), what="bias")
        ctx.require(bias.is_const and bias.size == out_c, f"bias must be {out_c} constants")
    stride_h, stride_w = int(ctx.options.get("stride_h", 1)), int(ctx.options.get("stride_w", 1))
    padding = ctx.options.get("padding", "SAME")
    ctx.require(stride_h >= 1 and stride_w >= 1, f"strides ({stride_h}, {stride_w}) must be positive")
    try:
        pad_h = compute_padding(padding, out.shape[1], k_h, stride_h).before
        pad_w = compute_padding(padding, out.shape[2], k_w, stride_w).before
    except ValueError as e:
        ctx.fail(str(e))
    in_scale, in_zp = scale_zp(ctx, inp, "input")
    out_scale, out_zp = scale_zp(ctx, out, "output")
    if int16:
        ctx.require(in_zp == 0 and out_zp == 0, "16x8 needs zero points 0 (TFLM's int16 kernel ignores them)")
    fq = filt.quantization
    ctx.require(fq is not None and len(fq.scale) in (1, out_c), f"filter needs 1 or {out_c} scales")
    ctx.require(len(fq.scale) == 1 or fq.quantized_dimension == 0, "per-channel filter scales must be along dim 0")
    mults, shifts = conv_multipliers(in_scale, fq.scale, out_scale, out_c)
    ctx.require(all(-31 <= s <= (7 if int16 else 30) for s in shifts), "requantization shift out of range")
    lo, hi = (-32768, 32767) if int16 else (-128, 127)
    act_min, act_max = fused_range(ctx, out, lo, hi)
    return dict(batches=batches, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out.shape[1], out_w=out.shape[2],
                out_c=out_c, k_h=k_h, k_w=k_w, stride_h=stride_h, stride_w=stride_w, pad_h=pad_h, pad_w=pad_w,
                in_offset=-in_zp, out_offset=out_zp, act_min=act_min, act_max=act_max, _mults=mults, _shifts=shifts)


@register
class TransposeConv(OpHandler):
    """TRANSPOSE_CONV (int8, 16x8)."""

    opcodes = ("TRANSPOSE_CONV",)

    def check(self, ctx: OpContext) -> None:
        _params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _params(ctx)
        p["out_mult"] = ctx.const_array(f"{ctx.ident}_mult", np.array(p.pop("_mults"), dtype=np.int32), "int32_t")
        p["out_shift"] = ctx.const_array(f"{ctx.ident}_shift", np.array(p.pop("_shifts"), dtype=np.int8), "int8_t")
        int16 = ctx.input(2).dtype == "int16"
        act, bias_t = ("int16_t", "int64_t") if int16 else ("int8_t", "int32_t")
        ins = ctx.op.inputs
        bias = ctx.ptr(ins[3], bias_t, role="bias") if ctx.input(3) is not None else "NULL"
        if int16 and ctx.input(3) is not None and ctx.input(3).dtype == "int16":  # TFLM widens it to int64 too
            bias = ctx.const_array(f"{ctx.ident}_bias64", ctx.input(3).array().astype(np.int64), "int64_t")
        fn = "ek_transpose_conv_s16" if int16 else "ek_transpose_conv_s8"
        return "\n".join([
            "{",
            *("    " + line for line in c_struct("ek_transpose_conv_params_t", "p", p).splitlines()),
            f"    {fn}(&p, {ctx.ptr(ins[2], act)}, {ctx.ptr(ins[1], role='filter')}, {bias},",
            f"        {ctx.ptr(ctx.op.outputs[0], act)});",
            "}",
        ])
