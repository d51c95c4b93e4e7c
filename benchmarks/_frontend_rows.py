"""Rows of benchmarks/convert.py for the PyTorch and ONNX routes (issue #15), beside the Keras route.

For each architecture of :mod:`edgekit.examples_torch` (CNN with BatchNorm/depthwise/ReLU6/Hardswish, MLP,
1D-conv): the same layers trained in Keras and converted by the TF converter, and the PyTorch model converted
as an ``nn.Module``, a ``.pt2`` and an ``.onnx`` file, plus the rejected alternative (litert-torch with the
NCHW input left as is). Each row: float vs int8 size, top-1 agreement of the TFLM host interpreter's int8
outputs with the source framework's float outputs on the test split, conversion time, ops and extra
(layout/shape) ops. Agreement is measured with TFLM, the MCU oracle, not the converter's own runtime.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

EXTRA = ("TRANSPOSE", "RESHAPE", "PAD", "QUANTIZE", "DEQUANTIZE", "CAST", "GATHER", "SHAPE", "STRIDED_SLICE")


def _keras_model(kind: str) -> Any:
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(0)
    if kind == "cnn":
        return keras.Sequential([
            keras.Input((8, 8, 1)),
            layers.Conv2D(16, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(6.0),
            layers.DepthwiseConv2D(3, padding="same", use_bias=False), layers.BatchNormalization(),
            layers.Activation("hard_swish"),
            layers.Conv2D(32, 1, use_bias=False), layers.BatchNormalization(), layers.ReLU(),
            layers.MaxPooling2D(), layers.Conv2D(32, 3, strides=2, padding="same"), layers.ReLU(6.0),
            layers.GlobalAveragePooling2D(), layers.Dense(10)])
    if kind == "mlp":
        return keras.Sequential([keras.Input((64,)), layers.Dense(64, activation="relu"),
                                 layers.Dense(32, activation="relu"), layers.Dense(10)])
    return keras.Sequential([
        keras.Input((32, 3)),
        layers.Conv1D(16, 5, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(),
        layers.Conv1D(16, 3, strides=2, padding="same"), layers.ReLU(6.0),
        layers.Conv1D(24, 3, strides=2, padding="same"), layers.ReLU(),
        layers.GlobalAveragePooling1D(), layers.Dense(4)])


def _keras_layout(kind: str, x: np.ndarray) -> np.ndarray:
    """The channels-first data in Keras' channels-last layout."""
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if kind != "mlp" else x


def _tflm_top1(tflite: bytes, x_device: np.ndarray) -> np.ndarray:
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    sg = load_model(tflite).main
    q = sg.tensors[sg.inputs[0]].quantization
    xq = np.clip(np.round(x_device / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return np.array([int(np.argmax(o[0])) for o in tflm_run(tflite, xq)])


def _row(arch: str, route: str, result: Any, total_s: float, ref_top1: np.ndarray, x_device: np.ndarray,
         y: np.ndarray) -> dict[str, Any]:
    r = result.report
    q_top1 = _tflm_top1(result.tflite_bytes, x_device)
    return {"architecture": arch, "route": route, "float_bytes": r.float_size, "int8_bytes": r.int8_size,
            "size_ratio": round(r.size_ratio, 4), "convert_int8_s": round(r.convert_seconds, 2),
            "convert_float_reference_s": round(r.float_convert_seconds, 2), "total_s": round(total_s, 2),
            "tflm_top1_agreement_with_source_float": round(float(np.mean(q_top1 == ref_top1)), 4),
            "tflm_int8_accuracy": round(float(np.mean(q_top1 == y)), 4),
            "source_float_accuracy": round(float(np.mean(ref_top1 == y)), 4),
            "ops": dict(sorted(r.ops.items())), "extra_ops": {k: v for k, v in sorted(r.ops.items()) if k in EXTRA},
            "output_sqnr_db": None if getattr(r, "output_sqnr_db", None) is None else round(r.output_sqnr_db, 2),
            "device_layout": getattr(r, "device_layout", "channels-last (Keras)")}


def frontend_rows(num_calib: int = 100, epochs: int = 6) -> list[dict[str, Any]]:
    """Convert each architecture by every route; returns the rows (a few minutes on two cores)."""
    import torch

    from edgekit.conversion import convert, import_tensorflow
    from edgekit.examples_torch import train

    import_tensorflow()
    import keras

    rows = []
    for arch in ("cnn", "mlp", "conv1d"):
        model, (x_train, y_train, x_test, y_test) = train(arch, epochs=epochs)
        with torch.no_grad():
            torch_top1 = model(torch.from_numpy(x_test)).argmax(-1).numpy()
        calib = x_train[:num_calib]
        from edgekit.frontends.layout import to_device_layout

        dev_test = to_device_layout(x_test)
        with tempfile.TemporaryDirectory() as tmp:
            sample = torch.from_numpy(x_train[:1])
            onnx_path, pt2 = Path(tmp) / f"{arch}.onnx", Path(tmp) / f"{arch}.pt2"
            torch.onnx.export(model, (sample,), str(onnx_path), dynamo=False)
            torch.export.save(torch.export.export(model, (sample,)), str(pt2))
            for route, src in (("PyTorch nn.Module (litert-torch)", model), ("PyTorch .pt2 (litert-torch)", pt2),
                               ("ONNX (-> torch -> litert-torch)", onnx_path)):
                t0 = time.perf_counter()
                res = convert(src, calib, sample=x_train[:1], val=x_test, val_labels=y_test)
                rows.append(_row(arch, route, res, time.perf_counter() - t0, torch_top1, dev_test, y_test))
            if arch != "mlp":  # rejected alternative: the NCHW input kept (the layouts coincide for the MLP)
                from edgekit.frontends.convert import convert_source

                t0 = time.perf_counter()
                res = convert_source(model, calib, sample=x_train[:1], val=x_test, val_labels=y_test,
                                     channels_last=False)
                rows.append(_row(arch, "litert-torch, NCHW input kept (rejected)", res, time.perf_counter() - t0,
                                 torch_top1, x_test, y_test))
        kmodel = _keras_model(arch)
        kmodel.compile(optimizer=keras.optimizers.Adam(0.01),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        kx_train, kx_test = _keras_layout(arch, x_train), _keras_layout(arch, x_test)
        kmodel.fit(kx_train, y_train, epochs=epochs, batch_size=32, verbose=0)
        keras_top1 = kmodel.predict(kx_test, verbose=0).argmax(-1)
        t0 = time.perf_counter()
        res = convert(kmodel, kx_train[:num_calib], val=kx_test, val_labels=y_test, progress=False)
        rows.append(_row(arch, "Keras, same layers (TF converter)", res, time.perf_counter() - t0, keras_top1,
                         kx_test, y_test))
    return rows
