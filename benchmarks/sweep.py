"""Benchmark edgekit sweep: the wall time of one 24-cell sweep on this machine's cores (a process pool) and on a
local Ray cluster of 2 worker nodes (a head without CPUs + 2 raylets with one CPU each, started here and stopped
after), cells per minute, and whether both give the same instruction counts.

Cells: 6 int8 models from ../shared/models (MLPerf Tiny and TFLM examples) x 2 emulated boards (Cortex-M4, M55)
x sparse auto/off, runtime edgekit, 3 timed runs each. Wall time on a shared machine: it measures the whole
thing (start-up, builds, QEMU), and moves with whatever else the machine runs (``load_avg`` is recorded).

    python benchmarks/sweep.py [--jobs 2] [--skip-ray]   ->  benchmarks/results/sweep.json
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results" / "sweep.json"
MODELS_DIR = Path(os.environ.get("EDGEKIT_MODELS_DIR") or ROOT.parent / "shared" / "models")
MODELS = ["tflm_examples/hello_world_int8.tflite", "tflm_examples/micro_speech_quantized_int8.tflite",
          "mlperf_tiny/kws_ds_cnn_int8.tflite", "mlperf_tiny/ad_fc_autoencoder_int8.tflite",
          "mlperf_tiny/ic_resnet8_int8.tflite", "tflm_examples/person_detect_int8.tflite"]
BOARDS = ["qemu-cortex-m4", "qemu-cortex-m55"]


def write_spec(folder: Path) -> Path:
    """The 24-cell spec (6 models x 2 boards x 2 sparse modes)."""
    models = []
    for rel in MODELS:
        src = MODELS_DIR / rel
        if not src.is_file():
            sys.exit(f"{src}: missing (python scripts/fetch_models.py, or set EDGEKIT_MODELS_DIR)")
        models.append(str(src))
    spec = folder / "sweep.yaml"
    spec.write_text(json.dumps({"schema": 1, "models": models, "boards": BOARDS,
                                "options": {"runtime": "edgekit", "sparse": ["auto", "off"]}, "runs": 3}))
    return spec


def timed(spec: Path, out: Path, **kw: Any) -> dict[str, Any]:
    from edgekit.sweeps import sweep

    t0 = time.perf_counter()
    res = sweep(spec, out, **kw)
    wall = time.perf_counter() - t0
    doc = res.doc
    ok = doc["counts"]["ok"]
    return {"wall_s": round(wall, 1), "cells": len(doc["cells"]), "ok": ok,
            "cells_per_minute": round(ok / wall * 60, 2), "executor": doc["executor"],
            "cell_seconds_sum": round(sum(r["seconds"].get("total", 0) for r in doc["cells"]), 1),
            "counts": {r["id"]: r["figures"].get("instructions") for r in doc["cells"]},
            "failed": {r["id"]: r["error"] for r in doc["cells"] if r["status"] != "ok"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="local worker processes (default 2: this machine's cores)")
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ekbench", dir="/tmp"))
    spec = write_spec(work)
    result: dict[str, Any] = {"what": "edgekit sweep wall time: 24 cells (6 models x 2 QEMU boards x sparse auto/off,"
                                      " edgekit runtime, 3 runs), local process pool vs a 2-node local Ray cluster",
                              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "load_avg_before": os.getloadavg()},
                              "models": MODELS, "boards": BOARDS}
    result["local"] = timed(spec, work / "local", jobs=args.jobs)
    print(f"local: {result['local']['wall_s']} s, {result['local']['cells_per_minute']} cells/min", flush=True)
    if not args.skip_ray:
        from ray_cluster import Cluster

        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        cluster = Cluster(work / "t", env)
        try:
            t0 = time.perf_counter()
            cluster.start("head", head=True)
            for i in (1, 2):
                cluster.start(f"worker{i}")
            result["ray_cluster_start_s"] = round(time.perf_counter() - t0, 1)
            result["ray"] = timed(spec, work / "ray", ray=cluster.address)
        finally:
            left = cluster.stop()
        result["ray_processes_left"] = left
        print(f"ray: {result['ray']['wall_s']} s, {result['ray']['cells_per_minute']} cells/min "
              f"(+{result['ray_cluster_start_s']} s to start the cluster)", flush=True)
        result["same_instruction_counts"] = result["ray"]["counts"] == result["local"]["counts"]
    result["machine"]["load_avg_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
