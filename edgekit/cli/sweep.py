"""``edgekit sweep``: run a spec's cells (models x boards x options) locally or on a Ray cluster; print the table."""

from __future__ import annotations

import sys
from typing import Any

import click

from edgekit.cli import echo_json


@click.command(name="sweep")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Results folder: cells.jsonl (as cells finish), sweep.json, sweep.csv, sweep.html. A re-run with "
                   "the same folder skips the cells already finished.")
@click.option("--ray", "ray_address", default=None, metavar="auto|ADDRESS",
              help="Run the cells as Ray tasks on this cluster (auto: the one 'ray start' runs here, or "
                   "RAY_ADDRESS) instead of this machine's cores.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Local worker processes (default: the CPU count).")
@click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Runs again a cell whose worker process (or Ray node) died, this many times.")
@click.option("--json", "as_json", is_flag=True, help="Print the edgekit.sweep/1 JSON instead of the table.")
@click.pass_context
def cmd(ctx: click.Context, spec: str, out_dir: str, ray_address: str | None, jobs: int | None, max_retries: int,
        as_json: bool) -> None:
    """Run every cell of SPEC (a YAML file: models x boards x options; see docs/sweep.md): convert/optimize,
    generate, build, bench (and validate) each; write the results, the table and the HTML report with the Pareto
    front. Exit code 1 when a cell failed."""
    from edgekit.sweeps import sweep

    def progress(row: dict[str, Any], n: int, total: int) -> None:
        if as_json:
            return
        f = row.get("figures") or {}
        what = f"{f['instructions']:,.0f} instructions" if f.get("instructions") is not None else \
            (f"{(row.get('error') or {}).get('message', '')}"[:120] if row["status"] != "ok" else "")
        retried = f" (attempt {row['attempts']})" if row.get("attempts", 1) > 1 else ""
        click.echo(f"[{n}/{total}] {row['status']:<6} {row['id']}: {what}{retried}", err=True)

    res = sweep(spec, out_dir, ray=ray_address, jobs=jobs, max_retries=max_retries,
                boards_dirs=(ctx.obj or {}).get("boards_dirs"), progress=progress)
    if as_json:
        echo_json(res.doc)
    else:
        render(res.doc)
        click.echo(f"wrote {res.json_path}, {res.csv_path.name}, {res.html_path.name}")
    if not res.ok:
        ctx.exit(1)


def render(doc: dict[str, Any]) -> None:
    """The sweep as a rich table, Pareto-front cells marked, and the recommendation."""
    from rich.console import Console
    from rich.table import Table

    from edgekit.sweeps.report import table_row

    c = doc["counts"]
    table = Table(title=f"sweep: {c['ok']} of {c['cells']} cells ok ({c['resumed']} reused, {c['retried']} retried)")
    front = set(doc["pareto"]["front"])
    rows = [table_row(row, row["id"] in front) for row in doc["cells"]]
    cols = [k for k in ("model", "board", "runtime", "sparse", "quantization", "recipe", "instructions",
                        "latency_us", "flash_bytes", "ram_bytes", "energy_uj", "byte_exact", "pareto", "attempts")
            if any(r[k] not in (None, "") for r in rows) and not (k == "attempts" and c["retried"] == 0)]
    for col in ("status", *cols):
        table.add_column(col, justify="right" if col.endswith(("_us", "_uj", "_bytes", "instructions")) else "left")
    for r in rows:
        table.add_row(r["status"], *("-" if r[k] is None else (f"{r[k]:,.0f}" if isinstance(r[k], float) and
                                                               k != "energy_uj" else
                                                               f"{r[k]:,.3g}" if isinstance(r[k], float) else
                                                               f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]))
                                     for k in cols))
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    p = doc["pareto"]
    console.print(f"recommended: {p['recommended'] or 'none'} ({p['reason']}; objectives: "
                  + ", ".join(f"{o['key']} {o['direction']}" for o in p["objectives"]) + ")")
