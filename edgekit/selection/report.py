"""The selection as a terminal table (rich) and as one self-contained HTML page with the Pareto plots.

The page follows :mod:`edgekit.html_report`: well-formed XHTML, inline SVG from :func:`edgekit.pareto.pareto_svg`
(front points ``<circle class="front">``, the chosen one ringed ``class="chosen"``), one ``<style>``, nothing
fetched.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from edgekit.selection.evaluate import Measured
from edgekit.selection.result import OBJECTIVES, SelectionResult

# (heading, attribute, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "accuracy", "pct"), ("flash B", "flash_bytes", "int"), ("RAM B", "ram_bytes", "int"),
    ("arena B", "arena_bytes", "int"), ("stack used B", "stack_used_bytes", "int"),
    ("instructions", "instructions", "int"), ("est. cycles", "estimated_cycles", "int"),
    ("latency ms", "latency_ms", "ms"), ("µJ / inf", "energy_uj", "uj"), ("battery days", "battery_days", "days"),
)


def fmt(kind: str, v: Any) -> str:
    """A cell: ``-`` for a figure not measured."""
    if v is None:
        return "-"
    if kind == "pct":
        return f"{100 * v:.1f} %"
    if kind == "int":
        return f"{round(v):,}"
    if kind == "ms":
        return f"{v:.3f}"
    if kind == "uj":
        return f"{v:.2f}"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _flag(m: Measured) -> str:
    return "chosen" if m.chosen else ("front" if m.pareto else ("failed" if m.status != "ok" else ""))


def _limits_text(r: SelectionResult) -> str:
    set_ = {k: v for k, v in r.limits.items() if v is not None}
    return ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in set_.items()) or "none"


def render(r: SelectionResult, console: Any) -> None:
    """Print the ranked table, the recommendation and why the others were not chosen."""
    from rich.table import Table

    table = Table(title=f"candidates on {r.board} (validation: {r.validation})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("candidate")
    table.add_column("", style="bold")
    for head, _, _ in COLUMNS:
        table.add_column(head, justify="right")
    for m in r.ranked():
        style = "green" if m.chosen else ("dim" if m.status != "ok" else None)
        table.add_row(str(m.rank or ""), m.name, _flag(m), *(fmt(kind, getattr(m, attr)) for _, attr, kind in COLUMNS),
                      style=style)
    console.print(table)
    console.print(f"constraints: {_limits_text(r)}; prefer {r.prefer}; front over accuracy x latency x flash")
    rec = r.recommended
    if rec is not None:
        console.print(f"[bold green]recommended: {rec.name}[/bold green] ({r.reason})")
    else:
        console.print(f"[bold red]no recommendation: {r.reason}[/bold red]")
    for m in r.ranked():
        if not m.chosen and m.why_not:
            console.print(f"  {m.name}: {m.why_not}")
    from edgekit.payoff import payoff_summary

    for p in r.payoffs():
        console.print(f"quantization payoff, {p['a']} vs {p['b']}: {payoff_summary(p)}")
    basis = {m.accuracy_on for m in r.candidates if m.accuracy_on}
    lat = {m.latency_basis for m in r.candidates if m.latency_basis}
    for line in [*(f"accuracy on: {b}" for b in sorted(basis)), *(f"latency: {b}" for b in sorted(lat)), *r.notes]:
        console.print(f"[dim]{line}[/dim]")


# ---------------------------------------------------------------- HTML

_CSS = ("body{font-family:sans-serif;margin:1.5em;max-width:72em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}"
        "td.n{text-align:right}tr.chosen td{background:#e6f5ea;font-weight:bold}tr.failed td{color:#888}"
        ".note{color:#555;font-size:90%}svg{display:block;margin:0.5em 0}.axis{stroke:#333}"
        ".title{font-size:13px;font-weight:bold}.label,.tick{font-size:11px}")


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def render_html(r: SelectionResult) -> str:
    """The report page (XHTML) as a string."""
    from edgekit.pareto import pareto_svg

    rows = [{"accuracy": m.accuracy, "latency_ms": m.latency_ms, "flash_bytes": m.flash_bytes}
            if m.status == "ok" else {} for m in r.candidates]
    flags = [m.pareto for m in r.candidates]
    labels = [m.name for m in r.candidates]
    acc, lat, flash = OBJECTIVES
    rec = r.recommended
    body = [f"<h1>Model selection on {_e(r.board)}</h1>",
            "<h2>Recommendation</h2>",
            f"<p><b>{_e(rec.name)}</b>: {_e(r.reason)}</p>" if rec is not None else
            f"<p><b>No recommendation</b>: {_e(r.reason)}</p>",
            f'<p class="note">constraints: {_e(_limits_text(r))}; prefer {_e(r.prefer)}; validation: '
            f"{_e(r.validation)}</p>",
            "<h2>Pareto front: accuracy x latency x flash</h2>",
            pareto_svg(rows, lat, acc, flags, labels, "accuracy against latency", r.chosen),
            pareto_svg(rows, flash, acc, flags, labels, "accuracy against flash", r.chosen),
            '<p class="note">Filled: on the front over all three objectives (a point may look dominated in one '
            "plane and still be on the front through the third); ringed: recommended.</p>",
            "<h2>Candidates</h2>", _table(r)]
    body += _payoff_section(r)
    body += ["<h2>Why not the others</h2>", "<ul>"]
    body += [f"<li><b>{_e(m.name)}</b>: {_e(m.why_not)}</li>" for m in r.ranked() if not m.chosen and m.why_not]
    body.append("</ul>")
    basis = sorted({f"accuracy on: {m.accuracy_on}" for m in r.candidates if m.accuracy_on}
                   | {f"latency: {m.latency_basis}" for m in r.candidates if m.latency_basis}
                   | {f"energy: {m.energy_basis}" for m in r.candidates if m.energy_basis})
    body += ["<h2>How it was measured</h2>", "<ul>", *(f"<li>{_e(b)}</li>" for b in basis),
             f"<li>battery {_e(r.settings.get('battery'))} at {_e(r.settings.get('rate'))}</li>",
             *(f"<li>{_e(n)}</li>" for n in r.notes), "</ul>"]
    return ('<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>'
            f"<title>edgekit select: {_e(r.board)}</title><style>{_CSS}</style></head><body>" + "".join(body)
            + "</body></html>\n")


def _payoff_section(r: SelectionResult) -> list[str]:
    """"Quantization payoff": each float32 variant against its int8 candidate (nothing when there is no pair)."""
    from edgekit.payoff import payoff_html, payoff_summary

    pairs = r.payoffs()
    if not pairs:
        return []
    out = ["<h2>Quantization payoff: float32 vs int8</h2>"]
    for p in pairs:
        out += [f"<p><b>{_e(p['a'])}</b> vs <b>{_e(p['b'])}</b>: {_e(payoff_summary(p))}</p>", payoff_html(p)]
    out.append('<p class="note">Both on the same board with edgekit\'s runtime chosen as for every candidate; '
               "ratio = float32 / int8 (above 1: int8 is smaller or faster by that factor).</p>")
    return out


def _table(r: SelectionResult) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in ("#", "candidate", "", *(c[0] for c in COLUMNS), "runtime"))
    out = [f"<table><tr>{head}</tr>"]
    for m in r.ranked():
        cls = "chosen" if m.chosen else ("failed" if m.status != "ok" else "")
        cells = "".join(f'<td class="n">{_e(fmt(kind, getattr(m, attr)))}</td>' for _, attr, kind in COLUMNS)
        out.append(f'<tr class="{cls}"><td class="n">{m.rank or ""}</td><td>{_e(m.name)}</td><td>{_flag(m)}</td>'
                   f"{cells}<td>{_e(m.runtime or '-')}</td></tr>")
    out.append("</table>")
    return "".join(out)


def write_html(r: SelectionResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_html` to ``path`` atomically (nothing half-written on failure)."""
    from edgekit.fsutil import write_atomic

    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(dest, render_html(r).encode("utf-8"))
