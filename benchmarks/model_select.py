"""Benchmark ``edgekit select`` on scikit-learn digits: which model to ship on qemu-cortex-m4.

Candidates: the digits CNN (21.5 k params), an over-parameterised MLP (64-256-256-10) and a small MLP (64-32-10),
all Keras (converted to int8 by select), and of each the ``optimize`` variants ``prune=0.75``, ``lowrank=0.7`` and
``int16`` (16x8). Accuracy on the 450 held-out digits from the device's own outputs under QEMU; flash/RAM from the
image; instructions and estimated cycles from bench; energy and battery life at 60/h on 1000 mAh (modelled: QEMU).
Writes benchmarks/results/select.json (the ``edgekit.select/1`` result) and select.html, prints the table.

    python benchmarks/model_select.py [--variants prune=0.75,int16] [--jobs 2]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "select.json"
HTML = ROOT / "benchmarks" / "results" / "select.html"
BOARD = "qemu-cortex-m4"


def candidates(work: Path) -> list[Path]:
    """Train the three Keras candidates (seeded) and save them in ``work``."""
    import keras

    from edgekit.examples_data import load_digits_data, train_digits_cnn

    L = keras.layers
    xt, yt, _, _ = load_digits_data()
    out = []
    cnn = train_digits_cnn(xt, yt)
    out.append(work / "digits_cnn.keras")
    cnn.save(out[-1])
    for name, widths, epochs in (("mlp_256x2", (256, 256), 10), ("mlp_32", (32,), 30)):
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), *(L.Dense(w, activation="relu") for w in widths),
                              L.Dense(10, activation="softmax")], name=name)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
        m.fit(xt, yt, epochs=epochs, batch_size=32, verbose=0)
        out.append(work / f"{name}.keras")
        m.save(out[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="prune=0.75,lowrank=0.7,int16")
    ap.add_argument("--jobs", type=int, default=None)
    args = ap.parse_args()
    import numpy as np
    from rich.console import Console

    from edgekit.examples_data import load_digits_data
    from edgekit.results import save_json
    from edgekit.selection import select
    from edgekit.selection.report import render, write_html

    xt, yt, xv, yv = load_digits_data()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.savez(work / "train.npz", x=xt, y=yt)
        np.savez(work / "val.npz", x=xv, y=yv)
        paths = candidates(work)
        res = select(paths, val=work / "val.npz", train=work / "train.npz", board=BOARD,
                     variants=[v for v in args.variants.split(",") if v], jobs=args.jobs,
                     progress=lambda m: print(f"{time.perf_counter() - t0:7.1f} s  {m}", flush=True))
    res.validation = f"scikit-learn digits, held-out split ({len(xv)} samples)"  # not the temporary path
    data = res.to_dict()
    for c in data["candidates"]:
        c["source"] = Path(c["source"]).name  # not the temporary directory
    data["benchmark"] = {"script": "benchmarks/model_select.py", "seconds": round(time.perf_counter() - t0, 1),
                         "host": platform.machine(), "python": platform.python_version()}
    save_json(data, RESULTS)
    write_html(res, HTML)
    render(res, Console(width=200))
    print(f"wrote {RESULTS.relative_to(ROOT)} and {HTML.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
