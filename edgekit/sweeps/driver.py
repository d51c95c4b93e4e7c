"""``edgekit.sweep``: run every cell of a spec (models x boards x options) and gather one ``edgekit.sweep/1`` result.

The driver expands the spec, skips the cells an earlier run with the same output folder finished, prepares each
model once (convert / optimize; a .tflite is used as is), runs the cells on an executor (this machine's cores, or
a Ray cluster), appends each finished cell's row to ``cells.jsonl`` as it arrives, and at the end writes
``sweep.json`` (atomically), ``sweep.csv`` (the table) and ``sweep.html`` (the report with the Pareto view).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.sweeps.executors import Job
from edgekit.sweeps.spec import Cell, Prep, SweepSpec, load_spec
from edgekit.sweeps.store import SCHEMA, CellStore, utc_now

__all__ = ["SweepResult", "sweep"]


@dataclass
class SweepResult:
    """The sweep's document (``edgekit.sweep/1``) and the files written."""

    doc: dict[str, Any]
    json_path: Path
    csv_path: Path
    html_path: Path

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.doc["cells"])

    @property
    def ok(self) -> bool:
        """Every cell finished."""
        return all(r["status"] == "ok" for r in self.doc["cells"])


def _prep_files(prep: Prep) -> dict[str, tuple[str, bytes]]:
    m = prep.model
    files = {"model": (m.path.name, m.path.read_bytes()), "calib": (m.calib.name, m.calib.read_bytes())} \
        if m.calib else {}
    if prep.recipe is not None and m.data is not None:
        files["data"] = (m.data.name, m.data.read_bytes())
    return files


def sweep(spec: str | os.PathLike[str] | SweepSpec, out_dir: str | os.PathLike[str], *, ray: str | None = None,
          jobs: int | None = None, max_retries: int = 2, boards_dirs: list[str] | None = None,
          progress: Callable[[dict[str, Any], int, int], None] | None = None,
          kill_once: tuple[str, str] | None = None) -> SweepResult:
    """Run a sweep spec's cells and write the results into ``out_dir``.

    Args:
        spec: the spec file (see :mod:`edgekit.sweeps.spec`) or a loaded :class:`SweepSpec`.
        out_dir: where ``cells.jsonl`` (rows as they arrive), ``sweep.json``, ``sweep.csv``, ``sweep.html``,
            ``models/`` (prepared .tflite files) and, for local runs, ``work/`` (each cell's project) go. Cells
            a run with the same ``out_dir`` finished are reused, not re-run.
        ray: None: a process pool on this machine's cores; ``"auto"`` or an address: Ray tasks on that cluster.
        jobs: local workers (default: the CPU count).
        max_retries: how often a job whose worker (or node) died is run again.
        progress: called with each finished cell's row, the number finished and the total.
        kill_once: test hook ``(cell id, marker file)``: the cell's first attempt kills its own worker.

    Raises:
        SpecError: a bad spec. ToolMissing: this machine, or a Ray node (named), lacks the toolchain or QEMU.
        UsageError: no Ray cluster at ``ray``.
    """
    t0 = time.perf_counter()
    sp = spec if isinstance(spec, SweepSpec) else load_spec(spec, boards_dirs)
    out = Path(out_dir)
    store = CellStore(out)
    todo = [c for c in sp.cells if store.finished(c.key) is None]
    if ray is not None:
        from edgekit.sweeps.ray_executor import RayExecutor

        executor: Any = RayExecutor(ray, max_retries)
    else:
        from edgekit.sweeps.executors import LocalExecutor

        executor = LocalExecutor(jobs, max_retries)
    rows: dict[str, dict[str, Any]] = {}
    counter = {"n": len(sp.cells) - len(todo)}
    if todo:
        described = _run(sp, todo, executor, out, kill_once, rows, counter, store, progress, boards_dirs)
    else:  # everything was finished: no executor, no cluster needed
        described = {**executor.describe(), "nodes_checked": []}
    ordered = []
    for c in sp.cells:
        row = rows.get(c.key)
        if row is None:
            row = {**store.finished(c.key), "resumed": True}  # type: ignore[dict-item]
        ordered.append(row)
    return _write(sp, out, ordered, described, time.perf_counter() - t0)


def _run(sp: SweepSpec, todo: list[Cell], executor: Any, out: Path, kill_once: tuple[str, str] | None,
         rows: dict[str, dict[str, Any]], counter: dict[str, int], store: CellStore,
         progress: Callable[[dict[str, Any], int, int], None] | None,
         boards_dirs: list[str] | None) -> dict[str, Any]:
    """Check the workers, prepare the models, run the cells; each finished row goes to ``store`` and ``rows``."""
    from edgekit.sweeps.cell import run_cell

    def finish(row: dict[str, Any]) -> None:
        store.append(row)
        rows[row["key"]] = row
        counter["n"] += 1
        if progress is not None:
            progress(row, counter["n"], len(sp.cells))

    enter = getattr(executor, "__enter__", None)
    if enter is not None:
        enter()
    try:
        dirs = [str(Path(d).resolve()) for d in boards_dirs] if boards_dirs else None
        nodes = executor.check(sp.boards, sorted(sp.runtimes()), dirs, any(c.labgrid for c in todo))
        models = _prepare(todo, executor, out)
        cell_jobs = []
        for c in todo:
            prepared = models[c.prep.key]
            if prepared.get("tflite") is None:
                finish(_row(c, prepared, {"status": "failed", "stage": "convert", "error": prepared["error"]}, []))
                continue
            inputs = (c.prep.model.inputs.name, c.prep.model.inputs.read_bytes()) if c.prep.model.inputs else None
            work = str(out / "work" / f"{c.prep.label}-{c.board}-{c.key}") if executor.local else None
            args = ({"id": c.id, "board": c.board, "options": c.options, "model": c.prep.model.name,
                     "boards_dirs": dirs, "labgrid": c.labgrid, "coordinator": sp.coordinator},
                    prepared["tflite"], inputs, work, kill_once)
            cell_jobs.append(Job(c.id, run_cell, args, group=f"labgrid:{c.labgrid}" if c.labgrid else None))
        by_id = {c.id: c for c in todo}

        def done(job: Job, value: Any, error: str | None) -> None:
            c = by_id[job.id]
            result = value if value is not None else {
                "status": "failed", "stage": "worker", "error": {"type": "WorkerDied", "message": error,
                                                                  "hint": "the worker died on every attempt"}}
            finish(_row(c, models[c.prep.key], result, job.retries))

        if cell_jobs:
            executor.run(cell_jobs, done)
        return {**executor.describe(), "nodes_checked": nodes}
    finally:
        exit_ = getattr(executor, "__exit__", None)
        if exit_ is not None:
            exit_(None, None, None)


def _prepare(todo: list[Cell], executor: Any, out: Path) -> dict[str, dict[str, Any]]:
    """Each prepared model the cells to run need: a .tflite read as is, the others converted on the executor."""
    from edgekit.sweeps.cell import run_prep

    needed = {c.prep.key: c.prep for c in todo}
    models: dict[str, dict[str, Any]] = {}
    jobs = []
    for key, prep in needed.items():
        if prep.model.converted:
            models[key] = {"tflite": prep.model.path.read_bytes(), "error": None, "seconds": 0.0}
            continue
        recipe = {"name": prep.recipe.name, "text": prep.recipe.read_text(encoding="utf-8")} if prep.recipe else None
        jobs.append(Job(key, run_prep, ({"quantization": prep.quantization, "recipe": recipe}, _prep_files(prep))))

    def done(job: Job, value: Any, error: str | None) -> None:
        if value is None:
            value = {"ok": False, "tflite": None, "error": {"type": "WorkerDied", "message": error, "hint": None}}
        models[job.id] = value
        if value.get("tflite"):
            dest = out / "models" / f"{needed[job.id].label}-{job.id}.tflite"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(value["tflite"])
            value["path"] = str(dest)

    if jobs:
        executor.run(jobs, done)
    return models


def _row(c: Cell, prepared: dict[str, Any], result: dict[str, Any], retries: list[dict[str, Any]]) -> dict[str, Any]:
    import hashlib

    from edgekit.sweeps.report import figures

    m = c.prep.model
    tfl = prepared.get("tflite")
    row = {"id": c.id, "key": c.key,
           "model": {"name": m.name, "source": str(m.path), "sha256": m.sha256,
                     "tflite_sha256": hashlib.sha256(tfl).hexdigest() if tfl else None,
                     "tflite": prepared.get("path") or (str(m.path) if m.converted else None),
                     "convert_seconds": prepared.get("seconds")},
           "board": c.board, "labgrid": c.labgrid, "options": c.options,
           "attempts": len(retries) + 1, "retries": list(retries), "resumed": False,
           "status": "failed", "stage": None, "error": None, **result}
    row["figures"] = figures(row) if row["status"] == "ok" else {}
    return row


def _write(sp: SweepSpec, out: Path, rows: list[dict[str, Any]], executor: dict[str, Any],
           wall: float) -> SweepResult:
    from edgekit import __version__
    from edgekit.fsutil import write_atomic
    from edgekit.results import save_json
    from edgekit.sweeps.report import pareto_view, render_html, table_csv

    view = pareto_view(rows, sp.objectives, sp.constraints)
    flags = view.pop("flags")
    for row, flag in zip(rows, flags, strict=True):
        row["pareto"] = flag
    ok = sum(r["status"] == "ok" for r in rows)
    doc = {"schema": SCHEMA, "edgekit_version": __version__, "created_utc": utc_now(),
           "spec": {"path": str(sp.path), "sha256": sp.sha256}, "executor": executor,
           "wall_seconds": round(wall, 3), "counts": {"cells": len(rows), "ok": ok, "failed": len(rows) - ok,
                                                      "resumed": sum(bool(r.get("resumed")) for r in rows),
                                                      "retried": sum(bool(r.get("retries")) for r in rows)},
           "pareto": view, "cells": rows}
    json_path = save_json(doc, out / "sweep.json")
    csv_path = write_atomic(out / "sweep.csv", table_csv(doc).encode("utf-8"))
    html_path = write_atomic(out / "sweep.html", render_html(doc).encode("utf-8"))
    return SweepResult(doc, json_path, csv_path, html_path)
