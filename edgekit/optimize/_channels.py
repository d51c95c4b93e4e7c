"""Channel bookkeeping for structured pruning on any functional graph: which output channels are tied together.

Every tensor's last axis is described by a :class:`Layout`: segments of channels, each owned by the
producer (Conv1D/Conv2D/Dense) that created them, possibly repeated by a depthwise multiplier, and
possibly flattened over spatial positions. Walking the graph once:

* a producer (Conv1D/Conv2D/Dense/SeparableConv1D/SeparableConv2D) starts a new segment (its own channels);
* BatchNormalization, activations, pooling, dropout, padding... pass the layout through;
* DepthwiseConv1D/2D pass it through with every channel repeated ``depth_multiplier`` times (the
  depthwise channels follow their input);
* Add/Subtract/Multiply/Average/Maximum/Minimum tie their inputs' segments together (union-find):
  tied producers must keep the same channels (an input with one channel broadcasts and ties nothing);
* Concatenate on the last axis lays its inputs' segments end to end (each keeps its range);
* Flatten records the positions the channels are spread over (a following Dense is re-indexed);
* anything else that reads channels (Reshape, Permute, RNNs, attention, a transposed or channels-first
  or non-last-axis layer, a grouped convolution) and the model's output freeze the channels they read,
  with the reason kept to tell the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import UnsupportedOpError
from edgekit.optimize._graph import as_functional, graph_layers, inbound, io_shape, own_nodes

TRANSPARENT = ("Activation", "ReLU", "LeakyReLU", "ELU", "Dropout", "SpatialDropout1D",
               "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "MaxPooling1D",
               "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
               "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D",
               "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Identity",
               "ActivityRegularization")
PRODUCERS = ("Conv1D", "Conv2D", "Dense", "SeparableConv1D", "SeparableConv2D")
SEPARABLE = ("SeparableConv1D", "SeparableConv2D")
DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
ELEMENTWISE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
OUTPUT_REASON = "it produces the model's output"


def kind(layer: Any) -> str:
    """The layer's class name."""
    return type(layer).__name__


@dataclass(frozen=True)
class Seg:
    """``n`` channels owned by ``root`` (a producer's name, or ``fixed:...``), each repeated ``rep`` times."""

    root: str
    n: int
    rep: int = 1


@dataclass(frozen=True)
class Layout:
    """A tensor's last axis: segments end to end, spread over ``positions`` (> 1 after a Flatten)."""

    segs: tuple[Seg, ...]
    positions: int = 1

    @property
    def channels(self) -> int:
        return sum(s.n * s.rep for s in self.segs)


@dataclass
class Ties:
    """Union-find over producers; a frozen root (with the reason) keeps all its channels."""

    parent: dict[str, str] = field(default_factory=dict)
    frozen: dict[str, str] = field(default_factory=dict)

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str, reason: str) -> None:
        """Tie ``a`` and ``b``; channels not owned by a producer (``fixed:...``) freeze the group with ``reason``."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        if rb in self.frozen and ra not in self.frozen:
            self.frozen[ra] = self.frozen[rb]
        if ra.startswith("fixed:") or rb.startswith("fixed:"):
            self.frozen.setdefault(ra, reason)

    def freeze(self, layout: Layout, reason: str) -> None:
        for s in layout.segs:
            self.frozen.setdefault(self.find(s.root), reason)

    def why_frozen(self, name: str) -> str | None:
        return self.frozen.get(self.find(name))


def _channels_last(layer: Any) -> bool:
    return getattr(layer, "data_format", "channels_last") in ("channels_last", None)


def _last_axis(layer: Any, rank: int) -> bool:
    axis = getattr(layer, "axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    return axis in (-1, rank - 1)


def _fixed(name: str, n: int) -> Layout:
    return Layout((Seg(f"fixed:{name}", n),))


@dataclass
class Analysis:
    """The layout of every layer's output, the ties between producers and why some are frozen."""

    layers: list[Any]
    layouts: dict[str, Layout]
    inputs: dict[str, list[str]]  # layer -> the names of the layers feeding it
    ties: Ties
    producers: list[Any]


def analyse(model: Any, technique: str = "structured pruning") -> Analysis:
    """Walk ``model`` once: layouts, ties and frozen channels (UnsupportedOpError for shared layers, named).

    "Shared" means called more than once inside this model's graph (:func:`own_nodes`), not the count of
    every call the layer object ever took part in (a model loaded from ``.keras`` has several).
    """
    fmodel = as_functional(model)
    layers = graph_layers(model)
    nodes = own_nodes(model)
    ties = Ties()
    layouts: dict[str, Layout] = {}
    inputs: dict[str, list[str]] = {}
    for layer in fmodel.layers:
        if kind(layer) == "InputLayer":
            layouts[layer.name] = _fixed(layer.name, int(io_shape(layer, nodes)[-1] or 0))
    producers = []
    for layer in layers:
        calls = len(nodes.get(layer.name, []))
        if calls > 1:
            raise UnsupportedOpError(f"{technique}: layer {layer.name!r} ({kind(layer)}) is shared (called "
                                     f"{calls} times in model {fmodel.name!r}); its channels cannot be pruned per "
                                     "call", hint="build the model with one layer object per call, or use "
                                                  "magnitude pruning")
        srcs = inbound(layer, nodes)
        inputs[layer.name] = [s.name for s in srcs]
        ins = [layouts[s.name] for s in srcs]
        layouts[layer.name] = _step(layer, ins, ties, io_shape(layer, nodes, "input"), io_shape(layer, nodes))
        if kind(layer) in PRODUCERS:
            producers.append(layer)
            ties.find(layer.name)
            why = _producer_problem(layer)
            if why:
                ties.frozen.setdefault(ties.find(layer.name), why)
    for out in fmodel.outputs:
        ties.freeze(layouts[out._keras_history.operation.name], OUTPUT_REASON)
    return Analysis(layers, layouts, inputs, ties, producers)


def _producer_problem(layer: Any) -> str | None:
    if not _channels_last(layer):
        return "channels_first data format"
    if getattr(layer, "groups", 1) != 1:
        return "grouped convolution"
    return None


def _step(layer: Any, ins: list[Layout], ties: Ties, in_shape: tuple[Any, ...], out_shape: tuple[Any, ...]) -> Layout:
    """The layout of ``layer``'s output (shapes of its call in the graph); ties or freezes its inputs' channels."""
    k, name = kind(layer), layer.name
    out_n = int(out_shape[-1] or 0)
    if k in PRODUCERS:
        for lay in ins:
            if getattr(layer, "groups", 1) != 1:
                ties.freeze(lay, f"its output reaches the grouped convolution {name!r}")
            elif lay.positions > 1 and k != "Dense":
                ties.freeze(lay, f"its output reaches {name!r} ({k}) flattened")
        return Layout((Seg(name, out_n),))
    if len(ins) == 1 and (k in TRANSPARENT or (k == "BatchNormalization" and _last_axis(layer, len(out_shape)))):
        return ins[0]
    if k in DEPTHWISE and len(ins) == 1 and _channels_last(layer) and ins[0].positions == 1:
        m = int(layer.depth_multiplier)
        return Layout(tuple(Seg(s.root, s.n, s.rep * m) for s in ins[0].segs))
    if k == "Flatten" and len(ins) == 1 and ins[0].positions == 1:
        return Layout(ins[0].segs, int(np.prod([int(d) for d in in_shape[1:-1]] or [1])))
    if k == "Concatenate" and _last_axis(layer, len(out_shape)) and all(lay.positions == 1 for lay in ins):
        return Layout(tuple(s for lay in ins for s in lay.segs))
    if k in ELEMENTWISE:
        wide = [lay for lay in ins if lay.channels > 1 or out_n == 1]
        shapes = {(*((s.n, s.rep) for s in lay.segs), lay.positions) for lay in wide}
        if len(shapes) == 1:
            for lay in wide[1:]:
                for a, b in zip(wide[0].segs, lay.segs, strict=True):
                    ties.union(a.root, b.root, f"{name!r} ({k}) ties it to channels that cannot be pruned")
            return wide[0]
        for lay in ins:
            ties.freeze(lay, f"its output reaches {name!r} ({k}) with a channel layout that does not line up")
        return _fixed(name, out_n)
    for lay in ins:
        ties.freeze(lay, f"its output reaches {name!r} ({k}), which structured pruning cannot re-index")
    return _fixed(name, out_n)


def kept_indices(layout: Layout, keep: dict[str, np.ndarray], ties: Ties) -> np.ndarray | None:
    """Indices of the channels of a tensor with ``layout`` that survive (``None``: all of them)."""
    parts, offset, changed = [], 0, False
    for s in layout.segs:
        k = keep.get(ties.find(s.root))
        idx = np.arange(s.n) if k is None else k
        changed |= k is not None
        parts.append(offset + (idx[:, None] * s.rep + np.arange(s.rep)[None, :]).ravel())
        offset += s.n * s.rep
    if not changed:
        return None
    idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if layout.positions > 1:
        idx = (np.arange(layout.positions)[:, None] * offset + idx[None, :]).ravel()
    return idx
