"""The quality report of an int8 conversion: sizes, accuracy/error, per-layer SQNR.

Plain dataclasses (``to_dict()`` for JSON) and a ``rich`` renderer; no TensorFlow.
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
    """What converting a model to full int8 did to its size and its outputs.

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
    summary = Table(title=f"int8 conversion: {report.model}", show_header=False, title_justify="left")
    summary.add_column("what", style="bold")
    summary.add_column("value")
    summary.add_row("size float / int8", f"{_kb(report.float_size)} / {_kb(report.int8_size)}"
                    f"  ({report.size_ratio:.1%})")
    summary.add_row("I/O type", report.io_dtype)
    summary.add_row("calibration samples", str(report.num_calib))
    if report.task == "classification" and report.num_val:
        if report.float_accuracy is not None:
            summary.add_row("accuracy float / int8", f"{report.float_accuracy:.2%} / {report.int8_accuracy:.2%}")
        summary.add_row("top-1 agreement", _fmt(report.top1_agreement, ".2%"))
    elif report.task == "regression" and report.num_val:
        if report.float_mae is not None:
            summary.add_row("MAE float / int8", f"{report.float_mae:.4g} / {report.int8_mae:.4g}")
            summary.add_row("RMSE float / int8", f"{report.float_rmse:.4g} / {report.int8_rmse:.4g}")
        summary.add_row("int8 vs float MAE / RMSE", f"{report.mae_vs_float:.4g} / {report.rmse_vs_float:.4g}")
    if report.num_val:
        summary.add_row("validation samples", str(report.num_val))
    if report.layers:
        worst = report.layers[0]
        summary.add_row("worst layer SQNR", f"{_fmt(worst.sqnr_db, '.1f', ' dB')} ({worst.op} {worst.name[:60]})")
    summary.add_row("ops", ", ".join(f"{k}×{v}" for k, v in sorted(report.ops.items())))
    times = (report.convert_seconds, report.float_convert_seconds, report.eval_seconds)
    summary.add_row("time: int8 / float reference / evaluation", " / ".join(f"{t:.1f} s" for t in times))
    console.print(summary)

    if report.layers:
        shown = report.layers[:max_layers]
        layers = Table(title=f"per-layer SQNR, worst first ({len(shown)} of {len(report.layers)}; "
                       f"{report.layer_samples} samples of {report.layer_data})", title_justify="left")
        for col, justify in (("SQNR dB", "right"), ("op", "left"), ("tensor", "left"), ("shape", "left"),
                             ("scale", "right"), ("zp", "right"), ("max |err|", "right")):
            layers.add_column(col, justify=justify)  # type: ignore[arg-type]
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
