"""A board in a labgrid place vs the same board run directly: same counts? what does the place cost in time?

For each model (MLPerf Tiny KWS and AD from ../shared/models when present, else the tiny FULLY_CONNECTED model of
the tests): generate and build for qemu-cortex-m4, bench it directly (edgekit starts QEMU), then through a labgrid
place on a local coordinator + exporter (tests/labgrid_lab.py) fronting ``python -m edgekit.labgrid.emulator``:
acquire, flash through the place's loader, bench, release. Records the instruction counts of both (they must be
equal: same firmware, same ``-icount``), the wall time of each step, and the round trip of one protocol command
(``name%``) directly on QEMU's UART and through the emulator's serial port. Writes
benchmarks/results/labgrid.json.

    python benchmarks/labgrid_place.py [--models kws,ad] [--runs 20] [--pings 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the local lab (coordinator + exporter + emulated boards) is a test helper

MODELS = {"kws": "mlperf_tiny/kws_ds_cnn_int8.tflite", "ad": "mlperf_tiny/ad_fc_autoencoder_int8.tflite"}


def _ping_ms(device: Any, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        device.name()
    return (time.perf_counter() - t) / n * 1e3


def _model(name: str, work: Path) -> Path | None:
    if name == "fc":
        from test_labgrid import _fc_model

        return _fc_model(work / "fc.tflite", 1)
    shared = Path(os.environ.get("EDGEKIT_MODELS_DIR") or REPO.parent / "shared" / "models")
    path = shared / MODELS[name]
    return path if path.is_file() else None


def run_model(name: str, lab: Any, work: Path, runs: int, pings: int) -> dict[str, Any] | None:
    from edgekit import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.labgrid import acquire
    from edgekit.transport.session import open_session

    model = _model(name, work)
    if model is None:
        print(f"{name}: model not found, skipped")
        return None
    proj = work / f"fw_{name}"
    generate(model, "qemu-cortex-m4", out_dir=proj)
    build(proj)
    from edgekit.boards import load_board

    prof = load_board("qemu-cortex-m4")
    t = time.perf_counter()
    direct = bench(proj, runs=runs, cycles=False)
    direct_s = time.perf_counter() - t
    from edgekit.target import resolve_target

    with open_session(prof, elf=resolve_target(proj).elf) as sess:
        ping_direct = _ping_ms(sess.device, pings)
    row: dict[str, Any] = {"model": name, "file": str(model.name), "runs": runs}
    t0 = time.perf_counter()
    with acquire("ek-m4", coordinator=lab.address) as place:
        t1 = time.perf_counter()
        flashed = place.flash(proj)
        t2 = time.perf_counter()
        remote = place.bench(proj, runs=runs)
        t3 = time.perf_counter()
        with open_session(prof, port=place.port) as sess:
            ping_place = _ping_ms(sess.device, pings)
        t4 = time.perf_counter()
    t5 = time.perf_counter()
    row.update({
        "instructions_direct": direct.median_count, "instructions_place": remote.median_count,
        "ticks_equal": direct.timing["ticks"] == remote.timing["ticks"], "output_equal": direct.output == remote.output,
        "flash_verified": flashed.verified, "image_bytes": flashed.bytes,
        "wall_s": {"bench_direct": round(direct_s, 3), "acquire": round(t1 - t0, 3), "flash": round(t2 - t1, 3),
                   "bench_place": round(t3 - t2, 3), "release": round(t5 - t4, 3)},
        "name_roundtrip_ms": {"direct_qemu": round(ping_direct, 3), "through_place": round(ping_place, 3),
                              "pings": pings},
    })
    print(json.dumps(row))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="kws,ad", help="kws, ad, fc (comma-separated)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "labgrid.json"))
    args = ap.parse_args()
    from labgrid_lab import Lab

    from edgekit import __version__
    from edgekit.results import save_json

    work = Path(tempfile.mkdtemp(prefix="edgekit-labgrid-bench-"))
    lab = Lab(work / "lab")
    rows = []
    try:
        lab.add_board("m4")
        lab.start_exporter(loaders=("m4",))
        lab.add_place("ek-m4", "m4", board_tag="qemu-cortex-m4")
        for name in args.models.split(","):
            row = run_model(name.strip(), lab, work, args.runs, args.pings)
            if row:
                rows.append(row)
    finally:
        lab.close()
    import labgrid

    save_json({"schema": "edgekit.bench-labgrid/1", "edgekit_version": __version__,
               "labgrid_version": getattr(labgrid, "__version__", "?"), "machine": platform.machine(),
               "cpus": os.cpu_count(), "board": "qemu-cortex-m4", "rows": rows,
               "summary": {"all_counts_equal": all(r["ticks_equal"] for r in rows),
                           "median_place_overhead_s": statistics.median(
                               [r["wall_s"]["acquire"] + r["wall_s"]["flash"] + r["wall_s"]["bench_place"]
                                + r["wall_s"]["release"] - r["wall_s"]["bench_direct"] for r in rows])
                           if rows else None}}, args.out)
    print(f"wrote {args.out}")
    return 0 if rows and all(r["ticks_equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
