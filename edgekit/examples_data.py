"""A small, real example: a CNN trained on scikit-learn's bundled digits (8×8 grey images).

Used by the test suite (session fixture ``digits_models``), the benchmarks and the examples.
Nothing is downloaded: the digits set ships with scikit-learn. Training is seeded and takes a
few seconds on two cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SEED = 0
EPOCHS = 12
NUM_CALIB = 100


def load_digits_data(test_fraction: float = 0.25, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """scikit-learn's digits as ``(x_train, y_train, x_test, y_test)``.

    Images are float32 ``(N, 8, 8, 1)`` scaled to [0, 1]; labels are int32 class ids 0-9.
    The split is stratified and fixed by ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                                        stratify=y)
    return x_train, y_train, x_test, y_test


def build_digits_cnn() -> Any:
    """Conv(16) -> MaxPool -> Conv(32) -> Flatten -> Dense(32) -> Dense(10, softmax) on 8×8×1 (untrained).

    21.5 k parameters (~28 KB as int8, ~100 k MACs). Deliberately not smaller: a .tflite carries
    several KB of per-channel scales/zero points, tensor names and signatures, so with a 2 k
    parameter model the int8 file is ~60% of the float one instead of ~30%.
    """
    import keras

    layers = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        # explicit names: stable in reports and recipes whatever models were built before in the process
        layers.Conv2D(16, 3, activation="relu", padding="same", name="conv2d"),
        layers.MaxPooling2D(name="max_pooling2d"),
        layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2d_1"),
        layers.Flatten(name="flatten"),
        layers.Dense(32, activation="relu", name="dense"),
        layers.Dense(10, activation="softmax", name="dense_1"),
    ], name="digits_cnn")


def train_digits_cnn(x_train: np.ndarray, y_train: np.ndarray, epochs: int = EPOCHS, seed: int = SEED) -> Any:
    """Train :func:`build_digits_cnn` with fixed seeds (Adam, sparse cross-entropy, batch 32)."""
    from edgekit.conversion import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    model = build_digits_cnn()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    return model


def digits_cnn_artifacts(out_dir: Path) -> dict[str, Any]:
    """Train the digits CNN and write ``digits.keras``, ``digits_float.tflite``, ``digits_int8.tflite``.

    The int8 model comes from :func:`edgekit.conversion.convert` (100 calibration samples from the
    training set, the test set as validation data). Returns a dict with keys ``keras`` (the model),
    ``keras_path``, ``float_tflite``, ``int8_tflite`` (Paths), ``x_train``, ``y_train``, ``x_test``,
    ``y_test`` (arrays) and ``report`` (the :class:`~edgekit.report.ConversionReport`).
    """
    from edgekit.conversion import convert

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_digits_data()
    model = train_digits_cnn(x_train, y_train)
    keras_path = out_dir / "digits.keras"
    model.save(keras_path)
    int8_path = out_dir / "digits_int8.tflite"
    result = convert(model, x_train[:NUM_CALIB], val=x_test, val_labels=y_test, output=int8_path,
                     progress=False, isolate=False)
    float_path = out_dir / "digits_float.tflite"
    float_path.write_bytes(result.float_tflite_bytes or b"")
    return {"keras": model, "keras_path": keras_path, "float_tflite": float_path, "int8_tflite": int8_path,
            "x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test, "report": result.report}
