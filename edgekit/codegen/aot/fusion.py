"""CONV_2D + ADD fusion: the residual-block peak of ResNet-style models without the conv's output in the arena.

A CONV_2D whose output C is read only by the ADD right after it, ``D = ADD(A, C)`` (either operand order) with
no broadcast and A dying at that ADD, runs in blocks of output rows: the conv writes a few rows of C into the
op's scratch, the unchanged ADD kernel combines them with the same rows of A and writes D over A (it reads A
only at the position it writes). The conv kernels compute output row ``y`` from ``oy * stride_h - pad_h``, so a
block of rows starting at ``y`` is the same conv with ``out_h`` rows and ``pad_h - y * stride_h`` (or, without
top padding, the input pointer moved down ``y * stride_h`` rows): every int8 value is the one the unfused pair
computes, bit for bit. The memory plan sees C not at all and D aliasing A.

float32 pairs fuse the same way (:func:`emit_float`): the block of C is stored as float (the conv's own rounding and
clamp), then ADD adds it to A and clamps, element by element: the operation order of TFLM's two separate float
kernels, so every output is theirs bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from edgekit.codegen.aot.ops.base import c_struct
from edgekit.codegen.aot.plan import align_up

if TYPE_CHECKING:
    from edgekit.codegen.aot.ops.base import OpContext
    from edgekit.tflite_model import Subgraph

# ek_add_table_t (ek_elementwise.h): the ek_add_params fields of a table ADD
ADD_TABLE_FIELDS = ("table1", "table2", "output_multiplier", "out_rshift", "output_offset", "act_min", "act_max")
ROW_BLOCK_BYTES = 2048  # at most this many bytes of conv output rows in scratch per block
FUSABLE = {"int8": 1, "float32": 4}  # dtype of A, C and D -> bytes per element


@dataclass(frozen=True)
class ConvAdd:
    """One fused pair: conv op ``conv`` (output ``c``) then ADD op ``add = conv + 1``, ``d = ADD(a, c)``."""

    conv: int
    add: int
    a: int
    c: int
    d: int
    rows: int  # output rows per block
    row_bytes: int  # bytes of one output row of C (and D)


def find_conv_add(sg: Subgraph) -> dict[int, ConvAdd]:
    """The fusable CONV_2D + ADD pairs of ``sg``, keyed by the ADD's operator index."""
    ops = sg.operators
    readers: dict[int, list[int]] = {}
    for op in ops:
        for t in op.inputs:
            if t >= 0:
                readers.setdefault(t, []).append(op.index)
    outputs = set(sg.outputs)
    found: dict[int, ConvAdd] = {}
    for i in range(len(ops) - 1):
        conv, add = ops[i], ops[i + 1]
        if conv.opcode != "CONV_2D" or add.opcode != "ADD" or len(add.inputs) != 2 or len(conv.outputs) != 1:
            continue
        c, d = conv.outputs[0], add.outputs[0]
        if list(add.inputs).count(c) != 1 or c in outputs or readers.get(c) != [add.index]:
            continue
        a = add.inputs[1] if add.inputs[0] == c else add.inputs[0]
        ta, tc, td = sg.tensors[a], sg.tensors[c], sg.tensors[d]
        if a < 0 or ta.is_const or a in outputs or a in conv.inputs or max(readers.get(a, [])) != add.index:
            continue  # A must die at the ADD and must not be what the conv reads (its rows get overwritten)
        if not (tuple(ta.shape) == tuple(tc.shape) == tuple(td.shape) and len(tc.shape) == 4 and tc.shape[0] == 1):
            continue  # no broadcast, one image
        if not (ta.dtype == tc.dtype == td.dtype and ta.dtype in FUSABLE) or ta.nbytes != td.nbytes:
            continue
        out_h = int(tc.shape[1])
        row_bytes = int(tc.shape[2]) * int(tc.shape[3]) * FUSABLE[ta.dtype]
        rows = min(out_h, max(1, ROW_BLOCK_BYTES // row_bytes))  # the last block may be shorter
        found[add.index] = ConvAdd(conv=i, add=add.index, a=a, c=c, d=d, rows=rows, row_bytes=row_bytes)
    return found


def scratch_bytes(fused: ConvAdd, conv_scratch: int) -> int:
    """Scratch of the fused op: the conv's own scratch, then a block of output rows."""
    return align_up(conv_scratch) + fused.rows * fused.row_bytes


def trade_rows(fused: ConvAdd, conv_scratch: int, larger: int) -> ConvAdd | None:
    """The pair with a conv scratch of ``larger`` bytes (instead of ``conv_scratch``) in place of block rows, the
    fused op's scratch no larger; None when that would leave fewer than max(2, rows - 1) rows per block."""
    rows = (scratch_bytes(fused, conv_scratch) - align_up(larger)) // fused.row_bytes
    return replace(fused, rows=rows) if rows >= max(2, fused.rows - 1) else None


def emit(fused: ConvAdd, conv_ctx: OpContext, add_ctx: OpContext, conv_handler, add_handler,
         conv_scratch: int) -> str:
    """C statements of the fused pair (emitted in place of the ADD; the conv emits nothing)."""
    sg = conv_ctx.subgraph
    if sg.tensors[fused.c].dtype == "float32":
        return emit_float(fused, conv_ctx, add_ctx, conv_scratch)
    conv_ctx.scratch = add_ctx.scratch  # the conv's scratch is the start of the fused op's scratch
    inp = conv_ctx.op.inputs[0]
    t_in = sg.tensors[inp]
    in_row = int(t_in.shape[2]) * int(t_in.shape[3])
    decls, call = conv_handler.kernel_call(conv_ctx, "pr", "in", "blk")
    fn, params, shape = add_handler.kernel_params(add_ctx)
    out_h = int(sg.tensors[fused.c].shape[1])
    a_first = add_ctx.op.inputs[0] == fused.a
    args = "row, blk" if a_first else "blk, row"
    # MVE: a table ADD over the block's contiguous elements, no ek_bcast (a model links no broadcast walk)
    direct = conv_ctx.mve and fn == "ek_add_s8" and "table1" in params
    mve_t = bool(decls) and decls[0].startswith("static const ek_conv_mve_t p")
    if direct and mve_t:
        return _emit_mve_add(fused, conv_ctx, add_ctx, decls, call.split("(")[0], params, a_first, conv_scratch)
    g = "g." if mve_t else ""  # an ek_conv_mve_t p keeps the geometry in p.g
    add_call = ([f"        ek_add_s8_table_n({args}, row, n * {fused.row_bytes}, &pa);"] if direct else [
        "        sr.ndims = 1;",
        f"        sr.dims[0] = n * {fused.row_bytes};",
        "        sr.stride1[0] = 1;",
        "        sr.stride2[0] = 1;",
        f"        {fn}({args}, row, &sr, &pa);"])
    lines = [
        "{",
        f"    /* fused with op {fused.conv} (CONV_2D): {fused.rows} output rows at a time into scratch, "
        f"ADD written over '{sg.tensors[fused.a].name.split(';')[0]}' */",
        *("    " + ln for ln in decls),
        *("    " + ln for ln in c_struct("ek_add_params", "pa", params).splitlines()),
        *(() if direct else ("    " + ln for ln in c_struct("ek_bcast", "shape", shape).splitlines())),
        f"    {'ek_conv_mve_t' if mve_t else 'ek_conv_params_t'} pr = p;",
        *(() if direct else ("    ek_bcast sr = shape;",)),
        f"    int8_t *blk = (int8_t *){add_ctx.scratch} + {align_up(conv_scratch)};",
        "    int32_t y;",
        f"    for (y = 0; y < {out_h}; y += {fused.rows}) {{",
        f"        int8_t *row = {add_ctx.ptr(fused.a)} + (size_t)y * {fused.row_bytes}u;",
        f"        const int32_t n = {out_h} - y < {fused.rows} ? {out_h} - y : {fused.rows};",
        "        const int8_t *in;",
        f"        pr.{g}out_h = n;",
        f"        if (p.{g}pad_h == 0) {{  /* no top padding: move the input down (keeps 1x1 convs on their direct "
        "path) */",
        f"            in = {conv_ctx.ptr(inp)} + (size_t)y * p.{g}stride_h * {in_row}u;",
        f"            pr.{g}in_h = p.{g}in_h - y * p.{g}stride_h;",
        "        } else {",
        f"            in = {conv_ctx.ptr(inp)};",
        f"            pr.{g}pad_h = p.{g}pad_h - y * p.{g}stride_h;",
        "        }",
        *("        " + ln for ln in call.splitlines()),
        *add_call,
        "    }",
        "}",
    ]
    return "\n".join(lines)


def _emit_mve_add(fused: ConvAdd, conv_ctx: OpContext, add_ctx: OpContext, decls: list[str], entry: str,
                  params: dict[str, object], a_first: bool, conv_scratch: int) -> str:
    """The fused pair on MVE through ``ek_conv2d_s8_mve_add`` (ek_conv.h): the conv's ek_conv_mve_t, its entry and
    the table ADD's parameters (ek_add_table_t; all of ek_add_params in EK_SINGLE_ROUNDING builds) with the conv's
    output as input 1 (the ADD is symmetric: the input fields swap)."""
    if a_first:
        params = dict(params)
        for k1 in ("input1_offset", "input1_multiplier", "input1_shift", "table1"):
            k2 = k1.replace("1", "2")
            params[k1], params[k2] = params[k2], params[k1]
    sg = conv_ctx.subgraph
    scratch = add_ctx.scratch
    table = {k: params[k] for k in ADD_TABLE_FIELDS}
    return "\n".join([
        "{",
        f"    /* fused with op {fused.conv} (CONV_2D): {fused.rows} output rows at a time into scratch, "
        f"ADD written over '{sg.tensors[fused.a].name.split(';')[0]}' */",
        *("    " + ln for ln in decls),
        "#if EK_SINGLE_ROUNDING",
        *("    " + ln for ln in c_struct("ek_add_params", "pa", params).splitlines()),
        "#else",  # the fields the table ADD reads (ek_add_table_t)
        *("    " + ln for ln in c_struct("ek_add_table_t", "pa", table).splitlines()),
        "#endif",
        f"    ek_conv2d_s8_mve_add(&p, {entry}, {conv_ctx.ptr(conv_ctx.op.inputs[0])}, {add_ctx.ptr(fused.a)},",
        f"        {scratch}, (int8_t *){scratch} + {align_up(conv_scratch)}, {fused.rows}, &pa);",
        "}",
    ])


def emit_float(fused: ConvAdd, conv_ctx: OpContext, add_ctx: OpContext, conv_scratch: int) -> str:
    """C statements of a fused float32 pair: ``ek_f32_conv`` on a block of rows into scratch, then ``ek_f32_binary``
    (ADD, the ADD's fused activation) over the same rows of A."""
    from edgekit.codegen.aot.ops.float_common import act_range
    from edgekit.codegen.aot.ops.float_nn import conv_params

    sg = conv_ctx.subgraph
    conv_ctx.scratch = add_ctx.scratch
    inp = conv_ctx.op.inputs[0]
    t_in = sg.tensors[inp]
    in_row = int(t_in.shape[2]) * int(t_in.shape[3])
    row = fused.row_bytes // 4
    p = conv_params(conv_ctx)
    lo, hi = act_range(add_ctx)
    out_h = int(sg.tensors[fused.c].shape[1])
    a_first = add_ctx.op.inputs[0] == fused.a
    args = "row, blk" if a_first else "blk, row"
    bias = conv_ctx.ptr(conv_ctx.op.inputs[2], "float", role="bias") if conv_ctx.input(2) is not None else "NULL"
    lines = [
        "{",
        f"    /* fused with op {fused.conv} (CONV_2D, float32): {fused.rows} output rows at a time into scratch, "
        f"ADD written over '{sg.tensors[fused.a].name.split(';')[0]}' */",
        *("    " + ln for ln in c_struct("ek_f32_conv_params", "p", p).splitlines()),
        "    ek_f32_conv_params pr = p;",
        "    ek_nshape shape;",
        f"    float *blk = (float *)((uint8_t *){add_ctx.scratch} + {align_up(conv_scratch)});",
        "    int32_t y;",
        f"    for (y = 0; y < {out_h}; y += {fused.rows}) {{",
        f"        float *row = {add_ctx.ptr(fused.a, 'float')} + (size_t)y * {row}u;",
        f"        const int32_t n = {out_h} - y < {fused.rows} ? {out_h} - y : {fused.rows};",
        "        const float *in;",
        "        pr.out_h = n;",
        "        if (p.pad_h == 0) {  /* no top padding: move the input down */",
        f"            in = {conv_ctx.ptr(inp, 'float')} + (size_t)y * p.stride_h * {in_row}u;",
        "            pr.in_h = p.in_h - y * p.stride_h;",
        "        } else {",
        f"            in = {conv_ctx.ptr(inp, 'float')};",
        "            pr.pad_h = p.pad_h - y * p.stride_h;",
        "        }",
        f"        ek_f32_conv(&pr, in, {conv_ctx.ptr(conv_ctx.op.inputs[1], 'float', role='filter')}, {bias}, blk);",
        "        shape.ndims = 1;",
        f"        shape.dims[0] = n * {row};",
        "        shape.stride[0][0] = 1;",
        "        shape.stride[1][0] = 1;",
        f"        ek_f32_binary(EK_F32_ADD, {args}, row, &shape, {lo}, {hi});",
        "    }",
        "}",
    ]
    return "\n".join(lines)
