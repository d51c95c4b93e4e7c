"""Small PyTorch models trained in seconds, for the tests and benchmarks of the PyTorch/ONNX front-ends.

Three architectures cover what the front-ends must map: a CNN (BatchNorm, depthwise conv, ReLU6,
Hardswish) on scikit-learn's digits in NCHW, an MLP on the same digits flattened, and a 1D-conv
sequence model (BatchNorm, ReLU6) on synthetic sine waves (NCL). GELU/SiLU models: see
tests/test_frontends_activations.py (the route rewrites them; TFLM has no GELU kernel).
Nothing is downloaded; training is seeded. ``torch`` is imported inside the functions (the ``torch`` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEED = 0


def digits_nchw(seed: int = SEED) -> tuple[np.ndarray, ...]:
    """scikit-learn's digits as float32 ``(N, 1, 8, 8)`` in [0, 1]: ``(x_train, y_train, x_test, y_test)``."""
    from edgekit.examples_data import load_digits_data

    x_train, y_train, x_test, y_test = load_digits_data(seed=seed)
    return (np.ascontiguousarray(x_train.transpose(0, 3, 1, 2)), y_train,
            np.ascontiguousarray(x_test.transpose(0, 3, 1, 2)), y_test)


def waves_ncl(n: int = 1200, length: int = 32, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """Synthetic 3-channel sequences ``(N, 3, length)``; the class (0-3) is the frequency of the sine in them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype(np.int64)
    t = np.arange(length, dtype=np.float32)[None, None, :]
    freq = (1.0 + y.astype(np.float32))[:, None, None] * (2 * np.pi / length)
    phase = rng.uniform(0, 2 * np.pi, (n, 3, 1)).astype(np.float32)
    x = np.sin(freq * t + phase) + 0.3 * rng.standard_normal((n, 3, length)).astype(np.float32)
    x = x.astype(np.float32)
    cut = int(n * 0.75)
    return x[:cut], y[:cut].astype(np.int32), x[cut:], y[cut:].astype(np.int32)


def build(kind: str) -> Any:
    """An untrained model: ``cnn`` (input 1×8×8), ``mlp`` (64) or ``conv1d`` (3×32)."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.Hardswish(),
            nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1, stride=2), nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                             nn.Linear(32, 10))
    if kind == "conv1d":
        return nn.Sequential(
            nn.Conv1d(3, 16, 5, padding=2, bias=False), nn.BatchNorm1d(16), nn.ReLU(),
            nn.Conv1d(16, 16, 3, stride=2, padding=1), nn.ReLU6(),
            nn.Conv1d(16, 24, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(24, 4))
    raise ValueError(f"unknown model kind {kind!r}")


def data_for(kind: str) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` in the model's own (channels-first) layout."""
    if kind == "conv1d":
        return waves_ncl()
    x_train, y_train, x_test, y_test = digits_nchw()
    if kind == "mlp":
        return x_train.reshape(len(x_train), 64), y_train, x_test.reshape(len(x_test), 64), y_test
    return x_train, y_train, x_test, y_test


def train(kind: str, epochs: int = 6) -> tuple[Any, tuple[np.ndarray, ...]]:
    """Build and train ``kind`` (Adam, batch 32, seeded, a few seconds on two cores); returns ``(model, data)``.

    The model comes back in eval mode (BatchNorm uses its running statistics). Training runs on one
    thread: torch's default pool oversubscribes two shared cores (30-50 s instead of ~1 s, measured).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(kind, epochs)
    finally:
        torch.set_num_threads(threads)


def _train(kind: str, epochs: int) -> tuple[Any, tuple[np.ndarray, ...]]:
    import torch

    data = data_for(kind)
    x_train, y_train = torch.from_numpy(data[0]), torch.from_numpy(data[1].astype(np.int64))
    model = build(kind)
    torch.manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    return model.eval(), data


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a torch model on ``x`` (float32, the model's layout)."""
    import torch

    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(-1).numpy()
    return float((pred == y).mean())
