"""Run a float and a quantized ``.tflite`` side by side and measure what quantization changed.

This runs in the converter child process (:mod:`edgekit._convert_child`) by default: TFLite
aborts the whole process (SIGABRT) on some degenerate quantized models instead of raising, and
the user's process must survive that.

Tensor matching: both models come from the same traced graph, so the converter gives an
activation the same name in both. The int8 model adds I/O QUANTIZE/DEQUANTIZE ops whose tensors
take over the original names; those are followed through to the float tensor they stand for.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

_IO_OPS = ("QUANTIZE", "DEQUANTIZE")
_TINY_SCALE = 1e-7  # below this a tensor did not vary during calibration (converter's minimum range)


def make_interpreter(model: bytes) -> Any:
    """A TFLite interpreter without default delegates (bit-exact with TFLM), all tensors preserved."""
    import warnings

    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType  # type: ignore[import-not-found]
    except ImportError:
        from tensorflow.lite.python.interpreter import Interpreter, OpResolverType
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interp = Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    return interp


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return x.astype(dtype)
    scale, zp = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zp), info.min, info.max).astype(dtype)


def _dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    if not np.issubdtype(detail["dtype"], np.integer):
        return q.astype(np.float32)
    scale, zp = detail["quantization"]
    return (q.astype(np.float32) - zp) * np.float32(scale)


class _Runner:
    """One interpreter plus its tensor table, ops and I/O details."""

    def __init__(self, model: bytes) -> None:
        self.interp = make_interpreter(model)
        self.tensors = {t["index"]: t for t in self.interp.get_tensor_details()}
        self.ops = self.interp._get_ops_details()
        self.input = self.interp.get_input_details()[0]
        self.output = self.interp.get_output_details()[0]

    def run(self, sample: np.ndarray) -> np.ndarray:
        """Invoke on one float sample; return the first output as float32 (dequantized)."""
        self.interp.set_tensor(self.input["index"], _quantize(sample[None], self.input))
        self.interp.invoke()
        return _dequantize(self.interp.get_tensor(self.output["index"]), self.output).reshape(-1)

    def value(self, index: int) -> np.ndarray:
        return self.interp.get_tensor(index)


def _pairs(flt: _Runner, q: _Runner) -> tuple[list[tuple[int, int, str]], list[str]]:
    """(int8 tensor, float tensor, op) pairs for every quantized activation; names left unmatched."""
    by_name: dict[str, int] = {}
    for d in flt.interp.get_input_details():
        by_name[d["name"]] = d["index"]
    for op in flt.ops:
        for i in op["outputs"]:
            by_name[flt.tensors[i]["name"]] = i

    def lookup(index: int) -> int | None:
        t = q.tensors[index]
        f = by_name.get(t["name"])
        return f if f is not None and tuple(flt.tensors[f]["shape"]) == tuple(t["shape"]) else None

    producer: dict[int, dict] = {}
    consumers: dict[int, list[dict]] = {}
    for op in q.ops:
        for i in op["outputs"]:
            producer[i] = op
        for i in op["inputs"]:
            consumers.setdefault(i, []).append(op)

    candidates = [(d["index"], "INPUT") for d in q.interp.get_input_details()]
    candidates += [(i, op["op_name"]) for op in q.ops for i in op["outputs"]]
    pairs, unmatched = [], []
    for index, opname in candidates:
        t = q.tensors[index]
        if not np.issubdtype(t["dtype"], np.integer) or t["quantization"][0] == 0:
            continue
        f = lookup(index)
        if f is None and opname in _IO_OPS:  # QUANTIZE(float input) -> its float source
            src = producer[index]["inputs"][0]
            f = lookup(src) if src >= 0 else None
        if f is None:  # int8 tensor feeding an I/O (DE)QUANTIZE that took over the original name
            for op in consumers.get(index, []):
                if op["op_name"] in _IO_OPS and (f := lookup(op["outputs"][0])) is not None:
                    break
        if f is None:
            unmatched.append(t["name"])
        else:
            pairs.append((index, f, opname))
    return pairs, unmatched


def _labels_as_classes(y: np.ndarray, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        return y.argmax(axis=1)
    return y.reshape(len(y)).astype(np.int64)


def resolve_task(task: str, k: int, y: np.ndarray | None) -> str:
    """classification or regression, from the output width and the labels when ``task == "auto"``."""
    if task != "auto":
        return task
    if y is None:
        return "classification" if k > 1 else "regression"
    y = np.asarray(y)
    if k > 1 and y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        return "classification"
    if k > 1 and y.ndim == 2 and y.shape[1] == k and np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
        return "classification"
    return "regression"


def _predict(out: np.ndarray) -> np.ndarray:
    return out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(np.int64)


def _task_metrics(task: str, f_out: np.ndarray, q_out: np.ndarray, y: np.ndarray | None) -> dict[str, float]:
    m: dict[str, float] = {}
    if task == "classification":
        m["top1_agreement"] = float(np.mean(_predict(f_out) == _predict(q_out)))
        if y is not None:
            cls = _labels_as_classes(y, f_out.shape[1])
            m["float_accuracy"] = float(np.mean(_predict(f_out) == cls))
            m["int8_accuracy"] = float(np.mean(_predict(q_out) == cls))
        return m
    diff = q_out - f_out
    m["mae_vs_float"] = float(np.mean(np.abs(diff)))
    m["rmse_vs_float"] = float(np.sqrt(np.mean(diff**2)))
    if y is not None:
        yy = np.asarray(y, np.float32).reshape(f_out.shape)
        for name, out in (("float", f_out), ("int8", q_out)):
            m[f"{name}_mae"] = float(np.mean(np.abs(out - yy)))
            m[f"{name}_rmse"] = float(np.sqrt(np.mean((out - yy) ** 2)))
    return m


def evaluate(job: dict[str, Any]) -> dict[str, Any]:
    """Compare the float and int8 models of ``job`` (see :func:`edgekit.conversion.convert` for the keys)."""
    flt, q = _Runner(bytes(job["float_tflite"])), _Runner(bytes(job["int8_tflite"]))
    pairs, unmatched = _pairs(flt, q)
    result: dict[str, Any] = {"unmatched_tensors": unmatched, "warnings": []}

    layer_x = job["layer_x"]
    sig = np.zeros(len(pairs))
    noise = np.zeros(len(pairs))
    maxerr = np.zeros(len(pairs))
    out_sig = out_noise = 0.0
    for sample in layer_x:
        f_out = flt.run(sample).astype(np.float64)
        q_out = q.run(sample).astype(np.float64)
        out_sig += float(np.sum(f_out * f_out))
        out_noise += float(np.sum((q_out - f_out) ** 2))
        for j, (qi, fi, _) in enumerate(pairs):
            fv = flt.value(fi).astype(np.float64)
            err = _dequantize(q.value(qi), q.tensors[qi]).astype(np.float64) - fv
            sig[j] += float(np.sum(fv * fv))
            noise[j] += float(np.sum(err * err))
            maxerr[j] = max(maxerr[j], float(np.max(np.abs(err))) if err.size else 0.0)
    layers = []
    for j, (qi, _, opname) in enumerate(pairs):
        t = q.tensors[qi]
        scale, zp = t["quantization"]
        sqnr = _sqnr(sig[j], noise[j])
        layers.append({"name": t["name"], "op": opname, "shape": [int(s) for s in t["shape"]],
                       "dtype": np.dtype(t["dtype"]).name, "scale": float(scale), "zero_point": int(zp),
                       "sqnr_db": sqnr, "max_abs_error": float(maxerr[j])})
        if 0 < scale < _TINY_SCALE:
            result["warnings"].append(
                f"{opname} output {t['name'].split(';')[0]!r} has scale {scale:.2g}: it did not vary during "
                "calibration (constant or all-zero calibration data, or a dead layer)")
    layers.sort(key=lambda d: d["sqnr_db"])
    result["output_sqnr_db"] = _sqnr(out_sig, out_noise)
    result["layers"] = layers
    result["layer_samples"] = len(layer_x)

    val_x = job.get("val_x")
    if val_x is not None and len(val_x):
        y = job.get("val_y")
        f_out = np.stack([flt.run(s) for s in val_x])
        q_out = np.stack([q.run(s) for s in val_x])
        task = resolve_task(job.get("task", "auto"), f_out.shape[1], y)
        result["task"] = task
        result["num_val"] = len(val_x)
        result.update(_task_metrics(task, f_out, q_out, y))
    return result


def _sqnr(signal: float, noise: float) -> float:
    """10·log10(signal / noise) in dB; inf for an exact match."""
    return math.inf if noise == 0 else (-math.inf if signal == 0 else 10 * math.log10(signal / noise))


def encode(result: dict[str, Any]) -> str:
    """JSON text of a result dict; infinite floats (exact layers) survive as strings (see :func:`decode`)."""

    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return repr(v)  # 'inf' / '-inf' survive the JSON round trip as strings
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return json.dumps(fix(result))


def decode(text: str) -> dict[str, Any]:
    """Inverse of :func:`encode` (turns 'inf'/'-inf' strings back into floats)."""
    def fix(v: Any) -> Any:
        if isinstance(v, str) and v in ("inf", "-inf"):
            return float(v)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return fix(json.loads(text))
