"""generate_c: turn an int8 .tflite model into interpreter-less C (edgekit's AOT runtime).

Output (all flat in ``out_dir``): ``<prefix>_model.h`` (the API the firmware calls),
``<prefix>_model.c`` (the static arena and ``<prefix>_model_invoke()``, one commented call per
operator), ``<prefix>_weights.c/.h`` (``const`` weight/bias/constant arrays, i.e. flash) and a copy
of the runtime sources ``ek_*.h/.c`` from ``firmware_templates/runtime/edgekit``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit.codegen.aot import fusion
from edgekit.codegen.aot.ops import REGISTRY
from edgekit.codegen.aot.ops.base import (
    ConstPool,
    OpContext,
    c_identifier,
    custom_op_purpose,
    op_key,
    short_name,
    unsupported,
)
from edgekit.codegen.aot.ops.conv_mve import mve_x1_defines
from edgekit.codegen.aot.plan import MemoryPlan, PlanOp, plan_memory
from edgekit.codegen.aot.sparse import check_mode
from edgekit.codegen.aot.variables import NO_OUTPUT_OPS, Variables, reset_code
from edgekit.codegen.aot.variables import analyse as analyse_variables
from edgekit.codegen.aot.variants import Layer, Target, check_weights_mode, choose_weights
from edgekit.cores import PORTABLE, CoreFeatures
from edgekit.errors import ModelError, UsageError
from edgekit.resources import templates_dir

if TYPE_CHECKING:
    from edgekit.tflite_model import Subgraph, TFLiteModel

RUNTIME_DIR = templates_dir("runtime", "edgekit")


@dataclass
class AotResult:
    """What generate_c produced."""

    arena_bytes: int
    weights_bytes: int
    ops: list[str]  # opcode of each operator, in execution order
    files: list[Path]
    plan: MemoryPlan
    model_name: str = ""
    prefix: str = "ek"
    notes: list[str] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)  # per-layer weight width decisions (variants.py)
    w16_layers: list[Layer] = field(default_factory=list)  # the layers generated on the *_w16 kernels


def _load(model: TFLiteModel | str | Path | bytes) -> TFLiteModel:
    from edgekit.codegen.aot.fold import fold_float16
    from edgekit.tflite_model import TFLiteModel, load_model

    return fold_float16(model if isinstance(model, TFLiteModel) else load_model(model))


def supported_ops() -> list[str]:
    """Opcodes the AOT runtime can generate code for."""
    return sorted(REGISTRY)


_ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def _check_graph(model: TFLiteModel) -> None:
    """Structural checks the code generator relies on (a hostile or degenerate file fails here, clearly)."""
    from edgekit.errors import ModelError

    sg = model.main
    where = str(model.path) if model.path else "model"
    n = len(sg.tensors)
    hint = "the file is not a model edgekit can generate code for; check it with 'edgekit inspect'"
    if not sg.operators:
        raise ModelError(f"{where}: the graph has no operators: nothing to generate", hint=hint)
    produced = set(sg.inputs)
    for op in sg.operators:
        if (not op.outputs and op.opcode not in NO_OUTPUT_OPS) or any(t < 0 or t >= n for t in op.outputs):
            raise ModelError(f"{where}: operator {op.index} ({op.opcode}) has no valid output tensor "
                             f"(outputs {list(op.outputs)}, {n} tensors)", hint=hint)
        if any(t >= n or t < -1 for t in op.inputs):
            raise ModelError(f"{where}: operator {op.index} ({op.opcode}) names an input tensor that does not "
                             f"exist (inputs {list(op.inputs)}, {n} tensors)", hint=hint)
        produced.update(op.outputs)
    for t in (*sg.inputs, *sg.outputs):
        if t < 0 or t >= n:
            raise ModelError(f"{where}: graph input/output {t} is not a tensor of the model ({n} tensors)", hint=hint)
    for kind, tensors in (("input", sg.inputs), ("output", sg.outputs)):
        for t in tensors:  # a resource handle has no bytes a caller could write or read
            if sg.tensors[t].dtype in ("resource", "variant"):
                raise ModelError(f"{where}: graph {kind} '{sg.tensors[t].name}' is a {sg.tensors[t].dtype} "
                                 "handle, not data", hint=hint)
    for t in sg.outputs:
        if t not in produced:
            raise ModelError(f"{where}: graph output '{sg.tensors[t].name}' is computed by no operator",
                             hint=hint)
    for t in sg.tensors:  # the generated C holds zero points in int32 fields; real ones fit their dtype
        lo, hi = _ZP_RANGE.get(t.dtype, (-(2 ** 31), 2 ** 31 - 1))
        if t.quantization and any(not lo <= zp <= hi for zp in t.quantization.zero_point):
            raise ModelError(f"{where}: tensor '{t.name}' ({t.dtype}) has a zero point outside {lo}..{hi} "
                             f"({max(t.quantization.zero_point, key=abs)})", hint=hint)


def _contexts(model: TFLiteModel, pool: ConstPool | None = None) -> list[OpContext]:
    _check_graph(model)
    sg = model.main
    supported = supported_ops()
    variables = analyse_variables(model, supported)
    ctxs = []
    for op in sg.operators:
        out_name = sg.tensors[op.outputs[0]].name if op.outputs else f"op{op.index}"
        handler = REGISTRY.get(op_key(op))
        if handler is None:
            what = custom_op_purpose(op.custom_code) if op.opcode == "CUSTOM" else "op not supported"
            raise unsupported(op, out_name, what, supported)
        ctx = OpContext(model, sg, op, pool=pool, supported=supported)
        ctx.variables = variables
        ctxs.append(ctx)
    return ctxs


def check_supported(model: TFLiteModel | str | Path | bytes) -> None:
    """Raise UnsupportedOpError for the first operator (or parameter) the AOT runtime cannot run."""
    m = _load(model)
    for ctx in _contexts(m):  # more subgraphs than the main one: CALL_ONCE init subgraphs only (variables.py)
        REGISTRY[op_key(ctx.op)].check(ctx)


def op_support(model: TFLiteModel | str | Path | bytes) -> dict[int, str | None]:
    """Operator index -> None when the AOT runtime can run that operator, else why not (for ``edgekit inspect``).

    Unlike :func:`check_supported` this looks at every operator instead of stopping at the first refusal.
    """
    from edgekit.errors import EdgekitError

    m = _load(model)
    sg = m.main
    supported = supported_ops()
    try:
        _check_graph(m)
        variables = analyse_variables(m, supported)
    except EdgekitError as exc:
        return {op.index: exc.message for op in sg.operators}
    out: dict[int, str | None] = {}
    for op in sg.operators:
        handler = REGISTRY.get(op_key(op))
        if handler is None:
            out[op.index] = f"no edgekit kernel for {op_key(op)}"
            continue
        ctx = OpContext(m, sg, op, supported=supported)
        ctx.variables = variables
        try:
            handler.check(ctx)
            out[op.index] = None
        except EdgekitError as exc:
            out[op.index] = exc.message.split("): ", 1)[-1].split("; supported ops:")[0]
    return out


def _plan(model: TFLiteModel, ctxs: list[OpContext], fused: dict[int, fusion.ConvAdd] | None = None) -> MemoryPlan:
    sg = model.main
    fused = fused if fused is not None else {}
    for key, f in list(fused.items()):  # a faster conv scratch (OpHandler.scratch_options) for a block row
        conv_ctx, conv = ctxs[f.conv], REGISTRY["CONV_2D"]
        for size in conv.scratch_options(conv_ctx):
            traded = fusion.trade_rows(f, int(conv.scratch_bytes(conv_ctx)), size)
            if traded is not None:
                fused[key], conv_ctx.scratch_size = traded, size
                break
    by_conv = {f.conv: f for f in fused.values()}
    live = set()
    plan_ops = []
    for ctx in ctxs:
        handler = REGISTRY[op_key(ctx.op)]
        f = by_conv.get(ctx.op.index) or fused.get(ctx.op.index)
        if f is not None:  # a fused CONV_2D + ADD: C never exists, D is computed over A (fusion.py)
            b = ctxs[f.conv].op.inputs[0]
            live.update((b, f.a, f.d))
            if ctx.op.index == f.conv:
                plan_ops.append(PlanOp(inputs=[b, f.a], outputs=[]))
            else:
                conv_scratch = int(REGISTRY["CONV_2D"].scratch_bytes(ctxs[f.conv]))
                plan_ops.append(PlanOp(inputs=[f.a, b], outputs=[f.d], inplace=True,
                                       scratch_bytes=fusion.scratch_bytes(f, conv_scratch)))
            continue
        ins = [t for t in ctx.op.inputs
               if t >= 0 and not sg.tensors[t].is_const and sg.tensors[t].dtype != "resource"]
        outs = [t for t in ctx.op.outputs  # a folded output (fold.py) is a constant in flash
                if t >= 0 and sg.tensors[t].dtype != "resource" and not sg.tensors[t].is_const]
        live.update(ins)
        live.update(outs)
        # in-place only when that input is an activation (constants live in flash)
        k = handler.inplace_input(ctx)
        first = ctx.op.inputs[k] if len(ctx.op.inputs) > k else -1
        inplace = bool(first >= 0 and not sg.tensors[first].is_const and handler.inplace(ctx))
        if inplace:
            ins = [first] + [t for t in ins if t != first]
        plan_ops.append(PlanOp(inputs=ins, outputs=outs, scratch_bytes=int(handler.scratch_bytes(ctx)),
                               inplace=inplace))
    live.update(sg.inputs)
    live.update(sg.outputs)
    sizes = {t: sg.tensors[t].nbytes for t in live}
    persistent = sorted(t for t in live if sg.tensors[t].is_variable)
    if ctxs and ctxs[0].variables is not None:  # resource variables and CALL_ONCE flags: persistent slots
        slots = ctxs[0].variables.slot_sizes()
        sizes.update(slots)
        persistent += sorted(slots)
    plan = plan_memory(plan_ops, sizes, sg.inputs, sg.outputs, persistent=persistent)
    for i, ctx in enumerate(ctxs):  # a larger scratch where it does not grow the arena (OpHandler.scratch_options)
        if ctx.op.index in by_conv or ctx.op.index in fused:
            continue
        for size in REGISTRY[op_key(ctx.op)].scratch_options(ctx):
            trial = [*plan_ops[:i], replace(plan_ops[i], scratch_bytes=size), *plan_ops[i + 1:]]
            bigger = plan_memory(trial, sizes, sg.inputs, sg.outputs, persistent=persistent)
            if bigger.arena_bytes <= plan.arena_bytes:
                plan_ops, plan, ctx.scratch_size = trial, bigger, size
                break
    unplanned = [t for t in (*sg.inputs, *sg.outputs) if t not in plan.tensor_offsets]
    if unplanned:  # the I/O tables need an arena offset for each (found by fuzz_generate as a KeyError)
        where = str(model.path) if model.path else "model"
        raise ModelError(f"{where}: graph input/output '{sg.tensors[unplanned[0]].name}' is neither a model input "
                         "nor written by any operator edgekit runs",
                         hint="the file is not a model edgekit can generate code for; check it with 'edgekit inspect'")
    for f in fused.values():
        if plan.aliases.get(f.d) != f.a:
            raise ModelError(f"internal: fused op {f.add} output {f.d} was not planned over its input {f.a}")
    return plan


def _shape(t) -> str:
    return "[" + ",".join(str(d) for d in t.shape) + "]"


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment(s: str) -> str:
    return s.replace("*/", "* /").replace("/*", "/ *")


def generate_c(model: TFLiteModel | str | Path | bytes, out_dir: str | Path, *, prefix: str = "ek",
               sparse: str = "auto", fuse: bool = True, features: CoreFeatures = PORTABLE,
               weights_budget: int | None = None, weights: str = "auto", target: Target | None = None) -> AotResult:
    """Generate the C sources of ``model`` for edgekit's AOT runtime into ``out_dir``.

    ``sparse``: CONV_2D / FULLY_CONNECTED weights in the sparse encoding (ek_sparse.h) where a cost model
    measured on Cortex-M4 says it is faster ("auto"), never ("off": the dense kernels), or wherever the
    kernel can ("force"). ``AotResult.notes`` lists the layers made sparse.
    ``fuse``: compute a CONV_2D feeding only the residual ADD after it in row blocks, the ADD written over its
    other input (fusion.py), so that the conv's output never occupies the arena. Same results either way.
    ``features``: the target core's (:class:`~edgekit.cores.CoreFeatures`, e.g. ``board.features``). With
    ``features.mve`` CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED go through the kernels written for integer MVE
    (Helium, Cortex-M55/M85: ``ek_*_mve``) and their weight layouts; on other targets those kernels are portable C
    with the same results. With ``sparse="auto"`` no layer is made sparse there (the dense MVE kernels beat the
    sparse ones). DSP paths are chosen by the C compiler for the core it builds for. With ``features.dsp`` (and no
    MVE) CONV_2D and batch-1 FULLY_CONNECTED layers can run on int16 weights widened here (the ``*_w16`` kernels:
    no SXTB16 in their inner loops, twice the weight flash). ``weights``: per layer by the cycle model of
    :mod:`edgekit.codegen.aot.variants` on ``target`` (core, flash wait states; default Cortex-M4 at 0 WS)
    ("auto"), never ("int8") or every layer that can ("int16"); ``AotResult.variants`` has each layer's decision.
    ``weights_budget``: the flash bytes the weights may take (None: no limit): layers are widened in order of weight
    reuse while the weights fit.

    Raises UnsupportedOpError (with a hint to use ``--runtime tflm``) for ops or parameters the
    runtime does not implement.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", prefix):
        raise UsageError(f"prefix {prefix!r} is not a short lower-case C identifier")
    check_mode(sparse)
    check_weights_mode(weights)
    m = _load(model)
    check_supported(m)
    if not features.dsp or features.mve:  # the *_w16 kernels are for DSP cores; MVE cores have their own
        return _generate(m, out_dir, prefix, sparse, fuse, features, wide=set())
    # probe: every layer that can, on int16 weights (emit records each one's geometry and added flash)
    probe = _generate(m, out_dir, prefix, sparse, fuse, features, wide=None)
    layers = probe.w16_layers
    extra = None if weights_budget is None else weights_budget - (probe.weights_bytes
                                                                  - sum(lay.extra_bytes for lay in layers))
    choice = choose_weights(layers, target or Target(), mode=weights, extra_budget=extra)
    for _ in range(len(layers) + 1):
        res = _generate(m, out_dir, prefix, sparse, fuse, features, wide=choice.wide)
        if weights_budget is None or res.weights_bytes <= weights_budget or not choice.wide:
            break
        # the added-bytes estimate was short: give up the widened layer with the least reuse, try again
        drop = min((d for d in choice.decisions if d.variant == "int16"), key=lambda d: (d.layer.reuse, -d.layer.op))
        drop.variant = "int8"
        drop.reason = f"int16 weights over the flash budget of {weights_budget} B; " + drop.reason
    res.variants = [d.to_dict() for d in choice.decisions]
    res.notes += [d.line() for d in choice.decisions]
    return res


def _generate(m: TFLiteModel, out_dir: str | Path, prefix: str, sparse: str, fuse: bool, features: CoreFeatures,
              *, wide: set[int] | None) -> AotResult:
    """generate_c for a loaded, supported model; ``wide``: the ops with int16 weights for the DSP kernels (None:
    every op that can)."""
    sg = m.main
    pool = ConstPool(prefix)
    ctxs = _contexts(m, pool)
    for ctx in ctxs:
        ctx.sparse = sparse
        ctx.features = features
        ctx.wide_weights = wide is None or ctx.op.index in wide
    fused = fusion.find_conv_add(sg) if fuse else {}
    plan = _plan(m, ctxs, fused)
    fused_convs = {f.conv: f for f in fused.values()}
    arena_sym = f"{prefix}_arena"

    handles = ctxs[0].variables.handles if ctxs and ctxs[0].variables is not None else {}

    def tensor_ptr(t: int) -> str:
        t = handles[t].slot if t in handles else t  # a VAR_HANDLE's resource tensor is its variable's slot
        if t not in plan.tensor_offsets:
            what = f"'{sg.tensors[t].name}'" if t < len(sg.tensors) else "a variable slot"
            raise ModelError(f"tensor {t} ({what}) has no place in the memory plan")
        return f"&{arena_sym}[{plan.tensor_offsets[t]}]"

    body: list[str] = []
    for ctx in ctxs:
        scratch = plan.scratch_offsets.get(ctx.op.index)
        ctx.bind(tensor_ptr, f"(&{arena_sym}[{scratch}])" if scratch is not None else "")
        if ctx.op.index in fused_convs:
            code = f"/* computed row by row inside op {fused_convs[ctx.op.index].add} (fused) */"
        elif ctx.op.index in fused:
            f = fused[ctx.op.index]
            conv_ctx = ctxs[f.conv]
            conv_ctx.bind(tensor_ptr, "")
            code = fusion.emit(f, conv_ctx, ctx, REGISTRY["CONV_2D"], REGISTRY["ADD"],
                               int(REGISTRY["CONV_2D"].scratch_bytes(conv_ctx)))
            ctx.notes.append(f"ops {f.conv}+{f.add} CONV_2D+ADD fused: {f.rows} output rows per block, "
                             f"{sg.tensors[f.c].nbytes} B conv output not in the arena")
        else:
            code = REGISTRY[op_key(ctx.op)].emit(ctx).rstrip()
        ins = ", ".join(f"'{short_name(sg.tensors[t].name)}' {_shape(sg.tensors[t])}" for t in ctx.op.inputs
                        if t >= 0 and not sg.tensors[t].is_const)
        text = (f"op {ctx.op.index}: {ctx.op.opcode} -> '{ctx.short_name}' {_shape(ctx.output(0))}"
                if ctx.op.outputs else f"op {ctx.op.index}: {ctx.op.opcode}")
        text += f" <- {ins}" if ins else ""
        body.append(f"    /* {_comment(text)} */")
        body.append(f"    EK_PROF_OP({ctx.op.index});")
        if code:
            body.extend("    " + line if line else "" for line in code.splitlines())
        body.append("")

    body = mve_x1_defines(body) + body  # ek_model_invoke's first lines: which single-column MVE kernel it links
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = c_identifier(m.path.stem if getattr(m, "path", None) else "model", "model")
    # the float32 kernels need libm: a model that calls none of them does not carry them (nor need -lm)
    files = _copy_runtime(out, float_kernels=any("ek_f32_" in line for line in body))
    headers = sorted(p.name for p in RUNTIME_DIR.glob("ek_*.h"))
    files += _write_weights(out, prefix, pool)
    files += _write_model(out, prefix, m, sg, plan, body, headers, name, ctxs[0].variables)
    return AotResult(arena_bytes=plan.arena_bytes, weights_bytes=pool.nbytes, ops=[c.op.opcode for c in ctxs],
                     files=files, plan=plan, model_name=name, prefix=prefix,
                     notes=[note for c in ctxs for note in c.notes],
                     w16_layers=[c.w16_layer for c in ctxs if c.w16_layer is not None])


def _copy_runtime(out: Path, float_kernels: bool = True) -> list[Path]:
    files = []
    for src in sorted(RUNTIME_DIR.glob("ek_*.[ch]")):
        if not float_kernels and src.suffix == ".c" and src.name.startswith("ek_float"):
            continue
        dst = out / src.name
        shutil.copyfile(src, dst)
        files.append(dst)
    return files


def _format_values(values: np.ndarray, per_line: int) -> str:
    vals = values.tolist()
    if values.dtype.kind == "f":
        items = [repr(float(v)) + "f" if np.isfinite(v) else  # <math.h> macros for float32 constants' inf / NaN
                 ("NAN" if np.isnan(v) else ("INFINITY" if v > 0 else "(-INFINITY)")) for v in vals]
    elif values.dtype == np.int32:
        items = [str(v) if v != -(2**31) else "(-2147483647 - 1)" for v in vals]
    elif values.dtype == np.int64:
        items = [f"INT64_C({v})" for v in vals]
    else:
        items = [str(v) for v in vals]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def _write_weights(out: Path, prefix: str, pool: ConstPool) -> list[Path]:
    guard = f"{prefix.upper()}_WEIGHTS_H"
    h = ["/* Generated by edgekit: constant arrays of the model (flash). Do not edit. */",
         f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", ""]
    c = ["/* Generated by edgekit: constant arrays of the model (flash). Do not edit. */",
         "#include <math.h> /* INFINITY, NAN (float constants) */", f'#include "{prefix}_weights.h"', ""]
    for name, ctype, values in pool.arrays:
        n = max(int(values.size), 1)
        h.append(f"extern const {ctype} {name}[{n}];")
        per_line = 20 if values.dtype.itemsize == 1 else 8
        data = _format_values(values, per_line) if values.size else "0"
        c.append(f"const {ctype} {name}[{n}] __attribute__((aligned(16))) = {{\n    {data}\n}};")
        c.append("")
    if not pool.arrays:
        c.append(f"typedef int {prefix}_weights_empty_t;  /* ISO C wants a non-empty translation unit */")
    h += ["", f"#endif /* {guard} */", ""]
    (out / f"{prefix}_weights.h").write_text("\n".join(h))
    (out / f"{prefix}_weights.c").write_text("\n".join(c))
    return [out / f"{prefix}_weights.h", out / f"{prefix}_weights.c"]


def _write_model(out: Path, prefix: str, m: TFLiteModel, sg: Subgraph, plan: MemoryPlan, body: list[str],
                 headers: list[str], name: str, variables: Variables | None = None) -> list[Path]:
    from edgekit import __version__

    P = prefix.upper()
    arena = max(plan.arena_bytes, 16)
    guard = f"{P}_MODEL_H"
    h = f"""/* Generated by edgekit {__version__} (AOT runtime) from {name} (sha256 {m.sha256}). Do not edit. */
#ifndef {guard}
#define {guard}

#include <stddef.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {P}_ARENA_SIZE   {arena}u  /* static memory plan size (bytes) */
#define {P}_NUM_INPUTS   {len(sg.inputs)}
#define {P}_NUM_OUTPUTS  {len(sg.outputs)}

extern const char {prefix}_model_name[];
extern const char {prefix}_model_sha256[];
extern const char {prefix}_runtime_name[];
extern const char {prefix}_runtime_version[];

int    {prefix}_model_init(void);          /* 0 = ok */
int    {prefix}_model_invoke(void);        /* 0 = ok, else an error code */
void  *{prefix}_model_input(int i);        /* pointer into the arena (inputs may be overwritten by invoke) */
size_t {prefix}_model_input_bytes(int i);
void  *{prefix}_model_output(int i);
size_t {prefix}_model_output_bytes(int i);
size_t {prefix}_model_arena_used(void);    /* bytes of the arena the plan uses */

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""
    (out / f"{prefix}_model.h").write_text(h)

    def io_table(kind: str, tensors: tuple[int, ...]) -> list[str]:
        lines = [f"static const uint32_t {prefix}_{kind}_offsets[{max(len(tensors), 1)}] = {{"
                 + (", ".join(str(plan.tensor_offsets[t]) + "u" for t in tensors) or "0") + "};",
                 f"static const uint32_t {prefix}_{kind}_sizes[{max(len(tensors), 1)}] = {{"
                 + (", ".join(str(sg.tensors[t].nbytes) + "u" for t in tensors) or "0") + "};"]
        for k, t in enumerate(tensors):
            tt = sg.tensors[t]
            q = tt.quantization
            qs = f" scale={q.scale[0]:.9g} zero_point={q.zero_point[0]}" if q and q.scale else ""
            text = f"{kind} {k}: '{short_name(tt.name)}' {tt.dtype} {_shape(tt)}{qs} @ {plan.tensor_offsets[t]}"
            lines.append(f"/* {_comment(text)} */")
        return lines

    plan_lines = "\n".join(f" *   {_comment(line)}" for line in plan.describe())
    includes = "\n".join(f'#include "{hdr}"' for hdr in headers)
    c = f"""/* Generated by edgekit {__version__} (AOT runtime) from {name}. Do not edit.
 * Model sha256 {m.sha256}
 * {len(sg.operators)} operators; arena {plan.arena_bytes} bytes (plan: {plan.strategy}).
 * Memory plan (offset, size, live ops, contents):
{plan_lines}
 */
#include <stdint.h>
#include <string.h>

#include "{prefix}_model.h"
#include "{prefix}_weights.h"
{includes}

static uint8_t {prefix}_arena[{P}_ARENA_SIZE] __attribute__((aligned(16)));

/* EK_PROF_OP(n): a code label, no instruction, where operator n starts (Arm builds only). `edgekit bench
 * --per-layer` counts the instructions between these labels in QEMU (edgekit/cycles). */
#if defined(__GNUC__) && defined(__arm__) && !defined(EK_NO_PROF_LABELS)
#define EK_PROF_OP(n) __asm__ volatile("{prefix}_prof_op_" #n ":" ::: "memory")
#else
#define EK_PROF_OP(n) ((void)0)
#endif

const char {prefix}_model_name[] = {_c_string(name)};
const char {prefix}_model_sha256[] = "{m.sha256}";
const char {prefix}_runtime_name[] = "edgekit";
const char {prefix}_runtime_version[] = "{__version__}";

{chr(10).join(io_table("input", sg.inputs))}
{chr(10).join(io_table("output", sg.outputs))}

static uint32_t {prefix}_inits; /* model_init calls: ops with state (signal_state.py) reset it when this changes */

int {prefix}_model_init(void) {{
    ++{prefix}_inits;
{reset_code(sg, plan, prefix, variables)}    return 0;
}}

int {prefix}_model_invoke(void) {{
{chr(10).join(body)}    return 0;
}}

void *{prefix}_model_input(int i) {{
    return (i >= 0 && i < {P}_NUM_INPUTS) ? (void *)&{prefix}_arena[{prefix}_input_offsets[i]] : NULL;
}}

size_t {prefix}_model_input_bytes(int i) {{
    return (i >= 0 && i < {P}_NUM_INPUTS) ? (size_t){prefix}_input_sizes[i] : 0u;
}}

void *{prefix}_model_output(int i) {{
    return (i >= 0 && i < {P}_NUM_OUTPUTS) ? (void *)&{prefix}_arena[{prefix}_output_offsets[i]] : NULL;
}}

size_t {prefix}_model_output_bytes(int i) {{
    return (i >= 0 && i < {P}_NUM_OUTPUTS) ? (size_t){prefix}_output_sizes[i] : 0u;
}}

size_t {prefix}_model_arena_used(void) {{
    return (size_t){plan.arena_bytes}u;
}}
"""
    (out / f"{prefix}_model.c").write_text(c)
    return [out / f"{prefix}_model.h", out / f"{prefix}_model.c"]
