"""The TensorFlow side of :mod:`edgekit.conversion`: load, prepare, convert, evaluate.

By default this runs in the converter child process (:mod:`edgekit._convert_child`): TF 2.21's
converter kills its process on some models (SIGSEGV while quantizing a Keras 3 LSTM), and
TFLite aborts on degenerate quantized ones. With ``isolate=False`` it runs in the caller's process.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import ModelError, UnsupportedOpError

Step = Callable[..., None]  # step(stage, done=None, total=None)


def no_progress(stage: str, done: int | None = None, total: int | None = None) -> None:
    """A progress callback that shows nothing."""


def import_tensorflow() -> Any:
    """Import TensorFlow and Keras once, keeping their start-up log lines off the terminal; returns ``tf``."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with quiet():
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    return sys.modules["tensorflow"]


LOG_TO_FDS = False  # the converter child sets this: its fd 1/2 already go to its log, keep everything there


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence TensorFlow in this process: Python prints, warnings, and native logs on fd 1 and 2."""
    if LOG_TO_FDS:  # in the child: prints and warnings go to the log as they are
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = [os.dup(1), os.dup(2)]
        except (OSError, ValueError):
            yield
            return
        try:
            with tempfile.TemporaryFile() as sink:
                os.dup2(sink.fileno(), 1)
                os.dup2(sink.fileno(), 2)
                try:
                    yield
                finally:
                    os.dup2(saved[0], 1)
                    os.dup2(saved[1], 2)
        finally:
            for fd in saved:
                os.close(fd)


@dataclass
class Prepared:
    """A model ready to convert: fixed batch of 1, recurrent layers unrolled."""

    model: Any
    name: str
    sample_shape: tuple[int, ...]
    recurrent: list[str]
    stateful: bool
    loops: list[str]


def load(model: Any, name: str | None = None) -> Prepared:
    """Load (object, ``.keras``/``.h5`` file or SavedModel directory) and prepare a model for conversion."""
    from edgekit import _rnn

    keras_model, shown = _load_model(model)
    fixed, sample_shape = _batch1(keras_model)
    recurrent = _rnn.recurrent_layers(keras_model)
    stateful = _rnn.is_stateful(keras_model)
    if recurrent:  # the clone gets its own batch-1 input
        fixed = _rnn.unroll(keras_model, sample_shape)
    return Prepared(fixed, name or shown, sample_shape, [type(r).__name__ for r in recurrent], stateful,
                    _rnn.loops(keras_model))


def _load_model(model: Any) -> tuple[Any, str]:
    import_tensorflow()
    import keras

    from edgekit.conversion_common import check_model_path as _check_model_path

    if isinstance(model, keras.Model):
        return model, model.name
    if not isinstance(model, (str, os.PathLike)):
        raise ModelError(f"cannot convert a {type(model).__name__}: expected a Keras model, a .keras/.h5 file "
                         "or a SavedModel directory")
    path = Path(model)
    kind = _check_model_path(path)
    try:
        with quiet():
            if kind == "savedmodel":
                return _load_savedmodel(path), str(path)
            return keras.models.load_model(path, compile=False), str(path)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{path}: cannot load the model ({first_line(exc)})",
                         hint="custom layers? load it yourself (custom_objects=...) and pass the model object "
                              "to edgekit.convert(..., isolate=False)") from None


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
        raise ModelError(f"model {model.name!r} cannot be traced with a batch of 1 ({first_line(exc)})",
                         hint="models whose call() depends on the batch size cannot be converted") from None


def convert_tflite(prep: Prepared, x_cal: np.ndarray | None, io_dtype: str, activations: str = "int8",
                   step: Step = no_progress) -> bytes:
    """One TFLiteConverter run: full integer (int8 or 16x8) with calibration data, or float when ``x_cal`` is None."""
    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(prep.model)
    if prep.stateful:  # recurrent state as resource variables, quantized like activations
        converter.experimental_enable_resource_variables = True
        converter._experimental_variable_quantization = x_cal is not None
    what = "float" if x_cal is None else ("16x8" if activations == "int16" else "int8")
    with quiet():
        if x_cal is not None:
            def representative() -> Iterator[list[np.ndarray]]:
                for i in range(len(x_cal)):
                    step(f"calibrating {what}", i + 1, len(x_cal))
                    yield [x_cal[i : i + 1]]
                step(f"quantizing {what}")

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            ops = tf.lite.OpsSet
            converter.target_spec.supported_ops = [
                ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 if activations == "int16"
                else ops.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = getattr(tf, io_dtype)
            converter.inference_output_type = getattr(tf, io_dtype)
        step(f"tracing ({what})")
        try:
            return bytes(converter.convert())
        except Exception as exc:
            raise conversion_error(exc, what) from None


def conversion_error(exc: Exception, what: str) -> ModelError:
    """A converter exception as one clear error (ops named when the converter names them)."""
    text = str(exc)
    ops = sorted(set(re.findall(r"'(?:tf|tfl)\.([A-Za-z0-9_]+)'", text)))
    if ops:
        return UnsupportedOpError(f"{what} conversion failed: op(s) {', '.join(ops)} cannot be converted to "
                                  "full-integer TFLite builtins",
                                  hint="replace those layers with int8-capable ones (see TFLite's op list)")
    errors = [ln.strip() for ln in text.splitlines() if "error" in ln.lower()]
    return ModelError(f"{what} conversion failed: {(errors or [text.strip() or type(exc).__name__])[0][:300]}",
                      hint="rerun with --debug for the converter's full message")


def run(prep: Prepared, job: dict[str, Any], step: Step = no_progress) -> dict[str, Any]:
    """Convert for each activation type in ``job["activations"]``, convert float, evaluate each against float.

    Returns ``{"float": bytes, "models": {act: bytes}, "ops": {act: counts}, "evals": {act: result},
    "seconds": {...}}``. ``job`` holds ``x_cal``, ``layer_x``, optional ``val_x``/``val_y``, ``task``, ``io_dtype``.
    """
    from edgekit._quant_eval import evaluate
    from edgekit.conversion_common import verify_full_int8

    out: dict[str, Any] = {"models": {}, "ops": {}, "evals": {}, "seconds": {}}
    for act in job["activations"]:
        t0 = time.perf_counter()
        io_dtype = job["io_dtype"] if job["io_dtype"] != "auto" else act
        data = convert_tflite(prep, job["x_cal"], io_dtype, act, step)
        try:
            out["ops"][act] = verify_full_int8(data, io_dtype)
        except ModelError as exc:
            raise ModelError(f"{'16x8' if act == 'int16' else act} conversion: {exc.message}", hint=exc.hint) from None
        out["models"][act] = data
        out["seconds"][act] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out["float"] = convert_tflite(prep, None, "float32", step=step)
    out["seconds"]["float"] = time.perf_counter() - t0
    for act, data in out["models"].items():
        t0 = time.perf_counter()
        step(f"evaluating {'16x8' if act == 'int16' else act}")
        job_eval = {"float_tflite": out["float"], "int8_tflite": data, "layer_x": job["layer_x"], "task": job["task"]}
        for key in ("val_x", "val_y"):
            if job.get(key) is not None:
                job_eval[key] = job[key]
        out["evals"][act] = evaluate(job_eval)
        out["seconds"][f"eval_{act}"] = time.perf_counter() - t0
    return out


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when empty), at most 200 characters."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
