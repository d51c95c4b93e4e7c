"""The sweep spec (a YAML file) and its expansion into cells: models x boards x options.

```yaml
schema: 1
models:
  - fc.tflite                          # a converted model: used as is
  - path: kws.keras                    # a Keras / SavedModel / ONNX model: converted per quantization mode
    name: kws                          # default: the file name without its suffix
    calib: calib.npy                   # calibration data (required for a model to convert)
    data: train.npz                    # x (and y): the optimize recipes' fine-tuning data (Keras models)
    inputs: samples.npy                # bench's input (its first sample) and validate's samples
boards: [qemu-cortex-m4, {board: qemu-cortex-m55}]
options:                               # one value or a list each; the cells are their product
  runtime: [edgekit, tflm]             # auto | edgekit | tflm
  sparse: [auto, "off"]                # edgekit's runtime only: a tflm cell takes auto
  quantization: [int8, int16]          # activations; models to convert only
  recipe: [none, prune.yaml]           # edgekit optimize recipes (edgekit/optimize/recipe.py); Keras models only
runs: 10
warmup: 1
validate: false                        # also compare outputs with the TFLM host interpreter (needs inputs)
objectives: [latency_us, flash_bytes, ram_bytes]   # the Pareto view: a figure, or figure:max
constraints: {flash_bytes: {max: 262144}}          # the recommendation's limits
```

A board entry may name a labgrid place instead (``{labgrid: PLACE}``, the board from the place's
``edgekit_board`` tag or ``board: ID``; ``coordinator: HOST:PORT`` at the top, else ``$LG_COORDINATOR``): its cells
are measured on the board in that place, one after another. Paths are relative to the spec file. Every error
names the file, the line and the field (:class:`SpecError`, exit code 1).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.sweeps.specfields import Checker, SpecError, Where, sha256_of, show

__all__ = ["AXES", "FIGURES", "Cell", "Prep", "SpecError", "SweepSpec", "load_spec"]

SCHEMA_VERSION = 1
AXES = ("runtime", "sparse", "quantization", "recipe")
FIGURES = ("latency_us", "instructions", "flash_bytes", "ram_bytes", "arena_bytes", "energy_uj")
CONVERTED = (".tflite",)
KERAS = (".keras", ".h5")
SPARSE = ("auto", "off", "force")
QUANTIZATION = ("int8", "int16")
_TOP = {"schema", "models", "boards", "options", "runs", "warmup", "validate", "objectives", "constraints",
        "coordinator"}
_MODEL_KEYS = {"path", "name", "calib", "data", "inputs"}
_BOARD_KEYS = {"board", "labgrid"}


@dataclass(frozen=True)
class ModelEntry:
    """One model of the spec, its files resolved against the spec's folder."""

    name: str
    path: Path
    sha256: str
    calib: Path | None = None
    data: Path | None = None
    inputs: Path | None = None

    @property
    def converted(self) -> bool:
        """A .tflite: used as is (no quantization or recipe applies)."""
        return self.path.suffix.lower() in CONVERTED

    @property
    def keras(self) -> bool:
        return self.path.suffix.lower() in KERAS


@dataclass(frozen=True)
class Prep:
    """What turns a model entry into the .tflite its cells run: nothing, or convert (and optimize) it."""

    key: str
    model: ModelEntry
    quantization: str | None
    recipe: Path | None

    @property
    def label(self) -> str:
        parts = [self.model.name] + ([self.quantization] if self.quantization else []) + \
            ([self.recipe.stem] if self.recipe else [])
        return "-".join(parts)


@dataclass(frozen=True)
class Cell:
    """One point of the sweep: a prepared model on a board with one set of options."""

    id: str
    key: str  # content hash: a re-run reuses a finished row only when every input is the same
    prep: Prep
    board: str
    options: dict[str, Any]
    labgrid: str | None = None


@dataclass
class SweepSpec:
    """A validated spec: the cells in a fixed order, the preparations they share, the Pareto settings."""

    path: Path
    sha256: str
    cells: list[Cell]
    preps: list[Prep]
    runs: int
    warmup: int
    validate: bool
    boards: list[str]
    objectives: list[tuple[str, str]] = field(default_factory=list)
    constraints: dict[str, dict[str, float]] = field(default_factory=dict)
    coordinator: str | None = None  # labgrid's, for cells on places (default: $LG_COORDINATOR)

    def runtimes(self) -> set[str]:
        return {c.options["runtime"] for c in self.cells}


def load_spec(path: str | os.PathLike[str], boards_dirs: list[str] | None = None) -> SweepSpec:
    """Read and validate a sweep spec and expand it into cells.

    Raises:
        SpecError: the file is missing, not YAML, or a field is wrong (file, line, field and a hint).
    """
    from edgekit.boards.yamlfile import load_yaml
    from edgekit.errors import BoardError

    src = Path(path)
    try:
        raw = load_yaml(src, "sweep spec")
    except BoardError as exc:
        raise SpecError(exc.message, hint=exc.hint) from None
    chk = Checker(src, Where(src.read_text(encoding="utf-8")))
    top = chk.mapping(raw, "", _TOP, "'models: [m.tflite]' and 'boards: [qemu-cortex-m4]'")
    if top.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise chk.fail("schema", f"version {show(top['schema'])} is not supported (this edgekit reads "
                                 f"{SCHEMA_VERSION})")
    for req in ("models", "boards"):
        if req not in top:
            raise chk.fail(req, "required key is missing", hint="a spec names models and boards at least")
    models = [_model(chk, item, f"models[{i}]") for i, item in enumerate(chk.as_list(top["models"], "models"))]
    names = [m.name for m in models]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise chk.fail(f"models[{i}]", f"a second model named {n!r}", hint="give one of them a 'name:'")
    coordinator = top.get("coordinator")
    if coordinator is not None and (not isinstance(coordinator, str) or not coordinator):
        raise chk.fail("coordinator", f"expected HOST[:PORT] of a labgrid coordinator, got {show(coordinator)}")
    boards = [_board(chk, item, f"boards[{i}]", boards_dirs, coordinator) for i, item in
              enumerate(chk.as_list(top["boards"], "boards"))]
    options = _options(chk, top.get("options") or {}, models)
    runs = chk.integer(top.get("runs", 10), "runs", 1)
    warmup = chk.integer(top.get("warmup", 1), "warmup", 0)
    validate = top.get("validate", False)
    if not isinstance(validate, bool):
        raise chk.fail("validate", f"expected true or false, got {show(validate)}")
    if validate:
        for i, m in enumerate(models):
            if m.inputs is None:
                raise chk.fail(f"models[{i}]", f"validate: true needs inputs for {m.name}",
                               hint="add 'inputs: samples.npy' to the model, or drop 'validate'")
    objectives = _objectives(chk, top.get("objectives", ["latency_us", "flash_bytes", "ram_bytes"]))
    constraints = _constraints(chk, top.get("constraints") or {})
    preps: dict[tuple[Any, ...], Prep] = {}
    cells: list[Cell] = []
    for m in models:
        quants = options["quantization"] if not m.converted else [None]
        recipes = options["recipe"] if m.keras else [None]
        for q, r in itertools.product(quants, recipes):
            pk = (m.name, q, str(r) if r else None)
            if pk not in preps:
                digest = hashlib.sha256(json.dumps([m.sha256, q, sha256_of(r) if r else None,
                                                    sha256_of(m.calib) if m.calib and not m.converted else None,
                                                    sha256_of(m.data) if m.data and r else None]).encode())
                preps[pk] = Prep(digest.hexdigest()[:16], m, q, r)
            prep = preps[pk]
            for (board, place), runtime, sparse in itertools.product(boards, options["runtime"], options["sparse"]):
                if runtime == "tflm" and sparse != "auto":
                    continue  # --sparse is edgekit's runtime's; a tflm cell is the same for every value
                opts = {"runtime": runtime, "sparse": sparse, "quantization": q, "recipe": r.name if r else None,
                        "runs": runs, "warmup": warmup, "validate": validate}
                key = hashlib.sha256(json.dumps([prep.key, board, place, opts, sha256_of(m.inputs) if m.inputs
                                                 else None]).encode()).hexdigest()[:16]
                shown = " ".join(f"{k}={v}" for k, v in opts.items() if k in AXES and v is not None)
                cells.append(Cell(f"{prep.label}@{place or board} {shown}", key, prep, board, opts, place))
    return SweepSpec(src, sha256_of(src), cells, list(preps.values()), runs, warmup, validate,
                     sorted({c.board for c in cells}), objectives, constraints, coordinator)


def _model(chk: Checker, item: Any, path: str) -> ModelEntry:
    if isinstance(item, str):
        item = {"path": item}
        entry_path = path
    else:
        chk.mapping(item, path, _MODEL_KEYS, "'- path: model.tflite'")
        if "path" not in item:
            raise chk.fail(f"{path}.path", "required key is missing")
        entry_path = f"{path}.path"
    p = chk.file(item["path"], entry_path, "a model")
    if p.is_dir():
        raise chk.fail(entry_path, f"{p.name} is a directory (a SavedModel): a sweep takes model files",
                       hint="save the model as .keras (model.save('m.keras')) or give its int8 .tflite")
    name = item.get("name", p.name.split(".")[0])
    if not isinstance(name, str) or not name or any(c in name for c in "/@ "):
        raise chk.fail(f"{path}.name", f"expected a name without '/', '@' or spaces, got {show(name)}")
    files = {k: chk.file(item[k], f"{path}.{k}", k) if k in item else None for k in ("calib", "data", "inputs")}
    entry = ModelEntry(name, p, sha256_of(p), **files)
    if not entry.converted and entry.calib is None:
        raise chk.fail(path, f"{p.name} is not a converted .tflite: converting it needs calibration data",
                       hint="add 'calib: calib.npy' to the model (or give its int8 .tflite)")
    return entry


def _board(chk: Checker, item: Any, path: str, boards_dirs: list[str] | None,
           coordinator: str | None) -> tuple[str, str | None]:
    """(board id, labgrid place or None) of one ``boards`` entry."""
    from edgekit.boards import load_board

    place = None
    if isinstance(item, dict):
        chk.mapping(item, path, _BOARD_KEYS, "'- qemu-cortex-m4', '- {board: qemu-cortex-m4}' or "
                                             "'- {labgrid: PLACE}'")
        if "labgrid" in item:
            place = item["labgrid"]
            if not isinstance(place, str) or not place:
                raise chk.fail(f"{path}.labgrid", f"expected a labgrid place name, got {show(place)}")
            if "board" not in item:
                item = {"board": _place_board(chk, place, f"{path}.labgrid", coordinator)}
        if "board" not in item:
            raise chk.fail(f"{path}.board", "required key is missing")
        item, path = item["board"], f"{path}.board"
    if not isinstance(item, str):
        raise chk.fail(path, f"expected a board id, got {show(item)}")
    try:
        prof = load_board(item, boards_dirs)
    except EdgekitError as exc:
        raise chk.fail(path, exc.message, hint=exc.hint or "'edgekit boards list' shows the board ids") from None
    if place is None and not prof.is_emulated:
        raise chk.fail(path, f"{prof.id} is not an emulated board: a sweep benches its cells in QEMU",
                       hint="pick a qemu-* board ('edgekit boards list'); a real board joins a sweep through a "
                            "labgrid place: '- {labgrid: PLACE}'")
    return prof.id, place


def _place_board(chk: Checker, place: str, path: str, coordinator: str | None) -> str:
    """The board a place's ``edgekit_board`` tag names, asked from the coordinator (the place is not acquired)."""
    from edgekit.labgrid import BOARD_TAG, place_board

    try:
        board = place_board(place, coordinator=coordinator)
    except EdgekitError as exc:
        raise chk.fail(path, exc.message, hint=exc.hint) from None
    if board is None:
        raise chk.fail(path, f"place {place!r} has no {BOARD_TAG} tag: which board it holds is not known",
                       hint=f"add 'board: ID' beside 'labgrid: {place}', or tag the place "
                            f"(labgrid-client -p {place} set-tags {BOARD_TAG}=ID)")
    return board


def _options(chk: Checker, raw: Any, models: list[ModelEntry]) -> dict[str, list[Any]]:
    from edgekit.generation import RUNTIMES

    chk.mapping(raw, "options", set(AXES), "'options: {runtime: [edgekit, tflm]}'")
    allowed = {"runtime": RUNTIMES, "sparse": SPARSE, "quantization": QUANTIZATION}
    out: dict[str, list[Any]] = {"runtime": ["auto"], "sparse": ["auto"], "quantization": ["int8"], "recipe": [None]}
    for axis in AXES:
        if axis not in raw:
            continue
        values = []
        for i, v in enumerate(chk.as_list(raw[axis], f"options.{axis}")):
            where = f"options.{axis}[{i}]" if isinstance(raw[axis], list) else f"options.{axis}"
            if axis == "recipe":
                values.append(None if v in (None, "none") else _recipe(chk, v, where))
            elif v is False and axis == "sparse":  # YAML reads a bare off as false
                values.append("off")
            elif v not in allowed[axis]:
                raise chk.fail(where, f"{show(v)} is not one of {', '.join(allowed[axis])}")
            else:
                values.append(v)
        if len(set(map(str, values))) != len(values):
            raise chk.fail(f"options.{axis}", "a value is given twice")
        out[axis] = values
    if "quantization" in raw and all(m.converted for m in models):
        raise chk.fail("options.quantization", "applies to models to convert, and every model is a .tflite",
                       hint="drop it, or add a Keras/SavedModel/ONNX model with 'calib:'")
    if any(r is not None for r in out["recipe"]):
        if not any(m.keras for m in models):
            raise chk.fail("options.recipe", "optimize recipes apply to Keras models, and there is none",
                           hint="drop it, or add a .keras model with 'calib:' and 'data:'")
        for i, m in enumerate(models):
            if m.keras and m.data is None:
                raise chk.fail(f"models[{i}]", f"the recipes fine-tune {m.name}: it needs training data",
                               hint="add 'data: train.npz' (x and y) to the model")
    return out


def _recipe(chk: Checker, value: Any, where: str) -> Path:
    from edgekit.optimize.recipe import load_recipe

    p = chk.file(value, where, "an optimize recipe")
    try:
        load_recipe(p)
    except EdgekitError as exc:
        raise chk.fail(where, exc.message, hint=exc.hint) from None
    return p


def _objectives(chk: Checker, raw: Any) -> list[tuple[str, str]]:
    out = []
    for i, item in enumerate(chk.as_list(raw, "objectives")):
        key, _, direction = str(item).partition(":")
        direction = direction or "min"
        if key not in FIGURES or direction not in ("min", "max"):
            raise chk.fail(f"objectives[{i}]", f"{show(item)} is not a figure with an optional :min/:max",
                           hint=f"figures: {', '.join(FIGURES)}")
        out.append((key, direction))
    return out


def _constraints(chk: Checker, raw: Any) -> dict[str, dict[str, float]]:
    chk.mapping(raw, "constraints", set(FIGURES), "'constraints: {flash_bytes: {max: 262144}}'")
    out = {}
    for key, lim in raw.items():
        chk.mapping(lim, f"constraints.{key}", {"min", "max"}, f"'{key}: {{max: 1000}}'")
        for k, v in lim.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise chk.fail(f"constraints.{key}.{k}", f"expected a number, got {show(v)}")
        out[key] = dict(lim)
    return out
