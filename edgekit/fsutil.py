"""Filesystem helpers shared by the generators: nothing half-written is ever left where a result belongs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def replace_dir(new: Path, out: Path) -> None:
    """Move the finished directory ``new`` to ``out``; an earlier ``out`` is removed only afterwards.

    ``new`` must be on the same filesystem (a temporary sibling of ``out``), so each step is a rename.
    If moving ``new`` into place fails, the earlier ``out`` is restored.
    """
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.rename(out, old / "previous")
    try:
        os.rename(new, out)
    except OSError:
        if old is not None:
            os.rename(old / "previous", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` via a synced temporary file in the same directory and a rename.

    Readers see the old file or the complete new one, never a partial one; on any error the
    temporary file is removed and an existing ``path`` is left untouched.
    """
    dest = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def load_manifest(directory: str | os.PathLike[str], name: str, schema: str, *, kind: str, make_hint: str,
                  redo_hint: str) -> dict[str, Any]:
    """The JSON manifest ``name`` of a generated directory (a firmware project, an SBC bundle).

    Raises:
        UsageError: no manifest ("not an edgekit <kind>", hint ``make_hint``), unreadable JSON, or another
            schema than ``schema`` (hint ``redo_hint``).
    """
    from edgekit.errors import UsageError

    path = Path(directory) / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{directory}: not an edgekit {kind} (no {name})", hint=make_hint) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON ({exc})", hint=redo_hint) from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise UsageError(f"{path}: not an {schema} manifest", hint=redo_hint)
    return data
