"""Recurrent Keras 3 layers made convertible to full-integer TFLite (TF 2.21), by unrolling them.

TF 2.21's converter cannot quantize a Keras 3 ``LSTM``/``GRU``/``SimpleRNN`` as traced: the
``while`` loop over time becomes tensor-list ops, and full-int8 calibration of that graph
crashes the process (SIGSEGV) or fails ("Lowering tensor list ops is failed"). The converter
fuses only TF-Keras 2 LSTMs into ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (it matches their
``experimental_implements`` signature; Keras 3 layers carry none).

So each recurrent layer is rebuilt as its equations over a fixed number of time steps, with the
weights split per gate as constants: every step is FULLY_CONNECTED / ADD / MUL / LOGISTIC / TANH
(SUB for GRU), the sequence is cut by one UNPACK and a returned sequence joined by one PACK. Keras'
own ``unroll=True`` converts too, but it keeps each step's fused gate matrix and SPLITs it; at the
first step (zero state) some SPLIT outputs are dead, and TF 2.21 then sometimes leaves that SPLIT
in float (DEQUANTIZE/QUANTIZE around it; it varied from run to run on the same model). Here the
first step drops the terms a zero state cancels (the forget gate, the recurrent products).

Stateful layers (``stateful=True``) keep their state between inferences as TFLite resource
variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE, initialised by CALL_ONCE), quantized like
activations (``_experimental_variable_quantization``); TFLM keeps them in its arena across
``Invoke`` calls, so a streaming model on the device carries its state as the Keras layer does.
Measurements behind these choices: ``/work/notes/convert.md``.
"""

from __future__ import annotations

from typing import Any

import keras  # this module is imported only where TensorFlow runs (the converter child)
import numpy as np

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


def loops(model: Any) -> list[str]:
    """Names of recurrent layers left as loops (``RNN(cell)``, ConvLSTM, ...): TF 2.21 may crash on them."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.RNN) and type(layer).__name__ not in RECURRENT:
            found.append(f"{layer.name!r} ({type(layer).__name__})")
        elif hasattr(layer, "layers"):
            found.extend(loops(layer))
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
        if name in RECURRENT or name in WRAPPERS:
            return _unrolled_layer(layer)
        return layer.__class__.from_config(layer.get_config())

    inp = keras.Input(shape=sample_shape, batch_size=1, dtype=model.inputs[0].dtype, name="input")
    try:
        copy = keras.models.clone_model(model, input_tensors=inp, clone_function=clone)
        for new in copy.layers:
            if new.weights and not isinstance(new, _Unrolled):
                new.set_weights(model.get_layer(new.name).get_weights())
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {model.name!r}: cannot rebuild it with unrolled recurrent layers "
                         f"({str(exc).strip().splitlines()[0][:200]})",
                         hint="recurrent models must be functional or Sequential Keras models") from None
    return copy


def _unrolled_layer(layer: Any) -> Any:
    name = type(layer).__name__
    if name == "Bidirectional":
        if layer.merge_mode not in ("concat", "sum", "mul", "ave"):
            raise ModelError(f"layer {layer.name!r}: Bidirectional merge_mode {layer.merge_mode!r} is not supported",
                             hint="use merge_mode 'concat', 'sum', 'mul' or 'ave'")
        cells = [_Cell(layer.forward_layer), _Cell(layer.backward_layer)]
        return _Unrolled(cells, layer.merge_mode, name=layer.name)
    return _Unrolled([_Cell(layer)], None, name=layer.name)


class _Cell:
    """One recurrent layer's equations with per-gate weights (numpy constants, no SPLIT in the graph)."""

    def __init__(self, layer: Any) -> None:
        kind = type(layer).__name__
        if kind not in RECURRENT:
            raise ModelError(f"layer {layer.name!r}: cannot unroll a {kind}",
                             hint=f"edgekit converts {', '.join(RECURRENT)} (and Bidirectional of them)")
        cfg = layer.get_config()
        if cfg.get("return_state"):
            raise ModelError(f"layer {layer.name!r}: return_state=True is not supported",
                             hint="return the sequence or the last output only")
        self.kind, self.name, self.units = kind, layer.name, int(cfg["units"])
        self.go_backwards, self.stateful = bool(cfg["go_backwards"]), bool(cfg["stateful"])
        self.return_sequences = bool(cfg["return_sequences"])
        self.act = keras.activations.get(cfg["activation"])
        self.rec_act = keras.activations.get(cfg.get("recurrent_activation", "sigmoid"))
        weights = layer.get_weights()
        kernel, rec = weights[0], weights[1]
        bias = weights[2] if len(weights) > 2 else None
        gates = {"LSTM": "ifco", "GRU": "zrh", "SimpleRNN": "h"}[kind]
        h = self.units
        self.reset_after = bool(cfg.get("reset_after", False))
        if bias is None:
            b_in = b_rec = np.zeros(len(gates) * h, np.float32)
        elif kind == "GRU" and self.reset_after:
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in, b_rec = bias, np.zeros_like(bias)
        self.w = {g: kernel[:, i * h:(i + 1) * h] for i, g in enumerate(gates)}
        self.u = {g: rec[:, i * h:(i + 1) * h] for i, g in enumerate(gates)}
        self.b = {g: b_in[i * h:(i + 1) * h] for i, g in enumerate(gates)}
        self.b_rec_h = b_rec[2 * h:3 * h] if kind == "GRU" else None
        if kind == "GRU":  # z and r: the recurrent bias adds to the input one (exact); h's stays inside r * (.)
            for i, g in enumerate("zr"):
                self.b[g] = self.b[g] + b_rec[i * h:(i + 1) * h]


def _mm(x: Any, w: np.ndarray, b: np.ndarray | None = None) -> Any:
    from keras import ops

    y = ops.matmul(x, w)
    return y if b is None else y + b


class _Unrolled(keras.layers.Layer):
    """One recurrent layer (or a Bidirectional pair) unrolled over a fixed number of time steps."""

    def __init__(self, cells: list[_Cell], merge_mode: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cells, self.merge_mode = cells, merge_mode
        self.state_vars: list[list[Any]] = []
        for cell in cells:
            n_states = 2 if cell.kind == "LSTM" else 1
            self.state_vars.append([self.add_weight(shape=(1, cell.units), initializer="zeros", trainable=False,
                                                    name=f"{cell.name}_state{i}")
                                    for i in range(n_states)] if cell.stateful else [])

    def call(self, inputs: Any, mask: Any = None, training: Any = None, initial_state: Any = None) -> Any:
        from keras import ops

        if mask is not None or initial_state is not None:
            raise ModelError(f"layer {self.name!r}: masking and initial_state are not supported by the unrolled "
                             "recurrent layers", hint="pad sequences to a fixed length without a Masking layer")

        steps = ops.unstack(inputs, axis=1)
        outs = [self._run(cell, steps, state) for cell, state in zip(self.cells, self.state_vars, strict=True)]
        if len(outs) == 1:
            return outs[0]
        fwd, bwd = outs
        if self.merge_mode == "concat":
            return ops.concatenate([fwd, bwd], axis=-1)
        if self.merge_mode == "sum":
            return fwd + bwd
        if self.merge_mode == "mul":
            return fwd * bwd
        return (fwd + bwd) * 0.5

    def _run(self, cell: _Cell, steps: list[Any], state_vars: list[Any]) -> Any:
        from keras import ops

        order = list(reversed(steps)) if cell.go_backwards else steps
        state = [v.value for v in state_vars] if state_vars else None  # None: zeros, step 0 simplified
        outputs = []
        for x in order:
            state = _STEP[cell.kind](cell, x, state)
            outputs.append(state[0])
        for var, value in zip(state_vars, state, strict=False):  # no variables: stateless
            var.assign(value)
        if not cell.return_sequences:
            return outputs[-1]
        if len(self.cells) == 2 and cell.go_backwards:  # Bidirectional aligns the backward sequence in time
            outputs = outputs[::-1]
        return ops.stack(outputs, axis=1)


def _lstm(c: _Cell, x: Any, state: list[Any] | None) -> list[Any]:
    def gate(g: str, act: Any) -> Any:
        pre = _mm(x, c.w[g], c.b.get(g))
        return act(pre if state is None else pre + _mm(state[0], c.u[g]))

    i, g, o = gate("i", c.rec_act), gate("c", c.act), gate("o", c.rec_act)
    cell = i * g if state is None else gate("f", c.rec_act) * state[1] + i * g  # c0 = 0: no forget gate
    return [o * c.act(cell), cell]


def _gru(c: _Cell, x: Any, state: list[Any] | None) -> list[Any]:
    h = None if state is None else state[0]

    def gate(g: str) -> Any:
        pre = _mm(x, c.w[g], c.b[g])
        return c.rec_act(pre if h is None else pre + _mm(h, c.u[g]))

    z = gate("z")
    x_h = _mm(x, c.w["h"], c.b["h"])
    if h is None:  # h0 = 0: the recurrent term is r * b_rec_h (reset_after) or 0
        inner = gate("r") * c.b_rec_h if c.reset_after and np.any(c.b_rec_h) else None
    elif c.reset_after:
        inner = gate("r") * _mm(h, c.u["h"], c.b_rec_h)
    else:
        inner = _mm(gate("r") * h, c.u["h"])
    hh = c.act(x_h if inner is None else x_h + inner)
    return [(1.0 - z) * hh if h is None else z * h + (1.0 - z) * hh]


def _simple(c: _Cell, x: Any, state: list[Any] | None) -> list[Any]:
    pre = _mm(x, c.w["h"], c.b["h"])
    return [c.act(pre if state is None else pre + _mm(state[0], c.u["h"]))]


_STEP = {"LSTM": _lstm, "GRU": _gru, "SimpleRNN": _simple}
