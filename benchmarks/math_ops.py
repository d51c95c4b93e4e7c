"""Guest instructions of edgekit's AOT math ops (issue 14) on an emulated Cortex-M (figures, not assertions).

Small hand-written models (``tests/tflite_single_op.py``, exact quantization) per op family: each is generated
for edgekit's runtime, built, checked byte-exact against the TFLM host interpreter with
:func:`edgekit.validation.validate` and counted with :func:`edgekit.benchmarking.bench` (QEMU ``-icount
shift=0``: guest instructions per inference). Writes ``benchmarks/results/math_ops.json``.

    PYTHONPATH=. python benchmarks/math_ops.py [--board qemu-cortex-m4] [--models prelu_max,batch_matmul]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "tests"))  # the exact-quantization model writer is a test helper


def _models() -> dict[str, tuple[bytes, int, str]]:
    """name -> (.tflite bytes, work units, unit): output elements of every op, or MACs for BATCH_MATMUL."""
    from tflite_single_op import T, multi_op_model

    rng = np.random.default_rng(0)

    def const(shape: tuple, s: float = 0.02, z: int = 0) -> T:
        return T(shape, "int8", s, z, data=rng.integers(-128, 128, size=shape).astype(np.int8))

    out: dict[str, tuple[bytes, int, str]] = {}
    x, y, z = T((1, 16, 16, 16), "int8", 0.05, 3), T((1, 16, 16, 16), "int8", 0.04, -7), T((1, 16, 16, 16), "int8",
                                                                                         0.04, -7)
    out["prelu_max"] = (multi_op_model([("PRELU", [x, const((1, 1, 16), 0.01, -5)], [y], {}),
                                        ("MAXIMUM", [y, const((16,), 0.04, -7)], [z], {})]), 2 * 4096, "elements")
    a, m, att = T((1, 16, 64), "int8", 0.05, 3), T((1, 16, 32), "int8", 0.3, 7), T((1, 16, 16), "int8", 4.0, -9)
    out["batch_matmul"] = (multi_op_model([("BATCH_MATMUL", [a, const((64, 32), 0.02, -5)], [m], {}),
                                           ("BATCH_MATMUL", [m, m], [att], {"adj_y": True})]),
                           16 * 32 * 64 + 16 * 16 * 32, "MACs")
    p, q, g = T((1, 64, 64), "int8", 0.05, 3), const((1, 64, 64), 0.07, -2), T((1, 64, 64), "bool")
    s = T((1, 64, 64), "int8", 0.05, 3)
    out["greater_select"] = (multi_op_model([("GREATER", [p, q], [g], {}), ("SELECT_V2", [g, p, q], [s], {})]),
                             2 * 4096, "elements")
    u, ab, el, rs = (T((1, 64, 64), "int8", 0.05, v) for v in (3, -128, -20, -100))
    out["abs_elu_rsqrt"] = (multi_op_model([("ABS", [u], [ab], {}), ("ELU", [u], [el], {}), ("RSQRT", [ab], [rs], {})]),
                            3 * 4096, "elements")
    v, ls, l2 = T((16, 64), "int8", 0.1, 3), T((16, 64), "int8", 16 / 256, 127), T((16, 64), "int8", 1 / 128, 0)
    out["log_softmax_l2norm"] = (multi_op_model([("LOG_SOFTMAX", [v], [ls], {}), ("L2_NORMALIZATION", [v], [l2], {})]),
                                 2 * 1024, "elements")
    w, cs, am = T((16, 64), "int8", 0.1, 3), T((16, 64), "int8", 1.0, 0), T((16,), "int32")
    ax1 = T((1,), "int32", data=np.array([1], np.int32))
    out["cumsum_argmax"] = (multi_op_model([("CUMSUM", [w, ax1], [cs], {}), ("ARG_MAX", [w, ax1], [am], {})]),
                            1024 + 16, "elements")
    return out


def run_one(name: str, tflite: bytes, units: int, unit: str, board: str, work: Path, runs: int) -> dict:
    """Generate, build, validate (3 random inputs) and count one model."""
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    path = work / f"{name}.tflite"
    path.write_bytes(tflite)
    m = load_model(path)
    gen = generate(path, board=board, out_dir=work / f"{name}-{board}", runtime="edgekit")
    built = build(gen.project_dir)
    inp = m.main.tensors[m.main.inputs[0]]
    xs = np.random.default_rng(1).integers(-128, 128, size=(3, *inp.shape), dtype=np.int8)
    val = validate(path, board=board, inputs=xs, project_dir=gen.project_dir)
    res = bench(gen.project_dir, board=board, runs=runs, warmup=1).to_dict()
    count = int(res["timing"]["count"]["median"])
    return {"model": name, "board": board, "ops": [op.opcode for op in m.main.operators], "work": units,
            "unit": unit, "instructions": count, f"instructions_per_{unit[:-1].lower()}": round(count / units, 2),
            "count_basis": res["timing"]["basis"], "bit_exact": f"{val.byte_exact}/{val.inputs}",
            "flash_bytes": built.flash_bytes, "arena_bytes": built.arena_bytes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-cortex-m4")
    ap.add_argument("--models", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS / "math_ops.json"))
    args = ap.parse_args()
    models = _models()
    selected = [n for n in args.models.split(",") if n] or list(models)
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-math-") as tmp:
        for name in selected:
            tflite, units, unit = models[name]
            rows.append(run_one(name, tflite, units, unit, args.board, Path(tmp), args.runs))
            print(json.dumps(rows[-1]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "math_ops", "date": time.strftime("%Y-%m-%d"),
                               "machine": {"platform": platform.platform(), "python": platform.python_version()},
                               "results": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
