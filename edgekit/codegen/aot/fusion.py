"""CONV_2D + ADD fusion: the residual-block peak of ResNet-style models without the conv's output in the arena.

A CONV_2D whose output C is read only by the ADD right after it, ``D = ADD(A, C)`` (either operand order) with
no broadcast and A dying at that ADD, runs in blocks of output rows: the conv writes a few rows of C into the
op's scratch, the unchanged ADD kernel combines them with the same rows of A and writes D over A (it reads A
only at the position it writes). The conv kernels compute output row ``y`` from ``oy * stride_h - pad_h``, so a
block of rows starting at ``y`` is the same conv with ``out_h`` rows and ``pad_h - y * stride_h`` (or, without
top padding, the input pointer moved down ``y * stride_h`` rows): every int8 value is the one the unfused pair
computes, bit for bit. The memory plan sees C not at all and D aliasing A.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgekit.codegen.aot.ops.base import c_struct
from edgekit.codegen.aot.plan import align_up

if TYPE_CHECKING:
    from edgekit.codegen.aot.ops.base import OpContext
    from edgekit.tflite_model import Subgraph

ROW_BLOCK_BYTES = 2048  # at most this many bytes of conv output rows in scratch per block


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
        if not (ta.dtype == tc.dtype == td.dtype == "int8") or ta.nbytes != td.nbytes:
            continue
        out_h = int(tc.shape[1])
        row_bytes = int(tc.shape[2]) * int(tc.shape[3])
        rows = min(out_h, max(1, ROW_BLOCK_BYTES // row_bytes))  # the last block may be shorter
        found[add.index] = ConvAdd(conv=i, add=add.index, a=a, c=c, d=d, rows=rows, row_bytes=row_bytes)
    return found


def scratch_bytes(fused: ConvAdd, conv_scratch: int) -> int:
    """Scratch of the fused op: the conv's own scratch, then a block of output rows."""
    return align_up(conv_scratch) + fused.rows * fused.row_bytes


def emit(fused: ConvAdd, conv_ctx: OpContext, add_ctx: OpContext, conv_handler, add_handler,
         conv_scratch: int) -> str:
    """C statements of the fused pair (emitted in place of the ADD; the conv emits nothing)."""
    sg = conv_ctx.subgraph
    conv_ctx.scratch = add_ctx.scratch  # the conv's scratch is the start of the fused op's scratch
    inp = conv_ctx.op.inputs[0]
    t_in = sg.tensors[inp]
    in_row = int(t_in.shape[2]) * int(t_in.shape[3])
    decls, call = conv_handler.kernel_call(conv_ctx, "pr", "in", "blk")
    fn, params, shape = add_handler.kernel_params(add_ctx)
    out_h = int(sg.tensors[fused.c].shape[1])
    a_first = add_ctx.op.inputs[0] == fused.a
    args = "row, blk" if a_first else "blk, row"
    lines = [
        "{",
        f"    /* fused with op {fused.conv} (CONV_2D): {fused.rows} output rows at a time into scratch, "
        f"ADD written over '{sg.tensors[fused.a].name.split(';')[0]}' */",
        *("    " + ln for ln in decls),
        *("    " + ln for ln in c_struct("ek_add_params", "pa", params).splitlines()),
        *("    " + ln for ln in c_struct("ek_bcast", "shape", shape).splitlines()),
        "    ek_conv_params_t pr = p;",
        "    ek_bcast sr = shape;",
        f"    int8_t *blk = (int8_t *){add_ctx.scratch} + {align_up(conv_scratch)};",
        "    int32_t y;",
        f"    for (y = 0; y < {out_h}; y += {fused.rows}) {{",
        f"        int8_t *row = {add_ctx.ptr(fused.a)} + (size_t)y * {fused.row_bytes}u;",
        f"        const int32_t n = {out_h} - y < {fused.rows} ? {out_h} - y : {fused.rows};",
        "        const int8_t *in;",
        "        pr.out_h = n;",
        "        if (p.pad_h == 0) {  /* no top padding: move the input down (keeps 1x1 convs on their direct path) */",
        f"            in = {conv_ctx.ptr(inp)} + (size_t)y * p.stride_h * {in_row}u;",
        "            pr.in_h = p.in_h - y * p.stride_h;",
        "        } else {",
        f"            in = {conv_ctx.ptr(inp)};",
        "            pr.pad_h = p.pad_h - y * p.stride_h;",
        "        }",
        *("        " + ln for ln in call.splitlines()),
        "        sr.ndims = 1;",
        f"        sr.dims[0] = n * {fused.row_bytes};",
        "        sr.stride1[0] = 1;",
        "        sr.stride2[0] = 1;",
        f"        {fn}({args}, row, &sr, &pa);",
        "    }",
        "}",
    ]
    return "\n".join(lines)
