"""Saved benchmark results: the ``edgekit.bench/1`` JSON files (``docs/bench-schema.md``), written atomically and
read back with their schema checked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

__all__ = ["SCHEMA", "load_result", "read_json", "save_json"]

SCHEMA = "edgekit.bench/1"


def save_json(obj: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write JSON atomically: readers see the old file or the complete new one, never a partial one."""
    from edgekit.fsutil import write_atomic

    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(dest, (json.dumps(obj, indent=2) + "\n").encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; a missing or unreadable file is a :class:`UsageError` naming it."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{p}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{p}: not readable JSON ({exc})") from None


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved benchmark JSON and check its schema tag."""
    p = Path(path)
    data = read_json(p)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else None
        raise UsageError(f"{p}: not an {SCHEMA} file (schema: {got!r})", hint="save one with 'edgekit bench --save'")
    for key in ("timing", "board", "input", "memory", "energy"):  # sections readers index into
        if key in data and not isinstance(data[key], dict) and not (key == "energy" and data[key] is None):
            raise UsageError(f"{p}: field '{key}' is not an object (got {type(data[key]).__name__})",
                             hint="the file is damaged or was not written by 'edgekit bench --save'")
    return data
