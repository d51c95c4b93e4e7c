"""The TFLM host interpreter (PyPI ``tflite-micro``) as an oracle, always in a subprocess.

TFLM aborts the whole process on some degenerate models (e.g. a tiny activation scale makes its quantized
multiplier code fail a check), so every call runs ``_tflm_child.py`` in a fresh Python and reports a crash as
:class:`~edgekit.errors.NativeCrash`. Data goes through ``.npz`` files in a temporary directory.

Arena figures come from the x86-64 host build: pointers there are 8 bytes, so a 32-bit MCU needs a little
less (the KWS DS-CNN: 24,272 B on the host, 22,772 B on a Cortex-M4).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit import proc
from edgekit.errors import (
    DataError,
    EdgekitError,
    ModelError,
    NativeCrash,
    ToolMissing,
    UnsupportedOpError,
    UsageError,
    signal_name,
)
from edgekit.tflite_model import Tensor, TFLiteModel, load_model

__all__ = ["ArenaUsage", "tflm_arena_bytes", "tflm_arena_usage", "tflm_available", "tflm_run"]

_CHILD = Path(__file__).with_name("_tflm_child.py")
_INSTALL_HINT = "pip install 'edgekit[convert]' (the tflite-micro wheels are Linux x86-64 only)"

ModelSource = bytes | str | os.PathLike[str] | TFLiteModel
Sample = np.ndarray | Sequence[np.ndarray]


@dataclass(frozen=True)
class ArenaUsage:
    """TFLM tensor-arena figures for one model on the host interpreter.

    Attributes:
        total: "Arena allocation total" printed by TFLM's RecordingMicroAllocator after one inference.
        head: its non-persistent (activation) part.
        tail: its persistent part.
        required: the arena size to configure: ``total`` when the model runs in exactly that much, else the
            smallest size that runs (TFLM's memory planner needs temporary room while it allocates, which
            ``total`` does not include on small models).
        smallest: the smallest arena size that runs, when it was searched for (else None).
    """

    total: int
    head: int
    tail: int
    required: int
    smallest: int | None = None


def tflm_available() -> bool:
    """Whether the ``tflite_micro`` package is importable (checked without importing it)."""
    return importlib.util.find_spec("tflite_micro") is not None


def tflm_arena_usage(model: ModelSource, *, smallest: bool = False, timeout: float = 300.0) -> ArenaUsage:
    """Measure the arena TFLM uses for ``model``; with ``smallest`` also bisect for the smallest size that runs.

    Raises:
        ToolMissing: tflite-micro is not installed.
        NativeCrash: TFLM aborted (the signal is named).
        UnsupportedOpError / ModelError: TFLM refused the model.
    """
    parsed, data = _load(model)
    req = {"op": "arena", "n_inputs": len(parsed.main.inputs), "smallest": smallest}
    res = _call(data, req, None, parsed, "measuring the arena of", timeout)[0]
    rep = res["reported"]
    return ArenaUsage(total=rep["total"], head=rep.get("head", 0), tail=rep.get("tail", 0), required=res["required"],
                      smallest=res.get("smallest"))


def tflm_arena_bytes(model: ModelSource, *, timeout: float = 300.0) -> int:
    """The tensor-arena size (bytes) TFLM needs for ``model`` on the host (see :class:`ArenaUsage`)."""
    return tflm_arena_usage(model, timeout=timeout).required


def tflm_run(model: ModelSource, inputs: Sequence[Sample] | np.ndarray, arena_size: int | None = None, *,
             timeout: float = 600.0) -> list[list[np.ndarray]]:
    """Run many inferences in one TFLM subprocess.

    Args:
        model: .tflite bytes, a path, or a parsed model.
        inputs: one entry per inference. For a single-input model an entry is an array (its size must equal the
            input tensor's; it is reshaped to it); for several inputs an entry is a sequence of arrays, one per
            model input. An ndarray is read as a batch along its first axis. Dtypes must match the model's input
            dtypes (integers are accepted when every value fits), nothing is quantized here.
        arena_size: tensor arena bytes; None picks one that fits.
        timeout: seconds for the whole batch.

    Returns:
        One list of output arrays (in model output order) per inference.
    """
    parsed, data = _load(model)
    sg = parsed.main
    in_tensors = [sg.tensors[i] for i in sg.inputs]
    samples = [_sample(entry, in_tensors, k) for k, entry in enumerate(inputs)]
    if arena_size is not None and arena_size <= 0:
        raise UsageError(f"arena_size must be positive, got {arena_size}")
    req = {"op": "run", "arena_size": arena_size, "samples": len(samples), "n_inputs": len(in_tensors),
           "n_outputs": len(sg.outputs)}
    arrays = {f"s{k}_{i}": a for k, sample in enumerate(samples) for i, a in enumerate(sample)}
    _, outputs = _call(data, req, arrays, parsed, "running", timeout)
    return [[outputs[f"s{k}_{o}"] for o in range(len(sg.outputs))] for k in range(len(samples))]


def _load(model: ModelSource) -> tuple[TFLiteModel, bytes]:
    if not tflm_available():
        raise ToolMissing("the TFLM host interpreter (Python package tflite-micro) is not installed",
                          hint=_INSTALL_HINT)
    parsed = model if isinstance(model, TFLiteModel) else load_model(model)
    return parsed, parsed.data


def _sample(entry: Sample, tensors: list[Tensor], k: int) -> list[np.ndarray]:
    parts = [entry] if len(tensors) == 1 and isinstance(entry, np.ndarray) else list(entry)
    if len(parts) != len(tensors):
        raise DataError(f"input sample {k}: {len(parts)} arrays for a model with {len(tensors)} inputs")
    out = []
    for i, (arr, t) in enumerate(zip(parts, tensors, strict=True)):
        arr = np.asarray(arr)
        want = np.dtype(t.dtype)
        where = f"input sample {k}, input {i} '{t.name}'"
        if arr.size != t.size:
            raise DataError(f"{where}: {arr.size} values, the model expects shape {list(t.shape)} ({t.size} values)")
        if arr.dtype != want:
            if not (np.issubdtype(arr.dtype, np.integer) and np.issubdtype(want, np.integer)
                    and (arr.size == 0 or (arr.min() >= np.iinfo(want).min and arr.max() <= np.iinfo(want).max))):
                raise DataError(f"{where}: dtype {arr.dtype}, the model expects {want}",
                                hint="quantize inputs with the input tensor's scale and zero_point first"
                                if t.quantization else None)
            arr = arr.astype(want)
        out.append(arr.reshape(t.shape).copy(order="C"))  # not ascontiguousarray: it turns shape () into (1,)
    return out


def _call(data: bytes, req: dict, arrays: dict[str, np.ndarray] | None, parsed: TFLiteModel, what: str,
          timeout: float) -> tuple[dict, dict[str, np.ndarray]]:
    name = parsed.path.name if parsed.path else "model"
    with tempfile.TemporaryDirectory(prefix="edgekit-tflm-") as tmp:
        work = Path(tmp)
        (work / "model.tflite").write_bytes(data)
        (work / "request.json").write_text(json.dumps(req))
        if arrays is not None:
            np.savez(work / "inputs.npz", **arrays)
        # -I: isolated mode keeps the child's directory (edgekit/, whose inspect.py would shadow the stdlib
        # module) and PYTHON* variables out of its sys.path.
        res = proc.run([sys.executable, "-I", _CHILD, work], cwd=work, timeout=timeout, check=False,
                       what=f"TFLM host interpreter ({what} {name})")
        log = (work / "stderr.log").read_bytes().decode("utf-8", "replace") if (work / "stderr.log").exists() else ""
        last = _last_line(log + (res.stderr or ""))
        if res.returncode < 0:
            sig = signal_name(-res.returncode)
            raise NativeCrash(f"TFLM host interpreter crashed with {sig} while {what} {name}",
                              hint=_crash_hint(last))
        result_file = work / "result.json"
        if res.returncode != 0 or not result_file.exists():
            raise EdgekitError(f"TFLM host interpreter failed (exit {res.returncode}) while {what} {name}",
                               hint=last or None)
        result = json.loads(result_file.read_text())
        if not result.get("ok"):
            _raise(result, log, what, name)
        outputs: dict[str, np.ndarray] = {}
        if (work / "outputs.npz").exists():
            with np.load(work / "outputs.npz") as npz:
                outputs = {k: npz[k] for k in npz.files}
        return result, outputs


def _raise(result: dict, log: str, what: str, name: str) -> None:
    kind, err = result.get("kind"), str(result.get("error", "")).strip()
    if kind == "import":
        raise ToolMissing(f"cannot load the TFLM host interpreter: {err}", hint=_INSTALL_HINT)
    missing = next((line for line in log.splitlines() if "Didn't find op" in line or "not supported" in line), None)
    if missing:
        raise UnsupportedOpError(f"TFLM cannot run {name}: {missing.strip()}",
                                 hint="TFLM lacks a kernel for this op/type; check 'edgekit inspect'")
    text = f"{log}\n{err}".lower()
    if "allocate" in text or "arena" in text or "too many buffers" in text:  # "Too many buffers": planner scratch
        detail = next((ln.strip() for ln in log.splitlines() if "allocate" in ln.lower()), _last_line(log) or err)
        raise UsageError(f"TFLM could not allocate {name} in the given arena: {detail}",
                         hint="use a larger arena_size (tflm_arena_bytes() gives the size TFLM needs)")
    raise ModelError(f"TFLM refused {name} while {what} it: {_last_line(log) or err}")


_QUANT_WORDS = ("multiplier", "scale", "quantiz", "shift")


def _crash_hint(last: str) -> str:
    """A hint that says only what the crash shows: TFLM's last message, and a cause only when it names one."""
    said = f"TFLM's last message: {last}. " if last else "TFLM printed nothing before it died. "
    if any(w in last.lower() for w in _QUANT_WORDS):
        return said + "The model's quantization is degenerate (e.g. a tiny activation scale, from constant or " \
                      "too few calibration samples): TFLM checks it with an assert that aborts; re-convert " \
                      "with representative calibration data"
    return said + "TFLM aborts the process instead of returning an error on some failures; 'edgekit inspect " \
                  "MODEL' shows whether TFLM has kernels for every op"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("[RecordingMicroAllocator]")]
    return lines[-1][:300] if lines else ""


