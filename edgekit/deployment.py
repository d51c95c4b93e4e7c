"""``deploy``: a model to numbers measured on a board in one call -- convert (unless given a .tflite), generate,
build, flash, benchmark -- through the same API functions the single verbs use."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError, UsageError

PORT_WAIT_S = 10.0  # a board re-enumerates on USB after flashing


@dataclass
class DeployResult:
    """What each stage produced (``bench`` is None after a dry run)."""

    tflite: Path
    project_dir: Path
    build: Any
    flash: Any
    bench: Any
    converted: bool

    def to_dict(self) -> dict[str, Any]:
        return {"tflite": str(self.tflite), "converted": self.converted, "project_dir": str(self.project_dir),
                "build": self.build.to_dict(), "flash": self.flash.to_dict(),
                "bench": self.bench.to_dict() if self.bench is not None else None}


def deploy(model: str | os.PathLike[str], board: str, *, out_dir: str | os.PathLike[str] | None = None,
           calib: Any = None, runtime: str = "auto", port: str | None = None, probe: str | None = None,
           runs: int = 10, warmup: int = 1, power: Any = None, dry_run: bool = False,
           boards_dirs: list[str] | None = None, place: Any = None) -> DeployResult:
    """Convert (Keras/SavedModel + ``calib``; a ``.tflite`` is used as is), generate, build, flash and bench.

    Args:
        model: a ``.tflite`` file, or a Keras model file / SavedModel directory (then ``calib`` is required).
        board: board id.
        out_dir: where the converted model and the project go (default ``./<model>-<board>``).
        port / probe: passed to the flasher; ``port`` is also the benchmark's serial port (default: found by the
            board's USB id once it is back from flashing).
        power: a ``--power`` spec for measured energy (see :func:`edgekit.benchmarking.bench`).
        dry_run: stop after printing the flash steps (nothing is written to the board, nothing benchmarked).
        place: an acquired labgrid place (:func:`edgekit.labgrid.acquire`): flash and bench go through it.
    """
    from edgekit.benchmarking import bench
    from edgekit.boards import load_board
    from edgekit.buildsys import build
    from edgekit.flashers import flash
    from edgekit.generation import generate

    src = Path(model)
    prof = load_board(board, boards_dirs)
    out = Path(out_dir) if out_dir else Path.cwd() / f"{src.stem}-{prof.id}"
    out.mkdir(parents=True, exist_ok=True)
    converted = src.suffix.lower() != ".tflite"
    if converted:
        if calib is None:
            raise UsageError(f"{src}: converting a Keras/SavedModel model needs calibration data",
                             hint="pass --calib DATA.npy (or give a .tflite model)")
        from edgekit.conversion import convert

        tflite = out / f"{src.stem}.int8.tflite"
        convert(src, calib, output=tflite, progress=False)
    else:
        tflite = src
    gen = generate(tflite, prof, runtime, out_dir=out / "project", boards_dirs=boards_dirs)
    built = build(gen.project_dir, boards_dirs=boards_dirs)
    if place is not None:
        flashed = place.flash(gen.project_dir, board=prof.id, dry_run=dry_run)
    else:
        flashed = flash(gen.project_dir, prof, probe=probe, port=port, dry_run=dry_run, boards_dirs=boards_dirs)
    if dry_run:
        return DeployResult(tflite, gen.project_dir, built, flashed, None, converted)
    if place is not None:
        result = place.bench(gen.project_dir, board=prof.id, runs=runs, warmup=warmup, power=power)
        return DeployResult(tflite, gen.project_dir, built, flashed, result, converted)
    bench_port = None if prof.is_emulated else _wait_for_port(prof, port)
    result = bench(gen.project_dir, board=prof, runs=runs, warmup=warmup, port=bench_port, power=power)
    return DeployResult(tflite, gen.project_dir, built, flashed, result, converted)


def _wait_for_port(prof: Any, port: str | None) -> str:
    from edgekit.devices import resolve_port

    if port not in (None, "", "auto") and prof.flash.method not in ("uf2",):
        return str(port)
    deadline = time.monotonic() + PORT_WAIT_S
    while True:
        try:
            return resolve_port(prof, "auto")
        except DeviceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)

