"""Small shared helpers: errors, atomic writes, statistics, the bundle manifest, status lines."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

MANIFEST = "edgekit_bundle.json"
BUNDLE_SCHEMA = "edgekit.bundle/1"


class RunnerError(Exception):
    """An error the user can fix: one-line ``message`` plus an optional ``hint``."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def status(text: str) -> None:
    """One status line on stderr, prefixed and flushed (systemd's journal and tests read these)."""
    sys.stderr.write(f"edgekit-runner: {text}\n")
    sys.stderr.flush()


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None], binary: bool = False) -> Path:
    """Write a file via a temporary sibling and a rename: readers see the old or the complete new file."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=str(dest.parent))
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomic JSON file (indented, trailing newline)."""
    return atomic_write(path, lambda f: (json.dump(obj, f, indent=2), f.write("\n")))


def stats(values: list[float]) -> dict[str, float | int]:
    """n, min, median, mean, p90 (linear interpolation), max, stdev (sample; 0 for one value).

    The same definitions as edgekit's MCU benchmark (docs/bench-schema.md, "Statistics objects").
    """
    if not values:
        raise ValueError("no values")
    xs = sorted(float(v) for v in values)
    n = len(xs)

    def pct(p: float) -> float:
        k = (n - 1) * p / 100.0
        lo = math.floor(k)
        hi = min(lo + 1, n - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    mean = sum(xs) / n
    stdev = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"n": n, "min": xs[0], "median": pct(50), "mean": mean, "p90": pct(90), "max": xs[-1], "stdev": stdev}


def utc_now() -> str:
    """ISO 8601 UTC time to the second, e.g. ``2026-11-28T13:02:22Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bundle_root() -> Path:
    """The bundle directory: the parent of this package."""
    return Path(__file__).resolve().parent.parent


def load_manifest(root: Path | None = None) -> dict[str, Any]:
    """The bundle's ``edgekit_bundle.json`` ({} when the runner runs outside a bundle)."""
    path = (root or bundle_root()) / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunnerError(f"{path}: not readable JSON ({exc})", hint="regenerate the bundle") from None
    if not isinstance(data, dict) or data.get("schema") != BUNDLE_SCHEMA:
        raise RunnerError(f"{path}: not an {BUNDLE_SCHEMA} manifest", hint="regenerate the bundle")
    return data


def default_model(manifest: dict[str, Any], root: Path | None = None) -> Path:
    """The model file named by the manifest."""
    rel = (manifest.get("model") or {}).get("file")
    if not rel:
        raise RunnerError("no model given and no bundle manifest names one", hint="pass --model PATH.tflite")
    return (root or bundle_root()) / rel

SCHEMA_BENCH = "edgekit.bench/1"
SCHEMA_BATCH = "edgekit.sbc-batch/1"
