"""Low-rank factorization: replace a big kernel by two thin ones from its truncated SVD.

* Dense ``W (n_in x n_out)`` -> Dense(r, linear, no bias) then Dense(n_out, original activation and bias).
* Conv1D/Conv2D ``k x k x c_in x c_out`` -> the same k x k convolution with ``r`` filters (same
  strides, padding, dilation; linear, no bias) then a 1 x 1 convolution to ``c_out`` filters.

The kernel, reshaped to ``(k*k*c_in, c_out)``, is ``U S V^T``; the first factor gets ``U_r S_r^1/2``,
the second ``S_r^1/2 V_r^T`` (balanced, so neither factor has a much larger range: good for int8).
The rank is given, or the smallest one keeping ``energy`` of ``sum(S**2)``. A layer is left alone
when the factorization would not reduce its parameters. Works on any functional graph (each
layer is replaced in place); grouped and transposed convolutions are not factorized.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import UnsupportedOpError, UsageError
from edgekit.optimize._graph import Plan, graph_layers, rebuild, unique_name
from edgekit.optimize.finetune import FineTune, check_data, check_model, fit, import_keras

_FACTORABLE = ("Dense", "Conv1D", "Conv2D")


@dataclass
class LowRankInfo:
    """What factorization did: per layer (rank, full rank, params before, params after), and skipped layers."""

    layers: dict[str, dict[str, int | float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)  # the fine-tuning record (epochs run, best epoch...)


def check_energy(value: Any, field_name: str = "energy") -> float:
    """A retained-energy threshold must be in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 < value <= 1.0:
        raise UsageError(f"{field_name}: must be a number in (0, 1], got {value!r}",
                         hint="0.9 keeps the singular values holding 90% of the kernel's energy")
    return float(value)


def _check_rank(value: Any, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{field_name}: must be an integer >= 1, got {value!r}")
    return value


def rank_for_energy(s: np.ndarray, energy: float) -> int:
    """The smallest r with ``sum(s[:r]**2) >= energy * sum(s**2)``."""
    e = np.cumsum(s.astype(np.float64) ** 2)
    if e[-1] <= 0:
        return 1
    return int(min(len(s), np.searchsorted(e / e[-1], energy - 1e-12) + 1))


def _shape(layer: Any) -> tuple[int, int, int]:
    """(rows, cols, k_elems) of the kernel viewed as a matrix: rows = k*k*c_in, cols = c_out."""
    kernel = layer.kernel.shape
    return int(np.prod(kernel[:-1])), int(kernel[-1]), int(np.prod(kernel[:-2])) if len(kernel) > 2 else 1


def _why_not(layer: Any) -> str | None:
    kind = type(layer).__name__
    if kind not in _FACTORABLE:
        return f"{kind} layers are not factorized (Dense, Conv1D and Conv2D are)"
    if getattr(layer, "groups", 1) != 1:
        return "grouped convolution"
    if getattr(layer, "data_format", "channels_last") not in ("channels_last", None):
        return "channels_first data format"
    return None


def factorize_layers(model: Any, *, energy: float | None, rank: int | None,
                     layers: dict[str, Any] | None) -> tuple[dict[str, Plan], LowRankInfo]:
    """Plans replacing each factorable layer by its two factors (no training)."""
    keras = import_keras()
    all_layers = {layer.name: layer for layer in graph_layers(model)}
    overrides = dict(layers or {})
    for name, value in overrides.items():
        if name not in all_layers:
            raise UsageError(f"layers.{name}: no layer named {name!r} in model {model.name!r}")
        why = _why_not(all_layers[name])
        if why is not None and value is not None:
            raise UnsupportedOpError(f"layers.{name}: layer {name!r} ({type(all_layers[name]).__name__}) cannot be "
                                     f"factorized: {why}")
    info = LowRankInfo()
    plans: dict[str, Plan] = {}
    for name, layer in all_layers.items():
        if _why_not(layer) is not None:
            continue
        want = overrides.get(name, "default")
        if want is None:
            info.skipped[name] = "excluded"
            continue
        rows, cols, _ = _shape(layer)
        full = min(rows, cols)
        w = layer.get_weights()
        u, s, vt = np.linalg.svd(w[0].reshape(rows, cols).astype(np.float64), full_matrices=False)
        if want == "default":
            r = _check_rank(rank, "rank") if rank is not None else rank_for_energy(s, energy or 0.9)
        elif isinstance(want, int) and not isinstance(want, bool):
            r = _check_rank(want, f"layers.{name}")
        else:  # a float: an energy threshold
            r = rank_for_energy(s, check_energy(want, f"layers.{name}"))
        if r > full:
            raise UsageError(f"rank {r} for layer {name!r}: its {rows}x{cols} kernel has at most rank {full}",
                             hint="give a smaller rank, or an energy threshold (e.g. 0.9) instead")
        before = rows * cols
        after = r * (rows + cols)
        if after >= before:
            info.skipped[name] = f"rank {r} of {full} would not reduce its {before:,} kernel weights"
            continue
        root = np.sqrt(s[:r])
        a = (u[:, :r] * root).astype(np.float32)
        b = (root[:, None] * vt[:r]).astype(np.float32)
        kernel_shape = layer.kernel.shape
        first_name = unique_name(model, f"{name}_lr1")
        second_name = unique_name(model, f"{name}_lr2")
        cfg = layer.get_config()
        if type(layer).__name__ == "Dense":
            first = keras.layers.Dense(r, use_bias=False, name=first_name)
            second = keras.layers.Dense(cols, activation=cfg["activation"], use_bias=cfg["use_bias"], name=second_name)
            weights = [[a], [b, *w[1:]]]
        else:
            conv = keras.layers.Conv1D if type(layer).__name__ == "Conv1D" else keras.layers.Conv2D
            first = conv(r, cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
                         dilation_rate=cfg["dilation_rate"], use_bias=False, name=first_name)
            second = conv(cols, 1, activation=cfg["activation"], use_bias=cfg["use_bias"], name=second_name)
            weights = [[a.reshape(*kernel_shape[:-1], r)], [b.reshape(*([1] * (len(kernel_shape) - 2)), r, cols),
                                                            *w[1:]]]
        plans[name] = Plan("replace", layers=[first, second], weights=weights)
        kept = float(np.sum(s[:r] ** 2) / np.sum(s ** 2)) if np.sum(s ** 2) > 0 else 1.0
        info.layers[name] = {"rank": r, "full_rank": full, "kernel_params_before": before,
                             "kernel_params_after": after, "energy_kept": round(kept, 4)}
    return plans, info


def low_rank(model: Any, x: Any = None, y: Any = None, *, energy: float | None = 0.9, rank: int | None = None,
             layers: dict[str, Any] | None = None, finetune: FineTune | None = None) -> Any:
    """Factorize Dense/Conv kernels by truncated SVD and fine-tune (returns a new model).

    Args:
        model: a Keras model (or .keras path); it is not modified.
        x, y: fine-tuning data and labels (not needed when ``finetune.epochs == 0``).
        energy: keep the singular values holding this fraction of each kernel's energy, in (0, 1].
        rank: a fixed rank for every factorized layer instead (must not exceed any layer's maximum).
        layers: per-layer settings by name: an int rank, a float energy in (0, 1], or ``None`` to skip it.
        finetune: fine-tuning after the factorization (default: Adam 1e-3 until held-out accuracy stops improving).

    Raises:
        UsageError: energy outside (0, 1], rank < 1 or larger than a layer allows (layer named).
        UnsupportedOpError: a named layer that cannot be factorized; no layer could be factorized.
        DataError: fine-tuning without labels.
    """
    return low_rank_info(model, x, y, energy=energy, rank=rank, layers=layers, finetune=finetune)[0]


def low_rank_info(model: Any, x: Any = None, y: Any = None, *, energy: float | None = 0.9, rank: int | None = None,
                  layers: dict[str, Any] | None = None,
                  finetune: FineTune | None = None) -> tuple[Any, LowRankInfo]:
    """:func:`low_rank`, also returning a :class:`LowRankInfo`."""
    if rank is None:
        energy = check_energy(0.9 if energy is None else energy)
    else:
        _check_rank(rank, "rank")
    ft = finetune or FineTune()
    model = check_model(model)
    plans, info = factorize_layers(model, energy=energy, rank=rank, layers=layers)
    for name, why in info.skipped.items():
        info.notes.append(f"{name}: not factorized ({why})")
    if not plans:
        raise UnsupportedOpError(f"low-rank: no layer of model {model.name!r} gets fewer parameters from a "
                                 "factorization" + (f" ({'; '.join(info.notes)})" if info.notes else ""),
                             hint="lower the energy threshold or the rank; only Dense/Conv1D/Conv2D are factorized")
    factored = rebuild(model, plans)
    if ft.epochs != 0:
        xs, ys = check_data(factored, x, y, need_labels=True, why="fine-tuning after factorization")
        info.fit = asdict(fit(factored, xs, ys, ft, what="low-rank fine-tuning"))
    return factored, info
