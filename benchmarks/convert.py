"""Benchmark edgekit.conversion: time, size ratio, top-1 agreement and worst-layer SQNR.

Models: the digits CNN (trained on scikit-learn's digits; its test split is the validation set)
and MobileNetV2 alpha 0.35, 96×96×3, 10 classes, random weights (no downloads) whose BatchNorm
moving statistics are calibrated on synthetic images, so activations have realistic ranges.
Writes benchmarks/results/convert.json and prints a table.

With ``--frontends``: the PyTorch and ONNX routes instead (issue #15; needs the torch/onnx extras), side
by side with the Keras route for the same three architectures (see benchmarks/_frontend_rows.py), written
to benchmarks/results/convert_frontends.json.

    python benchmarks/convert.py [--num-calib 100] [--num-val 200] [--frontends]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "convert.json"
RESULTS_FRONTENDS = ROOT / "benchmarks" / "results" / "convert_frontends.json"


def synthetic_images(n: int, size: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth, varied RGB images in [-1, 1] (MobileNet's input range): gratings, blobs and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        img = np.zeros((size, size, 3), np.float32)
        for _ in range(3):  # oriented gratings with a random colour each
            theta, freq, phase = rng.uniform(0, np.pi), rng.uniform(1, 12), rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)) + phase)
            img += wave[..., None] * rng.uniform(-0.5, 0.5, 3)
        for _ in range(rng.integers(1, 4)):  # blobs
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
            img += blob[..., None] * rng.uniform(-1, 1, 3)
        img += rng.normal(0, 0.05, img.shape)
        out[i] = np.tanh(img)
    return out


def mobilenet_v2(calib_images: np.ndarray) -> Any:
    """MobileNetV2-0.35 96×96×3, 10 classes, BatchNorm moving stats set from ``calib_images``."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [bn.momentum for bn in bns]
    for bn in bns:  # momentum 0: one training-mode pass sets the moving stats to this batch's stats
        bn.momentum = 0.0
    model(calib_images, training=True)
    for bn, momentum in zip(bns, saved, strict=True):
        bn.momentum = momentum
    return model


def run_case(name: str, model: Any, calib: np.ndarray, val: np.ndarray, labels: np.ndarray | None) -> dict:
    from edgekit.conversion import convert

    t0 = time.perf_counter()
    result = convert(model, calib, val=val, val_labels=labels, progress=False)
    total = time.perf_counter() - t0
    r = result.report
    finite = [layer.sqnr_db for layer in r.layers if np.isfinite(layer.sqnr_db)]
    worst = r.worst_layer
    return {
        "model": name, "params": int(model.count_params()), "num_calib": r.num_calib, "num_val": r.num_val,
        "float_bytes": r.float_size, "int8_bytes": r.int8_size, "size_ratio": round(r.size_ratio, 4),
        "convert_int8_s": round(r.convert_seconds, 2), "convert_float_reference_s": round(r.float_convert_seconds, 2),
        "evaluate_s": round(r.eval_seconds, 2), "total_s": round(total, 2),
        "top1_agreement": r.top1_agreement, "float_accuracy": r.float_accuracy, "int8_accuracy": r.int8_accuracy,
        "worst_layer": {"op": worst.op, "tensor": worst.name.split(";")[0], "sqnr_db": round(worst.sqnr_db, 2)},
        "median_layer_sqnr_db": round(float(np.median(finite)), 2) if finite else None,
        "softmax_output_sqnr_db": next((round(lq.sqnr_db, 2) for lq in r.layers if lq.op == "SOFTMAX"), None),
        "layers_measured": len(r.layers), "unmatched_tensors": len(r.unmatched_tensors),
        # how many classes the float model predicts on the validation set: is agreement meaningful?
        "distinct_float_predictions": len(np.unique(model.predict(val, verbose=0).argmax(axis=1))),
        "warnings": r.warnings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-calib", type=int, default=100)
    parser.add_argument("--num-val", type=int, default=200)
    parser.add_argument("--frontends", action="store_true", help="the PyTorch/ONNX routes beside the Keras route")
    args = parser.parse_args()
    if args.frontends:
        return frontends(args.num_calib)
    from edgekit.conversion import import_tensorflow
    from edgekit.examples_data import digits_cnn_artifacts

    tf = import_tensorflow()
    load_before = os.getloadavg()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        digits = digits_cnn_artifacts(Path(tmp))
        train_s = time.perf_counter() - t0
        row = run_case("digits CNN", digits["keras"], digits["x_train"][: args.num_calib], digits["x_test"],
                       digits["y_test"])
        row["train_and_fixture_s"] = round(train_s, 2)
        rows.append(row)

    calib = synthetic_images(args.num_calib, seed=1)
    val = synthetic_images(args.num_val, seed=2)
    t0 = time.perf_counter()
    mnet = mobilenet_v2(synthetic_images(64, seed=3))
    bn_s = time.perf_counter() - t0
    row = run_case("MobileNetV2-0.35 96x96", mnet, calib, val, None)
    row["bn_calibration_s"] = round(bn_s, 2)
    rows.append(row)

    out = {
        "benchmark": "convert", "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__,
                    "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    _print(rows)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def frontends(num_calib: int) -> int:
    """The PyTorch/ONNX rows: write convert_frontends.json and print them."""
    from _frontend_rows import frontend_rows

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = frontend_rows(num_calib)
    import litert_torch
    import tensorflow as tf
    import torch

    out = {"benchmark": "convert (PyTorch/ONNX routes)", "date": time.strftime("%Y-%m-%d"),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                       "tensorflow": tf.__version__, "torch": torch.__version__,
                       "litert_torch": litert_torch.__version__,
                       "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
           "wall_s": round(time.perf_counter() - t0, 1), "results": rows}
    RESULTS_FRONTENDS.write_text(json.dumps(out, indent=2) + "\n")
    from rich.console import Console
    from rich.table import Table

    table = Table(title="PyTorch / ONNX / Keras routes to full int8 (agreement: TFLM int8 vs source float)")
    for col in ("arch", "route", "float KB", "int8 KB", "int8+float conv s", "agreement", "int8 acc", "extra ops"):
        table.add_column(col, justify="left" if col in ("arch", "route", "extra ops") else "right")
    for r in rows:
        table.add_row(r["architecture"], r["route"], f"{r['float_bytes'] / 1024:.1f}", f"{r['int8_bytes'] / 1024:.1f}",
                      f"{r['convert_int8_s']:.1f}+{r['convert_float_reference_s']:.1f}",
                      f"{r['tflm_top1_agreement_with_source_float']:.1%}", f"{r['tflm_int8_accuracy']:.1%}",
                      ", ".join(f"{k}×{v}" for k, v in r["extra_ops"].items()) or "none")
    Console(width=180).print(table)
    print(f"wrote {RESULTS_FRONTENDS.relative_to(ROOT)}")
    return 0


def _print(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="edgekit convert: full int8")
    for col in ("model", "params", "float KB", "int8 KB", "ratio", "int8 conv s", "total s", "agreement",
                "accuracy f/i8", "worst layer SQNR", "median SQNR"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        acc = f"{r['float_accuracy']:.1%}/{r['int8_accuracy']:.1%}" if r["float_accuracy"] is not None else "-"
        table.add_row(r["model"], f"{r['params']:,}", f"{r['float_bytes'] / 1024:.1f}", f"{r['int8_bytes'] / 1024:.1f}",
                      f"{r['size_ratio']:.1%}", f"{r['convert_int8_s']:.1f}", f"{r['total_s']:.1f}",
                      f"{r['top1_agreement']:.1%}", acc,
                      f"{r['worst_layer']['sqnr_db']:.1f} dB ({r['worst_layer']['op']})",
                      f"{r['median_layer_sqnr_db']:.1f} dB")
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
