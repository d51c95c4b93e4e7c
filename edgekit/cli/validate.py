"""``edgekit validate``: run inputs on the device and compare its outputs with the TFLM host interpreter."""

from __future__ import annotations

import click

from edgekit.cli import echo_json
from edgekit.cli.labgrid_opts import labgrid_options, place_or_none


@click.command(name="validate")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--board", default=None, help="Board id (default: qemu-cortex-m4; with --labgrid: the place's).")
@click.option("--inputs", "--input", "inputs", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Samples: .npy N x input shape (int8, or float32 quantized with the input's scale), .npz, .bin.")
@click.option("--project", "project_dir", type=click.Path(exists=True, file_okay=False),
              help="A generated and built project for MODEL (default: generate and build one).")
@click.option("--work-dir", type=click.Path(file_okay=False), help="Where to generate the project.")
@click.option("--port", help="Serial port of a real board already running the project's firmware.")
@click.option("--limit", type=click.IntRange(min=1), help="Use at most this many samples.")
@click.option("--layout", type=click.Choice(["nhwc", "nchw"]), default="nhwc", show_default=True,
              help="Layout of --inputs: nchw for a PyTorch/ONNX model's own channels-first data.")
@click.option("--trust-pickle", is_flag=True,
              help="Tree models: load a pickled scikit-learn model (loading a pickle runs code from the file).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@labgrid_options
@click.pass_context
def cmd(ctx: click.Context, model: str, board: str | None, inputs: str, project_dir: str | None,
        work_dir: str | None, port: str | None, limit: int | None, layout: str, trust_pickle: bool, as_json: bool,
        labgrid_place: str | None, coordinator: str | None) -> None:
    """Check that the firmware computes what TFLM computes for MODEL; exit code 1 when an output differs.

    For a tree model (see 'edgekit generate') the reference is the model's own library (scikit-learn, XGBoost,
    LightGBM): the class index and scores (or the value) must be identical; --inputs holds float32 feature rows.
    """
    from edgekit.validation import validate

    boards_dirs = (ctx.obj or {}).get("boards_dirs")
    if labgrid_place is not None and project_dir is None:
        from edgekit.errors import UsageError

        raise UsageError("--labgrid needs --project: the project whose firmware the place runs",
                         hint=f"flash it first: edgekit flash PROJECT --labgrid {labgrid_place}")
    with place_or_none(labgrid_place, coordinator, port=port, boards_dirs=boards_dirs) as place:
        if place is not None:
            res = place.validate(model, project_dir=project_dir, board=board, inputs=inputs, limit=limit,
                                 layout=layout, trust_pickle=trust_pickle)
        else:
            res = validate(model, board=board or "qemu-cortex-m4", inputs=inputs, project_dir=project_dir,
                           work_dir=work_dir, port=port, limit=limit, boards_dirs=boards_dirs, layout=layout,
                           trust_pickle=trust_pickle)
    if as_json:
        echo_json(res.to_dict())
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        table = Table(title=f"{res.model} on {res.board}: device vs {res.reference}", show_header=False)
        table.add_column("figure", style="bold")
        table.add_column("value", justify="right")
        table.add_row("inputs", str(res.inputs))
        table.add_row("byte-exact", f"{res.byte_exact} / {res.inputs}")
        table.add_row("top-1 agreement", f"{res.top1_agree} / {res.inputs}")
        table.add_row("max abs diff", f"{res.max_abs_diff:g}")
        if res.float_outputs:
            table.add_row("max relative diff (float32 outputs)", f"{res.max_rel_diff:g}")
            table.add_row("within the float bound", f"{res.within_bound} / {res.inputs}")
        console.print(table)
        if res.float_unjudged:
            console.print(f"note: {res.float_unjudged} float output(s) have no bound (an LSTM, or a C-library op "
                          "before them: its last bits propagate): byte-exact or not ok; see max relative diff and "
                          "top-1 (edgekit/codegen/aot/ops/float_common.py)")
        if res.mismatches:
            mt = Table(title=f"{res.mismatch_count} mismatching output(s)"
                       + (f", first {len(res.mismatches)} listed" if res.mismatch_count > len(res.mismatches) else ""))
            for col in ("input", "output", "elements differing", "max abs diff", "top-1 device", "top-1 reference"):
                mt.add_column(col, justify="right")
            for m in res.mismatches:
                mt.add_row(str(m.input), str(m.output), f"{m.differing} / {m.elements}", f"{m.max_abs_diff:g}",
                           str(m.device_top1), str(m.reference_top1))
            console.print(mt)
        if res.input_note:
            console.print(f"note: {res.input_note}")
        if res.transport.get("log"):
            console.print(f"log: {res.transport.get('log')}")
        if not res.ok and res.project_dir and project_dir is None:
            console.print(f"the firmware project is kept for its logs: {res.project_dir}")
    if not res.ok:
        ctx.exit(1)
