"""``edgekit optimize MODEL --data DATA [--prune 0.75] [--structured] [--low-rank 0.9] [--distill-from T] [--qat]
-o OUT.keras``: compress a Keras model and measure every step (sizes, accuracy, on-board cost)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from edgekit.cli import echo_json
from edgekit.errors import ModelError, UsageError


@click.command(name="optimize")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", "data", required=True, type=click.Path(path_type=Path),
              help="Training data: .npz with x (float32, model input shape) and y (labels); .npy for unlabeled x.")
@click.option("--val", "val", type=click.Path(path_type=Path),
              help="Validation data (.npz with x, y) for accuracy; default: 20% of DATA held out (not trained on).")
@click.option("--recipe", "recipe_path", type=click.Path(path_type=Path), help="YAML recipe: a chain of steps.")
@click.option("--prune", type=float, metavar="SPARSITY", help="Magnitude pruning to this sparsity, in [0, 1).")
@click.option("--structured", is_flag=True, help="With --prune: remove whole channels (narrower layers) instead.")
@click.option("--low-rank", "low_rank", type=float, metavar="ENERGY",
              help="SVD factorization keeping this fraction of each kernel's energy, in (0, 1].")
@click.option("--rank", type=int, metavar="N", help="SVD factorization to a fixed rank instead of --low-rank.")
@click.option("--distill-from", "distill_from", type=click.Path(path_type=Path), metavar="TEACHER",
              help="Distill MODEL (the student) from this teacher .keras model first.")
@click.option("--temperature", type=float, default=2.0, show_default=True, help="Distillation temperature.")
@click.option("--alpha", type=float, default=0.5, show_default=True,
              help="Distillation: weight of the hard-label loss (1 - alpha for the teacher's soft targets).")
@click.option("--qat", is_flag=True, help="Quantization-aware training (int8) as the last step.")
@click.option("--epochs", type=click.IntRange(min=0),
              help="Fine-tuning epochs per step, fixed (default: until the accuracy on a held-out 15% of DATA "
                   "stops improving, best epoch kept; pruning ramps its sparsity up over the first 6).")
@click.option("--max-epochs", "max_epochs", type=click.IntRange(min=1),
              help="Without --epochs: the cap on fine-tuning epochs per step (default 60).")
@click.option("--patience", type=click.IntRange(min=1),
              help="Without --epochs: epochs without a better held-out accuracy before stopping (default 4).")
@click.option("--learning-rate", "learning_rate", type=float, help="Fine-tuning learning rate (default 1e-3).")
@click.option("--batch-size", "batch_size", type=click.IntRange(min=1), help="Fine-tuning batch size (default 32).")
@click.option("--num-calib", "num_calib", type=click.IntRange(min=1), default=100, show_default=True,
              help="Calibration samples (from DATA) for every int8 conversion and for QAT's ranges.")
@click.option("--board", "board", default="qemu-cortex-m4", show_default=True,
              help="Board for on-device figures (instructions/inference, cycles, energy, flash, arena) of every "
                   "int8 model and of the original float32 model (float32 vs int8, with the ratios).")
@click.option("--no-board", is_flag=True, help="Skip the on-device figures (faster).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="The optimized .keras model.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), help="Also write the report as JSON here.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Also write the report as an HTML page.")
@click.option("--markdown", "markdown_path", type=click.Path(path_type=Path),
              help="Also write the report as Markdown.")
@click.pass_context
def cmd(ctx: click.Context, model: Path, data: Path, val: Path | None, recipe_path: Path | None,
        prune: float | None, structured: bool, low_rank: float | None, rank: int | None, distill_from: Path | None,
        temperature: float, alpha: float, qat: bool, epochs: int | None, max_epochs: int | None,
        patience: int | None, learning_rate: float | None,
        batch_size: int | None, num_calib: int, board: str, no_board: bool, output: Path, as_json: bool,
        report_path: Path | None, html_path: Path | None, markdown_path: Path | None) -> None:
    """Compress MODEL (.keras) with pruning, low-rank, distillation and/or QAT; write OUT.keras and a report.

    Each step fine-tunes on DATA and is measured end to end: parameters, MACs, float/int8/gzip sizes,
    float and int8 accuracy, and instructions per inference, flash and arena on BOARD (QEMU); the original
    float32 model is measured there too, beside every int8 model (the quantization payoff, with ratios).
    The work runs in a child process (TF_ENABLE_ONEDNN_OPTS=0 unless set): a TensorFlow crash is an error.
    """
    from edgekit.optimize.io import resolve_recipe

    recipe = resolve_recipe(recipe_path, prune=prune, structured=structured, low_rank=low_rank, rank=rank,
                            distill_from=distill_from, temperature=temperature, alpha=alpha, qat=qat, epochs=epochs,
                            learning_rate=learning_rate, batch_size=batch_size, max_epochs=max_epochs,
                            patience=patience)
    for step in recipe.steps:  # before minutes of measuring: a teacher file that is not there
        teacher = step.settings.get("teacher")
        if isinstance(teacher, (str, Path)) and not Path(teacher).is_file():
            raise ModelError(f"teacher: {teacher}: no such file", hint="pass a .keras or .h5 model file")
    for opt, path in (("--report", report_path), ("--html", html_path), ("--markdown", markdown_path)):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"{opt}: directory {path.parent} does not exist", hint="create it first")
    from edgekit.optimize.isolated import run_job

    boards_dirs = [str(d) for d in (ctx.obj or {}).get("boards_dirs", [])]
    report, val_source = run_job({"model": str(model), "data": str(data), "val": None if val is None else str(val),
                                  "output": str(output), "num_calib": num_calib, "recipe": recipe,
                                  "board": None if no_board else board, "boards_dirs": boards_dirs,
                                  "progress": not as_json})
    data_out = report.to_dict()
    data_out["output"] = str(output)
    data_out["validation"] = val_source
    if report_path is not None:
        from edgekit.conversion import write_atomic

        write_atomic(report_path, json.dumps(data_out, indent=2).encode())
    from edgekit.optimize.report_pages import render_html, render_markdown

    for path, page in ((html_path, render_html), (markdown_path, render_markdown)):
        if path is not None:
            from edgekit.conversion import write_atomic

            write_atomic(path, page(report, validation=val_source, output=str(output)).encode("utf-8"))
    if as_json:
        echo_json(data_out)
        return
    from rich.console import Console

    from edgekit.optimize.report import render

    console = Console(width=None if sys.stdout.isatty() else 200)
    render(report, console)
    console.print(f"accuracy on {val_source}")
    console.print(f"wrote {output}")
