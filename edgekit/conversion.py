"""Keras 3 / SavedModel -> full-integer ``.tflite`` (int8, or 16x8: int16 activations), with a quality report.

Full integer only: int8 (or int16) activations, int8 weights (per-channel for convolutions), int32
(int64 for 16x8) biases, integer I/O (or float32 I/O on request). A model that would keep a float
or hybrid op is refused, never emitted. Recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional,
stateful or not) are unrolled first (see :mod:`edgekit._rnn`: TF 2.21 cannot quantize them as traced).

The report compares the quantized model with the float one (sizes, accuracy or error, top-1
agreement, per-layer SQNR); ``activations="compare"`` converts both ways and recommends one.

TensorFlow runs in a child process by default (``isolate=True``, :mod:`edgekit._isolate`): its
converter segfaults on some models and TFLite aborts on degenerate quantized ones, and neither may
take the caller down. This module itself never imports TensorFlow; the output file is written
atomically, only when everything succeeded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.conversion_common import ConversionResult, verify_full_int8
from edgekit.conversion_common import check_model_path as _check_model_path
from edgekit.conversion_common import check_output as _check_output
from edgekit.conversion_common import validation_data as _validation
from edgekit.data import collect_samples
from edgekit.errors import DataError, EdgekitError, ModelError, NativeCrash, UsageError
from edgekit.fsutil import write_atomic
from edgekit.report import ConversionReport, LayerQuality, recommend

IO_DTYPES = ("int8", "uint8", "int16", "float32")
ACTIVATIONS = ("int8", "int16", "compare")
TASKS = ("auto", "classification", "regression")
LAYER_SAMPLES = 50  # samples used for the per-layer SQNR (validation data first, else calibration data)

__all__ = ["ConversionResult", "convert", "verify_full_int8", "write_atomic"]


def convert(model: Any, calib: Any, *, val: Any = None, val_labels: Any = None,
            output: str | os.PathLike | None = None, io_dtype: str | None = None, activations: str = "int8",
            task: str = "auto", progress: bool = True, num_calib: int | None = None, isolate: bool = True,
            timeout: float | None = None, sample: Any = None) -> ConversionResult:
    """Convert a model to a full-integer TFLite flatbuffer and measure what quantization cost.

    Args:
        model: a Keras 3 model, a ``.keras``/``.h5`` file, or a SavedModel directory; or a PyTorch/ONNX
            model: an ``.onnx`` file, a ``torch.export`` program (``.pt2``) or a ``torch.nn.Module``
            (with ``sample``), converted by :mod:`edgekit.frontends` (data in the model's own NCHW layout).
        calib: calibration inputs (float32, the model's input shape): an array ``(N, ...)``, a
            ``.npy``/``.npz`` path, an iterable of arrays/batches/``(x, y)`` pairs, or a ``tf.data.Dataset``.
        val: validation inputs, same forms as ``calib`` (a ``.npz`` may carry labels as ``y``).
        val_labels: labels for ``val`` (array or ``.npy``/``.npz`` path): class ids, one-hot rows or
            regression targets. Without labels the report gives agreement/error against the float model.
        output: write the ``.tflite`` here (atomically: nothing is left behind on failure).
        io_dtype: the model's input/output type: ``int8``, ``uint8``, ``int16`` or ``float32``; default
            the activation type (``uint8`` only with int8 activations, ``int16`` only with int16).
        activations: ``int8`` (default), ``int16`` (16x8: int16 activations, int8 weights; TFLite's
            ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``) or ``compare`` (both;
            the recommended one is returned and written, see :func:`edgekit.report.recommend`).
        task: ``auto``, ``classification`` or ``regression`` (which metrics the report shows).
        progress: show a progress bar (only when stderr is a terminal).
        num_calib: use at most this many calibration samples (default: all).
        isolate: run TensorFlow in a child process (a native crash becomes :class:`NativeCrash`).
        timeout: seconds the child may take (default 1800); past it, it is stopped (``NativeCrash``).
        sample: for a ``torch.nn.Module``: one input batch of 1 (the shape the module is exported with).

    Raises:
        ModelError: missing/unreadable model, an already converted ``.tflite``, float/hybrid ops left.
        UnsupportedOpError: ops the integer converter cannot quantize.
        DataError: calibration/validation data of the wrong shape, dtype or content, or empty.
        NativeCrash: TensorFlow/TFLite died in native code or ran past ``timeout`` (``isolate=True``).
    """
    if activations not in ACTIVATIONS:
        raise UsageError(f"activations: {activations!r} is not one of {', '.join(ACTIVATIONS)}")
    acts = ["int8", "int16"] if activations == "compare" else [activations]
    io = _io_dtype(io_dtype, acts)
    if task not in TASKS:
        raise UsageError(f"task: {task!r} is not one of {', '.join(TASKS)}")
    from edgekit.frontends import source_kind

    if source_kind(model) is not None:  # PyTorch / ONNX: their own front-end, converters in a child process
        from edgekit.frontends.convert import convert_source

        if activations == "compare":
            raise UsageError("activations='compare' is for Keras models; convert a PyTorch/ONNX model with "
                             "--activations int8 and int16 and compare the two reports")
        return convert_source(model, calib, sample=sample, val=val, val_labels=val_labels, output=output,
                              io_dtype=io_dtype or activations, task=task, num_calib=num_calib,
                              timeout=timeout or 600.0, activations=activations)
    out_path = _check_output(output)
    if isinstance(model, (str, os.PathLike)):
        _check_model_path(Path(model))
    if num_calib is not None and num_calib < 1:
        raise DataError(f"calibration data: the number of samples to use must be >= 1 (got {num_calib})")
    job: dict[str, Any] = {"io_dtype": io, "activations": acts, "task": task}
    inputs: dict[str, Any] = {}

    def take_data(sample_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        x_cal = collect_samples(calib, what="calibration data", sample_shape=sample_shape, limit=num_calib)
        x_val, y_val = _validation(val, val_labels, sample_shape)
        arrays = {"x_cal": x_cal, "layer_x": (x_val if x_val is not None else x_cal)[:LAYER_SAMPLES]}
        if x_val is not None:
            arrays["val_x"] = x_val
            if y_val is not None:
                arrays["val_y"] = y_val
        inputs.update(num_calib=len(x_cal), layer_data="validation data" if x_val is not None else
                      "calibration data")
        return arrays

    from edgekit import _isolate

    worker = _isolate.warm_worker() if isolate else None  # starts importing TensorFlow now
    with _progress_bar(progress) as step:
        if worker is not None:
            out, log, info = _run_isolated(worker, model, job, take_data, step, timeout)
        else:
            out, log, info = _run_here(model, job, take_data, step)
    isolated = worker is not None
    reports = {act: _make_report(info, act, io if io != "auto" else act, inputs, out["float"], out["models"][act],
                                 out["ops"][act], out["evals"][act], out["seconds"], isolated) for act in acts}
    comparison = recommend(reports["int8"], reports["int16"]) if activations == "compare" else None
    chosen = comparison.recommended if comparison else acts[0]
    if out_path is not None:
        write_atomic(out_path, out["models"][chosen])
    return ConversionResult(out["models"][chosen], reports[chosen], out_path, out["float"], comparison,
                            dict(out["models"]), log)


def _io_dtype(io_dtype: str | None, acts: list[str]) -> str:
    """The I/O type to ask for ("auto": the activation type of each conversion)."""
    if io_dtype is None:
        return "auto"
    if io_dtype not in IO_DTYPES:
        raise UsageError(f"io_dtype: {io_dtype!r} is not one of {', '.join(IO_DTYPES)}")
    for act in acts:
        if io_dtype != "float32" and (io_dtype == "int16") != (act == "int16"):
            raise UsageError(f"io_dtype {io_dtype} does not go with {act} activations",
                             hint="int16 activations take int16 or float32 I/O; int8 ones int8, uint8 or float32"
                             if len(acts) == 1 else "with activations=compare use io_dtype float32 or the default")
    return io_dtype


def _run_isolated(worker: Any, model: Any, job: dict[str, Any], take_data: Any, step: Any,
                  timeout: float | None) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Convert and evaluate in the converter child; returns (outputs, the child's log, model info)."""
    from edgekit import _isolate

    info: dict[str, Any] = {}
    finished = False
    try:
        with tempfile.TemporaryDirectory(prefix="edgekit-convert-") as tmp:
            job_dir = Path(tmp)
            if isinstance(model, (str, os.PathLike)):
                job["model"] = str(Path(model).resolve())
            else:
                job["model"], job["name"] = _save_model_object(model, job_dir), getattr(model, "name", "model")
            (job_dir / "job.json").write_text(json.dumps(job))

            def on_shape(msg: dict) -> None:
                info.update(msg)
                np.savez(job_dir / "data.npz", **take_data(tuple(msg["shape"])))

            worker.run(job_dir, on_shape, lambda m: step(m["stage"], m.get("done"), m.get("total")),
                       timeout or _isolate.DEFAULT_TIMEOUT)
            out = _read_result(job_dir, job["activations"], worker.log_path)
        finished = True
        return out, worker.job_log, info
    except EdgekitError as exc:
        finished = not isinstance(exc, NativeCrash)  # a user error leaves the worker reusable
        raise
    finally:
        if not finished:  # crashed, timed out, or interrupted mid-job
            _isolate.discard_worker()


def _read_result(job_dir: Path, acts: list[str], log: Path) -> dict[str, Any]:
    """The outputs the child left in ``job_dir`` after its "done": ``result.json`` (op counts and evaluation per
    activation type, seconds per stage: dicts) and the ``.tflite`` files. Missing or malformed: :class:`NativeCrash`."""
    from edgekit._quant_eval import decode

    try:
        result = decode((job_dir / "result.json").read_text())
        out = {"float": (job_dir / "float.tflite").read_bytes(),
               "models": {act: (job_dir / f"{act}.tflite").read_bytes() for act in acts}}
    except (OSError, ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        why = f"{type(exc).__name__}: {exc}"
    else:
        ok = (isinstance(result, dict) and all(isinstance(result.get(k), dict) for k in ("ops", "evals", "seconds"))
              and all(isinstance(result[k].get(a), dict) for k in ("ops", "evals") for a in acts))
        if ok:
            return {**out, "ops": result["ops"], "evals": result["evals"], "seconds": result["seconds"]}
        why = "result.json lacks ops/evals/seconds for " + ", ".join(acts)
    raise NativeCrash(f"the converter process reported success but its results are unreadable ({why[:200]})",
                      hint=f"an edgekit bug; the converter's log: {log}")


def _save_model_object(model: Any, job_dir: Path) -> str:
    """Save an in-memory Keras model where the child can load it."""
    path = job_dir / "model.keras"
    try:
        model.save(path)
    except Exception as exc:
        why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot hand model {getattr(model, 'name', '?')!r} to the converter process: saving it "
                         f"failed ({why})",
                         hint="convert it in-process with edgekit.convert(..., isolate=False)") from None
    return str(path)


def _run_here(model: Any, job: dict[str, Any], take_data: Any, step: Any) -> tuple[dict[str, Any], str, dict]:
    """Convert and evaluate in this process (``isolate=False``)."""
    from edgekit import _tf_convert

    prep = _load_model(model)
    job.update(take_data(prep.sample_shape))
    out = _tf_convert.run(prep, job, step)
    return out, "", {"name": prep.name, "recurrent": prep.recurrent, "stateful": prep.stateful, "loops": prep.loops}


def _load_model(model: Any) -> Any:
    """Load and prepare the model in this process (:func:`edgekit._tf_convert.load`)."""
    from edgekit import _tf_convert

    return _tf_convert.load(model)


def import_tensorflow() -> Any:
    """Import TensorFlow and Keras once, keeping their start-up log lines off the terminal; returns ``tf``."""
    from edgekit._tf_convert import import_tensorflow as _import

    return _import()


@contextlib.contextmanager
def _progress_bar(show: bool) -> Iterator[Any]:
    """A rich progress bar on stderr (a terminal only); yields ``step(stage, done=None, total=None)``."""
    if not show or not sys.stderr.isatty():
        yield lambda stage, done=None, total=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<22}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    # redirect_stdout/stderr off: rich must not capture (and re-print) anything while the bar runs
    with Progress(*columns, console=Console(stderr=True), transient=True, redirect_stdout=False,
                  redirect_stderr=False) as bar:
        task = bar.add_task("starting TensorFlow", total=None)

        shown = [""]

        def step(stage: str, done: int | None = None, total: int | None = None) -> None:
            bar.update(task, description=stage, completed=done or 0, total=total)
            if stage != shown[0]:  # every stage reaches the screen, however short
                shown[0] = stage
                bar.refresh()

        yield step


# ---------------------------------------------------------------- inputs


def _make_report(info: dict[str, Any], act: str, io_dtype: str, inputs: dict[str, Any], float_bytes: bytes,
                 q_bytes: bytes, ops: dict[str, int], result: dict[str, Any], seconds: dict[str, float],
                 isolated: bool) -> ConversionReport:
    layers = [LayerQuality(name=d["name"], op=d["op"], shape=tuple(d["shape"]), dtype=d["dtype"], scale=d["scale"],
                           zero_point=d["zero_point"], sqnr_db=d["sqnr_db"], max_abs_error=d["max_abs_error"])
              for d in result.get("layers", [])]
    metrics = {k: result[k] for k in ("float_accuracy", "int8_accuracy", "top1_agreement", "float_mae", "float_rmse",
                                      "int8_mae", "int8_rmse", "mae_vs_float", "rmse_vs_float", "output_sqnr_db")
               if k in result}
    return ConversionReport(model=info.get("name", "model"), io_dtype=io_dtype, num_calib=inputs["num_calib"],
                            float_size=len(float_bytes), int8_size=len(q_bytes), ops=ops, task=result.get("task"),
                            num_val=result.get("num_val", 0), layers=layers, activations=act,
                            recurrent=list(info.get("recurrent", [])), stateful=bool(info.get("stateful")),
                            layer_samples=result.get("layer_samples", 0), layer_data=inputs["layer_data"],
                            unmatched_tensors=result.get("unmatched_tensors", []),
                            warnings=result.get("warnings", []), convert_seconds=seconds.get(act, 0.0),
                            float_convert_seconds=seconds.get("float", 0.0),
                            eval_seconds=seconds.get(f"eval_{act}", 0.0), isolated=isolated, **metrics)
