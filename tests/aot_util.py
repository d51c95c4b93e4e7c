"""Helpers for the AOT runtime tests: small Keras models -> cached int8 .tflite, and AOT-vs-TFLM runs."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.cores import PORTABLE, CoreFeatures

# calibration data regimes: name -> (scale, offset, distribution) of the float inputs
REGIMES: dict[str, Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]] = {
    "unit": lambda rng, shape: rng.normal(size=shape),
    "tiny": lambda rng, shape: rng.normal(size=shape) * 2e-3 + 1e-3,
    "huge": lambda rng, shape: rng.normal(size=shape) * 300.0 + 500.0,
    "positive": lambda rng, shape: rng.uniform(0.0, 6.0, size=shape),
    "negative": lambda rng, shape: rng.uniform(-9.0, -0.25, size=shape),
}


def _tf_version() -> str:
    """Installed TensorFlow version, without importing it (a cache hit should not pay for the import)."""
    from importlib import metadata

    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "none"


def convert_int8(build: Callable[[], object], regime: str, cache_dir: Path, *, key: str = "",
                 per_tensor_dense: bool = False, calib_samples: int = 32, seed: int = 0) -> bytes:
    """Build a Keras model with ``build()`` and convert it to full-int8 (int8 I/O); cached on disk.

    The cache key covers the builder's source, ``key``, the regime, the options and the TF version.
    """
    src = (inspect.getsource(build) if not key else key) + inspect.getsource(convert_int8)
    digest = hashlib.sha256(f"{src}|{regime}|{per_tensor_dense}|{calib_samples}|{seed}|{_tf_version()}".encode())
    path = cache_dir / f"{digest.hexdigest()[:24]}.tflite"
    if path.exists():
        return path.read_bytes()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = build()
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # non-zero biases (the converter drops all-zero ones)
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(w.dtype) if w.ndim == 1 else w
                               for w in weights])
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in model.inputs}
    # a dict keyed by input name: the .tflite input order need not follow the Keras one
    samples = [{name: REGIMES[regime](rng, s).astype(np.float32) for name, s in shapes.items()}
               for _ in range(calib_samples)]

    def representative():
        yield from samples

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if per_tensor_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    data = bytes(conv.convert())
    path.write_bytes(data)
    return data


def random_inputs(model, n: int, seed: int) -> list[list[np.ndarray]]:
    """``n`` sets of uniformly random inputs over each input's full integer range."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n):
        one = []
        for t in model.main.inputs:
            tensor = model.main.tensors[t]
            info = np.iinfo(tensor.dtype)
            one.append(rng.integers(info.min, info.max + 1, size=tensor.shape).astype(tensor.dtype))
        sets.append(one)
    return sets


def aot_vs_tflm(tflite: bytes | Path, work: Path, *, sets: int = 3, seed: int = 0,
                inputs: Sequence[Sequence[np.ndarray]] | None = None, obj_cache: Path | None = None,
                sparse: str = "auto", features: CoreFeatures = PORTABLE, **gen: Any) -> list[str]:
    """Build the AOT host executable (``sparse`` / ``mve`` modes of the generator), run it and TFLM on the same
    inputs; return mismatch descriptions. ``gen``: more generate_c options (weights, target)."""
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    model = load_model(tflite)
    exe = build_host(model, work, obj_cache=obj_cache, sparse=sparse, features=features, **gen)
    data = list(inputs) if inputs is not None else random_inputs(model, sets, seed)
    ours = run_host_sets(exe, data)
    ref = tflm_run(model, [list(s) for s in data])
    problems = []
    for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            b = np.asarray(b).reshape(a.shape)
            if a.dtype != b.dtype or not np.array_equal(a, b):
                diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
                name = model.main.tensors[model.main.outputs[j]].name
                problems.append(f"set {k} output {j} '{name}': {int((diff > 0).sum())} of {a.size} differ, "
                                f"max {int(diff.max())} LSB")
    return problems


def opcodes(tflite: bytes) -> list[str]:
    """Opcodes of the model's operators, in order."""
    from edgekit.tflite_model import load_model

    return [op.opcode for op in load_model(tflite).main.operators]
