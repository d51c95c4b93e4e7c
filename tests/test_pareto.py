"""edgekit.pareto: the front, the recommendation under constraints, the plot (shared by select and sweep)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from edgekit.pareto import Constraint, Objective, dominates, pareto_flags, pareto_svg, recommend

ACC, FLASH, LAT = Objective("acc", "max", "accuracy"), Objective("flash", "min"), Objective("ms", "min", "latency")
ROWS = [
    {"name": "big", "acc": 0.97, "flash": 90_000, "ms": 12.0},
    {"name": "small", "acc": 0.91, "flash": 20_000, "ms": 3.0},
    {"name": "worse", "acc": 0.90, "flash": 25_000, "ms": 4.0},   # dominated by small
    {"name": "mid", "acc": 0.95, "flash": 40_000, "ms": 2.5},
    {"name": "failed", "acc": None, "flash": 10_000, "ms": 1.0},  # not measured: never on the front
]


def test_front_excludes_dominated_and_unmeasured_rows() -> None:
    assert pareto_flags(ROWS, [ACC, FLASH, LAT]) == [True, True, False, True, False]
    # with one objective only the best is on the front; equal rows are both on it
    assert pareto_flags([{"a": 1}, {"a": 1}, {"a": 2}], [Objective("a", "min")]) == [True, True, False]
    assert pareto_flags([{"a": math.nan}], [Objective("a")]) == [False]


def test_dominates_needs_one_strict_improvement() -> None:
    assert dominates([1.0, 2.0], [1.0, 3.0], [Objective("a"), Objective("b")])
    assert not dominates([1.0, 3.0], [1.0, 3.0], [Objective("a"), Objective("b")])
    assert not dominates([0.5, 4.0], [1.0, 3.0], [Objective("a"), Objective("b")])


def test_recommend_under_constraints_says_why_others_lost() -> None:
    rec = recommend(ROWS, [ACC, FLASH, LAT], [Constraint("flash", max=50_000), Constraint("ms", max=5)])
    assert ROWS[rec.index]["name"] == "mid"
    assert "flash 90000 > 50000" in rec.rejected[0]
    assert "dominated" in rec.rejected[2]
    assert "not measured: acc" in rec.rejected[4]
    assert "accuracy is not the best" in rec.rejected[1]
    # prefer flash instead: the smallest measured candidate on the front wins
    assert ROWS[recommend(ROWS, [ACC, FLASH, LAT], prefer="flash").index]["name"] == "small"
    none = recommend(ROWS, [ACC, FLASH], [Constraint("acc", min=0.99)])
    assert none.index is None and "acc 0.97 < 0.99" in none.rejected[0]
    with pytest.raises(ValueError, match="not one of the objectives"):
        recommend(ROWS, [ACC], prefer="energy")
    with pytest.raises(ValueError, match="direction"):
        Objective("a", "up")  # type: ignore[arg-type]


def test_svg_marks_front_and_choice() -> None:
    flags = pareto_flags(ROWS, [ACC, FLASH])
    svg = pareto_svg(ROWS, FLASH, ACC, flags, [r["name"] for r in ROWS], chosen=3)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    classes = [c.get("class") for c in root.iter(f"{ns}circle")]
    assert classes.count("front") == sum(f for r, f in zip(ROWS, flags, strict=True) if r["acc"] is not None)
    assert classes.count("dominated") == 1 and classes.count("chosen") == 1
    assert root.find(f"{ns}polyline") is not None
    assert "no candidate" in pareto_svg([{"acc": None}], FLASH, ACC, [False], ["x"])
