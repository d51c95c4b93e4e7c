"""What the two conversion routes share (Keras/SavedModel in :mod:`edgekit.conversion`, PyTorch/ONNX in
:mod:`edgekit.frontends`): the result type, the checks of the inputs before a converter starts, and the check that
a converted model is full integer. Imports neither TensorFlow nor torch, and no converter module."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import collect_samples, load_array_file
from edgekit.errors import DataError, ModelError, UsageError
from edgekit.report import ActivationsComparison, ConversionReport

__all__ = ["ConversionResult", "check_model_path", "check_output", "validation_data", "verify_full_int8"]

_FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")


@dataclass
class ConversionResult:
    """The quantized model (``tflite_bytes``), its report, where it was written (if anywhere), and the
    float model it was compared with (``float_tflite_bytes``, same fixed batch of 1).

    With ``activations="compare"``, ``comparison`` holds both reports and the recommendation, and
    ``alternatives`` both models (``"int8"``, ``"int16"``); ``tflite_bytes``/``report`` are the recommended one.
    ``log`` is what TensorFlow printed while converting (shown with ``--debug``).
    """

    tflite_bytes: bytes
    report: ConversionReport
    output: Path | None = None
    float_tflite_bytes: bytes | None = None
    comparison: ActivationsComparison | None = None
    alternatives: dict[str, bytes] = field(default_factory=dict)
    log: str = ""


def check_output(output: str | os.PathLike | None) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    if path.is_dir():
        raise UsageError(f"output: {path} is a directory", hint="give a file name such as model_int8.tflite")
    if not path.parent.is_dir():
        raise UsageError(f"output: directory {path.parent} does not exist", hint="create it first")
    return path


def check_model_path(path: Path) -> str:
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


def validation_data(val: Any, val_labels: Any, sample_shape: tuple[int, ...]) -> tuple[Any, Any]:
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
