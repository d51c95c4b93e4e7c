"""PyTorch and ONNX models in: ``.onnx`` files, ``torch.export`` programs (``.pt2``) and ``nn.Module`` objects.

:func:`source_kind` tells which front-end a model needs without importing torch or onnx;
:func:`edgekit.frontends.convert.convert_source` converts it (every converter runs in a child
process with a timeout, see :mod:`edgekit.frontends._child`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

SUFFIXES = {".onnx": "onnx", ".pt2": "pt2"}
EXTRAS = {"onnx": "onnx", "pt2": "torch", "torch": "torch"}


def source_kind(model: Any) -> str | None:
    """``"onnx"``, ``"pt2"`` or ``"torch"`` (an ``nn.Module``) for models this package converts, else None."""
    if isinstance(model, (str, os.PathLike)):
        return SUFFIXES.get(Path(model).suffix.lower())
    torch = sys.modules.get("torch")  # a module object implies torch is imported already
    if torch is not None and isinstance(model, torch.nn.Module):
        return "torch"
    return None


def require(kind: str) -> None:
    """Raise :class:`ToolMissing` naming the extra when the packages a front-end needs are absent."""
    import importlib.util

    from edgekit.errors import ToolMissing

    needed = {"onnx": ("onnx", "onnxruntime", "torch", "litert_torch"), "pt2": ("torch", "litert_torch"),
              "torch": ("torch", "litert_torch")}[kind]
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        extra = EXTRAS[kind]
        raise ToolMissing(f"converting {'ONNX' if kind == 'onnx' else 'PyTorch'} models needs "
                          f"{', '.join(missing)} (the '{extra}' extra)", hint=f"pip install 'edgekit[{extra}]'")
