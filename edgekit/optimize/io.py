"""Files in and out of ``edgekit optimize``: the model, training/validation data, the recipe, the result."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError, UsageError
from edgekit.optimize.recipe import Recipe


@dataclass
class Inputs:
    """The model and the data ``edgekit optimize`` works on."""

    model: Any
    x: np.ndarray
    y: np.ndarray | None
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    calib: np.ndarray
    val_source: str


def resolve_recipe(recipe_path: str | os.PathLike | None, **flags: Any) -> Recipe:
    """The recipe file, or the chain the technique flags ask for (not both)."""
    from edgekit.optimize.recipe import load_recipe, recipe_from_flags

    if recipe_path is not None:
        chosen = [f"--{k.replace('_', '-')}" for k in ("prune", "low_rank", "rank", "distill_from")
                  if flags.get(k) is not None] + [f"--{k}" for k in ("structured", "qat") if flags.get(k)]
        if chosen:
            raise UsageError(f"--recipe cannot be combined with {', '.join(chosen)}",
                             hint="put every step in the recipe file")
        recipe = load_recipe(recipe_path)
        overrides = {k: flags[k] for k in ("epochs", "learning_rate", "batch_size", "max_epochs", "patience")
                     if flags.get(k) is not None}
        if overrides:
            recipe = Recipe(recipe.steps, {**recipe.finetune, **overrides}, recipe.source)
        return recipe
    return recipe_from_flags(**flags)


def load_inputs(model_path: str | os.PathLike, data: str | os.PathLike, val: str | os.PathLike | None,
                output: str | os.PathLike, num_calib: int = 100) -> Inputs:
    """Load the model and data; hold out 20% of the data for accuracy when no validation file is given."""
    from edgekit.data import load_array_file
    from edgekit.optimize.chain import split_validation
    from edgekit.optimize.finetune import check_data, load_keras

    out = Path(output)
    if out.suffix != ".keras":
        raise UsageError(f"output: {out}: the optimized model is saved as a .keras file",
                         hint=f"use -o {out.with_suffix('.keras').name}")
    if out.is_dir() or not out.parent.is_dir():
        raise UsageError(f"output: {out}: " + ("is a directory" if out.is_dir() else
                                               f"directory {out.parent} does not exist"))
    x_raw, y_raw = load_array_file(data, "data")
    model = load_keras(model_path)
    x, y = check_data(model, x_raw, y_raw, need_labels=False, what=f"data ({data})")
    if val is not None:
        xv_raw, yv_raw = load_array_file(val, "validation data")
        x_val, y_val = check_data(model, xv_raw, yv_raw, need_labels=False, what=f"validation data ({val})")
        source = f"{val} ({len(x_val)} samples)"
    elif y is not None:
        x, y, x_val, y_val = split_validation(x, y)
        source = f"20% of {data} held out ({len(x_val)} samples, not used for fine-tuning)"
    else:
        x_val = y_val = None
        source = "nothing (the data has no labels)"
    if len(x) == 0:
        raise DataError(f"data ({data}): no samples left for fine-tuning")
    return Inputs(model, x, y, x_val, y_val, x[:num_calib], source)


def save_model(model: Any, output: str | os.PathLike) -> Path:
    """Save a Keras model atomically (a temporary .keras file in the same directory, then a rename)."""
    out = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".tmp.keras", dir=out.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out
