"""Test helper: edit a .tflite through the generated flatbuffer object API shipped with tflite-micro.

Used to craft hostile or unusual models (negative scales, hybrid ops, unknown ops) from real ones.
Tests only: edgekit itself never uses the generated schema module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import need_module


def schema() -> Any:
    """The generated schema module (skip locally / fail in CI when tflite-micro is missing)."""
    need_module("tflite_micro")
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def edit(data: bytes, change: Callable[[Any, Any], None]) -> bytes:
    """Unpack ``data`` into the object API, call ``change(model_t, schema)``, serialize again."""
    import flatbuffers

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
    change(model, s)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def negative_scale(data: bytes, op_index: int = 0) -> bytes:
    """Give the first input of operator ``op_index`` a scale of -1 (TFLM aborts in its quantized-multiplier code)."""
    import numpy as np

    def change(model: Any, s: Any) -> None:
        sg = model.subgraphs[0]
        q = sg.tensors[sg.operators[op_index].inputs[0]].quantization
        q.scale = np.full_like(np.asarray(q.scale, np.float32), -1.0)

    return edit(data, change)


def replace_opcode(data: bytes, old: str, new: str, custom_code: str | None = None) -> bytes:
    """Turn every operator code ``old`` into builtin ``new`` (or CUSTOM with ``custom_code``)."""

    def change(model: Any, s: Any) -> None:
        for code in model.operatorCodes:
            if max(code.builtinCode, code.deprecatedBuiltinCode) == getattr(s.BuiltinOperator, old):
                value = getattr(s.BuiltinOperator, new)
                code.builtinCode, code.deprecatedBuiltinCode = value, min(value, 127)
                code.customCode = custom_code

    return edit(data, change)
