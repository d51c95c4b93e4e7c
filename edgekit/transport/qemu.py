"""Run a firmware ELF in ``qemu-system-arm`` with its UART on a local TCP socket, and never leave QEMU behind.

QEMU runs in its own process group with ``-icount shift=N`` (deterministic virtual time: one guest instruction
is 2**N ns), semihosting enabled (``ek-exit`` makes QEMU exit with a code) and the UART on
``tcp:127.0.0.1:PORT,server=on,wait=on,nodelay=on`` (the guest starts when the host connects; ``nodelay``
avoids ~44 ms of Nagle delay per reply). It is killed (the whole group, SIGKILL) when the context exits for any
reason -- errors, timeouts, KeyboardInterrupt -- when the object is garbage-collected, at interpreter exit, and,
on Linux, when the Python process itself dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from edgekit import proc
from edgekit.errors import BoardError, DeviceError, ModelError, signal_name
from edgekit.transport.serial import Link

log = logging.getLogger("edgekit.transport")

PROGRAM = "qemu-system-arm"
_BIND_RETRIES = 3


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (QEMU binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qemu_argv(elf: str | os.PathLike[str], *, machine: str, cpu: str = "", icount_shift: int | None = 0,
              semihosting: bool = True, port: int, program: str = PROGRAM,
              extra_args: tuple[str, ...] = ()) -> list[str]:
    """The QEMU command line for an ELF with its first UART on ``127.0.0.1:port``."""
    argv = [program, "-machine", machine]
    if cpu:
        argv += ["-cpu", cpu]
    argv += ["-nographic"]
    if icount_shift is not None:
        argv += ["-icount", f"shift={icount_shift}"]
    if semihosting:
        argv += ["-semihosting-config", "enable=on,target=native"]
    argv += ["-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", "-monitor", "none",
             *extra_args, "-kernel", str(elf)]
    return argv


def _preexec() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent


def _preexec_session_only() -> None:
    os.setsid()


def _kill_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL QEMU's process group and reap it (safe to call twice, and on a stopped process)."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=5)


def describe_exit(code: int) -> str:
    """What a QEMU exit status means, in words (a negative status is the signal that ended it)."""
    if code in (-signal.SIGABRT, 128 + signal.SIGABRT):
        return ("QEMU aborted (SIGABRT): the guest locked up, e.g. a fault inside the fault handler or a "
                "semihosting call with semihosting disabled")
    if code < 0:
        name = signal_name(-code)
        return f"QEMU was killed by {name}"
    return f"QEMU exited with code {code}" + (" (the firmware's exit code)" if code else "")


class QemuInstance:
    """``qemu-system-arm`` running one ELF, as a context manager that hands back a ``socket://`` URL.

    Args:
        elf: the firmware image.
        machine / cpu: ``-machine`` / ``-cpu`` (see ``qemu`` in the board profile).
        icount_shift: ``-icount shift=N`` (None: no icount; timers then follow host time).
        semihosting: enable semihosting (exit codes through ``ek-exit``).
        log_path: QEMU's stdout/stderr (default: next to the ELF, ``<elf>.qemu.log``, or a temp file).
        extra_args: appended before ``-kernel``.
        connect_timeout: seconds to wait for QEMU to listen when :meth:`link` connects.

    Example::

        with QemuInstance.for_board(board, "build/fw.elf") as q, q.link() as link:
            link.sync()
    """

    def __init__(self, elf: str | os.PathLike[str], *, machine: str, cpu: str = "", icount_shift: int | None = 0,
                 semihosting: bool = True, log_path: str | os.PathLike[str] | None = None,
                 extra_args: tuple[str, ...] = (), program: str = PROGRAM, connect_timeout: float = 10.0) -> None:
        self.elf = Path(elf)
        self.machine = machine
        self.cpu = cpu
        self.icount_shift = icount_shift
        self.semihosting = semihosting
        self.extra_args = tuple(extra_args)
        self.program = program
        self.connect_timeout = connect_timeout
        self.log_path = Path(log_path) if log_path else _default_log(self.elf)
        self.port: int | None = None
        self.argv: list[str] = []
        self._popen: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    @classmethod
    def for_board(cls, board: Any, elf: str | os.PathLike[str], **kwargs: Any) -> QemuInstance:
        """A QemuInstance configured from a BoardProfile's ``qemu`` section."""
        if board.qemu is None:
            raise BoardError(f"board '{board.id}' has no QEMU stand-in",
                             hint="pass --port to use a real board, or choose a qemu-* board")
        kwargs.setdefault("semihosting", board.firmware.semihosting)
        from edgekit.gpio import qemu_trace_args

        kwargs.setdefault("extra_args", qemu_trace_args(board))  # the energy pin's writes, in QEMU's log
        return cls(elf, machine=board.qemu.machine, cpu=board.qemu.cpu, icount_shift=board.qemu.icount_shift,
                   **kwargs)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Start QEMU; returns the ``socket://`` URL of the guest's UART (the guest runs once a client connects)."""
        if self._popen is not None:
            raise DeviceError("QEMU is already running for this instance")
        if not self.elf.is_file():
            raise ModelError(f"{self.elf}: no such firmware image", hint="build the project first (edgekit build)")
        program = proc.which(self.program)
        self.port = free_port()
        self.argv = qemu_argv(self.elf, machine=self.machine, cpu=self.cpu, icount_shift=self.icount_shift,
                              semihosting=self.semihosting, port=self.port, program=self.program,
                              extra_args=self.extra_args)
        cmdline = shlex.join(self.argv)
        log.info("$ %s", cmdline)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            out.write(f"$ {cmdline}\n".encode())
            out.flush()
            main = threading.current_thread() is threading.main_thread()
            # PDEATHSIG fires when the *thread* that forked exits: only safe from the main thread.
            self._popen = subprocess.Popen([program, *self.argv[1:]], stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT, close_fds=True,
                                           preexec_fn=_preexec if main else _preexec_session_only)
        self._finalizer = weakref.finalize(self, _kill_group, self._popen)
        return self.url

    def stop(self) -> int | None:
        """Kill QEMU (its whole process group) and return its exit status (None if it was never started)."""
        if self._popen is None:
            return None
        if self._finalizer is not None:
            self._finalizer()  # runs _kill_group once and detaches from GC/atexit
        return self._popen.returncode

    def __enter__(self) -> QemuInstance:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    @property
    def url(self) -> str:
        if self.port is None:
            raise DeviceError("QEMU has not been started")
        return f"socket://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def poll(self) -> int | None:
        """QEMU's exit status, or None while it runs."""
        return self._popen.poll() if self._popen else None

    def log_tail(self, lines: int = 4) -> str:
        """QEMU's last words: its error lines (``qemu: fatal: ...``) if any, else the last lines it printed."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        out = [ln.strip() for ln in text.splitlines()
               if ln.strip() and not ln.startswith("$ ") and "QEMU waiting for connection" not in ln]
        errors = [ln for ln in out if ln.startswith(("qemu: fatal", "qemu-system-", "qemu:"))]
        return " | ".join((errors or out)[-lines:])

    def check_alive(self) -> None:
        """Raise DeviceError (exit status, its meaning, the tail of QEMU's log) when QEMU is no longer running."""
        if self._popen is None:
            raise DeviceError("QEMU has not been started")
        code = self._popen.poll()
        if code is None:
            return
        tail = self.log_tail()
        raise DeviceError(describe_exit(code) + f" while running {self.elf.name}",
                          hint=f"last QEMU output: {tail or '(nothing)'}; full log: {self.log_path}")

    def is_stopped(self) -> bool:
        """True when QEMU is suspended (SIGSTOP / Ctrl-Z): it then holds the socket open but never answers."""
        if self._popen is None:
            return False
        try:
            stat = Path(f"/proc/{self._popen.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rpartition(")")[2].split()[0] in ("T", "t")

    def wait(self, timeout: float) -> int:
        """Wait for QEMU to exit by itself (e.g. after ``ek-exit``); DeviceError after ``timeout`` s."""
        if self._popen is None:
            raise DeviceError("QEMU has not been started")
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"QEMU did not exit within {timeout:g} s", hint=f"full log: {self.log_path}") from None

    # ------------------------------------------------------------------ connecting

    def _alive_for_link(self) -> None:
        self.check_alive()
        if self.is_stopped():
            raise DeviceError(f"QEMU (pid {self.pid}) is stopped (SIGSTOP/Ctrl-Z) and cannot answer",
                              hint=f"something suspended it (a debugger, kill -STOP); QEMU log: {self.log_path}")

    def link(self, *, timeout: float = 10.0, log_path: str | os.PathLike[str] | None = None,
             baudrate: int = 115200) -> Link:
        """Start QEMU if needed and return an open :class:`Link` to its UART (not yet synchronised).

        If another process grabbed the chosen port before QEMU bound it, QEMU is restarted on a new port.
        """
        if log_path is None:
            log_path = self.log_path.with_name(self.log_path.name.replace(".qemu.log", "") + ".serial.log")
        for attempt in range(_BIND_RETRIES):
            if self._popen is None:
                self.start()
            lk = Link(self.url, baudrate=baudrate, timeout=timeout, log_path=log_path,
                      alive=self._alive_for_link, open_timeout=self.connect_timeout)
            try:
                return lk.open()
            except DeviceError:
                lk.close()
                code = self.poll()
                if code is None or "Address already in use" not in self.log_tail(20) or attempt == _BIND_RETRIES - 1:
                    self.stop()
                    raise
                log.info("port %s was taken before QEMU bound it; retrying on a new port", self.port)
                self.stop()
                self._popen = None
        raise AssertionError("unreachable")


def _default_log(elf: Path) -> Path:
    if elf.parent.is_dir() and os.access(elf.parent, os.W_OK):
        return elf.with_name(elf.name + ".qemu.log")
    return Path(tempfile.gettempdir()) / f"edgekit-{os.getpid()}-{elf.stem}.qemu.log"
