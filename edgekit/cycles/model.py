"""Estimated cycles from an executed instruction mix and a per-core timing table (``cores/<core>.yaml``).

cycles = sum over classes (count x cycles[class] + registers/beats x per_weight[class])
       + taken branches x branch_taken_extra (minus those of ``taken_free_classes``, e.g. the M55's LE)
       - mve_overlap x min(vector memory instructions, vector data-processing instructions)
       + data loads from flash x flash_wait_states x flash_load_fraction
       + unclassified instructions x 1.

An estimate from a model, not a measurement: the tables say what they rest on and what they assume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from edgekit.cycles.classify import CLASSES
from edgekit.cycles.plugin import Mix
from edgekit.errors import BoardError

CORES_DIR = Path(__file__).with_name("cores")
_KEYS = {"schema", "core", "cores", "source", "assumptions", "cycles", "per_weight", "branch_taken_extra",
         "taken_free_classes", "mve_overlap", "flash_load_fraction", "ranges"}


@dataclass(frozen=True)
class CoreTiming:
    """One core's timing table (see ``cores/cortex-m4.yaml`` for the meaning of each key)."""

    core: str
    cores: tuple[str, ...]
    source: str
    assumptions: tuple[str, ...]
    cycles: dict[str, float]
    per_weight: dict[str, float] = field(default_factory=dict)
    branch_taken_extra: float = 0.0
    taken_free_classes: tuple[str, ...] = ()
    mve_overlap: float = 0.0
    flash_load_fraction: float = 0.0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    path: Path | None = None


def _load(path: Path) -> CoreTiming:
    import yaml

    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise BoardError(f"{path}: not a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise BoardError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(_KEYS)})")
    bad_ranges = set(data.get("ranges") or {}) - set(CLASSES) - {"branch_taken_extra"}
    if bad_ranges:
        raise BoardError(f"{path}: ranges: unknown keys {sorted(bad_ranges)}",
                         hint="an instruction class or branch_taken_extra")
    for section in ("cycles", "per_weight"):
        bad = set(data.get(section) or {}) - set(CLASSES)
        if bad:
            raise BoardError(f"{path}: {section}: unknown instruction classes {sorted(bad)}",
                             hint=f"classes: {', '.join(CLASSES)}")
    return CoreTiming(core=data["core"], cores=tuple(data.get("cores") or [data["core"]]), source=data["source"],
                      assumptions=tuple(data.get("assumptions") or ()),
                      cycles={k: float(v) for k, v in data["cycles"].items()},
                      per_weight={k: float(v) for k, v in (data.get("per_weight") or {}).items()},
                      branch_taken_extra=float(data.get("branch_taken_extra", 0)),
                      taken_free_classes=tuple(data.get("taken_free_classes") or ()),
                      mve_overlap=float(data.get("mve_overlap", 0)),
                      flash_load_fraction=float(data.get("flash_load_fraction", 0)),
                      ranges={k: (float(v[0]), float(v[1])) for k, v in (data.get("ranges") or {}).items()},
                      path=path)


@cache
def timing_tables() -> dict[str, CoreTiming]:
    """Every shipped timing table, by each core name it covers."""
    out: dict[str, CoreTiming] = {}
    for f in sorted(CORES_DIR.glob("*.yaml")):
        t = _load(f)
        for name in t.cores:
            out[name] = t
    return out


def timing_for(core: str) -> CoreTiming | None:
    """The timing table for a board's ``core`` (``cortex-m4f`` -> the Cortex-M4 table), or None."""
    return timing_tables().get(core)


@dataclass(frozen=True)
class Estimate:
    """Estimated cycles of one instruction mix, with the per-class split and the model used."""

    cycles: float
    instructions: int
    by_class: dict[str, float]
    timing: CoreTiming
    flash_wait_states: int

    def to_dict(self, macs: int | None = None, clock_hz: int | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"estimated_cycles": round(self.cycles), "instructions": self.instructions,
                             "cycles_per_instruction": self.cycles / self.instructions if self.instructions else None,
                             "cycles_by_class": {k: round(v) for k, v in sorted(self.by_class.items(),
                                                                               key=lambda kv: -kv[1]) if v},
                             "core_table": self.timing.core, "flash_wait_states": self.flash_wait_states}
        if macs:
            d["macs"] = macs
            d["cycles_per_mac"] = self.cycles / macs
        if clock_hz:
            d["clock_hz"] = clock_hz
            d["latency_us"] = self.cycles / clock_hz * 1e6
        return d


def estimate(mix: Mix, timing: CoreTiming, *, flash_wait_states: int = 0) -> Estimate:
    """Estimated cycles of ``mix`` on the core of ``timing`` (see the module docstring for the formula)."""
    by: dict[str, float] = {}
    for cls, n in mix.counts.items():
        by[cls] = n * timing.cycles.get(cls, 1.0) + mix.weights.get(cls, 0) * timing.per_weight.get(cls, 0.0)
    for cls, w in mix.weights.items():  # weight without count cannot happen, but keep the sum honest
        if cls not in mix.counts:
            by[cls] = w * timing.per_weight.get(cls, 0.0)
    free = sum(mix.counts.get(c, 0) for c in timing.taken_free_classes)
    taken = max(0, mix.branches_taken - free)
    by["branch_taken_refill"] = taken * timing.branch_taken_extra
    if timing.mve_overlap:
        mem = mix.counts.get("mve_load", 0) + mix.counts.get("mve_store", 0)
        dp = mix.counts.get("mve_mac", 0) + mix.counts.get("mve_alu", 0)
        by["mve_overlap"] = -timing.mve_overlap * min(mem, dp)
    by["flash_wait"] = mix.flash_loads * flash_wait_states * timing.flash_load_fraction
    by["unclassified"] = float(mix.unknown)
    return Estimate(sum(by.values()), mix.total, by, timing, flash_wait_states)


def board_flash_wait_states(board: Any) -> int:
    """The flash wait states the board's firmware sets (``firmware.clock.flash_wait_states``), else 0."""
    clk = getattr(getattr(board, "firmware", None), "clock", None)
    return int(getattr(clk, "flash_wait_states", 0) or 0)


def estimate_range(mix: Mix, timing: CoreTiming, *, flash_wait_states: int = 0) -> tuple[float, float]:
    """The estimate with every figure the table gives as a range (``ranges``) at its low end, and at its high end."""
    import dataclasses

    ends = []
    for end in (0, 1):
        cycles = dict(timing.cycles)
        taken = timing.branch_taken_extra
        for key, span in timing.ranges.items():
            if key == "branch_taken_extra":
                taken = span[end]
            else:
                cycles[key] = span[end]
        variant = dataclasses.replace(timing, cycles=cycles, branch_taken_extra=taken)
        ends.append(estimate(mix, variant, flash_wait_states=flash_wait_states).cycles)
    return ends[0], ends[1]
