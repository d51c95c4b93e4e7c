"""Which way to turn a Keras 3 recurrent layer into full-int8 TFLite with TF 2.21: measured, per route.

Routes: ``as-is`` (the Keras layer traced as a while loop, what plain ``from_keras_model`` does),
``keras-unroll`` (Keras' own ``unroll=True``: each step's fused gate matrix, SPLIT into gates) and
``per-gate`` (edgekit's rebuild, :mod:`edgekit._rnn`). For each of LSTM, GRU and SimpleRNN trained on a toy
gesture task (3 classes, 16 steps x 3 features): whether it converts (or crashes the process), whether the
result is full int8 in each of ``--repeats`` conversions and whether those are byte-identical, ops, size,
top-1 agreement with the Keras float model and output SQNR (TFLM host interpreter vs Keras), and the ops
edgekit's AOT runtime lacks. Each route runs in its own process (``as-is`` segfaults).
Writes benchmarks/results/rnn_routes.json and prints a table.

    python benchmarks/rnn_routes.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "rnn_routes.json"
KINDS = ("LSTM", "GRU", "SimpleRNN")
ROUTES = ("as-is", "keras-unroll", "per-gate")


def gestures(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The toy task of tests/test_convert_rnn.py: rotations at 3 speeds, random phase, noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.arange(16)[None, :]
    w = np.array([0.25, 0.7, 1.4])[y][:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.stack([np.sin(w * t + phase), np.cos(w * t + phase), 0.3 * rng.normal(size=(n, 16))], axis=-1)
    return (x + 0.1 * rng.normal(size=x.shape)).astype(np.float32), y


def one(kind: str, route: str, repeats: int) -> dict[str, Any]:
    """Train, convert ``repeats`` times by ``route``, measure (runs in its own process)."""
    from edgekit import _rnn, _tf_convert
    from edgekit.codegen.aot.generate import supported_ops
    from edgekit.conversion import verify_full_int8
    from edgekit.errors import ModelError
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    _tf_convert.import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    x, y = gestures(400, 0)
    xv, _ = gestures(80, 1)
    model = keras.Sequential([keras.Input((16, 3)), getattr(keras.layers, kind)(16),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    ref = model.predict(xv, verbose=0)
    fixed, shape = _tf_convert._batch1(model)
    if route == "keras-unroll":
        inp = keras.Input((16, 3), batch_size=1)
        clone = keras.models.clone_model(model, input_tensors=inp, clone_function=lambda layer: layer.__class__.
                                         from_config({**layer.get_config(), "unroll": True}
                                                     if type(layer).__name__ in KINDS else layer.get_config()))
        clone.set_weights(model.get_weights())
        fixed = clone
    elif route == "per-gate":
        fixed = _rnn.unroll(model, shape)
    prep = _tf_convert.Prepared(fixed, kind, shape, [], False, [])
    blobs, full_int8, t0 = [], [], time.perf_counter()
    for _ in range(repeats):
        blob = _tf_convert.convert_tflite(prep, x[:50], "int8")
        blobs.append(blob)
        try:
            verify_full_int8(blob)
            full_int8.append(True)
        except ModelError:
            full_int8.append(False)
    seconds = (time.perf_counter() - t0) / repeats
    good = next((b for b, ok in zip(blobs, full_int8, strict=True) if ok), blobs[0])
    sg = load_model(good).main
    ops = Counter(op.opcode for op in sg.operators)
    qi, qo = sg.tensors[sg.inputs[0]].quantization, sg.tensors[sg.outputs[0]].quantization
    xq = np.clip(np.round(xv / qi.scale[0] + qi.zero_point[0]), -128, 127).astype(np.int8)
    out = np.stack([(o[0].reshape(-1).astype(np.float32) - qo.zero_point[0]) * qo.scale[0] for o in tflm_run(good, xq)])
    return {"kind": kind, "route": route, "converts": True, "full_int8_runs": f"{sum(full_int8)}/{repeats}",
            "byte_identical": len(set(blobs)) == 1, "ops": dict(ops), "op_count": sum(ops.values()),
            "size_bytes": len(good), "convert_seconds": round(seconds, 2),
            "float_accuracy_ok": float(np.mean(ref.argmax(1) == gestures(80, 1)[1])),
            "tflm_agreement_with_keras": float(np.mean(out.argmax(1) == ref.argmax(1))),
            "tflm_output_sqnr_db": float(10 * np.log10(np.sum(ref**2) / max(np.sum((out - ref) ** 2), 1e-30))),
            "ops_missing_in_aot": sorted(set(ops) - set(supported_ops()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "ROUTE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(*args.one, args.repeats)), flush=True)
        return
    rows = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for kind in KINDS:
        for route in ROUTES:
            proc = subprocess.run([sys.executable, __file__, "--one", kind, route, "--repeats", str(args.repeats)],
                                  capture_output=True, text=True, env=env)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            row = json.loads(line[7:]) if line else {"kind": kind, "route": route, "converts": False,
                                                    "exit_code": proc.returncode,
                                                    "last_error": (proc.stderr.strip().splitlines() or [""])[-1][:200]}
            rows.append(row)
            print(f"{kind:10} {route:13} " + (f"full-int8 {row['full_int8_runs']} identical {row['byte_identical']} "
                  f"ops {row['op_count']} agree {row['tflm_agreement_with_keras']:.3f} "
                  f"SQNR {row['tflm_output_sqnr_db']:.1f} dB AOT lacks {row['ops_missing_in_aot']}"
                  if row["converts"] else f"FAILS exit {row['exit_code']}: {row['last_error']}"), flush=True)
    RESULTS.write_text(json.dumps({"benchmark": "rnn_routes", "date": time.strftime("%Y-%m-%d"),
                                   "repeats": args.repeats, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
