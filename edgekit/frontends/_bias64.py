"""16x8 conv/FC biases widened from int32 to int64, as TensorFlow's own 16x8 converter writes them.

litert-torch's 16x8 lowering gives CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED int32 biases. TFLM's
DEPTHWISE_CONV_2D reads an int16 model's bias as int64 whatever its type (kernels/depthwise_conv.cc, the
kTfLiteInt16 case: an int32 bias would be read past its end), and LiteRT's int16 CONV_2D misreads the int32
ones (measured: first-layer SQNR -13 dB against the float model, while TFLM gave 52 dB on the same file).
The values keep their scale (input scale × weight scale), so widening is exact. Uses the flatbuffer object
API ai_edge_litert ships (a litert-torch dependency); runs in the converter's child process only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def widen_bias(tflite: bytes) -> tuple[bytes, int]:
    """(the model with its 16x8 conv/FC biases as int64, how many were widened)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAs(tflite, 0))
    kinds = (s.BuiltinOperator.CONV_2D, s.BuiltinOperator.DEPTHWISE_CONV_2D, s.BuiltinOperator.FULLY_CONNECTED)
    with_bias = {k for k, oc in enumerate(model.operatorCodes)
                 if max(oc.builtinCode, oc.deprecatedBuiltinCode) in kinds}
    widened = 0
    for sg in model.subgraphs:
        for op in sg.operators:
            if op.opcodeIndex not in with_bias or len(op.inputs) < 3 or op.inputs[2] < 0:
                continue
            x, bias = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[2]]
            if x.type != s.TensorType.INT16 or bias.type != s.TensorType.INT32:
                continue
            buf = model.buffers[bias.buffer]
            values = np.frombuffer(_bytes(buf.data), dtype="<i4").astype("<i8")
            buf.data = np.frombuffer(values.tobytes(), np.uint8)
            bias.type = s.TensorType.INT64
            widened += 1
    if not widened:
        return tflite, 0
    builder = flatbuffers.Builder(len(tflite) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), widened


def _bytes(data: Any) -> bytes:
    return bytes(bytearray(data)) if not isinstance(data, np.ndarray) else data.tobytes()
