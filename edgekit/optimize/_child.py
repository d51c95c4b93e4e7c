"""The child of :mod:`edgekit.optimize.isolated`: ``python -m edgekit.optimize._child JOB RESULT``.

Reads the job (pickle: keyword arguments of :func:`work`), runs it and writes ``("ok", value)`` or
``("error", (class name, message, hint))`` to RESULT. Prints ``edgekit-stage: ...`` lines (to its log) so the
parent can say what it was doing when it died.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

from edgekit.optimize.isolated import STAGE_MARK


def stage(text: str) -> None:
    """Record what the child does now (one log line, flushed before the work starts)."""
    print(STAGE_MARK + text, flush=True)


def _stage_callback(keras: Any) -> Any:
    class Stage(keras.callbacks.Callback):
        """Names every fine-tuning run and epoch in the log."""

        def on_train_begin(self, logs: Any = None) -> None:
            stage(f"fine-tuning ({self.model.name})")

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            stage(f"fine-tuning ({self.model.name}, epoch {epoch + 1})")

    return Stage()


def work(*, model: str, data: str, val: str | None, output: str, num_calib: int, recipe: Any, board: str | None,
         boards_dirs: list[str], progress: bool) -> tuple[Any, str]:
    """Load, optimize, save: ``(OptimizationReport, description of the validation data)``."""
    from edgekit.optimize.chain import optimize
    from edgekit.optimize.finetune import import_keras
    from edgekit.optimize.io import load_inputs, save_model

    stage("loading the model and data")
    inputs = load_inputs(model, data, val, output, num_calib)
    stage("measuring and fine-tuning")
    final, report = optimize(inputs.model, inputs.x, inputs.y, recipe, val=inputs.x_val, val_labels=inputs.y_val,
                             calib=inputs.calib, board=board, boards_dirs=boards_dirs, progress=progress,
                             callbacks=[_stage_callback(import_keras())])
    stage(f"saving {output}")
    save_model(final, output)
    return report, inputs.val_source


def main(argv: list[str]) -> int:
    from edgekit.errors import EdgekitError

    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = pickle.loads(job_path.read_bytes())
    try:
        out: tuple[str, Any] = ("ok", work(**job))
        code = 0
    except EdgekitError as exc:
        out, code = ("error", (type(exc).__name__, exc.message, exc.hint)), 1
    except Exception:  # a bug: its traceback into the log (stdout), no result; the parent names the log
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        return 1
    tmp = result_path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(out))
    os.replace(tmp, result_path)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
