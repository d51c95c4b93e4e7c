"""TensorFlow 2.21's oneDNN crash in training, and what ``edgekit optimize`` makes of it.

Trains the reproducer's shape (a width-8 ResNet-8 from edgekit.examples_mlperf, 32x32x3, random data, batch 32)
for one epoch in a fresh Python process per run, with ``TF_ENABLE_ONEDNN_OPTS`` = 1 and 0, for several sample
counts (435, 51 and 19 crash here with oneDNN on; 448 = 14 whole batches does not), and records how each process
ended (exit code or signal, seconds, the last line on stderr: the glibc message). Then runs ``edgekit optimize
--prune 0.5 --epochs 1 --no-board`` on the 435-sample shape with the default environment (edgekit's child sets
``TF_ENABLE_ONEDNN_OPTS=0``) and with ``TF_ENABLE_ONEDNN_OPTS=1`` forced: exit code and the error line.

Writes benchmarks/results/onednn_crash.json.

    python benchmarks/onednn_crash.py [--samples 435,51,19,448] [--skip-cli]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = """
import sys
import numpy as np
import keras
from edgekit.examples_mlperf import build_resnet8
n = int(sys.argv[1])
rng = np.random.default_rng(0)
m = build_resnet8((32, 32, 3), 10, 8)
m.compile("adam", "sparse_categorical_crossentropy")
m.fit(rng.standard_normal((n, 32, 32, 3)).astype("float32"), rng.integers(0, 10, n), batch_size=32, epochs=1,
      verbose=0)
print("trained")
"""


def _ended(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "oneDNN custom operations" not in ln]
    error = next((ln for ln in lines if ln.startswith("error: ")), None)
    return {"ended": _ended(proc.returncode), "seconds": round(time.perf_counter() - t0, 1),
            "last_stderr": lines[-1][:200] if lines else "", **({"error": error[:300]} if error else {})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default="435,51,19,448")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "TF_CPP_MIN_LOG_LEVEL": "2"}
    base.pop("TF_ENABLE_ONEDNN_OPTS", None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="onednn-") as tmp:
        work = Path(tmp)
        for n in (int(s) for s in args.samples.split(",")):
            for onednn in ("1", "0"):
                row = {"what": "model.fit", "samples": n, "TF_ENABLE_ONEDNN_OPTS": onednn,
                       **_run([sys.executable, "-c", TRAIN, str(n)], {**base, "TF_ENABLE_ONEDNN_OPTS": onednn}, work)}
                print(row, flush=True)
                rows.append(row)
        if not args.skip_cli:
            import numpy as np

            sys.path.insert(0, str(ROOT))
            from edgekit.examples_mlperf import build_resnet8

            rng = np.random.default_rng(0)
            build_resnet8((32, 32, 3), 10, 8).save(work / "r8.keras")
            np.savez(work / "train.npz", x=rng.standard_normal((435, 32, 32, 3)).astype(np.float32),
                     y=rng.integers(0, 10, 435))
            np.savez(work / "val.npz", x=rng.standard_normal((20, 32, 32, 3)).astype(np.float32),
                     y=rng.integers(0, 10, 20))
            cli = [sys.executable, "-m", "edgekit", "optimize", "r8.keras", "--data", "train.npz", "--val", "val.npz",
                   "--prune", "0.5", "--epochs", "1", "--num-calib", "20", "--no-board", "-o", "out.keras"]
            for onednn in (None, "1"):
                env = dict(base) if onednn is None else {**base, "TF_ENABLE_ONEDNN_OPTS": onednn}
                row = {"what": "edgekit optimize", "samples": 435, "TF_ENABLE_ONEDNN_OPTS": onednn or "(unset)",
                       **_run(cli, env, work), "output_written": (work / "out.keras").is_file()}
                (work / "out.keras").unlink(missing_ok=True)
                print(row, flush=True)
                rows.append(row)
    out = ROOT / "benchmarks" / "results" / "onednn_crash.json"
    out.write_text(json.dumps({"tensorflow": _tf_version(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def _tf_version() -> str:
    import tensorflow as tf

    return str(tf.__version__)


if __name__ == "__main__":
    sys.exit(main())
