"""``edgekit_project.json``: what ``edgekit generate`` tells ``build``, ``flash``, ``bench`` and ``validate`` about a
firmware project. One type, one reader, one writer.

Both project kinds write it (edgekit's AOT runtime and TFLM projects); the TFLM facts sit in ``tflm``. Keys a newer
edgekit added are kept in :attr:`ProjectManifest.extra` and written back unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

__all__ = ["PROJECT_FILE", "PROJECT_SCHEMA", "ModelFacts", "ProjectManifest", "find_project", "load_project"]

PROJECT_FILE = "edgekit_project.json"
PROJECT_SCHEMA = 1
DEFAULT_ELF = "build/firmware.elf"


@dataclass(frozen=True)
class ModelFacts:
    """The model a project was generated from."""

    name: str
    path: str | None
    sha256: str
    input_bytes: int
    output0: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectManifest:
    """A generated firmware project (``edgekit_project.json``, schema 1)."""

    board: str
    name: str = "firmware"
    runtime: str = "edgekit"
    model: ModelFacts | None = None
    edgekit_version: str = ""
    board_file: str | None = None
    build_system: str = "cmake"
    arena_bytes: int = 0
    weights_bytes: int = 0
    stack_bytes: int = 0
    line_max: int = 0
    firmware: dict[str, Any] = field(default_factory=dict)
    qemu: dict[str, Any] | None = None
    elf: str = DEFAULT_ELF
    files: tuple[str, ...] = ()
    tflm: dict[str, Any] | None = None
    zephyr_board: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``schema`` first, then the fields, then the keys this edgekit does not know)."""
        data: dict[str, Any] = {"schema": PROJECT_SCHEMA}
        for f in fields(self):
            if f.name != "extra":
                data[f.name] = getattr(self, f.name)
        data["model"] = asdict(self.model) if self.model else None
        data["files"] = list(self.files)
        return {**data, **self.extra}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``edgekit_project.json`` into ``directory``."""
        path = Path(directory) / PROJECT_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = PROJECT_FILE) -> ProjectManifest:
        """Parse the JSON form; raises UsageError naming ``source`` and the field when it is not a manifest."""
        redo = "run 'edgekit generate' again"
        if data.get("schema") != PROJECT_SCHEMA:
            raise UsageError(f"{source}: not an edgekit project manifest of schema {PROJECT_SCHEMA} "
                             f"(schema: {data.get('schema')!r})", hint=redo)
        model = data.get("model")
        if model is not None and not isinstance(model, dict):
            raise UsageError(f"{source}: field 'model' is not an object", hint=redo)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "schema" and v is not None}
        for key in ("name", "board", "runtime"):
            if key in values and (not isinstance(values[key], str) or not values[key]):
                raise UsageError(f"{source}: field '{key}' is not a string", hint=redo)
        if "board" not in values:
            raise UsageError(f"{source}: field 'board' is missing", hint=redo)
        try:
            if model is not None:
                values["model"] = ModelFacts(name=str(model.get("name", "")), path=model.get("path"),
                                             sha256=str(model.get("sha256", "")),
                                             input_bytes=int(model.get("input_bytes", 0)),
                                             output0=dict(model.get("output0") or {}))
            values["files"] = tuple(values.get("files") or ())
            return cls(**values, extra={k: v for k, v in data.items() if k not in known and k != "schema"})
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{source}: malformed field ({exc})", hint=redo) from None

    def model_path(self, project_dir: Path) -> Path | None:
        """The model file the project names, if it still exists (relative to the project, or as written)."""
        if self.model is None or not self.model.path:
            return None
        return next((c for c in (project_dir / self.model.path, Path(self.model.path)) if c.is_file()), None)


def load_project(project_dir: str | os.PathLike[str]) -> ProjectManifest:
    """Read ``edgekit_project.json`` of a generated project.

    Raises:
        UsageError: no manifest ("not an edgekit project"), unreadable JSON, another schema or a malformed field.
    """
    path = Path(project_dir) / PROJECT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{project_dir}: not an edgekit project (no {PROJECT_FILE})",
                         hint="create one with 'edgekit generate MODEL --board ID -o DIR'") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON ({exc})", hint="run 'edgekit generate' again") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not an edgekit project manifest", hint="run 'edgekit generate' again")
    return ProjectManifest.from_dict(data, str(path))


def find_project(path: str | os.PathLike[str], levels: int = 4) -> Path | None:
    """The project directory holding ``path`` (a file or folder), looking up to ``levels`` folders up:
    ``build/firmware.elf``, ``build/zephyr/zephyr.elf``, ``.pio/build/<env>/firmware.elf``."""
    p = Path(path).resolve()
    for d in [p, *p.parents][:levels + 1]:
        if (d / PROJECT_FILE).is_file():
            return d
    return None
