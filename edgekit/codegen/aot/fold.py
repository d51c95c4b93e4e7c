"""Fold float16 weights into float32 constants before code generation.

The TFLite converter's float16 mode stores weights as float16 constants, each read through a DEQUANTIZE to
float32. TFLM converts them on every inference; edgekit does it once, here: the DEQUANTIZE's output becomes a float32
constant (flash), the operator stays in the graph and emits nothing (``float_nn.FloatDequantize16``), so operator
indices do not move. Results are identical: float16 -> float32 is exact.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edgekit.tflite_model import TFLiteModel


def fold_float16(model: TFLiteModel) -> TFLiteModel:
    """``model`` with every DEQUANTIZE of a constant float16 tensor folded into a float32 constant (same object
    when there is none)."""
    sg = model.main
    tensors = list(sg.tensors)
    folded = False
    for op in sg.operators:
        if op.opcode != "DEQUANTIZE" or len(op.inputs) != 1 or len(op.outputs) != 1 or min(*op.inputs,
                                                                                           *op.outputs) < 0:
            continue
        src, dst = tensors[op.inputs[0]], tensors[op.outputs[0]]
        if src.dtype != "float16" or not src.is_const or dst.dtype != "float32" or dst.size != src.size:
            continue
        if dst.index in sg.outputs:
            continue
        values = src.array().astype("<f4")
        tensors[dst.index] = replace(dst, data=np.ascontiguousarray(values).tobytes())
        folded = True
    if not folded:
        return model
    main = replace(sg, tensors=tuple(tensors))
    return replace(model, subgraphs=(main, *model.subgraphs[1:]))
