"""Model input data (calibration, validation) from files, arrays, iterables or ``tf.data``.

Everything here is numpy-only: a ``tf.data.Dataset`` is recognised by duck typing
(``as_numpy_iterator``), so importing this module never imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError

_X_KEYS = ("x", "X", "inputs", "input", "images", "data")
_Y_KEYS = ("y", "Y", "labels", "label", "targets", "target")


def load_array_file(path: str | os.PathLike, what: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``.npy`` (inputs only) or ``.npz`` (keys ``x``/``y``, else the first two arrays).

    Returns ``(x, y)``; ``y`` is ``None`` when the file holds no labels.
    Raises :class:`DataError` for a missing or unreadable file.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{what}: {p}: no such file", hint="pass a .npy or .npz file")
    if p.suffix.lower() not in (".npy", ".npz"):
        raise DataError(f"{what}: {p}: unsupported file type {p.suffix or '(none)'!r} (expected .npy or .npz)",
                        hint="save arrays with numpy.save / numpy.savez(x=..., y=...)")
    try:
        loaded = np.load(p, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError/OSError/zipfile errors for bad files
        raise DataError(f"{what}: {p}: not a readable numpy file ({exc})",
                        hint="save arrays with numpy.save / numpy.savez(x=..., y=...)") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        keys = list(loaded.files)
        if not keys:
            raise DataError(f"{what}: {p}: the .npz file holds no arrays", hint="save with numpy.savez(x=..., y=...)")
        x_key = next((k for k in _X_KEYS if k in keys), keys[0])
        y_key = next((k for k in _Y_KEYS if k in keys), None)
        if y_key is None and len(keys) > 1:
            y_key = next(k for k in keys if k != x_key)
        try:  # the members are read only here: a damaged one fails now (bad CRC, truncated, pickled)
            return loaded[x_key], (loaded[y_key] if y_key is not None else None)
        except Exception as exc:
            raise DataError(f"{what}: {p}: a damaged array in the .npz file ({type(exc).__name__}: {exc})",
                            hint="save arrays with numpy.savez(x=..., y=...) and check the copy is complete") \
                from None


def collect_samples(data: Any, *, what: str, sample_shape: tuple[int, ...], limit: int | None = None) -> np.ndarray:
    """Gather model input samples into one float32 array of shape ``(N, *sample_shape)``.

    Args:
        data: an array ``(N, *sample_shape)``; a ``.npy``/``.npz`` path; an iterable (generator,
            list, ``tf.data.Dataset``) yielding single samples ``sample_shape``, batches
            ``(B, *sample_shape)`` or ``(x, y)`` tuples (only ``x`` is used).
        what: name used in error messages ("calibration data", "validation data").
        sample_shape: shape of one sample (the model input without the batch dimension).
        limit: keep at most this many samples (``None``: all).

    Raises:
        DataError: wrong shape or dtype (names expected and got), no samples, NaN or inf values.
    """
    if limit is not None and limit < 1:
        raise DataError(f"{what}: the number of samples to use must be >= 1 (got {limit})")
    if isinstance(data, (str, os.PathLike)):
        data, _ = load_array_file(data, what)
    if isinstance(data, np.ndarray) or _is_tensor_like(data):
        x = _check_array(np.asarray(data), what, sample_shape, batched=True)
        if limit is not None:
            x = x[:limit]
    elif isinstance(data, Iterable):
        x = _from_iterable(data, what, sample_shape, limit)
    else:
        raise DataError(f"{what}: unsupported type {type(data).__name__}",
                        hint="pass a numpy array, a .npy/.npz path, a generator of arrays or a tf.data.Dataset")
    if len(x) == 0:
        raise DataError(f"{what} is empty (0 samples)", hint="pass at least one sample; 100-500 are typical")
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(x), -1).any(axis=1))[0, 0])
        raise DataError(f"{what} contains NaN or inf ({int(bad.sum())} values; first in sample {first})",
                        hint="clean or drop those samples before converting")
    return np.ascontiguousarray(x, dtype=np.float32)


def _is_tensor_like(obj: Any) -> bool:
    """A tf.Tensor / EagerTensor or anything numpy can take directly (but not a Dataset or a generator)."""
    return hasattr(obj, "__array__") and not hasattr(obj, "as_numpy_iterator")


def _describe(arr: np.ndarray) -> str:
    return f"{arr.dtype} array of shape {tuple(arr.shape)}"


def _check_dtype(arr: np.ndarray, what: str) -> None:
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{what}: expected float32 values, got {_describe(arr)}",
                        hint="scale the data the way the model was trained (e.g. x / 255) and cast to float32")


def _check_array(arr: np.ndarray, what: str, sample_shape: tuple[int, ...], batched: bool) -> np.ndarray:
    """Validate one array: ``(N, *sample_shape)`` when batched, else ``sample_shape`` or ``(B, *sample_shape)``."""
    _check_dtype(arr, what)
    shape = tuple(arr.shape)
    if shape[1:] == sample_shape:
        return arr
    if not batched and shape == sample_shape:
        return arr[None]
    expected = f"(N, {', '.join(map(str, sample_shape))})" if sample_shape else "(N,)"
    got = f"an element of shape {shape}" if not batched else f"shape {shape}"
    raise DataError(f"{what}: expected samples of shape {sample_shape}, i.e. an array {expected}; got {got}",
                    hint="reshape the data to the model's input shape")


def _from_iterable(data: Iterable, what: str, sample_shape: tuple[int, ...], limit: int | None) -> np.ndarray:
    if hasattr(data, "as_numpy_iterator"):
        if limit is None and hasattr(data, "cardinality") and int(data.cardinality()) == -1:  # INFINITE_CARDINALITY
            raise DataError(f"{what}: the tf.data.Dataset is infinite (repeat())",
                            hint="pass num_calib (--num-calib) or take(n) from the dataset")
        iterator = data.as_numpy_iterator()
    else:
        iterator = iter(data)
    chunks: list[np.ndarray] = []
    count = 0
    for item in iterator:
        if isinstance(item, dict):
            item = next(iter(item.values()), None)
        if isinstance(item, (tuple, list)) and item and not isinstance(item[0], (int, float)):
            item = item[0]  # (x, y) pairs, or [x] as a representative_dataset yields
        arr = np.asarray(item)
        chunk = _check_array(arr, what, sample_shape, batched=False)
        chunks.append(chunk)
        count += len(chunk)
        if limit is not None and count >= limit:
            break
    if not chunks:
        return np.zeros((0, *sample_shape), np.float32)
    x = np.concatenate(chunks)
    return x[:limit] if limit is not None else x
