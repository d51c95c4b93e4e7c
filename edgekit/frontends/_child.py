"""Run one converter job in a child process with a timeout (litert-torch and the ONNX loader can crash).

A job is a directory: ``job.json`` (scalars) and ``job.npz`` (arrays) in, ``result.json`` plus
files the child names in it out. The child is ``python -m edgekit.frontends._worker JOB_DIR``,
started in its own session so a timeout can end it and everything it started (by its process
group id, nothing else). A crash, a timeout or a Python error in the child becomes a
:class:`~edgekit.errors.ModelError` carrying the converter's last message and a hint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import ModelError, NativeCrash, UnsupportedOpError, signal_name
from edgekit.proc import python_child_env

WORKER_ARGV = [sys.executable, "-m", "edgekit.frontends._worker"]  # tests swap in a child that crashes
DEFAULT_TIMEOUT = 600.0


def run_job(job_dir: Path, job: dict[str, Any], *, what: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Write ``job`` into ``job_dir``, run the worker on it, return its ``result.json`` as a dict.

    Raises:
        NativeCrash: the child died from a signal (SIGSEGV/SIGABRT in a converter's native code).
        ModelError: the child timed out, exited non-zero, or reported an error
            (:class:`UnsupportedOpError` when the error names ops the route cannot map).
    """
    arrays = {k: v for k, v in job.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in job.items() if not isinstance(v, np.ndarray)}
    np.savez(job_dir / "job.npz", **arrays)
    (job_dir / "job.json").write_text(json.dumps(scalars))
    # OMP_NUM_THREADS: two cores shared, torch's default thread pool oversubscribes
    env = python_child_env(TF_CPP_MIN_LOG_LEVEL="2", OMP_NUM_THREADS="1")
    log_path = job_dir / "child.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*WORKER_ARGV, str(job_dir)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ModelError(f"{what} did not finish within {timeout:.0f} s (stopped): {_last_line(log_path)}",
                             hint="a converter stuck on this model; simplify the model or raise the timeout "
                                  "(timeout=... in the Python API)") from None
        except BaseException:  # interrupted: do not leave the converter running
            _kill_group(proc)
            raise
    result_path = job_dir / "result.json"
    if code < 0:
        name = signal_name(-code)
        raise NativeCrash(f"{what} crashed ({name}): {_last_line(log_path)}",
                          hint="the converter's native code failed on this model; nothing was written. "
                               "Try simplifying the model (e.g. export it again with a newer torch/onnx)")
    if code != 0 or not result_path.exists():
        raise ModelError(f"{what} failed (exit code {code}): {_last_line(log_path)}",
                         hint="rerun with EDGEKIT_KEEP_JOB=1 to keep the job directory and its child.log")
    result = json.loads(result_path.read_text())
    if "error" in result:
        cls = UnsupportedOpError if result.get("kind") == "unsupported" else ModelError
        raise cls(result["error"], hint=result.get("hint"))
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    """End the child and whatever it started: its own process group (it leads a new session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _last_line(log_path: Path) -> str:
    """The child's last meaningful log line (warnings and progress lines skipped when something else exists)."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no message"
    useful = [ln for ln in lines if "Warning" not in ln and not ln.startswith(("(", "warnings.warn"))]
    pick = (useful or lines or ["no message"])[-1]
    return pick[:300]
