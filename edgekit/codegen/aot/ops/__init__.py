"""Op handlers of the AOT code generator: importing this package registers every handler.

Each module in this package defines :class:`~edgekit.codegen.aot.ops.base.OpHandler` subclasses
decorated with :func:`~edgekit.codegen.aot.ops.base.register`; adding a module needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil

from edgekit.codegen.aot.ops.base import REGISTRY, OpContext, OpHandler, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["REGISTRY", "OpContext", "OpHandler", "register"]
