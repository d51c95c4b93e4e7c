"""``edgekit optimize``'s report as a page: Markdown (``--markdown``) or self-contained XHTML (``--html``).

Both hold the same tables as the terminal: one row per model state (sizes, accuracy, on-board figures), then
float32 (original) vs int8 (original and after each step) on the board with the ratios
(:mod:`edgekit.optimize.payoff_view`), then fine-tuning lines, notes and errors.
"""

from __future__ import annotations

import html
from typing import Any

from edgekit.optimize.payoff_view import RATIO_NOTE, matrix, missing_reason, notes
from edgekit.optimize.report import OptimizationReport, report_lines, steps_table


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [row(header), "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
            *(row(r) for r in body)]


def render_markdown(report: OptimizationReport, *, validation: str = "", output: str = "") -> str:
    """The report as GitHub-flavoured Markdown."""
    out = ["# edgekit optimize report", ""]
    if output:
        out += [f"Optimized model: `{output}`" + (f"; accuracy on {validation}" if validation else ""), ""]
    out += ["## Model states", "", *_md_table(*steps_table(report)), ""]
    header, body = matrix(report.payoffs)
    if body:
        out += [f"## float32 vs int8 on {report.payoffs[0]['board']}", "", *_md_table(header, body), "",
                f"_{RATIO_NOTE}._", ""]
        out += [f"- {n}" for n in notes(report.payoffs)] + [""]
    reason = missing_reason(report)
    if reason:
        out += [f"_{reason}_", ""]
    lines, step_notes, errors = report_lines(report)
    if lines or step_notes or errors:
        out += ["## Steps", "", *(f"- {x}" for x in (*lines, *step_notes, *errors)), ""]
    return "\n".join(out)


def _html_table(header: list[str], body: list[list[str]]) -> str:
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" if i == 0 else f'<td class="n">{e(c)}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in body)
    return f"<table>{head}{rows}</table>"


def render_html(report: OptimizationReport, *, validation: str = "", output: str = "") -> str:
    """The report as one well-formed XHTML page (no script, nothing fetched)."""
    from edgekit.html_report import _CSS

    e = html.escape
    body = ["<h1>edgekit optimize report</h1>"]
    if output:
        body.append(f"<p>Optimized model: <code>{e(output)}</code>"
                    + (f"; accuracy on {e(validation)}" if validation else "") + "</p>")
    body += ["<h2>Model states</h2>", _html_table(*steps_table(report))]
    header, rows = matrix(report.payoffs)
    if rows:
        body += [f"<h2>float32 vs int8 on {e(report.payoffs[0]['board'])}</h2>", _html_table(header, rows),
                 f'<p class="note">{e(RATIO_NOTE)}.</p>',
                 *(f'<p class="note">{e(n)}</p>' for n in notes(report.payoffs))]
    reason = missing_reason(report)
    if reason:
        body.append(f'<p class="note">{e(reason)}</p>')
    lines, step_notes, errors = report_lines(report)
    if lines or step_notes or errors:
        body += ["<h2>Steps</h2>", "<ul>", *(f"<li>{e(x)}</li>" for x in (*lines, *step_notes, *errors)), "</ul>"]
    return ('<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>'
            f"<title>edgekit optimize report</title><style>{_CSS}</style></head><body>" + "".join(body)
            + "</body></html>\n")


def write_page(path: Any, report: OptimizationReport, **kw: Any) -> None:
    """Write the HTML (``.html``/``.htm``/``.xhtml``) or Markdown (anything else) page atomically."""
    from pathlib import Path

    from edgekit.fsutil import write_atomic

    p = Path(path)
    text = render_html(report, **kw) if p.suffix.lower() in (".html", ".htm", ".xhtml") else \
        render_markdown(report, **kw)
    write_atomic(p, text.encode("utf-8"))
