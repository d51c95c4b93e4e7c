"""What an optimization step bought: the model measured before and after, end to end.

For each model state :func:`measure` records parameters, MACs, float/int8 ``.tflite`` sizes, the
gzip size of the int8 file (what zeros buy in storage or over the air), the share of zero int8
weights, float and int8 accuracy (via :func:`edgekit.conversion.convert`), and, when a board is
given and its toolchain and emulator are installed, the figures from the board itself:
instructions (or cycles) per inference, estimated cycles, modelled energy, flash and arena with the edgekit
runtime (:func:`edgekit.generate` -> :func:`edgekit.buildsys` -> :func:`edgekit.benchmarking`). With
``float_board`` the float32 model is measured there too (the quantization payoff, :mod:`edgekit.payoff`, on the
same input values). When that path cannot run, the board figures are ``None`` and ``board.error`` says why;
nothing is estimated in their place.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
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
    estimated_cycles: float | None = None  # the cycle model's estimate (cores with a timing table)
    energy_uj: float | None = None  # modelled (or measured) energy per inference
    error: str | None = None
    result: dict[str, Any] | None = field(default=None, repr=False)  # the bench result (kept out of the JSON)
    matched: Any = field(default=None, repr=False)  # edgekit.payoff.MatchedInputs it ran on (kept out of the JSON)


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
    float_board: BoardMetrics | None = None  # the float32 model on the same board (the original only)
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
    # float32 (original) vs each int8 model on the board: edgekit.payoff.Payoff.to_dict() with "label"
    payoffs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nested dataclasses become dicts; the raw bench results are left out)."""
        return _clean(dataclasses.asdict(self))


_INTERNAL = ("result", "matched")  # BoardMetrics fields kept in memory only


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items() if not (k in _INTERNAL and "per_inference" in obj)}
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
            work_dir: str | Path | None = None, isolate: bool = True, float_board: bool = False,
            sample: list[Any] | None = None) -> ModelMetrics:
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
        float_board: also measure the float32 model on ``board`` (edgekit runtime; ``float_board`` of the result).
        sample: one float array per input (batch 1) to benchmark on: quantized with the int8 model's input
            parameters, and the float32 model gets those values dequantized (:func:`edgekit.payoff.matched_inputs`).
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
        matched = None
        if res.float_tflite_bytes:
            from edgekit.payoff import matched_inputs

            matched = matched_inputs(res.float_tflite_bytes, res.tflite_bytes, sample)
        metrics.board = measure_on_board(res.tflite_bytes, board, runtime=runtime, runs=runs,
                                         boards_dirs=boards_dirs, work_dir=work_dir,
                                         inputs=matched.int8 if matched else None)
        if float_board and matched is not None:
            metrics.float_board = measure_on_board(res.float_tflite_bytes, board, runs=runs, boards_dirs=boards_dirs,
                                                   work_dir=work_dir, inputs=matched.float32, name="float32")
            metrics.float_board.matched = matched
        elif float_board:
            metrics.float_board = BoardMetrics(board=board, error="the conversion kept no float32 model")
    return metrics


def measure_on_board(tflite: bytes, board: str, *, runtime: str = "edgekit", runs: int = 3,
                     boards_dirs: list[str] | None = None, work_dir: str | Path | None = None,
                     inputs: Any = None, name: str = "firmware") -> BoardMetrics:
    """generate -> build -> bench a model (int8, or float32 with the edgekit runtime's float kernels) on ``inputs``
    (default: random bytes) in ``work_dir/name`` (the model beside it as ``name.tflite``, so bench can quantize
    float inputs with its parameters); any failure becomes ``error`` (the figures stay ``None``)."""
    out = BoardMetrics(board=board, runtime=runtime)
    tmp = None
    try:
        if work_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="edgekit-optimize-")
            work_dir = tmp.name
        project = Path(work_dir) / name
        model_file = Path(work_dir) / f"{name}.tflite"
        model_file.parent.mkdir(parents=True, exist_ok=True)
        model_file.write_bytes(tflite)
        from edgekit.benchmarking import bench
        from edgekit.buildsys import build
        from edgekit.generation import generate

        gen = generate(model_file, board, runtime, out_dir=project, boards_dirs=boards_dirs)
        out.arena_bytes = int(gen.arena_bytes)
        built = build(project, boards_dirs=boards_dirs)
        out.flash_bytes = int(built.flash_bytes)
        out.ram_bytes = int(built.ram_bytes)
        res = bench(project, board=board, runs=runs, warmup=1, boards_dirs=boards_dirs, inputs=inputs,
                    timeout=30.0)
        out.basis = res.basis
        out.per_inference = float(res.median_count)
        out.result = res.to_dict()
        out.estimated_cycles = (out.result.get("cycles") or {}).get("estimated_cycles")
        energy = (out.result.get("energy") or {}).get("per_inference_uj")
        out.energy_uj = float(energy) if isinstance(energy, (int, float)) and math.isfinite(energy) else None
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


def steps_table(report: OptimizationReport) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the main table: one row per model state (original, then after each step)."""
    header = ["model", *(title for title, _ in _COLUMNS)]
    board_name = next((m.board.board for _, m in rows(report) if m.board is not None), None)
    if board_name:
        header += [f"per inference ({board_name})", "flash B", "arena B"]
    body = []
    for label, m in rows(report):
        cells = [label, *(_fmt(key, getattr(m, key)) for _, key in _COLUMNS)]
        if board_name:
            b = m.board
            per = f"{b.per_inference:,.0f} {'instr' if b.basis == 'instructions' else b.basis}" \
                if b and b.per_inference is not None else "-"
            cells += [per, _fmt("flash", b.flash_bytes if b else None), _fmt("arena", b.arena_bytes if b else None)]
        body.append(cells)
    return header, body


def report_lines(report: OptimizationReport) -> tuple[list[str], list[str], list[str]]:
    """(per-step lines: fine-tuning and curves, step notes, errors) as plain text."""
    lines, notes, errors = [], [], []
    for label, m in rows(report):
        if m.error:
            errors.append(f"{label}: {m.error}")
        if m.board is not None and m.board.error:
            errors.append(f"{label}: board figures not measured: {m.board.error}")
    for step in report.steps or [report]:
        lines += [f"{step.technique}: {line}" for line in (finetune_summary(step.details),
                                                          curve_summary(step.details)) if line]
        notes += [f"{step.technique}: {note}" for note in step.notes]
    return lines, notes, errors


def render(report: OptimizationReport, console: Any) -> None:
    """Print the report as rich tables (one row per model state; float32 vs int8 on the board) plus notes and
    board errors."""
    from rich.table import Table

    from edgekit.optimize.payoff_view import render_payoff_table

    header, body = steps_table(report)
    table = Table(title="optimization report", title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for cells in body:
        table.add_row(*cells)
    console.print(table)
    render_payoff_table(report, console)
    lines, notes, errors = report_lines(report)
    for line in lines:
        console.print(line, markup=False)
    for note in notes:
        console.print(note, markup=False, style="dim")
    for line in errors:
        console.print(line, markup=False, style="yellow")
