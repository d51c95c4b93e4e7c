"""What an optimization step bought: the model measured before and after, end to end.

For each model state :func:`measure` records parameters, MACs, float/int8 ``.tflite`` sizes, the
gzip size of the int8 file (what zeros buy in storage or over the air), the share of zero int8
weights, float and int8 accuracy (via :func:`edgekit.conversion.convert`), and, when a board is
given and its toolchain and emulator are installed, the figures from the board itself:
instructions (or cycles) per inference, flash and arena with the edgekit runtime
(:func:`edgekit.generate` -> :func:`edgekit.buildsys` -> :func:`edgekit.benchmarking`). When that path cannot
run, the board figures are ``None`` and ``board.error`` says why; nothing is estimated in their place.
"""

from __future__ import annotations

import dataclasses
import gzip
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError


@dataclass
class BoardMetrics:
    """Figures measured on a (possibly emulated) board; ``None`` with ``error`` set when they could not be."""

    board: str
    runtime: str = "edgekit"
    basis: str | None = None  # "instructions" (QEMU) or "cycles" (hardware)
    per_inference: float | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    arena_bytes: int | None = None
    error: str | None = None


@dataclass
class ModelMetrics:
    """One model state, measured."""

    params: int
    macs: int | None = None
    float_bytes: int | None = None
    int8_bytes: int | None = None
    int8_gzip_bytes: int | None = None
    int8_weight_zeros: float | None = None  # fraction of int8 weight values that are exactly zero
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    num_val: int = 0
    board: BoardMetrics | None = None
    error: str | None = None  # why conversion-based figures are missing


@dataclass
class OptimizationReport:
    """One step (``technique``, its ``settings``) or a chain of steps (``steps``), measured before and after."""

    technique: str
    settings: dict[str, Any]
    before: ModelMetrics
    after: ModelMetrics
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    steps: list[OptimizationReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nested dataclasses become dicts)."""
        return _clean(dataclasses.asdict(self))


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


def int8_weight_zeros(tflite: bytes) -> float | None:
    """Fraction of exact zeros among the int8 constant tensors (weights) of a model."""
    from edgekit.tflite_model import load_model

    total = zeros = 0
    for t in load_model(tflite).main.tensors:
        if t.dtype == "int8" and t.is_const and t.data:
            a = np.frombuffer(t.data, np.int8)
            total += a.size
            zeros += int(np.count_nonzero(a == 0))
    return zeros / total if total else None


def measure(model: Any, calib: Any, *, val: Any = None, val_labels: Any = None, board: str | None = "qemu-cortex-m4",
            runtime: str = "edgekit", runs: int = 3, boards_dirs: list[str] | None = None,
            work_dir: str | Path | None = None, isolate: bool = True) -> ModelMetrics:
    """Measure a Keras model: convert it to int8 and, if ``board`` is given, build and run it there.

    Args:
        model: the Keras model.
        calib: calibration inputs for the int8 conversion (use the same ones for every state you compare).
        val, val_labels: held-out data for float/int8 accuracy (no accuracy without labels).
        board: board id for the on-device figures (``None``: not measured, recorded as such).
        runtime: firmware runtime passed to :func:`edgekit.generate`.
        runs: timed inferences in :func:`edgekit.benchmarking`.
        work_dir: where the firmware project goes (default: a temporary directory, removed afterwards).
        isolate: run the int8 evaluation in a child process (see :func:`edgekit.conversion.convert`).
    """
    from edgekit.conversion import convert

    metrics = ModelMetrics(params=int(model.count_params()))
    try:
        res = convert(model, calib, val=val, val_labels=val_labels, progress=False, isolate=isolate)
    except EdgekitError as exc:
        metrics.error = f"conversion failed: {exc.message}"
        if board is not None:
            metrics.board = BoardMetrics(board=board, runtime=runtime, error="not run: the int8 conversion failed")
        return metrics
    rep = res.report
    metrics.float_bytes = rep.float_size
    metrics.int8_bytes = rep.int8_size
    metrics.int8_gzip_bytes = len(gzip.compress(res.tflite_bytes, compresslevel=9, mtime=0))
    metrics.float_accuracy = rep.float_accuracy
    metrics.int8_accuracy = rep.int8_accuracy
    metrics.num_val = rep.num_val
    try:
        from edgekit.inspection import inspect

        metrics.macs = int(inspect(res.tflite_bytes, arena=False).macs)
        metrics.int8_weight_zeros = int8_weight_zeros(res.tflite_bytes)
    except EdgekitError as exc:
        metrics.error = f"inspect failed: {exc.message}"
    if board is not None:
        metrics.board = measure_on_board(res.tflite_bytes, board, runtime=runtime, runs=runs,
                                         boards_dirs=boards_dirs, work_dir=work_dir)
    return metrics


def measure_on_board(tflite: bytes, board: str, *, runtime: str = "edgekit", runs: int = 3,
                     boards_dirs: list[str] | None = None, work_dir: str | Path | None = None) -> BoardMetrics:
    """generate -> build -> bench an int8 model; any failure becomes ``error`` (the figures stay ``None``)."""
    out = BoardMetrics(board=board, runtime=runtime)
    tmp = None
    try:
        if work_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="edgekit-optimize-")
            work_dir = tmp.name
        project = Path(work_dir) / "firmware"
        from edgekit.benchmarking import bench
        from edgekit.buildsys import build
        from edgekit.generation import generate

        gen = generate(tflite, board, runtime, out_dir=project, boards_dirs=boards_dirs)
        out.arena_bytes = int(gen.arena_bytes)
        built = build(project, boards_dirs=boards_dirs)
        out.flash_bytes = int(built.flash_bytes)
        out.ram_bytes = int(built.ram_bytes)
        res = bench(project, board=board, runs=runs, warmup=1, boards_dirs=boards_dirs)
        out.basis = res.basis
        out.per_inference = float(res.median_count)
    except EdgekitError as exc:
        out.error = exc.message + (f" ({exc.hint})" if exc.hint else "")
    except Exception as exc:  # the board path is other modules' code: record, do not crash the report
        out.error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
    finally:
        if tmp is not None:
            tmp.cleanup()
    return out


# ---------------------------------------------------------------- rendering

_COLUMNS = (("params", "params"), ("MACs", "macs"), ("float B", "float_bytes"), ("int8 B", "int8_bytes"),
            ("int8 gzip B", "int8_gzip_bytes"), ("int8 zeros", "int8_weight_zeros"),
            ("float acc", "float_accuracy"), ("int8 acc", "int8_accuracy"))


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("float_accuracy", "int8_accuracy", "int8_weight_zeros"):
        return f"{value:.1%}"
    return f"{int(value):,}"


def rows(report: OptimizationReport) -> list[tuple[str, ModelMetrics]]:
    """(label, metrics) for the original model and after each step."""
    steps = report.steps or [report]
    out = [("original", steps[0].before)]
    out += [(s.technique, s.after) for s in steps]
    return out


def finetune_summary(details: dict[str, Any]) -> str | None:
    """One line: the epochs fine-tuning used (and why it stopped), from a step's ``details["finetune"]``."""
    fit = details.get("finetune") or {}
    if "recovery" in fit:  # gradual pruning: a ramp, then fine-tuning until held-out accuracy stops improving
        rec = fit["recovery"]
        return (f"fine-tuning: {fit['epochs']} epochs ({fit['ramp']['epochs_run']} ramping the sparsity up, then "
                f"{rec['epochs_run']}, best epoch {rec['best_epoch']}; {rec['stopped']})")
    if fit.get("mode") == "early_stopping":
        return (f"fine-tuning: {fit['epochs_run']} epochs (best epoch {fit['best_epoch']}, held-out score "
                f"{fit['best_score']:.4g} on {fit['monitor_samples']} samples; {fit['stopped']})")
    if fit.get("mode") == "fixed":
        return f"fine-tuning: {fit['stopped']}"
    return None


def curve_summary(details: dict[str, Any]) -> str | None:
    """The accuracy-vs-sparsity curve gradual pruning explored, as one line."""
    curve = details.get("curve") or []
    if not curve:
        return None
    points = ", ".join(f"{p['sparsity']:.0%}: {p['score']:.1%}" for p in curve)
    return f"held-out accuracy vs sparsity: {points}"


def render(report: OptimizationReport, console: Any) -> None:
    """Print the report as a rich table (one row per model state) plus notes and board errors."""
    from rich.table import Table

    table = Table(title="optimization report", title_justify="left")
    table.add_column("model")
    for title, _ in _COLUMNS:
        table.add_column(title, justify="right")
    board_name = next((m.board.board for _, m in rows(report) if m.board is not None), None)
    if board_name:
        table.add_column(f"per inference ({board_name})", justify="right")
        table.add_column("flash B", justify="right")
        table.add_column("arena B", justify="right")
    for label, m in rows(report):
        cells = [_fmt(key, getattr(m, key)) for _, key in _COLUMNS]
        if board_name:
            b = m.board
            per = f"{b.per_inference:,.0f} {'instr' if b.basis == 'instructions' else b.basis}" \
                if b and b.per_inference is not None else "-"
            cells += [per, _fmt("flash", b.flash_bytes if b else None), _fmt("arena", b.arena_bytes if b else None)]
        table.add_row(label, *cells)
    console.print(table)
    if board_name is None:
        console.print("[dim]on-device figures: not measured (no board given)[/dim]")
    errors = []
    for label, m in rows(report):
        if m.error:
            errors.append(f"{label}: {m.error}")
        if m.board is not None and m.board.error:
            errors.append(f"{label}: board figures not measured: {m.board.error}")
    for step in report.steps or [report]:
        for line in (finetune_summary(step.details), curve_summary(step.details)):
            if line:
                console.print(f"{step.technique}: {line}", markup=False)
        for note in step.notes:
            console.print(f"[dim]{step.technique}: {note}[/dim]")
    for line in errors:
        console.print(f"[yellow]{line}[/yellow]")
