"""The quantization payoff in ``edgekit optimize``'s report: the original float32 model beside the int8 model of the
original and of every step, all measured on one board in one run.

The figures come from :func:`edgekit.optimize.report.measure` (the float32 model is measured for the original only,
on the same input values as the int8 ones: :func:`edgekit.payoff.matched_inputs`); each pair is compared with
:func:`edgekit.payoff.payoff_of`, so a row here is exactly a :meth:`edgekit.payoff.Payoff.to_dict` (ratio =
float32 / int8: above 1, the int8 model is that many times smaller or cheaper).
"""

from __future__ import annotations

from typing import Any

from edgekit.optimize.report import OptimizationReport, rows

# the figures shown side by side: the Payoff row keys (edgekit.compare.METRICS)
FIGURES = ("flash_bytes", "ram_bytes", "arena_used_bytes", "count", "estimated_cycles", "energy_uj")
RATIO_NOTE = ("ratio = float32 (original) / int8 of that column: above 1, the int8 model is that many times smaller "
              "or cheaper; accuracy of the float32 model from the Keras-converted float .tflite on the host, of "
              "each int8 model from its .tflite on the host (same validation data)")


def payoffs(report: OptimizationReport) -> list[dict[str, Any]]:
    """float32 (original) vs the int8 model of the original and of each step: one Payoff dict each (``a`` =
    ``"original"``, ``b`` and ``label`` = the state), from the bench results :func:`measure` kept. Empty when the
    float32 model was not measured on a board."""
    from edgekit.payoff import payoff_of

    states = rows(report)
    base = states[0][1]
    fb = base.float_board
    if fb is None or fb.result is None:
        return []
    out = []
    for label, m in states:
        if m.board is None or m.board.result is None:
            continue
        p = payoff_of(fb.board, fb.result, m.board.result, matched=fb.matched,
                      accuracy={"float32": base.float_accuracy, "int8": m.int8_accuracy},
                      names=("float32 (original)", f"int8 ({label})"))
        d = p.to_dict()
        d.update(a="original", b=label, label=label)
        out.append(d)
    return out


def missing_reason(report: OptimizationReport) -> str | None:
    """Why the report has no float32-vs-int8 figures (None when it has them), with how to get them."""
    if report.payoffs:
        return None
    base = rows(report)[0][1]
    if base.board is None:
        return ("float32 vs int8 on the board: not measured (no board given); run without --no-board "
                "(default board qemu-cortex-m4) or with --board BOARD to see flash, arena, instructions, cycles and "
                "energy of the float32 and int8 models side by side (or: edgekit convert --keep-float --board BOARD)")
    fb = base.float_board
    if fb is not None and fb.error:
        return f"float32 vs int8 on {fb.board}: the float32 model could not be measured: {fb.error}"
    if base.board.error:
        return f"float32 vs int8 on {base.board.board}: the int8 model could not be measured: {base.board.error}"
    return None


def matrix(pays: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the side-by-side table: figure | float32 (original) | int8 (each state, with its ratio)."""
    from edgekit.payoff import format_cell as _cell

    if not pays:
        return [], []
    header = ["figure", "float32 (original)", *(f"int8 ({p['label']})" for p in pays)]
    by_key = [{r["key"]: r for r in p["rows"]} for p in pays]
    out = []
    for key in FIGURES:
        first = by_key[0].get(key)
        if first is None or (first.get("a") is None and all(rk.get(key, {}).get("b") is None for rk in by_key)):
            continue
        unit = first.get("unit") or ""
        line = [first["label"], _cell(key, first.get("a"), unit)]
        for rk in by_key:
            r = rk.get(key) or {}
            ratio = r.get("ratio")
            line.append(_cell(key, r.get("b"), unit) + ("" if ratio is None else f" ({ratio:.2f}x)"))
        out.append(line)
    accs = [p.get("accuracy") or {} for p in pays]
    if any(a.get("float32") is not None or a.get("int8") is not None for a in accs):

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.2%}"

        out.append(["accuracy", pct(accs[0].get("float32")), *(pct(a.get("int8")) for a in accs)])
    return header, out


def notes(pays: list[dict[str, Any]]) -> list[str]:
    """The comparisons' notes, each once (e.g. how the inputs were matched)."""
    seen: list[str] = []
    for p in pays:
        for n in p.get("notes") or []:
            if n not in seen:
                seen.append(n)
    return seen


def render_payoff_table(report: OptimizationReport, console: Any) -> None:
    """The side-by-side table (rich), or the line saying why there is none and how to get it."""
    reason = missing_reason(report)
    if reason:
        console.print(reason, markup=False, style="dim")
        return
    if not report.payoffs:
        return
    from rich.table import Table

    header, body = matrix(report.payoffs)
    table = Table(title=f"float32 vs int8 on {report.payoffs[0]['board']} (edgekit runtime)", title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for line in body:
        table.add_row(*line)
    console.print(table)
    console.print(RATIO_NOTE, markup=False, style="dim")
    for n in notes(report.payoffs):
        console.print(f"note: {n}", markup=False, style="dim")
