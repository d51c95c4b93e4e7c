"""FULLY_CONNECTED, int8 with per-tensor or per-channel weights, optional bias, keep_num_dims."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.ops.base import (
    OpContext,
    OpHandler,
    c_struct,
    fc_filter_w16,
    fc_rq_w16,
    fused_range,
    matmul_filter,
    mve_mm_struct,
    mve_rows_filter,
    mve_rq_table,
    register,
    scale_zp,
    w16_shifts,
)
from edgekit.codegen.aot.ops.conv_mve import MVE_X1_FC_MACS, MVE_X1_LINKED
from edgekit.codegen.aot.quant import conv_multipliers, f32, fc_multiplier
from edgekit.codegen.aot.sparse import SparseWeights, choose, encode
from edgekit.codegen.aot.variants import Layer


def _fc_params(ctx: OpContext) -> dict[str, object]:
    inp, filt, bias, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.require_dtype(inp, "int8", "int16", what="input")
    is16 = inp.dtype == "int16"
    ctx.require_dtype(filt, "int8", what="filter")
    ctx.require_dtype(out, inp.dtype, what="output")
    ctx.require(filt.is_const, f"filter '{filt.name}' is not a constant")
    ctx.require(ctx.options.get("weights_format", "DEFAULT") in ("DEFAULT", 0),
                f"weights format {ctx.options.get('weights_format')} is not supported")
    ctx.require(len(filt.shape) == 2, f"filter must be 2-D, got {filt.shape}")
    ctx.require(len(out.shape) >= 1, "output has no dimensions")
    rows, depth = filt.shape
    out_depth = out.shape[-1]
    batches = int(np.prod(out.shape[:-1], dtype=np.int64))
    ctx.require(out_depth <= rows, f"output depth {out_depth} exceeds filter rows {rows}")
    ctx.require(int(np.prod(inp.shape, dtype=np.int64)) == batches * depth,
                f"input {inp.shape} does not hold {batches} rows of {depth}")
    in_scale, in_zp = scale_zp(ctx, inp, "input")
    out_scale, out_zp = scale_zp(ctx, out, "output")
    fq = filt.quantization
    ctx.require(fq is not None and len(fq.scale) >= 1, f"filter '{filt.name}' is not quantized")
    per_channel = len(fq.scale) > 1
    if bias is not None:
        ctx.require_dtype(bias, *(("int64", "int32") if is16 else ("int32",)), what="bias")
        ctx.require(bias.is_const, f"bias '{bias.name}' is not a constant")
        ctx.require(int(np.prod(bias.shape)) >= out_depth, f"bias has fewer than {out_depth} values")
    if per_channel:
        ctx.require(len(fq.scale) == rows and fq.quantized_dimension == 0,
                    f"per-channel filter needs {rows} scales along dim 0")
        mults, shifts = conv_multipliers(in_scale, fq.scale, out_scale, rows)
        filter_offset = 0
    else:
        if bias is not None and bias.quantization is not None and bias.quantization.scale:
            # TFLM's GetQuantizedConvolutionMultipler consistency check
            product = f32(in_scale) * f32(fq.scale[0])
            diff = abs(product - f32(bias.quantization.scale[0]))
            ctx.require(diff / f32(out_scale) <= 0.02, "bias scale differs from input_scale * filter_scale")
        m, s = fc_multiplier(in_scale, fq.scale[0], out_scale)
        mults, shifts = [m], [s]
        filter_offset = -(int(fq.zero_point[0]) if fq.zero_point else 0)
    ctx.require(all(-31 <= s <= (7 if is16 else 30) for s in shifts), "requantization shift out of range")
    act_min, act_max = fused_range(ctx, out, *((-32768, 32767) if is16 else (-128, 127)))
    return dict(batches=batches, accum_depth=depth, out_depth=out_depth, in_offset=-in_zp,
                filter_offset=filter_offset, out_offset=out_zp, act_min=act_min, act_max=act_max,
                per_channel=int(per_channel), _mults=mults, _shifts=shifts)


MAT_SCRATCH_LIMIT = 2048  # bytes: a wider input (e.g. 4000 values -> 4 outputs) would grow the arena for little gain


def _mat_scratch(p: dict[str, object]) -> int:
    depth4 = (int(p["accum_depth"]) + 3) & ~3
    return 4 * depth4 if int(p["batches"]) > 1 else 2 * depth4


def _use_mat(p: dict[str, object]) -> bool:
    """ek_fully_connected_s8_mat (2 x 2 blocking): no filter zero point, several batch rows and widened input rows
    that fit MAT_SCRATCH_LIMIT. One batch row goes to ek_fully_connected_s8_vec (no scratch)."""
    return p["filter_offset"] == 0 and int(p["batches"]) > 1 and _mat_scratch(p) <= MAT_SCRATCH_LIMIT


def _use_vec(p: dict[str, object]) -> bool:
    """ek_fully_connected_s8_vec: no filter zero point (the input offset is folded into the bias)."""
    return p["filter_offset"] == 0 and not _use_mat(p)


def folded_bias(weights: np.ndarray, bias: np.ndarray | None, in_offset: int) -> np.ndarray:
    """bias[r] + in_offset * sum_k weights[r][k], wrapped to int32 like the kernel's accumulation."""
    total = weights.astype(np.int64).sum(axis=1) * int(in_offset)
    if bias is not None:
        total = total + bias.astype(np.int64)
    return ((total + 2**31) % 2**32 - 2**31).astype(np.int32)


def _sparse(ctx: OpContext, p: dict[str, object], *, w16: bool | None = None) -> SparseWeights | None:
    """The sparse encoding of the filter's out_depth rows when ``ctx.sparse`` selects it (no filter zero point)
    against the dense kernel of int16 weights (``w16``, default ``ctx.wide_weights``) or int8 ones."""
    if ctx.sparse == "off" or p["filter_offset"] != 0 or (ctx.mve and ctx.sparse == "auto"):
        return None
    enc = encode(ctx.input(1).array()[: int(p["out_depth"])])
    wide = ctx.wide_weights if w16 is None else w16
    return enc if choose(ctx.sparse, enc, int(p["batches"]), kind="fc", w16=wide) else None


def _emit_sparse(ctx: OpContext, p: dict[str, object], enc: SparseWeights) -> str:
    w = ctx.input(1).array()[: int(p["out_depth"])]
    b = ctx.input(2).array().reshape(-1)[: int(p["out_depth"])] if ctx.input(2) is not None else None
    s = dict(rows=enc.rows, depth=enc.depth,
             counts=ctx.const_array(f"{ctx.ident}_sp_counts", enc.counts, "uint16_t"),
             entries=ctx.const_array(f"{ctx.ident}_sp_entries", enc.entries, "uint8_t"),
             bias=ctx.const_array(f"{ctx.ident}_sp_bias", folded_bias(w, b, int(p["in_offset"])), "int32_t"))
    ctx.notes.append(f"op {ctx.op.index} FULLY_CONNECTED: sparse weights, {enc.nonzeros} of {w.size} non-zero "
                     f"({enc.density:.1%} entries), {enc.nbytes} B instead of {w.size} B")
    return "\n".join([
        "{",
        f"    /* sparse weights: {enc.nonzeros} of {w.size} non-zero, {enc.n_entries} entries ({enc.nbytes} B) */",
        *("    " + line for line in c_struct("ek_fc_params_t", "p", p).splitlines()),
        *("    " + line for line in c_struct("ek_sparse_t", "s", s).splitlines()),
        f"    ek_sparse_fc_s8(&p, &s, {ctx.ptr(ctx.op.inputs[0])}, {ctx.ptr(ctx.op.outputs[0])});",
        "}",
    ])


@register
class FullyConnected(OpHandler):
    """FULLY_CONNECTED (int8 in/out, int8 weights, int32 bias; 16x8 with an int64 or int32 bias)."""

    opcodes = ("FULLY_CONNECTED",)

    def check(self, ctx: OpContext) -> None:
        _fc_params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _fc_params(ctx)
        mults, shifts = p.pop("_mults"), p.pop("_shifts")
        if ctx.input(0).dtype == "int16":
            return self._emit16(ctx, p, mults, shifts)
        enc = _sparse(ctx, p)
        bias = ""
        filt = ""
        if ctx.mve and p["filter_offset"] == 0 and enc is None:
            return self._emit_mve(ctx, p, mults, shifts)
        kernel, extra = "ek_fully_connected_s8", ""
        mult = ctx.const_array(f"{ctx.ident}_mult", np.array(mults, dtype=np.int32), "int32_t")
        shift = ctx.const_array(f"{ctx.ident}_shift", np.array(shifts, dtype=np.int8), "int8_t")
        p.update(out_mult=mult, out_shift=shift)
        if enc is not None:
            return _emit_sparse(ctx, p, enc)
        if _use_mat(p) or _use_vec(p):
            w = ctx.input(1).array()[: int(p["out_depth"])]
            sh16 = w16_shifts(mults, shifts) if ctx.wide_weights and not _use_mat(p) else None
            w16 = sh16 is not None
            if not w16:
                filt = f"((const int8_t *){ctx.const_array(f'{ctx.ident}_filter_mm', matmul_filter(w), 'int8_t')})"
            if _use_mat(p):
                kernel, extra = "ek_fully_connected_s8_mat", f", {ctx.scratch}"
            else:
                kernel = "ek_fully_connected_s8_vec"
                b = ctx.input(2).array().reshape(-1)[: int(p["out_depth"])] if ctx.input(2) is not None else None
                full = folded_bias(w, b, int(p["in_offset"]))
                if w16:
                    # weights widened to int16 here (no SXTB16 of weights in the kernel), requantization words
                    kernel = "ek_fully_connected_s8_w16"
                    f16, rq = fc_filter_w16(w), fc_rq_w16(full, mults, sh16)
                    filt = ctx.const_array(f"{ctx.ident}_filter_w16", f16, "int16_t")
                    bias = ctx.const_array(f"{ctx.ident}_rq_w16", rq, "int32_t")
                    p.update(out_mult="NULL", out_shift="NULL")
                    ctx.w16_layer = Layer(ctx.op.index, ctx.op.opcode, "fc", int(w.shape[0]), int(w.shape[1]),
                                          int(p["batches"]), 0, int(f16.nbytes + rq.nbytes - w.size - 9 * w.shape[0]),
                                          sparse_if_int8=_sparse(ctx, p, w16=False) is not None)
                else:
                    bias = ctx.const_array(f"{ctx.ident}_bias_folded", full, "int32_t")
        filt = filt or ctx.ptr(ctx.op.inputs[1], role="filter")
        if not bias:
            bias = ctx.ptr(ctx.op.inputs[2], "int32_t", role="bias") if ctx.input(2) is not None else "NULL"
        return "\n".join([
            "{",
            *("    " + line for line in c_struct("ek_fc_params_t", "p", p).splitlines()),
            f"    {kernel}(&p, {ctx.ptr(ctx.op.inputs[0])}, {filt}, {bias},",
            f"        {ctx.ptr(ctx.op.outputs[0])}{extra});",
            "}",
        ])

    def _emit_mve(self, ctx: OpContext, p: dict[str, object], mults: list[int], shifts: list[int]) -> str:
        """ek_matmul_mve_s8 over each batch row (ek_matmul.h layouts: the input offset folded into the bias, the
        requantization in the rq words) with a generated ek_mve_mm_t; no ek_fc_params_t."""
        rows = int(p["out_depth"])
        w = ctx.input(1).array()[:rows]
        b = ctx.input(2).array().reshape(-1)[:rows] if ctx.input(2) is not None else None
        rq = ctx.const_array(f"{ctx.ident}_mve_rq",
                             mve_rq_table(folded_bias(w, b, int(p["in_offset"])), mults, shifts, rows), "int32_t")
        filt = f"((const int8_t *){ctx.const_array(f'{ctx.ident}_filter_mve', mve_rows_filter(w), 'int8_t')})"
        inp, out = ctx.ptr(ctx.op.inputs[0]), ctx.ptr(ctx.op.outputs[0])
        depth = int(p["accum_depth"])
        q = mve_mm_struct("q", depth, rows, p, filt, rq, shifts, pairs=False)  # one column a call
        if p["batches"] != 1 or rows * depth >= MVE_X1_FC_MACS:
            call = (f"ek_fully_connected_s8_mve(&q, {inp}, {out}, {p['batches']});" if p["batches"] != 1 else
                    f"ek_matmul_mve_s8(&q, {inp}, 0, {out});")
            return "\n".join(["{", *("    " + ln for ln in q), f"    {call}", "}"])
        # a small one-row FC: ek_matmul_mve_s8, or the pair kernel on the row twice where no layer links the former
        q2 = mve_mm_struct("q", depth, rows, p, filt, rq, shifts)
        return "\n".join(["{", f"#if {MVE_X1_LINKED}", *("    " + ln for ln in q),
                          f"    ek_matmul_mve_s8(&q, {inp}, 0, {out});", "#else", *("    " + ln for ln in q2),
                          f"    ek_matmul_mve_s8_x2(&q, {inp}, {inp}, 0, {out}, {out});", "#endif", "}"])

    def _emit16(self, ctx: OpContext, p: dict[str, object], mults: list[int], shifts: list[int]) -> str:
        """16x8 (ek_fully_connected_s16): 64-bit accumulation, or 32-bit with an int32 bias (or none and the
        option quantized_bias_type INT32), as TFLM."""
        p.update(out_mult=ctx.const_array(f"{ctx.ident}_mult", np.array(mults, dtype=np.int32), "int32_t"),
                 out_shift=ctx.const_array(f"{ctx.ident}_shift", np.array(shifts, dtype=np.int8), "int8_t"))
        bias_t = ctx.input(2)
        if bias_t is not None:
            acc32 = int(bias_t.dtype == "int32")
            bias = ctx.ptr(ctx.op.inputs[2], "int64_t", role="bias")
        else:
            acc32 = int(str(ctx.options.get("quantized_bias_type", "FLOAT32")).upper() in ("INT32", "2"))
            bias = "NULL"
        return "\n".join([
            "{",
            *("    " + line for line in c_struct("ek_fc_params_t", "p", p).splitlines()),
            f"    ek_fully_connected_s16(&p, {ctx.ptr(ctx.op.inputs[0], 'int16_t')}, "
            f"{ctx.ptr(ctx.op.inputs[1], role='filter')}, {bias}, {acc32},",
            f"        {ctx.ptr(ctx.op.outputs[0], 'int16_t')});",
            "}",
        ])

    def scratch_bytes(self, ctx: OpContext) -> int:
        """Two int16 rows of the input for ek_fully_connected_s8_mat (none for a filter zero point)."""
        p = _fc_params(ctx)
        if ctx.input(0).dtype == "int16":
            return 0
        if _sparse(ctx, p) is not None or (ctx.mve and p["filter_offset"] == 0):
            return 0
        return _mat_scratch(p) if _use_mat(p) else 0
