"""Run a recipe (a chain of techniques) on a model and measure every step end to end."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import numpy as np

from edgekit.errors import DataError
from edgekit.optimize.finetune import FineTune, check_data, check_model, load_keras
from edgekit.optimize.recipe import Recipe, Step
from edgekit.optimize.report import ModelMetrics, OptimizationReport, measure

DEFAULT_CALIB = 100
VAL_FRACTION = 0.2


def split_validation(x: np.ndarray, y: np.ndarray | None, fraction: float = VAL_FRACTION,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Hold out ``fraction`` of the samples (seeded shuffle) for accuracy: ``(x_train, y_train, x_val, y_val)``."""
    if len(x) < 10:
        raise DataError(f"data: {len(x)} samples are too few to hold some out for validation",
                        hint="pass separate validation data (--val), or more samples")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, round(fraction * len(x)))
    val, train = order[:n_val], order[n_val:]
    return x[train], (y[train] if y is not None else None), x[val], (y[val] if y is not None else None)


def run_step(model: Any, step: Step, x: np.ndarray, y: np.ndarray | None, ft: FineTune,
             calib: np.ndarray) -> tuple[Any, list[str], dict[str, Any]]:
    """Apply one technique; returns the new model, notes and technique details."""
    s = step.settings
    if step.technique == "prune":
        from edgekit.optimize.prune import prune_magnitude_info

        kwargs = {k: s[k] for k in ("end_fraction", "power", "frequency", "ramp_epochs") if k in s}
        new, info = prune_magnitude_info(model, x, y, sparsity=s["sparsity"], layers=s.get("layers"), finetune=ft,
                                         **kwargs)
        return new, info.notes, {"targets": info.targets, "reached": info.reached, "schedule": info.schedule,
                                 "curve": info.curve, "finetune": info.fit}
    if step.technique == "structured":
        from edgekit.optimize.structured import prune_channels_info

        new, cinfo = prune_channels_info(model, x, y, ratio=s["ratio"], layers=s.get("layers"),
                                         multiple_of=s.get("multiple_of", 1), finetune=ft)
        return new, cinfo.notes, {"channels": {k: list(v) for k, v in cinfo.channels.items()},
                                  "skipped": cinfo.skipped, "groups": cinfo.groups, "keras_macs": list(cinfo.macs),
                                  "finetune": cinfo.fit}
    if step.technique == "low_rank":
        from edgekit.optimize.lowrank import low_rank_info

        new, linfo = low_rank_info(model, x, y, energy=s.get("energy", 0.9 if "rank" not in s else None),
                                   rank=s.get("rank"), layers=s.get("layers"), finetune=ft)
        return new, linfo.notes, {"layers": linfo.layers, "skipped": linfo.skipped, "finetune": linfo.fit}
    if step.technique == "distill":
        from edgekit.optimize.distillation import distill_info

        teacher = s["teacher"]
        if isinstance(teacher, (str, os.PathLike)):
            teacher = load_keras(teacher, "teacher")
        new, record = distill_info(teacher, model, x, y, temperature=s.get("temperature", 2.0),
                                   alpha=s.get("alpha", 0.5), finetune=ft)
        return new, [f"teacher {teacher.name!r} ({teacher.count_params():,} params)"], {"finetune": record}
    if step.technique == "qat":
        from edgekit.optimize.quantization import qat_info

        new, qinfo = qat_info(model, x, y, calib=calib, finetune=ft, decay=s.get("decay", 0.99),
                              freeze_epochs=s.get("freeze_epochs", 1), fold_bn=s.get("fold_bn", True),
                              keep_sparsity=s.get("keep_sparsity", True))
        return new, qinfo.notes, {"folded_batchnorm": qinfo.folded_batchnorm, "ranges": qinfo.ranges,
                                  "kept_sparsity": qinfo.kept_sparsity, "finetune": qinfo.fit}
    raise AssertionError(step.technique)  # parse_recipe admits only the techniques above


def _finetune(recipe: Recipe, step: Step, progress: bool, callbacks: list[Any] | None) -> FineTune:
    merged = {**recipe.finetune, **step.finetune}
    ft = FineTune(progress=progress, callbacks=list(callbacks or []))
    return replace(ft, **merged)


def optimize(model: Any, x: Any, y: Any, recipe: Recipe, *, val: Any = None, val_labels: Any = None,
             calib: Any = None, board: str | None = "qemu-cortex-m4", runtime: str = "edgekit",
             measure_steps: bool = True, progress: bool = True, callbacks: list[Any] | None = None,
             boards_dirs: list[str] | None = None, isolate: bool = True,
             before: ModelMetrics | None = None, float32: bool = True) -> tuple[Any, OptimizationReport]:
    """Apply ``recipe`` to ``model`` step by step; measure the model before and after every step.

    Args:
        model: a Keras model or .keras path (not modified).
        x, y: training (fine-tuning) data and labels.
        recipe: the steps (:func:`~edgekit.optimize.recipe.load_recipe` or ``recipe_from_flags``).
        val, val_labels: held-out data for accuracy; without them the report has no accuracy.
        calib: calibration inputs for every int8 conversion and for QAT's ranges (default: the first 100
            training samples).
        board: board for on-device figures (``None``: skip them); they are ``None`` with the reason when
            the toolchain/emulator is missing or the runtime cannot run the model.
        measure_steps: measure every intermediate model (else only parameters are recorded).
        progress: progress bars while fine-tuning (only on a terminal).
        callbacks: extra Keras callbacks for every fine-tuning run.
        before: the input model's metrics if already measured (same calibration, validation data, board).
        float32: with a board, also measure the original float32 model there and compare it with every int8
            model (the report's ``payoffs``: float32 vs int8 of the original and of each step, with ratios).

    Returns:
        The final model and the chain's :class:`OptimizationReport` (``steps`` holds one report per step).
    """
    model = check_model(model)
    xs, ys = check_data(model, x, y, need_labels=False)
    xc = xs[:DEFAULT_CALIB] if calib is None else check_data(model, calib, None, need_labels=False,
                                                             what="calibration data")[0]

    sample = [np.asarray(xc[:1], np.float32)] if isinstance(xc, np.ndarray) and len(xc) else None

    def measured(m: Any, float_board: bool = False) -> ModelMetrics:
        if not measure_steps:
            return ModelMetrics(params=int(m.count_params()))
        return measure(m, xc, val=val, val_labels=val_labels, board=board, runtime=runtime,
                       boards_dirs=boards_dirs, isolate=isolate, float_board=float_board, sample=sample)

    before = before if before is not None else measured(model, float_board=float32 and board is not None)
    first = before
    reports: list[OptimizationReport] = []
    current = model
    t_all = time.perf_counter()
    for step in recipe.steps:
        ft = _finetune(recipe, step, progress, callbacks)
        t0 = time.perf_counter()
        current, notes, details = run_step(current, step, xs, ys, ft, xc)
        seconds = time.perf_counter() - t0
        after = measured(current)
        epochs = {"epochs": ft.epochs} if ft.epochs is not None else {"epochs": None, "max_epochs": ft.max_epochs,
                                                                      "patience": ft.patience}
        reports.append(OptimizationReport(step.technique, {**step.describe(), **epochs}, before, after,
                                          seconds=round(seconds, 2), notes=notes, details=details))
        before = after
    chain = OptimizationReport("chain", {"recipe": recipe.source, "steps": [s.technique for s in recipe.steps],
                                         "calibration_samples": len(xc), "board": board},
                               first, before, seconds=round(time.perf_counter() - t_all, 2), steps=reports)
    from edgekit.optimize.payoff_view import payoffs

    chain.payoffs = payoffs(chain)
    return current, chain
