"""``edgekit convert MODEL --calib DATA -o out.tflite``: full-integer conversion plus its quality report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgekit.cli import echo_json


@click.command(name="convert")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--calib", "calib", required=True, type=click.Path(path_type=Path),
              help="Calibration inputs (.npy, or .npz with key x or its first array), float32, model input shape.")
@click.option("--val", "val", type=click.Path(path_type=Path),
              help="Validation inputs (.npy/.npz; an .npz may hold labels as y) for accuracy/agreement.")
@click.option("--val-labels", "val_labels", type=click.Path(path_type=Path),
              help="Validation labels (.npy/.npz): class ids, one-hot rows or regression targets.")
@click.option("--activations", type=click.Choice(["int8", "int16", "compare"]), default="int8", show_default=True,
              help="Activation type: int8, int16 (16x8: int16 activations, int8 weights), or compare: convert "
                   "both, show them side by side and write the recommended one.")
@click.option("--io-dtype", type=click.Choice(["int8", "uint8", "int16", "float32"]),
              help="Type of the model's input and output tensors  [default: the activation type]")
@click.option("--task", type=click.Choice(["auto", "classification", "regression"]), default="auto",
              show_default=True, help="Which metrics the report shows.")
@click.option("--num-calib", type=click.IntRange(min=1), help="Use at most N calibration samples (default: all).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The .tflite to write (with --activations compare: the recommended one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Also write the report as JSON here.")
@click.option("--timeout", type=click.FloatRange(min=1), default=1800, show_default=True,
              help="Seconds the converter process may take.")
@click.option("--keep-float", is_flag=True,
              help="Also write the float32 .tflite the quantized one was compared with, beside it (NAME_float.tflite).")
@click.option("--board", "board", help="Measure float32 vs int8 on this board (e.g. qemu-cortex-m4): both built for "
                                       "edgekit's AOT runtime and benchmarked; flash, arena, instructions, cycles, "
                                       "energy and accuracy side by side with their ratios. Implies --keep-float.")
@click.pass_context
def cmd(ctx: click.Context, model: Path, calib: Path, val: Path | None, val_labels: Path | None, activations: str,
        io_dtype: str | None, task: str, num_calib: int | None, output: Path, as_json: bool,
        report_path: Path | None, timeout: float, keep_float: bool, board: str | None) -> None:
    """Convert MODEL (.keras, .h5, a SavedModel directory, .onnx or a torch.export .pt2) to a full-integer .tflite.

    For .onnx/.pt2 models give --calib/--val in the model's own layout (NCHW); the report compares the int8
    model with the source framework's float outputs and says which layout the device expects.

    Prints sizes, accuracy (or error) of float vs quantized and the per-layer SQNR, worst layer first.
    Recurrent layers (LSTM, GRU, SimpleRNN) are unrolled. TensorFlow runs in a child process; its
    log is shown with --debug.
    """
    from edgekit.conversion import convert
    from edgekit.errors import UsageError

    if report_path is not None and not report_path.parent.is_dir():
        raise UsageError(f"--report: directory {report_path.parent} does not exist", hint="create it first")
    result = convert(model, calib, val=val, val_labels=val_labels, output=output, io_dtype=io_dtype, task=task,
                     activations=activations, num_calib=num_calib, progress=not as_json, timeout=timeout)
    if (ctx.find_root().obj or {}).get("debug") and result.log:
        click.echo(result.log, err=True)
    data = result.report.to_dict()
    data["output"] = str(output)
    if result.comparison is not None:
        data["comparison"] = result.comparison.to_dict()
    payoff = None
    if (keep_float or board) and result.float_tflite_bytes:
        from edgekit.conversion import write_atomic

        float_path = output.with_name(f"{output.stem}_float.tflite")
        write_atomic(float_path, result.float_tflite_bytes)
        data["float_output"] = str(float_path)
        if board:
            from edgekit.payoff import measure_payoff

            payoff = measure_payoff(float_path, output, board=board, report=result.report)
            data["payoff"] = payoff.to_dict()
    if report_path is not None:
        from edgekit.conversion import write_atomic

        write_atomic(report_path, json.dumps(data, indent=2).encode())
    if as_json:
        echo_json(data)
        return
    from rich.console import Console

    from edgekit.report import render_comparison, render_report

    console = Console()
    render_report(result.report, console)
    if hasattr(result.report, "device_layout"):
        from edgekit.frontends.convert import render_source

        render_source(result.report, console)
    if result.comparison is not None:
        render_comparison(result.comparison, console)
    if payoff is not None:
        from edgekit.payoff import render_payoff

        render_payoff(payoff, console)
    console.print(f"wrote {output} ({result.report.label}, {result.report.int8_size:,} bytes)")
    if "float_output" in data:
        console.print(f"wrote {data['float_output']} (float32, {len(result.float_tflite_bytes or b''):,} bytes)")
