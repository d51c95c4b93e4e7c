"""Finding and loading board profiles: the search path, one file, by id, all of them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from edgekit.boards.families import FAMILY_DIR
from edgekit.boards.profile import BoardProfile
from edgekit.boards.schema import parse_board
from edgekit.boards.yamlfile import load_yaml
from edgekit.errors import BoardError
from edgekit.resources import boards_dir

BUILTIN_DIR = boards_dir()


def load_board_file(path: str | os.PathLike[str]) -> BoardProfile:
    """Load and validate one board file."""
    src = Path(path)
    return parse_board(load_yaml(src, "board file"), src)


def search_dirs(extra_dirs: Iterable[str | os.PathLike[str]] | None = None) -> list[Path]:
    """The board directories, in search order."""
    dirs = [Path(d) for d in (extra_dirs or [])]
    env = os.environ.get("EDGEKIT_BOARDS_PATH", "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs.append(BUILTIN_DIR)
    for d in dirs:
        if not d.is_dir():
            raise BoardError(f"{d}: board directory does not exist",
                             hint="check --boards-dir / EDGEKIT_BOARDS_PATH")
    return dirs


def _board_files(dirs: Sequence[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:
        for f in sorted(d.rglob("*.yaml")) + sorted(d.rglob("*.yml")):
            if f.relative_to(d).parts[0] != FAMILY_DIR:  # boards/families/*.yaml are chip families
                found.setdefault(f.stem, f)
    return found


@lru_cache(maxsize=64)
def _load_cached(path: Path, mtime: float) -> BoardProfile:
    return load_board_file(path)


def load_board(board: str | BoardProfile, extra_dirs: Iterable[str | os.PathLike[str]] | None = None) -> BoardProfile:
    """Load a board profile by id (or pass a BoardProfile through).

    Raises:
        BoardError: unknown id (with the list of known ids) or an invalid file.
    """
    if isinstance(board, BoardProfile):
        return board
    files = _board_files(search_dirs(extra_dirs))
    path = files.get(board)
    if path is None:
        import difflib

        close = difflib.get_close_matches(board, list(files), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "run 'edgekit boards list' to see the known boards"
        raise BoardError(f"unknown board '{board}'", hint=hint)
    return _load_cached(path, path.stat().st_mtime)


def list_boards(extra_dirs: Iterable[str | os.PathLike[str]] | None = None) -> list[BoardProfile]:
    """All board profiles on the search path, validated, sorted by id."""
    files = _board_files(search_dirs(extra_dirs))
    return sorted((_load_cached(p, p.stat().st_mtime) for p in files.values()), key=lambda b: b.id)

