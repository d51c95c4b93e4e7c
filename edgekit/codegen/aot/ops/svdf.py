"""SVDF, integer as TFLM runs it: int8 input / feature weights / output, int16 (or int8) time weights and state.

TFLM's ``PrepareSvdf``: ``effective_scale_1 = input * feature / state`` and ``effective_scale_2 = state * time /
output``, both products and quotients in float32 before ``QuantizeMultiplier``; the fused activation is not applied
by the integer kernel. The activation state (input 4) is a variable tensor kept across invocations.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.quant import quantize_multiplier


def _params(ctx: OpContext) -> dict[str, object]:
    ctx.require(len(ctx.op.inputs) == 5, f"expected 5 inputs, got {len(ctx.op.inputs)}")
    inp, wf, wt, bias, state, out = (ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4),
                                     ctx.output(0))
    ctx.require_dtype(inp, "int8", what="input")
    ctx.require_dtype(wf, "int8", what="feature weights")
    ctx.require_dtype(wt, "int16", "int8", what="time weights")
    ctx.require_dtype(state, wt.dtype, what="activation state")
    ctx.require_dtype(out, "int8", what="output")
    ctx.require_dtype(bias, "int32", what="bias")  # TFLM's Prepare reads the bias scale: it must be there
    ctx.require(wf.is_const and wt.is_const and bias.is_const, "weights and bias must be constants")
    ctx.require(state.is_variable, f"activation state '{state.name}' must be a variable tensor")
    rank = int(ctx.options.get("rank", 1))
    ctx.require(len(inp.shape) == 2 and len(out.shape) == 2, "input and output must be 2-D")
    batches, n_input = inp.shape
    ctx.require(len(wf.shape) == 2 and wf.shape[1] == n_input, f"feature weights {list(wf.shape)} vs input")
    filters = wf.shape[0]
    ctx.require(rank >= 1 and filters % rank == 0, f"rank {rank} does not divide {filters} filters")
    units = filters // rank
    ctx.require(len(wt.shape) == 2 and wt.shape[0] == filters, f"time weights {list(wt.shape)} vs {filters} filters")
    memory = wt.shape[1]
    ctx.require(tuple(out.shape) == (batches, units), f"output {list(out.shape)}, expected {[batches, units]}")
    ctx.require(state.size == batches * filters * memory, f"activation state must hold {batches * filters * memory}")
    ctx.require(bias.size == units, f"bias must hold {units} values")
    s_in, in_zp = scale_zp(ctx, inp, "input")
    s_wf, _ = scale_zp(ctx, wf, "feature weights")
    s_wt, _ = scale_zp(ctx, wt, "time weights")
    s_st, st_zp = scale_zp(ctx, state, "activation state")
    s_out, out_zp = scale_zp(ctx, out, "output")
    f = np.float32
    with np.errstate(over="ignore", under="ignore"):
        e1, e2 = float(f(s_in) * f(s_wf) / f(s_st)), float(f(s_st) * f(s_wt) / f(s_out))
    ctx.require(np.isfinite(e1) and np.isfinite(e2), "the scales overflow float32 (TFLM computes them in float32)")
    m1, sh1 = quantize_multiplier(e1)
    m2, sh2 = quantize_multiplier(e2)
    ctx.require(-31 <= sh1 <= 30 and -31 <= sh2 <= 30, "requantization shift out of range")
    return dict(batches=batches, n_input=n_input, filters=filters, units=units, rank=rank, memory=memory,
                in_zp=in_zp, state_zp=st_zp, out_zp=out_zp, mult1=m1, shift1=sh1, mult2=m2, shift2=sh2)


@register
class Svdf(OpHandler):
    """SVDF (int8, int16 or int8 state)."""

    opcodes = ("SVDF",)

    def check(self, ctx: OpContext) -> None:
        _params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _params(ctx)
        st = "int16_t" if ctx.input(4).dtype == "int16" else "int8_t"
        fn = "ek_svdf_s16" if st == "int16_t" else "ek_svdf_s8"
        ins = ctx.op.inputs
        return "\n".join([
            "{",
            *("    " + line for line in c_struct("ek_svdf_params_t", "p", p).splitlines()),
            f"    {fn}(&p, {ctx.ptr(ins[0])}, {ctx.ptr(ins[1], role='w_feature')},",
            f"        {ctx.ptr(ins[2], st, role='w_time')}, {ctx.ptr(ins[3], 'int32_t', role='bias')},",
            f"        {ctx.ptr(ins[4], st)}, {ctx.ptr(ctx.op.outputs[0])}, (int32_t *){ctx.scratch});",
            "}",
        ])

    def scratch_bytes(self, ctx: OpContext) -> int:
        """One int32 per batch and filter (the time-weighted sums), then the input widened to int16 (DSP cores)."""
        p = _params(ctx)
        return 4 * int(p["batches"]) * int(p["filters"]) + 2 * (int(p["n_input"]) + 3) // 4 * 4
