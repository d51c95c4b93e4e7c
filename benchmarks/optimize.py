"""Benchmark edgekit.optimize: every technique on small CNNs and the MLPerf Tiny architectures, measured end to end.

For each (model, technique) an OptimizationReport: parameters, MACs, float/int8/gzip sizes, share of
zero int8 weights, float and int8 accuracy on held-out data, and, when arm-none-eabi-gcc, cmake and
qemu-system-arm are installed, instructions per inference, flash and arena on qemu-cortex-m4 with the
edgekit runtime (else those fields are null with the reason).

Models: the digits CNN (scikit-learn digits, 21.5 k params), the gesture CNN (synthetic 3-axis
accelerometer, width 32, 6.5 k params); for low-rank also an over-parameterised digits MLP
(64-256-256-10), for QAT also the low-bit-sensitive gesture CNN (width 8, full-scale 4-16 g taps:
post-training int8 loses accuracy there). The MLPerf Tiny architectures (edgekit.examples_mlperf):
ResNet-8 (IC, width 16 as the reference) and MobileNetV1 0.25 (VWW, 32x32 input) on the digits scaled to
32x32x3, and the DS-CNN (KWS, width 64 as the reference) on synthetic KWS-shaped features (not speech: the
Speech Commands data is not shipped). Distillation trains a small student (half width) from the model as
teacher; its "before" is the teacher, and the student trained alone (same init and fine-tuning) is in
``details``. ``structured+qat`` is a two-step chain. Every fine-tuning uses the default: until the
accuracy on a held-out 15% of the training data stops improving (gradual ramp first for pruning); the
epochs used are in each report's ``details.finetune`` and in the table. Writes
benchmarks/results/optimize.json and optimize.md, prints the table.

    python benchmarks/optimize.py [--no-board] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "optimize.json"
TABLE = ROOT / "benchmarks" / "results" / "optimize.md"
BOARD = "qemu-cortex-m4"


TECHNIQUES = ("prune", "structured", "low_rank", "distill", "qat", "structured+qat")
NAMES = ("digits", "digits_mlp", "gesture", "gesture_lowbit", "kws_ds_cnn", "ic_resnet8", "vww_mobilenet")


def datasets() -> dict[str, dict[str, Any]]:
    """name -> data, a trained model, a student architecture for distillation, and technique settings."""
    import keras

    from edgekit.examples_data import load_digits_data, train_digits_cnn
    from edgekit.examples_gestures import build_gesture_cnn, load_gesture_data, make_gestures, train_gesture_cnn

    L = keras.layers
    out: dict[str, dict[str, Any]] = {}
    xt, yt, xv, yv = load_digits_data()
    out["digits"] = {
        "data": (xt, yt, xv, yv), "model": train_digits_cnn(xt, yt),
        "student": lambda: keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same", activation="relu"),
                                             L.MaxPooling2D(), L.Flatten(), L.Dense(10, activation="softmax")],
                                            name="digits_student"),
        "prune_layers": None, "epochs": 4, "lr": 1e-3}
    keras.utils.set_random_seed(0)
    mlp = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(256, activation="relu"),
                            L.Dense(256, activation="relu"), L.Dense(10, activation="softmax")], name="digits_mlp")
    mlp.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    mlp.fit(xt, yt, epochs=10, batch_size=32, verbose=0)
    out["digits_mlp"] = {"data": (xt, yt, xv, yv), "model": mlp, "only": ("low_rank",), "low_rank": 0.7,
                         "epochs": 3, "lr": 1e-3}
    xt, yt, xv, yv = load_gesture_data()
    out["gesture"] = {
        "data": (xt, yt, xv, yv), "model": train_gesture_cnn(xt, yt, width=32),
        "student": lambda: build_gesture_cnn(width=8),
        "prune_layers": "first_last_half", "epochs": 6, "lr": 1e-3}
    xt, yt = make_gestures(300, seed=0, tap_g=(4, 16))
    xv, yv = make_gestures(200, seed=1000, tap_g=(4, 16))
    keras.utils.set_random_seed(0)
    lowbit = build_gesture_cnn(width=8)
    lowbit.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    lowbit.fit(xt, yt, epochs=40, batch_size=32, verbose=0)
    out["gesture_lowbit"] = {"data": (xt, yt, xv, yv), "model": lowbit, "only": ("qat",), "epochs": 3, "lr": 3e-4}
    return out


def _train(model: Any, x: Any, y: Any, epochs: int, lr: float = 3e-3) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def mlperf_datasets(only: set[str]) -> dict[str, dict[str, Any]]:
    """ResNet-8 and MobileNetV1 on digits at 32x32x3, the DS-CNN on synthetic KWS-shaped features (those in
    ``only``)."""
    import keras
    import numpy as np

    from edgekit.examples_data import load_digits_data
    from edgekit.examples_mlperf import build_ds_cnn, build_mobilenet_v1, build_resnet8, make_keyword_features

    def big(x: Any) -> Any:
        return np.repeat(np.repeat(np.repeat(x, 4, axis=1), 4, axis=2), 3, axis=3)

    out: dict[str, dict[str, Any]] = {}
    if "kws_ds_cnn" in only:
        x, y = make_keyword_features(120, seed=0)
        xk, yk = make_keyword_features(40, seed=1)
        keras.utils.set_random_seed(0)
        out["kws_ds_cnn"] = {"data": (x, y, xk, yk), "model": _train(build_ds_cnn(width=64), x, y, 15),
                             "student": lambda: build_ds_cnn(width=32), "lr": 1e-3}
    xt, yt, xv, yv = load_digits_data()
    xt, xv = big(xt), big(xv)
    if "ic_resnet8" in only:
        keras.utils.set_random_seed(0)
        out["ic_resnet8"] = {"data": (xt, yt, xv, yv), "lr": 1e-3,
                             "model": _train(build_resnet8((32, 32, 3), 10, 16), xt, yt, 15),
                             "student": lambda: build_resnet8((32, 32, 3), 10, 8)}
    if "vww_mobilenet" in only:
        keras.utils.set_random_seed(0)
        out["vww_mobilenet"] = {"data": (xt, yt, xv, yv), "lr": 1e-3,
                                "model": _train(build_mobilenet_v1((32, 32, 3), 10, 0.25), xt, yt, 20),
                                "student": lambda: build_mobilenet_v1((32, 32, 3), 10, 0.125)}
    return out


def steps_for(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(technique, settings) run on one model."""
    model = spec["model"]
    layers = None
    if spec.get("prune_layers") == "first_last_half":
        layers = {model.layers[0].name: 0.5, model.layers[-1].name: 0.5}
    steps = [("prune", {"sparsity": 0.75, **({"layers": layers} if layers else {})}),
             ("structured", {"ratio": 0.5}), ("low_rank", {"energy": spec.get("low_rank", 0.9)}), ("distill", {}),
             ("qat", {"learning_rate": 3e-4}), ("structured+qat", {})]
    only = spec.get("only")
    return [s for s in steps if only is None or s[0] in only]


def run_one(name: str, spec: dict[str, Any], technique: str, settings: dict[str, Any], original: Any,
            board: str | None) -> Any:
    """One OptimizationReport (through edgekit.optimize.optimize, except distillation)."""
    from edgekit.optimize import FineTune, distill_info, measure
    from edgekit.optimize._graph import copy_model
    from edgekit.optimize.chain import optimize
    from edgekit.optimize.finetune import fit
    from edgekit.optimize.recipe import parse_recipe
    from edgekit.optimize.report import OptimizationReport

    xt, yt, xv, yv = spec["data"]
    calib = xt[:100]
    lr = settings.pop("learning_rate", spec["lr"])
    if technique == "structured+qat":  # a chain: the report has one entry per step in "steps"
        recipe = parse_recipe({"finetune": {"learning_rate": lr},
                               "steps": [{"structured": {"ratio": 0.5}}, {"qat": {"learning_rate": 3e-4}}]},
                              f"benchmarks/optimize.py:{name}")
        _, chain = optimize(spec["model"], xt, yt, recipe, val=xv, val_labels=yv, calib=calib, board=board,
                            progress=False, before=original)
        chain.technique = "structured+qat"
        return chain
    if technique != "distill":
        recipe = parse_recipe({"finetune": {"learning_rate": lr},
                               "steps": [{technique: settings}]}, f"benchmarks/optimize.py:{name}")
        _, chain = optimize(spec["model"], xt, yt, recipe, val=xv, val_labels=yv, calib=calib, board=board,
                            progress=False, before=original)
        return chain.steps[0]
    ft = FineTune(learning_rate=3e-3, progress=False, seed=1, min_epochs=10)  # distill_info's own minimum
    import dataclasses

    import keras

    keras.utils.set_random_seed(1)
    student = spec["student"]()
    alone = copy_model(student)
    t0 = time.perf_counter()
    alone_fit = fit(alone, xt, yt, ft, what="student alone")
    distilled, record = distill_info(spec["model"], student, xt, yt, temperature=2.0, alpha=0.5, finetune=ft)
    seconds = time.perf_counter() - t0
    return OptimizationReport(
        "distill", {"teacher": spec["model"].name, "student": student.name, "temperature": 2.0, "alpha": 0.5,
                    "epochs": ft.epochs, "max_epochs": ft.max_epochs, "learning_rate": ft.learning_rate},
        before=original, after=measure(distilled, calib, val=xv, val_labels=yv, board=board),
        seconds=round(seconds, 2), notes=["before = the teacher; after = the distilled student"],
        details={"finetune": record, "student_alone": measure(alone, calib, val=xv, val_labels=yv, board=None),
                 "student_alone_finetune": dataclasses.asdict(alone_fit)})


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table: one row per (model, technique), before -> after."""
    head = ("| model | technique | params | MACs | int8 B | int8 gzip B | int8 zeros | float acc | int8 acc | "
            "instr/inference | flash B | arena B | epochs | s |\n" + "|---|---|" + "---:|" * 12)
    lines = [head]

    def pair(b: Any, a: Any, pct: bool = False) -> str:
        def f(v: Any) -> str:
            if v is None:
                return "-"
            return f"{v:.1%}" if pct else f"{v:,.0f}"
        return f"{f(b)} → {f(a)}"

    for r in results:
        rep = r["report"]
        b, a = rep["before"], rep["after"]
        bb, ab = b.get("board") or {}, a.get("board") or {}
        lines.append(
            f"| {r['model']} | {rep['technique']} | {pair(b['params'], a['params'])} | {pair(b['macs'], a['macs'])} | "
            f"{pair(b['int8_bytes'], a['int8_bytes'])} | {pair(b['int8_gzip_bytes'], a['int8_gzip_bytes'])} | "
            f"{pair(b['int8_weight_zeros'], a['int8_weight_zeros'], True)} | "
            f"{pair(b['float_accuracy'], a['float_accuracy'], True)} | "
            f"{pair(b['int8_accuracy'], a['int8_accuracy'], True)} | "
            f"{pair(bb.get('per_inference'), ab.get('per_inference'))} | "
            f"{pair(bb.get('flash_bytes'), ab.get('flash_bytes'))} | "
            f"{pair(bb.get('arena_bytes'), ab.get('arena_bytes'))} | {epochs_used(rep)} | {rep['seconds']:.0f} |")
    return "\n".join(lines)


def epochs_used(rep: dict[str, Any]) -> str:
    """The fine-tuning epochs a report's step(s) ran (``a+b`` for a chain), from ``details.finetune``."""
    out = []
    for step in rep.get("steps") or [rep]:
        ft = (step.get("details") or {}).get("finetune") or {}
        n = ft.get("epochs") if "recovery" in ft else ft.get("epochs_run")
        out.append("-" if n is None else str(n))
    return "+".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-board", action="store_true", help="skip the QEMU figures")
    parser.add_argument("--only", nargs="+", choices=NAMES,
                        help="these models only (their rows replace the ones in the existing results)")
    parser.add_argument("--techniques", nargs="+", choices=TECHNIQUES,
                        help="these techniques only (their rows replace the ones in the existing results)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgekit import __version__
    from edgekit.optimize import measure

    board = None if args.no_board else BOARD
    t0 = time.perf_counter()
    only = set(args.only or NAMES)
    specs = datasets() if only & set(NAMES[:4]) else {}
    if only & set(NAMES[4:]):
        specs.update(mlperf_datasets(only))
    results: list[dict[str, Any]] = []
    md = ""
    for name, spec in specs.items():
        if name not in only:
            continue
        xt, _, xv, yv = spec["data"]
        original = measure(spec["model"], xt[:100], val=xv, val_labels=yv, board=board)
        for technique, settings in steps_for(spec):
            if args.techniques and technique not in args.techniques:
                continue
            report = run_one(name, spec, technique, dict(settings), original, board)
            results.append({"model": name, "technique": technique, "report": report.to_dict()})
            a = report.after
            print(f"{name:15s} {technique:10s} params {report.before.params:>7,} -> {a.params:>7,}  int8 acc "
                  f"{report.before.int8_accuracy or 0:.3f} -> {a.int8_accuracy or 0:.3f}  "
                  f"board {a.board.per_inference if a.board else None}", flush=True)
            md = write(results, board, __version__, time.perf_counter() - t0)  # after each row: partial runs count
    print(md)
    print(f"wrote {RESULTS.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}")
    return 0


def write(results: list[dict[str, Any]], board: str | None, version: str, seconds: float) -> str:
    """Write the JSON and the Markdown table (the file's other (model, technique) rows are kept, read now, so
    runs of different models or techniques may overlap); returns the table."""
    done = {(r["model"], r["technique"]) for r in results}
    kept = []
    if RESULTS.is_file():
        kept = [r for r in json.loads(RESULTS.read_text(encoding="utf-8"))["results"]
                if (r["model"], r["technique"]) not in done]
    rank = {n: i for i, n in enumerate(NAMES)}
    order = {t: i for i, t in enumerate(TECHNIQUES)}
    results = sorted(kept + results, key=lambda r: (rank.get(r["model"], len(NAMES)), order.get(r["technique"], 9)))
    board_errors = sorted({r["report"]["after"]["board"]["error"] for r in results
                           if r["report"]["after"].get("board") and r["report"]["after"]["board"]["error"]})
    out = {"benchmark": "optimize", "edgekit_version": version,
           "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "environment": {"python": platform.python_version(), "machine": platform.machine(),
                           "cpus": os.cpu_count(), "board": board, "board_errors": board_errors},
           "seconds": round(seconds, 1), "results": results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    md = table(results)
    TABLE.write_text("# edgekit.optimize benchmark\n\nBefore → after each technique; accuracy on held-out data; "
                     f"board figures on {board or '(not measured)'} with the edgekit runtime.\n\n{md}\n",
                     encoding="utf-8")
    return md


if __name__ == "__main__":
    sys.exit(main())
