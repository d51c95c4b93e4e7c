"""``edgekit flash IMAGE|DIR --board ID``: write a firmware image to a board with the flasher its profile names."""

from __future__ import annotations

import click

from edgekit.cli import echo_json
from edgekit.cli.labgrid_opts import labgrid_options, place_or_none


@click.command(name="flash")
@click.argument("image", type=click.Path(exists=True))
@click.option("--board", "board", default=None, help="Board id (default: the board of the project).")
@click.option("--probe", default=None, help="Debug probe unique id (or part of it), for probe-based flashers.")
@click.option("--port", default=None, help="Serial port (default: found by USB id), or a UF2 drive's mount point.")
@click.option("--dry-run", is_flag=True, help="Check the image and print the commands/API calls; touch nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@labgrid_options
@click.pass_context
def cmd(ctx: click.Context, image: str, board: str | None, probe: str | None, port: str | None, dry_run: bool,
        as_json: bool, labgrid_place: str | None, coordinator: str | None) -> None:
    """Flash IMAGE (.elf/.hex/.bin/.uf2, or a project directory) to a board."""
    from edgekit.flashers import flash

    boards_dirs = (ctx.obj or {}).get("boards_dirs")
    with place_or_none(labgrid_place, coordinator, port=port, boards_dirs=boards_dirs) as place:
        if place is not None:
            res = place.flash(image, board=board, dry_run=dry_run)
        else:
            res = flash(image, board, probe=probe, port=port, dry_run=dry_run, boards_dirs=boards_dirs)
    if as_json:
        echo_json(res.to_dict())
        return
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    if res.dry_run:
        click.echo(f"dry run: {res.method} would flash {res.image} ({res.format}, {res.bytes:,} B) to {res.board}:")
        for s in res.steps:
            click.echo(f"  {s}")
        return
    checks = ", ".join(x for x, on in (("verified", res.verified), ("reset", res.reset)) if on) or "not verified"
    click.echo(f"flashed {res.image} ({res.format}, {res.bytes:,} B) to {res.board} with {res.method} "
               f"in {res.duration_s:.1f} s ({checks})")
