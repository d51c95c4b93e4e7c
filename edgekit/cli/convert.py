"""``edgekit convert MODEL --calib DATA -o out.tflite``: full-int8 conversion plus its quality report."""

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
@click.option("--io-dtype", type=click.Choice(["int8", "uint8", "float32"]), default="int8", show_default=True,
              help="Type of the model's input and output tensors.")
@click.option("--task", type=click.Choice(["auto", "classification", "regression"]), default="auto",
              show_default=True, help="Which metrics the report shows.")
@click.option("--num-calib", type=click.IntRange(min=1), help="Use at most N calibration samples (default: all).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="The int8 .tflite to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Also write the report as JSON here.")
def cmd(model: Path, calib: Path, val: Path | None, val_labels: Path | None, io_dtype: str, task: str,
        num_calib: int | None, output: Path, as_json: bool, report_path: Path | None) -> None:
    """Convert MODEL (.keras, .h5 or a SavedModel directory) to a full-int8 .tflite.

    Prints sizes, accuracy (or error) of float vs int8 and the per-layer SQNR, worst layer first.
    """
    from edgekit.conversion import convert
    from edgekit.errors import UsageError

    if report_path is not None and not report_path.parent.is_dir():
        raise UsageError(f"--report: directory {report_path.parent} does not exist", hint="create it first")
    result = convert(model, calib, val=val, val_labels=val_labels, output=output, io_dtype=io_dtype, task=task,
                     num_calib=num_calib, progress=not as_json)
    data = result.report.to_dict()
    data["output"] = str(output)
    if report_path is not None:
        from edgekit.conversion import write_atomic

        write_atomic(report_path, json.dumps(data, indent=2).encode())
    if as_json:
        echo_json(data)
        return
    from rich.console import Console

    from edgekit.report import render_report

    console = Console()
    render_report(result.report, console)
    console.print(f"wrote {output} ({result.report.int8_size:,} bytes)")
