"""What ``edgekit select`` compares: candidate model files and the variants ``optimize`` makes of them.

A candidate is a file (or SavedModel directory):

* a ``.tflite`` model is measured as it is;
* a Keras model (``.keras``/``.h5``/SavedModel) is converted to int8 first (:func:`edgekit.conversion.convert`, with
  the calibration data), and each variant is made from it;
* anything else is handed to :func:`edgekit.generation.generate` as it is: whatever kinds of model ``generate``
  accepts (a tree ensemble once edgekit generates trees to C) are candidates without a change here.

A variant is a short spec, applied to every Keras candidate: ``prune=0.5`` (magnitude pruning to that sparsity),
``structured=0.25`` (remove that fraction of channels), ``lowrank=0.9`` (SVD keeping that energy), ``rank=8``,
``qat`` (quantization-aware training), ``int16`` (16x8 conversion: int16 activations, int8 weights), ``float32``
(the float TFLite model the int8 conversion compared itself with, run by edgekit's float32 kernels: the quantization
payoff, float vs int8, side by side), or the path of an ``optimize`` recipe file (``recipe.yaml``,
:mod:`edgekit.optimize.recipe`). Join specs with ``+`` for a chain: ``prune=0.5+int16``, ``prune=0.5+float32``.
Every technique but ``int16`` and ``float32`` fine-tunes on the training data.
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
VARIANT_HELP = ("prune=S, structured=R, lowrank=E, rank=N, qat, int16, float32, a recipe .yaml; join with + for a "
                "chain")


@dataclass(frozen=True)
class Variant:
    """A variant spec parsed: the ``optimize`` recipe steps to run (maybe none) and the activation type
    (``int8``, ``int16`` or ``float32``: the float TFLite model, not quantized)."""

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
    int8_counterpart: str | None = None  # a float32 variant: the int8 candidate it is the float model of


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
        if key in ("int16", "float32") and not value:
            if activations != "int8":
                raise UsageError(f"--variants: {text!r}: int16 and float32 exclude each other")
            activations = key
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
        base_float = _convert_into(base, path, work, calib, x_val, y_val, "int8")
        model = None
        for v in variants:
            item = Prepared(f"{name}+{v.spec}", str(path), "variant", v.spec)
            out.append(item)
            if v.activations == "float32":
                item.int8_counterpart = _int8_name(name, v, variants)
            if v.activations == "float32" and not v.steps and base.model_path is not None and base_float:
                _write_float(item, base_float, work, base.float_accuracy)  # the base conversion's float model
                continue
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


def _int8_name(name: str, v: Variant, variants: list[Variant]) -> str | None:
    """The candidate a ``float32`` variant is the float model of: the base (``float32`` alone) or the same chain
    without ``float32`` when that variant is asked for too (``prune=0.5+float32`` -> ``prune=0.5``)."""
    rest = "+".join(p.strip() for p in v.spec.split("+") if p.strip().lower() != "float32")
    if not rest:
        return name
    return f"{name}+{rest}" if any(o.spec == rest for o in variants) else None


def _write_float(item: Prepared, data: bytes, work: Path, float_accuracy: float | None) -> None:
    """Write a float TFLite model (a conversion's ``float_tflite_bytes``) as ``item``'s model file."""
    from edgekit.fsutil import write_atomic

    dest = work / f"{_safe(item.name)}.tflite"
    write_atomic(dest, data)
    item.model_path = dest
    item.float_accuracy = float_accuracy
    item.notes.append("float32 TFLite model (the one the int8 conversion was compared with), not quantized")


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
                  y_val: np.ndarray, activations: str) -> bytes | None:
    """Convert to ``work/<name>.tflite`` (atomically, by convert); record the float accuracy or the error.

    ``activations="float32"``: convert to int8 and keep the float TFLite model the conversion made as the file.
    Returns the conversion's float TFLite model (None when it failed or made none).
    """
    from edgekit.conversion import convert

    if calib is None:
        item.error, item.stage = "converting a Keras model needs calibration data", "convert"
        return None
    dest = work / f"{_safe(item.name)}.tflite"
    is_float = activations == "float32"
    try:
        res = convert(model, calib, val=x_val, val_labels=y_val, output=None if is_float else dest,
                      activations="int8" if is_float else activations, progress=False)
    except EdgekitError as exc:
        item.error, item.stage = _message(exc), "convert"
        return None
    if is_float:
        if not res.float_tflite_bytes:
            item.error, item.stage = "the conversion made no float TFLite model", "convert"
            return None
        _write_float(item, res.float_tflite_bytes, work, res.report.float_accuracy)
        return res.float_tflite_bytes
    item.model_path = dest
    item.float_accuracy = res.report.float_accuracy
    item.notes.append(f"converted to {'16x8' if activations == 'int16' else 'int8'} with {len(calib)} "
                      "calibration samples")
    return res.float_tflite_bytes


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "model"

