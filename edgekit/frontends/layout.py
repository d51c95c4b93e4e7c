"""Input data in the source model's layout (NCHW / NCL) turned into the converted model's (NHWC / N1LC).

``validate`` and ``bench`` take ``layout="nchw"`` (CLI ``--layout nchw``) for data given the way the
PyTorch/ONNX model took it; the default ``"nhwc"`` passes data through as the device expects it.
No torch needed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from edgekit.errors import DataError, UsageError

LAYOUTS = ("nhwc", "nchw")


def to_device_layout(x: np.ndarray) -> np.ndarray:
    """A channels-first batch ``(N, C, ...)`` in the converted model's layout: NCHW -> NHWC, NCL -> N1LC."""
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    if x.ndim == 3:
        return np.ascontiguousarray(x.transpose(0, 2, 1)[:, None])
    return x


def apply_layout(inputs: Any, layout: str | None) -> Any:
    """``inputs`` as given (``nhwc``/None) or read and moved from channels-first to channels-last (``nchw``).

    Channels-first data must be an array or a ``.npy``/``.npz`` file holding one batch ``(N, C, ...)``.
    """
    if layout is None or layout == "nhwc":
        return inputs
    if layout != "nchw":
        raise UsageError(f"layout: {layout!r} is not one of {', '.join(LAYOUTS)}")
    if isinstance(inputs, (str, os.PathLike)):
        from edgekit.data import load_array_file

        inputs = load_array_file(inputs, "inputs")[0]
    if not isinstance(inputs, np.ndarray):
        raise DataError(f"layout nchw: inputs must be an array or a .npy/.npz file, got {type(inputs).__name__}")
    if inputs.ndim not in (3, 4):
        raise DataError(f"layout nchw: inputs of shape {inputs.shape}: expected a batch (N, C, H, W) or (N, C, L)",
                        hint="for 2-D inputs the layouts are the same: omit --layout")
    return to_device_layout(inputs)
