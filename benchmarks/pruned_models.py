"""Pruned variants of the benchmark models: the smallest-magnitude int8 weights of every CONV_2D / FULLY_CONNECTED
filter set to zero (no fine-tuning: accuracy is not the point, the runtime's speed and flash on sparse weights are).

Used by benchmarks/runtime.py (``--models ic_pruned75,kws_pruned75``); edits the .tflite through the flatbuffer
object API shipped with tflite-micro (a benchmark tool; edgekit itself never uses the generated schema).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# name -> (base model key in runtime.MODELS, fraction of each filter zeroed)
PRUNED = {"ic_pruned75": ("ic", 0.75), "kws_pruned75": ("kws", 0.75), "vww_pruned75": ("vww", 0.75)}


def zero_smallest(data: bytes, sparsity: float) -> bytes:
    """``data`` with the ``sparsity`` fraction of smallest-|w| weights of every CONV_2D / FC filter set to 0."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
    sg = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    for op in sg.operators:
        if codes[op.opcodeIndex] in (s.BuiltinOperator.CONV_2D, s.BuiltinOperator.FULLY_CONNECTED):
            buf = model.buffers[sg.tensors[op.inputs[1]].buffer]
            w = np.asarray(buf.data, dtype=np.uint8).view(np.int8).copy()
            w[np.argsort(np.abs(w.astype(np.int16)), kind="stable")[: round(sparsity * w.size)]] = 0
            buf.data = w.view(np.uint8)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def pruned_model(src: Path, sparsity: float, out: Path) -> Path:
    """Write the pruned copy of ``src`` to ``out`` and return it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(zero_smallest(src.read_bytes(), sparsity))
    return out
