"""Arena of float32 and int8 models with and without CONV_2D + ADD fusion (edgekit/codegen/aot/fusion.py).

Generation only (no build, no board): the memory plan's arena bytes for ``fuse=False`` and ``fuse=True``, float32
and int8, for the MLPerf Tiny models (float32: their float twins, benchmarks/_float_twin.py — same graph and tensor
sizes). ResNet-8 (``ic``) is the model with residual ADDs; the others show that fusion changes nothing where
there is none.

    python benchmarks/fusion_arena.py [-o benchmarks/results/fusion_arena.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from float_vs_int8 import MLPERF, SHARED  # noqa: E402


def arena_rows(work: Path) -> list[dict[str, object]]:
    """One row per (model, dtype): arena bytes unfused and fused, fused pairs, ratio."""
    from _float_twin import float_twin

    from edgekit.codegen.aot import fusion
    from edgekit.codegen.aot.generate import generate_c
    from edgekit.tflite_model import load_model

    rows = []
    for key, rel in MLPERF.items():
        path = SHARED / rel
        if not path.exists():
            continue
        data = path.read_bytes()
        for dtype, model in (("int8", data), ("float32", float_twin(data))):
            parsed = load_model(model)
            sizes = {fuse: generate_c(parsed, work / f"{key}-{dtype}-{fuse}", fuse=fuse).arena_bytes
                     for fuse in (False, True)}
            rows.append({"model": key, "dtype": dtype, "fused_pairs": len(fusion.find_conv_add(parsed.main)),
                         "arena_unfused": sizes[False], "arena_fused": sizes[True],
                         "fused_over_unfused": round(sizes[True] / sizes[False], 3)})
    by = {(r["model"], r["dtype"]): r for r in rows}
    for r in rows:
        q = by.get((r["model"], "int8"))
        if r["dtype"] == "float32" and q is not None:
            r["float_over_int8_unfused"] = round(r["arena_unfused"] / q["arena_unfused"], 2)
            r["float_over_int8_fused"] = round(r["arena_fused"] / q["arena_fused"], 2)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "fusion_arena.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ek-fusion-arena-") as tmp:
        rows = arena_rows(Path(tmp))
    args.out.write_text(json.dumps({"schema": "edgekit.bench.fusion_arena/1", "rows": rows}, indent=1))
    for r in rows:
        extra = (f"  float/int8 {r['float_over_int8_unfused']}x -> {r['float_over_int8_fused']}x"
                 if "float_over_int8_fused" in r else "")
        print(f"{r['model']:4} {r['dtype']:7} pairs {r['fused_pairs']}  arena {r['arena_unfused']:>7,} -> "
              f"{r['arena_fused']:>7,} B{extra}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
