"""Keras 3 / SavedModel -> full-integer int8 ``.tflite``, with a quality report.

Full integer only: int8 activations, int8 weights (per-channel for convolutions), int32 biases,
int8 I/O (or uint8 / float32 I/O on request). A model that would keep a float or hybrid op is
refused, never emitted. TensorFlow is imported inside the functions that need it.

The report compares the int8 model with the float one (sizes, accuracy or error, top-1
agreement, per-layer SQNR). That comparison runs TFLite in a child process by default
(``isolate=True``): TFLite aborts the process on some degenerate quantized models, and a
conversion must not take the caller down with it. See :mod:`edgekit._quant_eval`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import collect_samples, load_array_file
from edgekit.errors import DataError, EdgekitError, ModelError, NativeCrash, UnsupportedOpError, UsageError
from edgekit.fsutil import write_atomic
from edgekit.report import ConversionReport, LayerQuality

IO_DTYPES = ("int8", "uint8", "float32")
TASKS = ("auto", "classification", "regression")
LAYER_SAMPLES = 50  # samples used for the per-layer SQNR (validation data first, else calibration data)
_FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")


@dataclass
class ConversionResult:
    """The int8 model (``tflite_bytes``), its report, where it was written (if anywhere), and the
    float model it was compared with (``float_tflite_bytes``, same fixed batch of 1)."""

    tflite_bytes: bytes
    report: ConversionReport
    output: Path | None = None
    float_tflite_bytes: bytes | None = None


def convert(model: Any, calib: Any, *, val: Any = None, val_labels: Any = None,
            output: str | os.PathLike | None = None, io_dtype: str = "int8", task: str = "auto",
            progress: bool = True, num_calib: int | None = None, isolate: bool = True) -> ConversionResult:
    """Convert a model to a full-int8 TFLite flatbuffer and measure what quantization cost.

    Args:
        model: a Keras 3 model, a ``.keras``/``.h5`` file, or a SavedModel directory.
        calib: calibration inputs (float32, the model's input shape): an array ``(N, ...)``, a
            ``.npy``/``.npz`` path, an iterable of arrays/batches/``(x, y)`` pairs, or a ``tf.data.Dataset``.
        val: validation inputs, same forms as ``calib`` (a ``.npz`` may carry labels as ``y``).
        val_labels: labels for ``val`` (array or ``.npy``/``.npz`` path): class ids, one-hot rows or
            regression targets. Without labels the report gives agreement/error against the float model.
        output: write the ``.tflite`` here (atomically: nothing is left behind on failure).
        io_dtype: the model's input/output type, ``int8`` (default), ``uint8`` or ``float32``.
        task: ``auto``, ``classification`` or ``regression`` (which metrics the report shows).
        progress: show a progress bar while calibrating (only when stderr is a terminal).
        num_calib: use at most this many calibration samples (default: all).
        isolate: run the float-vs-int8 comparison in a child process (survives TFLite aborts).

    Raises:
        ModelError: missing/unreadable model, an already converted ``.tflite``, float/hybrid ops left.
        UnsupportedOpError: ops the int8 converter cannot quantize.
        DataError: calibration/validation data of the wrong shape, dtype or content, or empty.
        NativeCrash: TFLite aborted while running the converted model (``isolate=True``).
    """
    if io_dtype not in IO_DTYPES:
        raise UsageError(f"io_dtype: {io_dtype!r} is not one of {', '.join(IO_DTYPES)}")
    if task not in TASKS:
        raise UsageError(f"task: {task!r} is not one of {', '.join(TASKS)}")
    out_path = _check_output(output)
    if isinstance(model, (str, os.PathLike)):
        _check_model_path(Path(model))

    from edgekit import _isolate

    worker = _isolate.warm_worker() if isolate else None  # imports TFLite now, while we convert
    finished = False
    try:
        keras_model, name = _load_model(model)
        fixed, sample_shape = _batch1(keras_model)
        x_cal = collect_samples(calib, what="calibration data", sample_shape=sample_shape, limit=num_calib)
        x_val, y_val = _validation(val, val_labels, sample_shape)

        t0 = time.perf_counter()
        int8_bytes = _convert(fixed, x_cal, io_dtype, progress=progress)
        ops = verify_full_int8(int8_bytes, io_dtype)
        t_float = time.perf_counter()
        float_bytes = _convert(fixed, None, "float32", progress=False)  # the reference for the report
        convert_seconds, float_seconds = t_float - t0, time.perf_counter() - t_float

        layer_x = x_val if x_val is not None else x_cal
        job = {"float_tflite": np.frombuffer(float_bytes, np.uint8), "int8_tflite": np.frombuffer(int8_bytes, np.uint8),
               "layer_x": layer_x[:LAYER_SAMPLES], "task": task}
        if x_val is not None:
            job["val_x"] = x_val
            if y_val is not None:
                job["val_y"] = y_val
        t1 = time.perf_counter()
        if worker is not None:
            result = worker.run(job)
        else:
            from edgekit._quant_eval import evaluate

            result = evaluate(job)
        report = _make_report(name, io_dtype, len(x_cal), float_bytes, int8_bytes, ops, result,
                              layer_data="validation data" if x_val is not None else "calibration data")
        report.convert_seconds, report.float_convert_seconds = convert_seconds, float_seconds
        report.eval_seconds = time.perf_counter() - t1
        report.isolated = worker is not None
        if out_path is not None:
            write_atomic(out_path, int8_bytes)
        finished = True
    except EdgekitError as exc:
        finished = not isinstance(exc, NativeCrash)  # a user error leaves the worker reusable
        raise
    finally:
        if worker is not None and not finished:  # crashed, or interrupted mid-job
            _isolate.discard_worker()
    return ConversionResult(int8_bytes, report, out_path, float_bytes)


# ---------------------------------------------------------------- inputs


def _check_output(output: str | os.PathLike | None) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    if path.is_dir():
        raise UsageError(f"output: {path} is a directory", hint="give a file name such as model_int8.tflite")
    if not path.parent.is_dir():
        raise UsageError(f"output: directory {path.parent} does not exist", hint="create it first")
    return path


def _check_model_path(path: Path) -> str:
    """Cheap checks before TensorFlow loads: returns 'keras' or 'savedmodel'."""
    if not path.exists():
        raise ModelError(f"{path}: no such file or directory",
                         hint="pass a .keras/.h5 file or a SavedModel directory")
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            return "savedmodel"
        raise ModelError(f"{path}: directory is not a SavedModel (no saved_model.pb)",
                         hint="pass a .keras/.h5 file or a SavedModel directory")
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] == b"TFL3":
        _refuse_tflite(path)
    suffix = path.suffix.lower()
    if suffix == ".keras" and head[:4] == b"PK\x03\x04":
        return "keras"
    if suffix in (".h5", ".hdf5") and head == b"\x89HDF\r\n\x1a\n":
        return "keras"
    kind = {".keras": "a .keras zip archive", ".h5": "an HDF5 file", ".hdf5": "an HDF5 file"}.get(suffix)
    if kind:
        raise ModelError(f"{path}: not a Keras model (the file is not {kind})",
                         hint="save the model with model.save('model.keras')")
    raise ModelError(f"{path}: not a Keras (.keras/.h5) model or SavedModel directory "
                     f"(unsupported file type {suffix or '(none)'!r})",
                     hint="convert from the Keras/SavedModel source of the model")


def _refuse_tflite(path: Path) -> None:
    from edgekit.tflite_model import load_model

    try:
        sg = load_model(path).main
        quantized = any(t.dtype in ("int8", "uint8", "int16") and t.quantization is not None and not t.is_const
                        for t in sg.tensors)
    except ModelError:  # a damaged file: still not something to convert
        quantized = False
    if quantized:
        raise ModelError(f"{path}: already converted (an int8 .tflite model)",
                         hint=f"nothing to convert; run `edgekit inspect {path}` to see it")
    raise ModelError(f"{path}: is a float .tflite model; edgekit converts from the Keras/SavedModel source",
                     hint="pass the .keras/.h5 file or SavedModel directory it was exported from")


def import_tensorflow() -> Any:
    """Import TensorFlow and Keras once, keeping their start-up log lines off the terminal; returns ``tf``."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _quiet():
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    return sys.modules["tensorflow"]


def _load_model(model: Any) -> tuple[Any, str]:
    """A Keras model object and a display name from an object or a path."""
    import_tensorflow()
    import keras

    if isinstance(model, keras.Model):
        return model, model.name
    if not isinstance(model, (str, os.PathLike)):
        raise ModelError(f"cannot convert a {type(model).__name__}: expected a Keras model, a .keras/.h5 file "
                         "or a SavedModel directory")
    path = Path(model)
    kind = _check_model_path(path)
    try:
        with _quiet():
            if kind == "savedmodel":
                return _load_savedmodel(path), str(path)
            return keras.models.load_model(path, compile=False), str(path)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{path}: cannot load the model ({_first_line(exc)})",
                         hint="custom layers? load it yourself (custom_objects=...) and pass the model object "
                              "to edgekit.conversion()") from None


def _load_savedmodel(path: Path) -> Any:
    """Wrap a SavedModel's serving signature in a Keras model (from_keras_model handles fixed batch 1)."""
    import keras
    import tensorflow as tf

    signatures = tf.saved_model.load(str(path)).signatures
    endpoint = "serving_default" if "serving_default" in signatures else next(iter(signatures), None)
    if endpoint is None:
        raise ModelError(f"{path}: the SavedModel has no serving signature",
                         hint="export it with model.export(path) or tf.saved_model.save(..., signatures=...)")
    specs = signatures[endpoint].structured_input_signature[1]
    if len(specs) != 1:
        raise ModelError(f"{path}: signature {endpoint!r} has {len(specs)} inputs; only single-input models "
                         "are supported")
    spec = next(iter(specs.values()))
    inp = keras.Input(shape=tuple(spec.shape[1:]), batch_size=1, dtype=spec.dtype.name, name="input")
    out = keras.layers.TFSMLayer(str(path), call_endpoint=endpoint)(inp)
    if isinstance(out, dict):
        out = next(iter(out.values())) if len(out) == 1 else list(out.values())
    return keras.Model(inp, out, name=path.name)


def _batch1(model: Any) -> tuple[Any, tuple[int, ...]]:
    """The model with a fixed batch of 1 (a dynamic batch leaves SHAPE/PACK ops), and one sample's shape."""
    import keras

    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ModelError(f"model {model.name!r} has no defined input",
                         hint="build it with keras.Input(shape=...) (functional or Sequential model)")
    if len(inputs) != 1:
        raise ModelError(f"model {model.name!r} has {len(inputs)} inputs; only single-input models are supported")
    shape = tuple(inputs[0].shape)
    if any(d is None for d in shape[1:]):
        raise ModelError(f"model {model.name!r}: input shape {shape} has unknown dimensions",
                         hint="give the model a fixed input shape, e.g. keras.Input(shape=(96, 96, 3))")
    sample_shape = tuple(int(d) for d in shape[1:])
    if shape[0] == 1:
        return model, sample_shape
    # a fixed input name keeps the output byte-identical from one call to the next
    inp = keras.Input(shape=sample_shape, batch_size=1, dtype=inputs[0].dtype, name="input")
    try:
        return keras.Model(inp, model(inp), name=model.name), sample_shape
    except Exception as exc:
        raise ModelError(f"model {model.name!r} cannot be traced with a batch of 1 ({_first_line(exc)})",
                         hint="models whose call() depends on the batch size cannot be converted") from None


def _validation(val: Any, val_labels: Any, sample_shape: tuple[int, ...]) -> tuple[Any, Any]:
    if val is None:
        if val_labels is not None:
            raise UsageError("validation labels given without validation data", hint="pass val / --val too")
        return None, None
    y = None
    if isinstance(val, (str, os.PathLike)):
        val, y = load_array_file(val, "validation data")
    x = collect_samples(val, what="validation data", sample_shape=sample_shape)
    if val_labels is not None:
        y = load_array_file(val_labels, "validation labels")[0] if isinstance(val_labels, (str, os.PathLike)) \
            else np.asarray(val_labels)
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise DataError(f"validation labels: expected numbers, got {y.dtype} values")
        if len(y) != len(x):
            raise DataError(f"validation labels: {len(y)} labels for {len(x)} validation samples",
                            hint="give one label (class id, one-hot row or target) per sample")
    return x, y


# ---------------------------------------------------------------- conversion


def _convert(model: Any, x_cal: np.ndarray | None, io_dtype: str, *, progress: bool) -> bytes:
    """Run TFLiteConverter.from_keras_model: full int8 with calibration data, or float when ``x_cal`` is None."""
    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    show = progress and x_cal is not None and sys.stderr.isatty()
    with _quiet() as saved_stderr, _progress(show, saved_stderr, 0 if x_cal is None else len(x_cal)) as step:
        if x_cal is not None:
            def representative() -> Iterator[list[np.ndarray]]:
                for i in range(len(x_cal)):
                    step("calibrating")
                    yield [x_cal[i : i + 1]]
                step("quantizing", done=True)

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = getattr(tf, io_dtype)
            converter.inference_output_type = getattr(tf, io_dtype)
        try:
            return bytes(converter.convert())
        except Exception as exc:
            raise _conversion_error(exc, quantized=x_cal is not None) from None


def _conversion_error(exc: Exception, quantized: bool) -> ModelError:
    text = str(exc)
    ops = sorted(set(re.findall(r"'(?:tf|tfl)\.([A-Za-z0-9_]+)'", text)))
    what = "int8" if quantized else "float"
    if ops:
        return UnsupportedOpError(f"{what} conversion failed: op(s) {', '.join(ops)} cannot be converted to "
                                  "full-integer TFLite builtins",
                                  hint="replace those layers with int8-capable ones (see TFLite's op list)")
    errors = [ln.strip() for ln in text.splitlines() if "error" in ln.lower()]
    return ModelError(f"{what} conversion failed: {(errors or [text.strip() or type(exc).__name__])[0][:300]}",
                      hint="rerun with --debug for the converter's full message")


@contextlib.contextmanager
def _quiet() -> Iterator[int | None]:
    """Silence the converter: Keras' stdout prints, Python warnings and native logs on fd 2.

    Yields a duplicate of the original stderr fd (for the progress bar), or None when fd 2
    cannot be redirected.
    """
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            yield None
            return
        try:
            with tempfile.TemporaryFile() as sink:
                os.dup2(sink.fileno(), 2)
                try:
                    yield saved
                finally:
                    os.dup2(saved, 2)
        finally:
            os.close(saved)


@contextlib.contextmanager
def _progress(show: bool, fd: int | None, total: int) -> Iterator[Any]:
    """A rich progress bar on ``fd``; yields ``step(description, done=False)``."""
    if not show or fd is None:
        yield lambda description, done=False: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with os.fdopen(os.dup(fd), "w") as stream:
        console = Console(file=stream, stderr=True)
        columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("tracing", total=total)

            def step(description: str, done: bool = False) -> None:
                bar.update(task, description=description, advance=0 if done else 1)

            yield step


def verify_full_int8(tflite: bytes, io_dtype: str = "int8") -> dict[str, int]:
    """Check a converted model holds no float or hybrid op; returns op counts.

    Only the I/O QUANTIZE/DEQUANTIZE ops of a float32-I/O model may touch float tensors.
    Raises :class:`ModelError` naming the offending ops.
    """
    ops, graph_in, graph_out = _graph(tflite)
    counts: dict[str, int] = {}
    bad: list[str] = []
    for opcode, ins, outs in ops:
        counts[opcode] = counts.get(opcode, 0) + 1
        if not any(dtype in _FLOAT_DTYPES for _, dtype in ins + outs):
            continue
        at_boundary = opcode in ("QUANTIZE", "DEQUANTIZE") and (
            all(i in graph_in for i, _ in ins) or all(o in graph_out for o, _ in outs))
        if not (io_dtype == "float32" and at_boundary):
            bad.append(opcode)
    if bad:
        raise ModelError(f"the converted model still has float/hybrid ops: {', '.join(sorted(set(bad)))}",
                         hint="these layers could not be quantized to int8; refusing to write a hybrid model")
    return counts


def _graph(tflite: bytes) -> tuple[list[tuple[str, list[tuple[int, str]], list[tuple[int, str]]]], set, set]:
    """(opcode, [(tensor, dtype)] inputs, outputs) per op, graph inputs, graph outputs (pure-Python reader)."""
    from edgekit.tflite_model import load_model

    sg = load_model(tflite).main
    t = sg.tensors
    ops = [(op.opcode, [(i, t[i].dtype) for i in op.inputs if i >= 0], [(o, t[o].dtype) for o in op.outputs])
           for op in sg.operators]
    return ops, set(sg.inputs), set(sg.outputs)


# ---------------------------------------------------------------- results


def _make_report(name: str, io_dtype: str, num_calib: int, float_bytes: bytes, int8_bytes: bytes,
                 ops: dict[str, int], result: dict[str, Any], layer_data: str) -> ConversionReport:
    layers = [LayerQuality(name=d["name"], op=d["op"], shape=tuple(d["shape"]), dtype=d["dtype"], scale=d["scale"],
                           zero_point=d["zero_point"], sqnr_db=d["sqnr_db"], max_abs_error=d["max_abs_error"])
              for d in result.get("layers", [])]
    metrics = {k: result[k] for k in ("float_accuracy", "int8_accuracy", "top1_agreement", "float_mae", "float_rmse",
                                      "int8_mae", "int8_rmse", "mae_vs_float", "rmse_vs_float") if k in result}
    return ConversionReport(model=name, io_dtype=io_dtype, num_calib=num_calib, float_size=len(float_bytes),
                            int8_size=len(int8_bytes), ops=ops, task=result.get("task"),
                            num_val=result.get("num_val", 0), layers=layers,
                            layer_samples=result.get("layer_samples", 0), layer_data=layer_data,
                            unmatched_tensors=result.get("unmatched_tensors", []),
                            warnings=result.get("warnings", []), **metrics)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
