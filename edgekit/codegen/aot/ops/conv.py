"""CONV_2D (incl. grouped) and DEPTHWISE_CONV_2D, int8 with per-channel or per-tensor weights; 16x8 (int16
activations, int8 weights) on the reference kernels of ``ek_int16.c``."""

from __future__ import annotations

import numpy as np

from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.ops.base import (
    OpContext,
    OpHandler,
    c_struct,
    fused_range,
    matmul_filter,
    matmul_filter_w16,
    matmul_rq_w16,
    mve_rows_filter,
    mve_rq_table,
    register,
    scale_zp,
    w16_shifts,
)
from edgekit.codegen.aot.ops.conv_mve import conv_params_unfit, mve_call, mve_layout, mve_scratch, mve_segmented
from edgekit.codegen.aot.ops.fully_connected import folded_bias
from edgekit.codegen.aot.quant import conv_multipliers
from edgekit.codegen.aot.sparse import SparseWeights, choose, encode
from edgekit.codegen.aot.variants import Layer


def _conv_params(ctx: OpContext, depthwise: bool) -> dict[str, object]:
    """Validate the operator and compute every kernel parameter (shared by check and emit)."""
    inp, filt, bias, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    is16 = inp is not None and inp.dtype == "int16"
    ctx.require_dtype(inp, "int8", "int16", what="input")
    ctx.require_dtype(filt, "int8", what="filter")
    ctx.require_dtype(out, inp.dtype, what="output")
    ctx.require(filt.is_const, f"filter '{filt.name}' is not a constant")
    if bias is not None:
        # 16x8: TFLM takes an int64 bias (64-bit accumulation) and, for CONV_2D, an int32 one (32-bit)
        ctx.require_dtype(bias, *(("int64",) if depthwise else ("int64", "int32")) if is16 else ("int32",),
                          what="bias")
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
        ctx.require(k_c > 0 and in_c > 0 and in_c % k_c == 0,
                    f"input channels {in_c} not a positive multiple of filter depth {k_c}")
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
    if is16:
        ctx.require(in_zp == 0 and out_zp == 0, f"int16 zero points must be 0 (TFLM), got {in_zp} and {out_zp}")
        ctx.require(all(s <= 7 for s in shifts), "requantization shift out of range for int16 (TFLM: < 8)")
    act_min, act_max = fused_range(ctx, out, *((-32768, 32767) if is16 else (-128, 127)))
    p = dict(batches=n, in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c,
             k_h=k_h, k_w=k_w, k_c=k_c, stride_h=stride_h, stride_w=stride_w, dil_h=dil_h, dil_w=dil_w,
             pad_h=ph.before, pad_w=pw.before, depth_multiplier=mult, in_offset=-in_zp, out_offset=out_zp,
             act_min=act_min, act_max=act_max)
    if ctx.mve:
        bad = conv_params_unfit(p)
        ctx.require(not bad, f"{bad} of MVE cores (ek_conv.h)")
    return p | dict(_mults=mults, _shifts=shifts)


def _bias_type_int32(ctx: OpContext) -> bool:
    """A bias-less 16x8 op accumulates in 32 bits when its option quantized_bias_type is INT32 (TFLM)."""
    return str(ctx.options.get("quantized_bias_type", "FLOAT32")).upper() in ("INT32", "2")


def _use_im2col(p: dict[str, object]) -> bool:
    """CONV_2D through im2col + the blocked matrix kernel: no groups, no dilation."""
    return p["k_c"] == p["in_c"] and p["dil_h"] == 1 and p["dil_w"] == 1


def _dw_as_conv(p: dict[str, object]) -> bool:
    """A DEPTHWISE_CONV_2D with one input channel (any depth multiplier) and no dilation is a CONV_2D with out_c
    filters of k_h x k_w x 1: it runs on the convolution kernels (im2col / MVE rows) with its filter transposed."""
    return int(p["in_c"]) == 1 and p["dil_h"] == 1 and p["dil_w"] == 1


def _conv_matrix(ctx: OpContext, p: dict[str, object], depthwise: bool) -> np.ndarray:
    """The filter as a [out_c][k_h * k_w * k_c] matrix (a one-channel depthwise filter [1][k_h][k_w][out_c]
    transposed)."""
    w = ctx.input(1).array()
    return w.reshape(-1, int(p["out_c"])).T.copy() if depthwise else w.reshape(int(p["out_c"]), -1)


def _patch16(p: dict[str, object]) -> bool:
    """16x8 CONV_2D copies each pixel's window into a patch (ek_conv16.c) unless the filter is 1x1."""
    return int(p["k_h"]) * int(p["k_w"]) > 1


def _im2col_scratch(p: dict[str, object]) -> int:
    """Bytes of EK_CONV_IM2COL_SCRATCH (ek_conv.h): two int16 columns (+ an int8 patch unless 1x1 unpadded)."""
    depth4 = (int(p["k_h"]) * int(p["k_w"]) * int(p["in_c"]) + 3) & ~3
    direct = p["k_h"] == 1 and p["k_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0
    return 4 * depth4 + (0 if direct else depth4)


def _dw_taps(p: dict[str, object]) -> bool:
    """DEPTHWISE_CONV_2D through ek_depthwise_conv2d_s8_packed: multiplier 1, channels % 4 == 0, <= 64 taps."""
    return p["depth_multiplier"] == 1 and int(p["out_c"]) % 4 == 0 and int(p["k_h"]) * int(p["k_w"]) <= 64


def _dw_bias_full(ctx: OpContext, channels: int, in_offset: int) -> np.ndarray:
    """Per channel: bias + in_offset * sum of its filter taps, wrapped to int32 like the kernel's accumulator."""
    taps = ctx.input(1).array().astype(np.int64).reshape(-1, channels)
    bias = ctx.input(2).array().astype(np.int64).reshape(-1) if ctx.input(2) is not None else 0
    full = bias + in_offset * taps.sum(axis=0)
    return (((full + 2**31) % 2**32) - 2**31).astype(np.int32)


def _dw_packed_filter(ctx: OpContext, channels: int) -> np.ndarray:
    """Depthwise filter [1][k_h][k_w][c] as int16 [c / 4][tap][w0, w2, w1, w3] (ek_depthwise_conv2d_s8_packed)."""
    taps = ctx.input(1).array().astype(np.int16).reshape(-1, channels // 4, 4).transpose(1, 0, 2)
    return np.ascontiguousarray(taps[:, :, [0, 2, 1, 3]])


def dw_mve_blocks(channels: int, pairs: bool) -> list[tuple[int, int]]:
    """(first channel, width) of the depthwise MVE kernels' channel blocks (channels % 4 == 0): blocks of 16, then
    for ek_depthwise_conv2d_s8_mve_pairs one of 8 and one of 4 as the rest needs, for ek_depthwise_conv2d_s8_mve
    blocks of 4."""
    c16 = channels - channels % 16
    blocks = [(c, 16) for c in range(0, c16, 16)]
    c = c16
    if pairs and (channels - c) & 8:
        blocks.append((c, 8))
        c += 8
    blocks += [(k, 4) for k in range(c, channels, 4)]
    return blocks


def dw_mve_filter(taps: np.ndarray, pairs: bool = False) -> np.ndarray:
    """Depthwise taps [tap][c] (c % 4 == 0) in the MVE depthwise layout: each block of :func:`dw_mve_blocks`
    as [tap][width], one after the other; flat int8."""
    blocks = dw_mve_blocks(taps.shape[1], pairs)
    return np.concatenate([np.ascontiguousarray(taps[:, c:c + w]).reshape(-1) for c, w in blocks]).astype(np.int8)


def dw_pairs_order(channels: int) -> np.ndarray:
    """Channel order of ek_depthwise_conv2d_s8_mve_pairs's rq groups: each 16-channel block as {0,2,4,6} {1,3,5,7}
    {8,10,12,14} {9,11,13,15}, an 8-channel block as {0,2,4,6} {1,3,5,7}, a 4-channel block as it is."""
    order = {16: [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15], 8: [0, 2, 4, 6, 1, 3, 5, 7], 4: [0, 1, 2, 3]}
    return np.concatenate([np.array(order[w]) + c for c, w in dw_mve_blocks(channels, True)]).astype(np.int64)


# ek_dw9_params_t (ek_conv.h): the 16-bit fields of ek_depthwise_conv2d_s8_mve_t9's parameters (uint16 sizes, then
# the int16 offsets and activation range, int8 values), then dw_rq
DW9_FIELDS = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "k_h", "k_w", "stride_h", "stride_w", "dil_h",
              "dil_w", "pad_h", "pad_w", "in_offset", "out_offset", "act_min", "act_max")


def dw_t9_order(channels: int) -> np.ndarray:
    """Channel order of ek_depthwise_conv2d_s8_mve_t9's rq groups (channels % 16 == 0): each 16-channel block as
    {0,4,8,12} {2,6,10,14} {1,5,9,13} {3,7,11,15} (the lanes VMULLB/VMULLT.S8 then VMOVLB/VMOVLT leave them in)."""
    block = np.array([0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15])
    return np.concatenate([block + c for c in range(0, channels, 16)]).astype(np.int64)


def dw_t9_pairs(p: dict[str, object]) -> bool:
    """Whether ek_depthwise_conv2d_s8_mve_t9x2 can run an 8-channel layer as pixel pairs (16 contiguous bytes per
    tap): stride_w 1, pad_w <= 1, out_w >= 4 and the columns 1 .. out_w - 2 inside horizontally (columns 0 and
    out_w - 1, and out_w - 2 if out_w is odd, go alone, each as one half of a pair whose other half is read from
    columns inside and written over later)."""
    out_w, pad_w = int(p["out_w"]), int(p["pad_w"])
    return (int(p["in_c"]) == 8 and int(p["stride_w"]) == 1 and pad_w <= 1 and out_w >= 4
            and out_w - 2 - pad_w + (int(p["k_w"]) - 1) * int(p["dil_w"]) <= int(p["in_w"]) - 1)


def _dw_packed_ok(shifts: list[int]) -> bool:
    """ek_depthwise_conv2d_s8_packed's requantization needs every shift <= -2 (else the int8 tap kernel runs)."""
    return all(int(s) <= -2 for s in shifts)


def dw_requant_table(bias_full: np.ndarray, mults: list[int], shifts: list[int]) -> np.ndarray:
    """The dw_rq words of ek_conv_params_t: per group of 4 channels [bias_full x4][mult x4][round x4][rshift x4].

    Every shift must be <= -2: rshift = -shift - 1, round = 2^(rshift - 1) (the constant part of ek_mbqm_pos's
    64-bit sum, see ek_dw_requant in ek_depthwise.c).
    """
    sh = np.asarray(shifts, dtype=np.int64)
    if not _dw_packed_ok(shifts):
        raise ValueError("dw_requant_table needs every shift <= -2")
    rshift = -sh - 1
    rnd = np.left_shift(1, rshift - 1)
    cols = [np.asarray(bias_full, dtype=np.int64), np.asarray(mults, dtype=np.int64), rnd, rshift]
    return np.stack([c.reshape(-1, 4) for c in cols], axis=1).reshape(-1).astype(np.int32)


def _sparse(ctx: OpContext, p: dict[str, object], *, w16: bool | None = None) -> SparseWeights | None:
    """The sparse encoding of a CONV_2D filter (no groups) when ``ctx.sparse`` selects it against the dense kernel
    of int16 weights (``w16``, default ``ctx.wide_weights``) or int8 ones, else None."""
    if ctx.sparse == "off" or p["k_c"] != p["in_c"] or (ctx.mve and ctx.sparse == "auto"):
        return None
    enc = encode(ctx.input(1).array().reshape(int(p["out_c"]), -1))
    pixels = int(p["batches"]) * int(p["out_h"]) * int(p["out_w"])
    taps = 0 if _sparse_direct(p) else int(p["k_h"]) * int(p["k_w"])
    wide = ctx.wide_weights if w16 is None else w16
    return enc if choose(ctx.sparse, enc, pixels, taps=taps, w16=wide) else None


def _sparse_direct(p: dict[str, object]) -> bool:
    """1x1 without padding: ek_sparse_conv2d_s8 reads the input pixels in place (no scratch)."""
    return p["k_h"] == 1 and p["k_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0


def _emit_sparse(ctx: OpContext, p: dict[str, object], enc: SparseWeights, pname: str, inp: str,
                 out: str) -> tuple[list[str], str]:
    out_c = int(p["out_c"])
    w = ctx.input(1).array().reshape(out_c, -1)
    b = ctx.input(2).array().reshape(-1) if ctx.input(2) is not None else None
    s = dict(rows=out_c, depth=enc.depth,
             counts=ctx.const_array(f"{ctx.ident}_sp_counts", enc.counts, "uint16_t"),
             entries=ctx.const_array(f"{ctx.ident}_sp_entries", enc.entries, "uint8_t"),
             bias=ctx.const_array(f"{ctx.ident}_sp_bias", folded_bias(w, b, int(p["in_offset"])), "int32_t"))
    ctx.notes.append(f"op {ctx.op.index} CONV_2D: sparse weights, {enc.nonzeros} of {w.size} non-zero "
                     f"({enc.density:.1%} entries), {enc.nbytes} B instead of {w.size} B")
    scratch = "NULL" if _sparse_direct(p) else ctx.scratch
    decls = [f"/* sparse weights: {enc.nonzeros} of {w.size} non-zero, {enc.n_entries} entries ({enc.nbytes} B) */",
             *c_struct("ek_conv_params_t", "p", p).splitlines(),
             *c_struct("ek_sparse_t", "s", s).splitlines()]
    return decls, f"ek_sparse_conv2d_s8(&{pname}, &s, {inp}, {out}, {scratch});"


class _ConvBase(OpHandler):
    depthwise = False
    kernel = ""

    def check(self, ctx: OpContext) -> None:
        _conv_params(ctx, self.depthwise)

    def emit(self, ctx: OpContext) -> str:
        ct = "int16_t" if ctx.input(0).dtype == "int16" else "int8_t"
        decls, call = self.kernel_call(ctx, "p", ctx.ptr(ctx.op.inputs[0], ct), ctx.ptr(ctx.op.outputs[0], ct))
        return "\n".join(["{", *("    " + line for line in decls), *("    " + line for line in call.splitlines()),
                          "}"])

    def _depthwise_kernels(self, p: dict[str, object]) -> bool:
        """Whether the depthwise kernels run this op (a one-channel depthwise runs on the convolution ones)."""
        return self.depthwise and not _dw_as_conv(p)

    def kernel_call(self, ctx: OpContext, pname: str, inp: str, out: str) -> tuple[list[str], str]:
        """The declarations (a ``static const ek_conv_params_t p`` and any other constant struct) and the kernel
        call reading its parameters from ``pname`` (``p`` or a modified copy), input ``inp``, output ``out``."""
        p = _conv_params(ctx, self.depthwise)
        mults, shifts = p.pop("_mults"), p.pop("_shifts")
        if ctx.input(0).dtype == "int16":
            return self._call16(ctx, p, mults, shifts, pname, inp, out)
        dw = self._depthwise_kernels(p)
        packed = dw and _dw_taps(p) and _dw_packed_ok(shifts) and not ctx.mve
        enc = None if self.depthwise else _sparse(ctx, p)
        if ctx.mve and enc is None:  # the MVE kernels read bias, multipliers and shifts from their rq words
            call = self._mve_call(ctx, p, mults, shifts, pname, inp, out)
            if call is not None:
                return call
        if packed:  # the packed kernel reads bias, multipliers and shifts from dw_rq only
            p.update(out_mult="NULL", out_shift="NULL")
        else:
            p.update(out_mult=ctx.const_array(f"{ctx.ident}_mult", np.array(mults, dtype=np.int32), "int32_t"),
                     out_shift=ctx.const_array(f"{ctx.ident}_shift", np.array(shifts, dtype=np.int8), "int8_t"))
        if enc is not None:
            return _emit_sparse(ctx, p, enc, pname, inp, out)
        filt = ""
        kernel, extra = self.kernel, ""
        if not dw and _use_im2col(p):
            kernel, extra = "ek_conv2d_s8_im2col", f", {ctx.scratch}"
            w = _conv_matrix(ctx, p, self.depthwise)
            sh16 = w16_shifts(mults, shifts) if ctx.wide_weights else None
            if sh16 is not None:
                # weights widened to int16 here (no SXTB16 in the kernel's inner loop), requantization words
                kernel = "ek_conv2d_s8_im2col_w16"
                f16 = matmul_filter_w16(w)
                filt = ctx.const_array(f"{ctx.ident}_filter_w16", f16, "int16_t")
                b = ctx.input(2).array().reshape(-1) if ctx.input(2) is not None else None
                rq = matmul_rq_w16(b, mults, sh16)
                rq_w16 = ctx.const_array(f"{ctx.ident}_rq_w16", rq, "int32_t")
                p.update(out_mult="NULL", out_shift="NULL")
                ctx.w16_layer = Layer(
                    ctx.op.index, ctx.op.opcode, "conv", int(w.shape[0]), int(w.shape[1]),
                    int(p["batches"]) * int(p["out_h"]) * int(p["out_w"]),
                    0 if _sparse_direct(p) else int(p["k_h"]) * int(p["k_w"]),
                    int(f16.nbytes + rq.nbytes - w.size - 5 * w.shape[0]),
                    sparse_if_int8=_sparse(ctx, p, w16=False) is not None)
            else:
                filt = f"((const int8_t *){ctx.const_array(f'{ctx.ident}_filter_mm', matmul_filter(w), 'int8_t')})"
        if dw and _dw_taps(p):
            # no fallback kernels linked; the bias and the input offset are folded into dw_bias_full / dw_rq
            full = _dw_bias_full(ctx, int(p["out_c"]), int(p["in_offset"]))
            extra = f", {ctx.scratch}"
            if packed:
                kernel = "ek_depthwise_conv2d_s8_packed"
                p["dw_rq"] = ctx.const_array(f"{ctx.ident}_dw_rq", dw_requant_table(full, mults, shifts), "int32_t")
                filt = ctx.const_array(f"{ctx.ident}_filter_dw16", _dw_packed_filter(ctx, int(p["out_c"])),
                                       "int16_t")
            else:  # a requantization shift > -2 (multiplier >= 1/4): the int8 tap kernel
                kernel = "ek_depthwise_conv2d_s8_fast"
                p["dw_bias_full"] = ctx.const_array(f"{ctx.ident}_bias_full", full, "int32_t")
                taps = ctx.input(1).array().reshape(-1, int(p["out_c"]) // 4, 4).transpose(1, 0, 2)  # [c/4][tap][4]
                filt = f"((const int8_t *){ctx.const_array(f'{ctx.ident}_filter_dw', taps, 'int8_t')})"
        filt = filt or ctx.ptr(ctx.op.inputs[1], role="filter")
        if kernel == "ek_conv2d_s8_im2col_w16":
            bias = rq_w16
        elif kernel in ("ek_depthwise_conv2d_s8_packed", "ek_depthwise_conv2d_s8_fast") or ctx.input(2) is None:
            bias = "NULL"
        else:
            bias = ctx.ptr(ctx.op.inputs[2], "int32_t", role="bias")
        return (c_struct("ek_conv_params_t", "p", p).splitlines(),
                f"{kernel}(&{pname}, {inp}, {filt}, {bias},\n    {out}{extra});")

    def _call16(self, ctx: OpContext, p: dict[str, object], mults: list[int], shifts: list[int], pname: str,
                inp: str, out: str) -> tuple[list[str], str]:
        """The 16x8 kernels (ek_int16.h): the plain filter, 64-bit accumulation unless the bias is int32."""
        p.update(out_mult=ctx.const_array(f"{ctx.ident}_mult", np.array(mults, dtype=np.int32), "int32_t"),
                 out_shift=ctx.const_array(f"{ctx.ident}_shift", np.array(shifts, dtype=np.int8), "int8_t"))
        filt = ctx.ptr(ctx.op.inputs[1], role="filter")
        bias_t = ctx.input(2)
        bias = "NULL" if bias_t is None else ctx.ptr(ctx.op.inputs[2], "int64_t", role="bias")
        decls = c_struct("ek_conv_params_t", "p", p).splitlines()
        if self.depthwise:
            return decls, f"ek_depthwise_conv2d_s16(&{pname}, {inp}, {filt}, {bias},\n    {out});"
        acc32 = int(bias_t.dtype == "int32") if bias_t is not None else int(_bias_type_int32(ctx))
        patch = f"(int16_t *){ctx.scratch}" if _patch16(p) else "NULL"
        return decls, f"ek_conv2d_s16(&{pname}, {inp}, {filt}, {bias}, {acc32},\n    {out}, {patch});"

    def _t9_pairs(self, ctx: OpContext, p: dict[str, object]) -> bool:
        """Whether ek_depthwise_conv2d_s8_mve_t9x2 runs this 8-channel depthwise layer (pixel pairs)."""
        return (ctx.mve and int(p["k_h"]) * int(p["k_w"]) == 9 and dw_t9_pairs(p)
                and int(ctx.input(1).array().min(initial=0)) > -128)

    def _mve_call(self, ctx: OpContext, p: dict[str, object], mults: list[int], shifts: list[int], pname: str,
                  inp: str, out: str) -> tuple[list[str], str] | None:
        """The ek_conv2d_s8_mve_* / ek_depthwise_conv2d_s8_mve call, or None where those kernels do not apply."""
        out_c, in_offset = int(p["out_c"]), int(p["in_offset"])
        dw = self._depthwise_kernels(p)
        if dw and _dw_taps(p):
            weights = ctx.input(1).array().reshape(-1, out_c)
            full = _dw_bias_full(ctx, out_c, in_offset)
            m = np.broadcast_to(np.asarray(mults, dtype=np.int64).reshape(-1), (out_c,))
            sh = np.broadcast_to(np.asarray(shifts, dtype=np.int64).reshape(-1), (out_c,))
            # int16 pair sums need |w| <= 127 (TFLite's int8 weight range); a -128 weight keeps the int32 lanes
            pairs = int(weights.min(initial=0)) > -128
            # one call per row, VMULLB/T.S8 tap pairs; its 16-bit ek_dw9_params_t fields hold p's values, which
            # _conv_params already checked against the same 16-bit types of ek_conv_params_t on MVE cores
            # (8 channels: two neighbouring pixels as one 16-channel block, the taps and rq groups twice)
            t9x2 = out_c == 8 and self._t9_pairs(ctx, p)
            t9 = pairs and weights.shape[0] == 9 and (out_c % 16 == 0 or t9x2)
            order = (dw_t9_order(16) % 8 if t9x2 else dw_t9_order(out_c) if t9 else dw_pairs_order(out_c) if pairs
                     else np.arange(out_c))
            rq = mve_rq_table(full[order], m[order], sh[order], order.size)
            taps = np.concatenate([weights, weights], axis=1).reshape(-1) if t9x2 else dw_mve_filter(weights, pairs)
            if pairs and not t9 and out_c == 8 and int(p["stride_w"]) == 1:
                # two neighbouring pixels as one 16-channel block (the kernel's dw16_pairs_asm): the taps twice
                # side by side after the 8-channel ones, the 2 rq groups twice (4 groups: pixel 0, pixel 1)
                taps = np.concatenate([taps, np.concatenate([weights, weights], axis=1).reshape(-1)])
                rq = np.concatenate([rq, rq])
            p.update(out_mult="NULL", out_shift="NULL", dw_rq=ctx.const_array(f"{ctx.ident}_mve_rq", rq, "int32_t"))
            filt = f"((const int8_t *){ctx.const_array(f'{ctx.ident}_filter_mve', taps, 'int8_t')})"
            kernel = ("ek_depthwise_conv2d_s8_mve_t9" + "x2" * t9x2 if t9 else "ek_depthwise_conv2d_s8_mve_pairs"
                      if pairs else "ek_depthwise_conv2d_s8_mve")
            if pairs and not t9 and out_c == 8:
                kernel += "8"  # the 8-channel copy of the pixel loop
            if (t9 and (sh < 0).all()) or (pairs and not t9 and not (sh > 0).any()):
                kernel += "_nls"  # no left shift anywhere (t9: right shifts only): the variant without VSHL
            if t9 and (int(p["act_min"]), int(p["act_max"])) == (-128, 127):
                kernel += "_nc"  # the clamp is the int8 saturation already: the variant without it
            if t9:  # the compact struct of the fields it reads, no bias argument
                fields = {k: p[k] for k in DW9_FIELDS} | {"dw_rq": p["dw_rq"]}
                return (c_struct("ek_dw9_params_t", "p", fields).splitlines(),
                        f"{kernel}(&{pname}, {inp}, {filt},\n    {out}, {ctx.scratch});")
            return (c_struct("ek_conv_params_t", "p", p).splitlines(),
                    f"{kernel}(&{pname}, {inp}, {filt}, NULL,\n    {out}, {ctx.scratch});")
        if not dw and _use_im2col(p):
            w = _conv_matrix(ctx, p, self.depthwise)
            b = ctx.input(2).array().reshape(-1) if ctx.input(2) is not None else None
            rq = ctx.const_array(f"{ctx.ident}_mve_rq",
                                 mve_rq_table(folded_bias(w, b, in_offset), mults, shifts, out_c), "int32_t")
            segments = int(p["k_h"]) if mve_segmented(p) else 1
            taps = mve_rows_filter(w, segments)
            filt = f"((const int8_t *){ctx.const_array(f'{ctx.ident}_filter_mve', taps, 'int8_t')})"
            p.update(out_mult="NULL", out_shift="NULL")
            return mve_call(p, mve_layout(p, ctx.scratch_size), pname, inp, filt, rq, out, ctx.scratch, shifts)
        return None

    def scratch_options(self, ctx: OpContext) -> list[int]:
        """ek_conv2d_s8_mve_*: the larger scratch layouts (padded input, two patches), best first."""
        p = _conv_params(ctx, self.depthwise)
        if not (ctx.mve and not self._depthwise_kernels(p) and ctx.input(0).dtype != "int16" and _use_im2col(p)
                and (self.depthwise or _sparse(ctx, p) is None)):
            return []
        sizes = list(mve_scratch(p).values())
        return sizes[:0:-1]

    def scratch_bytes(self, ctx: OpContext) -> int:
        p = _conv_params(ctx, self.depthwise)
        if ctx.input(0).dtype == "int16":
            return 2 * int(p["k_h"]) * int(p["k_w"]) * int(p["k_c"]) if not self.depthwise and _patch16(p) else 0
        dw = self._depthwise_kernels(p)
        if ctx.mve and not dw and _use_im2col(p) and (self.depthwise or _sparse(ctx, p) is None):
            return mve_scratch(p).get(mve_layout(p, ctx.scratch_size), 0)
        if dw:
            # a row of input zero points for the padding taps (t9 pixel pairs: 16 bytes)
            return (16 if self._t9_pairs(ctx, p) else int(p["in_c"])) if _dw_taps(p) else 0
        if self.depthwise:  # one input channel: the im2col kernel
            return _im2col_scratch(p)
        if _sparse(ctx, p) is not None:  # EK_SPARSE_CONV_SCRATCH: 4 im2col patches unless 1x1 unpadded
            return 0 if _sparse_direct(p) else 4 * int(p["k_h"]) * int(p["k_w"]) * int(p["in_c"])
        return _im2col_scratch(p) if _use_im2col(p) else 0


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
