"""Energy per inference from a capture: integrate current x voltage over the windows the firmware marks.

The firmware raises a GPIO (the board profile's ``firmware.gpio_energy_pin``) around its timed inferences; the
monitor samples that line on a digital input. Two conventions:

* ``levels`` (edgekit): a window is a run of samples where the input is high.
* ``edges`` (MLPerf Tiny energy mode): the DUT pulses the line at each timestamp; consecutive pulses (falling edges
  by default) pair up as the start and the end of a timed region.

Each sample stands for its own sample period (rectangle rule): ``E = sum(I_k x V_k x dt_k)`` over the samples in a
window. When the number of windows equals the number of inferences each window is one inference; one window
around N inferences gives E / N; any other count is reported as total energy / inferences, with a note.
Idle current is the mean of the samples between windows (before the first and after the last are left out, as
the device is talking to the host then).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.power.base import Capture

MODES = ("levels", "edges")


@dataclass(frozen=True)
class Window:
    """One marked window: sample index range [start, stop) and what was drawn in it."""

    start: int
    stop: int
    duration_us: float
    energy_uj: float
    mean_ma: float
    peak_ma: float


@dataclass
class EnergyResult:
    """Measured energy per inference and the currents around it."""

    per_inference_uj: float | None
    inferences: int
    windows: list[Window]
    mean_ma: float | None        # mean current inside the windows
    peak_ma: float | None        # highest sample inside the windows
    idle_ma: float | None        # mean current between windows
    total_uj: float | None       # energy inside all windows
    window_us: float | None      # total time inside windows
    capture_mean_ma: float       # mean current over the whole capture
    samples: int
    sample_rate_hz: float
    supply_v: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["windows"] = len(self.windows)
        d["per_window_uj"] = [w.energy_uj for w in self.windows[:64]]
        return d


def _runs(high: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where ``high`` is True."""
    if high.size == 0:
        return []
    edges = np.diff(high.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def windows_from_levels(bits: np.ndarray, channel: int = 0) -> list[tuple[int, int]]:
    """Sample ranges where digital input ``channel`` is high."""
    return _runs((np.asarray(bits).astype(np.int64) >> channel) & 1 == 1)


def windows_from_edges(bits: np.ndarray, channel: int = 0, edge: str = "falling") -> list[tuple[int, int]]:
    """Sample ranges between consecutive pairs of edges on ``channel`` (MLPerf Tiny timestamp pulses)."""
    level = (np.asarray(bits).astype(np.int64) >> channel) & 1
    d = np.diff(level)
    idx = np.flatnonzero(d == (-1 if edge == "falling" else 1)) + 1
    return [(int(idx[i]), int(idx[i + 1])) for i in range(0, len(idx) - 1, 2)]


def _dt(t: np.ndarray, rate: float) -> np.ndarray:
    """Each sample's period: the gap to the next sample (the last one gets the nominal period)."""
    if t.size == 0:
        return t
    nominal = 1.0 / rate if rate > 0 else float(np.median(np.diff(t))) if t.size > 1 else 0.0
    return np.diff(t, append=t[-1] + nominal)


def integrate(cap: Capture, windows: list[tuple[int, int]]) -> list[Window]:
    """Energy, duration, mean and peak current of each window."""
    dt = _dt(np.asarray(cap.t_s, dtype=np.float64), cap.sample_rate_hz)
    i = np.asarray(cap.current_a, dtype=np.float64)
    v = np.broadcast_to(np.asarray(cap.voltage_v, dtype=np.float64), i.shape)
    out = []
    for a, b in windows:
        if b <= a:
            continue
        dur = float(dt[a:b].sum())
        e = float(np.sum(i[a:b] * v[a:b] * dt[a:b]))
        out.append(Window(a, b, dur * 1e6, e * 1e6, float(np.sum(i[a:b] * dt[a:b]) / dur * 1e3) if dur else 0.0,
                          float(i[a:b].max() * 1e3)))
    return out


def energy_per_inference(cap: Capture, *, inferences: int, channel: int = 0, mode: str = "levels",
                         edge: str = "falling") -> EnergyResult:
    """Integrate ``cap`` over the windows marked on digital input ``channel``; see the module docstring."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    i = np.asarray(cap.current_a, dtype=np.float64)
    notes = list(cap.notes)
    supply = float(np.mean(cap.voltage_v)) if np.size(cap.voltage_v) else None
    base = dict(inferences=inferences, capture_mean_ma=float(i.mean() * 1e3) if i.size else 0.0, samples=int(i.size),
                sample_rate_hz=cap.sample_rate_hz, supply_v=supply)
    if cap.bits is None:
        notes.append(f"the {cap.monitor or 'power'} monitor reports no digital inputs: windows cannot be found")
        return EnergyResult(None, windows=[], mean_ma=None, peak_ma=None, idle_ma=None, total_uj=None,
                            window_us=None, notes=notes, **base)  # type: ignore[arg-type]
    spans = (windows_from_levels(cap.bits, channel) if mode == "levels"
             else windows_from_edges(cap.bits, channel, edge))
    wins = integrate(cap, spans)
    if not wins:
        notes.append(f"digital input {channel} never marked a window: is the firmware's energy GPIO "
                     "(firmware.gpio_energy_pin) wired to it and enabled?")
        return EnergyResult(None, windows=[], mean_ma=None, peak_ma=None, idle_ma=None, total_uj=None,
                            window_us=None, notes=notes, **base)  # type: ignore[arg-type]
    total = sum(w.energy_uj for w in wins)
    dur = sum(w.duration_us for w in wins)
    if len(wins) not in (1, inferences):
        notes.append(f"{len(wins)} windows for {inferences} inferences: energy per inference = total / inferences")
    inside = np.zeros(i.size, dtype=bool)
    for w in wins:
        inside[w.start:w.stop] = True
    between = ~inside
    between[: wins[0].start] = False
    between[wins[-1].stop:] = False
    if not between.any():  # one window: use what surrounds it
        between = ~inside
    dt = _dt(np.asarray(cap.t_s, dtype=np.float64), cap.sample_rate_hz)
    idle = float(np.sum(i[between] * dt[between]) / dt[between].sum() * 1e3) if between.any() else None
    return EnergyResult(total / inferences, windows=wins, mean_ma=float(np.sum(i[inside] * dt[inside]) /
                                                                         dt[inside].sum() * 1e3),
                        peak_ma=max(w.peak_ma for w in wins), idle_ma=idle, total_uj=total, window_us=dur,
                        notes=notes, **base)  # type: ignore[arg-type]
