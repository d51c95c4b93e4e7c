"""``edgekit optimize``'s work in a child process: a native crash in TensorFlow is an error here, not a dead CLI.

Training, conversion, on-board measurement and saving run in ``python -m edgekit.optimize._child`` (the job and its
result travel as pickle files between our own two processes). The child starts with ``TF_ENABLE_ONEDNN_OPTS=0``
unless the caller's environment sets it: TensorFlow 2.21's oneDNN kernels corrupt the heap while training some
shapes (a width-8 ResNet-8 on 435 samples at batch 32 dies in ``model.fit`` with ``malloc(): unaligned tcache
chunk detected``, ``double free or corruption`` or SIGSEGV; see docs/optimize.md), and the early-stopping split
changes the sample count, so any user can land on such a shape. A child killed by a signal becomes a
:class:`~edgekit.errors.NativeCrash` naming the signal, the stage and the log's last line, with a hint; the
output model is written by the child atomically at the very end, so a crash leaves nothing half-written.
Errors the child raises (:class:`~edgekit.errors.EdgekitError`) come back as the same class, message and hint.
"""

from __future__ import annotations

import contextlib
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from edgekit import errors
from edgekit.errors import NativeCrash, signal_name
from edgekit.proc import python_child_env

CHILD_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}  # defaults; the caller's values win
STAGE_MARK = "edgekit-stage: "  # the child's log lines naming what it is doing


def run_job(job: dict[str, Any]) -> Any:
    """Run ``job`` (keyword arguments of :func:`edgekit.optimize._child.work`) in a child process; its return
    value. Raises the child's EdgekitError, or NativeCrash when the child dies."""
    env = python_child_env(**CHILD_ENV)
    tmp = Path(tempfile.mkdtemp(prefix="edgekit-optimize-"))
    job_path, result_path, log_path = tmp / "job.pkl", tmp / "result.pkl", tmp / "child.log"
    job_path.write_bytes(pickle.dumps(job))
    keep_log = False
    try:
        with open(log_path, "wb") as log:
            # progress bars are drawn on stderr when it is a terminal: the child keeps it then
            stderr = None if sys.stderr.isatty() else log
            proc = subprocess.Popen([sys.executable, "-m", "edgekit.optimize._child", str(job_path),
                                     str(result_path)], stdin=subprocess.DEVNULL, stdout=log, stderr=stderr, env=env)
            try:
                code = proc.wait()
            except BaseException:  # Ctrl-C or our own death: do not leave the child training
                proc.kill()
                proc.wait()
                raise
        if not result_path.is_file():
            keep_log = True
            raise _crash(code, log_path, env)
        kind, payload = pickle.loads(result_path.read_bytes())
        if kind == "error":
            cls_name, message, hint = payload
            cls = getattr(errors, cls_name, errors.EdgekitError)
            raise cls(message, hint=hint)
        return payload
    finally:
        for p in (job_path, result_path, *(() if keep_log else (log_path,))):
            with contextlib.suppress(OSError):
                p.unlink()
        if not keep_log:
            with contextlib.suppress(OSError):
                tmp.rmdir()


def _crash(code: int, log_path: Path, env: dict[str, str]) -> NativeCrash:
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    stages = [ln[len(STAGE_MARK):] for ln in lines if ln.startswith(STAGE_MARK)]
    stage = stages[-1] if stages else "starting"
    last = next((ln for ln in reversed(lines) if not ln.startswith(STAGE_MARK)), "")
    last = f" (last output: {last[:160]})" if last else ""
    if code < 0:
        name = signal_name(-code)
        what = f"TensorFlow crashed in the optimize process ({name}) while {stage}{last}"
    else:
        what = f"the optimize process failed (exit code {code}) while {stage}{last}"
        return NativeCrash(what, hint=f"an unexpected error, not a bad input (please report it); nothing was written; "
                                      f"the traceback is in the child's log: {log_path}")
    onednn = env.get("TF_ENABLE_ONEDNN_OPTS")
    if onednn == "0":
        hint = ("nothing was written; a different --batch-size (or more/less data) changes the shapes TensorFlow "
                "trains on")
    else:
        hint = (f"TF_ENABLE_ONEDNN_OPTS={onednn} in your environment: TensorFlow's oneDNN kernels crash on some "
                "training shapes; unset it (edgekit then sets 0) or change --batch-size; nothing was written")
    return NativeCrash(what, hint=f"{hint}; the child's log: {log_path}")
