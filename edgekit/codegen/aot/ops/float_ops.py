"""float32 comparisons, SELECT_V2, ARG_MAX / ARG_MIN, CUMSUM, L2_NORMALIZATION, RESIZE_BILINEAR, TRANSPOSE_CONV.

Kernels in ``ek_float_ops.c``: TFLM's float reference kernels in their operation order, so every result is TFLM's
bit for bit (float_common.py): comparisons and selection are exact; CUMSUM and L2_NORMALIZATION sum in the
reference's order (L2_NORMALIZATION: ``x / max(sqrtf(sum), 1e-6f)``); RESIZE_BILINEAR evaluates the reference's
expression term by term (source positions in float32, as ``ComputeInterpolationValues``); TRANSPOSE_CONV gathers
each output's products in the order TFLM's scatter adds them (input row, column, channel), then bias and clamp.
"""

from __future__ import annotations

import math

from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.ops.base import OpContext, c_struct
from edgekit.codegen.aot.ops.dispatch import FloatOpHandler, register_float
from edgekit.codegen.aot.ops.float_common import act_range, require_f32
from edgekit.codegen.aot.ops.math import COMPARISONS, _layout
from edgekit.codegen.aot.ops.scan import _axis, _split
from edgekit.codegen.aot.ops.transpose import const_ints, require_small


def _block(ctype: str, fields: dict[str, object], call: str, name: str = "p") -> str:
    return "\n".join(["{", *("    " + ln for ln in c_struct(ctype, name, fields).splitlines()), f"    {call}", "}"])


@register_float
class FloatCompare(FloatOpHandler):
    """EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL of float32 inputs (broadcasting): bool output."""

    opcodes = COMPARISONS

    def claims(self, ctx: OpContext) -> bool:
        first = ctx.input(0)
        return first is not None and first.dtype == "float32"

    def check(self, ctx: OpContext) -> None:
        require_f32(ctx, (ctx.input(0), "input 1"), (ctx.input(1), "input 2"))
        ctx.require_dtype(ctx.output(0), "bool", what="output")
        _layout(ctx, [0, 1])

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        i = ctx.op.inputs
        call = (f"ek_f32_compare(EK_F32_{ctx.op.opcode}, {ctx.ptr(i[0], 'float')}, {ctx.ptr(i[1], 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'uint8_t')}, &shape);")
        return _block("ek_nshape", _layout(ctx, [0, 1]), call, "shape")


@register_float
class FloatSelectV2(FloatOpHandler):
    """SELECT_V2 with float32 values (bool condition, broadcasting)."""

    opcodes = ("SELECT_V2",)

    def claims(self, ctx: OpContext) -> bool:
        x = ctx.input(1)
        return x is not None and x.dtype == "float32"

    def check(self, ctx: OpContext) -> None:
        ctx.require_dtype(ctx.input(0), "bool", what="condition")
        require_f32(ctx, (ctx.input(1), "x"), (ctx.input(2), "y"), (ctx.output(0), "output"))
        _layout(ctx, [0, 1, 2])

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        c, x, y = ctx.op.inputs[:3]
        call = (f"ek_f32_select({ctx.ptr(c, 'uint8_t')}, {ctx.ptr(x, 'float')}, {ctx.ptr(y, 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')}, &shape);")
        return _block("ek_nshape", _layout(ctx, [0, 1, 2]), call, "shape")


@register_float
class FloatArgMinMax(FloatOpHandler):
    """ARG_MAX / ARG_MIN of a float32 input along a constant axis, int32 indices (first extreme wins)."""

    opcodes = ("ARG_MAX", "ARG_MIN")

    def claims(self, ctx: OpContext) -> bool:
        first = ctx.input(0)
        return first is not None and first.dtype == "float32"

    def _split(self, ctx: OpContext) -> tuple[int, int, int]:
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"))
        ctx.require_dtype(out, "int32", what="output (TFLM's ARG_MAX / ARG_MIN write int32 only)")
        ctx.require(len(inp.shape) >= 1, "the input must have at least one dimension")
        outer, size, inner = _split(tuple(inp.shape), _axis(ctx, len(inp.shape)))
        ctx.require(size >= 1 and out.size == outer * inner,
                    f"output {list(out.shape)} does not match reducing {list(inp.shape)}")
        return outer, size, inner

    def check(self, ctx: OpContext) -> None:
        self._split(ctx)

    def emit(self, ctx: OpContext) -> str:
        outer, size, inner = self._split(ctx)
        return (f"ek_f32_argminmax({ctx.ptr(ctx.op.inputs[0], 'float')}, {ctx.ptr(ctx.op.outputs[0], 'int32_t')}, "
                f"{outer}, {size}, {inner}, {int(ctx.op.opcode == 'ARG_MAX')});")


@register_float
class FloatCumSum(FloatOpHandler):
    """CUMSUM of float32 along a constant axis (exclusive, reverse)."""

    opcodes = ("CUMSUM",)

    def _split(self, ctx: OpContext) -> tuple[int, int, int]:
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(len(inp.shape) >= 1 and tuple(inp.shape) == tuple(out.shape),
                    "input and output must have one shape of at least one dimension")
        return _split(tuple(inp.shape), _axis(ctx, len(inp.shape)))

    def check(self, ctx: OpContext) -> None:
        self._split(ctx)

    def inplace(self, ctx: OpContext) -> bool:  # element i is read right before (or as) it is written
        return True

    def emit(self, ctx: OpContext) -> str:
        outer, size, inner = self._split(ctx)
        o = ctx.options
        return (f"ek_f32_cumsum({ctx.ptr(ctx.op.inputs[0], 'float')}, {ctx.ptr(ctx.op.outputs[0], 'float')}, "
                f"{outer}, {size}, {inner}, {int(bool(o.get('exclusive', False)))}, "
                f"{int(bool(o.get('reverse', False)))});")


@register_float
class FloatL2Norm(FloatOpHandler):
    """L2_NORMALIZATION of float32 over the last dimension."""

    opcodes = ("L2_NORMALIZATION",)

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(len(inp.shape) >= 1 and tuple(inp.shape) == tuple(out.shape),
                    "input and output must have one shape of at least one dimension")
        act = ctx.options.get("fused_activation_function", "NONE")
        ctx.require(act in ("NONE", 0), f"fused activation {act} is not supported (TFLM's kernel applies none)")

    def inplace(self, ctx: OpContext) -> bool:  # a row is read whole (its norm) before it is written
        return True

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        inp = ctx.input(0)
        depth = int(inp.shape[-1])
        return (f"ek_f32_l2_norm({ctx.ptr(ctx.op.inputs[0], 'float')}, {ctx.ptr(ctx.op.outputs[0], 'float')}, "
                f"{inp.size // max(depth, 1)}, {depth});")


@register_float
class FloatResizeBilinear(FloatOpHandler):
    """RESIZE_BILINEAR of float32 NHWC (align_corners or half_pixel_centers)."""

    opcodes = ("RESIZE_BILINEAR",)

    def _params(self, ctx: OpContext) -> dict[str, object]:
        require_small(ctx)
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(len(inp.shape) == 4 and len(out.shape) == 4, "input and output must be 4-D (NHWC)")
        size = const_ints(ctx, 1, "size")
        ctx.require(len(size) == 2 and min(size) > 0, f"size {size} must be two positive values")
        n, h, w, c = (int(v) for v in inp.shape)
        ctx.require(list(out.shape) == [n, size[0], size[1], c],
                    f"output shape {list(out.shape)} != {[n, size[0], size[1], c]}")
        align = bool(ctx.options.get("align_corners", False))
        half = bool(ctx.options.get("half_pixel_centers", False))
        ctx.require(not (align and half), "align_corners and half_pixel_centers both set (TFLM rejects it)")
        return dict(batches=n, in_h=h, in_w=w, channels=c, out_h=size[0], out_w=size[1], align_corners=int(align),
                    half_pixel_centers=int(half))

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = self._params(ctx)
        call = (f"ek_f32_resize_bilinear(&p, {ctx.ptr(ctx.op.inputs[0], 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')});")
        return _block("ek_f32_resize_params", p, call)


@register_float
class FloatTransposeConv(FloatOpHandler):
    """TRANSPOSE_CONV of float32 (constant filter, optional bias, SAME / VALID, strides, fused ReLU family)."""

    opcodes = ("TRANSPOSE_CONV",)

    def claims(self, ctx: OpContext) -> bool:
        inp = ctx.input(2)
        return inp is not None and inp.dtype == "float32"

    def _params(self, ctx: OpContext) -> dict[str, object]:
        ctx.require(len(ctx.op.inputs) in (3, 4), f"expected 3 or 4 inputs, got {len(ctx.op.inputs)}")
        shape_t, filt, inp, bias, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3), ctx.output(0)
        require_f32(ctx, (inp, "input"), (filt, "filter"), (out, "output"))
        ctx.require(filt.is_const, f"filter '{filt.name}' is not a constant")
        ctx.require(len(inp.shape) == 4 and len(filt.shape) == 4 and len(out.shape) == 4, "input, filter, output: 4-D")
        if shape_t is not None and shape_t.is_const:  # when not constant TFLM ignores it (the output's shape rules)
            ctx.require([int(v) for v in shape_t.array().reshape(-1)] == list(out.shape),
                        f"output_shape {shape_t.array().tolist()} differs from the output tensor {list(out.shape)}")
        batches, in_h, in_w, in_c = (int(v) for v in inp.shape)
        out_c, k_h, k_w, f_in = (int(v) for v in filt.shape)
        ctx.require(f_in == in_c and out.shape[0] == batches and out.shape[3] == out_c,
                    f"filter {list(filt.shape)} does not match input {list(inp.shape)} / output {list(out.shape)}")
        if bias is not None:
            require_f32(ctx, (bias, "bias"))
            ctx.require(bias.size == out_c, f"bias has {bias.size} values, expected {out_c}")
        s_h, s_w = int(ctx.options.get("stride_h", 1)), int(ctx.options.get("stride_w", 1))
        ctx.require(s_h >= 1 and s_w >= 1, f"strides ({s_h}, {s_w}) must be positive")
        padding = ctx.options.get("padding", "SAME")
        try:
            pad_h = compute_padding(padding, int(out.shape[1]), k_h, s_h).before
            pad_w = compute_padding(padding, int(out.shape[2]), k_w, s_w).before
        except ValueError as exc:
            ctx.fail(str(exc))
        lo, hi = act_range(ctx)
        return dict(batches=batches, in_h=in_h, in_w=in_w, in_c=in_c, out_h=int(out.shape[1]),
                    out_w=int(out.shape[2]), out_c=out_c, k_h=k_h, k_w=k_w, stride_h=s_h, stride_w=s_w, pad_h=pad_h,
                    pad_w=pad_w, act_min=lo, act_max=hi)

    def check(self, ctx: OpContext) -> None:
        p = self._params(ctx)
        ctx.require(math.prod((p["batches"], p["out_h"], p["out_w"], p["out_c"])) < 1 << 29, "output too large")

    def emit(self, ctx: OpContext) -> str:
        p = self._params(ctx)
        i = ctx.op.inputs
        bias = ctx.ptr(i[3], "float", role="bias") if ctx.input(3) is not None else "NULL"
        call = (f"ek_f32_transpose_conv(&p, {ctx.ptr(i[2], 'float')}, {ctx.ptr(i[1], 'float', role='filter')}, "
                f"{bias}, {ctx.ptr(ctx.op.outputs[0], 'float')});")
        return _block("ek_f32_tconv_params", p, call)
