"""One self-contained HTML report of a whole run (conversion quality, memory map, latency, energy, the quantization
payoff float32 vs int8), from the JSON
dicts the API's results give (``to_dict()``), so it can also be made from saved files.

No plotting library and nothing fetched: inline SVG (the helpers of :mod:`edgekit.plot`) and one ``<style>``. The
page is well-formed XHTML. Sections appear for the parts given; each figure says where it comes from.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["render_run_report", "write_run_report"]

_W, _BAR_H = 760, 22
_CSS = ("body{font-family:sans-serif;margin:1.5em;max-width:60em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}"
        "td.n{text-align:right}.note{color:#555;font-size:90%}svg{display:block;margin:0.5em 0}"
        ".window{fill:#f5c542;fill-opacity:0.35}.band{fill:#4a7bd0;fill-opacity:0.3}"
        ".mean{fill:none;stroke:#1f3f80;stroke-width:1.2}.bin{fill:#4a7bd0}.axis{stroke:#333}"
        ".title{font-size:13px;font-weight:bold}.label,.tick{font-size:11px}"
        ".sqnr{fill:#4a7bd0}.sqnr.bad{fill:#d04a4a}.flash{fill:#4a7bd0}.ram{fill:#5fb35f}.free{fill:#eee}")


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _table(rows: list[tuple[str, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td class=\"n\">{_e(v)}</td></tr>" for k, v in rows) + \
        "</table>"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _sqnr_svg(layers: list[dict[str, Any]]) -> str:
    """Horizontal bars: SQNR (dB) per activation tensor, worst first; below 10 dB in red."""
    shown = layers[:25]
    finite = [x["sqnr_db"] for x in shown if x.get("sqnr_db") is not None]
    top = max([*finite, 40.0])
    h = 30 + _BAR_H * len(shown)
    parts = [f'<text class="title" x="0" y="15">per-layer SQNR (dB, higher is better; {len(shown)} of '
             f'{len(layers)} tensors, worst first)</text>']
    for k, x in enumerate(shown):
        db = x.get("sqnr_db")
        y = 24 + k * _BAR_H
        width = (_W - 330) * (min(db, top) / top if db is not None else 1.0)
        cls = "sqnr bad" if db is not None and db < 10 else "sqnr"
        label = "exact" if db is None else f"{db:.1f}"
        parts.append(f'<text class="label" x="0" y="{y + 14}">{_e(x["op"])} {_e(str(x["name"])[:34])}</text>')
        parts.append(f'<rect class="{cls}" x="270" y="{y + 3}" width="{max(width, 1):.1f}" height="{_BAR_H - 6}"/>')
        parts.append(f'<text class="label" x="{275 + max(width, 1):.1f}" y="{y + 14}">{label}</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{h}" viewBox="0 0 {_W} {h}">' + \
        "".join(parts) + "</svg>"


def _memory_svg(build: dict[str, Any]) -> str:
    """One bar per memory (flash, RAM): the image's sections against the board's budget."""
    parts, y = [], 0
    for kind, key, budget_key in (("flash", "flash", "flash_budget_bytes"), ("RAM", "ram", "ram_budget_bytes")):
        budget = int(build.get(budget_key) or 0)
        secs = [s for s in build.get("sections", []) if s.get(key)]
        used = sum(int(s["size"]) for s in secs)
        scale_to = max(budget, used, 1)
        parts.append(f'<text class="title" x="0" y="{y + 14}">{kind}: {used:,} B of {budget:,} B '
                     f'({_pct(used / budget if budget else None)})</text>')
        x, bar_y = 0.0, y + 20
        parts.append(f'<rect class="free" x="0" y="{bar_y}" width="{_W}" height="{_BAR_H}"/>')
        for s in sorted(secs, key=lambda s: -int(s["size"])):
            w = _W * int(s["size"]) / scale_to
            parts.append(f'<rect class="{key}" x="{x:.1f}" y="{bar_y}" width="{max(w, 0.5):.1f}" height="{_BAR_H}" '
                         f'stroke="#fff"><title>{_e(s["name"])}: {int(s["size"]):,} B</title></rect>')
            if w > 60:
                parts.append(f'<text class="label" x="{x + 3:.1f}" y="{bar_y + 15}" fill="#fff">{_e(s["name"])}'
                             "</text>")
            x += w
        y += 60
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{y}" viewBox="0 0 {_W} {y}">' + \
        "".join(parts) + "</svg>"


def render_run_report(*, title: str, summary: list[tuple[str, Any]] | None = None,
                      conversion: dict[str, Any] | None = None, inspect: dict[str, Any] | None = None,
                      build: dict[str, Any] | None = None, bench: dict[str, Any] | None = None,
                      validation: dict[str, Any] | None = None, payoff: dict[str, Any] | None = None) -> str:
    """The report page as a string (XHTML). Every argument is a ``to_dict()`` of the API's result (or None);
    ``payoff`` is :meth:`edgekit.payoff.Payoff.to_dict` (float32 vs int8 on the board, with the ratios)."""
    from edgekit.plot import histogram_svg, modelled_trace_svg

    body = [f"<h1>{_e(title)}</h1>"]
    if summary:
        body += ["<h2>Summary</h2>", _table(summary)]
    if conversion:
        c = conversion
        body += ["<h2>Conversion quality (float -&gt; int8)</h2>", _table([
            ("model", c.get("model")), ("size float / int8", f"{c['float_size']:,} B / {c['int8_size']:,} B"),
            ("calibration samples", c.get("num_calib")), ("validation samples", c.get("num_val")),
            ("float accuracy", _pct(c.get("float_accuracy"))), ("int8 accuracy", _pct(c.get("int8_accuracy"))),
            ("int8 top-1 agreement with float", _pct(c.get("top1_agreement")))])]
        if c.get("layers"):
            body.append(_sqnr_svg(c["layers"]))
        body += [f'<p class="note">{_e(w)}</p>' for w in c.get("warnings", [])]
    if inspect and inspect.get("runtimes"):
        rows = []
        for f in inspect["runtimes"]:
            flash = f.get("flash_bytes")
            rows.append((f"{f['runtime']}: arena / flash / latency",
                         f"{f['arena_bytes'] if f['arena_bytes'] is not None else '-'} B / "
                         + (f"{flash[0]:,}-{flash[1]:,} B" if flash else "-") + " / "
                         + (f"{f['latency_ms']:.2f} ms (estimate)" if f.get("latency_ms") else "-")))
        body += ["<h2>Before building: cost per runtime (edgekit inspect)</h2>", _table(rows)]
    if build:
        body += [f"<h2>Memory map: {_e(Path(str(build.get('elf', ''))).name)} on {_e(build.get('board'))}</h2>",
                 _memory_svg(build),
                 _table([("weights (flash)", f"{build.get('weights_bytes', 0):,} B"),
                         ("arena (RAM)", f"{build.get('arena_bytes', 0):,} B"),
                         ("stack (RAM)", f"{build.get('stack_bytes', 0):,} B")])]
    if validation:
        v = validation
        body += ["<h2>On-device outputs against the TFLM host interpreter</h2>", _table([
            ("byte-exact", f"{v['byte_exact']} / {v['inputs']}"), ("top-1 agreement", f"{v['top1_agree']} / "
                                                                                       f"{v['inputs']}"),
            ("max abs diff", v["max_abs_diff"])])]
    if bench:
        t, e = bench.get("timing") or {}, bench.get("energy") or {}
        lat = (t.get("latency_us") or {}).get("median")
        body += ["<h2>Latency</h2>", _table([
            ("timed inferences", bench.get("runs")), ("median latency", f"{lat / 1e3:.3f} ms" if lat else "-"),
            ("median count", f"{(t.get('count') or {}).get('median', 0):,.0f} {t.get('basis', '')}"),
            ("how", t.get("latency_basis") or t.get("rule", ""))]), histogram_svg(bench)]
        uj = e.get("per_inference_uj")
        body += ["<h2>Energy</h2>", _table([
            ("energy / inference", f"{uj:.2f} µJ ({e.get('kind', '')})" if uj is not None and math.isfinite(uj)
             else "-"), ("how", e.get("formula") or e.get("kind", "")), ("power figures from", e.get("source", ""))]),
                 modelled_trace_svg(bench, None) if e.get("kind") != "measured" else ""]
    if payoff:
        body += _payoff_section(payoff)
    return ('<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>\n")


def _payoff_section(payoff: dict[str, Any]) -> list[str]:
    """"Quantization payoff": the float32 model and its int8 conversion on the same board, figure by figure."""
    from edgekit.payoff import payoff_html, payoff_summary

    return [f"<h2>Quantization payoff: float32 vs int8 on {_e(payoff.get('board'))}</h2>",
            f"<p>{_e(payoff_summary(payoff))}</p>", payoff_html(payoff),
            '<p class="note">Both models generated for edgekit\'s runtime, built and benchmarked on the same board '
            "with the same input; ratio = float32 / int8 (above 1: int8 is smaller or faster by that factor).</p>",
            *(f'<p class="note">{_e(n)}</p>' for n in payoff.get("notes") or [])]


def write_run_report(path: str | os.PathLike[str], **parts: Any) -> Path:
    """Write :func:`render_run_report` to ``path`` (atomically)."""
    from edgekit.fsutil import write_atomic

    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(dest, render_run_report(**parts).encode("utf-8"))
