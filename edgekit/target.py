"""What ``bench``, ``flash`` and ``validate`` act on: a generated project directory or a bare firmware ELF."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import BuildError, ModelError, UsageError
from edgekit.manifest import ProjectManifest, find_project, load_project

__all__ = ["Target", "resolve_target"]


@dataclass(frozen=True)
class Target:
    """An ELF, and when it comes from a generated project, that project's manifest."""

    elf: Path
    project_dir: Path | None = None
    project: ProjectManifest | None = None
    model_path: Path | None = None

    @property
    def board_id(self) -> str | None:
        """The board the project was generated for (None for a bare ELF)."""
        return self.project.board if self.project else None


def resolve_target(target: str | os.PathLike[str]) -> Target:
    """A generated project directory (``edgekit_project.json`` + its ELF, by default ``build/*.elf``) or an ELF file
    (whose project, if any, is found up to two folders above it)."""
    path = Path(target)
    if path.is_file():
        if path.read_bytes()[:4] != b"\x7fELF":
            raise ModelError(f"{path}: not an ELF file", hint="pass a project directory or its build/*.elf")
        proj_dir = find_project(path.parent, levels=1)
        if proj_dir is None:
            return Target(elf=path)
        project = load_project(proj_dir)
        return Target(path, proj_dir, project, project.model_path(proj_dir))
    if not path.is_dir():
        raise UsageError(f"{path}: no such project directory or ELF file")
    project = load_project(path)
    return Target(_find_elf(path, project), path, project, project.model_path(path))


def _find_elf(proj_dir: Path, project: ProjectManifest) -> Path:
    if (proj_dir / project.elf).is_file():
        return proj_dir / project.elf
    elfs = sorted((proj_dir / "build").glob("*.elf"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not elfs:
        raise BuildError(f"{proj_dir}: the project is not built (no firmware image in build/)",
                         hint=f"run 'edgekit build {proj_dir}' first")
    return elfs[0]
