"""The selection's result: every candidate measured, the Pareto front, the recommendation and why not the others.

The front is over accuracy (higher is better) x latency x flash (lower is better), among the candidates that ran;
the recommendation (:func:`edgekit.pareto.recommend`) is the best on ``prefer`` among the front of the candidates
that meet every constraint. Constraints can be changed on a result without measuring again (:meth:`rechoose`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError
from edgekit.pareto import Constraint, Objective, Recommendation, dominates, pareto_flags, recommend
from edgekit.selection.evaluate import Measured

SCHEMA = "edgekit.select/1"
OBJECTIVES = (Objective("accuracy", "max", "accuracy"), Objective("latency_ms", "min", "latency (ms)"),
              Objective("flash_bytes", "min", "flash (B)"))
PREFER = {"accuracy": "accuracy", "latency": "latency_ms", "flash": "flash_bytes"}
# constraint name (API keyword) -> (row key, bound)
LIMITS = {"max_flash": ("flash_bytes", "max"), "max_ram": ("ram_bytes", "max"),
          "max_latency_ms": ("latency_ms", "max"), "min_accuracy": ("accuracy", "min")}
# the figures a float32 / int8 pair is compared on (the quantization payoff): (key, label)
PAYOFF_FIGURES = (("flash_bytes", "flash", "B"), ("ram_bytes", "RAM", "B"), ("arena_bytes", "arena", "B"),
                  ("instructions", "instructions", ""), ("estimated_cycles", "est. cycles", ""),
                  ("latency_ms", "latency", "ms"), ("energy_uj", "energy / inference", "µJ"))


def constraints_of(limits: dict[str, float | None]) -> list[Constraint]:
    """The :class:`~edgekit.pareto.Constraint` list for ``max_flash=...`` style limits (None: no limit)."""
    out = []
    for name, value in limits.items():
        if name not in LIMITS:
            raise UsageError(f"unknown constraint {name!r} (choices: {', '.join(LIMITS)})")
        if value is None:
            continue
        key, bound = LIMITS[name]
        out.append(Constraint(key, **{bound: float(value)}))
    return out


@dataclass
class SelectionResult:
    """Candidates measured on one board with one validation set; ``chosen`` is the recommended one (or None)."""

    board: str
    validation: str
    candidates: list[Measured]
    limits: dict[str, float | None] = field(default_factory=dict)
    prefer: str = "accuracy"
    chosen: int | None = None  # index into candidates
    reason: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def recommended(self) -> Measured | None:
        """The recommended candidate, or None when none meets every constraint."""
        return self.candidates[self.chosen] if self.chosen is not None else None

    def choose(self) -> SelectionResult:
        """Flag the Pareto front, pick the recommendation under ``limits`` and ``prefer``, rank and explain."""
        if self.prefer not in PREFER:
            raise UsageError(f"prefer: {self.prefer!r} is not one of {', '.join(PREFER)}")
        rows = [_row(m) for m in self.candidates]
        flags = pareto_flags(rows, OBJECTIVES)
        rec = recommend(rows, OBJECTIVES, constraints_of(self.limits), prefer=PREFER[self.prefer])
        self.chosen, self.reason = rec.index, rec.reason
        for i, m in enumerate(self.candidates):
            m.pareto, m.chosen = flags[i], i == rec.index
            m.why_not = None if m.chosen else (f"failed at {m.stage}: {m.error}" if m.status == "failed"
                                               else _explain(i, rows, rec, self.candidates))
        for r, i in enumerate(sorted(range(len(rows)), key=lambda i: _rank_key(self.candidates[i], rows[i],
                                                                                 PREFER[self.prefer])), 1):
            self.candidates[i].rank = r
        return self

    def rechoose(self, *, prefer: str | None = None, **limits: float | None) -> SelectionResult:
        """A copy with other constraints (``max_flash``, ``max_ram``, ``max_latency_ms``, ``min_accuracy``) or
        ``prefer``, chosen again from the same measurements."""
        constraints_of(limits)
        copy = dataclasses.replace(self, candidates=[dataclasses.replace(m, notes=list(m.notes))
                                                     for m in self.candidates],
                                   limits=dict(limits), prefer=prefer or self.prefer)
        return copy.choose()

    def ranked(self) -> list[Measured]:
        """The candidates in rank order (chosen first, then the front, then the rest; failures last)."""
        return sorted(self.candidates, key=lambda m: m.rank or 0)

    def payoffs(self) -> list[dict[str, Any]]:
        """The quantization payoff of each ``float32`` variant that ran beside its int8 candidate, in the shape of
        :meth:`edgekit.payoff.Payoff.to_dict`: rows ``a`` (float32), ``b`` (int8) and ``ratio`` a / b of every figure
        in :data:`PAYOFF_FIGURES` (None where one side was not measured), and both accuracies."""
        by_name = {m.name: m for m in self.candidates}
        out = []
        for f in self.candidates:
            q = by_name.get(f.int8_counterpart or "")
            if q is None or f.status != "ok" or q.status != "ok":
                continue
            rows = []
            for key, label, unit in PAYOFF_FIGURES:
                a, b = getattr(f, key), getattr(q, key)
                ratio = a / b if a is not None and b else None
                rows.append({"key": key, "label": label, "unit": unit, "a": a, "b": b, "ratio": ratio})
            out.append({"board": self.board, "a": f.name, "b": q.name, "rows": rows,
                        "accuracy": {"float32": f.accuracy, "int8": q.accuracy}, "accuracy_metric": "accuracy"})
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``edgekit.select/1`` JSON form (``payoffs``: :meth:`payoffs`, recomputed when loaded)."""
        rec = self.recommended
        return {"schema": SCHEMA, "board": self.board, "validation": self.validation,
                "objectives": [{"key": o.key, "direction": o.direction} for o in OBJECTIVES],
                "constraints": {k: v for k, v in self.limits.items() if v is not None}, "prefer": self.prefer,
                "recommended": rec.name if rec else None, "reason": self.reason, "settings": self.settings,
                "notes": list(self.notes), "candidates": [dataclasses.asdict(m) for m in self.candidates],
                "payoffs": self.payoffs()}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SelectionResult:
        """Read a result saved as JSON (``edgekit select --save``)."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{p}: not a readable JSON file ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{p}: not an {SCHEMA} result")
        try:
            return cls.from_dict(data)
        except UsageError as exc:
            exc.message = f"{p}: {exc.message}"
            raise
        except (TypeError, AttributeError) as exc:
            raise UsageError(f"{p}: a damaged {SCHEMA} result ({exc})") from None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SelectionResult:
        """A result from its JSON form (to choose again under other constraints without measuring again)."""
        if d.get("schema") != SCHEMA:
            raise UsageError(f"not an {SCHEMA} result (schema: {d.get('schema')!r})",
                             hint="pass a file written by 'edgekit select --json' or --save")
        names = {f.name for f in dataclasses.fields(Measured)}
        cands = [Measured(**{k: v for k, v in c.items() if k in names}) for c in d.get("candidates") or []]
        limits = {k: d.get("constraints", {}).get(k) for k in LIMITS}
        return cls(d.get("board", ""), d.get("validation", ""), cands, limits, d.get("prefer", "accuracy"),
                   settings=d.get("settings") or {}, notes=list(d.get("notes") or []))


def _row(m: Measured) -> dict[str, Any]:
    if m.status != "ok":
        return {}
    return {"accuracy": m.accuracy, "latency_ms": m.latency_ms, "flash_bytes": m.flash_bytes,
            "ram_bytes": m.ram_bytes}


def _rank_key(m: Measured, row: dict[str, Any], prefer: str) -> tuple[Any, ...]:
    vals = []
    for o in sorted(OBJECTIVES, key=lambda o: o.key != prefer):
        v = o.value(row)
        vals.append(float("inf") if v is None else (v if o.direction == "min" else -v))
    return (not m.chosen, not m.pareto, m.status != "ok", *vals)


def _explain(i: int, rows: list[dict[str, Any]], rec: Recommendation, cands: list[Measured]) -> str:
    """``recommend``'s reason for passing over row ``i``, naming the candidate that beats it where there is one."""
    why = rec.rejected.get(i, "not chosen")
    vals = [[o.value(r) for o in OBJECTIVES] for r in rows]
    if why.startswith("dominated"):
        mine = vals[i]
        meets = [j for j in range(len(rows))
                 if j == rec.index or rec.rejected.get(j, "").startswith(("dominated", "on the front"))]
        by = [j for j in meets if j != i and None not in vals[j] and None not in mine
              and dominates(vals[j], mine, OBJECTIVES)]  # type: ignore[arg-type]
        if by:  # the chosen one if it dominates, else one on the front
            j = min(by, key=lambda j: (j != rec.index, rec.rejected.get(j, "").startswith("dominated")))
            return f"dominated by {cands[j].name} (at least as accurate, as fast and as small, better on one)"
    elif why.startswith("on the front") and rec.index is not None:
        return f"{why} ({cands[rec.index].name})"
    return why
