"""CONV_2D on MVE cores: the scratch layouts of ``ek_conv2d_s8_mve_*`` (ek_conv.h) and the entry point a layer
calls.

The C kernel has one entry per code path (1x1 pixels read in place, windows inside the input, a zero-point-padded
copy, patches gathered at the borders, segmented rows read in place): this module picks the entry from the layer's
geometry and granted scratch layout, so that a model links only the paths its layers take. Every entry computes the
same int8 values; the choice only decides what is linked and how fast it runs. Every entry but ``_1x1`` reads one
generated ``ek_conv_mve_t`` (:func:`mve_struct`: the matrix kernel's q, the 16-bit geometry, the pair kernel and the
lone-column kernel of :func:`mve_x1_defines`) and computes one image. A CONV_2D fused with an ADD (``fusion.py``)
runs the entry once per block of output rows with ``out_h``, ``in_h`` and ``pad_h`` changed
(``ek_conv2d_s8_mve_add``): an unpadded layer's blocks stay unpadded (the input pointer moves down), so its entry's
conditions hold for each block.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.codegen.aot.ops.base import c_struct, mve_mm_struct, mve_x2rq

GATHER_BYTES = 64  # ek_conv2d_s8_mve_*_gather: a window of at most 4 gather loads of 16 bytes
GATHER_SPAN = 256  # ... through 8-bit byte offsets


def mve_segmented(p: dict[str, object]) -> bool:
    """k_h > 1 and k_w * k_c a multiple of 16: the filter in k_h segments, a window's k_h input rows read in place
    (``ek_conv2d_s8_mve_rows``)."""
    return int(p["k_h"]) > 1 and (int(p["k_w"]) * int(p["k_c"])) % 16 == 0


def mve_direct(p: dict[str, object]) -> bool:
    """1x1 without padding: the input pixels read in place (no im2col patch, no scratch)."""
    return p["k_h"] == 1 and p["k_w"] == 1 and p["pad_h"] == 0 and p["pad_w"] == 0


def _padded_size(p: dict[str, object]) -> tuple[int, int]:
    """Rows and columns of the zero-point-padded copy: the input that every window reads, padding included."""
    return ((int(p["out_h"]) - 1) * int(p["stride_h"]) + int(p["k_h"]),
            (int(p["out_w"]) - 1) * int(p["stride_w"]) + int(p["k_w"]))


def _inside(p: dict[str, object]) -> bool:
    """Every window inside the input: no padding before, the last window row and column inside."""
    hp, wp = _padded_size(p)
    return p["pad_h"] == 0 and p["pad_w"] == 0 and hp <= int(p["in_h"]) and wp <= int(p["in_w"])


def mve_scratch(p: dict[str, object]) -> dict[str, int]:
    """Scratch bytes per layout (ek_conv.h), cheapest first; {} for 1x1 unpadded convs. The padded copy only where
    a window touches the padding (elsewhere it would copy the input for nothing)."""
    if mve_direct(p):
        return {}
    k_elems = int(p["k_h"]) * int(p["k_w"]) * int(p["in_c"])
    hp, wp = _padded_size(p)
    sizes = {"EK_CONV_MVE_PAIRS": 2 * k_elems}
    if not _inside(p):
        sizes["EK_CONV_MVE_PADDED"] = 2 * k_elems + hp * wp * int(p["in_c"])
    return {"EK_CONV_MVE_PATCH": k_elems, **sizes} if mve_segmented(p) else sizes


def mve_layout(p: dict[str, object], scratch_size: int | None) -> str:
    """The scratch layout of this op: the planner's grant (``scratch_size``), else the smallest."""
    sizes = mve_scratch(p)
    granted = [k for k, v in sizes.items() if v == scratch_size]
    return granted[-1] if granted else next(iter(sizes), "EK_CONV_MVE_PATCH")


@dataclass(frozen=True)
class MveEntry:
    """The ``ek_conv2d_s8_mve_*`` function a layer calls and the arguments it takes after the output."""

    name: str
    scratch: bool  # takes the scratch pointer
    layout: bool  # takes the layout (ek_conv2d_s8_mve_rows)
    x2: bool = False  # takes the pair kernel (mve_x2)


def mve_entry(p: dict[str, object], layout: str) -> MveEntry:
    """The entry of ek_conv.h whose conditions the layer's geometry and scratch ``layout`` meet (the fastest)."""
    if mve_direct(p):
        one = int(p["stride_h"]) == 1 and int(p["stride_w"]) == 1
        rows = int(p["out_w"]) % 2 == 0  # whole pairs per output row: one call per row
        return MveEntry("ek_conv2d_s8_mve_1x1" if one else "ek_conv2d_s8_mve_1x1_rows" if rows else
                        "ek_conv2d_s8_mve_1x1_strided", False, False, not (one or rows))
    if mve_segmented(p):
        return MveEntry("ek_conv2d_s8_mve_rows", True, True)
    padded = layout == "EK_CONV_MVE_PADDED"
    if not (padded or _inside(p)):
        return MveEntry("ek_conv2d_s8_mve_patches", True, False, True)
    in_w = _padded_size(p)[1] if padded else int(p["in_w"])  # the gather loads read the padded copy's rows
    in_c = int(p["in_c"])
    k_h, run = int(p["k_h"]), int(p["k_w"]) * in_c
    gather = k_h * run <= GATHER_BYTES and (k_h - 1) * in_w * in_c + run <= GATHER_SPAN
    return MveEntry("ek_conv2d_s8_mve_" + ("padded" if padded else "inside") + ("_gather" if gather else ""),
                    True, False, True)


def mve_x2(p: dict[str, object], shifts: list[int]) -> str:
    """The pair kernel of an entry that takes one (a run of k_h * k_w * in_c values, in_c for a 1x1):
    ``ek_matmul_mve_s8_x2_d32`` for depth 17..32 without left shift (ek_matmul.h), else ``ek_matmul_mve_s8_x2``."""
    depth = int(p["k_h"]) * int(p["k_w"]) * int(p["in_c"])
    d32 = 16 < depth <= 32 and mve_x2rq(shifts) == "ek_mve_x2_nls"
    return "ek_matmul_mve_s8_x2_d32" if d32 else "ek_matmul_mve_s8_x2"


# ek_conv_geo_t (ek_conv.h): the geometry fields of ek_conv_mve_t, in 16 bits (conv_params_unfit checks them)
GEO_FIELDS = ("in_h", "in_w", "in_c", "out_h", "out_w", "k_h", "k_w", "stride_h", "stride_w", "pad_h",
              "pad_w", "in_offset")


def mve_struct(p: dict[str, object], layout: str, filt: str, rq: str, shifts: list[int]) -> list[str]:
    """The ``static const ek_conv_mve_t p`` of an entry taking one (all but ``_1x1``): the matrix kernel's q (the
    depth and segments of the entry's filter layout), the 16-bit geometry g and the pair kernel (NULL for the
    entries without a pair kernel argument)."""
    e = mve_entry(p, layout)
    k_h, run = int(p["k_h"]), int(p["k_w"]) * int(p["in_c"])
    depth, segments = (run, k_h) if mve_segmented(p) else (k_h * run, 1)
    q = dict(depth=depth, segments=segments, rows=p["out_c"], out_offset=p["out_offset"], act_min=p["act_min"],
             act_max=p["act_max"], filter=filt, rq=rq, x2rq=mve_x2rq(shifts))
    fields = {f"q.{k}": v for k, v in q.items()} | {f"g.{k}": p[k] for k in GEO_FIELDS}
    fields |= {"g.layout": layout if e.layout else 0, "x2": mve_x2(p, shifts) if e.x2 else "NULL", "x1": MVE_X1}
    return c_struct("ek_conv_mve_t", "p", fields).splitlines()


# The single-column kernel ek_matmul_mve_s8 (mve_x1_asm, ~550 B): a model links it if an op calls one of these (they
# need it for odd pixels / rows) or if no op links the pair kernel (mve_x2_asm, ~1.2 KB: every ek_conv2d_s8_mve_*
# entry); otherwise the conv entries' lone columns (ek_conv_mve_t.x1 = ek_conv2d_s8_mve_x1_pair) and a one-row
# FULLY_CONNECTED run the pair kernel on the column twice, and the model does not link it.
MVE_X1 = "EK_MVE_X1"  # in a generated ek_conv_mve_t: ek_matmul_mve_s8 or ek_conv2d_s8_mve_x1_pair (mve_x1_defines)
MVE_X1_LINKED = "EK_MVE_X1_LINKED"  # 1 or 0: #if around a one-row FULLY_CONNECTED's two calls
MVE_X1_USERS = ("ek_conv2d_s8_mve_1x1(", "ek_conv2d_s8_mve_1x1_strided(", "ek_fully_connected_s8_mve(",
                "ek_matmul_mve_s8(")  # outside an #if EK_MVE_X1_LINKED block
# A one-row FULLY_CONNECTED of at least this many MACs calls ek_matmul_mve_s8 unconditionally (so links the
# single-column kernel): the pair kernel on one column twice costs ~0.11 instructions per MAC more (a conv + a
# 1024x256 FC on qemu-cortex-m55: 104,906 instructions against 76,281), ~900 at this size, for the ~550 B the model
# would save. The MLPerf Tiny models' classifiers (512-768 MACs) stay under it.
MVE_X1_FC_MACS = 8192


def mve_x1_defines(body: list[str]) -> list[str]:
    """The #defines of EK_MVE_X1 and EK_MVE_X1_LINKED for the ops' C lines ``body`` (none if no op names them):
    ek_matmul_mve_s8 / 1 where an op links it anyway (:data:`MVE_X1_USERS`) or no op links the pair kernel, else
    ek_conv2d_s8_mve_x1_pair / 0."""
    if not any(MVE_X1 in line for line in body):
        return []
    pairs = any("ek_conv2d_s8_mve_" in line for line in body)
    linked = not pairs or any(u in line for line in _unconditional(body) for u in MVE_X1_USERS)
    return ["    /* the single-column MVE kernel: " + ("linked by a layer that needs it" if linked else
            "no layer needs it (lone columns run the pair kernel twice)") + " */",
            f"#define {MVE_X1} {'ek_matmul_mve_s8' if linked else 'ek_conv2d_s8_mve_x1_pair'}",
            f"#define {MVE_X1_LINKED} {int(linked)}"]


def mve_call(p: dict[str, object], layout: str, pname: str, inp: str, filt: str, rq: str, out: str, scratch: str,
             shifts: list[int]) -> tuple[list[str], str]:
    """The declarations and C call of the layer's entry (see :func:`mve_entry`): a ``static const ek_conv_mve_t p``
    (:func:`mve_struct`) and the call reading it from ``pname`` (``p``, or a fused block's copy). The 1x1 stride-1
    entry takes a generated ek_mve_mm_t and the pixel count instead (and an ek_conv_params_t p for a fused block,
    whose out_h changes)."""
    e = mve_entry(p, layout)
    if e.name == "ek_conv2d_s8_mve_1x1":
        decls = c_struct("ek_conv_params_t", "p", p).splitlines()
        q = mve_mm_struct("q", int(p["in_c"]), int(p["out_c"]), p, filt, rq, shifts)
        pixels = (f"{pname}.out_h * {p['out_w']}" if pname != "p" else
                  str(int(p["batches"]) * int(p["out_h"]) * int(p["out_w"])))
        return (decls if pname != "p" else []) + q, f"{e.name}(&q, {inp}, {out}, {pixels});"
    scr = scratch if e.scratch else "NULL"
    batches = int(p["batches"])
    if batches == 1:
        return mve_struct(p, layout, filt, rq, shifts), f"{e.name}(&{pname}, {inp}, {out}, {scr});"
    in_image = int(p["in_h"]) * int(p["in_w"]) * int(p["in_c"])
    out_image = int(p["out_h"]) * int(p["out_w"]) * int(p["out_c"])
    return ([*mve_struct(p, layout, filt, rq, shifts), "int32_t b;"],  # the entries compute one image
            f"for (b = 0; b < {batches}; b++) {{\n"
            f"    {e.name}(&{pname}, {inp} + (size_t)b * {in_image}u, {out} + (size_t)b * {out_image}u, {scr});\n}}")


# ek_conv_params_t (ek_conv.h) on MVE cores: the signed fields are int16, the others (sizes) uint16; ek_conv_geo_t
# holds the strides in 8 bits.
CONV_SIGNED_FIELDS = ("pad_h", "pad_w", "in_offset", "out_offset", "act_min", "act_max")
GEO_8BIT_FIELDS = ("stride_h", "stride_w")


def conv_params_unfit(p: dict[str, object]) -> str:
    """Why a field of the ek_conv_params_t fields ``p`` does not fit its MVE type (``name = value does not fit
    ...``): 16 bits, and 8 for the strides (ek_conv_geo_t); '' if they all fit."""
    for k, v in p.items():
        lo, hi = (-32768, 32767) if k in CONV_SIGNED_FIELDS else (0, 255) if k in GEO_8BIT_FIELDS else (0, 65535)
        if not lo <= int(v) <= hi:
            return (f"{k} = {v} does not fit the 8-bit ek_conv_geo_t field" if k in GEO_8BIT_FIELDS else
                    f"{k} = {v} does not fit the 16-bit ek_conv_params_t field")
    return ""


def _unconditional(body: list[str]) -> list[str]:
    """The lines of ``body`` outside ``#if EK_MVE_X1_LINKED`` ... ``#endif`` blocks (which do not decide the link)."""
    out, inside = [], False
    for line in body:
        if line.strip() == f"#if {MVE_X1_LINKED}":
            inside = True
        elif inside and line.strip() == "#endif":
            inside = False
        elif not inside:
            out.append(line)
    return out
