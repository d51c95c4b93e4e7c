"""Benchmark edgekit.optimize: every technique on the digits CNN and the gesture CNN, measured end to end.

For each (model, technique) an OptimizationReport: parameters, MACs, float/int8/gzip sizes, share of
zero int8 weights, float and int8 accuracy on held-out data, and, when arm-none-eabi-gcc, cmake and
qemu-system-arm are installed, instructions per inference, flash and arena on qemu-cortex-m4 with the
edgekit runtime (else those fields are null with the reason).

Models: the digits CNN (scikit-learn digits, 21.5 k params), the gesture CNN (synthetic 3-axis
accelerometer, width 32, 6.5 k params); for low-rank also an over-parameterised digits MLP
(64-256-256-10), for QAT also the low-bit-sensitive gesture CNN (width 8, full-scale 4-16 g taps:
post-training int8 loses accuracy there). Distillation trains a small student from the model as
teacher; its "before" is the teacher, and the student trained alone (same init, seed and epochs) is in
``details``. ``structured+qat`` is a two-step chain. Writes benchmarks/results/optimize.json and
optimize.md, prints the table.

    python benchmarks/optimize.py [--no-board] [--only digits|digits_mlp|gesture|gesture_lowbit]
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
    from edgekit.optimize import FineTune, distill, measure
    from edgekit.optimize._graph import copy_model
    from edgekit.optimize.chain import optimize
    from edgekit.optimize.finetune import fit
    from edgekit.optimize.recipe import parse_recipe
    from edgekit.optimize.report import OptimizationReport

    xt, yt, xv, yv = spec["data"]
    calib = xt[:100]
    epochs, lr = spec["epochs"], settings.pop("learning_rate", spec["lr"])
    if technique == "structured+qat":  # a chain: the report has one entry per step in "steps"
        recipe = parse_recipe({"finetune": {"epochs": epochs, "learning_rate": lr},
                               "steps": [{"structured": {"ratio": 0.5}}, {"qat": {"learning_rate": 3e-4}}]},
                              f"benchmarks/optimize.py:{name}")
        _, chain = optimize(spec["model"], xt, yt, recipe, val=xv, val_labels=yv, calib=calib, board=board,
                            progress=False, before=original)
        chain.technique = "structured+qat"
        return chain
    if technique != "distill":
        recipe = parse_recipe({"finetune": {"epochs": epochs, "learning_rate": lr},
                               "steps": [{technique: settings}]}, f"benchmarks/optimize.py:{name}")
        _, chain = optimize(spec["model"], xt, yt, recipe, val=xv, val_labels=yv, calib=calib, board=board,
                            progress=False, before=original)
        return chain.steps[0]
    ft = FineTune(epochs=30, learning_rate=3e-3, progress=False, seed=1)
    import keras

    keras.utils.set_random_seed(1)
    student = spec["student"]()
    alone = copy_model(student)
    t0 = time.perf_counter()
    fit(alone, xt, yt, ft, what="student alone")
    distilled = distill(spec["model"], student, xt, yt, temperature=2.0, alpha=0.5, finetune=ft)
    seconds = time.perf_counter() - t0
    return OptimizationReport(
        "distill", {"teacher": spec["model"].name, "student": student.name, "temperature": 2.0, "alpha": 0.5,
                    "epochs": ft.epochs, "learning_rate": ft.learning_rate},
        before=original, after=measure(distilled, calib, val=xv, val_labels=yv, board=board),
        seconds=round(seconds, 2), notes=["before = the teacher; after = the distilled student"],
        details={"student_alone": measure(alone, calib, val=xv, val_labels=yv, board=None)})


def table(results: list[dict[str, Any]]) -> str:
    """A Markdown table: one row per (model, technique), before -> after."""
    head = ("| model | technique | params | MACs | int8 B | int8 gzip B | int8 zeros | float acc | int8 acc | "
            "instr/inference | flash B | arena B | s |\n" + "|---|---|" + "---:|" * 11)
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
            f"{pair(bb.get('arena_bytes'), ab.get('arena_bytes'))} | {rep['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-board", action="store_true", help="skip the QEMU figures")
    parser.add_argument("--only", choices=["digits", "digits_mlp", "gesture", "gesture_lowbit"],
                        help="one model only")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgekit import __version__
    from edgekit.optimize import measure

    board = None if args.no_board else BOARD
    t0 = time.perf_counter()
    specs = datasets()
    results = []
    for name, spec in specs.items():
        if args.only and name != args.only:
            continue
        xt, _, xv, yv = spec["data"]
        original = measure(spec["model"], xt[:100], val=xv, val_labels=yv, board=board)
        for technique, settings in steps_for(spec):
            report = run_one(name, spec, technique, dict(settings), original, board)
            results.append({"model": name, "technique": technique, "report": report.to_dict()})
            a = report.after
            print(f"{name:15s} {technique:10s} params {report.before.params:>7,} -> {a.params:>7,}  int8 acc "
                  f"{report.before.int8_accuracy or 0:.3f} -> {a.int8_accuracy or 0:.3f}  "
                  f"board {a.board.per_inference if a.board else None}", flush=True)
    board_errors = sorted({r["report"]["after"]["board"]["error"] for r in results
                           if r["report"]["after"].get("board") and r["report"]["after"]["board"]["error"]})
    out = {"benchmark": "optimize", "edgekit_version": __version__,
           "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "environment": {"python": platform.python_version(), "machine": platform.machine(),
                           "cpus": os.cpu_count(), "board": board, "board_errors": board_errors},
           "seconds": round(time.perf_counter() - t0, 1), "results": results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    md = table(results)
    TABLE.write_text("# edgekit.optimize benchmark\n\nBefore → after each technique; accuracy on held-out data; "
                     f"board figures on {board or '(not measured)'} with the edgekit runtime.\n\n{md}\n",
                     encoding="utf-8")
    print(md)
    print(f"wrote {RESULTS.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
