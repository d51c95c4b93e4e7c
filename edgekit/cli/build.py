"""``edgekit build DIR``: build a generated firmware project and show flash/RAM per section vs the board budget."""

from __future__ import annotations

import sys

import click

from edgekit.cli import echo_json


@click.command(name="build")
@click.argument("project_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--clean", is_flag=True, help="Delete the build directory first.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="Parallel compile jobs.")
@click.option("--dry-run", is_flag=True, help="Print the exact build commands and what is missing; run nothing.")
@click.option("--tflm-dir", type=click.Path(file_okay=False), default=None,
              help="TFLM CMake projects: the tflite-micro tree (default: $EDGEKIT_TFLM_DIR).")
@click.option("--tflm-fetch", is_flag=True, default=None,
              help="TFLM CMake projects without --tflm-dir: let CMake download the pinned TFLM revision "
                   "(default: $EDGEKIT_TFLM_FETCH).")
@click.option("--cmsis-nn", is_flag=True, help="TFLM CMake projects: use TFLM's CMSIS-NN kernels.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def cmd(ctx: click.Context, project_dir: str, clean: bool, jobs: int, dry_run: bool, tflm_dir: str | None,
        tflm_fetch: bool | None, cmsis_nn: bool, as_json: bool) -> None:
    """Build PROJECT_DIR (made by 'edgekit generate') with its board's build tool (CMake, Pico SDK, ESP-IDF,
    Zephyr west, PlatformIO); fails if the image does not fit the board."""
    if dry_run:
        _dry_run(project_dir, jobs, tflm_dir, cmsis_nn, tflm_fetch, as_json)
        return
    from edgekit.buildsys import build

    res = build(project_dir, jobs=jobs, clean=clean, boards_dirs=(ctx.obj or {}).get("boards_dirs"),
                tflm_dir=tflm_dir, cmsis_nn=cmsis_nn, tflm_fetch=tflm_fetch)
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
    for p in res.images[1:]:
        click.echo(f"image: {p}")


def _dry_run(project_dir: str, jobs: int, tflm_dir: str | None, cmsis_nn: bool, tflm_fetch: bool | None,
             as_json: bool) -> None:
    from edgekit.buildsys.systems import plan_build

    plan = plan_build(project_dir, jobs=jobs, tflm_dir=tflm_dir, cmsis_nn=cmsis_nn, tflm_fetch=tflm_fetch)
    if as_json:
        echo_json(plan.to_dict())
        return
    click.echo(f"dry run: {plan.build_system} build of {plan.project_dir} (in that directory):")
    for step in plan.steps:
        click.echo(f"  {step.cmdline}")
    click.echo(f"ELF: {plan.elf}")
    for var, value in plan.env.items():
        click.echo(f"uses {var}={value}")
    for m in plan.missing:
        click.echo(f"missing: {m}", err=True)
    if plan.missing:
        click.echo(f"hint: {plan.hint}", err=True)


def _pct(used: int, budget: int) -> str:
    return f"{100.0 * used / budget:.1f}%" if budget else "-"
