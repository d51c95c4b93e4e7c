"""A sweep's results on disk: rows appended to ``cells.jsonl`` as cells finish (flushed and synced, so a crash of
the driver loses no finished cell), then ``sweep.json`` (``edgekit.sweep/1``) written atomically at the end.

A re-run with the same output folder reads ``cells.jsonl`` back and skips every cell whose row is there with
``status: ok`` and the same key (the key hashes the cell's model, board and options, so an edited spec re-runs
what changed). A torn last line (the driver killed mid-write) is ignored.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

__all__ = ["SCHEMA", "CellStore", "load_sweep"]

SCHEMA = "edgekit.sweep/1"
PARTIAL = "cells.jsonl"
FINAL = "sweep.json"


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class CellStore:
    """The append-only log of finished cells in ``out_dir`` (and what an earlier run left there)."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / PARTIAL
        self.done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash
                if isinstance(row, dict) and row.get("status") == "ok" and isinstance(row.get("key"), str):
                    self.done[row["key"]] = row

    def finished(self, key: str) -> dict[str, Any] | None:
        """The row of an earlier run's finished cell with this key, or None."""
        return self.done.get(key)

    def append(self, row: dict[str, Any]) -> None:
        """Add one finished cell's row (the line is on disk when this returns)."""
        line = json.dumps(row, separators=(",", ":"), default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if row.get("status") == "ok":
            self.done[row["key"]] = row


def load_sweep(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``sweep.json`` and check its schema tag."""
    from edgekit.results import read_json

    p = Path(path)
    data = read_json(p)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("cells"), list):
        raise UsageError(f"{p}: not an {SCHEMA} file", hint="write one with 'edgekit sweep SPEC -o DIR'")
    return data
