"""Plots of bench results as one self-contained HTML file with inline SVG (no plotting library).

For each result: (a) the current trace, from ``energy.trace`` when energy was measured (min..max band, mean line,
the inference windows shaded), else a synthetic duty-cycle diagram built from the power model, titled "modelled";
(b) the latency histogram of the timed laps (``timing.ticks``). The file is well-formed XML (XHTML): inference
windows are ``<rect class="window">``, histogram bars ``<rect class="bin" data-count="N">``.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

W, H, ML, MR, MT, MB = 760, 250, 64, 16, 40, 40  # SVG size and margins (left, right, top, bottom)
MAX_BINS = 20


def latencies_us(d: dict[str, Any]) -> list[float]:
    """Latency of each timed inference in µs from ``timing.ticks`` (cycles/instructions at ``core_hz``, or a
    wall-clock timer at ``timer.hz``)."""
    t = d.get("timing") or {}
    ticks = t.get("ticks") or []
    per_tick, core = t.get("per_tick"), t.get("core_hz")
    if per_tick and core:
        return [k * per_tick / core * 1e6 for k in ticks]
    hz = (t.get("timer") or {}).get("hz") or 0
    return [k / hz * 1e6 for k in ticks] if hz else []


def histogram(values: list[float], max_bins: int = MAX_BINS) -> tuple[list[float], list[int]]:
    """(bin edges, counts); one bin around the value when all values are equal."""
    if not values:
        return [], []
    arr = np.asarray(values, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    if hi == lo:
        pad = abs(lo) * 0.01 or 0.5
        return [lo - pad, hi + pad], [len(values)]
    bins = int(min(max_bins, max(1, len(np.unique(arr)))))
    counts, edges = np.histogram(arr, bins=bins, range=(lo, hi))
    return [float(x) for x in edges], [int(c) for c in counts]


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _f(x: float) -> str:
    return f"{x:.2f}"


def tick_label(v: float) -> str:
    """A tick value that fits the margin: at most ~7 characters, thousands as k/M, never an exponent cut off.

    >>> [tick_label(v) for v in (0, 0.125, 12.5, 2163.4, 216345.0, 2.5e7)]
    ['0', '0.125', '12.5', '2,163', '216.3k', '25M']
    """
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.4g}M"
    if a >= 1e5:
        return f"{v / 1e3:.4g}k"
    if a >= 1e3:
        return f"{v:,.0f}"
    return f"{v:.4g}" if a >= 1e-3 or a == 0 else f"{v:.1e}"


def _axes(title: str, xlabel: str, ylabel: str, xr: tuple[float, float], yr: tuple[float, float]) -> list[str]:
    pw, ph = W - ML - MR, H - MT - MB
    head, _, detail = title.partition(": ")
    out = [f'<text class="title" x="{ML}" y="15">{_e(head)}</text>',
           f'<text class="label" x="{ML}" y="30">{_e(detail)}</text>',
           f'<line class="axis" x1="{ML}" y1="{MT + ph}" x2="{ML + pw}" y2="{MT + ph}"/>',
           f'<line class="axis" x1="{ML}" y1="{MT}" x2="{ML}" y2="{MT + ph}"/>',
           f'<text class="label" x="{ML + pw / 2:.0f}" y="{H - 6}" text-anchor="middle">{_e(xlabel)}</text>',
           f'<text class="label" x="12" y="{MT + ph / 2:.0f}" transform="rotate(-90 12 {MT + ph / 2:.0f})" '
           f'text-anchor="middle">{_e(ylabel)}</text>']
    for k in range(5):
        fx, fy = k / 4, k / 4
        xv, yv = xr[0] + fx * (xr[1] - xr[0]), yr[0] + fy * (yr[1] - yr[0])
        out.append(f'<text class="tick" x="{ML + fx * pw:.1f}" y="{MT + ph + 14}" text-anchor="middle">'
                   f"{tick_label(xv)}</text>")
        out.append(f'<text class="tick" x="{ML - 4}" y="{MT + ph - fy * ph + 4:.1f}" text-anchor="end">'
                   f"{tick_label(yv)}</text>")
    return out


class _Scale:
    def __init__(self, xr: tuple[float, float], yr: tuple[float, float]) -> None:
        self.xr, self.yr = xr, (yr[0], yr[1] if yr[1] > yr[0] else yr[0] + 1.0)

    def x(self, v: float) -> float:
        return ML + (v - self.xr[0]) / ((self.xr[1] - self.xr[0]) or 1.0) * (W - ML - MR)

    def y(self, v: float) -> float:
        return MT + (H - MT - MB) - (v - self.yr[0]) / (self.yr[1] - self.yr[0]) * (H - MT - MB)


def _svg(parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">'
            + "".join(parts) + "</svg>")


def measured_trace_svg(trace: dict[str, Any], monitor: str) -> str:
    """The captured current (min..max band and mean per bucket) with the inference windows shaded."""
    mins, means, maxs = trace.get("min_ma") or [], trace.get("mean_ma") or [], trace.get("max_ma") or []
    dur, step = float(trace.get("duration_s") or 0.0), float(trace.get("bucket_s") or 0.0)
    ms = 1e3
    sc = _Scale((0.0, dur * ms), (0.0, max(maxs, default=1.0) * 1.1))
    parts = _axes(f"current trace, measured ({monitor}): {len(trace.get('windows_s') or [])} inference windows "
                  "shaded", "time (ms)", "current (mA)", sc.xr, sc.yr)
    for a, b in trace.get("windows_s") or []:
        parts.append(f'<rect class="window" x="{_f(sc.x(a * ms))}" y="{MT}" '
                     f'width="{_f(max(sc.x(b * ms) - sc.x(a * ms), 0.5))}" height="{H - MT - MB}">'
                     f"<title>inference {a * ms:.4g} to {b * ms:.4g} ms</title></rect>")
    xs = [(k + 0.5) * step * ms for k in range(len(means))]
    band = [f"{_f(sc.x(x))},{_f(sc.y(v))}" for x, v in zip(xs, maxs, strict=False)] + \
           [f"{_f(sc.x(x))},{_f(sc.y(v))}" for x, v in reversed(list(zip(xs, mins, strict=False)))]
    if band:
        parts.append(f'<polygon class="band" points="{" ".join(band)}"/>')
        parts.append('<polyline class="mean" points="' +
                     " ".join(f"{_f(sc.x(x))},{_f(sc.y(v))}" for x, v in zip(xs, means, strict=False)) + '"/>')
    return _svg(parts)


def modelled_trace_svg(d: dict[str, Any], cost: dict[str, Any] | None) -> str:
    """A synthetic current diagram from the power model: three duty-cycle periods when a rate is known (pulse
    widths not to scale when the duty cycle is small), else the timed laps back to back."""
    e = d.get("energy") or {}
    supply = float(e.get("supply_v") or (cost or {}).get("supply_v") or 0.0)
    uj = e.get("per_inference_uj")
    lats = latencies_us(d) or [float(e.get("latency_us") or 0.0)]
    t_inf = (cost or {}).get("active_s_per_inference") or float(np.median(lats)) / 1e6
    active = float(e.get("active_ma") or (uj / supply / (t_inf * 1e6) * 1e3 if uj and supply and t_inf else 0.0))
    parts: list[str]
    if cost:
        period = 3600.0 / float(cost["rate_per_h"])
        sleep = float(cost["sleep_ma"])
        shown = max(t_inf, period * 0.04)  # a pulse at least 4 % of the period wide, or it is invisible
        sc = _Scale((0.0, 3 * period), (0.0, max(active, sleep) * 1.15))
        note = "" if shown == t_inf else f"; pulses widened: {t_inf * 1e3:.4g} ms of a {period:.4g} s period"
        parts = _axes(f"current, modelled duty cycle (no measurement): {active:.4g} mA for {t_inf * 1e3:.4g} ms, "
                      f"{sleep:.4g} mA between{note}", "time (s)", "current (mA)", sc.xr, sc.yr)
        spans = [(k * period, k * period + shown) for k in range(3)]
        pts = [(0.0, sleep)]
        for a, b in spans:
            pts += [(a, sleep), (a, active), (b, active), (b, sleep)]
        pts.append((3 * period, sleep))
    else:
        gap = 0.25 * float(np.median(lats))
        spans, t = [], 0.0
        for lat in lats:
            spans.append((t + gap, t + gap + lat))
            t += gap + lat
        sc = _Scale((0.0, (t + gap) / 1e3), (0.0, max(active, 1e-9) * 1.15))
        parts = _axes(f"current, modelled (no measurement): {len(lats)} timed inferences at {active:.4g} mA "
                      "(board power model), gaps not to scale", "time (ms)", "current (mA)", sc.xr, sc.yr)
        spans = [(a / 1e3, b / 1e3) for a, b in spans]
        pts = [(0.0, 0.0)]
        for a, b in spans:
            pts += [(a, 0.0), (a, active), (b, active), (b, 0.0)]
        pts.append((sc.xr[1], 0.0))
    for a, b in spans:
        parts.append(f'<rect class="window" x="{_f(sc.x(a))}" y="{MT}" width="{_f(max(sc.x(b) - sc.x(a), 0.5))}" '
                     f'height="{H - MT - MB}"/>')
    parts.append('<polyline class="mean" points="' + " ".join(f"{_f(sc.x(x))},{_f(sc.y(v))}" for x, v in pts)
                 + '"/>')
    return _svg(parts)


def histogram_svg(d: dict[str, Any]) -> str:
    """Latency histogram of the timed laps; each bar carries ``data-count``."""
    lats = latencies_us(d)
    edges, counts = histogram(lats)
    if not counts:
        return _svg(_axes("latency histogram: no timed laps in this result", "latency (µs)", "inferences",
                          (0, 1), (0, 1)))
    if len(counts) == 1:  # deterministic timings (QEMU -icount): a histogram of one bar says nothing
        ms = lats[0] / 1e3
        why = " (QEMU counts instructions: deterministic)" if (d.get("transport") or {}).get("kind") == "qemu" else ""
        return _svg([f'<text class="title" x="{ML}" y="24">latency: all {len(lats)} timed inferences took '
                     f"{ms:,.4f} ms{_e(why)}</text>",
                     f'<rect class="bin" data-count="{len(lats)}" data-lo="{lats[0]:.6g}" data-hi="{lats[0]:.6g}" '
                     f'x="{ML}" y="40" width="{W - ML - MR}" height="24"><title>{len(lats)} x {ms:,.4f} ms</title>'
                     "</rect>"]).replace(f'height="{H}"', 'height="80"').replace(f"0 0 {W} {H}", f"0 0 {W} 80")
    sc = _Scale((edges[0], edges[-1]), (0.0, max(counts) * 1.15))
    bins = f"{len(counts)} bin" + ("s" if len(counts) > 1 else "")
    parts = _axes(f"latency histogram: {len(lats)} timed inferences, {bins}", "latency (µs)", "inferences",
                  sc.xr, sc.yr)
    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        x0, x1 = sc.x(lo), sc.x(hi)
        parts.append(f'<rect class="bin" data-count="{c}" data-lo="{lo:.6g}" data-hi="{hi:.6g}" x="{_f(x0)}" '
                     f'y="{_f(sc.y(c))}" width="{_f(max(x1 - x0 - 1, 0.5))}" height="{_f(sc.y(0) - sc.y(c))}">'
                     f"<title>{lo:.6g} to {hi:.6g} µs: {c}</title></rect>")
    return _svg(parts)


_CSS = ("body{font-family:sans-serif;margin:1.5em}svg{display:block;margin:0.5em 0}"
        ".window{fill:#f5c542;fill-opacity:0.35}.band{fill:#4a7bd0;fill-opacity:0.3}"
        ".mean{fill:none;stroke:#1f3f80;stroke-width:1.2}.bin{fill:#4a7bd0}.axis{stroke:#333}"
        ".title{font-size:13px;font-weight:bold}.label,.tick{font-size:11px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}")


def render_html(results: list[dict[str, Any]], costs: list[dict[str, Any] | None] | None = None,
                names: list[str] | None = None) -> str:
    """One HTML page: per result, its current trace and latency histogram (and the cost figures when given)."""
    from edgekit.cost import describe

    costs = costs or [None] * len(results)
    body = []
    for k, (d, cost) in enumerate(zip(results, costs, strict=True)):
        label = names[k] if names else describe(d)
        e = d.get("energy") or {}
        body.append(f"<h2>{_e(label)}</h2>")
        if e.get("kind") == "measured" and e.get("trace") and (d.get("transport") or {}).get("kind") != "qemu":
            mon = (e.get("monitor") or {}).get("monitor", "monitor") if isinstance(e.get("monitor"), dict) else "?"
            body.append(measured_trace_svg(e["trace"], mon))
        else:
            body.append(modelled_trace_svg(d, cost))
        body.append(histogram_svg(d))
        if cost:
            rows = [("energy / inference", f"{cost['per_inference_uj']:.4g} µJ ({cost['energy_source']})"),
                    ("rate", f"{cost['rate_per_h']:.6g} / h (duty {cost['duty'] * 100:.4g} %)"),
                    ("sleep current", f"{cost['sleep_ma']:.4g} mA ({cost['sleep_source']})"),
                    ("average current", f"{cost['average_ma']:.4g} mA"),
                    ("battery life", f"{cost['life_days']:,.1f} days ({cost['battery']}, derate {cost['derate']:g})"),
                    ("energy / 1 M inferences", f"{cost['per_million_inferences_j']:.4g} J (with sleep "
                                                f"{cost['per_million_with_sleep_j']:.4g} J)")]
            body.append("<table>" + "".join(f"<tr><th>{_e(a)}</th><td>{_e(b)}</td></tr>" for a, b in rows)
                        + "</table>")
    return ('<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>'
            f"<title>edgekit bench plot</title><style>{_CSS}</style></head><body><h1>edgekit bench plot</h1>"
            + "".join(body) + "</body></html>\n")


def write_plot(path: str | os.PathLike[str], results: list[dict[str, Any]],
               costs: list[dict[str, Any] | None] | None = None, names: list[str] | None = None) -> Path:
    """Write :func:`render_html` to ``path`` (atomically); only ``.html``/``.htm`` (no PNG without a plotting
    library)."""
    from edgekit.errors import UsageError
    from edgekit.fsutil import write_atomic

    dest = Path(path)
    if dest.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--plot {path}: only HTML plots are written (inline SVG)", hint="e.g. --plot bench.html")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(dest, render_html(results, costs, names).encode("utf-8"))
