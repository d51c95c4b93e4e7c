"""``edgekit deploy MODEL --board ID``: convert (unless .tflite), generate, build, flash and benchmark in one go."""

from __future__ import annotations

import click

from edgekit.cli import echo_json
from edgekit.cli.labgrid_opts import labgrid_options, place_or_none
from edgekit.generation import RUNTIMES


@click.command(name="deploy")
@click.argument("model", type=click.Path(exists=True))
@click.option("--board", "board", default=None, help="Board id (edgekit boards list); with --labgrid: the place's.")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for the converted model and the project (default: ./<model>-<board>).")
@click.option("--calib", type=click.Path(exists=True), default=None,
              help="Calibration data (.npy/.npz) when MODEL is a Keras/SavedModel model.")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="auto", show_default=True,
              help="auto: edgekit's runtime when it runs the model, else TFLM (see edgekit generate --help).")
@click.option("--port", default=None, help="Serial port (default: found by the board's USB id).")
@click.option("--probe", default=None, help="Debug probe unique id, for probe-based flashers.")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True, help="Timed inferences.")
@click.option("--power", default=None, metavar="MONITOR[:PORT][,k=v]", help="Measure energy (e.g. ppk2).")
@click.option("--dry-run", is_flag=True, help="Build, then print the flash steps; do not flash or benchmark.")
@click.option("--json", "as_json", is_flag=True, help="Print every stage's result as JSON.")
@labgrid_options
@click.pass_context
def cmd(ctx: click.Context, model: str, board: str | None, out_dir: str | None, calib: str | None, runtime: str,
        port: str | None, probe: str | None, runs: int, power: str | None, dry_run: bool, as_json: bool,
        labgrid_place: str | None, coordinator: str | None) -> None:
    """Take MODEL to BOARD and measure it there."""
    from edgekit.deployment import deploy

    boards_dirs = (ctx.obj or {}).get("boards_dirs")
    with place_or_none(labgrid_place, coordinator, port=port, boards_dirs=boards_dirs) as place:
        if board is None and (place is None or place.board_id is None):
            from edgekit.errors import UsageError

            raise UsageError("deploy needs --board ID" + (" (the place has no edgekit_board tag)" if place else ""))
        res = deploy(model, board or place.board_id, out_dir=out_dir, calib=calib, runtime=runtime, port=port,
                     probe=probe, runs=runs, power=power, dry_run=dry_run, boards_dirs=boards_dirs, place=place)
    if as_json:
        echo_json(res.to_dict())
        return
    b, f = res.build, res.flash
    click.echo(f"model    {res.tflite}{' (converted)' if res.converted else ''}")
    click.echo(f"project  {res.project_dir}: flash {b.flash_bytes:,} B, RAM {b.ram_bytes:,} B")
    click.echo(f"flash    {f.method}{' (dry run)' if f.dry_run else ''}: {f.bytes:,} B")
    for s in f.steps if f.dry_run else []:
        click.echo(f"  {s}")
    if res.bench is not None:
        from edgekit.cli.bench import render

        render(res.bench.to_dict())
