"""Structured (channel) pruning: rebuild Conv/Dense layers with fewer output channels, on any functional graph.

Unlike magnitude pruning, this makes the model smaller and faster on any kernel: each pruned
producer (Conv1D, Conv2D, Dense, SeparableConv1D/2D) keeps its ``k`` output channels with the largest L1 norm (scaled
by a following BatchNorm's ``gamma / sqrt(var + eps)``), and every layer that reads them is sliced
to match: the next Conv/Dense's input channels, BatchNormalization, DepthwiseConv1D/2D (the
depthwise channels follow their input, multiplier included), Flatten (the kept channels at every
position). Residual and branching graphs work (:mod:`edgekit.optimize._channels`): producers whose
outputs meet in an Add/Subtract/Multiply/Average/Maximum/Minimum keep the **same** channels (their
importances are summed, each normalised by its mean), Concatenate maps each input to its channel
range. So ResNet-style (identity and 1x1 shortcuts), MobileNet-style (depthwise-separable) and
DS-CNN models, 1-D or 2-D, shrink as a whole.

Left at full width (recorded in the notes; an error if you named the layer): the model's output
layer, channels read by a layer that cannot be re-indexed (Reshape, Permute, RNNs, attention,
transposed convolutions, non-last-axis layers), grouped or channels-first convolutions. Refused with the
layer named: shared layers (called more than once) and nested models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import UnsupportedOpError, UsageError
from edgekit.optimize._channels import DEPTHWISE, PRODUCERS, SEPARABLE, Analysis, analyse, kept_indices, kind
from edgekit.optimize._graph import Plan, consumers, rebuild
from edgekit.optimize.finetune import FineTune, check_data, check_model, fit, import_keras
from edgekit.optimize.prune import check_sparsity


@dataclass
class ChannelInfo:
    """What channel pruning did: channels before/after per pruned layer, tied groups, layers left alone (why)."""

    channels: dict[str, tuple[int, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    groups: list[list[str]] = field(default_factory=list)  # producers tied by Add/Multiply... (2 or more)
    macs: tuple[int, int] = (0, 0)  # multiply-accumulates before and after (:func:`keras_macs`)
    notes: list[str] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)  # the fine-tuning record (epochs run, best epoch...)


def keras_macs(model: Any) -> int:
    """Multiply-accumulates of a Keras model's Conv1D/Conv2D/DepthwiseConv/Dense layers, bias excluded.

    The convention of :mod:`edgekit.macs` for the converted TFLite graph (output elements times the
    kernel's spatial size times input channels per group; depthwise: times the kernel's spatial size).
    """
    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        k = kind(layer)
        if k not in PRODUCERS and k not in DEPTHWISE:
            continue
        out = int(np.prod([int(d) for d in layer.output.shape[1:]]))
        kernel = layer.get_weights()[0].shape
        if k in SEPARABLE:  # depthwise at the output's positions, then the pointwise
            positions = out // int(layer.output.shape[-1])
            total += positions * int(np.prod(kernel)) + out * int(np.prod(layer.get_weights()[1].shape[:-1]))
        elif k == "Dense":
            total += out * int(kernel[0])
        elif k in DEPTHWISE:
            total += out * int(np.prod(kernel[:-2]))
        else:
            total += out * int(np.prod(kernel[:-1]))
    return total


def _targets(an: Analysis, ratio: float, layers: dict[str, float] | None) -> dict[str, float]:
    """The ratio asked for each producer (explicit names checked)."""
    names = {layer.name: layer for layer in an.layers}
    explicit = dict(layers or {})
    prunable = ", ".join(p.name for p in an.producers)
    for name, value in explicit.items():
        if name not in names:
            raise UsageError(f"layers.{name}: no layer named {name!r} in the model",
                             hint=f"prunable layers: {prunable}")
        if kind(names[name]) not in PRODUCERS:
            raise UnsupportedOpError(f"layers.{name}: layer {name!r} ({kind(names[name])}) cannot be channel-pruned; "
                                     "structured pruning prunes Conv1D, Conv2D and Dense output channels")
        check_sparsity(value, f"layers.{name}")
        why = an.ties.why_frozen(name)
        if why is not None and value > 0:
            raise UnsupportedOpError(f"layers.{name}: layer {name!r} cannot be channel-pruned: {why}")
    return {p.name: explicit.get(p.name, ratio) for p in an.producers}


def _bn_scale(layer: Any, cons: dict[str, list[Any]]) -> np.ndarray | None:
    """gamma / sqrt(var + eps) of a BatchNormalization that is ``layer``'s only consumer (else None)."""
    after = cons.get(layer.name, [])
    if len(after) == 1 and kind(after[0]) == "BatchNormalization":
        bn = after[0]
        gamma = bn.gamma.numpy() if bn.scale else np.ones(bn.moving_variance.shape, np.float32)
        return gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    return None


def _importance(layer: Any, cons: dict[str, list[Any]]) -> np.ndarray:
    kernel = layer.get_weights()[1 if kind(layer) in SEPARABLE else 0]  # a separable conv: its pointwise kernel
    n = kernel.shape[-1]
    norms = np.abs(kernel).reshape(-1, n).sum(axis=0)
    scale = _bn_scale(layer, cons)
    if scale is not None and scale.shape == norms.shape:
        norms = norms * np.abs(scale)
    return norms / max(float(norms.mean()), 1e-12)


def _count(n: int, ratio: float, multiple_of: int) -> int:
    k = max(1, round(n * (1.0 - ratio)))
    if multiple_of > 1:
        k = min(n, max(multiple_of, round(k / multiple_of) * multiple_of))
    return k


def plan_keep(model: Any, an: Analysis, targets: dict[str, float], multiple_of: int,
              info: ChannelInfo) -> dict[str, np.ndarray]:
    """Root -> sorted kept channel indices, one choice per tied group of producers."""
    cons = consumers(model)
    groups: dict[str, list[Any]] = {}
    for p in an.producers:
        groups.setdefault(an.ties.find(p.name), []).append(p)
    keep: dict[str, np.ndarray] = {}
    for root, members in groups.items():
        names = [m.name for m in members]
        if len(members) > 1:
            info.groups.append(names)
        why = an.ties.why_frozen(root)
        group_ratio = min(targets[n] for n in names)
        if why is not None or group_ratio <= 0:
            for n in names:
                info.skipped[n] = why or ("ratio 0" if targets[n] <= 0
                                          else f"tied to {', '.join(x for x in names if targets[x] <= 0)} (ratio 0)")
            continue
        n_out = int(members[0].output.shape[-1])
        score = sum(_importance(m, cons) for m in members)
        k = _count(n_out, group_ratio, multiple_of)
        keep[root] = np.sort(np.argsort(-score, kind="stable")[:k])
    return keep


def slice_plans(an: Analysis, keep: dict[str, np.ndarray], info: ChannelInfo) -> dict[str, Plan]:
    """The rebuild plans: producers narrowed, every reader of pruned channels sliced to match."""
    plans: dict[str, Plan] = {}
    for layer in an.layers:
        k = kind(layer)
        srcs = an.inputs[layer.name]
        in_keep = kept_indices(an.layouts[srcs[0]], keep, an.ties) if len(srcs) == 1 else None
        w = layer.get_weights()
        if k in SEPARABLE:
            out_keep = keep.get(an.ties.find(layer.name))
            if in_keep is None and out_keep is None:
                continue
            dw, pw, rest = w[0], w[1], w[2:]
            if in_keep is not None:
                m = dw.shape[-1]
                dw = np.take(dw, in_keep, axis=-2)
                pw = np.take(pw, (in_keep[:, None] * m + np.arange(m)[None, :]).ravel(), axis=-2)
            config = {}
            if out_keep is not None:
                pw, rest = pw[..., out_keep], [b[out_keep] for b in rest]
                config = {"filters": len(out_keep)}
                info.channels[layer.name] = (int(w[1].shape[-1]), len(out_keep))
            plans[layer.name] = Plan("clone", config=config, weights=[dw, pw, *rest])
        elif k in PRODUCERS:
            out_keep = keep.get(an.ties.find(layer.name))
            if in_keep is None and out_keep is None:
                continue
            kernel = w[0] if in_keep is None else np.take(w[0], in_keep, axis=-2)
            rest, config = w[1:], {}
            if out_keep is not None:
                kernel, rest = kernel[..., out_keep], [b[out_keep] for b in rest]
                config = {"units" if k == "Dense" else "filters": len(out_keep)}
                info.channels[layer.name] = (int(w[0].shape[-1]), len(out_keep))
            plans[layer.name] = Plan("clone", config=config, weights=[kernel, *rest])
        elif in_keep is None or not w:
            continue
        elif k == "BatchNormalization":
            plans[layer.name] = Plan("clone", weights=[a[in_keep] for a in w])
        elif k in DEPTHWISE:
            out_keep = kept_indices(an.layouts[layer.name], keep, an.ties)
            plans[layer.name] = Plan("clone", weights=[np.take(w[0], in_keep, axis=-2), *[b[out_keep] for b in w[1:]]])
    return plans


def prune_channels(model: Any, x: Any = None, y: Any = None, *, ratio: float = 0.5,
                   layers: dict[str, float] | None = None, multiple_of: int = 1,
                   finetune: FineTune | None = None) -> Any:
    """Remove the ``ratio`` least important output channels of each Conv/Dense and rebuild a narrower model.

    Args:
        model: a Sequential or functional Keras model (not modified); residual/branching graphs included.
        x, y: fine-tuning data and labels (not needed when ``finetune.epochs == 0``).
        ratio: fraction of output channels removed per layer (per tied group), in [0, 1) (one channel stays).
        layers: per-layer ratios by name (0 keeps a layer, and every layer tied to it, at full width).
        multiple_of: round the kept channel counts to a multiple of this (e.g. 4 for SIMD kernels).
        finetune: fine-tuning after the surgery (default: Adam 1e-3 until held-out accuracy stops improving).

    Raises:
        UnsupportedOpError: a shared layer or nested model, nothing prunable, or a named layer that cannot be
            pruned (the layer and the reason named).
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
    an = analyse(model)
    targets = _targets(an, ratio, layers)
    info = ChannelInfo()
    keep = plan_keep(model, an, targets, multiple_of, info)
    for name, why in info.skipped.items():
        info.notes.append(f"{name}: kept at full width ({why})")
    for group in info.groups:
        info.notes.append(f"tied channels (same kept set): {', '.join(group)}")
    if not keep:
        raise UnsupportedOpError(f"structured pruning: no layer of model {model.name!r} can be channel-pruned"
                                 + (f" ({'; '.join(f'{k}: {v}' for k, v in info.skipped.items())})"
                                    if info.skipped else ""),
                                 hint="the model needs a Conv/Dense layer feeding another Conv/Dense")
    pruned = rebuild(model, slice_plans(an, keep, info))
    info.macs = (keras_macs(model), keras_macs(pruned))
    if ft.epochs != 0:
        xs, ys = check_data(pruned, x, y, need_labels=True, why="fine-tuning after channel pruning")
        info.fit = asdict(fit(pruned, xs, ys, ft, what=f"channel pruning {ratio:.0%}"))
    return pruned, info
