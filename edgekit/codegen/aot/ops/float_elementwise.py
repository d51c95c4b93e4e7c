"""float32 elementwise ops, ADD_N and reductions (kernels in ``ek_float.c``), TFLM's float reference semantics.

Broadcasting binary ops (``ek_f32_binary``): ADD, SUB, MUL, DIV (fused ReLU family), MAXIMUM, MINIMUM,
SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD, PRELU. Unary (``ek_f32_unary``): ABS, NEG, EXP, LOG, SQRT, RSQRT,
SQUARE, SIN, COS, FLOOR, CEIL, ROUND, LOGISTIC, TANH, RELU, RELU6, ELU, HARD_SWISH,
LEAKY_RELU. ADD_N; MEAN, SUM, REDUCE_MAX, REDUCE_MIN over constant axes (summed in the input's row-major order, as
TFLM's reference reductions). Which results are bit-exact: float_common.py.
"""

from __future__ import annotations

import math

from edgekit.codegen.aot.ops.base import OpContext, c_struct
from edgekit.codegen.aot.ops.dispatch import FloatOpHandler, register_float
from edgekit.codegen.aot.ops.float_common import act_range, c_float, require_f32
from edgekit.codegen.aot.ops.math import _layout
from edgekit.codegen.aot.ops.reduce import reduce_layout, resolve_axes

_BINARY = {"ADD": "EK_F32_ADD", "SUB": "EK_F32_SUB", "MUL": "EK_F32_MUL", "DIV": "EK_F32_DIV",
           "MAXIMUM": "EK_F32_MAXIMUM", "MINIMUM": "EK_F32_MINIMUM",
           "SQUARED_DIFFERENCE": "EK_F32_SQUARED_DIFFERENCE", "FLOOR_DIV": "EK_F32_FLOOR_DIV",
           "FLOOR_MOD": "EK_F32_FLOOR_MOD", "PRELU": "EK_F32_PRELU"}
_FUSED = ("ADD", "SUB", "MUL", "DIV")  # the ops with a fused activation


@register_float
class FloatBinary(FloatOpHandler):
    """Broadcasting float32 binary ops (up to 5-D broadcasts, as TFLM)."""

    opcodes = tuple(_BINARY)

    def _params(self, ctx: OpContext) -> tuple[dict[str, object], str, str]:
        a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
        require_f32(ctx, (a, "input 1"), (b, "input 2"), (out, "output"))
        lo, hi = act_range(ctx) if ctx.op.opcode in _FUSED else ("(-HUGE_VALF)", "HUGE_VALF")
        return _layout(ctx, [0, 1]), lo, hi

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def inplace(self, ctx: OpContext) -> bool:  # same shape: element i is read before it is written
        return tuple(ctx.input(0).shape) == tuple(ctx.output(0).shape)

    def emit(self, ctx: OpContext) -> str:
        shape, lo, hi = self._params(ctx)
        i = ctx.op.inputs
        call = (f"ek_f32_binary({_BINARY[ctx.op.opcode]}, {ctx.ptr(i[0], 'float')}, {ctx.ptr(i[1], 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')}, &shape, {lo}, {hi});")
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_nshape", "shape", shape).splitlines()),
                          f"    {call}", "}"])


_UNARY = ("ABS", "NEG", "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "LOGISTIC",
          "TANH", "RELU", "RELU6", "ELU", "HARD_SWISH", "LEAKY_RELU")  # TFLM has no RELU_N1_TO_1 / RELU_0_TO_1


@register_float
class FloatUnary(FloatOpHandler):
    """Elementwise float32 unary ops (output may share the input's memory)."""

    opcodes = _UNARY

    def check(self, ctx: OpContext) -> None:
        inp, out = ctx.input(0), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(inp.size == out.size, f"input {inp.shape} and output {out.shape} differ in size")

    def inplace(self, ctx: OpContext) -> bool:
        return True

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        alpha = c_float(ctx.options.get("alpha", 0.0)) if ctx.op.opcode == "LEAKY_RELU" else "0.0f"
        return (f"ek_f32_unary(EK_F32_{ctx.op.opcode}, {ctx.ptr(ctx.op.inputs[0], 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')}, {ctx.output(0).size}u, {alpha});")


@register_float
class FloatAddN(FloatOpHandler):
    """float32 ADD_N (every input the output's shape)."""

    opcodes = ("ADD_N",)

    def check(self, ctx: OpContext) -> None:
        out = ctx.output(0)
        require_f32(ctx, (out, "output"))
        for k in range(len(ctx.op.inputs)):
            t = ctx.input(k)
            require_f32(ctx, (t, f"input {k}"))
            ctx.require(tuple(t.shape) == tuple(out.shape), f"input {k} shape {t.shape} != output {out.shape}")

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        ptrs = ", ".join(ctx.ptr(t, "float") for t in ctx.op.inputs)
        n = len(ctx.op.inputs)
        return "\n".join(["{", f"    const float *const in[{n}] = {{{ptrs}}};",
                          f"    ek_f32_add_n(in, {n}, {ctx.ptr(ctx.op.outputs[0], 'float')}, {ctx.output(0).size}u);",
                          "}"])


_REDUCE = {"MEAN": "EK_F32_REDUCE_MEAN", "SUM": "EK_F32_REDUCE_SUM", "REDUCE_MAX": "EK_F32_REDUCE_MAX",
           "REDUCE_MIN": "EK_F32_REDUCE_MIN"}


@register_float
class FloatReduce(FloatOpHandler):
    """float32 MEAN, SUM, REDUCE_MAX, REDUCE_MIN over constant axes."""

    opcodes = tuple(_REDUCE)

    def _layout(self, ctx: OpContext) -> dict[str, object]:
        inp, axis, out = ctx.input(0), ctx.input(1), ctx.output(0)
        require_f32(ctx, (inp, "input"), (out, "output"))
        ctx.require(axis is not None and axis.dtype == "int32" and (axis.is_const or axis.size == 0),
                    "axes must be a constant int32 tensor")
        try:
            values = axis.array().reshape(-1) if axis.size else []
            axes = sorted(resolve_axes([int(a) for a in values], len(inp.shape)))  # row-major, as TFLM sums
            layout = reduce_layout(tuple(inp.shape), axes)
        except ValueError as exc:
            ctx.fail(str(exc))
        count = math.prod(inp.shape[a] for a in axes)
        ctx.require(inp.size == out.size * count,
                    f"output {list(out.shape)} does not match reducing {list(inp.shape)} over axes {axes}")
        return layout

    def check(self, ctx: OpContext) -> None:
        self._layout(ctx)

    def emit(self, ctx: OpContext) -> str:
        layout = self._layout(ctx)
        call = (f"ek_f32_reduce({_REDUCE[ctx.op.opcode]}, {ctx.ptr(ctx.op.inputs[0], 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')}, &shape);")
        return "\n".join(["{", *("    " + ln for ln in c_struct("ek_reduce_shape", "shape", layout).splitlines()),
                          f"    {call}", "}"])
