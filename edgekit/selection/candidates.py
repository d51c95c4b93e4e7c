"""What ``edgekit select`` compares: candidate model files and the variants ``optimize`` makes of them.

A candidate is a file (or SavedModel directory):

* a ``.tflite`` model is measured as it is;
* a Keras model (``.keras``/``.h5``/SavedModel) is converted to int8 first (:func:`edgekit.conversion.convert`, with
  the calibration data), and each variant is made from it;
* anything else is handed to :func:`edgekit.generation.generate` as it is: whatever kinds of model ``generate``
  accepts (a tree ensemble once edgekit generates trees to C) are candidates without a change here.

A variant is a short spec, applied to every Keras candidate: ``prune=0.5`` (magnitude pruning to that sparsity),
``structured=0.25`` (remove that fraction of channels), ``lowrank=0.9`` (SVD keeping that energy), ``rank=8``,
``qat`` (quantization-aware training), ``int16`` (16x8 conversion: int16 activations, int8 weights), or the path of
an ``optimize`` recipe file (``recipe.yaml``, :mod:`edgekit.optimize.recipe`). Join specs with ``+`` for a chain:
``prune=0.5+int16``. Every technique but ``int16`` fine-tunes on the training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, UsageError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
# variant key -> (recipe technique, setting, type); "int16" and "qat" take no value
_TECHNIQUES: dict[str, tuple[str, str, type]] = {
    "prune": ("prune", "sparsity", float), "structured": ("structured", "ratio", float),
    "lowrank": ("low_rank", "energy", float), "low_rank": ("low_rank", "energy", float),
    "rank": ("low_rank", "rank", int),
}
VARIANT_HELP = "prune=S, structured=R, lowrank=E, rank=N, qat, int16, a recipe .yaml; join with + for a chain"


@dataclass(frozen=True)
class Variant:
    """A variant spec parsed: the ``optimize`` recipe steps to run (maybe none) and the activation type."""

    spec: str
    steps: tuple[Any, ...] = ()
    activations: str = "int8"
    recipe_source: str | None = None

    @property
    def needs_training(self) -> bool:
        """True when the variant fine-tunes (every technique but a plain int16 conversion)."""
        return bool(self.steps)


@dataclass
class Prepared:
    """A candidate ready for the board: the model file ``generate`` gets, or why there is none."""

    name: str
    source: str
    kind: str  # "tflite", "keras", "variant", "tree" or "model" (another kind generate may accept)
    variant: str | None = None
    model_path: Path | None = None
    float_accuracy: float | None = None
    error: str | None = None
    stage: str | None = None
    notes: list[str] = field(default_factory=list)


def candidate_kind(path: Path) -> str:
    """``tflite``, ``keras`` (a Keras file or a SavedModel directory), ``tree`` (a tree ensemble edgekit compiles to
    C, where that path exists) or ``model`` (another file, left to ``generate``)."""
    if path.is_dir():
        return "keras"
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return "tflite"
    if suffix in KERAS_SUFFIXES:
        return "keras"
    try:
        from edgekit.trees.load import is_tree_model  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "model"
    return "tree" if is_tree_model(path) else "model"


def parse_variant(spec: str) -> Variant:
    """One ``--variants`` entry (see the module docstring); raises :class:`UsageError` naming the bad part."""
    from edgekit.optimize.recipe import Step, load_recipe

    text = spec.strip()
    if not text:
        raise UsageError("--variants: an empty variant", hint=f"variants: {VARIANT_HELP}")
    steps: list[Any] = []
    activations = "int8"
    source = None
    for part in text.split("+"):
        key, _, value = part.strip().partition("=")
        key = key.strip().lower()
        if key == "int16" and not value:
            activations = "int16"
        elif key == "qat" and not value:
            steps.append(Step("qat"))
        elif key in _TECHNIQUES and value:
            technique, setting, kind = _TECHNIQUES[key]
            try:
                number = kind(value)
            except ValueError:
                raise UsageError(f"--variants: {part!r}: {value!r} is not a{'n integer' if kind is int else ' number'}",
                                 hint=f"variants: {VARIANT_HELP}") from None
            _check_setting(key, number, part)
            steps.append(Step(technique, {setting: number}))
        elif part.strip().lower().endswith((".yaml", ".yml")):
            recipe = load_recipe(part.strip())
            steps.extend(Step(s.technique, s.settings, {**recipe.finetune, **s.finetune}) for s in recipe.steps)
            source = recipe.source
        else:
            raise UsageError(f"--variants: {part.strip()!r} is not a variant", hint=f"variants: {VARIANT_HELP}")
    if [s.technique for s in steps].count("qat") > 1 or any(s.technique == "qat" for s in steps[:-1]):
        raise UsageError(f"--variants: {text!r}: qat must be the last step, once")
    return Variant(text, tuple(steps), activations, source)


def _check_setting(key: str, value: float, part: str) -> None:
    if key in ("prune", "structured") and not 0 < value < 1:
        raise UsageError(f"--variants: {part!r}: the {'sparsity' if key == 'prune' else 'ratio'} must be in (0, 1)")
    if key in ("lowrank", "low_rank") and not 0 < value <= 1:
        raise UsageError(f"--variants: {part!r}: the energy must be in (0, 1]")
    if key == "rank" and value < 1:
        raise UsageError(f"--variants: {part!r}: the rank must be >= 1")


def unique_names(paths: list[Path]) -> list[str]:
    """Short labels: the file stem, or the file name (then the parent folder) where two would read the same."""
    names = [p.stem if not p.is_dir() else p.name for p in paths]
    for k, n in enumerate(names):
        if names.count(n) > 1:
            names[k] = f"{paths[k].parent.name}/{paths[k].name}"
    return names


def prepare(paths: list[Path], variants: list[Variant], work: Path, *, calib: np.ndarray | None,
            x_val: np.ndarray, y_val: np.ndarray, train: tuple[np.ndarray, np.ndarray] | None,
            epochs: int | None = None) -> list[Prepared]:
    """Each candidate (and each variant of each Keras candidate) as a file in ``work``, or with its error.

    Conversion, fine-tuning and variant making run one after the other (they are TensorFlow's); a failure is
    recorded on that candidate and the others go on.
    """
    out: list[Prepared] = []
    for path, name in zip(paths, unique_names(paths), strict=True):
        kind = candidate_kind(path)
        base = Prepared(name, str(path), kind)
        out.append(base)
        if not path.exists():
            base.error, base.stage = f"{path}: no such file", "load"
            continue
        if kind != "keras":
            base.model_path = path
            continue
        _convert_into(base, path, work, calib, x_val, y_val, "int8")
        model = None
        for v in variants:
            item = Prepared(f"{name}+{v.spec}", str(path), "variant", v.spec)
            out.append(item)
            try:
                if v.steps:
                    if model is None:
                        model = _load_keras(path)
                    model_v = _make_variant(model, v, train, calib, epochs)
                else:
                    model_v = path
            except EdgekitError as exc:
                item.error, item.stage = _message(exc), "optimize"
                continue
            except Exception as exc:  # Keras raises its own errors for models a technique cannot take
                item.error, item.stage = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", "optimize"
                continue
            _convert_into(item, model_v, work, calib, x_val, y_val, v.activations)
    return out


def _message(exc: EdgekitError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def _load_keras(path: Path) -> Any:
    from edgekit.optimize.finetune import load_keras

    return load_keras(path)


def _make_variant(model: Any, v: Variant, train: tuple[np.ndarray, np.ndarray] | None, calib: np.ndarray | None,
                  epochs: int | None) -> Any:
    from edgekit.optimize.chain import optimize
    from edgekit.optimize.recipe import Recipe

    if train is None:
        raise UsageError(f"variant {v.spec}: fine-tuning needs training data", hint="pass --train DATA.npz")
    recipe = Recipe(v.steps, {"epochs": epochs} if epochs is not None else {}, v.recipe_source or "--variants")
    final, _ = optimize(model, train[0], train[1], recipe, calib=calib, board=None, measure_steps=False,
                        progress=False)
    return final


def _convert_into(item: Prepared, model: Any, work: Path, calib: np.ndarray | None, x_val: np.ndarray,
                  y_val: np.ndarray, activations: str) -> None:
    """Convert to ``work/<name>.tflite`` (atomically, by convert); record the float accuracy or the error."""
    from edgekit.conversion import convert

    if calib is None:
        item.error, item.stage = "converting a Keras model needs calibration data", "convert"
        return
    dest = work / f"{_safe(item.name)}.tflite"
    try:
        res = convert(model, calib, val=x_val, val_labels=y_val, output=dest, activations=activations,
                      progress=False)
    except EdgekitError as exc:
        item.error, item.stage = _message(exc), "convert"
        return
    item.model_path = dest
    item.float_accuracy = res.report.float_accuracy
    item.notes.append(f"converted to {'16x8' if activations == 'int16' else 'int8'} with {len(calib)} "
                      "calibration samples")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "model"

