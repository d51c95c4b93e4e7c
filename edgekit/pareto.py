"""Pareto fronts over measured candidates, a recommendation under constraints, and the Pareto plot.

Shared by ``edgekit select`` (candidate models on one board) and ``edgekit sweep`` (models × boards × options):
both have rows (plain dicts, e.g. a candidate's accuracy, flash bytes, latency) and ask which rows no other row
beats on every objective at once, and which one to take under the user's limits.

An objective is a row key with a direction: ``Objective("accuracy", "max")``, ``Objective("flash_bytes", "min")``.
A row missing an objective's value (``None``, NaN, absent) is never on the front and is never recommended: a
candidate that failed to build or bench has no place in a trade-off.

>>> rows = [{"acc": 0.95, "flash": 40_000}, {"acc": 0.90, "flash": 10_000}, {"acc": 0.89, "flash": 12_000}]
>>> pareto_flags(rows, [Objective("acc", "max"), Objective("flash", "min")])
[True, True, False]
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from edgekit.plot import _axes, _Scale, _svg

Direction = Literal["min", "max"]


@dataclass(frozen=True)
class Objective:
    """A row key to minimize or maximize, and how to label it in tables and plots."""

    key: str
    direction: Direction = "min"
    label: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("min", "max"):
            raise ValueError(f"objective {self.key!r}: direction must be 'min' or 'max', not {self.direction!r}")

    @property
    def title(self) -> str:
        """The label, or the key when no label was given."""
        return self.label or self.key

    def value(self, row: Mapping[str, Any]) -> float | None:
        """The row's value as a float, or None when it is missing or not a finite number."""
        v = row.get(self.key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        return float(v)

    def better_or_equal(self, a: float, b: float) -> bool:
        """True when ``a`` is at least as good as ``b``."""
        return a <= b if self.direction == "min" else a >= b


def _complete(rows: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]) -> list[list[float] | None]:
    out: list[list[float] | None] = []
    for row in rows:
        vals = [o.value(row) for o in objectives]
        out.append(None if any(v is None for v in vals) else [v for v in vals if v is not None])
    return out


def dominates(a: Sequence[float], b: Sequence[float], objectives: Sequence[Objective]) -> bool:
    """True when ``a`` is at least as good as ``b`` on every objective and strictly better on one."""
    if not all(o.better_or_equal(x, y) for o, x, y in zip(objectives, a, b, strict=True)):
        return False
    return any(x != y for x, y in zip(a, b, strict=True))


def pareto_flags(rows: Sequence[Mapping[str, Any]], objectives: Sequence[Objective]) -> list[bool]:
    """One flag per row: True when no other complete row dominates it (ties: equal rows are all on the front)."""
    if not objectives:
        raise ValueError("pareto_flags needs at least one objective")
    vals = _complete(rows, objectives)
    flags = []
    for i, v in enumerate(vals):
        if v is None:
            flags.append(False)
            continue
        flags.append(not any(w is not None and j != i and dominates(w, v, objectives) for j, w in enumerate(vals)))
    return flags


@dataclass(frozen=True)
class Constraint:
    """A limit on a row key: ``Constraint("flash_bytes", max=256_000)``, ``Constraint("accuracy", min=0.9)``."""

    key: str
    min: float | None = None
    max: float | None = None

    def why_not(self, row: Mapping[str, Any]) -> str | None:
        """None when the row satisfies the limit, else a short reason (``flash_bytes 300000 > 256000``)."""
        v = row.get(self.key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"{self.key} not measured"
        if self.max is not None and v > self.max:
            return f"{self.key} {v:g} > {self.max:g}"
        if self.min is not None and v < self.min:
            return f"{self.key} {v:g} < {self.min:g}"
        return None


@dataclass(frozen=True)
class Recommendation:
    """The chosen row's index (None when no row meets every constraint) and why each other row was passed over."""

    index: int | None
    reason: str
    rejected: dict[int, str]


def recommend(rows: Sequence[Mapping[str, Any]], objectives: Sequence[Objective],
              constraints: Sequence[Constraint] = (), prefer: str | None = None) -> Recommendation:
    """Pick one row: among rows that meet every constraint and are on the Pareto front of those rows, the best on
    ``prefer`` (an objective key; default the first objective), ties broken by the following objectives in order.
    """
    by_key = {o.key: o for o in objectives}
    first = by_key.get(prefer) if prefer else objectives[0]
    if first is None:
        raise ValueError(f"prefer={prefer!r} is not one of the objectives {sorted(by_key)}")
    order = [first] + [o for o in objectives if o is not first]
    rejected: dict[int, str] = {}
    ok: list[int] = []
    for i, row in enumerate(rows):
        reasons = [r for c in constraints if (r := c.why_not(row))]
        missing = [o.key for o in objectives if o.value(row) is None]
        if missing:
            reasons.append("not measured: " + ", ".join(missing))
        if reasons:
            rejected[i] = "; ".join(reasons)
        else:
            ok.append(i)
    if not ok:
        return Recommendation(None, "no candidate meets every constraint", rejected)
    flags = pareto_flags([rows[i] for i in ok], objectives)
    front = [i for i, f in zip(ok, flags, strict=True) if f]
    for i in ok:
        if i not in front:
            rejected[i] = "dominated by another candidate that meets the constraints"

    def key(i: int) -> tuple[float, ...]:
        return tuple((v if o.direction == "min" else -v) for o in order if (v := o.value(rows[i])) is not None)

    best = min(front, key=key)
    for i in front:
        if i != best:
            rejected[i] = f"on the front, but {first.title} is not the best among those that meet the constraints"
    why = f"best {first.title} on the Pareto front" + (" within the constraints" if constraints else "")
    return Recommendation(best, why, rejected)


def pareto_svg(rows: Sequence[Mapping[str, Any]], x: Objective, y: Objective, flags: Sequence[bool],
               labels: Sequence[str], title: str = "Pareto front", chosen: int | None = None) -> str:
    """A scatter plot of the rows on two objectives: front points filled (``<circle class="front">``), the others
    hollow (``class="dominated"``), the front joined by a line, the chosen row ringed (``class="chosen"``)."""
    pts = [(i, xv, yv) for i, r in enumerate(rows) if (xv := x.value(r)) is not None and (yv := y.value(r)) is not None]
    if not pts:
        return f'<p class="note">{html.escape(title)}: no candidate has both {html.escape(x.title)} and ' \
               f'{html.escape(y.title)}</p>'
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    pad_x, pad_y = (max(xs) - min(xs)) * 0.08 or abs(xs[0]) * 0.1 or 1.0, (max(ys) - min(ys)) * 0.08 or 0.05
    xr, yr = (min(xs) - pad_x, max(xs) + pad_x), (min(ys) - pad_y, max(ys) + pad_y)
    s = _Scale(xr, yr)
    arrows = {"min": "lower is better", "max": "higher is better"}
    parts = _axes(title + f": x {arrows[x.direction]}, y {arrows[y.direction]}", x.title, y.title, s.xr, s.yr)
    front = sorted((p for p in pts if flags[p[0]]), key=lambda p: p[1])
    if len(front) > 1:
        path = " ".join(f"{s.x(px):.1f},{s.y(py):.1f}" for _, px, py in front)
        parts.append(f'<polyline class="frontline" points="{path}" fill="none" stroke="#2a6" stroke-width="1.5"/>')
    for i, px, py in pts:
        cls = "front" if flags[i] else "dominated"
        fill = "#2a6" if flags[i] else "none"
        parts.append(f'<circle class="{cls}" cx="{s.x(px):.1f}" cy="{s.y(py):.1f}" r="4" fill="{fill}" '
                     f'stroke="#2a6"><title>{html.escape(labels[i])}</title></circle>')
        parts.append(f'<text class="tick" x="{s.x(px) + 6:.1f}" y="{s.y(py) - 6:.1f}">'
                     f"{html.escape(labels[i][:28])}</text>")
        if i == chosen:
            parts.append(f'<circle class="chosen" cx="{s.x(px):.1f}" cy="{s.y(py):.1f}" r="8" fill="none" '
                         f'stroke="#c33" stroke-width="2"/>')
    return _svg(parts)
