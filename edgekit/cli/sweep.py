"""``edgekit sweep``: run a spec's cells (models x boards x options) locally or on a Ray cluster; print the table."""

from __future__ import annotations

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
    cols = ("model", "board", "runtime", "sparse", "quantization", "recipe", "instructions", "latency_us",
            "flash_bytes", "ram_bytes", "pareto")
    for col in ("status", *cols):
        table.add_column(col, justify="right" if col.endswith(("_us", "_bytes", "instructions")) else "left")
    front = set(doc["pareto"]["front"])
    for row in doc["cells"]:
        cells = table_row(row, row["id"] in front)
        table.add_row(row["status"], *("-" if cells[k] is None else (f"{cells[k]:,.0f}" if isinstance(cells[k], float)
                                                                    else str(cells[k])) for k in cols))
    console = Console()
    console.print(table)
    p = doc["pareto"]
    console.print(f"recommended: {p['recommended'] or 'none'} ({p['reason']}; objectives: "
                  + ", ".join(f"{o['key']} {o['direction']}" for o in p["objectives"]) + ")")
