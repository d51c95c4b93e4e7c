"""A child process that runs :func:`edgekit._quant_eval.evaluate`, so a TFLite abort cannot kill us.

Importing TensorFlow takes seconds, so the child is started as early as possible (its import
overlaps the parent's conversion) and kept warm for the next conversion in the same process.
It exits when our end of its stdin closes (at exit, or if we die). Jobs travel through a
temporary directory (``job.npz`` + ``job.json`` in, ``result.json`` out); the directory's path
goes over the child's stdin, and the child answers with one ``DONE`` line on stdout.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, ModelError, NativeCrash

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
WORKER_ARGV = [sys.executable, "-m", "edgekit._quant_eval"]  # tests swap in a child that aborts
DONE = "edgekit-eval-done"

_warm: EvalWorker | None = None


def warm_worker() -> EvalWorker:
    """The process-wide worker, started now if there is none (or the last one died)."""
    global _warm
    if _warm is None or _warm.proc.poll() is not None:
        if _warm is not None:
            _warm.close()
        _warm = EvalWorker()
    return _warm


def discard_worker() -> None:
    """Stop the warm worker (after a crash or an interrupted job); the next call starts a new one."""
    global _warm
    if _warm is not None:
        _warm.close()
        _warm = None


atexit.register(discard_worker)


class EvalWorker:
    """One ``python -m edgekit._quant_eval`` child serving jobs one at a time."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(list(WORKER_ARGV), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=env, text=True)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Hand ``job`` to the child, wait for its answer, return the result dict.

        Raises :class:`NativeCrash` when the child dies from a signal (SIGABRT in TFLite's
        quantized kernels, SIGSEGV) and :class:`ModelError` when it reports a Python error.
        """
        from edgekit._quant_eval import decode

        assert self.proc.stdin is not None and self.proc.stdout is not None
        with tempfile.TemporaryDirectory(prefix="edgekit-eval-") as tmp:
            job_dir = Path(tmp)
            arrays = {k: v for k, v in job.items() if isinstance(v, np.ndarray)}
            scalars = {k: v for k, v in job.items() if not isinstance(v, np.ndarray)}
            np.savez(job_dir / "job.npz", **arrays)
            (job_dir / "job.json").write_text(json.dumps(scalars))
            try:
                self.proc.stdin.write(f"{job_dir}\n")
                self.proc.stdin.flush()
                answer = ""
                while answer != DONE:
                    line = self.proc.stdout.readline()
                    if not line:  # EOF: the child died
                        raise self._crash(self.proc.wait())
                    answer = line.strip()
            except BrokenPipeError:
                raise self._crash(self.proc.wait()) from None
            result = decode((job_dir / "result.json").read_text())
        if "error" in result:
            raise ModelError(f"evaluating the converted model failed: {result['error'].splitlines()[0][:300]}",
                             hint="rerun with isolate=False (Python API) to debug in-process")
        return result

    def _crash(self, code: int) -> EdgekitError:
        self._stderr.seek(0)
        lines = [ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        last = lines[-1][:200] if lines else "no message"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return NativeCrash(f"TFLite crashed ({name}) while running the converted model: {last}",
                               hint="the int8 model is degenerate (e.g. tiny activation scales from constant "
                                    "calibration data or dead layers); check the calibration data")
        return ModelError(f"the model evaluation process failed (exit code {code}): {last}")

    def close(self) -> None:
        """Stop the child (our own process, by its pid); it holds nothing worth waiting for."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()
