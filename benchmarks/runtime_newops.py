"""edgekit runtime vs TFLM+CMSIS-NN on the issue-14 ops: 16x8 convolutions, SVDF, TRANSPOSE_CONV, integer LSTM.

Models: ``audio16x8`` (a small DS-CNN over 49x10 features, Conv2D / DepthwiseConv2D / a 1x1 Conv2D head, converted with
``edgekit convert --activations int16``: int16 activations, int8 weights; untrained, seeded), ``tconv_ae`` (an int8
Conv2D / Conv2DTranspose autoencoder over 32x32x1, converted here), and from a tflite-micro tree (``--tflm-dir``):
``keyword_scrambled`` (SVDF, int16 state), ``keyword_scrambled_8bit`` (SVDF, int8 state), ``mnist_lstm`` and
``micro_speech_lstm`` (UNIDIRECTIONAL_SEQUENCE_LSTM). The converted models are kept in ``--work-dir``/models.

For each model and board (qemu-cortex-m4: DSP kernels; qemu-cortex-m55: MVE) the edgekit AOT project is generated,
built, validated on 3 random inputs in a row against the TFLM host interpreter (state carried) and counted with
QEMU ``-icount`` (guest instructions per inference, deterministic), as benchmarks/runtime.py does. With
``--tflm-dir`` the same model, board and inputs also go through a TFLM project with CMSIS-NN kernels
(benchmarks/_tflm_columns.py ``measure``: built, validated, counted the same way; one TFLM library build per board,
kept in ``--work-dir`` and edgekit's TFLM library cache; ``--append`` adds rows, e.g. one board per run).
``--before FILE``: an earlier ``--edgekit-only`` run of
this script (e.g. with ``PYTHONPATH`` at an older checkout) whose instruction counts become the "before" column.
Writes benchmarks/results/runtime_newops.json and prints a table.

    python benchmarks/runtime_newops.py --tflm-dir /work/tflm --work-dir /tmp/ek-newops [--before old.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime import RESULTS, code_components
from runtime_rnn import MODELS as RNN_MODELS

TFLM_MODELS = {k: RNN_MODELS[k] for k in ("keyword_scrambled", "keyword_scrambled_8bit", "mnist_lstm",
                                          "micro_speech_lstm")}
BUILT = ("audio16x8", "tconv_ae")
FLAVOUR = "tflm_cmsis_nn"


def _keras(name: str) -> tuple[Any, np.ndarray]:
    """The Keras model and calibration data of a model converted here."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if name == "audio16x8":
        x = keras.Input((49, 10, 1), batch_size=1)
        h = layers.Conv2D(32, (10, 4), strides=2, padding="same", activation="relu")(x)
        for _ in range(2):
            h = layers.DepthwiseConv2D(3, padding="same", activation="relu")(h)
            h = layers.Conv2D(32, 1, activation="relu")(h)
        # a 1x1 conv head before the pooling, no Dense: TFLM's CMSIS-NN FULLY_CONNECTED refuses per-channel 16x8
        h = layers.GlobalAveragePooling2D()(layers.Conv2D(12, 1)(h))
        return keras.Model(x, h), rng.normal(size=(32, 49, 10, 1)).astype(np.float32)
    x = keras.Input((32, 32, 1), batch_size=1)
    h = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(h)
    y = layers.Conv2D(1, 3, padding="same")(h)
    return keras.Model(x, y), rng.uniform(0, 1, size=(32, 32, 32, 1)).astype(np.float32)


def model_path(name: str, tflm: Path | None, work: Path) -> Path | None:
    """The .tflite of ``name``: converted into ``work/models`` once, or from the TFLM tree (None when absent)."""
    if name in BUILT:
        path = work / "models" / f"{name}.tflite"
        if not path.is_file():
            from edgekit.conversion import convert

            model, calib = _keras(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            convert(model, calib, output=path, activations="int16" if name == "audio16x8" else "int8",
                    progress=False, isolate=False)
        return path
    path = (tflm / TFLM_MODELS[name]) if tflm else None
    return path if path is not None and path.is_file() else None


def _inputs(model: Path) -> np.ndarray:
    """3 random inputs of the model's input type (seed 0)."""
    from edgekit.tflite_model import load_model

    t = load_model(model).main
    inp = t.tensors[t.inputs[0]]
    info = np.iinfo(inp.dtype)
    return np.random.default_rng(0).integers(info.min, info.max + 1, size=(3, *inp.shape)).astype(inp.dtype)


def edgekit_row(name: str, model: Path, board: str, runs: int, work: Path, xs: np.ndarray) -> dict[str, Any]:
    """Generate, build, validate and count the edgekit AOT project of ``model`` on ``board``."""
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.inspection import inspect
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    m = load_model(model)
    t0 = time.perf_counter()
    gen = generate(model, board=board, out_dir=work / f"{name}-{board}")
    built = build(gen.project_dir)
    build_s = time.perf_counter() - t0
    val = validate(model, board=board, inputs=xs, project_dir=gen.project_dir)
    res = bench(gen.project_dir, board=board, runs=runs, warmup=1).to_dict()
    count = int(res["timing"]["count"]["median"])
    parts = code_components(gen.project_dir / "build" / "firmware.map")
    ops = sorted({op.opcode for op in m.main.operators})
    return {"model": name, "board": board, "ops": ops, "macs": inspect(m, arena=False).macs,
            "instructions": count, "deterministic": len(set(res["timing"]["ticks"])) == 1,
            "code_rodata_bytes": built.flash_bytes - built.weights_bytes, "code_runtime_bytes": parts["runtime"],
            "weights_bytes": built.weights_bytes, "arena_bytes": built.arena_bytes,
            "bit_exact": f"{val.byte_exact}/{val.inputs}", "build_s": round(build_s, 1)}


def main() -> int:
    """Measure the selected models on the selected boards; write the JSON; 1 when a row is not bit-exact."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflm-dir", default=None, help="a tflite-micro tree (models + the TFLM+CMSIS-NN column)")
    ap.add_argument("--boards", default="qemu-cortex-m4,qemu-cortex-m55")
    ap.add_argument("--models", default="", help="comma-separated subset of " + ",".join([*BUILT, *TFLM_MODELS]))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work-dir", default=None, help="keep projects and TFLM builds here (default: a temp dir)")
    ap.add_argument("--edgekit-only", action="store_true", help="no TFLM column (e.g. for a --before run)")
    ap.add_argument("--before", default=None, help="an earlier --edgekit-only JSON: its instructions as 'before'")
    ap.add_argument("--attach-only", action="store_true", help="measure nothing: add --before to --out's rows")
    ap.add_argument("--label", default="", help="a note stored in the JSON (e.g. the commit measured)")
    ap.add_argument("--append", action="store_true", help="keep the rows of --out for other models / boards")
    ap.add_argument("--out", default=str(RESULTS / "runtime_newops.json"))
    args = ap.parse_args()
    from _tflm_columns import measure, tflm_tree, tree_facts

    from edgekit.errors import EdgekitError

    tflm = tflm_tree(args.tflm_dir)
    import tempfile

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="ek_newops_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.attach_only:
        out = json.loads(Path(args.out).read_text())
        rows = out["rows"]
        attach_before(rows, out, args.before)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
        render(rows)
        return 0
    rows = []
    for name in [m for m in args.models.split(",") if m] or [*BUILT, *TFLM_MODELS]:
        model = model_path(name, tflm, work)
        if model is None:
            print(f"skip {name}: not found (needs --tflm-dir)", file=sys.stderr)
            continue
        xs = _inputs(model)
        for board in args.boards.split(","):
            row = edgekit_row(name, model, board, args.runs, work, xs)
            if tflm is not None and not args.edgekit_only:
                try:
                    t = measure(name, model, board, FLAVOUR, tflm, args.runs, work, xs)
                except EdgekitError as e:  # recorded, not fatal: the other rows still run
                    row[FLAVOUR] = {"error": str(e), "tree": tree_facts(tflm)}
                else:
                    t.pop("cycles", None)
                    t.pop("project_dir", None)
                    row[FLAVOUR] = {**t, "tree": tree_facts(tflm)}
                    row["vs_tflm_cmsis_nn"] = round(row["instructions"] / t["instructions"], 3)
            rows.append(row)
            print(json.dumps({k: row.get(k) for k in ("model", "board", "instructions", "bit_exact",
                                                      "vs_tflm_cmsis_nn")}), flush=True)
            write(args, rows)  # after every row: a later failure keeps what was measured
    write(args, rows)
    render(rows)
    return 0 if all(r["bit_exact"].split("/")[0] == r["bit_exact"].split("/")[1] for r in rows) else 1


def write(args: argparse.Namespace, measured: list[dict[str, Any]]) -> None:
    """Write --out: the rows measured (with --append, after the kept rows of other models / boards)."""
    rows = list(measured)
    if args.append and Path(args.out).is_file():
        mine = {(r["model"], r["board"]) for r in rows}
        rows = [r for r in json.loads(Path(args.out).read_text())["rows"] if (r["model"], r["board"]) not in mine
                ] + rows
    out = {"machine": platform.machine(), "python": platform.python_version(), "runs": args.runs,
           "label": args.label,
           "inputs_note": "3 random inputs of the model's input type validated in a row (state carried), seed 0",
           "rows": rows}
    attach_before(rows, out, args.before)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


def attach_before(rows: list[dict[str, Any]], out: dict[str, Any], before: str | None) -> None:
    """Put the instructions of an earlier run (``before``: its JSON) beside each row measured in both."""
    if not before:
        return
    old = json.loads(Path(before).read_text())
    by_key = {(r["model"], r["board"]): r for r in old["rows"]}
    out["before_label"] = old.get("label")
    for row in rows:
        prev = by_key.get((row["model"], row["board"]))
        if prev:
            row["before"] = {k: prev.get(k) for k in ("instructions", "code_rodata_bytes", "bit_exact")}
            row["after_over_before"] = round(row["instructions"] / prev["instructions"], 3)


def render(rows: list[dict[str, Any]]) -> None:
    """The table: instructions before / after, TFLM+CMSIS-NN, ratios."""
    table = Table(title="edgekit AOT runtime on the issue-14 ops (guest instructions per inference)")
    for col in ("model", "board", "before", "after", "after/before", "TFLM+CMSIS-NN", "edgekit/TFLM",
                "bit-exact (ek, TFLM)"):
        table.add_column(col)
    for r in rows:
        t = r.get(FLAVOUR) or {}
        t = t if "instructions" in t else {"bit_exact": t["error"][:40]} if t else {}
        table.add_row(r["model"], r["board"], f"{r['before']['instructions']:,}" if "before" in r else "-",
                      f"{r['instructions']:,}", str(r.get("after_over_before", "-")),
                      f"{t['instructions']:,}" if "instructions" in t else "-", str(r.get("vs_tflm_cmsis_nn", "-")),
                      f"{r['bit_exact']}, {t.get('bit_exact', '-')}")
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
