"""A :class:`~edgekit.trees.ensemble.TreeEnsemble` as C behind the model API of edgekit's runtime (``ek_model.h``).

The trees are data in flash and one small loop walks them: per internal node a ``uint16`` feature index (bit 15:
NaN goes left; bit 14: 0 is missing too, LightGBM), a ``float`` threshold (left iff ``x <= threshold``) and two
children (``>= 0`` an internal node of the same tree, ``< 0`` leaf row ``~child`` of a de-duplicated leaf table).
Input 0 is ``float32[n_features]``; a classifier outputs ``int32[1]`` (the class index) then ``float32[columns]``
(its scores), a regressor ``float32[columns]``. The sums run in the library's precision (``double`` for
scikit-learn and LightGBM, ``float`` for XGBoost), so the outputs equal the library's to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import ModelError
from edgekit.trees.ensemble import MAX_FEATURES, TreeEnsemble

__all__ = ["EmitResult", "layout", "write_c"]

# Code beside the tables, measured with arm-none-eabi-nm on qemu-cortex-m4 builds (gcc 12, -O2): the walk, the sums
# and the API functions ~430 B; double sums on a core without a double-precision FPU link libgcc's soft-float double
# add, divide, multiply, compare and conversions (~3.0 KB), unless the firmware uses them anyway.
CODE_BYTES = 450
SOFT_DOUBLE_BYTES = 3000


@dataclass(frozen=True)
class EmitResult:
    """What :func:`write_c` wrote and what it costs."""

    files: tuple[Path, ...]
    const_bytes: int      # node, leaf and tree tables (flash)
    ram_bytes: int        # the input and output buffers (the "arena")
    stack_bytes: int      # the sums on the stack
    child_bytes: int      # 2 or 4
    unique_leaves: int
    double_sums: bool = False

    @property
    def flash_estimate(self) -> int:
        """Tables plus code (an estimate for a Cortex-M4F: double sums add the soft-float library)."""
        return self.const_bytes + CODE_BYTES + (SOFT_DOUBLE_BYTES if self.double_sums else 0)


def _c_float(v: float, dtype: str) -> str:
    if math.isinf(v):
        return ("-" if v < 0 else "") + ("HUGE_VALF" if dtype == "float" else "HUGE_VAL")
    if math.isnan(v):
        raise ModelError("a tree ensemble value is NaN", hint="the model file is damaged")
    if dtype == "float":
        text = f"{float(np.float32(v)):.9g}"
        return text + ("" if any(c in text for c in ".e") else ".0") + "f"
    text = repr(float(v))
    return text if any(c in text for c in ".e") else text + ".0"


def _table(ctype: str, name: str, values: list[str], per_line: int = 12) -> str:
    values = values or ["0"]
    rows = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
    return (f"static const {ctype} {name}[{len(values)}] EK_TREES_FLASH = {{\n    " + ",\n    ".join(rows)
            + "\n};\n")


def layout(ens: TreeEnsemble) -> tuple[list[tuple[int, int, int, int, float]], list[int], list[int], np.ndarray]:
    """(node rows (feature word, left, right, ... threshold), tree bases, tree roots, unique leaf table): the
    ensemble in the form the C tables hold, the leaves de-duplicated across trees."""
    vector = any(t.column < 0 for t in ens.trees)
    width = ens.n_columns if vector else 1
    dt = np.float32 if ens.acc_dtype == "float32" else np.float64
    unique: dict[bytes, int] = {}
    rows_out: list[np.ndarray] = []
    nodes: list[tuple[int, int, int, int, float]] = []
    bases, roots = [], []

    def leaf_ref(row: np.ndarray) -> int:
        key = row.astype(dt).tobytes()
        if key not in unique:
            unique[key] = len(rows_out)
            rows_out.append(row.astype(dt))
        return ~unique[key]

    for t in ens.trees:
        refs = [leaf_ref(t.leaf_values[j]) for j in range(t.leaves)]

        def child(c: int, refs: list[int] = refs) -> int:
            return c if c >= 0 else refs[~c]

        bases.append(len(nodes))
        roots.append(child(t.root))
        for i in range(t.internal):
            f = int(t.feature[i])
            if not 0 <= f < ens.n_features:
                raise ModelError(f"a split reads feature {f}; the model has {ens.n_features} features",
                                 hint="the model file is damaged")
            word = f | (0x8000 if t.nan_left[i] else 0) | (0x4000 if t.zero_missing[i] else 0)
            nodes.append((word, child(int(t.left[i])), child(int(t.right[i])), i, float(t.threshold[i])))
    table = np.stack(rows_out) if rows_out else np.zeros((1, width), dtype=dt)
    return nodes, bases, roots, table.reshape(len(table), width)


def _ifelse(ens: TreeEnsemble, nodes: list[tuple[int, int, int, int, float]], bases: list[int], roots: list[int],
            prefix: str) -> str:
    """One C function per tree, its splits as nested ifs (the ``ifelse`` code style), and their table."""
    fns = []
    for t, (base, root) in enumerate(zip(bases, roots, strict=True)):
        lines = [f"static uint32_t {prefix}_tree_{t}(const float *x) {{"]

        def walk(n: int, depth: int, base: int = base, lines: list[str] = lines) -> None:
            pad = "    " * depth
            if n < 0:
                lines.append(f"{pad}return {~n}u;")
                return
            word, left, right, _, thr = nodes[base + n]
            v, t32 = f"x[{word & 0x3FFF}]", _c_float(thr, "float")
            nan_left = bool(word & 0x8000)
            cond = f"!({v} > {t32})" if nan_left else f"{v} <= {t32}"  # NaN fails every comparison
            if word & 0x4000:  # LightGBM zero-as-missing: 0 goes the NaN way
                cond = f"{v} == 0.0f || {cond}" if nan_left else f"{v} != 0.0f && {cond}"
            lines.append(f"{pad}if ({cond}) {{")
            walk(left, depth + 1)
            lines.append(f"{pad}}} else {{")
            walk(right, depth + 1)
            lines.append(f"{pad}}}")

        walk(root, 1)
        lines.append("}\n")
        fns.append("\n".join(lines))
    table = (f"static uint32_t (*const {prefix}_tree_fn[{len(bases)}])(const float *) = {{\n    "
             + ",\n    ".join(f"{prefix}_tree_{t}" for t in range(len(bases))) + "\n};\n")
    return "\n".join(fns) + "\n" + table + f"""
/* The leaf (a row of {prefix}_leaf_value) that tree t sends x to. */
static uint32_t {prefix}_leaf_of(uint32_t t, const float *x) {{
    return {prefix}_tree_fn[t](x);
}}
"""


CODE_STYLES = ("table", "ifelse")


def write_c(ens: TreeEnsemble, out_dir: Path, *, name: str, sha256: str, prefix: str = "ek",
            code: str = "table") -> EmitResult:
    """Write ``<prefix>_model.h`` and ``<prefix>_model.c`` for ``ens`` into ``out_dir``.

    ``code``: ``"table"`` (the splits as data in flash, one loop walks them: compact for any size) or ``"ifelse"``
    (each tree a function of nested ifs: fewer instructions, more flash; for small ensembles). The outputs are the
    same to the bit.

    Raises:
        ModelError: more features than the node format holds, or a damaged ensemble; UsageError: another ``code``.
    """
    from edgekit import __version__
    from edgekit.errors import UsageError

    if code not in CODE_STYLES:
        raise UsageError(f"tree code style '{code}' (choices: {', '.join(CODE_STYLES)})")

    if not 0 < ens.n_features <= MAX_FEATURES:
        raise ModelError(f"{name}: {ens.n_features} features; edgekit's tree C holds 1..{MAX_FEATURES}")
    P = prefix.upper()
    c_name = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in name)[:63]
    nodes, bases, roots, leaf_table = layout(ens)
    acc = "float" if ens.acc_dtype == "float32" else "double"
    k = ens.n_columns
    vector = any(t.column < 0 for t in ens.trees)
    per_tree = max((t.internal for t in ens.trees), default=0)
    child16 = max(per_tree, len(leaf_table)) < 32768
    child_t, cb = ("int16_t", 2) if child16 else ("int32_t", 4)
    zero_missing = any(t.zero_missing.any() for t in ens.trees)
    columns = [t.column for t in ens.trees]
    col_t = "uint8_t" if k <= 256 else "uint16_t"
    classifier = ens.is_classifier
    outputs = [("int32_t", 1), ("float", k)] if classifier else [("float", k)]
    out_bytes = [4 * n for _, n in outputs]
    ram = 4 * (ens.n_features + k + 1)  # the buffer struct: features, scores, class
    const = ((len(nodes) * (2 + 4 + 2 * cb) + len(bases) * (4 + cb) if code == "table" else len(bases) * 4)
             + (0 if vector or k == 1 else len(bases) * (1 if col_t == "uint8_t" else 2))
             + k * (8 if acc == "double" else 4) + (k * 4 if ens.average else 0))
    out_dir.mkdir(parents=True, exist_ok=True)
    s = ens.summary()
    head = (f"/* Generated by edgekit {__version__} (tree ensemble) from {c_name} (sha256 {sha256}). Do not edit.\n"
            f" * {s['family']} {s['task']}: {s['n_trees']} trees, {s['internal_nodes']} splits, {s['leaves']} leaves "
            f"({len(leaf_table)} distinct), depth {s['max_depth']}, {ens.n_features} features, {k} score column(s).\n"
            f" */\n")
    h = head + f"""#ifndef {P}_MODEL_H
#define {P}_MODEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {P}_ARENA_SIZE   {ram}u  /* the input and output buffers (bytes) */
#define {P}_NUM_INPUTS   1
#define {P}_NUM_OUTPUTS  {len(outputs)}
#define {P}_TREES_N_FEATURES {ens.n_features}
#define {P}_TREES_N_COLUMNS  {k}

extern const char {prefix}_model_name[];
extern const char {prefix}_model_sha256[];
extern const char {prefix}_runtime_name[];
extern const char {prefix}_runtime_version[];

int    {prefix}_model_init(void);          /* 0 = ok */
int    {prefix}_model_invoke(void);        /* 0 = ok */
void  *{prefix}_model_input(int i);        /* input 0: float[{ens.n_features}] */
size_t {prefix}_model_input_bytes(int i);
void  *{prefix}_model_output(int i);       /* {"0: int32 class index, 1: float scores" if classifier else "0: float"} */
size_t {prefix}_model_output_bytes(int i);
size_t {prefix}_model_arena_used(void);

#ifdef __cplusplus
}}
#endif

#endif /* {P}_MODEL_H */
"""
    feats = [f"0x{w:04X}u" for w, *_ in nodes]
    thr = [_c_float(t, "float") for *_, t in nodes]
    lefts = [str(n[1]) for n in nodes]
    rights = [str(n[2]) for n in nodes]
    # double sums over leaf values that are all float32 numbers (0, 1, 0.5 in pure forests...) keep them as float:
    # the conversion to double is exact, the table half the size
    flat = leaf_table.reshape(-1)
    with np.errstate(over="ignore"):
        exact = bool(np.all(flat.astype(np.float32).astype(np.float64) == flat))
    leaf_t = "float" if acc == "float" or exact else acc
    leaves = [_c_float(float(v), leaf_t) for v in flat]
    const += leaf_table.size * (4 if leaf_t == "float" else 8)
    base = [_c_float(float(v), acc) for v in np.asarray(ens.base, dtype=np.float64)]
    node_tables = [
        _table("uint16_t", f"{prefix}_node_feature", feats),
        _table("float", f"{prefix}_node_threshold", thr, 6),
        _table(child_t, f"{prefix}_node_left", lefts, 16),
        _table(child_t, f"{prefix}_node_right", rights, 16),
        _table("uint32_t", f"{prefix}_tree_base", [f"{b}u" for b in bases], 12),
        _table(child_t, f"{prefix}_tree_root", [str(r) for r in roots], 16),
    ] if code == "table" else []
    tables = "".join([
        *node_tables,
        _table(leaf_t, f"{prefix}_leaf_value", leaves, 4 if leaf_t == "double" else 6),
        _table(acc, f"{prefix}_base", base, 4),
    ])
    if not vector and k > 1:
        tables += _table(col_t, f"{prefix}_tree_column", [str(c) for c in columns], 24)
    if ens.average:
        tables += _table("uint32_t", f"{prefix}_trees_per_column", [f"{n}u" for n in ens.trees_per_column()], 12)
    cast = "(double)" if leaf_t != acc else ""
    if vector:
        add = (f"        const {leaf_t} *v = &{prefix}_leaf_value[leaf * {k}u];\n"
               f"        for (k = 0; k < {k}u; ++k) acc[k] += {cast}v[k];")
    else:
        col = f"{prefix}_tree_column[t]" if k > 1 else "0"
        add = f"        acc[{col}] += {cast}{prefix}_leaf_value[leaf];"
    flush = (f"    for (k = 0; k < {ens.n_features}u; ++k) {{  /* LightGBM reads |x| <= 1e-35 as 0 */\n"
             f"        if ({prefix}_in[k] <= 1e-35f && {prefix}_in[k] >= -1e-35f) {prefix}_in[k] = 0.0f;\n    }}\n"
             if ens.flush_tiny else "")
    zero = ("        } else if ((f & 0x4000u) != 0u && v == 0.0f) {  /* LightGBM zero-as-missing */\n"
            "            left = (int)(f >> 15);\n" if zero_missing else "")
    walk = _ifelse(ens, nodes, bases, roots, prefix) if code == "ifelse" else f"""
/* The leaf (a row of {prefix}_leaf_value) that tree t sends x to. */
static uint32_t {prefix}_leaf_of(uint32_t t, const float *x) {{
    const uint32_t base = {prefix}_tree_base[t];
    int32_t n = {prefix}_tree_root[t];
    while (n >= 0) {{
        const uint32_t i = base + (uint32_t)n;
        const uint32_t f = {prefix}_node_feature[i];
        const float v = x[f & 0x3FFFu];
        int left;
        if (v != v) {{  /* NaN: the node's missing-value direction */
            left = (int)(f >> 15);
{zero}        }} else {{
            left = v <= {prefix}_node_threshold[i];
        }}
        n = left ? {prefix}_node_left[i] : {prefix}_node_right[i];
    }}
    return (uint32_t)~n;
}}
"""
    average = (f"    for (k = 0; k < {k}u; ++k) acc[k] /= ({acc}){prefix}_trees_per_column[k];\n"
               if ens.average else "")
    if not classifier:
        decide = f"    for (k = 0; k < {k}u; ++k) {prefix}_out_scores[k] = (float)acc[k];\n"
    else:
        if ens.class_rule == "argmax":
            rule = (f"    best = 0u;\n    for (k = 1; k < {k}u; ++k) {{\n"
                    "        if (acc[k] > acc[best]) best = k;  /* the first maximum, as np.argmax */\n    }\n")
        else:
            op = ">" if ens.class_rule == "gt" else ">="
            rule = f"    best = acc[0] {op} {_c_float(ens.class_threshold, acc)} ? 1u : 0u;\n"
        decide = (f"    for (k = 0; k < {k}u; ++k) {prefix}_out_scores[k] = (float)acc[k];\n" + rule
                  + f"    {prefix}_out_class[0] = (int32_t)best;\n")
    out_ptrs = ([f"(void *){prefix}_out_class", f"(void *){prefix}_out_scores"] if classifier
                else [f"(void *){prefix}_out_scores"])
    c = head + f"""#include <math.h>
#include <stdint.h>

#include "{prefix}_model.h"

/* The tables go where the linker script puts model weights (.ek_weights, reported by 'edgekit build'), the buffers
 * where it puts the arena (.ek_arena). */
#if defined(__GNUC__) && defined(__ELF__)
#define EK_TREES_FLASH __attribute__((section(".rodata.ek_weights_trees")))
#define EK_TREES_ARENA __attribute__((section(".bss.ek_arena"), aligned(16)))
#else
#define EK_TREES_FLASH
#define EK_TREES_ARENA
#endif

{tables}
/* the input and output buffers ({ram} B) */
static struct {{
    float in[{ens.n_features}];
    float scores[{k}];
    int32_t cls[1];
}} {prefix}_arena EK_TREES_ARENA;
#define {prefix}_in {prefix}_arena.in
#define {prefix}_out_scores {prefix}_arena.scores
#define {prefix}_out_class {prefix}_arena.cls
static void *const {prefix}_outputs[{len(outputs)}] = {{{", ".join(out_ptrs)}}};
static const uint32_t {prefix}_output_sizes[{len(outputs)}] = {{{", ".join(f"{b}u" for b in out_bytes)}}};

const char {prefix}_model_name[] = "{c_name}";
const char {prefix}_model_sha256[] = "{sha256}";
const char {prefix}_runtime_name[] = "edgekit-trees";
const char {prefix}_runtime_version[] = "{__version__}";

{walk}
int {prefix}_model_init(void) {{
    return 0;
}}

int {prefix}_model_invoke(void) {{
    {acc} acc[{k}];
    uint32_t t, k{", best" if classifier else ""};
{flush}    for (k = 0; k < {k}u; ++k) acc[k] = {prefix}_base[k];
    for (t = 0; t < {len(bases)}u; ++t) {{
        const uint32_t leaf = {prefix}_leaf_of(t, {prefix}_in);
{add}
    }}
{average}{decide}    return 0;
}}

void *{prefix}_model_input(int i) {{
    return i == 0 ? (void *){prefix}_in : NULL;
}}

size_t {prefix}_model_input_bytes(int i) {{
    return i == 0 ? sizeof {prefix}_in : 0u;
}}

void *{prefix}_model_output(int i) {{
    return (i >= 0 && i < {P}_NUM_OUTPUTS) ? {prefix}_outputs[i] : NULL;
}}

size_t {prefix}_model_output_bytes(int i) {{
    return (i >= 0 && i < {P}_NUM_OUTPUTS) ? (size_t){prefix}_output_sizes[i] : 0u;
}}

size_t {prefix}_model_arena_used(void) {{
    return (size_t){P}_ARENA_SIZE;
}}
"""
    hp, cp = out_dir / f"{prefix}_model.h", out_dir / f"{prefix}_model.c"
    hp.write_text(h, encoding="utf-8")
    cp.write_text(c, encoding="utf-8")
    return EmitResult((hp, cp), const, ram, k * (8 if acc == "double" else 4), cb, len(leaf_table),
                      acc == "double")
