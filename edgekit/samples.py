"""Inputs for a model running on a device: read them, quantize float data, lay them out as upload bytes.

A device takes one input as the concatenation of the bytes of the model's input tensors, in order
(``docs/protocol.md``: ``ek-bin N%`` / ``db load N%``). Accepted sources:

- ``.npy``: an array of N samples (``N x input shape``) or one sample (``input shape``);
- ``.npz``: one array per model input, in input order (keys ``x``/``inputs`` first for a single input);
- ``.bin`` (any other extension): raw bytes, one sample per input-size block;
- a numpy array, a list of arrays (one per input), or ``bytes``.

Integer data must already be in the input tensor's dtype range. float32 data for a quantized input is quantized
with the tensor's scale and zero point: ``q = round_half_away(x / scale) + zero_point``, clipped to the dtype
(TFLite's rounding), and :attr:`DeviceInputs.note` says so.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError

SampleSource = str | os.PathLike[str] | np.ndarray | bytes | Sequence[np.ndarray]


@dataclass(frozen=True)
class DeviceInputs:
    """Samples ready for a device: ``samples[k][i]`` is input i of sample k, in the tensor's dtype and shape."""

    samples: tuple[tuple[np.ndarray, ...], ...]
    source: str
    note: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    def payload(self, k: int) -> bytes:
        """The bytes to upload for sample k (inputs concatenated in order)."""
        return b"".join(np.ascontiguousarray(a).tobytes() for a in self.samples[k])

    def sha256(self) -> str:
        h = hashlib.sha256()
        for k in range(len(self)):
            h.update(self.payload(k))
        return h.hexdigest()


@dataclass(frozen=True)
class _Spec:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None
    zero_point: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


def _specs(model: Any) -> list[_Spec]:
    sg = model.main
    out = []
    for idx in sg.inputs:
        t = sg.tensors[idx]
        q = t.quantization
        scale = float(q.scale[0]) if q is not None and q.scale else None
        zp = int(q.zero_point[0]) if q is not None and q.zero_point else 0
        out.append(_Spec(t.name, tuple(int(d) for d in t.shape), np.dtype(t.dtype), scale, zp))
    return out


def random_inputs(input_bytes: Sequence[int], *, seed: int = 0) -> DeviceInputs:
    """One sample of uniformly random bytes (reproducible with ``seed``) for inputs of the given sizes."""
    rng = np.random.default_rng(seed)
    arrays = tuple(rng.integers(0, 256, size=n, dtype=np.uint8) for n in input_bytes)
    return DeviceInputs((arrays,), f"random bytes (seed {seed})")


def load_device_inputs(source: SampleSource, model: Any | None = None, *,
                       input_bytes: Sequence[int] | None = None, limit: int | None = None) -> DeviceInputs:
    """Read samples from ``source`` for a model (a parsed TFLiteModel) or, without one, for raw input sizes.

    Raises:
        DataError: unreadable file, wrong size/shape/dtype, float data without a model to quantize with.
    """
    specs = _specs(model) if model is not None else None
    sizes = [s.nbytes for s in specs] if specs else list(input_bytes or [])
    if not sizes:
        raise DataError("cannot lay out inputs: neither the model nor the device's input sizes are known",
                        hint="benchmark a generated project directory (it names its model)")
    label = str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__
    arrays, label = _read(source, label)
    if isinstance(arrays, bytes):
        return _from_bytes(arrays, specs, sizes, label, limit)
    if len(arrays) != len(sizes):
        raise DataError(f"{label}: {len(arrays)} arrays for a model with {len(sizes)} inputs",
                        hint="pass one array per model input (an .npz with the arrays in input order)")
    notes: list[str] = []
    per_input = []
    for i, arr in enumerate(arrays):
        per_input.append(_convert(arr, specs[i] if specs else None, sizes[i], f"{label}: input {i}", notes))
    counts = {len(a) for a in per_input}
    if len(counts) != 1:
        raise DataError(f"{label}: the inputs hold different numbers of samples ({sorted(counts)})")
    n = counts.pop()
    if n == 0:
        raise DataError(f"{label}: no samples")
    if limit is not None:
        n = min(n, limit)
    samples = tuple(tuple(per_input[i][k] for i in range(len(per_input))) for k in range(n))
    return DeviceInputs(samples, label, "; ".join(notes))


def _read(source: SampleSource, label: str) -> tuple[bytes | list[np.ndarray], str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "bytes"
    if isinstance(source, np.ndarray):
        return [source], "array"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{path}: no such input file", hint="pass a .npy, .npz or .bin file")
        if path.suffix.lower() in (".npy", ".npz"):
            try:
                loaded = np.load(path, allow_pickle=False)
            except Exception as exc:  # numpy raises ValueError/OSError/zipfile errors for bad files
                raise DataError(f"{path}: not a readable numpy file ({exc})") from None
            if isinstance(loaded, np.ndarray):
                return [loaded], str(path)
            with loaded:
                keys = list(loaded.files)
                first = next((k for k in ("x", "inputs", "input") if k in keys), None)
                if first is not None:
                    keys = [first, *(k for k in keys if k != first)]
                return [loaded[k] for k in keys], str(path)
        return path.read_bytes(), str(path)
    if isinstance(source, Sequence) and all(isinstance(a, np.ndarray) for a in source):
        return list(source), "arrays"
    raise DataError(f"unsupported input source of type {type(source).__name__}",
                    hint="pass a .npy/.npz/.bin path, a numpy array, a list of arrays or bytes")


def _from_bytes(data: bytes, specs: list[_Spec] | None, sizes: list[int], label: str,
                limit: int | None) -> DeviceInputs:
    total = sum(sizes)
    if not data or len(data) % total:
        raise DataError(f"{label}: {len(data)} bytes is not a multiple of the model's input size ({total} bytes)",
                        hint="a .bin file holds raw input bytes, one sample after the other")
    n = len(data) // total
    if limit is not None:
        n = min(n, limit)
    samples = []
    for k in range(n):
        off = k * total
        parts = []
        for i, size in enumerate(sizes):
            chunk = data[off:off + size]
            off += size
            if specs:
                parts.append(np.frombuffer(chunk, dtype=specs[i].dtype).reshape(specs[i].shape).copy())
            else:
                parts.append(np.frombuffer(chunk, dtype=np.uint8).copy())
        samples.append(tuple(parts))
    return DeviceInputs(tuple(samples), label)


def _convert(arr: np.ndarray, spec: _Spec | None, nbytes: int, where: str, notes: list[str]) -> list[np.ndarray]:
    """Split one input's array into samples in the tensor's dtype (quantizing float data when needed)."""
    arr = np.asarray(arr)
    if spec is None:
        if np.issubdtype(arr.dtype, np.floating):
            raise DataError(f"{where}: float data needs the model's quantization parameters",
                            hint="benchmark the generated project directory (it names its model) or pass int8 data")
        flat = arr.reshape(-1)
        per = nbytes // arr.dtype.itemsize
        if flat.size % per:
            raise DataError(f"{where}: {flat.size} values do not split into samples of {per} values")
        return [flat[k * per:(k + 1) * per].copy() for k in range(flat.size // per)]
    size = spec.size
    if arr.size == size:
        batch = arr.reshape(1, size)
    elif arr.ndim >= 1 and arr.shape[0] and arr.size // arr.shape[0] == size and arr.size % arr.shape[0] == 0:
        batch = arr.reshape(arr.shape[0], size)
    else:
        raise DataError(f"{where}: shape {tuple(arr.shape)} does not hold samples of the input shape "
                        f"{list(spec.shape)} ({size} values)", hint="shape the data as N x input shape")
    want = spec.dtype
    if np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(want, np.floating):
        if spec.scale is None or spec.scale == 0:
            raise DataError(f"{where}: float data for the non-quantized {want} input '{spec.name}'")
        info = np.iinfo(want)
        if not np.all(np.isfinite(batch)):
            raise DataError(f"{where}: contains NaN or inf")
        v = batch.astype(np.float64) / spec.scale
        q = np.sign(v) * np.floor(np.abs(v) + 0.5) + spec.zero_point
        batch = np.clip(q, info.min, info.max).astype(want)
        notes.append(f"input '{spec.name}': float32 data quantized to {want} with scale {spec.scale:.6g} and "
                     f"zero point {spec.zero_point}")
    elif batch.dtype != want:
        ok = np.issubdtype(batch.dtype, np.integer) and np.issubdtype(want, np.integer) and (
            batch.min() >= np.iinfo(want).min and batch.max() <= np.iinfo(want).max)
        if not (ok or (np.issubdtype(want, np.floating) and np.issubdtype(batch.dtype, np.floating))):
            raise DataError(f"{where}: dtype {batch.dtype} does not fit the model's {want} input '{spec.name}'",
                            hint="pass float32 data (edgekit quantizes it) or data already in the input dtype")
        batch = batch.astype(want)
    return [batch[k].reshape(spec.shape).copy() for k in range(len(batch))]
