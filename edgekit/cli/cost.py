"""``edgekit cost BENCH.json [OTHER.json ...] --battery 1000mAh --rate 60/h``: battery life and energy per
million inferences, side by side (e.g. the int8 model next to the float one)."""

from __future__ import annotations

import sys
from typing import Any

import click

from edgekit.cli import echo_json

BATTERY_HELP = "Battery: 1000mAh (at the board's supply voltage), 1000mAh@3.0V, 2.4Ah or 3.7Wh."
RATE_HELP = "Inference rate: 60/h, 1/s, 1440/day, 'every 5min'."
SLEEP_HELP = ("Current between inferences: 2.5uA, 1.1mA, or 'measured' (the bench's idle current); default: the "
              "board profile's power.idle_ma (not deep sleep).")
DERATE_HELP = "Usable fraction of the battery (self-discharge, cut-off voltage), e.g. 0.8."


@click.command(name="cost")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--battery", required=True, help=BATTERY_HELP)
@click.option("--rate", required=True, help=RATE_HELP)
@click.option("--sleep", default=None, help=SLEEP_HELP)
@click.option("--battery-derate", "derate", type=float, default=1.0, show_default=True, help=DERATE_HELP)
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write an HTML plot (traces, histograms).")
@click.option("--json", "as_json", is_flag=True, help="Print the cost reports as JSON.")
@click.pass_context
def cmd(ctx: click.Context, results: tuple[str, ...], battery: str, rate: str, sleep: str | None, derate: float,
        plot: str | None, as_json: bool) -> None:
    """Battery life, average current and energy per 1 M inferences of saved bench results, side by side."""
    from edgekit.cost import cost_report
    from edgekit.results import load_result

    boards_dirs = (ctx.obj or {}).get("boards_dirs")
    data = [load_result(r) for r in results]
    costs = [cost_report(d, battery=battery, rate=rate, sleep=sleep, derate=derate, boards_dirs=boards_dirs,
                         where=r).to_dict() for d, r in zip(data, results, strict=True)]
    from edgekit.cost import unique_labels

    for c, label in zip(costs, unique_labels([c["label"] for c in costs], list(results)), strict=True):
        c["label"] = label
    if plot:
        from edgekit.plot import write_plot

        write_plot(plot, data, costs, names=[c["label"] for c in costs])
    if as_json:
        echo_json({"schema": "edgekit.cost-table/1", "results": list(results), "costs": costs})
        return
    render_costs(costs, plot=plot)


def _qty(x: float, unit: str) -> str:
    """``x`` (in ``unit``: J or mA) with a readable prefix: 10,690 mJ -> '10.69 J', 0.0009 mA -> '900 nA'."""
    scales = {"J": [(1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")],
              "mA": [(1e3, "A"), (1.0, "mA"), (1e-3, "µA"), (1e-6, "nA")]}[unit]
    for factor, name in scales:
        if abs(x) >= factor:
            return f"{x / factor:,.4g} {name}"
    return f"{x / scales[-1][0]:,.4g} {scales[-1][1]}"


def _days(d: float) -> str:
    return f"{d:,.1f} days" + (f" ({d / 365.25:,.1f} years)" if d >= 365.25 else "")


def render_costs(costs: list[dict[str, Any]], plot: str | None = None) -> None:
    """Print cost reports as one table, a column per result."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cost at {costs[0]['rate_per_h']:,.6g} inferences/h on {costs[0]['battery']}")
    table.add_column("figure", style="bold")
    for c in costs:
        table.add_column(c["label"], justify="right")
    rows = [("energy / inference", lambda c: _qty(c["per_inference_uj"] * 1e-6, "J")),
            ("energy from", lambda c: c["energy_source"]),
            ("active time / inference", lambda c: f"{c['active_s_per_inference'] * 1e3:,.4g} ms"),
            ("duty cycle", lambda c: f"{c['duty'] * 100:.4g} %"),
            ("sleep current", lambda c: _qty(c["sleep_ma"], "mA")),
            ("energy / h: inferences", lambda c: _qty(c["active_j_per_h"], "J")),
            ("energy / h: sleep", lambda c: _qty(c["sleep_j_per_h"], "J")),
            ("average current", lambda c: f"{_qty(c['average_ma'], 'mA')} at {c['supply_v']:g} V"),
            ("battery life", lambda c: _days(c["life_days"])),
            ("energy / 1 M inferences", lambda c: _qty(c["per_million_inferences_j"], "J")),
            ("  with sleep at this rate", lambda c: _qty(c["per_million_with_sleep_j"], "J")),
            ("inferences / battery", lambda c: f"{c['inferences_per_battery']:,.0f}")]
    for label, fmt in rows:
        table.add_row(label, *(fmt(c) for c in costs))
    console = Console(width=None if sys.stdout.isatty() else 160)  # a pipe or a file: no folded labels
    console.print(table)
    seen: list[str] = []
    for c in costs:
        for note in [f"{c['label']}: sleep current from {c['sleep_source']}", *c["notes"]]:
            if note not in seen:
                seen.append(note)
                console.print(f"note: {note}")
    if costs[0]["derate"] != 1.0:
        console.print(f"battery derated to {costs[0]['derate']:g} of its capacity")
    if plot:
        console.print(f"plot: {plot}")
