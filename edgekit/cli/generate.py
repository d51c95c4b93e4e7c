"""``edgekit generate MODEL --board ID -o DIR``: render a firmware project (CMake) for a model and a board."""

from __future__ import annotations

import click

from edgekit.cli import echo_json


@click.command(name="generate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--board", "board", default="qemu-cortex-m4", show_default=True, help="Board id (edgekit boards list).")
@click.option("--runtime", type=click.Choice(["edgekit", "tflm"]), default="edgekit", show_default=True,
              help="edgekit: interpreter-less C (AOT); tflm: the TFLM interpreter (not yet available).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Project directory (created; an earlier edgekit project there is replaced).")
@click.option("--name", default=None, help="Project name (a C identifier; default: from the model file name).")
@click.option("--stack-kb", type=click.IntRange(1, 1024), default=8, show_default=True,
              help="Stack reserved for the firmware, in KB.")
@click.option("--arena-margin", default=None, metavar="SPEC",
              help="TFLM runtime: margin added to the measured arena, e.g. '10%+1KB' (the default), '2048', '25%'.")
@click.option("--sparse", type=click.Choice(["auto", "off", "force"]), default="auto", show_default=True,
              help="edgekit runtime: sparse weights for CONV_2D / FULLY_CONNECTED where faster (auto), never, or "
                   "wherever possible (force).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def cmd(ctx: click.Context, model: str, board: str, runtime: str, out_dir: str, name: str | None, stack_kb: int,
        arena_margin: str | None, sparse: str, as_json: bool) -> None:
    """Generate a firmware project for MODEL (.tflite) on a board; build it with 'edgekit build DIR'."""
    from edgekit.codegen.project import generate

    res = generate(model, board, runtime, out_dir=out_dir, name=name, arena_margin=arena_margin,
                   boards_dirs=(ctx.obj or {}).get("boards_dirs"), stack_bytes=stack_kb * 1024,
                   sparse=sparse)
    if as_json:
        echo_json(res if isinstance(res, dict) else res.to_dict())
        return
    if isinstance(res, dict):  # a TFLM project (summary dict)
        click.echo(f"generated {res.get('project_dir')} (TFLM, {res.get('build_system')}, {len(res.get('files', []))} "
                   "files)")
        click.echo(f"next: edgekit build {res.get('project_dir')}")
        return
    if hasattr(res, "bundle_dir"):  # an SBC / host bundle
        click.echo(f"generated bundle {res.bundle_dir} ({res.board}, {res.machine}, Python {res.python}, "
                   f"{len(res.files)} files)")
        click.echo(f"next: edgekit bench {res.bundle_dir} --board {res.board} --host local|user@host")
        return
    click.echo(f"generated {res.project_dir} ({res.board}, runtime {res.runtime}, model {res.model_name})")
    click.echo(f"  arena {res.arena_bytes} B, weights {res.weights_bytes} B, input {res.input_bytes} B, "
               f"stack {res.stack_bytes} B, {len(res.files)} files")
    click.echo(f"next: edgekit build {res.project_dir}")
