"""A float32 twin of a quantized .tflite: the same graph with every quantized tensor dequantized (benchmark helper).

Used where a model's float version is not at hand (the MLPerf Tiny int8 models): the twin has the float model's
architecture, tensor sizes and op count, so its flash / arena / instruction figures are those of a float model;
its weights are the int8 ones dequantized (``scale * (q - zero_point)``, per channel along the quantized
dimension), so its accuracy is close to the int8 model's, not a claim about the original float training.
Non-quantized tensors (shapes, axes, paddings: int32 without scales) stay as they are.
"""

from __future__ import annotations

import numpy as np

_NUMPY = {9: np.int8, 3: np.uint8, 7: np.int16, 2: np.int32, 4: np.int64}  # TensorType -> numpy


def float_twin(data: bytes) -> bytes:
    """The twin's flatbuffer bytes."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    for code in model.operatorCodes:
        code.version = 1
    for sub in model.subgraphs:
        for t in sub.tensors:
            q = t.quantization
            if q is None or q.scale is None or len(q.scale) == 0 or t.type not in _NUMPY:
                continue
            buf = model.buffers[t.buffer] if t.buffer else None
            if buf is not None and buf.data is not None and len(buf.data):
                raw = np.frombuffer(bytes(bytearray(buf.data)), dtype=_NUMPY[t.type]).astype(np.float64)
                values = raw.reshape(t.shape) if t.shape is not None and len(t.shape) else raw
                scale, zp = np.asarray(q.scale, np.float64), np.asarray(q.zeroPoint, np.float64)
                if scale.size > 1:
                    bshape = [1] * values.ndim
                    bshape[q.quantizedDimension] = scale.size
                    scale, zp = scale.reshape(bshape), zp.reshape(bshape)
                new = s.BufferT()
                new.data = np.ascontiguousarray((scale * (values - zp)).astype(np.float32)).tobytes()
                model.buffers.append(new)
                t.buffer = len(model.buffers) - 1
            t.type = 0  # FLOAT32
            t.quantization = None
    b = flatbuffers.Builder(1 << 20)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())
