"""``edgekit carray MODEL -o DIR``: write the model as a 16-byte aligned C/C++ array (model_data.h + .cc/.c)."""

from __future__ import annotations

import click

from edgekit.cli import echo_json


@click.command(name="carray")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False), help="Directory for the files.")
@click.option("--name", help="Array identifier (default: from the model file name).")
@click.option("--section", help="Linker section for the array (e.g. .ext_flash_rodata).")
@click.option("--board", help="Board id whose profile may give the section (build.model_section).")
@click.option("--lang", type=click.Choice(["cc", "c"]), default="cc", show_default=True,
              help="cc: model_data.cc with alignas(16); c: model_data.c with __attribute__((aligned(16))).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def cmd(ctx: click.Context, model: str, out_dir: str, name: str | None, section: str | None, board: str | None,
        lang: str, as_json: bool) -> None:
    """Write MODEL (.tflite) as model_data.h + model_data.cc (or .c)."""
    from edgekit.codegen.carray import write_carray

    profile = None
    if board is not None:
        from edgekit.boards import load_board

        profile = load_board(board, (ctx.obj or {}).get("boards_dirs", []))
    res = write_carray(model, out_dir, name=name, section=section, lang=lang, board=profile)
    if as_json:
        echo_json({"header": str(res.header), "source": str(res.source), "name": res.name,
                   "size_macro": res.size_macro, "size": res.size, "section": res.section})
        return
    where = f" in section {res.section}" if res.section else ""
    click.echo(f"wrote {res.header} and {res.source}: {res.name}[{res.size_macro} = {res.size}]{where}")
