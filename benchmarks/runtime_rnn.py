"""edgekit runtime on TFLM's own recurrent / stateful example models (issue 14): LSTM, SVDF.

The models are read from a tflite-micro checkout (``--tflm-dir PATH`` or ``EDGEKIT_TFLM_DIR``; nothing of it is
copied here): mnist_lstm, micro_speech_lstm (xtensa example), the DTLN noise suppressor (two streaming LSTMs) and
keyword_scrambled (SVDF, int16 and int8 state). Each model goes through ``benchmarks/runtime.py``'s ``run_one`` on
the emulated board: generate with the edgekit AOT runtime, build, validate on 3 inputs in a row against the TFLM
host interpreter (the LSTM / SVDF states carry over between them, on the device as in TFLM), and count guest
instructions per inference (-icount). Writes benchmarks/results/runtime_rnn.json and prints a table.

    python benchmarks/runtime_rnn.py --tflm-dir ~/tflite-micro [--boards qemu-cortex-m4] [--models dtln]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime import RESULTS, run_one

MODELS = {
    "mnist_lstm": "tensorflow/lite/micro/examples/mnist_lstm/trained_lstm_int8.tflite",
    "micro_speech_lstm": "third_party/xtensa/examples/micro_speech_lstm/micro_speech_lstm.tflite",
    "dtln": "tensorflow/lite/micro/examples/dtln/dtln_noise_suppression.tflite",
    "keyword_scrambled": "tensorflow/lite/micro/models/keyword_scrambled.tflite",
    "keyword_scrambled_8bit": "tensorflow/lite/micro/models/keyword_scrambled_8bit.tflite",
}


def main() -> int:
    """Run the selected models on the selected boards; write the JSON; 1 when a model is not bit-exact."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflm-dir", default=os.environ.get("EDGEKIT_TFLM_DIR"), help="a tflite-micro checkout")
    ap.add_argument("--boards", default="qemu-cortex-m4", help="comma-separated board ids")
    ap.add_argument("--models", default="", help="comma-separated subset: " + ",".join(MODELS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS / "runtime_rnn.json"))
    args = ap.parse_args()
    if not args.tflm_dir:
        ap.error("--tflm-dir (or EDGEKIT_TFLM_DIR) is required: the models come from a tflite-micro checkout")
    tflm = Path(args.tflm_dir).expanduser()
    selected = [m for m in args.models.split(",") if m] or list(MODELS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ek_rnn_bench_") as tmp:
        for name in selected:
            path = tflm / MODELS[name]
            if not path.is_file():
                print(f"skip {name}: {path} not found", file=sys.stderr)
                continue
            for board in args.boards.split(","):
                row = run_one(name, path, board, args.runs, Path(tmp))
                row["source"] = MODELS[name]
                rows.append(row)
    out = {"machine": platform.machine(), "python": platform.python_version(), "runs": args.runs,
           "inputs_note": "3 random int8 inputs validated in a row (state carried), seed 0", "rows": rows}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    table = Table(title="edgekit AOT runtime, TFLM's recurrent / stateful examples")
    for col in ("model", "board", "instructions", "arena B", "weights B", "code+rodata B", "bit-exact"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["model"], r["board"], f"{r['instructions']:,}", str(r["arena_bytes"]),
                      str(r["weights_bytes"]), str(r["code_rodata_bytes"]), r["bit_exact"])
    Console().print(table)
    return 0 if all(r["bit_exact"].split("/")[0] == r["bit_exact"].split("/")[1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
