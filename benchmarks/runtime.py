"""edgekit runtime benchmark: every model on the emulated Cortex-M boards, deterministic figures.

For each model (the digits CNN and the models in ../shared/models when present) and each board,
generate firmware with the edgekit AOT runtime, build it, run it in QEMU (-icount shift=0) and
record: guest instructions per inference (deterministic), instructions per MAC, flash split into
code+rodata and model weights, RAM split into arena, stack and other static data, and whether the
outputs are byte-identical with the TFLM host interpreter on a few inputs.

TFLM reference figures (guest instructions per inference and arena, TFLM on QEMU mps2-an386,
gcc 12.2 -O2) come from ../shared/NOTES.md: they were measured once elsewhere, not in this run,
and are shown as a separate, labelled column. Writes benchmarks/results/runtime.json and prints a table.

    python benchmarks/runtime.py [--boards qemu-cortex-m4,qemu-cortex-m7] [--models kws,ic] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "models"
RESULTS = REPO / "benchmarks" / "results"

MODELS = {
    "kws": "mlperf_tiny/kws_ds_cnn_int8.tflite",
    "ic": "mlperf_tiny/ic_resnet8_int8.tflite",
    "vww": "mlperf_tiny/vww_mobilenet_int8.tflite",
    "ad": "mlperf_tiny/ad_fc_autoencoder_int8.tflite",
    "hello_world": "tflm_examples/hello_world_int8.tflite",
    "micro_speech": "tflm_examples/micro_speech_quantized_int8.tflite",
    "person_detect": "tflm_examples/person_detect_int8.tflite",
}

# ../shared/NOTES.md, "Reference figures (TFLM on QEMU mps2-an386, Cortex-M4, gcc 12.2 -O2)".
TFLM_NOTES = {
    "kws": {"ref": 42_211_320, "cmsis_nn": 7_579_121, "arena": 22_772},
    "ic": {"ref": 105_655_492, "cmsis_nn": 29_782_852, "arena": 54_340},
    "vww": {"ref": 99_315_399, "cmsis_nn": 23_777_056, "arena": 100_660},
    "ad": {"ref": 1_952_668, "cmsis_nn": 583_280, "arena": 2_260},
    "hello_world": {"ref": 5_326, "cmsis_nn": 3_618, "arena": 676},
}


def model_paths(selected: list[str] | None, work: Path) -> dict[str, Path]:
    """The models to run: the digits CNN (trained here) plus the shared models that exist."""
    paths: dict[str, Path] = {}
    if not selected or "digits" in selected:
        from edgekit.examples_data import digits_cnn_artifacts

        paths["digits"] = digits_cnn_artifacts(work / "digits")["int8_tflite"]
    for key, rel in MODELS.items():
        if (not selected or key in selected) and (SHARED / rel).exists():
            paths[key] = SHARED / rel
    return paths


def run_one(name: str, model: Path, board: str, runs: int, work: Path) -> dict:
    """Generate, build, validate on a few inputs and benchmark one model on one board."""
    from edgekit.bench import bench
    from edgekit.build import build
    from edgekit.codegen.project import generate
    from edgekit.inspect import inspect
    from edgekit.tflite_model import load_model
    from edgekit.validate import validate

    m = load_model(model)
    macs = inspect(m, arena=False).macs
    t0 = time.perf_counter()
    gen = generate(model, board=board, out_dir=work / f"{name}-{board}")
    built = build(gen.project_dir)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    inp = m.main.tensors[m.main.inputs[0]]
    xs = rng.integers(-128, 128, size=(3, *inp.shape), dtype=np.int8)
    val = validate(model, board=board, inputs=xs, project_dir=gen.project_dir)
    res = bench(gen.project_dir, board=board, runs=runs, warmup=1).to_dict()
    count = res["timing"]["count"]["median"]
    code = built.flash_bytes - built.weights_bytes
    row = {
        "model": name, "board": board, "macs": macs,
        "instructions": int(count), "instructions_per_mac": round(count / macs, 3) if macs else None,
        "count_basis": res["timing"]["basis"], "deterministic": len(set(res["timing"]["ticks"])) == 1,
        "flash_bytes": built.flash_bytes, "weights_bytes": built.weights_bytes, "code_rodata_bytes": code,
        "ram_bytes": built.ram_bytes, "arena_bytes": built.arena_bytes, "stack_reserved_bytes": built.stack_bytes,
        "stack_used_bytes": res["memory"].get("stack_used_bytes"),
        "static_other_bytes": built.ram_bytes - built.arena_bytes - built.stack_bytes,
        "bit_exact": f"{val.byte_exact}/{val.inputs}", "build_s": round(build_s, 1),
    }
    ref = TFLM_NOTES.get(name)
    if ref and board == "qemu-cortex-m4":
        row["tflm_notes"] = ref
        row["vs_tflm_ref"] = round(count / ref["ref"], 3)
        row["vs_tflm_cmsis_nn"] = round(count / ref["cmsis_nn"], 3)
        row["arena_vs_tflm"] = round(built.arena_bytes / ref["arena"], 3)
    return row


def render(rows: list[dict]) -> None:
    """Print the results as a rich table."""
    t = Table(title="edgekit AOT runtime on QEMU (guest instructions per inference, -icount shift=0)")
    for col in ("model", "board", "MACs", "instr", "instr/MAC", "x TFLM ref*", "x TFLM+CMSIS-NN*", "code+rodata",
                "weights", "arena", "x TFLM arena*", "stack used", "bit-exact"):
        t.add_column(col, justify="right" if col not in ("model", "board") else "left")
    for r in rows:
        t.add_row(r["model"], r["board"], f"{r['macs']:,}", f"{r['instructions']:,}", f"{r['instructions_per_mac']}",
                  str(r.get("vs_tflm_ref", "")), str(r.get("vs_tflm_cmsis_nn", "")), f"{r['code_rodata_bytes']:,}",
                  f"{r['weights_bytes']:,}", f"{r['arena_bytes']:,}", str(r.get("arena_vs_tflm", "")),
                  str(r["stack_used_bytes"]), r["bit_exact"])
    console = Console(width=max(Console().width, 160))
    console.print(t)
    console.print("* TFLM columns are ratios to the reference figures in ../shared/NOTES.md (TFLM on QEMU "
                    "mps2-an386, measured once, not in this run); < 1 means edgekit is smaller/faster.")


def main() -> int:
    """Run the benchmark and write benchmarks/results/runtime.json."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", default="qemu-cortex-m4", help="comma-separated board ids")
    ap.add_argument("--models", default="", help="comma-separated subset: digits," + ",".join(MODELS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS / "runtime.json"))
    args = ap.parse_args()
    selected = [m for m in args.models.split(",") if m] or None
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        work = Path(tmp)
        paths = model_paths(selected, work)
        for board in args.boards.split(","):
            for name, path in paths.items():
                rows.append(run_one(name, path, board, args.runs, work))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "runtime", "date": time.strftime("%Y-%m-%d"),
                               "machine": {"platform": platform.platform(), "python": platform.python_version()},
                               "results": rows}, indent=2) + "\n")
    render(rows)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
