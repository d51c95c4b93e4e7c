"""edgekit: take a trained model to a microcontroller or SBC and measure what it costs there.

The public API is imported lazily so that ``import edgekit`` (and ``edgekit --help``)
never pulls TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> "module:attribute"; resolved on first access (PEP 562).
_LAZY = {
    "EdgekitError": "edgekit.errors:EdgekitError",
    "load_board": "edgekit.boards:load_board",
    "list_boards": "edgekit.boards:list_boards",
    "load_model": "edgekit.tflite_model:load_model",
    "inspect": "edgekit.inspection:inspect",
    "convert": "edgekit.conversion:convert",
    "generate": "edgekit.generation:generate",
    "build": "edgekit.buildsys:build",
    "bench": "edgekit.benchmarking:bench",
    "validate": "edgekit.validation:validate",
    "flash": "edgekit.flashers:flash",
    "deploy": "edgekit.deployment:deploy",
    "sweep": "edgekit.sweeps:sweep",
    "select": "edgekit.selection:select",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'edgekit' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
