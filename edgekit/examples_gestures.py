"""A synthetic accelerometer-gesture dataset and a small 1-D CNN for it (tests, benchmarks, examples).

Windows of 2 s of a 3-axis accelerometer at 50 Hz (``(N, 100, 3)`` float32, in g, gravity
included, sensor noise, a random device tilt). Four classes:

0. ``circle`` - a slow circular motion in the x-y plane (0.7-1.5 Hz, 0.15-0.5 g);
1. ``shake`` - a fast back-and-forth on a mostly-x axis (4-7 Hz, 0.4-1.2 g) under a smooth envelope;
2. ``tap`` - one to three sharp decaying impulses on z (1-3 g) at random times;
3. ``sweep`` - a sine sweep (chirp) on y from ~1 Hz up to 4-6 Hz (0.2-0.7 g).

Everything is generated from a seed with NumPy: no download, identical on every machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASSES = ("circle", "shake", "tap", "sweep")
RATE_HZ = 50
WINDOW = 100  # samples (2 s)
SEED = 0


def _gravity(rng: np.random.Generator) -> np.ndarray:
    """A unit gravity vector within ~35 degrees of +z (how the device is held)."""
    tilt, azimuth = rng.uniform(0, 0.6), rng.uniform(0, 2 * np.pi)
    return np.array([np.sin(tilt) * np.cos(azimuth), np.sin(tilt) * np.sin(azimuth), np.cos(tilt)])


def _one(label: int, rng: np.random.Generator, tap_g: tuple[float, float]) -> np.ndarray:
    t = np.arange(WINDOW) / RATE_HZ
    sig = np.zeros((WINDOW, 3))
    if label == 0:  # circle
        f, a, ph = rng.uniform(0.7, 1.5), rng.uniform(0.15, 0.5), rng.uniform(0, 2 * np.pi)
        sig[:, 0] = a * np.sin(2 * np.pi * f * t + ph)
        sig[:, 1] = a * np.cos(2 * np.pi * f * t + ph) * rng.uniform(0.7, 1.0)
    elif label == 1:  # shake
        f, a, ph = rng.uniform(4.0, 7.0), rng.uniform(0.4, 1.2), rng.uniform(0, 2 * np.pi)
        axis = np.array([1.0, rng.uniform(-0.4, 0.4), rng.uniform(-0.2, 0.2)])
        start, length = rng.uniform(0, 0.8), rng.uniform(0.8, 1.2)
        env = np.clip(np.sin(np.pi * (t - start) / length), 0, None) * ((t >= start) & (t <= start + length))
        sig += (a * env * np.sin(2 * np.pi * f * t + ph))[:, None] * axis
    elif label == 2:  # tap
        for _ in range(rng.integers(1, 4)):
            at, a = rng.integers(5, WINDOW - 10), rng.uniform(*tap_g)
            k = np.arange(WINDOW - at)
            sig[at:, 2] += a * np.exp(-k / rng.uniform(0.8, 2.0)) * np.cos(np.pi * k / 2)
            sig[at:, 0] += 0.2 * a * np.exp(-k / 1.5) * rng.uniform(-1, 1)
    else:  # sweep
        f0, f1, a = rng.uniform(0.8, 1.5), rng.uniform(4.0, 6.0), rng.uniform(0.2, 0.7)
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * t[-1])) + rng.uniform(0, 2 * np.pi)
        sig[:, 1] = a * np.sin(phase)
        sig[:, 0] = 0.2 * a * np.sin(phase + rng.uniform(0, np.pi))
    drift = np.linspace(0, 1, WINDOW)[:, None] * rng.normal(0, 0.05, 3)
    return sig + _gravity(rng) + drift + rng.normal(0, 0.03, (WINDOW, 3))


def make_gestures(n_per_class: int = 200, seed: int = SEED,
                  tap_g: tuple[float, float] = (1.0, 3.0)) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` windows of each class, shuffled: ``x (N, 100, 3)`` float32 in g, ``y (N,)`` int32.

    ``tap_g`` is the range of tap peak amplitudes; hard taps such as ``(4, 16)`` (a sensor's full
    scale) stretch the input range so that int8 input quantization leaves the slow gestures only a
    few levels: a setting where post-training quantization loses accuracy.
    """
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    rng.shuffle(y)
    x = np.stack([_one(int(label), rng, tap_g) for label in y]).astype(np.float32)
    return x, y.astype(np.int32)


def load_gesture_data(n_train_per_class: int = 150, n_test_per_class: int = 50, seed: int = SEED,
                      tap_g: tuple[float, float] = (1.0, 3.0)) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` from two independent seeds (no sample in both)."""
    x_train, y_train = make_gestures(n_train_per_class, seed, tap_g)
    x_test, y_test = make_gestures(n_test_per_class, seed + 1000, tap_g)
    return x_train, y_train, x_test, y_test


def build_gesture_cnn(width: int = 16) -> Any:
    """Conv1D(w/2, 5) -> MaxPool -> Conv1D(w, 5) -> MaxPool -> Conv1D(w, 3) -> GlobalAvgPool -> Dense(16) -> Dense(4).

    ``width`` is w (16 by default: ~1.9 k parameters, ~64 k MACs).
    """
    import keras

    layers = keras.layers
    return keras.Sequential([
        keras.Input((WINDOW, 3)),
        layers.Conv1D(width // 2, 5, padding="same", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(width, 5, padding="same", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(width, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(16, activation="relu"),
        layers.Dense(len(CLASSES), activation="softmax"),
    ], name="gesture_cnn")


def train_gesture_cnn(x_train: np.ndarray, y_train: np.ndarray, epochs: int = 15, seed: int = SEED,
                      width: int = 16) -> Any:
    """Train :func:`build_gesture_cnn` with fixed seeds (Adam 3e-3, sparse cross-entropy, batch 32)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(seed)
    model = build_gesture_cnn(width)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    return model
