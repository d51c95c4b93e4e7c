"""Structured (channel) pruning: rebuild Conv/Dense layers with fewer output channels.

Unlike magnitude pruning, this makes the model smaller and faster on any kernel: each pruned
layer keeps its ``k`` output channels with the largest L1 norm (scaled by a following BatchNorm's
``gamma / sqrt(var + eps)``), and every layer that reads them is sliced to match:

* the next Conv1D/Conv2D/Dense: its kernel's input channels;
* BatchNormalization, DepthwiseConv2D (and its depth multiplier): their per-channel weights;
* Flatten: the flattened positions of the kept channels (channels-last);
* shape-preserving layers in between (activations, pooling, dropout, padding, global pooling): nothing.

Supported graphs: Sequential models and functional models that are simple chains (every layer
has one input and one consumer). **Unsupported** (refused with the layer named): branches and
merges (Add, Concatenate, Multiply: residual networks), shared layers, nested models, grouped
convolutions. A layer whose output reaches the next Conv/Dense through a layer that cannot be
re-indexed (Reshape, Permute, attention, RNNs, SeparableConv...) or is the model's output is left
at full width (recorded in the notes; an error if you named it explicitly).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import UnsupportedOpError, UsageError
from edgekit.optimize._graph import Plan, layer_chain, rebuild
from edgekit.optimize.finetune import FineTune, check_data, check_model, fit, import_keras
from edgekit.optimize.prune import check_sparsity

# layers that leave the channel axis (last) alone: no weights to slice
_TRANSPARENT = ("Activation", "ReLU", "LeakyReLU", "ELU", "Dropout", "SpatialDropout1D",
                "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "MaxPooling1D",
                "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
                "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding1D",
                "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Identity",
                "ActivityRegularization")
_PRODUCERS = ("Conv1D", "Conv2D", "Dense")


@dataclass
class ChannelInfo:
    """What channel pruning did: channels before/after per pruned layer, and layers left alone (why)."""

    channels: dict[str, tuple[int, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)  # the fine-tuning record (epochs run, best epoch...)


def _kind(layer: Any) -> str:
    return type(layer).__name__


def _channels_last(layer: Any) -> bool:
    return getattr(layer, "data_format", "channels_last") in ("channels_last", None)


def _plan_targets(chain: list[Any], ratio: float, layers: dict[str, float] | None) -> tuple[dict[str, float],
                                                                                          dict[str, str]]:
    """Which producers can be pruned (and by how much), and why the others cannot."""
    names = {layer.name: layer for layer in chain}
    explicit = dict(layers or {})
    for name, value in explicit.items():
        if name not in names:
            raise UsageError(f"layers.{name}: no layer named {name!r} in the model",
                             hint="prunable layers: " + ", ".join(n for n, la in names.items()
                                                                  if _kind(la) in _PRODUCERS))
        if _kind(names[name]) not in _PRODUCERS:
            raise UnsupportedOpError(f"layers.{name}: layer {name!r} ({_kind(names[name])}) cannot be channel-pruned; "
                                     "structured pruning prunes Conv1D, Conv2D and Dense output channels")
        check_sparsity(value, f"layers.{name}")
    targets: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for i, layer in enumerate(chain):
        if _kind(layer) not in _PRODUCERS:
            continue
        why = _why_not(chain, i)
        want = explicit.get(layer.name, ratio)
        if why is None and want > 0:
            targets[layer.name] = want
        elif why is not None:
            if layer.name in explicit and explicit[layer.name] > 0:
                raise UnsupportedOpError(f"layers.{layer.name}: layer {layer.name!r} cannot be channel-pruned: {why}")
            skipped[layer.name] = why
    return targets, skipped


def _why_not(chain: list[Any], i: int) -> str | None:
    """None if producer ``chain[i]`` can be pruned, else the reason."""
    layer = chain[i]
    if not _channels_last(layer):
        return "channels_first data format"
    if _kind(layer) == "Conv2D" and getattr(layer, "groups", 1) != 1:
        return "grouped convolution"
    for nxt in chain[i + 1:]:
        kind = _kind(nxt)
        if kind in _PRODUCERS:
            if kind == "Conv2D" and getattr(nxt, "groups", 1) != 1:
                return f"its consumer {nxt.name!r} is a grouped convolution"
            return None
        if kind in _TRANSPARENT or kind in ("BatchNormalization", "DepthwiseConv2D", "DepthwiseConv1D", "Flatten"):
            if kind == "BatchNormalization" and getattr(nxt, "axis", -1) not in (-1, len(nxt.input.shape) - 1, [-1]):
                return f"BatchNormalization {nxt.name!r} does not normalise the last axis"
            continue
        return f"its output reaches {nxt.name!r} ({kind}), which structured pruning cannot re-index"
    return "it produces the model's output"


def _keep(kernel: np.ndarray, scale: np.ndarray | None, ratio: float, multiple_of: int) -> np.ndarray:
    """Sorted indices of the output channels to keep (largest L1 norm, times a following BN's scale)."""
    n = kernel.shape[-1]
    norms = np.abs(kernel).reshape(-1, n).sum(axis=0)
    if scale is not None:
        norms = norms * np.abs(scale)
    k = max(1, round(n * (1.0 - ratio)))
    if multiple_of > 1:
        k = min(n, max(multiple_of, round(k / multiple_of) * multiple_of))
    return np.sort(np.argsort(-norms, kind="stable")[:k])


def _bn_scale(chain: list[Any], i: int) -> np.ndarray | None:
    """gamma / sqrt(var + eps) of a BatchNormalization that directly follows ``chain[i]`` (else None)."""
    if i + 1 < len(chain) and _kind(chain[i + 1]) == "BatchNormalization":
        bn = chain[i + 1]
        gamma = bn.gamma.numpy() if bn.scale else np.ones(bn.moving_variance.shape, np.float32)
        return gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    return None


def prune_channels(model: Any, x: Any = None, y: Any = None, *, ratio: float = 0.5,
                   layers: dict[str, float] | None = None, multiple_of: int = 1,
                   finetune: FineTune | None = None) -> Any:
    """Remove the ``ratio`` least important output channels of each Conv/Dense and rebuild a narrower model.

    Args:
        model: a Sequential or simple-chain functional Keras model (not modified).
        x, y: fine-tuning data and labels (not needed when ``finetune.epochs == 0``).
        ratio: fraction of output channels removed per layer, in [0, 1) (at least one channel stays).
        layers: per-layer ratios by name (0 keeps a layer at full width).
        multiple_of: round the kept channel counts to a multiple of this (e.g. 4 for SIMD kernels).
        finetune: fine-tuning after the surgery (default: Adam 1e-3 until held-out accuracy stops improving).

    Raises:
        UnsupportedOpError: a branching/merging graph, or a named layer that cannot be pruned (named).
        UsageError: ratio outside [0, 1), unknown layer names. DataError: fine-tuning without labels.
    """
    return prune_channels_info(model, x, y, ratio=ratio, layers=layers, multiple_of=multiple_of,
                               finetune=finetune)[0]


def prune_channels_info(model: Any, x: Any = None, y: Any = None, *, ratio: float = 0.5,
                        layers: dict[str, float] | None = None, multiple_of: int = 1,
                        finetune: FineTune | None = None) -> tuple[Any, ChannelInfo]:
    """:func:`prune_channels`, also returning a :class:`ChannelInfo`."""
    ratio = check_sparsity(ratio, "ratio")
    if not isinstance(multiple_of, int) or multiple_of < 1:
        raise UsageError(f"multiple_of: must be an integer >= 1, got {multiple_of!r}")
    ft = finetune or FineTune()
    model = check_model(model)
    import_keras()
    chain = layer_chain(model, "structured pruning")
    targets, skipped = _plan_targets(chain, ratio, layers)
    info = ChannelInfo(skipped=skipped)
    for name, why in skipped.items():
        info.notes.append(f"{name}: kept at full width ({why})")
    if not targets:
        raise UnsupportedOpError(f"structured pruning: no layer of model {model.name!r} can be channel-pruned"
                                 + (f" ({'; '.join(f'{k}: {v}' for k, v in skipped.items())})" if skipped else ""),
                                 hint="the model needs a Conv/Dense layer feeding another Conv/Dense")
    plans: dict[str, Plan] = {}
    keep: np.ndarray | None = None  # kept indices of the channel axis flowing out of the previous layer
    for i, layer in enumerate(chain):
        kind = _kind(layer)
        w = layer.get_weights()
        if kind in _PRODUCERS:
            kernel = w[0] if keep is None else np.take(w[0], keep, axis=-2)
            rest = w[1:]
            if layer.name in targets:
                out_keep = _keep(kernel, _bn_scale(chain, i), targets[layer.name], multiple_of)
                n = kernel.shape[-1]
                kernel = kernel[..., out_keep]
                rest = [b[out_keep] for b in rest]
                key = "units" if kind == "Dense" else "filters"
                plans[layer.name] = Plan("clone", config={key: len(out_keep)}, weights=[kernel, *rest])
                info.channels[layer.name] = (n, len(out_keep))
                keep = out_keep
            else:
                if keep is not None:
                    plans[layer.name] = Plan("clone", weights=[kernel, *rest])
                keep = None
        elif keep is None:
            continue
        elif kind == "BatchNormalization":
            plans[layer.name] = Plan("clone", weights=[a[keep] for a in w])
        elif kind in ("DepthwiseConv2D", "DepthwiseConv1D"):
            mult = w[0].shape[-1]
            kernel = np.take(w[0], keep, axis=-2)
            keep = (keep[:, None] * mult + np.arange(mult)[None, :]).ravel()
            plans[layer.name] = Plan("clone", weights=[kernel, *[b[keep] for b in w[1:]]])
        elif kind == "Flatten":
            shape = tuple(int(d) for d in layer.input.shape[1:])
            positions = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            keep = (np.arange(positions)[:, None] * shape[-1] + keep[None, :]).ravel()
    pruned = rebuild(model, plans)
    if ft.epochs > 0:
        xs, ys = check_data(pruned, x, y, need_labels=True, why="fine-tuning after channel pruning")
        info.fit = asdict(fit(pruned, xs, ys, ft, what=f"channel pruning {ratio:.0%}"))
    return pruned, info
