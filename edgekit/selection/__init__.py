"""``edgekit.select``: which model to ship on one board -- every candidate measured there, a Pareto front over
accuracy x latency x flash, and a recommendation under the user's limits.

Flow: :mod:`~edgekit.selection.candidates` turns files and ``--variants`` into model files (conversion and
fine-tuning, one after the other); :mod:`~edgekit.selection.evaluate` measures each on the board (generate, build,
bench on QEMU, accuracy from the device's outputs, cost), candidates in parallel, each in its own temporary
directory; :mod:`~edgekit.selection.result` flags the front and recommends; :mod:`~edgekit.selection.report` prints
the table and writes the HTML page.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import DataError, UsageError
from edgekit.selection.result import SelectionResult

__all__ = ["SelectionResult", "select"]

DEFAULT_CALIB = 100


def select(candidates: Sequence[str | os.PathLike[str]], *, val: Any, val_labels: Any = None,
           board: str = "qemu-cortex-m4",
           variants: Sequence[str] = (), train: Any = None, calib: Any = None, runtime: str = "auto",
           accuracy_on: str = "device", max_flash: float | None = None, max_ram: float | None = None,
           max_latency_ms: float | None = None, min_accuracy: float | None = None, prefer: str = "accuracy",
           battery: str = "1000mAh", rate: str = "60/h", sleep: str | None = None, runs: int = 3,
           epochs: int | None = None, jobs: int | None = None, limit: int | None = None,
           models_dir: str | os.PathLike[str] | None = None, boards_dirs: list[str] | None = None,
           trust_pickle: bool = False, progress: Any = None) -> SelectionResult:
    """Measure every candidate on ``board`` and recommend one.

    Args:
        candidates: model files: ``.tflite``, Keras (``.keras``/``.h5``/SavedModel, converted to int8 here), or any
            other file :func:`edgekit.generate` accepts. A file that fails (unreadable, refused operator, does not
            fit the board) stays in the result with its reason and is never recommended.
        val: the validation set with labels (class ids or one-hot rows): a ``.npz`` (``x``, ``y``) or ``(x, y)``;
            or inputs alone (``.npy``, an array) with ``val_labels`` (``.npy``/``.npz`` or an array), as in convert.
        board: the board id (a QEMU board: every candidate is benchmarked there).
        variants: ``optimize`` variants made of each Keras candidate (``prune=0.5``, ``structured=0.25``,
            ``lowrank=0.9``, ``rank=8``, ``qat``, ``int16``, ``float32``, a recipe ``.yaml``; ``+`` chains them).
            ``float32`` keeps the conversion's float TFLite model: the result's ``payoffs()`` compares it with the
            int8 one.
        train: training data for the variants' fine-tuning (``.npz`` or ``(x, y)``).
        calib: calibration inputs for conversions (default: the first 100 training samples, else validation ones).
        runtime: ``auto``, ``edgekit`` or ``tflm`` (see :func:`edgekit.generate`).
        accuracy_on: ``device`` (the firmware's outputs under QEMU, :func:`edgekit.validate`) or ``host`` (the TFLM
            host interpreter; faster, same int8 arithmetic).
        max_flash, max_ram: limits in bytes; max_latency_ms; min_accuracy in [0, 1].
        prefer: what to maximize on the front within the limits: ``accuracy``, ``latency`` or ``flash``.
        battery, rate, sleep: the duty cycle for battery life (see :func:`edgekit.cost.cost_report`).
        runs: timed inferences per benchmark. epochs: fine-tuning epochs for the variants (default: optimize's).
        jobs: candidates measured at once (default: the CPU count). limit: use at most this many samples.
        models_dir: keep the converted candidates and variants (``.tflite``) in this directory (default: they are
            made in a temporary directory and removed).
        trust_pickle: load pickled candidates (a scikit-learn model saved with joblib/pickle runs code when loaded:
            only for files you trust).
        progress: a callable ``progress(message)`` told when each stage starts and each candidate is done.

    Raises:
        UsageError / DataError: bad options or data (before anything is measured).
    """
    from edgekit.boards import load_board
    from edgekit.cost import check_options
    from edgekit.selection.candidates import parse_variant, prepare
    from edgekit.selection.evaluate import Settings, evaluate
    from edgekit.selection.result import PREFER, constraints_of

    say = progress or (lambda _msg: None)
    paths = [Path(c) for c in candidates]
    if not paths:
        raise UsageError("no candidates", hint="give model files: edgekit select A.keras B.tflite --val VAL.npz")
    limits = {"max_flash": max_flash, "max_ram": max_ram, "max_latency_ms": max_latency_ms,
              "min_accuracy": min_accuracy}
    constraints_of(limits)
    if prefer not in PREFER:
        raise UsageError(f"--prefer: {prefer!r} is not one of {', '.join(PREFER)}")
    if accuracy_on not in ("device", "host"):
        raise UsageError(f"accuracy_on: {accuracy_on!r} is not 'device' or 'host'")
    check_options(battery, rate, sleep)
    prof = load_board(board, boards_dirs)
    if prof.qemu is None or not prof.is_emulated:
        raise UsageError(f"select benchmarks every candidate under QEMU; {prof.id} is not an emulated board",
                         hint="use the board's QEMU stand-in (edgekit boards list: qemu-*), or bench on the board "
                              "with edgekit deploy")
    parsed = [parse_variant(v) for v in variants]
    keras = [p for p in paths if p.exists() and _is_keras(p)]
    if parsed and not keras:
        raise UsageError("--variants are made from Keras candidates, and none was given",
                         hint="add a .keras model to the candidates")
    x_val, y_val, val_source = _labelled(val, "validation data", limit, val_labels)
    train_xy = _labelled(train, "training data", None)[:2] if train is not None else None
    if any(v.needs_training for v in parsed) and train_xy is None:
        raise UsageError("--variants with fine-tuning (" + ", ".join(v.spec for v in parsed if v.needs_training)
                         + ") need training data", hint="pass --train DATA.npz (x, y), or keep to int16")
    notes: list[str] = []
    xc = _calib(calib, train_xy, x_val, notes) if keras else None

    with tempfile.TemporaryDirectory(prefix="edgekit-select-") as tmp:
        work = tmp
        if models_dir is not None:
            work = str(models_dir)
            Path(work).mkdir(parents=True, exist_ok=True)
        if keras:
            say(f"preparing {len(keras)} Keras candidate(s) and {len(parsed)} variant(s) each")
        prepared = prepare(paths, parsed, Path(work), calib=xc, x_val=x_val, y_val=y_val, train=train_xy,
                           epochs=epochs)
        _warm_cycles_plugin()
        settings = Settings(prof, x_val, y_val, runtime, runs, accuracy_on, battery, rate, sleep, boards_dirs,
                            trust_pickle)
        workers = max(1, min(jobs or os.cpu_count() or 1, len(prepared)))
        say(f"measuring {len(prepared)} candidate(s) on {prof.id}, {workers} at a time")

        def one(item: Any) -> Any:
            m = evaluate(item, settings)
            say(f"{m.name}: " + ("ok" if m.status == "ok" else f"failed at {m.stage}"))
            return m

        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            measured = list(pool.map(one, prepared))
        finally:  # on Ctrl-C: candidates not started yet never start; running ones finish and clean up
            pool.shutdown(wait=True, cancel_futures=True)
    if models_dir is None:
        for m in measured:
            if m.kind in ("keras", "variant"):
                m.model = None  # its converted file lived in the temporary directory
    result = SelectionResult(prof.id, val_source, measured, limits, prefer, notes=notes, settings={
        "runtime": runtime, "accuracy_on": accuracy_on, "runs": runs, "battery": battery, "rate": rate,
        "sleep": sleep, "variants": list(variants), "calibration_samples": None if xc is None else len(xc),
        "jobs": workers})
    return result.choose()


def _is_keras(p: Path) -> bool:
    from edgekit.selection.candidates import candidate_kind

    return candidate_kind(p) == "keras"


def _labelled(data: Any, what: str, limit: int | None, labels: Any = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, y, source)`` from a ``.npz`` path or an ``(x, y)`` pair (or inputs plus ``labels``); class ids."""
    from edgekit.data import load_array_file

    if isinstance(data, (str, os.PathLike)):
        x, y = load_array_file(data, what)
        source = str(data)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), None if data[1] is None else np.asarray(data[1])
        source = f"arrays ({what})"
    elif isinstance(data, np.ndarray):
        x, y, source = data, None, f"array ({what})"
    else:
        raise UsageError(f"{what}: pass a .npz file (x, y), an (x, y) pair of arrays, or inputs with labels")
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)):
            y = load_array_file(labels, f"{what} labels")[0]
            source += f", labels {labels}"
        else:
            y = np.asarray(labels)
    if y is None:
        raise DataError(f"{what}: {source}: no labels",
                        hint="save it with numpy.savez(path, x=x, y=y), or give the labels (--labels Y.npy)")
    if y.ndim == 2 and y.shape[1] > 1:
        y = np.argmax(y, axis=1)
    y = y.reshape(len(y)) if y.ndim == 2 else y
    if y.ndim != 1 or len(y) != len(x):
        each = f" of shape {y.shape[1:]}" if y.ndim > 1 else ""
        raise DataError(f"{what}: {source}: {len(y)} labels{each} for {len(x)} samples",
                        hint="labels are class ids (N,) or one-hot rows (N, classes)")
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        raise DataError(f"{what}: {source}: labels are not class ids (select ranks classifiers by top-1 accuracy)")
    if len(x) == 0:
        raise DataError(f"{what}: {source}: no samples")
    if limit is not None:
        x, y = x[:limit], y[:limit]
        source += f" (first {len(x)})"
    else:
        source += f" ({len(x)} samples)"
    x = np.asarray(x)
    if x.dtype.kind == "f" and x.dtype != np.float32:
        x = x.astype(np.float32)  # float64 from numpy defaults: the models take float32
    return x, y.astype(np.int64), source


def _calib(calib: Any, train: tuple[np.ndarray, np.ndarray] | None, x_val: np.ndarray, notes: list[str]) -> Any:
    if calib is not None:
        if isinstance(calib, (str, os.PathLike)):
            from edgekit.data import load_array_file

            return load_array_file(calib, "calibration data")[0]
        return np.asarray(calib)
    if train is not None:
        return train[0][:DEFAULT_CALIB]
    notes.append(f"calibration: the first {min(DEFAULT_CALIB, len(x_val))} validation samples (no --calib or "
                 "--train given); the accuracy is then measured partly on data the quantizer saw")
    return x_val[:DEFAULT_CALIB]


def _warm_cycles_plugin() -> None:
    """Build edgekit's QEMU instruction-mix plugin once before candidates run at once (each bench would else build
    it on a fresh cache); a failure is each bench's to report."""
    try:
        from edgekit.cycles.plugin import build_plugin

        build_plugin()
    except Exception:  # a missing compiler becomes a note in each bench
        pass
