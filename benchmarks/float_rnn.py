"""TFLM's float LSTM example (mnist_lstm ``trained_lstm.tflite``) on edgekit's float32 runtime, FPU and soft-float.

The model is read from a tflite-micro checkout (``--tflm-dir`` or ``EDGEKIT_TFLM_DIR``; nothing of it is copied).
Per board: generate with the edgekit AOT runtime, build, validate 4 inputs in a row (uniform [0, 1) 28x28 "images",
seed 0; the LSTM state carries over on both sides) against the TFLM host interpreter, and count guest instructions
per inference (QEMU -icount). The float path is TFLM's operation order (bit-exact on the host); on the device the
C library's expf / tanhf differ in the last bits and the recurrence carries that on: the row reports how far
(max relative difference, byte-exact inputs, top-1 agreement). The int8 twin (``trained_lstm_int8.tflite``) is
measured beside it for the ratio. Writes benchmarks/results/float_rnn.json.

    python benchmarks/float_rnn.py --tflm-dir ~/tflite-micro [--boards qemu-cortex-m4,qemu-cortex-m3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"mnist_lstm_float": "tensorflow/lite/micro/examples/mnist_lstm/trained_lstm.tflite",
          "mnist_lstm_int8": "tensorflow/lite/micro/examples/mnist_lstm/trained_lstm_int8.tflite"}


def run_one(name: str, model: Path, board: str, work: Path) -> dict:
    """Generate, build, validate and bench one model on one board."""
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    m = load_model(model)
    inp = m.main.tensors[m.main.inputs[0]]
    gen = generate(model, board=board, out_dir=work / f"{name}-{board}")
    built = build(gen.project_dir)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(4, *inp.shape)).astype(np.float32)
    if inp.dtype == "int8":
        q = inp.quantization
        x = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    val = validate(model, board=board, inputs=x, project_dir=gen.project_dir)
    res = bench(gen.project_dir, board=board, runs=3, warmup=1).to_dict()
    return {"model": name, "board": board, "instructions": int(res["timing"]["count"]["median"]),
            "flash_bytes": built.flash_bytes, "weights_bytes": built.weights_bytes, "arena_bytes": built.arena_bytes,
            "byte_exact": f"{val.byte_exact}/{val.inputs}", "top1_agree": f"{val.top1_agree}/{val.inputs}",
            "max_abs_diff": val.max_abs_diff, "max_rel_diff": val.max_rel_diff}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflm-dir", default=os.environ.get("EDGEKIT_TFLM_DIR"), help="a tflite-micro checkout")
    ap.add_argument("--boards", default="qemu-cortex-m4,qemu-cortex-m3", help="comma-separated board ids")
    ap.add_argument("--out", default=str(RESULTS / "float_rnn.json"))
    args = ap.parse_args()
    if not args.tflm_dir:
        ap.error("--tflm-dir (or EDGEKIT_TFLM_DIR) is required: the models come from a tflite-micro checkout")
    tflm = Path(args.tflm_dir).expanduser()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ek_float_rnn_") as tmp:
        for board in args.boards.split(","):
            for name, rel in MODELS.items():
                rows.append({**run_one(name, tflm / rel, board, Path(tmp)), "source": rel})
    out = {"machine": platform.machine(), "python": platform.python_version(),
           "inputs_note": "4 uniform [0,1) inputs validated in a row (state carried), seed 0", "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print("| model | board | instructions | flash B | arena B | byte-exact | top-1 | max rel diff |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['board']} | {r['instructions']:,} | {r['flash_bytes']:,} | {r['arena_bytes']:,} "
              f"| {r['byte_exact']} | {r['top1_agree']} | {r['max_rel_diff']:.2g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
