"""``edgekit build DIR``: build a generated firmware project and show flash/RAM per section vs the board budget."""

from __future__ import annotations

import sys

import click

from edgekit.cli import echo_json


@click.command(name="build")
@click.argument("project_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--clean", is_flag=True, help="Delete the build directory first.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="Parallel compile jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def cmd(ctx: click.Context, project_dir: str, clean: bool, jobs: int, as_json: bool) -> None:
    """Build PROJECT_DIR (made by 'edgekit generate'); fails if the image does not fit the board."""
    from edgekit.build import build

    res = build(project_dir, jobs=jobs, clean=clean, boards_dirs=(ctx.obj or {}).get("boards_dirs"))
    if as_json:
        echo_json(res.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{res.elf} ({res.board})")
    table.add_column("section")
    table.add_column("address", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("in", justify="left")
    for s in res.sections:
        where = "+".join(x for x, on in (("flash", s.flash), ("RAM", s.ram)) if on) or "-"
        table.add_row(s.name, f"0x{s.address:08x}", f"{s.size:,}", where)
    table.add_section()
    table.add_row("flash total", "", f"{res.flash_bytes:,}",
                  f"{_pct(res.flash_bytes, res.flash_budget_bytes)} of {res.flash_budget_bytes // 1024} KB")
    table.add_row("RAM total", "", f"{res.ram_bytes:,}",
                  f"{_pct(res.ram_bytes, res.ram_budget_bytes)} of {res.ram_budget_bytes // 1024} KB")
    table.add_row("  weights", "", f"{res.weights_bytes:,}", "flash")
    table.add_row("  arena", "", f"{res.arena_bytes:,}", "RAM")
    table.add_row("  stack", "", f"{res.stack_bytes:,}", "RAM")
    Console(width=None if sys.stdout.isatty() else 120).print(table)


def _pct(used: int, budget: int) -> str:
    return f"{100.0 * used / budget:.1f}%" if budget else "-"
