"""Recurrent Keras 3 layers made convertible to full-integer TFLite (TF 2.21), by unrolling them.

TF 2.21's converter cannot quantize a Keras 3 ``LSTM``/``GRU``/``SimpleRNN`` as traced: the
``while`` loop over time becomes tensor-list ops, and full-int8 calibration of that graph
crashes the process (SIGSEGV) or fails ("Lowering tensor list ops is failed"). The converter
fuses only TF-Keras 2 LSTMs into ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (it matches their
``experimental_implements`` signature; Keras 3 layers carry none). Unrolled (``unroll=True``,
a fixed number of time steps), every step is plain FULLY_CONNECTED / ADD / MUL / LOGISTIC /
TANH (plus UNPACK/SPLIT/STRIDED_SLICE to cut the sequence and the gates), which quantize to
int8 and run on TFLM. Measurements behind this choice: ``/work/notes/convert.md`` and
:func:`edgekit.conversion.convert`'s docstring.

Stateful layers (``stateful=True``) keep their state between inferences as TFLite resource
variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE, initialised by CALL_ONCE), quantized to
int8 like any activation (``_experimental_variable_quantization``); TFLM keeps them in its arena
across ``Invoke`` calls, so a streaming model on the device carries its state as Keras does.
"""

from __future__ import annotations

from typing import Any

from edgekit.errors import ModelError

RECURRENT = ("LSTM", "GRU", "SimpleRNN")
WRAPPERS = ("Bidirectional",)


def recurrent_layers(model: Any) -> list[Any]:
    """The recurrent layers (LSTM/GRU/SimpleRNN, or wrappers of them) anywhere in ``model``."""
    found = []
    for layer in getattr(model, "layers", []):
        name = type(layer).__name__
        if name in RECURRENT or name in WRAPPERS:
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(recurrent_layers(layer))
    return found


def is_stateful(model: Any) -> bool:
    """Whether any recurrent layer of ``model`` keeps its state between calls."""
    return any(getattr(layer, "stateful", False) or getattr(getattr(layer, "forward_layer", None), "stateful", False)
               for layer in recurrent_layers(model))


def unroll(model: Any, sample_shape: tuple[int, ...]) -> Any:
    """A copy of ``model`` (fixed batch 1) whose recurrent layers are unrolled over time, same weights.

    Raises :class:`ModelError` for what cannot be unrolled: an unknown number of time steps, a
    nested or subclassed model around the recurrent layer, a recurrent layer of another kind.
    """
    import keras

    for layer in recurrent_layers(model):
        if layer not in model.layers:
            raise ModelError(f"recurrent layer {layer.name!r} sits inside a nested model; edgekit unrolls "
                             "recurrent layers of the top-level model only",
                             hint="build one flat functional or Sequential model")
    if len(sample_shape) != 2:
        raise ModelError(f"model {model.name!r}: a recurrent model needs inputs of shape (time steps, features), "
                         f"got {sample_shape}", hint="give keras.Input a fixed number of time steps")

    def clone(layer: Any) -> Any:
        name = type(layer).__name__
        if name not in RECURRENT and name not in WRAPPERS:
            return layer.__class__.from_config(layer.get_config())
        config = layer.get_config()
        subs = [{"class_name": name, "config": config}] if name in RECURRENT else \
            [config[k] for k in ("layer", "backward_layer") if config.get(k)]
        for sub in subs:
            if sub["class_name"] not in RECURRENT:
                raise ModelError(f"layer {layer.name!r}: cannot unroll a {sub['class_name']}",
                                 hint=f"edgekit converts {', '.join(RECURRENT)} (and Bidirectional of them)")
            sub["config"]["unroll"] = True
        return layer.__class__.from_config(config)

    inp = keras.Input(shape=sample_shape, batch_size=1, dtype=model.inputs[0].dtype, name="input")
    try:
        copy = keras.models.clone_model(model, input_tensors=inp, clone_function=clone)
        copy.set_weights(model.get_weights())
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {model.name!r}: cannot rebuild it with unrolled recurrent layers "
                         f"({str(exc).strip().splitlines()[0][:200]})",
                         hint="recurrent models must be functional or Sequential Keras models") from None
    return copy
