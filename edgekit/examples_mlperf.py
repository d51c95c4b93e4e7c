"""The MLPerf Tiny reference architectures as Keras models, at any width: ResNet-8 (image classification),
MobileNetV1 (visual wake words), DS-CNN (keyword spotting), and a residual 1-D CNN for sensor windows.

Built in code (no weights shipped; the reference .tflite files in /work/shared/models are int8 only), scaled
down by ``width``/``alpha`` and input size for tests and benchmarks. Layer names are explicit so reports and
recipes can refer to them. Follows the layer sequence of mlcommons/tiny ``benchmark/training/*/keras_model.py``.
"""

from __future__ import annotations

from typing import Any


def build_resnet8(input_shape: tuple[int, int, int] = (32, 32, 3), classes: int = 10, width: int = 16) -> Any:
    """ResNet-8 (MLPerf IC): conv stem, three residual stacks (widths w, 2w, 4w; 1x1 shortcut convs when the
    shape changes), average pooling, Flatten, Dense softmax. ``width=16`` is the reference (78 k parameters)."""
    import keras

    L = keras.layers
    inp = keras.Input(input_shape, name="input")
    x = L.Conv2D(width, 3, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    for i, (filters, stride) in enumerate(((width, 1), (2 * width, 2), (4 * width, 2)), start=1):
        y = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"s{i}_conv1")(x)
        y = L.BatchNormalization(name=f"s{i}_bn1")(y)
        y = L.ReLU(name=f"s{i}_relu1")(y)
        y = L.Conv2D(filters, 3, padding="same", name=f"s{i}_conv2")(y)
        y = L.BatchNormalization(name=f"s{i}_bn2")(y)
        if stride != 1 or i > 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same", name=f"s{i}_shortcut")(x)
        x = L.ReLU(name=f"s{i}_relu2")(L.Add(name=f"s{i}_add")([x, y]))
    pool = int(x.shape[1])
    x = L.AveragePooling2D(pool_size=pool, name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="resnet8")


def _ds_block(x: Any, filters: int, stride: int, name: str) -> Any:
    import keras

    L = keras.layers
    x = L.DepthwiseConv2D(3, strides=stride, padding="same", name=f"{name}_dw")(x)
    x = L.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = L.ReLU(name=f"{name}_dw_relu")(x)
    x = L.Conv2D(filters, 1, name=f"{name}_pw")(x)
    x = L.BatchNormalization(name=f"{name}_pw_bn")(x)
    return L.ReLU(name=f"{name}_pw_relu")(x)


def build_mobilenet_v1(input_shape: tuple[int, int, int] = (96, 96, 3), classes: int = 2, alpha: float = 0.25,
                       blocks: int = 13) -> Any:
    """MobileNetV1 (MLPerf VWW, alpha 0.25 at 96x96): conv stem then ``blocks`` depthwise-separable blocks
    (the first ``blocks`` of the reference 13), average pooling, Flatten, Dense softmax."""
    import keras

    L = keras.layers
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    inp = keras.Input(input_shape, name="input")
    x = L.Conv2D(max(1, int(32 * alpha)), 3, strides=2, padding="same", name="stem")(inp)
    x = L.ReLU(name="stem_relu")(L.BatchNormalization(name="stem_bn")(x))
    for i, (filters, stride) in enumerate(plan[:blocks], start=1):
        x = _ds_block(x, max(1, int(filters * alpha)), stride, f"b{i}")
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="mobilenet_v1")


def build_ds_cnn(input_shape: tuple[int, int, int] = (49, 10, 1), classes: int = 12, width: int = 64,
                 blocks: int = 4) -> Any:
    """DS-CNN (MLPerf KWS): Conv (10x4, stride 2) then ``blocks`` depthwise-separable blocks of ``width``
    channels, dropout, average pooling, Flatten, Dense softmax. ``width=64, blocks=4`` is the reference."""
    import keras

    L = keras.layers
    inp = keras.Input(input_shape, name="input")
    x = L.Conv2D(width, (10, 4), strides=(2, 2), padding="same", name="stem")(inp)
    x = L.ReLU(name="stem_relu")(L.BatchNormalization(name="stem_bn")(x))
    x = L.Dropout(0.2, name="stem_drop")(x)
    for i in range(1, blocks + 1):
        x = _ds_block(x, width, 1, f"b{i}")
    x = L.Dropout(0.4, name="drop")(x)
    x = L.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="ds_cnn")


def build_resnet1d(input_shape: tuple[int, int] = (64, 3), classes: int = 4, width: int = 16) -> Any:
    """A residual, branching 1-D CNN for sensor windows: Conv1D stem, a residual block (identity Add), an
    inception-style pair of Conv1D branches joined by Concatenate, a depthwise-separable 1-D block (as two
    layers) and a SeparableConv1D, global average pooling, Dense softmax."""
    import keras

    L = keras.layers
    inp = keras.Input(input_shape, name="input")
    x = L.Conv1D(width, 5, padding="same", activation="relu", name="stem")(inp)
    y = L.Conv1D(width, 3, padding="same", activation="relu", name="res_conv1")(x)
    y = L.Conv1D(width, 3, padding="same", name="res_conv2")(y)
    x = L.ReLU(name="res_relu")(L.Add(name="res_add")([x, y]))
    x = L.MaxPooling1D(2, name="pool1")(x)
    a = L.Conv1D(width, 1, activation="relu", name="branch_a")(x)
    b = L.Conv1D(width, 5, padding="same", activation="relu", name="branch_b")(x)
    x = L.Concatenate(name="concat")([a, b])
    x = L.DepthwiseConv1D(3, padding="same", name="sep_dw")(x)
    x = L.Conv1D(2 * width, 1, activation="relu", name="sep_pw")(x)
    x = L.SeparableConv1D(2 * width, 3, padding="same", activation="relu", name="sep2")(x)
    x = L.GlobalAveragePooling1D(name="gap")(x)
    out = L.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(inp, out, name="resnet1d")


KEYWORD_SHAPE = (49, 10, 1)  # the MLPerf KWS input: 49 frames x 10 MFCC coefficients


def make_keyword_features(n_per_class: int = 100, classes: int = 12, seed: int = 0,
                          noise: float = 0.35) -> tuple[Any, Any]:
    """Synthetic, KWS-shaped data (**not speech**): ``(x, y)`` with x float32 ``(N, 49, 10, 1)``, y int32.

    Class 0 is noise only ("silence"); every other class is a fixed sequence of three time-frequency blobs
    (its "phonemes", drawn once from a class seed), each sample shifted in time by up to +-6 frames, with
    random blob amplitudes and widths, plus Gaussian noise. Stands in for Speech Commands MFCCs (which are
    not shipped) so the DS-CNN can be trained, pruned and measured; accuracies on it say nothing about speech.
    """
    import numpy as np

    frames, coeffs, _ = KEYWORD_SHAPE
    t = np.arange(frames)[:, None]
    f = np.arange(coeffs)[None, :]
    rng = np.random.default_rng(seed)
    templates = []
    for c in range(classes):
        crng = np.random.default_rng(1000 + c)
        templates.append([(crng.uniform(8, 40), crng.uniform(0, coeffs - 1), crng.choice([-1.0, 1.0]))
                          for _ in range(3)] if c else [])
    xs, ys = [], []
    for c in range(classes):
        for _ in range(n_per_class):
            x = rng.normal(0, noise, (frames, coeffs))
            shift = rng.uniform(-6, 6)
            for tc, fc, sign in templates[c]:
                w_t, w_f = rng.uniform(2.5, 4.5), rng.uniform(0.8, 1.5)
                x += sign * rng.uniform(0.7, 1.3) * np.exp(-((t - tc - shift) / w_t) ** 2 - ((f - fc) / w_f) ** 2)
            xs.append(x)
            ys.append(c)
    order = rng.permutation(len(xs))
    return np.asarray(xs, np.float32)[order][..., None], np.asarray(ys, np.int32)[order]
