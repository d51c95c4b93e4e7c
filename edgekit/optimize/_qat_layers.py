"""Fake-quantization layers that simulate TFLite's full-int8 scheme during training.

* Weights: per-output-channel symmetric int8, ``scale = max|w| / 127``, values in [-127, 127], rounded
  half away from zero (TFLite's weight quantizer). Gradients pass straight through.
* Activations: per-tensor asymmetric int8 on a range [min, max] that always contains 0,
  ``scale = (max - min) / 255``, ``zero_point = round(-128 - min / scale)``; the range is an
  exponential moving average of the batch min/max during training, frozen at inference; or it is
  set to the min/max over a calibration set (what the TFLite converter computes) and frozen. The
  gradient passes inside the range and is zero outside it (clipped values).

The classes are created on first use (Keras must not be imported at module import time).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from edgekit.optimize.finetune import import_keras


def round_half_away(ops: Any, x: Any) -> Any:
    """Round to nearest, ties away from zero (``std::round``), as TFLite's quantizers do."""
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)


def fake_quant_weights(ops: Any, w: Any, channel_axes: tuple[int, ...]) -> Any:
    """Per-channel symmetric int8 fake-quant of ``w``; the reduction runs over ``channel_axes``."""
    scale = ops.maximum(ops.max(ops.abs(w), axis=channel_axes, keepdims=True) / 127.0, 1e-12)
    q = ops.clip(round_half_away(ops, w / scale), -127.0, 127.0)
    return w + ops.stop_gradient(q * scale - w)


def fake_quant_activations(ops: Any, x: Any, lo: Any, hi: Any) -> Any:
    """Per-tensor asymmetric int8 fake-quant of ``x`` on [lo, hi] (widened to contain 0)."""
    lo = ops.minimum(lo, 0.0)
    hi = ops.maximum(hi, 0.0)
    scale = ops.maximum((hi - lo) / 255.0, 1e-9)
    zp = ops.clip(round_half_away(ops, -128.0 - lo / scale), -128.0, 127.0)
    lo_n = (-128.0 - zp) * scale  # the nudged range, exactly representable
    hi_n = (127.0 - zp) * scale
    xc = ops.clip(x, lo_n, hi_n)
    q = round_half_away(ops, xc / scale)
    return xc + ops.stop_gradient(q * scale - xc)


@lru_cache(maxsize=1)
def qat_classes() -> tuple[type, type]:
    """(QuantizedLayer, ActivationQuantizer) Keras layer classes."""
    keras = import_keras()
    ops = keras.ops

    class ActivationQuantizer(keras.layers.Layer):
        """Fake-quantizes a tensor to int8 with an EMA-tracked range."""

        def __init__(self, decay: float = 0.99, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.decay = decay
            # "ema": track the range while training; "observe": pass through, widen the range to the
            # min/max seen (the converter's calibration); "frozen": quantize on the stored range.
            self.mode = "ema"

        def build(self, input_shape: Any) -> None:
            self.range_min = self.add_weight(name="range_min", shape=(), initializer="zeros", trainable=False)
            self.range_max = self.add_weight(name="range_max", shape=(), initializer="zeros", trainable=False)
            self.seen = self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False)

        def call(self, x: Any, training: bool | None = None) -> Any:
            if self.mode == "observe":
                first = ops.equal(self.seen, 0.0)
                self.range_min.assign(ops.where(first, ops.min(x), ops.minimum(self.range_min, ops.min(x))))
                self.range_max.assign(ops.where(first, ops.max(x), ops.maximum(self.range_max, ops.max(x))))
                self.seen.assign(self.seen + 1.0)
                return x
            if training and self.mode == "ema":
                first = ops.equal(self.seen, 0.0)
                bmin, bmax = ops.min(x), ops.max(x)
                new_min = ops.where(first, bmin, self.decay * self.range_min + (1 - self.decay) * bmin)
                new_max = ops.where(first, bmax, self.decay * self.range_max + (1 - self.decay) * bmax)
                self.range_min.assign(new_min)
                self.range_max.assign(new_max)
                self.seen.assign(self.seen + 1.0)
                return fake_quant_activations(ops, x, new_min, new_max)
            quantized = fake_quant_activations(ops, x, self.range_min, self.range_max)
            return ops.where(ops.greater(self.seen, 0.0), quantized, x)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "decay": self.decay}

    class QuantizedLayer(keras.layers.Layer):
        """Runs a Dense / ConvND / DepthwiseConv layer with fake-quantized int8 weights.

        The wrapped layer owns the variables (so they map back onto the plain model by name); this
        layer recomputes its forward pass with ``keras.ops`` on the fake-quantized kernel.
        """

        def __init__(self, inner: Any, **kwargs: Any) -> None:
            super().__init__(name=inner.name, **kwargs)
            self.inner = inner
            self.kind = type(inner).__name__

        def build(self, input_shape: Any) -> None:
            if not self.inner.built:
                self.inner.build(input_shape)

        def _kernel(self) -> Any:
            if self.kind.startswith("Depthwise"):
                k = self.inner.kernel  # (..., c_in, multiplier): output channel = c * multiplier + m
                flat = ops.reshape(k, (*k.shape[:-2], k.shape[-2] * k.shape[-1]))
                axes = tuple(range(len(flat.shape) - 1))
                return ops.reshape(fake_quant_weights(ops, flat, axes), k.shape)
            k = self.inner.kernel
            return fake_quant_weights(ops, k, tuple(range(len(k.shape) - 1)))

        def call(self, x: Any) -> Any:
            layer, kernel = self.inner, self._kernel()
            if self.kind == "Dense":
                y = ops.matmul(x, kernel)
            else:
                padding = layer.padding
                if padding == "causal":
                    k = (kernel.shape[0] - 1) * layer.dilation_rate[0]
                    x = ops.pad(x, [[0, 0], [k, 0], [0, 0]])
                    padding = "valid"
                if self.kind.startswith("Depthwise"):
                    y = ops.depthwise_conv(x, kernel, strides=layer.strides, padding=padding,
                                           data_format=layer.data_format, dilation_rate=layer.dilation_rate)
                else:
                    y = ops.conv(x, kernel, strides=layer.strides, padding=padding, data_format=layer.data_format,
                                 dilation_rate=layer.dilation_rate)
            if layer.use_bias:
                y = y + layer.bias
            return layer.activation(y) if layer.activation is not None else y

        def compute_output_shape(self, input_shape: Any) -> Any:
            return self.inner.compute_output_shape(input_shape)

    return QuantizedLayer, ActivationQuantizer
