"""The quantization payoff on a board: the float32 model and its int8 conversion, measured side by side.

Both models are generated for edgekit's AOT runtime (float32 kernels: ``ek_float*.c``), built and benchmarked on
the same board (QEMU or a real one) with :func:`edgekit.bench` on the same data (:func:`matched_inputs`: one sample
is quantized with the int8 model's input scale and zero point, and the float32 model gets exactly those values
dequantized, so both compute on identical numbers); the two results are compared with
:func:`edgekit.compare.compare_results` (flash, RAM, arena, instructions, estimated cycles, modelled energy), each
row with its ratio float / int8. Accuracy comes from the conversion report when there is one.
:func:`bench_model` and :func:`payoff_of` are the pieces ``edgekit optimize`` reuses for its variants.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.compare import Comparison, compare_results


@dataclass(frozen=True)
class Payoff:
    """float32 (A) vs int8 (B) on one board; ``accuracy`` is ``{"float32": x, "int8": y}`` when known."""

    board: str
    comparison: Comparison
    results: dict[str, dict[str, Any]]
    accuracy: dict[str, float | None] = field(default_factory=dict)
    accuracy_metric: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "edgekit.payoff/1", "board": self.board, "a": "float32", "b": "int8",
                "rows": [r.to_dict() for r in self.comparison.rows if r.a is not None or r.b is not None],
                "notes": list(self.comparison.notes), "accuracy": self.accuracy,
                "accuracy_metric": self.accuracy_metric}


@dataclass(frozen=True)
class MatchedInputs:
    """One sample for each model of a float32 / int8 pair, holding the same values: ``int8`` in the int8 model's
    input dtypes, ``float32`` those values dequantized (``(q - zero_point) * scale``); ``note`` says how."""

    float32: list[Any]
    int8: list[Any]
    note: str

    @staticmethod
    def sha256(arrays: list[Any]) -> str:
        """The digest :func:`edgekit.bench` records for these arrays as one upload (inputs concatenated)."""
        import numpy as np

        return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


def matched_inputs(float_model: Any, int8_model: Any, base: list[Any] | None = None) -> MatchedInputs:
    """The same data for both models: ``base`` (one float array per input, batch 1; default one standard-normal
    sample, seed 0) quantized with each int8 input's scale and zero point (rounded half away from zero, as TFLite
    does), and the float32 model's input set to exactly those values dequantized. An int8 model with float32 inputs
    (QUANTIZE inside) gets ``base`` as the float model does."""
    import numpy as np

    from edgekit.tflite_model import load_model

    fsg, qsg = load_model(float_model).main, load_model(int8_model).main
    if len(fsg.inputs) != len(qsg.inputs):
        raise ValueError(f"the float32 model has {len(fsg.inputs)} inputs, the int8 model {len(qsg.inputs)}")
    if base is None:
        rng = np.random.default_rng(0)
        base = [rng.standard_normal((1, *fsg.tensors[i].shape)).astype(np.float32) for i in fsg.inputs]
    floats, ints, how = [], [], []
    for x, qi in zip(base, qsg.inputs, strict=True):
        t = qsg.tensors[qi]
        x = np.asarray(x, np.float32)
        q = t.quantization
        if t.dtype in ("int8", "uint8", "int16") and q is not None and q.scale:
            scale, zp = float(q.scale[0]), int(q.zero_point[0]) if q.zero_point else 0
            info = np.iinfo(np.dtype(t.dtype))
            v = x.astype(np.float64) / scale
            qv = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + zp, info.min, info.max)
            ints.append(qv.astype(t.dtype))
            floats.append(((qv - zp) * scale).astype(np.float32))
            how.append(f"'{t.name}' quantized with scale {scale:.6g}, zero point {zp}")
        else:
            ints.append(x)
            floats.append(x)
            how.append(f"'{t.name}' is {t.dtype} in both")
    note = ("same input values on both: the int8 input (" + "; ".join(how) + ") and, for float32, those values "
            "dequantized")
    return MatchedInputs(floats, ints, note)


def bench_model(model: Path | bytes, board: str, work: Path, name: str, *, runs: int = 3, timeout: float = 10.0,
                inputs: Any = None, cycles: bool | None = None,
                boards_dirs: list[str] | None = None) -> dict[str, Any]:
    """Generate ``model`` for edgekit's runtime in ``work/name``, build it and benchmark it on ``board``; the
    ``edgekit.bench/1`` result as a dict (its ``memory``/``timing``/``cycles``/``energy`` sections)."""
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate

    out = work / name
    if isinstance(model, bytes):  # a file beside the project, so bench can quantize float inputs with its parameters
        work.mkdir(parents=True, exist_ok=True)
        (work / f"{name}.tflite").write_bytes(model)
        model = work / f"{name}.tflite"
    generate(model, board, runtime="edgekit", out_dir=out, name=name, boards_dirs=boards_dirs)
    build(out, boards_dirs=boards_dirs)
    return bench(out, board=board, runs=runs, warmup=1, timeout=timeout, inputs=inputs, cycles=cycles,
                 boards_dirs=boards_dirs).to_dict()


def payoff_of(board: str, float_result: dict[str, Any], int8_result: dict[str, Any], *,
              matched: MatchedInputs | None = None, int8_inputs: list[Any] | None = None,
              accuracy: dict[str, float | None] | None = None, accuracy_metric: str = "accuracy",
              names: tuple[str, str] = ("float32", "int8")) -> Payoff:
    """Compare two bench results (float32 A, int8 B). With ``matched`` (what the two models were given), the
    "different inputs" note of :func:`~edgekit.compare.compare_results` (the uploads differ by dtype) becomes
    ``matched.note`` once both recorded digests are checked to be those of ``matched.float32`` and
    ``int8_inputs`` (default ``matched.int8``)."""
    comparison = compare_results(float_result, int8_result, name_a=names[0], name_b=names[1])
    if matched is not None:
        shas = [(r.get("input") or {}).get("sha256") for r in (float_result, int8_result)]
        want = [MatchedInputs.sha256(matched.float32), MatchedInputs.sha256(
            matched.int8 if int8_inputs is None else int8_inputs)]
        if shas == want:
            notes = (*(n for n in comparison.notes if not n.startswith("different inputs")), matched.note)
            comparison = Comparison(comparison.a, comparison.b, comparison.rows, notes)
    return Payoff(board, comparison, {names[0]: float_result, names[1]: int8_result}, dict(accuracy or {}),
                  accuracy_metric if accuracy else "")


def measure_payoff(float_model: str | os.PathLike[str] | bytes, int8_model: str | os.PathLike[str] | bytes, *,
                   board: str = "qemu-cortex-m4", work_dir: str | os.PathLike[str] | None = None, runs: int = 3,
                   report: Any = None, timeout: float = 10.0, cycles: bool | None = None,
                   inputs: list[Any] | None = None) -> Payoff:
    """Generate, build and benchmark both models on ``board``; compare float32 (A) with int8 (B).

    ``report``: the :class:`~edgekit.report.ConversionReport` of the conversion (its float and int8 accuracy, or
    error for regression, go into the result). ``timeout``: seconds for each device command (a large float input
    takes a while over the emulated UART). ``cycles``: as for :func:`edgekit.bench` (None: estimated cycles where
    the core has a timing table; False skips that extra QEMU run). ``inputs``: one float array per input (batch 1)
    to run on, made identical for both models by :func:`matched_inputs` (default: a standard-normal sample).
    Raises what generate / build / bench raise (e.g. UnsupportedOpError for an op without a float32 kernel, with
    the hint to use TFLM).
    """
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="edgekit-payoff-"))
    work.mkdir(parents=True, exist_ok=True)
    srcs = {k: Path(m) if isinstance(m, (str, os.PathLike)) else m
            for k, m in (("float32", float_model), ("int8", int8_model))}
    matched = matched_inputs(srcs["float32"], srcs["int8"], inputs) if _is_float_input(srcs["float32"]) else None
    results = {name: bench_model(src, board, work, f"payoff_{name}", runs=runs, timeout=timeout, cycles=cycles,
                                 inputs=None if matched is None else getattr(matched, name))
               for name, src in srcs.items()}
    accuracy: dict[str, float | None] = {}
    metric = ""
    if report is not None and getattr(report, "float_accuracy", None) is not None:
        accuracy, metric = {"float32": report.float_accuracy, "int8": report.int8_accuracy}, "accuracy"
    elif report is not None and getattr(report, "float_mae", None) is not None:
        accuracy, metric = {"float32": report.float_mae, "int8": report.int8_mae}, "mean absolute error"
    return payoff_of(board, results["float32"], results["int8"], matched=matched, accuracy=accuracy,
                     accuracy_metric=metric or "accuracy")


def _is_float_input(model: Any) -> bool:
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    return all(sg.tensors[i].dtype == "float32" for i in sg.inputs)


def render_payoff(payoff: Payoff, console: Any) -> None:
    """The side-by-side table (rich) of :func:`measure_payoff`'s result."""
    from rich.table import Table

    table = Table(title=f"quantization payoff on {payoff.board}: float32 vs int8 (edgekit AOT runtime)")
    table.add_column("figure", style="bold")
    for col in ("float32", "int8", "float / int8"):
        table.add_column(col, justify="right")
    for r in payoff.comparison.rows:
        if r.a is None and r.b is None:
            continue
        table.add_row(r.label, format_cell(r.key, r.a, r.unit), format_cell(r.key, r.b, r.unit),
                      "-" if r.ratio is None else f"{r.ratio:.2f}x")
    if payoff.accuracy:
        f, q = payoff.accuracy.get("float32"), payoff.accuracy.get("int8")
        pct = payoff.accuracy_metric == "accuracy"
        table.add_row(payoff.accuracy_metric, *(("-" if v is None else (f"{v:.2%}" if pct else f"{v:.4g}"))
                                                for v in (f, q)), "")
    console.print(table)
    for note in payoff.comparison.notes:
        console.print(f"note: {note}")


HEADLINE = ("flash_bytes", "count", "instructions", "energy_uj")  # the ratios a one-line summary names (count: bench)


def format_cell(key: str, x: float | None, unit: str) -> str:
    """One figure of a payoff row as the tables show it: thousands separators, 2 decimals for energy and latency."""
    digits = 2 if key in ("energy_uj", "latency_us", "latency_p90_us", "latency_ms") else 0
    return "-" if x is None else f"{x:,.{digits}f}" + (f" {unit}" if unit else "")


def payoff_summary(d: dict[str, Any]) -> str:
    """One line naming the ratios float / int8 of flash, instructions and energy (those measured) of a payoff in
    its dict form (:meth:`Payoff.to_dict`, or a select result's ``payoffs`` entry), and both accuracies."""
    rows = {r["key"]: r for r in d.get("rows") or []}
    parts = [f"{rows[k]['label']} {rows[k]['ratio']:.2f}x" for k in HEADLINE
             if k in rows and rows[k].get("ratio") is not None]
    acc = d.get("accuracy") or {}
    f, q = acc.get("float32"), acc.get("int8")
    if f is not None and q is not None:
        pct = d.get("accuracy_metric", "accuracy") == "accuracy"
        both = f"{f:.2%} vs {q:.2%}" if pct else f"{f:.4g} vs {q:.4g}"
        parts.append(f"{d.get('accuracy_metric') or 'accuracy'} {both}")
    return "float32 / int8: " + (", ".join(parts) or "no figure measured on both")


def payoff_html(d: dict[str, Any]) -> str:
    """The payoff (dict form, as :func:`payoff_summary`) as an XHTML table: figure | float32 | int8 | float / int8."""
    import html

    def e(x: Any) -> str:
        return html.escape(str(x), quote=True)

    heads = ("figure", f"float32 ({d.get('a', 'float32')})" if d.get("a") not in (None, "float32") else "float32",
             f"int8 ({d.get('b')})" if d.get("b") not in (None, "int8") else "int8", "float / int8")
    out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>"]
    for r in d.get("rows") or []:
        if r.get("a") is None and r.get("b") is None:
            continue
        unit = r.get("unit") or ""
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        a, b = (format_cell(r["key"], r.get(k), unit) for k in ("a", "b"))
        out.append(f"<tr><td>{e(r['label'])}</td><td class=\"n\">{e(a)}</td>"
                   f"<td class=\"n\">{e(b)}</td><td class=\"n\">{e(ratio)}</td></tr>")
    acc = d.get("accuracy") or {}
    if acc:
        pct = d.get("accuracy_metric", "accuracy") == "accuracy"
        vals = ["-" if v is None else (f"{v:.2%}" if pct else f"{v:.4g}")
                for v in (acc.get("float32"), acc.get("int8"))]
        out.append(f"<tr><td>{e(d.get('accuracy_metric') or 'accuracy')}</td><td class=\"n\">{e(vals[0])}</td>"
                   f"<td class=\"n\">{e(vals[1])}</td><td class=\"n\">-</td></tr>")
    out.append("</table>")
    return "".join(out)
