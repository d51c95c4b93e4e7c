"""Quantization-aware training (QAT) that simulates TFLite's full-int8 scheme, Keras 3 native.

What is simulated (see :mod:`edgekit.optimize._qat_layers`):

* BatchNormalization after a linear Conv/Dense is folded into it first (what the converter does),
  so fake-quant sees the folded weights the int8 model will hold;
* weights: per-output-channel symmetric int8 (Dense, Conv1D/2D, DepthwiseConv);
* activations: per-tensor asymmetric int8 with EMA ranges, placed where TFLite puts quantized
  tensors: the model input, each layer output after a fusable activation (ReLU/ReLU6 fuse into
  the op, so the pre-activation is not quantized), before a non-fusable activation (softmax,
  tanh...: TFLite runs it as a separate op). Layers that keep their input's scale in TFLite
  (max pooling, flatten, reshape, dropout, padding...) get no quantizer; softmax outputs neither
  (TFLite fixes them at 1/256).

**How the QAT ranges reach the int8 model.** The returned model is a plain float Keras model
(fake-quant removed, BN folded), so it flows into :func:`edgekit.conversion.convert` unchanged. There
the weights are quantized with ``max|w| / 127`` per channel: exactly the grid QAT trained them
on. Activation ranges are recomputed by the converter from the representative (calibration)
dataset as min/max over its samples; QAT tracked the same statistics (EMA of batch min/max) on the
training distribution. Give ``convert`` a few hundred samples drawn from the training data and
the ranges agree (the QAT ranges are returned in :class:`QATInfo` to compare with the int8 model's
scales). Calibrating on different data than QAT saw would lose part of the gain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from edgekit.errors import UsageError
from edgekit.optimize._graph import consumers, copy_model, fold_batchnorm, graph_layers
from edgekit.optimize._qat_layers import qat_classes
from edgekit.optimize.finetune import (
    FineTune,
    check_data,
    check_model,
    default_loss,
    fit,
    import_keras,
    make_optimizer,
    monitor_data,
)
from edgekit.optimize.prune import kernel_zero_masks, mask_callback

# layers whose int8 output keeps the input's quantization in TFLite (no quantizer after them)
_SAME_SCALE = ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
               "GlobalMaxPooling2D", "Flatten", "Reshape", "Permute", "Dropout", "SpatialDropout1D",
               "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ZeroPadding1D",
               "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Identity",
               "ActivityRegularization")
_WEIGHTED = ("Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D")


@dataclass
class QATInfo:
    """What QAT did: folded BatchNorms, the activation ranges it learned (quantizer name -> (min, max))."""

    folded_batchnorm: list[str] = field(default_factory=list)
    quantized_layers: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    kept_sparsity: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)  # the fine-tuning record of the main QAT phase


def _fusable(layer: Any) -> bool:
    """An activation TFLite fuses into the op before it (RELU, RELU6)."""
    keras = import_keras()
    if isinstance(layer, keras.layers.ReLU):
        return float(layer.negative_slope) == 0 and float(layer.threshold) == 0 and layer.max_value in (None, 6, 6.0)
    if type(layer).__name__ == "Activation":
        return layer.activation in (keras.activations.relu, keras.activations.relu6)
    return False


def _act_fusable(act: Any) -> bool:
    keras = import_keras()
    return act in (None, keras.activations.linear, keras.activations.relu, keras.activations.relu6)


def _is_softmax(layer: Any) -> bool:
    keras = import_keras()
    return isinstance(layer, keras.layers.Softmax) or getattr(layer, "activation", None) is keras.activations.softmax


def quantize_model(model: Any, decay: float = 0.99) -> tuple[Any, dict[str, Any]]:
    """A training graph of ``model`` with fake-quantized weights and activations (weights copied).

    Returns the QAT model and ``{layer name: QuantizedLayer}`` for the weighted layers.
    """
    keras = import_keras()
    quantized_cls, quantizer_cls = qat_classes()
    layers = graph_layers(model)
    cons = consumers(model)
    originals = {layer.name: layer for layer in layers}
    wrappers: dict[str, Any] = {}
    split: dict[str, Any] = {}  # layer name -> its non-fusable activation, run as a separate layer
    quantized_inputs: dict[int, Any] = {}

    def clone_fn(layer: Any) -> Any:
        config = layer.get_config()
        if type(layer).__name__ in _WEIGHTED and getattr(layer, "groups", 1) == 1:
            if not _act_fusable(layer.activation):
                split[layer.name] = layer.activation
                config["activation"] = "linear"
            wrapper = quantized_cls(layer.__class__.from_config(config))
            wrappers[layer.name] = wrapper
            return wrapper
        return layer.__class__.from_config(config)

    def quantize_input(t: Any) -> Any:
        if isinstance(getattr(t, "_keras_history", (None,))[0], keras.layers.InputLayer):
            if id(t) not in quantized_inputs:
                name = "input_fq" if not quantized_inputs else f"input_{len(quantized_inputs)}_fq"
                quantized_inputs[id(t)] = quantizer_cls(decay, name=name)(t)
            return quantized_inputs[id(t)]
        return t

    def call_fn(layer: Any, *args: Any, **kwargs: Any) -> Any:
        args = keras.tree.map_structure(quantize_input, args)
        y = layer(*args, **kwargs)
        name = layer.name
        if name in split:
            y = quantizer_cls(decay, name=f"{name}_preact_fq")(y)
            y = keras.layers.Activation(split[name], name=f"{name}_act")(y)
        orig = originals[name]
        next_layers = cons.get(name, [])
        fused_next = len(next_layers) == 1 and _fusable(next_layers[0])
        if type(orig).__name__ in _SAME_SCALE or _is_softmax(orig) or fused_next:
            return y
        return quantizer_cls(decay, name=f"{name}_fq")(y)

    from edgekit.optimize._graph import as_functional

    qmodel = keras.models.clone_model(as_functional(model), clone_function=clone_fn, call_function=call_fn)
    for layer in qmodel.layers:
        src = originals.get(layer.name)
        if src is None or not src.weights:
            continue
        target = layer.inner if layer.name in wrappers else layer
        target.set_weights(src.get_weights())
    return qmodel, wrappers


def qat(model: Any, x: Any, y: Any, *, calib: Any = None, finetune: FineTune | None = None, decay: float = 0.99,
        freeze_epochs: int = 1, fold_bn: bool = True, keep_sparsity: bool = True) -> Any:
    """Fine-tune ``model`` with simulated int8 quantization; returns a plain float model for :func:`edgekit.conversion`.

    Args:
        model: a trained Keras model (or .keras path); not modified.
        x, y: training data and labels.
        calib: the calibration inputs you will give :func:`edgekit.conversion.convert`. When given, the
            last ``freeze_epochs`` epochs train on activation ranges set to the min/max over ``calib``
            (what the converter will compute) instead of the EMA ranges: the int8 model then uses
            the ranges the weights were trained for. Recommended.
        finetune: epochs, optimizer... (default: Adam 1e-3 until held-out accuracy stops improving, then
            ``freeze_epochs`` on the calibration ranges; a lower rate such as 1e-4 is
            often better for an already converged model).
        decay: EMA decay of the activation ranges per step (0.99: about the last 100 batches).
        freeze_epochs: epochs trained on the calibration ranges at the end (only with ``calib``).
        fold_bn: fold BatchNormalization into the preceding Conv/Dense first (as the converter will).
        keep_sparsity: kernels that are already at least 5% exact zeros (a pruned model) stay sparse.

    Raises:
        DataError: no labels, or data of the wrong shape. UsageError: decay outside [0, 1).
    """
    return qat_info(model, x, y, calib=calib, finetune=finetune, decay=decay, freeze_epochs=freeze_epochs,
                    fold_bn=fold_bn, keep_sparsity=keep_sparsity)[0]


def qat_info(model: Any, x: Any, y: Any, *, calib: Any = None, finetune: FineTune | None = None,
             decay: float = 0.99, freeze_epochs: int = 1, fold_bn: bool = True,
             keep_sparsity: bool = True) -> tuple[Any, QATInfo]:
    """:func:`qat`, also returning a :class:`QATInfo`."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
        raise UsageError(f"decay: must be a number in [0, 1), got {decay!r}")
    if isinstance(freeze_epochs, bool) or not isinstance(freeze_epochs, int) or freeze_epochs < 0:
        raise UsageError(f"freeze_epochs: must be an integer >= 0, got {freeze_epochs!r}")
    ft = finetune or FineTune()
    model = check_model(model)
    base, folded = fold_batchnorm(model) if fold_bn else (copy_model(model), [])
    xs, ys = check_data(base, x, y, need_labels=True, why="quantization-aware training")
    xc = check_data(base, calib, None, need_labels=False, what="calibration data")[0] if calib is not None else None
    info = QATInfo(folded_batchnorm=folded)
    if ft.epochs == 0:
        info.notes.append("epochs = 0: nothing trained (the model is only BN-folded)")
        return base, info
    qmodel, wrappers = quantize_model(base, decay)
    info.quantized_layers = sorted(wrappers)
    _, quantizer_cls = qat_classes()
    quantizers = [layer for layer in qmodel.layers if isinstance(layer, quantizer_cls)]
    callbacks = []
    if keep_sparsity:
        masks = {name: m for name, m in kernel_zero_masks(base).items() if name in wrappers}
        if masks:
            info.kept_sparsity = sorted(masks)
            callbacks.append(mask_callback({n: wrappers[n].inner for n in masks}, {n: 0.0 for n in masks}, None,
                                           fixed=masks))
    loss = default_loss(base, ys)
    if ft.epochs is None:  # EMA ranges until held-out accuracy stops improving, then the frozen epochs
        xs, ys, xm, ym = monitor_data(xs, ys, ft)
        frozen = freeze_epochs if xc is not None else 0
        info.fit = asdict(fit(qmodel, xs, ys, ft, what="quantization-aware training", callbacks=callbacks,
                              loss=loss, monitor=(xm, ym)))
    else:
        frozen = min(freeze_epochs, ft.epochs) if xc is not None else 0
        if ft.epochs - frozen > 0:
            info.fit = asdict(fit(qmodel, xs, ys, replace(ft, epochs=ft.epochs - frozen),
                                  what="quantization-aware training", callbacks=callbacks, loss=loss))
    if xc is not None:
        _calibrate(qmodel, quantizers, xc, ft.batch_size)
        info.notes.append(f"activation ranges set to the min/max over {len(xc)} calibration samples "
                          f"(as the converter computes them) for the last {frozen} epoch(s)")
        if frozen:
            if qmodel.optimizer is None:
                qmodel.compile(optimizer=make_optimizer(ft), loss=ft.loss or loss, metrics=["accuracy"])
            qmodel.make_train_function(force=True)  # the quantizers' mode changed: trace again
            fit(qmodel, xs, ys, replace(ft, epochs=frozen), what="QAT on calibration ranges", callbacks=callbacks,
                compile_model=False)
    for q in quantizers:
        info.ranges[q.name] = (float(q.range_min.numpy()), float(q.range_max.numpy()))
    qnames = {layer.name for layer in qmodel.layers}
    for layer in base.layers:
        if layer.weights and layer.name in qnames:
            src = qmodel.get_layer(layer.name)
            layer.set_weights((src.inner if layer.name in wrappers else src).get_weights())
    return base, info


def _calibrate(qmodel: Any, quantizers: list[Any], xc: Any, batch_size: int) -> None:
    """Set every quantizer's range to the min/max of its input over ``xc`` (float pass), then freeze it."""
    for q in quantizers:
        q.mode = "observe"
        q.seen.assign(0.0)
    for i in range(0, len(xc), batch_size):
        qmodel(xc[i:i + batch_size], training=False)
    for q in quantizers:
        q.mode = "frozen"
