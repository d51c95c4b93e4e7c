"""Where edgekit's data lives: board profiles and templates, in a wheel and in a source checkout alike.

The repository keeps them at its top (``boards/``, ``firmware_templates/``), where people look for them. The wheel
ships the same folders inside the package, as ``edgekit/_data/boards`` and ``edgekit/_data/firmware_templates``
(``pyproject.toml`` maps them there). This module is the one place that knows both layouts: every other module asks
it for a folder instead of counting ``parents[N]``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from edgekit.errors import EdgekitError

__all__ = ["DATA_FOLDERS", "boards_dir", "data_dir", "templates_dir"]

# the folders a working edgekit needs; each is a top-level folder of the repository and edgekit/_data/<name> in a wheel
DATA_FOLDERS = ("boards", "firmware_templates")


@cache
def data_dir(name: str) -> Path:
    """The folder ``name`` (one of :data:`DATA_FOLDERS`): inside the installed package, else in the source checkout.

    Raises:
        EdgekitError: when neither exists (a broken install).
    """
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r} (choices: {', '.join(DATA_FOLDERS)})")
    package = Path(str(resources.files("edgekit")))
    for candidate in (package / "_data" / name, package.parent / name):
        if candidate.is_dir():
            return candidate
    raise EdgekitError(f"edgekit's {name}/ folder is missing: looked in {package / '_data'} and {package.parent}",
                       hint="reinstall edgekit (pip install --force-reinstall edgekit); from a checkout, "
                            "run it from the repository")


def boards_dir() -> Path:
    """The built-in board profiles (``boards/<vendor>/<id>.yaml``)."""
    return data_dir("boards")


def templates_dir(*parts: str) -> Path:
    """The firmware/project templates, or a folder inside them (``templates_dir("runtime", "edgekit")``)."""
    return data_dir("firmware_templates").joinpath(*parts)
