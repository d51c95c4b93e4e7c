"""``batch``: predictions for many inputs, ``batch_size`` at a time; throughput and per-item latency.

Inputs: a directory of ``.npy`` files (single-input model; each one sample or N samples) or ``.npz`` files
(one array per input), or one ``.npy``/``.npz``/``.bin`` of N samples. When every input has a dynamic batch
dimension the input tensors are resized to the batch size (the first batch is checked against one-by-one
invocations; a mismatch falls back to a loop); otherwise each batch runs as a loop of single invocations.

Outputs, written atomically into ``out_dir``: ``predictions.npz`` (``output_<k>`` arrays of N rows, ``ids``)
and ``batch.json`` (schema ``edgekit.sbc-batch/1``).
"""

from __future__ import annotations

import io
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from .runtime import Model, as_samples, load_arrays, same_outputs
from .util import SCHEMA_BATCH, RunnerError, atomic_write, stats, utc_now, write_json


def load_items(source: str | Path, model: Model, notes: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """All samples (one array per input, ``(N, ...)``) and an id per sample."""
    src = Path(source)
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix in (".npy", ".npz") and p.is_file())
        if not files:
            raise RunnerError(f"{src}: no .npy or .npz files")
    elif src.is_file():
        files = [src]
    else:
        raise RunnerError(f"{src}: no such file or directory")
    per_input: list[list[np.ndarray]] = [[] for _ in model.inputs]
    ids: list[str] = []
    for f in files:
        arrays = load_arrays(f, model)
        converted = [as_samples(a, s, f"{f.name}: input {i}", quantize=True, notes=notes)
                     for i, (a, s) in enumerate(zip(arrays, model.inputs))]
        n = len(converted[0])
        if any(len(c) != n for c in converted):
            raise RunnerError(f"{f}: the inputs hold different numbers of samples")
        for k, c in enumerate(converted):
            per_input[k].append(c)
        if src.is_dir():
            ids += [f.stem] if n == 1 else [f"{f.stem}[{i}]" for i in range(n)]
        else:
            ids += [str(i) for i in range(n)]
    return [np.concatenate(p) for p in per_input], ids


def run_batch(model: Model, source: str | Path, *, batch_size: int = 8, out_dir: str | Path | None = None,
              manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Predict every sample of ``source``; returns the summary (also written to ``out_dir`` when given)."""
    if batch_size < 1:
        raise RunnerError(f"batch size must be >= 1 (got {batch_size})")
    notes: list[str] = []
    inputs, ids = load_items(source, model, notes)
    n = len(ids)
    mode = "loop"
    if batch_size > 1 and n > 1:
        if not model.resizable:
            notes.append("the model has a fixed batch dimension: each batch runs as a loop of single invocations")
        else:
            first = [a[:batch_size] for a in inputs]
            model.set_batch(1)
            per = [model.run([a[i:i + 1] for a in first]) for i in range(len(first[0]))]
            single = [np.concatenate([p[k] for p in per]) for k in range(len(model.outputs))]
            if model.set_batch(batch_size) and same_outputs(model.run_padded(first), single):
                mode = "resized"
            else:
                notes.append("resizing the batch dimension failed or changed the results; ran as a loop")
    if mode == "loop":
        model.set_batch(1)
    outs: list[list[np.ndarray]] = [[] for _ in model.outputs]
    batch_lat, item_lat = [], []
    t_start = time.perf_counter()
    for start in range(0, n, batch_size):
        chunk = [a[start:start + batch_size] for a in inputs]
        k = len(chunk[0])
        if mode == "resized":
            if k < batch_size:  # pad the last batch: a new size would make XNNPACK re-plan
                chunk = [np.concatenate([c, np.repeat(c[-1:], batch_size - k, axis=0)]) for c in chunk]
            model.set_inputs(chunk)
            t0 = time.perf_counter_ns()
            model.invoke()
            dt = time.perf_counter_ns() - t0
            res = [o[:k] for o in model.get_outputs()]
        else:
            dt, per = 0, []
            for i in range(k):
                model.set_inputs([c[i:i + 1] for c in chunk])
                t0 = time.perf_counter_ns()
                model.invoke()
                dt += time.perf_counter_ns() - t0
                per.append(model.get_outputs())
            res = [np.concatenate([p[j] for p in per]) for j in range(len(model.outputs))]
        for j, r in enumerate(res):
            outs[j].append(r)
        batch_lat.append(dt / 1000.0)
        item_lat += [dt / 1000.0 / k] * k
    wall = time.perf_counter() - t_start
    outputs = [np.concatenate(o) for o in outs]

    summary = {
        "schema": SCHEMA_BATCH, "created_utc": utc_now(),
        "edgekit_version": (manifest or {}).get("edgekit_version"),
        "board": ((manifest or {}).get("board") or {}).get("id"),
        "machine": platform.machine(), "python": platform.python_version(),
        "model": str(model.path), "model_sha256": model.sha256,
        "runtime": f"{model.runtime} {model.runtime_version}", "threads": model.threads, "xnnpack": model.xnnpack,
        "source": str(source), "items": n, "batch_size": batch_size, "mode": mode,
        "batches": len(batch_lat), "wall_s": wall, "throughput_items_per_s": n / wall if wall > 0 else None,
        "latency_us_per_item": stats(item_lat), "batch_latency_us": stats(batch_lat),
        "latency_basis": "time.perf_counter_ns() around Interpreter.invoke(); per item = batch time / items "
                         "in the batch (a short last batch is padded); throughput = items / wall time of the "
                         "whole loop (copies included)",
        "outputs": [{**s.to_dict(), "shape": [n, *s.shape[1:]]} for s in model.outputs],
        "predictions": "predictions.npz", "notes": notes,
    }
    if out_dir is not None:
        out = Path(out_dir)
        buf = io.BytesIO()
        np.savez(buf, ids=np.array(ids), **{f"output_{j}": o for j, o in enumerate(outputs)})
        atomic_write(out / "predictions.npz", lambda f: f.write(buf.getvalue()), binary=True)
        write_json(out / "batch.json", summary)
    summary["_outputs"] = outputs
    summary["_ids"] = ids
    return summary
