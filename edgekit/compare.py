"""Compare two ``edgekit.bench/1`` results: absolute and relative change of each headline figure."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from edgekit.results import load_result

# (key, label, unit, path into the result); lower is better for every one of them
METRICS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("latency_us", "latency (median)", "µs", ("timing", "latency_us", "median")),
    ("count", "instructions/cycles (median)", "", ("timing", "count", "median")),
    ("estimated_cycles", "estimated cycles", "", ("cycles", "estimated_cycles")),
    ("latency_p90_us", "latency (p90)", "µs", ("timing", "latency_us", "p90")),
    ("flash_bytes", "flash", "B", ("memory", "flash_bytes")),
    ("ram_bytes", "RAM", "B", ("memory", "ram_bytes")),
    ("arena_used_bytes", "arena used", "B", ("memory", "arena_used_bytes")),
    ("stack_used_bytes", "stack used", "B", ("memory", "stack_used_bytes")),
    ("energy_uj", "energy per inference", "µJ", ("energy", "per_inference_uj")),
)


@dataclass(frozen=True)
class Delta:
    """One compared figure: ``b - a`` and ``(b - a) / a`` in percent (None when a value is missing or a is 0)."""

    key: str
    label: str
    unit: str
    a: float | None
    b: float | None
    delta: float | None
    delta_pct: float | None

    @property
    def ratio(self) -> float | None:
        """``a / b``: how many times smaller (faster, cheaper) B is than A (None when a value is missing or b is 0)."""
        return self.a / self.b if self.a is not None and self.b else None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "unit": self.unit, "a": self.a, "b": self.b,
                "delta": self.delta, "delta_pct": self.delta_pct, "ratio": self.ratio}


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`."""

    a: str
    b: str
    rows: tuple[Delta, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "edgekit.compare/1", "a": self.a, "b": self.b, "rows": [r.to_dict() for r in self.rows],
                "notes": list(self.notes)}

    def row(self, key: str) -> Delta:
        return next(r for r in self.rows if r.key == key)


def _get(data: dict[str, Any], path: tuple[str, ...]) -> float | None:
    cur: Any = data
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return float(cur) if isinstance(cur, (int, float)) and not isinstance(cur, bool) else None


def compare_results(a: dict[str, Any], b: dict[str, Any], *, name_a: str = "A", name_b: str = "B") -> Comparison:
    """Compare two result dicts (as saved by ``BenchResult.save``)."""
    notes = []
    basis_a, basis_b = a.get("timing", {}).get("basis"), b.get("timing", {}).get("basis")
    rows = []
    for key, label, unit, path in METRICS:
        va, vb = _get(a, path), _get(b, path)
        if key == "count":
            if basis_a != basis_b:
                notes.append(f"{name_a} counts {basis_a}, {name_b} counts {basis_b}: not comparable, omitted")
                va = vb = None
            label, unit = f"{basis_a or 'count'} (median)", ""
        delta = vb - va if va is not None and vb is not None else None
        pct = delta / va * 100.0 if delta is not None and va else None
        rows.append(Delta(key, label, unit, va, vb, delta, pct))
    board_a, board_b = a.get("board", {}).get("id"), b.get("board", {}).get("id")
    if board_a != board_b:
        notes.append(f"different boards: {board_a} vs {board_b}")
    in_a, in_b = a.get("input", {}).get("sha256"), b.get("input", {}).get("sha256")
    if in_a and in_b and in_a != in_b:
        notes.append("different inputs (latency may depend on the data)")
    kinds = [(d.get("energy") or {}).get("kind", "modelled") for d in (a, b)]
    if kinds[0] != kinds[1]:
        notes.append(f"energy is {kinds[0]} in {name_a} and {kinds[1]} in {name_b}")
    return Comparison(name_a, name_b, tuple(rows), tuple(notes))


def compare(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> Comparison:
    """Compare two saved benchmark JSON files (``b`` relative to ``a``)."""
    return compare_results(load_result(a), load_result(b), name_a=str(a), name_b=str(b))
