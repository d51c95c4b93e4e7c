"""Graph surgery on Keras 3 models: copy, rebuild with layers replaced/dropped/re-configured, walk chains.

A rebuild goes through ``keras.models.clone_model`` with a ``call_function`` (Sequential models are
first viewed as functional), so it works on any functional graph; layers keep their names and,
unless a plan says otherwise, their weights. The result never shares variables with the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import ModelError, UnsupportedOpError
from edgekit.optimize.finetune import import_keras


@dataclass
class Plan:
    """What a rebuild does with one layer (by name).

    ``kind``: ``"clone"`` (same class, ``config`` overrides, ``weights`` or the original ones),
    ``"replace"`` (call ``layers`` in sequence instead, setting ``weights`` on each), or ``"drop"``
    (identity: the layer's input passes through).
    """

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    weights: list[Any] | None = None
    layers: list[Any] = field(default_factory=list)


def as_functional(model: Any) -> Any:
    """The model itself if functional, a functional view sharing its layers if Sequential."""
    keras = import_keras()
    if isinstance(model, keras.Sequential):
        inputs, outputs = model.inputs, model.outputs
        if len(inputs) == 1 and len(outputs) == 1:  # a single tensor, not a list: callers pass bare arrays
            inputs, outputs = inputs[0], outputs[0]
        return keras.Model(inputs, outputs, name=model.name)
    if not hasattr(model, "_operations") and not hasattr(model, "_nodes_by_depth"):
        raise ModelError(f"model {model.name!r} is a subclassed model; only Sequential and functional models "
                         "can be optimized", hint="build the model with the functional or Sequential API")
    return model


def graph_layers(model: Any) -> list[Any]:
    """The model's layers in call order, without the InputLayer; nested models are refused (named)."""
    keras = import_keras()
    layers = [layer for layer in as_functional(model).layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:
        if isinstance(layer, keras.Model):
            raise UnsupportedOpError(f"layer {layer.name!r} is a nested model; edgekit cannot rewrite inside it",
                                     hint="flatten it: rebuild the model calling the inner model's layers directly")
    return layers


def own_nodes(model: Any) -> dict[str, list[Any]]:
    """Layer name -> the calls (Keras nodes) of that layer inside ``model``'s own graph, inputs to outputs.

    A Keras 3 layer remembers every call it ever took part in (``_inbound_nodes``): a model saved to
    ``.keras`` and loaded back holds several per layer (the Sequential build, the functional graph
    rebuilt on load), a layer reused in two models one per model. Only the calls this model's outputs
    depend on count: a layer with two of them is shared within the model.
    """
    fmodel = as_functional(model)
    stop = {id(t) for t in fmodel.inputs}
    seen: set[int] = set()
    out: dict[str, list[Any]] = {}
    stack = list(fmodel.outputs)
    while stack:
        t = stack.pop()
        hist = getattr(t, "_keras_history", None)
        if hist is None:
            continue
        node = hist.operation._inbound_nodes[hist.node_index]
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.setdefault(hist.operation.name, []).append(node)
        if id(t) not in stop:
            stack.extend(node.input_tensors)
    return out


def inbound(layer: Any, nodes: dict[str, list[Any]]) -> list[Any]:
    """The layers feeding ``layer`` (its call in the graph ``nodes`` = :func:`own_nodes`), InputLayers included."""
    calls = nodes.get(layer.name)
    if not calls:
        return []
    return [t._keras_history.operation for t in calls[0].input_tensors]


def io_shape(layer: Any, nodes: dict[str, list[Any]], which: str = "output") -> tuple[Any, ...]:
    """The shape of ``layer``'s first input or output tensor in the graph ``nodes`` (its own call there)."""
    calls = nodes.get(layer.name)
    if not calls:
        return tuple((layer.output if which == "output" else layer.input).shape)
    tensors = calls[0].output_tensors if which == "output" else calls[0].input_tensors
    return tuple(tensors[0].shape)


def consumers(model: Any) -> dict[str, list[Any]]:
    """Layer name -> the layers of ``model`` that read its output (counted in this model's graph only)."""
    nodes = own_nodes(model)
    out: dict[str, list[Any]] = {}
    for layer in as_functional(model).layers:
        for node in nodes.get(layer.name, []):
            for t in node.input_tensors:
                out.setdefault(t._keras_history.operation.name, []).append(layer)
    return out


def layer_chain(model: Any, technique: str) -> list[Any]:
    """The layers of a model that is a simple chain (one input and one consumer per layer), in order.

    Raises UnsupportedOpError naming the first layer that branches, merges or is shared.
    """
    layers = graph_layers(model)
    nodes = own_nodes(model)
    cons = consumers(model)
    for layer in layers:
        if len(nodes.get(layer.name, [])) > 1:
            raise UnsupportedOpError(f"{technique}: layer {layer.name!r} is shared (called more than once); "
                                     "only simple chains are supported")
        ins = inbound(layer, nodes)
        if len(ins) != 1:
            raise UnsupportedOpError(f"{technique}: layer {layer.name!r} ({type(layer).__name__}) has {len(ins)} "
                                     "inputs; only simple chains (Sequential-like models) are supported",
                                     hint="residual/branching graphs (Add, Concatenate) are not supported here; "
                                          "use magnitude pruning or low-rank instead")
        if len(cons.get(layer.name, [])) > 1:
            raise UnsupportedOpError(f"{technique}: the output of layer {layer.name!r} feeds "
                                     f"{len(cons[layer.name])} layers; only simple chains are supported",
                                     hint="residual/branching graphs are not supported here; "
                                          "use magnitude pruning or low-rank instead")
    return layers


def copy_model(model: Any) -> Any:
    """An independent copy (same architecture and weights, new variables)."""
    keras = import_keras()
    as_functional(model)  # refuses subclassed models
    try:
        clone = keras.models.clone_model(model)
    except Exception as exc:  # custom layers without get_config, etc.
        raise ModelError(f"model {model.name!r} cannot be copied: {str(exc).splitlines()[0][:200]}",
                         hint="custom layers need get_config(); or pass a model of built-in layers") from None
    clone.set_weights(model.get_weights())
    return clone


def rebuild(model: Any, plans: dict[str, Plan]) -> Any:
    """A new model where the layers named in ``plans`` are re-configured, replaced or dropped."""
    keras = import_keras()
    fmodel = as_functional(model)
    graph_layers(model)  # refuses nested models
    originals = {layer.name: layer for layer in fmodel.layers}
    cloned: dict[str, Any] = {}

    def clone_fn(layer: Any) -> Any:
        plan = plans.get(layer.name)
        if plan is not None and plan.kind in ("replace", "drop"):
            return layer  # a marker: call_fn never calls it
        config = layer.get_config()
        if plan is not None:
            config.update(plan.config)
        new = layer.__class__.from_config(config)
        cloned[layer.name] = new
        return new

    def call_fn(layer: Any, *args: Any, **kwargs: Any) -> Any:
        plan = plans.get(layer.name)
        if plan is not None and plan.kind == "drop":
            return args[0]
        if plan is not None and plan.kind == "replace":
            x = args[0]
            for new in plan.layers:
                x = new(x)
            return x
        return layer(*args, **kwargs)

    new_model = keras.models.clone_model(fmodel, clone_function=clone_fn, call_function=call_fn)
    for name, new in cloned.items():
        plan = plans.get(name)
        weights = plan.weights if plan is not None and plan.weights is not None else originals[name].get_weights()
        if weights:
            new.set_weights([np.asarray(w) for w in weights])
    for plan in plans.values():
        if plan.kind == "replace":
            for new, w in zip(plan.layers, plan.weights or [], strict=False):
                if w:
                    new.set_weights([np.asarray(a) for a in w])
    return new_model


def unique_name(model: Any, base: str) -> str:
    """``base`` if no layer of ``model`` has that name, else ``base_2``, ``base_3``..."""
    names = {layer.name for layer in as_functional(model).layers}
    if base not in names:
        return base
    i = 2
    while f"{base}_{i}" in names:
        i += 1
    return f"{base}_{i}"


def kernel_names(layer: Any) -> list[str]:
    """Names of the weight matrices of a layer that pruning treats as kernels (not biases, not BN)."""
    return [n for n in ("kernel", "depthwise_kernel", "pointwise_kernel") if getattr(layer, n, None) is not None]


def fold_batchnorm(model: Any) -> tuple[Any, list[str]]:
    """Fold every BatchNormalization that directly follows a linear Conv/Dense (its only consumer) into it.

    ``w' = w * g``, ``b' = beta + (b - mean) * g`` with ``g = gamma / sqrt(var + eps)`` per output channel:
    what the TFLite converter does at conversion time, done up front so that fake-quant sees the folded
    weights. Returns the new model and the names of the folded BN layers (others are kept as they are).
    """
    keras = import_keras()
    cons = consumers(model)
    nodes = own_nodes(model)
    plans: dict[str, Plan] = {}
    folded: list[str] = []
    foldable = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense, keras.layers.DepthwiseConv2D)
    for bn in graph_layers(model):
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        src = inbound(bn, nodes)
        if len(src) != 1 or not isinstance(src[0], foldable) or len(cons.get(src[0].name, [])) != 1:
            continue
        conv = src[0]
        axis = bn.axis if isinstance(bn.axis, int) else (bn.axis[0] if len(bn.axis) == 1 else None)
        rank = len(io_shape(bn, nodes, "input"))
        if axis not in (-1, rank - 1) or getattr(conv, "activation", None) is not keras.activations.linear:
            continue
        if isinstance(conv, keras.layers.Conv2D) and getattr(conv, "groups", 1) != 1:
            continue
        gamma = bn.gamma.numpy() if bn.scale else 1.0
        beta = bn.beta.numpy() if bn.center else 0.0
        g = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
        w = conv.get_weights()
        kernel = w[0]
        bias = w[1] if conv.use_bias else np.zeros(kernel.shape[-1] if not isinstance(
            conv, keras.layers.DepthwiseConv2D) else kernel.shape[-2] * kernel.shape[-1], np.float32)
        if isinstance(conv, keras.layers.DepthwiseConv2D):
            shaped = g.reshape(kernel.shape[-2], kernel.shape[-1])
            new_kernel = kernel * shaped
        else:
            new_kernel = kernel * g
        new_bias = beta + (bias - bn.moving_mean.numpy()) * g
        plans[conv.name] = Plan("clone", config={"use_bias": True},
                                weights=[new_kernel.astype(np.float32), np.asarray(new_bias, np.float32)])
        plans[bn.name] = Plan("drop")
        folded.append(bn.name)
    if not plans:
        return copy_model(model), []
    return rebuild(model, plans), folded
