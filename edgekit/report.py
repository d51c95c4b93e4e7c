"""The quality report of an integer conversion (int8 or 16x8): sizes, accuracy/error, per-layer SQNR,
and the side-by-side comparison of both with a recommendation.

Plain dataclasses (``to_dict()`` for JSON) and ``rich`` renderers; no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LayerQuality:
    """Quantization error of one int8 activation tensor, measured against the float model.

    ``sqnr_db`` = 10·log10(Σ float² / Σ (dequantized int8 − float)²) over the evaluated samples;
    ``inf`` when the two are identical. Lower is worse; below ~10 dB a layer is in trouble.
    """

    name: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int
    sqnr_db: float
    max_abs_error: float


@dataclass
class ConversionReport:
    """What converting a model to full integer did to its size and its outputs.

    ``activations`` is ``int8`` or ``int16`` (16x8: int16 activations, int8 weights); the ``int8_*``
    fields hold the quantized model's figures either way (``int8_size`` its file size).
    ``output_sqnr_db`` compares the model output with the float one on the layer samples.
    ``recurrent`` lists the recurrent layers that were unrolled; ``stateful``: their state is kept
    in resource variables between inferences.

    Accuracy fields are set for ``task == "classification"`` (the ``*_accuracy`` ones only with
    labels); error fields for ``"regression"`` (``float_*``/``int8_*`` against labels, ``*_vs_float``
    of the int8 outputs against the float ones). ``layers`` is sorted worst SQNR first.
    ``convert_seconds`` is the int8 conversion (calibration included), ``float_convert_seconds``
    the float reference conversion, ``eval_seconds`` the comparison (``isolated``: in a child process).
    """

    model: str
    io_dtype: str
    num_calib: int
    float_size: int
    int8_size: int
    ops: dict[str, int] = field(default_factory=dict)
    task: str | None = None
    num_val: int = 0
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    top1_agreement: float | None = None
    float_mae: float | None = None
    float_rmse: float | None = None
    int8_mae: float | None = None
    int8_rmse: float | None = None
    mae_vs_float: float | None = None
    rmse_vs_float: float | None = None
    layers: list[LayerQuality] = field(default_factory=list)
    layer_samples: int = 0
    layer_data: str = ""
    unmatched_tensors: list[str] = field(default_factory=list)
    matching: str = "tensor names; I/O QUANTIZE/DEQUANTIZE followed to the float tensor"
    warnings: list[str] = field(default_factory=list)
    convert_seconds: float = 0.0
    float_convert_seconds: float = 0.0
    eval_seconds: float = 0.0
    isolated: bool = True
    activations: str = "int8"
    output_sqnr_db: float | None = None
    recurrent: list[str] = field(default_factory=list)
    stateful: bool = False

    @property
    def label(self) -> str:
        """``int8`` or ``16x8``."""
        return "16x8" if self.activations == "int16" else "int8"

    @property
    def size_ratio(self) -> float:
        """int8 file size / float file size."""
        return self.int8_size / self.float_size if self.float_size else math.nan

    @property
    def worst_layer(self) -> LayerQuality | None:
        """The activation tensor with the lowest SQNR (``None`` when none was measured)."""
        return self.layers[0] if self.layers else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; an infinite SQNR (exact layer) becomes ``None``."""
        out = dataclasses.asdict(self)
        out["size_ratio"] = self.size_ratio
        if out["output_sqnr_db"] is not None and not math.isfinite(out["output_sqnr_db"]):
            out["output_sqnr_db"] = None
        for layer in out["layers"]:
            layer["shape"] = list(layer["shape"])
            if not math.isfinite(layer["sqnr_db"]):
                layer["sqnr_db"] = None
        return out


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def render_report(report: ConversionReport, console: Any = None, max_layers: int = 10) -> None:
    """Print the report as two rich tables (summary, then the ``max_layers`` worst layers)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    summary = Table(title=f"{report.label} conversion: {report.model}", show_header=False, title_justify="left")
    summary.add_column("what", style="bold")
    summary.add_column("value")
    summary.add_row(f"size float / {report.label}", f"{_kb(report.float_size)} / {_kb(report.int8_size)}"
                    f"  ({report.size_ratio:.1%})")
    summary.add_row("I/O type", report.io_dtype)
    summary.add_row("calibration samples", str(report.num_calib))
    if report.task == "classification" and report.num_val:
        if report.float_accuracy is not None:
            summary.add_row(f"accuracy float / {report.label}",
                            f"{report.float_accuracy:.2%} / {report.int8_accuracy:.2%}")
        summary.add_row("top-1 agreement", _fmt(report.top1_agreement, ".2%"))
    elif report.task == "regression" and report.num_val:
        if report.float_mae is not None:
            summary.add_row(f"MAE float / {report.label}", f"{report.float_mae:.4g} / {report.int8_mae:.4g}")
            summary.add_row(f"RMSE float / {report.label}", f"{report.float_rmse:.4g} / {report.int8_rmse:.4g}")
        summary.add_row(f"{report.label} vs float MAE / RMSE",
                        f"{report.mae_vs_float:.4g} / {report.rmse_vs_float:.4g}")
    if report.num_val:
        summary.add_row("validation samples", str(report.num_val))
    if report.output_sqnr_db is not None:
        summary.add_row("output SQNR", _fmt(report.output_sqnr_db, ".1f", " dB"))
    if report.recurrent:
        summary.add_row("recurrent layers", f"{', '.join(report.recurrent)}: unrolled"
                        + ("; state kept in resource variables" if report.stateful else ""))
    if report.layers:
        worst = report.layers[0]
        summary.add_row("worst layer SQNR", f"{_fmt(worst.sqnr_db, '.1f', ' dB')} ({worst.op} {worst.name[:60]})")
    summary.add_row("ops", ", ".join(f"{k}×{v}" for k, v in sorted(report.ops.items())))
    times = (report.convert_seconds, report.float_convert_seconds, report.eval_seconds)
    summary.add_row(f"time: {report.label} / float reference / evaluation", " / ".join(f"{t:.1f} s" for t in times))
    console.print(summary)

    if report.layers:
        shown = report.layers[:max_layers]
        layers = Table(title=f"per-layer SQNR, worst first ({len(shown)} of {len(report.layers)}; "
                       f"{report.layer_samples} samples of {report.layer_data})", title_justify="left")
        # On an 80-column terminal only the tensor name may give way (folded, never cut to "FULLY_CONNEC…").
        for col, justify in (("SQNR dB", "right"), ("op", "left"), ("tensor", "left"), ("shape", "left"),
                             ("scale", "right"), ("zp", "right"), ("max |err|", "right")):
            layers.add_column(col, justify=justify, no_wrap=col != "tensor",  # type: ignore[arg-type]
                              overflow="fold" if col == "tensor" else "ellipsis")
        for lq in shown:
            style = "red" if lq.sqnr_db < 10 else ("yellow" if lq.sqnr_db < 20 else None)
            layers.add_row(_fmt(lq.sqnr_db, ".1f"), lq.op, _short(lq.name), "×".join(map(str, lq.shape)),
                           f"{lq.scale:.3g}", str(lq.zero_point), f"{lq.max_abs_error:.3g}", style=style)
        console.print(layers)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")


def _short(name: str, width: int = 48) -> str:
    """A fused TFLite tensor name is 'a;b;c'; keep the first part, trimmed from the left."""
    first = name.split(";")[0]
    return first if len(first) <= width else "…" + first[-(width - 1):]


# ---------------------------------------------------------------- int8 vs 16x8

AGREEMENT_SLACK = 0.005  # 16x8 must beat int8 by more than 0.5 points of agreement/accuracy to be worth it
GOOD_OUTPUT_SQNR_DB = 30.0  # int8 output error ≤ ~3% RMS of the signal: good enough without labels
SQNR_GAIN_DB = 6.0  # otherwise 16x8 must halve the output error (≥ 6 dB) to be worth it


@dataclass
class ActivationsComparison:
    """The same model converted with int8 and with int16 (16x8) activations, and which one to use.

    ``reports`` is keyed ``"int8"`` / ``"int16"``; ``recommended`` is one of those keys, ``reason``
    says why in one sentence (the rule is :func:`recommend`).
    """

    reports: dict[str, ConversionReport]
    recommended: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: both reports, the recommendation and its reason."""
        return {"recommended": self.recommended, "reason": self.reason,
                "reports": {k: r.to_dict() for k, r in self.reports.items()}}


def recommend(int8: ConversionReport, int16: ConversionReport) -> ActivationsComparison:
    """Pick int8 or 16x8 for a model from the two reports.

    int8 is the default (half the activation memory, faster kernels on every MCU, more kernels in
    edgekit's runtime); 16x8 only when it is measurably better where it matters:
    classification with validation data: 16x8 wins when its accuracy (with labels) or top-1
    agreement with float is more than :data:`AGREEMENT_SLACK` above int8's; otherwise (regression,
    or no validation data): int8 when its output SQNR is at least :data:`GOOD_OUTPUT_SQNR_DB`,
    else 16x8 when it improves the output SQNR by at least :data:`SQNR_GAIN_DB`.
    """
    reports = {"int8": int8, "int16": int16}
    if int8.task == "classification" and int8.num_val and int8.top1_agreement is not None:
        what, a, b = "top-1 agreement with float", int8.top1_agreement, int16.top1_agreement or 0.0
        if int8.int8_accuracy is not None and int16.int8_accuracy is not None:
            what, a, b = "accuracy", int8.int8_accuracy, int16.int8_accuracy
        if b - a > AGREEMENT_SLACK:
            return ActivationsComparison(reports, "int16", f"16x8 {what} {b:.2%} vs int8 {a:.2%}: int8 loses "
                                         f"{b - a:.2%}, more than {AGREEMENT_SLACK:.1%}")
        return ActivationsComparison(reports, "int8", f"int8 {what} {a:.2%} vs 16x8 {b:.2%}: within "
                                     f"{AGREEMENT_SLACK:.1%}, so the smaller, faster int8 model")
    s8, s16 = int8.output_sqnr_db, int16.output_sqnr_db
    if s8 is None or s16 is None:
        return ActivationsComparison(reports, "int8", "no output SQNR measured; int8 by default")
    if s8 >= GOOD_OUTPUT_SQNR_DB:
        return ActivationsComparison(reports, "int8", f"int8 output SQNR {s8:.1f} dB ≥ {GOOD_OUTPUT_SQNR_DB:.0f} dB "
                                     f"(16x8: {s16:.1f} dB), so the smaller, faster int8 model")
    if s16 - s8 >= SQNR_GAIN_DB:
        return ActivationsComparison(reports, "int16", f"int8 output SQNR only {s8:.1f} dB; 16x8 reaches "
                                     f"{s16:.1f} dB (+{s16 - s8:.1f} dB)")
    return ActivationsComparison(reports, "int8", f"16x8 gains only {s16 - s8:.1f} dB of output SQNR "
                                 f"({s8:.1f} → {s16:.1f} dB), not worth twice the activation memory")


def render_comparison(comparison: ActivationsComparison, console: Any = None) -> None:
    """Print int8 and 16x8 side by side (one column each) and the recommendation."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    r8, r16 = comparison.reports["int8"], comparison.reports["int16"]
    table = Table(title=f"int8 vs 16x8: {r8.model}", title_justify="left")
    table.add_column("", style="bold")
    for key, r in (("int8", r8), ("int16", r16)):
        table.add_column(r.label + (" (recommended)" if key == comparison.recommended else ""), justify="right")
    rows = [("size", lambda r: f"{_kb(r.int8_size)} ({r.size_ratio:.0%} of float)")]
    if r8.task == "classification" and r8.num_val:
        if r8.int8_accuracy is not None:
            rows.append(("accuracy (float " + _fmt(r8.float_accuracy, ".2%") + ")",
                         lambda r: _fmt(r.int8_accuracy, ".2%")))
        rows.append(("top-1 agreement with float", lambda r: _fmt(r.top1_agreement, ".2%")))
    elif r8.task == "regression" and r8.num_val:
        rows.append(("RMSE vs float", lambda r: _fmt(r.rmse_vs_float, ".4g")))
    rows += [("output SQNR", lambda r: _fmt(r.output_sqnr_db, ".1f", " dB")),
             ("worst layer SQNR", lambda r: _fmt(r.worst_layer.sqnr_db if r.worst_layer else None, ".1f", " dB")),
             ("median layer SQNR", lambda r: _fmt(_median([lq.sqnr_db for lq in r.layers]), ".1f", " dB")),
             ("ops", lambda r: str(sum(r.ops.values())))]
    for title, cell in rows:
        table.add_row(title, cell(r8), cell(r16))
    console.print(table)
    console.print(f"recommended: [bold]{comparison.reports[comparison.recommended].label}[/bold] — {comparison.reason}")


def _median(values: list[float]) -> float | None:
    finite = sorted(v for v in values if math.isfinite(v))
    return finite[len(finite) // 2] if finite else None
