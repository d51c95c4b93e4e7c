"""Differential sweep of the AOT data-movement ops against TFLM -> benchmarks/results/shape_ops_diff.json.

Random STRIDED_SLICE (every mask, negative strides and indices, short specs), SLICE, MIRROR_PAD (pads up to
past the edge), RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR (any sizes, align_corners, half_pixel_centers) and
GATHER (axis, batch_dims) cases. Every case edgekit's generator accepts must give TFLM's bytes (host build,
ASan/UBSan, 40 cases per build); a refused case is tallied by reason, with whether TFLM runs it.

    python benchmarks/shape_ops_diff.py [--cases 600] [--seed 0] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from aot_util import aot_vs_tflm  # noqa: E402
from tflite_single_op import T, multi_op_model, single_op_model  # noqa: E402

from edgekit.codegen.aot.generate import check_supported  # noqa: E402
from edgekit.codegen.aot.ops.slicing import _axis_range  # noqa: E402
from edgekit.errors import EdgekitError, UnsupportedOpError  # noqa: E402
from edgekit.tflite_model import load_model  # noqa: E402
from edgekit.tflm import tflm_run  # noqa: E402


def _q(shape) -> T:
    return T(tuple(shape), scale=0.1, zero_point=2)


def _ints(v) -> T:
    a = np.asarray(v, dtype=np.int32)
    return T(a.shape, "int32", data=a)


def _strided(r: random.Random) -> tuple:
    rank = r.randint(1, 4)
    shape = [r.randint(1, 5) for _ in range(rank)]
    n = rank if r.random() < 0.9 else r.randint(1, rank)
    b, e = [r.randint(-6, 6) for _ in range(n)], [r.randint(-6, 6) for _ in range(n)]
    s = [r.choice([-3, -2, -1, 1, 1, 1, 2, 3]) for _ in range(n)]
    o = {k: r.randint(0, (1 << n) - 1) if r.random() < p else 0 for k, p in
         [("begin_mask", .4), ("end_mask", .4), ("shrink_axis_mask", .3), ("ellipsis_mask", .15),
          ("new_axis_mask", .1)]}
    out = []  # the shape TFLM's reading gives (it ignores ellipsis / new_axis)
    for d in range(n):
        sh = bool(o["shrink_axis_mask"] >> d & 1)
        _, c = _axis_range(shape[d], b[d], e[d], s[d], bool(o["begin_mask"] >> d & 1), bool(o["end_mask"] >> d & 1), sh)
        if not sh:
            out.append(c)
    return "STRIDED_SLICE", [_q(shape), _ints(b), _ints(e), _ints(s)], [_q(out)], o


def _slice(r: random.Random) -> tuple:
    shape = [r.randint(1, 5) for _ in range(r.randint(1, 5))]
    begin = [r.randint(0, d) for d in shape]
    size = [r.choice([-1, r.randint(0, d - b + 1)]) for d, b in zip(shape, begin, strict=True)]
    out = [d - b if s == -1 else s for d, b, s in zip(shape, begin, size, strict=True)]
    return "SLICE", [_q(shape), _ints(begin), _ints(size)], [_q(out)], {}


def _mirror(r: random.Random) -> tuple:
    shape = [r.randint(1, 5) for _ in range(r.randint(1, 4))]
    pads = [[r.randint(0, 5), r.randint(0, 5)] for _ in shape]
    out = [x + a + c for x, (a, c) in zip(shape, pads, strict=True)]
    return "MIRROR_PAD", [_q(shape), _ints(pads)], [_q(out)], {"mode": r.choice(["REFLECT", "SYMMETRIC"])}


def _resize(r: random.Random) -> tuple:
    op = r.choice(["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
    n, h, w, c = r.randint(1, 2), r.randint(1, 9), r.randint(1, 9), r.randint(1, 3)
    oh, ow = r.randint(1, 20), r.randint(1, 20)
    return (op, [_q((n, h, w, c)), _ints([oh, ow])], [_q((n, oh, ow, c))],
            {"align_corners": r.random() < .4, "half_pixel_centers": r.random() < .4})


def _gather(r: random.Random) -> tuple:
    shape = [r.randint(1, 4) for _ in range(r.randint(1, 4))]
    axis = r.randrange(len(shape))
    bd = r.randint(0, axis)
    idx_shape = shape[:bd] + [r.randint(1, 3) for _ in range(r.randint(0, 2))]
    count = int(np.prod(idx_shape, dtype=np.int64))
    idx = np.array([r.randrange(shape[axis]) for _ in range(count)]).reshape(idx_shape)
    out = shape[:axis] + idx_shape[bd:] + shape[axis + 1:]
    return ("GATHER", [_q(shape), _ints(idx)], [_q(out)],
            {"axis": axis - len(shape) if r.random() < .3 else axis, "batch_dims": bd})


def _reason(err: Exception) -> str:
    text = str(err).split("): ", 1)[-1].split("; supported ops")[0]
    return re.sub(r"-?\d+", "N", re.sub(r"'[^']*'", "'…'", text))[:100]


def run(cases: int, seed: int, work: Path) -> dict:
    """Draw ``cases`` random cases; compare the accepted ones with TFLM; tally the refused ones."""
    r = random.Random(seed)
    makers = [_strided, _strided, _slice, _mirror, _resize, _gather]
    accepted, refused = [], Counter()
    refused_tflm_runs = Counter()
    for _ in range(cases):
        op, ins, outs, opts = r.choice(makers)(r)
        model = single_op_model(op, ins, outs, **opts)
        try:
            check_supported(model)
        except UnsupportedOpError as err:
            refused[f"{op}: {_reason(err)}"] += 1
            sg = load_model(model).main
            try:
                tflm_run(model, [[np.zeros(sg.tensors[t].shape, np.int8) for t in sg.inputs]])
                refused_tflm_runs[f"{op}: {_reason(err)}"] += 1
            except EdgekitError:
                pass
            continue
        accepted.append((op, ins, outs, opts))
    mismatches, by_op = [], Counter(c[0] for c in accepted)
    for k in range(0, len(accepted), 40):
        problems = aot_vs_tflm(multi_op_model(accepted[k:k + 40]), work / f"b{k}", sets=2, seed=seed + k,
                               obj_cache=work / "objs")
        mismatches += [f"batch {k // 40}: {p}" for p in problems]
    return {"seed": seed, "cases": cases, "accepted": len(accepted), "accepted_by_op": dict(sorted(by_op.items())),
            "mismatches": mismatches, "refused": dict(refused.most_common()),
            "refused_but_tflm_runs": dict(refused_tflm_runs.most_common())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ek_shape_diff_") as tmp:
        result = run(args.cases, args.seed, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "shape_ops_diff.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['accepted']} of {result['cases']} cases accepted, {len(result['mismatches'])} mismatches -> {path}")


if __name__ == "__main__":
    main()
