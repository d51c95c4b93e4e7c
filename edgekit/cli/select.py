"""``edgekit select CANDIDATE... --val VAL.npz [--variants prune=0.5,int16] [--max-flash 64KB] ...``: measure
candidate models on one board, flag the Pareto front over accuracy x latency x flash, recommend one."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from edgekit.cli import echo_json

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(b|kb|k|kib|mb|m|mib)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}


def parse_size(text: str | None, option: str) -> int | None:
    """``65536``, ``64KB``, ``1.5MB`` -> bytes (KB = 1024 B, as the board files' ``_kb``)."""
    if text is None:
        return None
    m = _SIZE.match(text)
    if not m:
        from edgekit.errors import UsageError

        raise UsageError(f"{option}: {text!r} is not a size", hint=f"e.g. {option} 64KB or {option} 65536")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower() or None])


@click.command(name="select")
@click.argument("candidates", nargs=-1, type=click.Path(path_type=Path))
@click.option("--val", "val", type=click.Path(path_type=Path),
              help="Validation set with labels: .npz (x float32 in the model's input shape, y class ids), or a .npy "
                   "of inputs with --labels.")
@click.option("--labels", "labels", type=click.Path(path_type=Path),
              help="Class ids (.npy, or .npz) for a --val that holds inputs only.")
@click.option("--board", default="qemu-cortex-m4", show_default=True, help="Board id (a QEMU board).")
@click.option("--variants", default="", metavar="V1,V2",
              help="Variants of each Keras candidate: prune=S, structured=R, lowrank=E, rank=N, qat, int16, float32 "
                   "(the float model: float vs int8 side by side), a recipe .yaml; + chains (prune=0.5+int16).")
@click.option("--train", type=click.Path(path_type=Path), help="Training data (.npz x, y) for the variants.")
@click.option("--calib", type=click.Path(path_type=Path),
              help="Calibration inputs (.npy/.npz) for conversions (default: the first 100 of --train).")
@click.option("--epochs", type=click.IntRange(min=0), help="Fine-tuning epochs per variant step.")
@click.option("--runtime", type=click.Choice(["auto", "edgekit", "tflm"]), default="auto", show_default=True)
@click.option("--accuracy-on", "accuracy_on", type=click.Choice(["device", "host"]), default="device",
              show_default=True, help="device: the firmware's outputs under QEMU; host: the TFLM host interpreter.")
@click.option("--max-flash", "max_flash", metavar="SIZE", help="Flash limit (bytes, or 64KB / 1MB).")
@click.option("--max-ram", "max_ram", metavar="SIZE", help="RAM limit: static + arena + stack (bytes, or 32KB).")
@click.option("--max-latency-ms", "max_latency_ms", type=float, help="Latency limit per inference (ms).")
@click.option("--min-accuracy", "min_accuracy", type=float,
              help="Accuracy floor: 0.9 or 90 (percent) on the validation set.")
@click.option("--prefer", type=click.Choice(["accuracy", "latency", "flash"]), default="accuracy",
              show_default=True, help="What to take the best of among the front within the limits.")
@click.option("--battery", default="1000mAh", show_default=True, help="Battery for the battery-life column.")
@click.option("--rate", default="60/h", show_default=True, help="Inferences per period (60/h, 1/s, every 5min).")
@click.option("--sleep", help="Current between inferences (default: the board's power.idle_ma).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True, help="Timed inferences.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Candidates measured at once (default: CPUs).")
@click.option("--limit", type=click.IntRange(min=1), help="Use at most this many validation samples.")
@click.option("--models-dir", "models_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Keep the converted candidates and variants (.tflite) here.")
@click.option("--trust-pickle", "trust_pickle", is_flag=True,
              help="Load pickled (joblib) candidates: loading a pickle runs code from the file; only files you trust.")
@click.option("--from", "from_json", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Choose again from a saved select JSON under other limits (nothing is measured).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (edgekit.select/1).")
@click.option("--save", "save_path", type=click.Path(path_type=Path), help="Also write the JSON here.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write the HTML report here.")
@click.pass_context
def cmd(ctx: click.Context, candidates: tuple[Path, ...], val: Path | None, labels: Path | None, board: str,
        variants: str, train: Path | None, calib: Path | None, epochs: int | None, runtime: str, accuracy_on: str,
        max_flash: str | None, max_ram: str | None, max_latency_ms: float | None, min_accuracy: float | None,
        prefer: str, battery: str, rate: str, sleep: str | None, runs: int, jobs: int | None, limit: int | None,
        models_dir: Path | None, trust_pickle: bool, from_json: Path | None, as_json: bool, save_path: Path | None,
        html_path: Path | None) -> None:
    """Measure CANDIDATES (.keras / .tflite / other models generate accepts, and their --variants) on one board;
    recommend the best that meets the limits. Exit code 1 when none does."""
    from edgekit.errors import UsageError

    if min_accuracy is not None and min_accuracy > 1:
        min_accuracy = min_accuracy / 100.0  # given in percent
    limits = {"max_flash": parse_size(max_flash, "--max-flash"), "max_ram": parse_size(max_ram, "--max-ram"),
              "max_latency_ms": max_latency_ms, "min_accuracy": min_accuracy}
    if from_json is not None:
        if candidates or val is not None:
            raise UsageError("--from chooses again from saved measurements: give no candidates or --val")
        from edgekit.selection.result import SelectionResult

        result = SelectionResult.load(from_json).rechoose(prefer=prefer, **limits)
    else:
        if not candidates:
            raise UsageError("no candidates", hint="edgekit select A.keras B.tflite --val VAL.npz")
        if val is None:
            raise UsageError("--val is required: the validation set (x, y) every candidate is scored on")
        from edgekit.selection import select

        quiet = as_json or not sys.stderr.isatty()
        result = select(list(candidates), val=val, val_labels=labels, board=board,
                        variants=[v for v in variants.split(",") if v],
                        train=train, calib=calib, runtime=runtime, accuracy_on=accuracy_on, prefer=prefer,
                        battery=battery, rate=rate, sleep=sleep, runs=runs, epochs=epochs, jobs=jobs, limit=limit,
                        models_dir=models_dir, trust_pickle=trust_pickle,
                        boards_dirs=list((ctx.obj or {}).get("boards_dirs", [])),
                        progress=None if quiet else (lambda msg: click.echo(msg, err=True)), **limits)
    data = result.to_dict()
    if save_path is not None:
        from edgekit.results import save_json

        save_json(data, save_path)
    if html_path is not None:
        from edgekit.selection.report import write_html

        write_html(result, html_path)
    if as_json:
        echo_json(data)
    else:
        from rich.console import Console

        from edgekit.selection.report import render

        render(result, Console(width=None if sys.stdout.isatty() else 200))
        if html_path is not None:
            click.echo(f"wrote {html_path}")
    if result.recommended is None:
        _no_choice(result)


def _no_choice(result: object) -> None:
    """Exit 1 with the reason and a hint naming the limit that ruled out the most candidates."""
    from edgekit.errors import EdgekitError

    cands = getattr(result, "candidates", [])
    ran = [m for m in cands if m.status == "ok"]
    if not ran:
        raise EdgekitError("no candidate could be measured on the board",
                           hint="see each candidate's reason above (or in the JSON's why_not)")
    why = {m.name: m.why_not for m in ran}
    closest = "; ".join(f"{k}: {v}" for k, v in list(why.items())[:3])
    raise EdgekitError(f"no candidate meets every constraint ({closest})",
                       hint="relax the limit that rules them out (the figures are in the table), or add smaller / "
                            "more accurate candidates; 'edgekit select --from RESULT.json' chooses again without "
                            "measuring")
