"""UNIDIRECTIONAL_SEQUENCE_LSTM: TFLM's integer LSTM (int8 activations and weights, int16 cell state; and 16x8:
int16 activations, int8 weights, int64 gate biases).

The parameters are the ones TFLM's ``PrepareGateParametersInteger`` computes: each gate's input and recurrent
FULLY_CONNECTED requantize to int16 Q3.12 (scale 2^-12), the gate outputs are Q0.15 (2^-15), the cell state's
scale must be a power of two (its exponent drives the integer tanh). Like TFLM's kernel, peephole, projection,
layer-norm and CIFG variants are rejected. The hidden and cell states are variable tensors: the memory plan keeps
them for the whole program and ``ek_model_init`` resets them (generate.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register, scale_zp
from edgekit.codegen.aot.ops.fully_connected import folded_bias
from edgekit.codegen.aot.quant import f32, fc_multiplier, quantize_multiplier

# TFLM input indices (lstm_shared.h) per gate, in the kernel's order forget, input, cell, output:
# (input weights, recurrent weights, bias)
GATES = {"forget": (2, 6, 13), "input": (1, 5, 12), "cell": (3, 7, 14), "output": (4, 8, 15)}
_VARIANTS = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
             20: "layer norm", 21: "layer norm", 22: "layer norm", 23: "layer norm"}
GATE_SCALE = 2.0 ** -12  # FC outputs (pre-activations), Q3.12
ACT_SCALE = 2.0 ** -15  # sigmoid / tanh outputs, Q0.15


def _weights(ctx: OpContext, k: int, rows: int, cols: int, what: str) -> tuple[float, int]:
    w = ctx.input(k)
    ctx.require_dtype(w, "int8", what=what)
    ctx.require(w.is_const, f"{what} '{w.name}' is not a constant")
    ctx.require(tuple(w.shape) == (rows, cols), f"{what} has shape {list(w.shape)}, expected {[rows, cols]}")
    return scale_zp(ctx, w, what)


def standard_lstm(ctx: OpContext) -> tuple[Any, Any, Any, Any]:
    """Input, output state, cell state and output of a standard LSTM (peephole, projection, layer-norm and CIFG
    variants refused, as TFLM's kernels do): shared by the integer and the float32 handler."""
    op = ctx.op
    ctx.require(len(op.inputs) == 24, f"expected 24 inputs, got {len(op.inputs)}")
    for k, variant in _VARIANTS.items():
        ctx.require(ctx.input(k) is None, f"the {variant} variant is not supported (TFLM's kernel rejects it too)")
    ctx.require(ctx.input(1) is not None and ctx.input(5) is not None,
                "the CIFG variant (no input gate) is not supported (TFLM's kernel rejects it too)")
    return ctx.input(0), ctx.input(18), ctx.input(19), ctx.output(0)


def lstm_geometry(ctx: OpContext, inp: Any, hid: Any, cell: Any, out: Any) -> tuple[int, int, int, int, bool]:
    """(batches, steps, n_input, n_state, time_major) of an LSTM, its states and output checked against them."""
    ctx.require(hid.is_variable and cell.is_variable, "the output and cell states must be variable tensors")
    ctx.require(len(inp.shape) == 3 and len(out.shape) == 3, "input and output must be 3-D")
    time_major = bool(ctx.options.get("time_major", False))
    steps, batches = (inp.shape[0], inp.shape[1]) if time_major else (inp.shape[1], inp.shape[0])
    n_input = inp.shape[2]
    ctx.require(len(hid.shape) == 2, f"output state must be 2-D, got {list(hid.shape)}")
    n_state = hid.shape[1]
    ctx.require(hid.size == batches * n_state and cell.size == batches * n_state,
                f"states must hold {batches} x {n_state} values")
    ctx.require(tuple(out.shape[:2]) == tuple(inp.shape[:2]) and out.shape[2] == n_state,
                f"output shape {list(out.shape)} does not match input {list(inp.shape)} and state {n_state}")
    return batches, steps, n_input, n_state, time_major


def _params(ctx: OpContext) -> dict[str, object]:
    inp, hid, cell, out = standard_lstm(ctx)
    ctx.require_dtype(inp, "int8", "int16", what="input")
    wide = inp.dtype == "int16"  # 16x8: int16 activations, int64 biases
    ctx.require_dtype(out, inp.dtype, what="output")
    ctx.require_dtype(hid, inp.dtype, what="output state")
    ctx.require_dtype(cell, "int16", what="cell state")
    batches, steps, n_input, n_state, time_major = lstm_geometry(ctx, inp, hid, cell, out)
    act = ctx.options.get("fused_activation_function", "TANH")
    ctx.require(act == "TANH", f"cell gate activation {act} is not supported (TANH)")
    in_scale, in_zp = scale_zp(ctx, inp, "input")
    hid_scale, hid_zp = scale_zp(ctx, hid, "output state")
    cell_scale, _ = scale_zp(ctx, cell, "cell state")
    if wide:
        ctx.require(in_zp == 0 and hid_zp == 0, "16x8 LSTM needs input and state zero points 0")
    p: dict[str, object] = dict(batches=batches, steps=steps, n_input=n_input, n_state=n_state,
                                time_major=int(time_major), hid_zp=hid_zp, _in_offset=-in_zp, _hid_offset=-hid_zp,
                                wide=int(wide))
    lists: dict[str, list[int]] = {k: [] for k in ("in_mult", "in_shift", "rec_mult", "rec_shift")}
    for gate, (wi, wr, b) in GATES.items():
        si, zi = _weights(ctx, wi, n_state, n_input, f"{gate} gate input weights")
        sr, zr = _weights(ctx, wr, n_state, n_state, f"{gate} gate recurrent weights")
        bias = ctx.input(b)
        ctx.require_dtype(bias, "int64" if wide else "int32", what=f"{gate} gate bias")
        ctx.require(bias.is_const and bias.size == n_state, f"{gate} gate bias must be {n_state} constants")
        ctx.require(zi == 0 and zr == 0, f"{gate} gate weights have a zero point (the converter's are symmetric)")
        for prefix, (m, s) in (("in", fc_multiplier(in_scale, si, GATE_SCALE)),
                               ("rec", fc_multiplier(hid_scale, sr, GATE_SCALE))):
            ctx.require(-31 <= s <= (7 if wide else 30), f"{gate} gate requantization shift {s} out of range")
            lists[f"{prefix}_mult"].append(m)
            lists[f"{prefix}_shift"].append(s)
    p.update(lists)

    def inter(s1: float, s2: float, so: float) -> tuple[int, int]:  # TFLM's CreateInterGateMulParams (doubles)
        return quantize_multiplier(f32(s1) * f32(s2) / f32(so))

    p["fc_mult"], p["fc_shift"] = inter(ACT_SCALE, cell_scale, cell_scale)
    p["ic_mult"], p["ic_shift"] = inter(ACT_SCALE, ACT_SCALE, cell_scale)
    p["oh_mult"], p["oh_shift"] = inter(ACT_SCALE, ACT_SCALE, hid_scale)
    for k in ("fc_shift", "ic_shift", "oh_shift"):
        ctx.require(-31 <= int(p[k]) <= 30, f"cell / hidden state scales give a requantization shift {p[k]} "
                                           "out of range")
    # TFLM's CheckedLog2: the exponent rounded (a cell scale that is not a power of two is used rounded, as there)
    power = int(np.round(np.float32(math.log(f32(cell_scale))) * np.float32(1.0 / math.log(2.0))))
    shift = 15 + power - 3
    p["tanh_mult"], p["tanh_shift"] = (3, -shift) if shift < 0 else (0, shift)
    # the kernel computes cell * (3 << shift) or (cell * 3) >> shift in int32, as TFLM does
    ctx.require(-shift <= 30 if shift < 0 else shift <= 14,
                f"cell state scale {cell_scale:g} (2^{power}) is outside what TFLM's integer tanh handles")
    clip = f32(float(ctx.options.get("cell_clip", 0.0)))
    p["cell_clip"] = int(min(max(clip / f32(cell_scale), -32768.0), 32767.0)) if clip > 0 else 0
    p["cell_act"] = 1  # EK_LSTM_TANH (the schema has no sigmoid activation to ask for the other)
    return p


@register
class UnidirectionalSequenceLstm(OpHandler):
    """UNIDIRECTIONAL_SEQUENCE_LSTM, integer (int8 x int8 -> int16 cell), time-major either way."""

    opcodes = ("UNIDIRECTIONAL_SEQUENCE_LSTM",)

    def check(self, ctx: OpContext) -> None:
        _params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _params(ctx)
        in_offset, hid_offset = int(p.pop("_in_offset")), int(p.pop("_hid_offset"))
        names = list(GATES)
        p["w_in"] = "{" + ", ".join(ctx.ptr(ctx.op.inputs[GATES[g][0]], role=f"w_in_{g}") for g in names) + "}"
        p["w_rec"] = "{" + ", ".join(ctx.ptr(ctx.op.inputs[GATES[g][1]], role=f"w_rec_{g}") for g in names) + "}"
        wide = bool(p["wide"])
        if wide:
            p["bias64"] = "{" + ", ".join(ctx.ptr(ctx.op.inputs[GATES[g][2]], "int64_t", role=f"bias_{g}")
                                          for g in names) + "}"
        in_bias, rec_bias = [], []
        for g in names if not wide else ():  # int8: the input offsets folded into the biases (mod 2^32, as the
            # kernel's int32 sums)
            wi, wr, b = (ctx.input(k) for k in GATES[g])
            folded = folded_bias(wi.array(), b.array().reshape(-1), in_offset)
            in_bias.append(ctx.const_array(f"{ctx.ident}_in_bias_{g}", folded, "int32_t"))
            rec_bias.append(ctx.const_array(f"{ctx.ident}_rec_bias_{g}", folded_bias(wr.array(), None, hid_offset),
                                            "int32_t"))
        p["in_bias"] = "{" + ", ".join(in_bias or ["NULL"] * 4) + "}"
        p["rec_bias"] = "{" + ", ".join(rec_bias or ["NULL"] * 4) + "}"
        act = "int16_t" if wide else "int8_t"
        struct = c_struct("ek_lstm_params_t", "p", p)
        return "\n".join([
            "{",
            *("    " + line for line in struct.splitlines()),
            f"    ek_lstm_{'s16' if wide else 's8'}(&p, {ctx.ptr(ctx.op.inputs[0], act)}, "
            f"{ctx.ptr(ctx.op.inputs[18], act)},",
            f"        {ctx.ptr(ctx.op.inputs[19], 'int16_t')}, {ctx.ptr(ctx.op.outputs[0], act)},",
            f"        (int16_t *){ctx.scratch});",
            "}",
        ])

    def scratch_bytes(self, ctx: OpContext) -> int:
        """Four int16 gate buffers of batches x n_state (TFLM requests the same four)."""
        p = _params(ctx)
        return 4 * 2 * int(p["batches"]) * int(p["n_state"])
