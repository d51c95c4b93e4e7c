"""What quantization buys on the board: float32 vs int8, both on edgekit's AOT runtime, in QEMU.

For each model pair and board, :func:`edgekit.payoff.measure_payoff` generates, builds and benchmarks the float32
and the int8 model (QEMU -icount: instructions are deterministic; estimated cycles from the core's timing table;
energy modelled from the board's current draw) and compares them: flash, RAM, arena, instructions, estimated
cycles, energy per inference, each with its ratio float / int8.

Model pairs:

* ``digits``: the digits CNN trained here (edgekit.examples_data), the converter's float model and its int8 one.
* ``hello_world``: TFLM's float and int8 examples (../shared/models).
* ``gesture``: TFLM's magic_wand float model; its int8 twin is made here: the same layers rebuilt in Keras with the
  float model's weights and converted by ``edgekit.convert`` (calibration: 200 random accelerometer windows, so
  its accuracy is not claimed).
* ``kws``, ``vww``, ``ic``, ``ad``: the MLPerf Tiny int8 models; their float32 versions are not in
  ../shared/models, so a *float twin* is made from each (benchmarks/_float_twin.py: every quantized tensor
  dequantized, same graph). The twin has the architecture and size of the float model, not its trained weights:
  its resource figures are those of a float model, its accuracy is not measured.

A model that does not fit a board is recorded with the error. Writes benchmarks/results/float_vs_int8.json and
prints a table.

    python benchmarks/float_vs_int8.py [--boards qemu-cortex-m4,qemu-cortex-m55] [--models digits,kws] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
SHARED = Path(os.environ.get("EDGEKIT_MODELS_DIR") or REPO.parent / "shared" / "models")
RESULTS = REPO / "benchmarks" / "results"
MLPERF = {"kws": "mlperf_tiny/kws_ds_cnn_int8.tflite", "vww": "mlperf_tiny/vww_mobilenet_int8.tflite",
          "ic": "mlperf_tiny/ic_resnet8_int8.tflite", "ad": "mlperf_tiny/ad_fc_autoencoder_int8.tflite"}
ALL = ["digits", "hello_world", "gesture", *MLPERF]


def gesture_int8(float_path: Path, work: Path) -> Path:
    """magic_wand's layers in Keras with the float model's weights, converted to int8 by edgekit.convert."""
    import keras

    from edgekit import convert
    from edgekit.tflite_model import load_model

    sg = load_model(float_path).main
    consts = [[sg.tensors[i].array() for i in op.inputs[1:] if i >= 0] for op in sg.operators]
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((128, 3, 1), batch_size=1),
        layers.DepthwiseConv2D((4, 3), depth_multiplier=8, padding="same", activation="relu"),
        layers.MaxPooling2D((3, 3)),
        layers.Conv2D(16, (4, 1), padding="same", activation="relu"),
        layers.MaxPooling2D((3, 1), padding="same"),
        layers.Flatten(),
        layers.Dense(16, activation="relu"),
        layers.Dense(4, activation="softmax"),
    ])
    dw, conv, fc1, fc2 = consts[0], consts[2], consts[4], consts[5]
    model.layers[0].set_weights([dw[0].reshape(4, 3, 1, 8), dw[1]])
    model.layers[2].set_weights([conv[0].transpose(1, 2, 3, 0), conv[1]])
    model.layers[5].set_weights([fc1[0].T, fc1[1]])
    model.layers[6].set_weights([fc2[0].T, fc2[1]])
    calib = np.random.default_rng(0).standard_normal((200, 128, 3, 1)).astype(np.float32)
    out = work / "gesture_int8.tflite"
    convert(model, calib, output=out, progress=False)
    return out


def model_pairs(selected: list[str], work: Path) -> dict[str, dict[str, object]]:
    """{name: {"float": path, "int8": path, "kind": how the float model was made}} for the models present."""
    from _float_twin import float_twin

    pairs: dict[str, dict[str, object]] = {}
    if "digits" in selected:
        from edgekit.examples_data import digits_cnn_artifacts

        art = digits_cnn_artifacts(work / "digits")
        pairs["digits"] = {"float": art["float_tflite"], "int8": art["int8_tflite"], "kind": "converter's float model"}
    hw = [SHARED / f"tflm_examples/hello_world_{k}.tflite" for k in ("float", "int8")]
    if "hello_world" in selected and all(p.exists() for p in hw):
        pairs["hello_world"] = {"float": hw[0], "int8": hw[1], "kind": "TFLM example (both)"}
    mw = SHARED / "tflm_examples/magic_wand_float.tflite"
    if "gesture" in selected and mw.exists():
        pairs["gesture"] = {"float": mw, "int8": gesture_int8(mw, work), "kind": "TFLM float example; int8 made here"}
    for key, rel in MLPERF.items():
        if key in selected and (SHARED / rel).exists():
            twin = work / f"{key}_float_twin.tflite"
            twin.write_bytes(float_twin((SHARED / rel).read_bytes()))
            pairs[key] = {"float": twin, "int8": SHARED / rel, "kind": "float twin (int8 weights dequantized)"}
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--boards", default="qemu-cortex-m4,qemu-cortex-m55")
    ap.add_argument("--models", default=",".join(ALL))
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS / "float_vs_int8.json")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per device command (input upload)")
    ap.add_argument("--append", action="store_true", help="replace/add these rows in an existing --out file")
    args = ap.parse_args()
    from edgekit.errors import EdgekitError
    from edgekit.payoff import measure_payoff

    work = Path(tempfile.mkdtemp(prefix="ek-float-int8-"))
    t0 = time.time()
    pairs = model_pairs(args.models.split(","), work)
    rows = []
    for name, pair in pairs.items():
        for board in args.boards.split(","):
            entry: dict[str, object] = {"model": name, "board": board, "float_model": str(pair["float"]),
                                        "int8_model": str(pair["int8"]), "float_kind": pair["kind"]}
            try:
                payoff = measure_payoff(pair["float"], pair["int8"], board=board, work_dir=work / f"{name}-{board}",
                                        runs=args.runs, timeout=args.timeout)
                entry.update(payoff.to_dict())
            except EdgekitError as exc:
                entry["error"] = exc.message
            rows.append(entry)
            print(name, board, "error: " + str(entry["error"])[:160] if "error" in entry else "ok", flush=True)
    if args.append and args.out.exists():
        done = {(r["model"], r["board"]) for r in rows}
        rows = [r for r in json.loads(args.out.read_text())["rows"] if (r["model"], r["board"]) not in done] + rows
    data = {"schema": "edgekit.bench.float_vs_int8/1", "host": platform.node(), "seconds": round(time.time() - t0),
            "rows": rows}
    args.out.write_text(json.dumps(data, indent=1))
    table = Table(title="float32 vs int8 on edgekit's AOT runtime (QEMU; ratio = float / int8)")
    for col in ("model", "board", "flash B", "arena B", "instructions", "est. cycles", "energy µJ"):
        table.add_column(col, justify="left" if col in ("model", "board") else "right")
    for r in rows:
        if "error" in r:
            table.add_row(r["model"], r["board"], "does not fit / failed", "", "", "", "")
            continue
        by = {x["key"]: x for x in r["rows"]}

        def cell(key: str, digits: int = 0, by: dict = by) -> str:
            x = by.get(key)
            if x is None or x["a"] is None or x["b"] is None:
                return "-"
            return f"{x['a']:,.{digits}f} / {x['b']:,.{digits}f} ({x['ratio']:.2f}x)"

        table.add_row(r["model"], r["board"], cell("flash_bytes"), cell("arena_used_bytes"), cell("count"),
                      cell("estimated_cycles"), cell("energy_uj", 2))
    Console(width=200).print(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
