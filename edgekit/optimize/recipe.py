"""Optimization recipes: a chain of steps as YAML (or built from CLI flags), validated like board files.

```yaml
schema: 1
finetune: {batch_size: 32, learning_rate: 0.001, optimizer: adam}   # defaults for every step
# epochs: 3 trains a fixed 3 epochs; without it, until held-out accuracy stops improving
# (patience: 4 epochs, max_epochs: 60)
steps:
  - distill: {teacher: big.keras, temperature: 2, alpha: 0.5}
  - prune: {sparsity: 0.75, layers: {dense_1: 0.5}}   # ramp_epochs: 6 (gradual, then early stopping)
  - structured: {ratio: 0.25, multiple_of: 4}
  - low_rank: {energy: 0.9}            # or rank: 8; layers: {dense: 16, conv2d: null}
  - qat: {epochs: 2, learning_rate: 0.0001}
```

Every step is a mapping with one key, the technique, whose value holds its settings (or is empty
for the defaults); each step may override ``epochs``, ``batch_size``, ``learning_rate``,
``optimizer``, ``max_epochs`` and ``patience``. Unknown keys, wrong types and out-of-range values
are errors naming the file and the field (``recipe.yaml: steps[1].low_rank.enrgy: unknown key``).
``qat`` must be the last step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

SCHEMA_VERSION = 1
TECHNIQUES = ("distill", "prune", "structured", "low_rank", "qat")
_NUM = (int, float)
# technique -> {setting: (types, required)}
_SETTINGS: dict[str, dict[str, tuple[Any, bool]]] = {
    "prune": {"sparsity": (_NUM, True), "layers": (dict, False), "end_fraction": (_NUM, False),
              "power": (_NUM, False), "frequency": (int, False), "ramp_epochs": (int, False)},
    "structured": {"ratio": (_NUM, True), "layers": (dict, False), "multiple_of": (int, False)},
    "low_rank": {"energy": (_NUM, False), "rank": (int, False), "layers": (dict, False)},
    "distill": {"teacher": ((str, object), True), "temperature": (_NUM, False), "alpha": (_NUM, False)},
    "qat": {"decay": (_NUM, False), "freeze_epochs": (int, False), "fold_bn": (bool, False),
            "keep_sparsity": (bool, False)},
}
_FINETUNE = {"epochs": (int, False), "batch_size": (int, False), "learning_rate": (_NUM, False),
             "optimizer": (str, False), "max_epochs": (int, False), "patience": (int, False)}


@dataclass(frozen=True)
class Step:
    """One technique with its settings and fine-tuning overrides."""

    technique: str
    settings: dict[str, Any] = field(default_factory=dict)
    finetune: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """Settings for reports (a teacher model object is shown by name)."""
        plain = (str, int, float, bool, dict, list, type(None))
        shown = {k: (v if isinstance(v, plain) else getattr(v, "name", str(v))) for k, v in self.settings.items()}
        return {**shown, **self.finetune}


@dataclass(frozen=True)
class Recipe:
    """An ordered chain of steps plus default fine-tuning settings."""

    steps: tuple[Step, ...]
    finetune: dict[str, Any] = field(default_factory=dict)
    source: str = "<flags>"


def _fail(src: str, where: str, message: str, hint: str | None = None) -> UsageError:
    return UsageError(f"{src}: {where}: {message}", hint=hint)


def _type_name(types: Any) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {int: "integer", float: "number", str: "string", bool: "boolean", dict: "mapping", object: "model"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types if t is not object or len(types) == 1))


def _check_mapping(section: Any, spec: dict[str, tuple[Any, bool]], where: str, src: str) -> dict[str, Any]:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise _fail(src, where, f"expected a mapping, got {type(section).__name__}")
    for key in section:
        if key not in spec:
            raise _fail(src, f"{where}.{key}", "unknown key", hint=f"known keys here: {', '.join(sorted(spec))}")
    for key, (types, required) in spec.items():
        if key not in section:
            if required:
                raise _fail(src, f"{where}.{key}", "required key is missing")
            continue
        value = section[key]
        allowed = types if isinstance(types, tuple) else (types,)
        ok = isinstance(value, allowed) and (bool in allowed or not isinstance(value, bool))
        if not ok:
            raise _fail(src, f"{where}.{key}", f"expected {_type_name(types)}, got {value!r}")
    return section


def _check_values(technique: str, settings: dict[str, Any], ft: dict[str, Any], where: str, src: str) -> None:
    """Range checks, with the failing field named."""
    from edgekit.optimize.finetune import FineTune
    from edgekit.optimize.lowrank import check_energy
    from edgekit.optimize.prune import check_sparsity

    try:
        FineTune(**{k: v for k, v in ft.items() if k != "optimizer"})
        if technique == "prune":
            check_sparsity(settings["sparsity"], "sparsity")
            for name, v in (settings.get("layers") or {}).items():
                check_sparsity(v, f"layers.{name}")
            if "end_fraction" in settings and not 0 < settings["end_fraction"] <= 1:
                raise UsageError(f"end_fraction: must be in (0, 1], got {settings['end_fraction']!r}")
        elif technique == "structured":
            check_sparsity(settings["ratio"], "ratio")
            for name, v in (settings.get("layers") or {}).items():
                check_sparsity(v, f"layers.{name}")
        elif technique == "low_rank":
            if "energy" in settings and "rank" in settings:
                raise UsageError("energy and rank: give one of them, not both")
            if "energy" in settings:
                check_energy(settings["energy"])
            if "rank" in settings and settings["rank"] < 1:
                raise UsageError(f"rank: must be an integer >= 1, got {settings['rank']!r}")
            for name, v in (settings.get("layers") or {}).items():
                if v is not None and not isinstance(v, bool) and isinstance(v, int):
                    if v < 1:
                        raise UsageError(f"layers.{name}: a rank must be >= 1, got {v!r}")
                elif v is not None:
                    check_energy(v, f"layers.{name}")
        elif technique == "distill":
            t = settings.get("temperature", 2.0)
            if t <= 0:
                raise UsageError(f"temperature: must be > 0, got {t!r}")
            a = settings.get("alpha", 0.5)
            if not 0 <= a <= 1:
                raise UsageError(f"alpha: must be in [0, 1] (the weight of the hard-label loss), got {a!r}")
        elif technique == "qat" and "decay" in settings and not 0 <= settings["decay"] < 1:
            raise UsageError(f"decay: must be in [0, 1), got {settings['decay']!r}")
    except UsageError as exc:
        field_name, _, message = exc.message.partition(": ")
        raise _fail(src, f"{where}.{field_name}", message, exc.hint) from None


def parse_recipe(raw: Any, src: str = "<recipe>", base_dir: Path | None = None) -> Recipe:
    """Validate a recipe given as data (the parsed YAML); relative teacher paths resolve from ``base_dir``."""
    top = _check_mapping(raw, {"schema": (int, False), "finetune": (dict, False), "steps": (list, True)}, "recipe",
                         src)
    if top.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise _fail(src, "schema", f"version {top['schema']!r} is not supported (this edgekit reads {SCHEMA_VERSION})")
    defaults = dict(_check_mapping(top.get("finetune"), _FINETUNE, "finetune", src))
    _check_values("", {}, defaults, "finetune", src)
    steps = []
    if not top["steps"]:
        raise _fail(src, "steps", "the list is empty", hint=f"add steps such as '- prune: {{sparsity: 0.75}}' "
                                                            f"(techniques: {', '.join(TECHNIQUES)})")
    for i, item in enumerate(top["steps"]):
        where = f"steps[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise _fail(src, where, "each step is a mapping with one key, the technique",
                        hint=f"e.g. '- prune: {{sparsity: 0.75}}' (techniques: {', '.join(TECHNIQUES)})")
        technique, body = next(iter(item.items()))
        if technique not in _SETTINGS:
            raise _fail(src, f"{where}.{technique}", "unknown technique", hint=f"techniques: {', '.join(TECHNIQUES)}")
        where = f"{where}.{technique}"
        body = _check_mapping(body, {**_SETTINGS[technique], **_FINETUNE}, where, src)
        settings = {k: v for k, v in body.items() if k in _SETTINGS[technique]}
        ft = {k: v for k, v in body.items() if k in _FINETUNE}
        _check_values(technique, settings, {**defaults, **ft}, where, src)
        if technique == "distill" and not (isinstance(settings["teacher"], str) or hasattr(settings["teacher"],
                                                                                            "predict")):
            raise _fail(src, f"{where}.teacher", f"expected a path to a .keras model, got {settings['teacher']!r}")
        if technique == "distill" and isinstance(settings["teacher"], str) and base_dir is not None:
            path = Path(settings["teacher"]).expanduser()
            settings["teacher"] = str(path if path.is_absolute() else base_dir / path)
        steps.append(Step(technique, settings, ft))
    for i, step in enumerate(steps[:-1]):
        if step.technique == "qat":
            raise _fail(src, f"steps[{i}].qat", "qat must be the last step",
                        hint="the steps after it would change the weights it trained for int8")
    return Recipe(tuple(steps), defaults, src)


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Load and validate a YAML recipe file (UsageError naming the file and field)."""
    from edgekit.boards.yamlfile import load_yaml
    from edgekit.errors import BoardError

    src = Path(path)
    try:  # the same safe YAML reading as board files: duplicate keys refused, errors on one line
        raw = load_yaml(src, "recipe file")
    except BoardError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    return parse_recipe(raw, str(src), src.parent)


def recipe_from_flags(*, prune: float | None = None, structured: bool = False, low_rank: float | None = None,
                      rank: int | None = None, distill_from: Any = None, temperature: float = 2.0,
                      alpha: float = 0.5, qat: bool = False, epochs: int | None = None,
                      learning_rate: float | None = None, batch_size: int | None = None,
                      max_epochs: int | None = None, patience: int | None = None) -> Recipe:
    """The chain the CLI flags ask for, in a fixed order: distill, prune (or structured), low-rank, qat."""
    from edgekit.optimize.lowrank import check_energy
    from edgekit.optimize.prune import check_sparsity

    if prune is not None:
        check_sparsity(prune, "--prune")
    if low_rank is not None:
        check_energy(low_rank, "--low-rank")
    if rank is not None and rank < 1:
        raise UsageError(f"--rank: must be an integer >= 1, got {rank}")
    if temperature <= 0:
        raise UsageError(f"--temperature: must be > 0, got {temperature}")
    if not 0 <= alpha <= 1:
        raise UsageError(f"--alpha: must be in [0, 1] (the weight of the hard-label loss), got {alpha}")
    if structured and prune is None:
        raise UsageError("--structured needs --prune RATIO (the fraction of channels to remove)")
    if rank is not None and low_rank is not None:
        raise UsageError("give --low-rank ENERGY or --rank N, not both")
    raw: list[dict[str, Any]] = []
    if distill_from is not None:
        teacher = str(distill_from) if isinstance(distill_from, os.PathLike) else distill_from
        raw.append({"distill": {"teacher": teacher, "temperature": temperature, "alpha": alpha}})
    if prune is not None:
        raw.append({"structured": {"ratio": prune}} if structured else {"prune": {"sparsity": prune}})
    if low_rank is not None:
        raw.append({"low_rank": {"energy": low_rank}})
    if rank is not None:
        raw.append({"low_rank": {"rank": rank}})
    if qat:
        raw.append({"qat": {}})
    if not raw:
        raise UsageError("nothing to do", hint="give --prune, --low-rank/--rank, --distill-from, --qat or --recipe")
    finetune = {k: v for k, v in (("epochs", epochs), ("learning_rate", learning_rate), ("batch_size", batch_size),
                                  ("max_epochs", max_epochs), ("patience", patience)) if v is not None}
    return parse_recipe({"schema": SCHEMA_VERSION, "finetune": finetune, "steps": raw}, "options")
