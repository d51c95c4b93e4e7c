"""Convert a PyTorch or ONNX model to full-int8 TFLite and report against the source framework.

The conversion itself runs in a child (:mod:`edgekit.frontends._worker`). Calibration and
validation data come in the source model's layout (NCHW / NCL for PyTorch and ONNX); the
converted model takes channels-last input (``report.device_layout``), which ``validate`` and
``bench`` accept with ``--layout nchw`` too. The report's accuracy/agreement compares the int8
model with the source model's own float outputs (PyTorch, or onnxruntime for ONNX).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import collect_samples, load_array_file
from edgekit.errors import DataError, ModelError, UsageError
from edgekit.frontends import require, source_kind
from edgekit.report import ConversionReport, LayerQuality

# litert-torch lowerings of one aten op into several TFLite ops (measured), reported when the int8 graph has them
LOWERED = {"adaptive_avg_pool1d": ["TRANSPOSE", "MEAN"]}
EXTRA_OPS = ("TRANSPOSE", "RESHAPE", "PAD", "QUANTIZE", "DEQUANTIZE", "CAST", "GATHER", "SHAPE")
FRAMEWORK = {"onnx": "onnxruntime", "pt2": "PyTorch", "torch": "PyTorch"}


@dataclass
class SourceReport(ConversionReport):
    """A :class:`ConversionReport` whose "float" figures are the source framework's own outputs.

    ``source_layout``/``device_layout``: the layout data is given in vs the one the device expects;
    ``source_ops``: op counts of the exported source graph; ``extra_ops``: layout/shape ops the
    converted graph has (TRANSPOSE, RESHAPE, PAD, ...); ``output_sqnr_db``: int8 outputs vs source outputs;
    ``expansions``: the source ops that became more than one TFLite op (``source_op``, ``count``, ``becomes``:
    the TFLite ops of one of them, ``by``: edgekit's rewrite or litert-torch's lowering).
    """

    framework: str = ""
    source_layout: str = ""
    device_layout: str = ""
    device_shape: list[int] = field(default_factory=list)
    source_ops: dict[str, int] = field(default_factory=dict)
    extra_ops: dict[str, int] = field(default_factory=dict)
    output_sqnr_db: float | None = None
    expansions: list[dict[str, Any]] = field(default_factory=list)
    route: str = "litert-torch (PT2E int8, channels-last input)"


def convert_source(model: Any, calib: Any, *, sample: Any = None, val: Any = None, val_labels: Any = None,
                   output: str | os.PathLike | None = None, io_dtype: str = "int8", task: str = "auto",
                   num_calib: int | None = None, timeout: float = 600.0, channels_last: bool = True,
                   gelu_form: str = "tanh", activations: str = "int8") -> Any:
    """Convert an ``.onnx`` file, a ``.pt2`` program or an ``nn.Module`` (with ``sample``) to int8 TFLite.

    Returns an :class:`edgekit.conversion_common.ConversionResult` whose report is a :class:`SourceReport`.
    ``activations="int16"``: TFLite's 16x8 (int16 activations and I/O, int8 weights).
    Raises ModelError/UnsupportedOpError/NativeCrash (converter failures, in the child), DataError,
    UsageError, ToolMissing (the ``torch``/``onnx`` extra is not installed).
    ``channels_last=False`` keeps the source's NCHW input (litert-torch then leaves a TRANSPOSE at the
    input): the measured alternative in benchmarks/convert.py, not for use. ``gelu_form="sigmoid1702"``
    likewise (GELU as ``x * sigmoid(1.702 x)``, see :mod:`edgekit.frontends._decompose`).
    """
    from edgekit.conversion_common import ConversionResult, verify_full_int8
    from edgekit.conversion_common import check_output as _check_output
    from edgekit.fsutil import write_atomic

    kind = source_kind(model)
    if kind is None:
        raise UsageError(f"not a PyTorch/ONNX model: {model!r}")
    if activations not in ("int8", "int16"):
        raise UsageError(f"activations={activations!r}: PyTorch/ONNX models convert to int8 or int16 (16x8)")
    if io_dtype != activations:
        raise UsageError(f"io_dtype={io_dtype!r}: PyTorch/ONNX models take I/O of their activation type "
                         f"({activations})")
    from edgekit.frontends._decompose import FORMS

    if gelu_form not in FORMS:
        raise UsageError(f"gelu_form={gelu_form!r} is not one of {', '.join(FORMS)}")
    out_path = _check_output(output)
    require(kind)
    keep = os.environ.get("EDGEKIT_KEEP_JOB")
    job_dir = Path(tempfile.mkdtemp(prefix="edgekit-convert-"))
    try:
        name, model_path, sample_shape = _stage(kind, model, sample, calib, job_dir)
        x_cal = collect_samples(calib, what="calibration data", sample_shape=sample_shape, limit=num_calib)
        x_val, y_val = _validation(val, val_labels, sample_shape)
        job: dict[str, Any] = {"kind": kind, "model_path": str(model_path), "calib": x_cal,
                               "channels_last": channels_last, "gelu_form": gelu_form,
                               "activations": activations}
        if x_val is not None:
            job["val"] = x_val
        from edgekit.frontends._child import run_job

        what = "the ONNX route (onnx -> torch -> litert-torch)" if kind == "onnx" else "litert-torch"
        result = run_job(job_dir, job, what=what, timeout=timeout)
        int8_bytes = (job_dir / "int8.tflite").read_bytes()
        float_bytes = (job_dir / "float.tflite").read_bytes()
        ops = verify_full_int8(int8_bytes, activations)
        report = _report(name, kind, len(x_cal), float_bytes, int8_bytes, ops, result, task, y_val, activations,
                         np.load(job_dir / "source_out.npy"), np.load(job_dir / "int8_out.npy"), x_val is not None,
                         source_rank=len(sample_shape) + 1)
        if out_path is not None:
            write_atomic(out_path, int8_bytes)
    finally:
        if not keep:
            shutil.rmtree(job_dir, ignore_errors=True)
    return ConversionResult(int8_bytes, report, out_path, float_bytes)


def _stage(kind: str, model: Any, sample: Any, calib: Any, job_dir: Path) -> tuple[str, Path, tuple[int, ...]]:
    """(display name, the model file the child reads, one sample's shape in the source layout)."""
    if kind == "onnx":
        from edgekit.frontends.onnx_graph import check_onnx, graph_inputs

        shape = graph_inputs(check_onnx(model))[0][1]
        return str(model), Path(model).resolve(), tuple(shape[1:])
    if kind == "pt2":
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"{path}: no such file", hint="save the program with torch.export.save(ep, 'model.pt2')")
        import zipfile

        if not zipfile.is_zipfile(path):
            raise ModelError(f"{path}: not a torch.export archive (not a zip file; truncated?)",
                             hint="save the program with torch.export.save(ep, 'model.pt2')")
        x = load_array_file(calib, "calibration data")[0] if isinstance(calib, (str, os.PathLike)) \
            else np.asarray(calib)
        if x.ndim < 2:
            raise DataError(f"calibration data: shape {x.shape}: expected a batch (N, ...) in the model's layout")
        return str(path), path.resolve(), tuple(x.shape[1:])
    import torch

    if sample is None:
        raise UsageError("converting an nn.Module needs sample=: one input batch of 1 in the model's layout",
                         hint="e.g. edgekit.convert(model, calib, sample=torch.zeros(1, 3, 32, 32))")
    sample_t = torch.as_tensor(np.asarray(sample, np.float32))
    if sample_t.dim() < 2 or sample_t.shape[0] != 1:
        raise DataError(f"sample: shape {tuple(sample_t.shape)}: expected one input with a batch of 1, (1, ...)")
    try:
        program = torch.export.export(model.eval(), (sample_t,))
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"torch.export could not trace {type(model).__name__}: {text}",
                         hint="the module must be exportable with torch.export (no data-dependent control flow)") \
            from None
    path = job_dir / "model.pt2"
    torch.export.save(program, str(path))
    return type(model).__name__, path, tuple(sample_t.shape[1:])


def _validation(val: Any, val_labels: Any, sample_shape: tuple[int, ...]) -> tuple[Any, Any]:
    from edgekit.conversion_common import validation_data as keras_validation

    return keras_validation(val, val_labels, sample_shape)


def _report(name: str, kind: str, num_calib: int, float_bytes: bytes, int8_bytes: bytes, ops: dict[str, int],
            result: dict[str, Any], task: str, y: Any, acts: str, src_out: np.ndarray, q_out: np.ndarray,
            has_val: bool, source_rank: int) -> SourceReport:
    from edgekit._quant_eval import _task_metrics, resolve_task

    task = resolve_task(task, src_out.shape[1], y if has_val else None)
    metrics = _task_metrics(task, src_out, q_out, y if has_val else None)
    noise = float(np.sum((q_out - src_out) ** 2))
    sqnr = None if noise == 0 else float(10 * np.log10(max(float(np.sum(src_out**2)), 1e-30) / noise))
    layers = sorted((LayerQuality(**{**d, "shape": tuple(d["shape"])}) for d in result.get("layers", [])),
                    key=lambda lq: lq.sqnr_db)
    fields = {f.name for f in dataclasses.fields(ConversionReport)}
    report = SourceReport(model=name, io_dtype=acts, num_calib=num_calib, float_size=len(float_bytes),
                          int8_size=len(int8_bytes), ops=ops, task=task, num_val=len(q_out) if has_val else 0,
                          layers=layers, layer_samples=min(50, len(q_out)), layer_data=result["eval_data"],
                          matching="ops by position (int8 and float TFLite from the same route)",
                          **{k: v for k, v in metrics.items() if k in fields})
    report.activations = acts
    report.framework = FRAMEWORK[kind]
    report.source_layout = {4: "NCHW", 3: "NCL", 2: "NC"}.get(source_rank, "as exported")
    report.device_layout, report.device_shape = result["device_layout"], result["device_shape"]
    report.source_ops = result.get("source_ops", {})
    report.extra_ops = {op: n for op, n in ops.items() if op in EXTRA_OPS}
    report.output_sqnr_db = sqnr
    report.expansions = expansions(result.get("rewrites", {}), report.source_ops, ops)
    report.convert_seconds = result["convert_seconds"]
    report.float_convert_seconds = result["float_convert_seconds"]
    report.eval_seconds = result["eval_seconds"]
    if not has_val:
        report.warnings.append(f"no validation data: agreement with {report.framework} measured on calibration data")
    return report


def expansions(rewrites: dict[str, int], source_ops: dict[str, int], ops: dict[str, int]) -> list[dict[str, Any]]:
    """The source ops that became more than one TFLite op: edgekit's rewrites, then litert-torch's lowerings.

    ``rewrites``: {rewrite: count} from :func:`edgekit.frontends._decompose.decompose`; ``source_ops``: aten op
    counts of the source graph; ``ops``: the int8 graph's op counts (a lowering is listed only when its ops are
    all there).
    """
    from edgekit.frontends._decompose import BECOMES

    why = "edgekit's rewrite: TFLM has no {} kernel"
    out = [{"source_op": name.split("/")[0], "count": n, "becomes": BECOMES[name],
            "by": why.format({"silu": "int8 SiLU", "erf": "ERF"}.get(name.split("/")[0], "GELU"))}
           for name, n in sorted(rewrites.items())]
    for op, becomes in LOWERED.items():
        if source_ops.get(op) and all(ops.get(t) for t in becomes):
            out.append({"source_op": op, "count": source_ops[op], "becomes": becomes, "by": "litert-torch"})
    return out


def render_source(report: SourceReport, console: Any) -> None:
    """The lines a :class:`SourceReport` adds to the usual conversion report."""
    extra = ", ".join(f"{k}×{v}" for k, v in sorted(report.extra_ops.items())) or "none"
    sqnr = "-" if report.output_sqnr_db is None else f"{report.output_sqnr_db:.1f} dB"
    console.print(f"against {report.framework} float outputs: output SQNR {sqnr}"
                  + (f", top-1 agreement {report.top1_agreement:.2%}" if report.top1_agreement is not None else ""))
    console.print(f"layout: data in {report.source_layout}; the device expects {report.device_layout} "
                  f"{report.device_shape} (validate/bench: --layout {report.source_layout.lower()} transposes)")
    console.print(f"route: {report.route}; layout/shape ops in the int8 graph: {extra}")
    for e in report.expansions:
        console.print(f"{e['source_op']} ×{e['count']} became {len(e['becomes'])} TFLite ops each "
                      f"({' '.join(e['becomes'])}): {e['by']}")
