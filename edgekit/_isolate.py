"""The parent's end of the converter child (:mod:`edgekit._convert_child`): a crash there is an error here.

Importing TensorFlow takes seconds, so the child is started as early as possible (its import
overlaps the parent's input checks) and kept warm for the next conversion in the same process.
It exits when our end of its stdin closes (at exit, or if we die). Everything the child prints
goes to its log file; :attr:`ConvertWorker.job_log` hands back the part of one job (``--debug``,
error messages). A child that dies (SIGSEGV in the converter, SIGABRT in TFLite) or runs past
its time limit becomes a :class:`~edgekit.errors.NativeCrash` naming the signal, the stage and
the log's last line; the dead child is discarded and the next job starts a fresh one.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from edgekit import errors
from edgekit.errors import EdgekitError, NativeCrash, signal_name
from edgekit.proc import python_child_env

WORKER_ARGV = [sys.executable, "-m", "edgekit._convert_child"]  # the child gets its log path appended
JOB_MARK = "---- job "  # the child's log line that starts each job
DEFAULT_TIMEOUT = 1800.0  # seconds for one job; MobileNetV2 at 96x96 converts in ~7 s here

_warm: ConvertWorker | None = None


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_count(v: object) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool))


def _is_dims(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in v)


def _is_names(v: object) -> bool:
    return v is None or (isinstance(v, list) and all(map(_is_str, v)))


# event -> field -> (required, check): what the child's messages carry (see edgekit._convert_child)
MESSAGE_FIELDS: dict[str, dict[str, tuple[bool, Callable[[object], bool]]]] = {
    "shape": {"shape": (True, _is_dims), "name": (False, lambda v: v is None or _is_str(v)),
              "recurrent": (False, _is_names), "stateful": (False, lambda v: isinstance(v, bool)),
              "loops": (False, _is_names)},
    "progress": {"stage": (True, _is_str), "done": (False, _is_count), "total": (False, _is_count)},
    "error": {"message": (True, _is_str), "kind": (False, _is_str), "hint": (False, lambda v: v is None or _is_str(v))},
}


def parse_message(line: bytes) -> dict | None:
    """One line of the child's protocol stream as a message, or None when it is not a well-formed one
    (not a JSON object with a string ``event``, or a field of :data:`MESSAGE_FIELDS` missing or mistyped)."""
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("event"), str):
        return None
    for name, (required, ok) in MESSAGE_FIELDS.get(msg["event"], {}).items():
        if (name in msg and not ok(msg[name])) or (required and name not in msg):
            return None
    return msg


def warm_worker() -> ConvertWorker:
    """The process-wide worker, started now if there is none (or the last one died)."""
    global _warm
    if _warm is None or _warm.proc.poll() is not None:
        if _warm is not None:
            _warm.close()
        _warm = ConvertWorker()
    return _warm


def discard_worker() -> None:
    """Stop the warm worker (after a crash, a timeout or an interrupted job); the next call starts a new one."""
    global _warm
    if _warm is not None:
        _warm.close()
        _warm = None


atexit.register(discard_worker)


class ConvertWorker:
    """One converter child serving jobs one at a time."""

    def __init__(self, proc: subprocess.Popen | None = None, log_path: Path | None = None) -> None:
        """Start the child; or, with ``proc`` and ``log_path``, serve through a child started elsewhere
        (the fuzz harness hands in a stand-in that replays a recorded message stream)."""
        if proc is None or log_path is None:
            env = python_child_env(TF_CPP_MIN_LOG_LEVEL="2")
            fd, log = tempfile.mkstemp(prefix="edgekit-convert-", suffix=".log")
            os.close(fd)
            log_path = Path(log)
            proc = subprocess.Popen([*WORKER_ARGV, str(log_path)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.log_path = log_path
        self.proc = proc
        self._buf = b""
        self._job_start = 0
        self._hint: str | None = None
        self.keep_log = False  # set after a crash: the log is named in the error message

    @property
    def job_log(self) -> str:
        """What the child printed during the current (or last) job."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._job_start)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def run(self, job_dir: Path, on_shape: Callable[[dict], None], on_progress: Callable[[dict], None],
            timeout: float = DEFAULT_TIMEOUT) -> None:
        """Run the job in ``job_dir``: ``on_shape(message)`` writes ``data.npz`` (or raises to cancel),
        ``on_progress(message)`` sees each progress event. Returns when the child is done.

        Raises the child's :class:`EdgekitError` as is, and :class:`NativeCrash` when the child dies
        or exceeds ``timeout`` seconds (then it is stopped).
        """
        self._job_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        deadline = time.monotonic() + timeout
        stage, self._hint = "loading the model", None
        self._send({"dir": str(job_dir)})
        while True:
            msg = self._receive(deadline, stage, timeout)
            event = msg.get("event")
            if event == "shape":
                loops = msg.get("loops") or []
                if loops:
                    self._hint = (f"layer(s) {', '.join(loops)} keep a recurrent loop edgekit does not unroll, and "
                                  "TF 2.21 crashes quantizing such loops; use keras.layers.LSTM, GRU or SimpleRNN "
                                  "(unrolled by edgekit) instead of RNN(cell)")
                try:
                    on_shape(msg)
                except BaseException:
                    self._send({"go": False})
                    self._wait_for("cancelled", deadline, stage, timeout)
                    raise
                self._send({"go": True})
                stage = "tracing the model"
            elif event == "progress":
                done, total = msg.get("done"), msg.get("total")
                stage = msg["stage"] + (f" ({done}/{total})" if total and done is not None else "")
                on_progress(msg)
            elif event == "done":
                return
            elif event == "error":
                cls = getattr(errors, msg.get("kind", ""), None)
                cls = cls if isinstance(cls, type) and issubclass(cls, EdgekitError) else errors.ModelError
                raise cls(msg["message"], hint=msg.get("hint"))

    def _wait_for(self, event: str, deadline: float, stage: str, timeout: float) -> None:
        while self._receive(deadline, stage, timeout).get("event") != event:
            pass

    def _send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the child died; _receive reports how

    def _receive(self, deadline: float, stage: str, timeout: float) -> dict:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise NativeCrash(f"the converter did not finish within {timeout:.0f} s (stopped while {stage})",
                                  hint=f"a larger model or more calibration data needs more time; its log: "
                                       f"{self.log_path}")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise self._crash(stage, self._hint)
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        msg = parse_message(line)
        if msg is None:  # something else wrote into the protocol stream, or the child has a bug: stop it
            self._kill()
            raise NativeCrash(f"the converter process sent a malformed message while {stage}: "
                              f"{line[:120].decode(errors='replace')!r}",
                              hint=f"an edgekit bug or a library printing into the protocol stream; its log: "
                                   f"{self.log_path}")
        return msg

    def _crash(self, stage: str, hint: str | None = None) -> EdgekitError:
        code = self.proc.wait()
        self.keep_log = True
        lines = [ln for ln in self.job_log.splitlines() if ln.strip() and not ln.startswith(JOB_MARK)]
        last = f": {lines[-1].strip()[:200]}" if lines else ""
        if code < 0:
            name = signal_name(-code)
            return NativeCrash(f"TensorFlow crashed ({name}) while {stage}{last}", hint=(hint or (
                "degenerate quantization (constant calibration data, dead layers) is a common cause; check the "
                "calibration data")) + f"; the converter's log: {self.log_path}")
        return NativeCrash(f"the converter process exited (code {code}) while {stage}{last}",
                           hint=f"its log: {self.log_path}")

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.keep_log = True

    def close(self) -> None:
        """Stop the child (our own process, by its pid); remove its log unless an error named it."""
        if self.proc.poll() is None:
            if self.proc.stdin is not None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass
        if not self.keep_log:
            self.log_path.unlink(missing_ok=True)
