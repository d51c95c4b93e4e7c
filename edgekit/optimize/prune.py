"""Magnitude pruning, Keras 3 native: zero the smallest weights, fine-tune with a mask that keeps them zero.

tensorflow-model-optimization rejects Keras 3 models, so this is our own: a polynomial-decay
sparsity schedule (Zhu & Gupta 2017, the one tfmot uses) over the fine-tuning steps, a per-layer
target (overrides by layer name), and a Keras callback that recomputes the masks on schedule and
multiplies every kernel by its mask after each optimizer step. Biases and BatchNorm are not pruned.

By default (``FineTune(epochs=None)``) pruning is gradual: the sparsity ramps up over ``ramp_epochs``
epochs while the network trains, then the masks are fixed at the target and fine-tuning goes on
until the accuracy on held-out data (a part of the training data that is not trained on) stops
improving, keeping the best epoch (:mod:`edgekit.optimize.stopping`). The held-out accuracy at the
end of every ramp epoch is recorded with the sparsity reached: the accuracy-vs-sparsity curve
(:class:`PruneInfo` ``curve``). With a fixed number of epochs the ramp covers ``end_fraction`` of them.

The pruned model is an ordinary Keras model: its zeros survive int8 conversion exactly (TFLite's
per-channel symmetric weight scheme maps 0.0 to 0), which is what makes the int8 file compress and
what a sparse kernel could skip. Dense weights do not make a dense kernel faster by themselves.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from edgekit.errors import UnsupportedOpError, UsageError
from edgekit.optimize._graph import copy_model, kernel_names
from edgekit.optimize.finetune import (
    FineTune,
    check_data,
    check_model,
    fit,
    import_keras,
    monitor_data,
    output_kind,
)
from edgekit.optimize.stopping import held_out_score, predict

RAMP_EPOCHS = 6


def check_sparsity(value: Any, field_name: str = "sparsity") -> float:
    """A sparsity must be a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value < 1.0:
        raise UsageError(f"{field_name}: must be a number in [0, 1), got {value!r}",
                         hint="0.75 removes three quarters of the weights; 1.0 would remove all of them")
    return float(value)


@dataclass(frozen=True)
class PolynomialDecay:
    """Sparsity at step t: ``final + (initial - final) * (1 - (t - begin) / (end - begin)) ** power``.

    Used as a ramp from 0 to 1 that scales each layer's target (so per-layer targets share one schedule).

    Held at ``initial`` before ``begin_step`` and at ``final`` from ``end_step`` on; masks are updated
    every ``frequency`` steps (and at ``end_step``).
    """

    final: float
    initial: float = 0.0
    begin_step: int = 0
    end_step: int = 100
    power: float = 3.0
    frequency: int = 10

    def __call__(self, step: int) -> float:
        if step >= self.end_step:
            return self.final
        if step <= self.begin_step:
            return self.initial
        frac = (step - self.begin_step) / max(1, self.end_step - self.begin_step)
        return self.final + (self.initial - self.final) * (1.0 - frac) ** self.power

    def update_now(self, step: int) -> bool:
        """Whether masks are recomputed at this step."""
        if step < self.begin_step or step > self.end_step:
            return False
        return step == self.end_step or (step - self.begin_step) % self.frequency == 0


@dataclass
class PruneInfo:
    """What magnitude pruning did: target and reached sparsity per layer, the curve explored, the epochs used.

    ``curve``: one point per ramp epoch (and the start and the end): ``epoch``, ``sparsity`` (zeros
    over all pruned kernels), ``score`` (held-out accuracy, or ``-MSE`` for regression), ``phase``.
    ``fit``: the fine-tuning record(s) (:class:`~edgekit.optimize.stopping.FitRecord` as dicts).
    """

    targets: dict[str, float] = field(default_factory=dict)
    reached: dict[str, float] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def magnitude_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask zeroing the ``round(sparsity * size)`` smallest-magnitude entries of ``w``."""
    k = round(sparsity * w.size)
    mask = np.ones(w.size, dtype=w.dtype)
    if k > 0:
        order = np.argpartition(np.abs(w).ravel(), k - 1)[:k]
        mask[order] = 0
    return mask.reshape(w.shape)


def prunable_layers(model: Any) -> dict[str, Any]:
    """Layers with a kernel magnitude pruning can prune (Dense, Conv*, DepthwiseConv, SeparableConv...), by name."""
    return {layer.name: layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if kernel_names(layer) and layer.weights}


def resolve_targets(model: Any, sparsity: float, layers: dict[str, float] | None) -> dict[str, float]:
    """Per-layer sparsity: ``sparsity`` for every prunable layer, overridden by ``layers`` (0 excludes one)."""
    found = prunable_layers(model)
    if not found:
        raise UnsupportedOpError(f"magnitude pruning: model {model.name!r} has no Dense/Conv kernels to prune")
    targets = {name: sparsity for name in found}
    all_names = {layer.name: layer for layer in model._flatten_layers(include_self=False, recursive=True)}
    for name, value in (layers or {}).items():
        if name not in all_names:
            raise UsageError(f"layers.{name}: no layer named {name!r} in model {model.name!r}",
                             hint=f"prunable layers: {', '.join(found)}")
        if name not in found:
            raise UnsupportedOpError(f"layers.{name}: layer {name!r} ({type(all_names[name]).__name__}) has no "
                                     "kernel to prune; magnitude pruning prunes Dense/Conv kernels",
                                     hint=f"prunable layers: {', '.join(found)}")
        targets[name] = check_sparsity(value, f"layers.{name}")
    return {k: v for k, v in targets.items() if v > 0}


def mask_callback(layers: dict[str, Any], targets: dict[str, float], schedule: PolynomialDecay | None,
                  fixed: dict[str, list[np.ndarray]] | None = None) -> Any:
    """A Keras callback that keeps masked kernel entries at zero (recomputing masks on ``schedule``).

    With ``fixed`` masks (layer name -> one mask per kernel) and no schedule, it only re-applies them:
    used to keep an already pruned model sparse while another technique fine-tunes it.
    """
    keras = import_keras()

    class PruningMasks(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.masks: dict[str, list[np.ndarray]] = dict(fixed or {})

        def _update(self) -> None:
            for name, layer in layers.items():
                s = targets[name] * (schedule(self.step) if schedule is not None else 1.0)
                self.masks[name] = [magnitude_mask(getattr(layer, k).numpy(), s) for k in kernel_names(layer)]

        def apply(self) -> None:
            for name, masks in self.masks.items():
                layer = layers[name]
                for k, m in zip(kernel_names(layer), masks, strict=True):
                    var = getattr(layer, k)
                    var.assign(var.numpy() * m)

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if schedule is not None and schedule.update_now(self.step):
                self._update()
                self.apply()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.apply()
            self.step += 1

    return PruningMasks()


def overall_sparsity(layers: dict[str, Any]) -> float:
    """Zeros over all kernel entries of ``layers``."""
    total = zeros = 0
    for layer in layers.values():
        for k in kernel_names(layer):
            w = getattr(layer, k).numpy()
            total, zeros = total + w.size, zeros + int(np.count_nonzero(w == 0))
    return zeros / total if total else 0.0


def curve_callback(model: Any, layers: dict[str, Any], xm: np.ndarray, ym: np.ndarray, curve: list[dict[str, Any]],
                   phase: str) -> Any:
    """A Keras callback appending (epoch, sparsity, held-out score) to ``curve`` at every epoch end."""
    keras = import_keras()
    kind = output_kind(model)

    class Curve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            score, _ = held_out_score(predict(model, xm), ym, kind)
            curve.append({"epoch": epoch + 1, "sparsity": round(overall_sparsity(layers), 4),
                          "score": round(score, 6), "phase": phase})

    return Curve()


def prune_magnitude(model: Any, x: Any = None, y: Any = None, *, sparsity: float = 0.75,
                    layers: dict[str, float] | None = None, finetune: FineTune | None = None,
                    end_fraction: float = 0.6, power: float = 3.0, frequency: int | None = None,
                    ramp_epochs: int = RAMP_EPOCHS) -> Any:
    """Prune the smallest-magnitude kernel weights to ``sparsity`` and fine-tune with a mask (returns a new model).

    Args:
        model: a Keras model (or .keras path); it is not modified.
        x, y: training data and labels for fine-tuning (not needed when ``finetune.epochs == 0``).
        sparsity: fraction of kernel weights set to zero in every prunable layer, in [0, 1).
        layers: per-layer overrides by layer name (``{"dense_1": 0.5, "conv2d": 0}``; 0 leaves a layer dense).
        finetune: epochs, optimizer, callbacks... (default: Adam 1e-3, gradual pruning over ``ramp_epochs``
            then fine-tuning until the held-out accuracy stops improving).
        end_fraction: with a fixed number of epochs, the schedule reaches the target after this fraction of
            the fine-tuning steps, then holds it so the network recovers.
        power: exponent of the polynomial decay (3 as in tfmot).
        frequency: steps between mask updates (default: about 20 updates over the ramp).
        ramp_epochs: with ``finetune.epochs=None``, the epochs over which the sparsity ramps up.

    Raises:
        UsageError: sparsity outside [0, 1), unknown layer names. UnsupportedOpError: a named layer without kernels.
        DataError: fine-tuning without labels, or data of the wrong shape.
    """
    return prune_magnitude_info(model, x, y, sparsity=sparsity, layers=layers, finetune=finetune,
                                end_fraction=end_fraction, power=power, frequency=frequency,
                                ramp_epochs=ramp_epochs)[0]


def prune_magnitude_info(model: Any, x: Any = None, y: Any = None, *, sparsity: float = 0.75,
                         layers: dict[str, float] | None = None, finetune: FineTune | None = None,
                         end_fraction: float = 0.6, power: float = 3.0,
                         frequency: int | None = None, ramp_epochs: int = RAMP_EPOCHS) -> tuple[Any, PruneInfo]:
    """:func:`prune_magnitude`, also returning a :class:`PruneInfo`."""
    sparsity = check_sparsity(sparsity)
    if not 0.0 < end_fraction <= 1.0:
        raise UsageError(f"end_fraction: must be in (0, 1], got {end_fraction!r}")
    if isinstance(ramp_epochs, bool) or not isinstance(ramp_epochs, int) or ramp_epochs < 1:
        raise UsageError(f"ramp_epochs: must be an integer >= 1, got {ramp_epochs!r}")
    ft = finetune or FineTune()
    model = check_model(model)
    targets = resolve_targets(model, sparsity, layers)
    pruned = copy_model(model)
    live = {name: layer for name, layer in prunable_layers(pruned).items() if name in targets}
    info = PruneInfo(targets=dict(targets))
    if ft.epochs == 0:
        cb = mask_callback(live, targets, None)
        cb._update()
        cb.apply()
        info.notes.append("one-shot pruning (no fine-tuning)")
    elif ft.epochs is None:
        _gradual(pruned, x, y, live, targets, ft, info, ramp_epochs=ramp_epochs, power=power, frequency=frequency)
    else:
        xs, ys = check_data(pruned, x, y, need_labels=True, why="fine-tuning after pruning")
        steps = ft.epochs * -(-len(xs) // ft.batch_size)
        end = max(1, round(end_fraction * steps) - 1)
        schedule = PolynomialDecay(final=1.0, initial=0.0, begin_step=0, end_step=end, power=power,
                                   frequency=frequency or max(1, end // 20))
        info.schedule = {"kind": "polynomial_decay", "begin_step": 0, "end_step": end, "total_steps": steps,
                         "power": power, "frequency": schedule.frequency}
        cb = mask_callback(live, targets, schedule)
        info.fit = asdict(fit(pruned, xs, ys, ft, what=f"pruning to {sparsity:.0%}", callbacks=[cb]))
        cb.step = end  # make sure the final masks are the target ones
        cb._update()
        cb.apply()
    info.reached = layer_sparsity(pruned)
    return pruned, info


def _gradual(pruned: Any, x: Any, y: Any, live: dict[str, Any], targets: dict[str, float], ft: FineTune,
             info: PruneInfo, *, ramp_epochs: int, power: float, frequency: int | None) -> None:
    """Ramp the sparsity up over ``ramp_epochs``, then fine-tune with fixed masks until held-out accuracy stops."""
    xs, ys = check_data(pruned, x, y, need_labels=True, why="fine-tuning after pruning")
    xt, yt, xm, ym = monitor_data(xs, ys, ft)
    steps = ramp_epochs * -(-len(xt) // ft.batch_size)
    end = max(1, steps - 1)
    schedule = PolynomialDecay(final=1.0, initial=0.0, begin_step=0, end_step=end, power=power,
                               frequency=frequency or max(1, end // 20))
    info.schedule = {"kind": "polynomial_decay", "begin_step": 0, "end_step": end, "ramp_epochs": ramp_epochs,
                     "power": power, "frequency": schedule.frequency}
    score, _ = held_out_score(predict(pruned, xm), ym, output_kind(pruned))
    info.curve.append({"epoch": 0, "sparsity": round(overall_sparsity(live), 4), "score": round(score, 6),
                       "phase": "start"})
    cb = mask_callback(live, targets, schedule)
    ramp = fit(pruned, xt, yt, replace(ft, epochs=ramp_epochs), what="gradual pruning",
               callbacks=[cb, curve_callback(pruned, live, xm, ym, info.curve, "ramp")])
    cb.step = end  # the final masks are the target ones
    cb._update()
    cb.apply()
    hold = mask_callback(live, targets, None, fixed=cb.masks)
    record = fit(pruned, xt, yt, ft, what="fine-tuning the pruned model", callbacks=[hold], monitor=(xm, ym))
    info.curve.append({"epoch": ramp_epochs + (record.best_epoch or 0), "sparsity": round(overall_sparsity(live), 4),
                       "score": record.best_score, "phase": "recovered"})
    info.fit = {"ramp": asdict(ramp), "recovery": asdict(record),
                "epochs": ramp_epochs + record.epochs_run, "monitor_samples": len(xm)}
    info.notes.append(f"gradual pruning: sparsity ramped over {ramp_epochs} epochs, then {record.epochs_run} "
                      f"fine-tuning epochs (best: {record.best_epoch}; {record.stopped}); held-out accuracy "
                      f"{info.curve[0]['score']:.1%} -> {record.best_score:.1%} on {len(xm)} samples")


def layer_sparsity(model: Any) -> dict[str, float]:
    """Fraction of exact zeros in the kernels of each prunable layer."""
    out = {}
    for name, layer in prunable_layers(model).items():
        total = zeros = 0
        for k in kernel_names(layer):
            w = getattr(layer, k).numpy()
            total += w.size
            zeros += int(np.count_nonzero(w == 0))
        out[name] = zeros / total if total else 0.0
    return out


def kernel_zero_masks(model: Any, min_fraction: float = 0.05) -> dict[str, list[np.ndarray]]:
    """Masks (1 = keep) of the kernels that are already at least ``min_fraction`` zeros (a pruned model)."""
    masks = {}
    for name, layer in prunable_layers(model).items():
        ws = [getattr(layer, k).numpy() for k in kernel_names(layer)]
        zeros = sum(int(np.count_nonzero(w == 0)) for w in ws)
        if zeros >= min_fraction * sum(w.size for w in ws):
            masks[name] = [(w != 0).astype(w.dtype) for w in ws]
    return masks
