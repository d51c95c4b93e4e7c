"""``edgekit compare A.json B.json``: how B differs from A (latency, instructions/cycles, flash, RAM, energy)."""

from __future__ import annotations

import click

from edgekit.cli import echo_json


def _fmt(x: float | None, digits: int, unit: str, sign: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:{'+' if sign else ''},.{digits}f}{unit}"


@click.command(name="compare")
@click.argument("a", type=click.Path(exists=True, dir_okay=False))
@click.argument("b", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def cmd(a: str, b: str, as_json: bool) -> None:
    """Compare two benchmark results saved with 'edgekit bench --save' (B relative to A)."""
    from edgekit.compare import compare

    result = compare(a, b)
    if as_json:
        echo_json(result.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"B = {b} relative to A = {a}")
    table.add_column("figure", style="bold")
    for col in ("A", "B", "delta", "delta %"):
        table.add_column(col, justify="right")
    for r in result.rows:
        unit = f" {r.unit}" if r.unit else ""
        digits = 2 if r.key in ("energy_uj", "latency_us", "latency_p90_us") else 0
        pct = "-" if r.delta_pct is None else f"{r.delta_pct:+.2f} %"
        table.add_row(r.label, _fmt(r.a, digits, unit), _fmt(r.b, digits, unit),
                      _fmt(r.delta, digits, unit, sign=True), pct)
    console = Console()
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")
