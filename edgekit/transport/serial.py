"""A line-oriented link to a device over ``serial.serial_for_url``: a real port or QEMU's ``socket://`` UART.

Every byte in and out is appended to a log file (``<seconds> <direction> <bytes repr>``, ``>`` host to device,
``<`` device to host, ``#`` events), and every timeout names what it waited for, the last output and that log.
The command grammar (``name%`` ... ``m-ready``, ``e-[...]`` errors) is described in ``docs/protocol.md``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError, ToolMissing

log = logging.getLogger("edgekit.transport")

READY = "m-ready"
_POLL_S = 0.05  # read granularity: how quickly a dead QEMU or a deadline is noticed


# pyserial's socket:// handler, closed by another thread while it reads or writes, fails with these
# (its socket attribute becomes None, select() gets a closed descriptor) instead of a SerialException.
_CLOSED_UNDER_US = (AttributeError, TypeError, ValueError)


def _serial_module() -> Any:
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a core dependency
        raise ToolMissing("python package 'pyserial' is not installed", hint="pip install pyserial") from None
    return serial


class Link:
    """A command/response link to edgekit firmware.

    Args:
        url: a serial port (``/dev/ttyACM0``) or any pyserial URL (``socket://127.0.0.1:5555``).
        baudrate: serial speed (ignored by ``socket://``).
        timeout: default seconds to wait for a reply before a DeviceError.
        log_path: file that receives every byte in and out (default: a new file in the temp directory).
        alive: called when the link stalls or breaks; raises DeviceError when the far end is known to be dead
            (QemuInstance.check_alive), so the error says why instead of "timed out".
        open_timeout: seconds to keep retrying to open the port (QEMU still starting, USB re-enumerating).
    """

    def __init__(self, url: str, *, baudrate: int = 115200, timeout: float = 10.0,
                 log_path: str | os.PathLike[str] | None = None, alive: Callable[[], None] | None = None,
                 open_timeout: float = 10.0) -> None:
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self.open_timeout = open_timeout
        self.alive = alive
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="edgekit-link-", suffix=".log")
            os.close(fd)
            log_path = name
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "a", encoding="utf-8")  # closed in __exit__ or when collected
        weakref.finalize(self, self._log.close)
        self._t0 = time.monotonic()
        self._ser: Any = None
        self.synced = False  # True once sync() got an answer on this connection
        self._partial = b""
        self._rx_log = b""
        self._lines: deque[str] = deque()
        self._tail: deque[str] = deque(maxlen=12)

    # ------------------------------------------------------------------ open / close

    def open(self) -> Link:
        """Open the port, retrying until ``open_timeout`` (DeviceError naming the port and the cause)."""
        serial = _serial_module()
        deadline = time.monotonic() + self.open_timeout
        while True:
            try:
                ser = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=_POLL_S,
                                            write_timeout=self.timeout, do_not_open=True)
                ser.open()
                break
            except (serial.SerialException, OSError, ValueError) as exc:
                if self.alive is not None:
                    self.alive()
                if isinstance(exc, ValueError) or time.monotonic() > deadline:
                    raise DeviceError(f"could not open {self.url}: {_reason(exc)}", hint=_open_hint(exc)) from None
                time.sleep(0.05)
        self._ser = ser
        self.synced = False
        self._partial = b""
        self._lines.clear()
        self._event(f"open {self.url} baudrate={self.baudrate}")
        return self

    def close(self) -> None:
        """Close the port (the log file stays open for a later reconnect)."""
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception:  # closing a broken port must not mask the real error
                pass
            self._ser = None
            self._event("close")

    def reconnect(self, *, sync: bool = True) -> None:
        """Close and reopen the port (a real board after reset, or a new TCP client for QEMU); then sync."""
        self._event("reconnect")
        self.close()
        self.open()
        if sync:
            self.sync()

    def __enter__(self) -> Link:
        if self._ser is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._log.close()

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    # ------------------------------------------------------------------ raw I/O

    def write(self, data: bytes | str) -> None:
        """Send bytes (str is encoded as ASCII)."""
        if isinstance(data, str):
            data = data.encode("ascii")
        ser = self._require_open()
        self._record(">", data)
        serial = _serial_module()
        try:
            ser.write(data)
            ser.flush()
        except serial.SerialTimeoutException:
            self._check_alive()
            raise self._timeout_error(f"the device to accept {len(data)} bytes", self.timeout) from None
        except (serial.SerialException, OSError, *_CLOSED_UNDER_US) as exc:
            self._check_alive(grace=2.0)
            raise DeviceError(f"write to {self.url} failed: {_reason(exc)}",
                              hint=f"full log: {self.log_path}") from None

    def read_line(self, timeout: float | None = None, *, waiting_for: str = "a line") -> str:
        """The next complete line from the device, without its line ending; DeviceError on timeout."""
        limit = self.timeout if timeout is None else timeout
        return self._next_line(time.monotonic() + limit, limit, waiting_for)

    def _next_line(self, deadline: float, limit: float, waiting_for: str) -> str:
        while not self._lines:
            if time.monotonic() > deadline:
                self._check_alive()
                raise self._timeout_error(waiting_for, limit)
            self._fill()
        return self._lines.popleft()

    def expect(self, pattern: str | re.Pattern[str], timeout: float | None = None) -> re.Match[str]:
        """Read lines until one matches ``pattern`` (``re.search``); the lines before it are discarded."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            m = rx.search(self._next_line(deadline, limit, repr(rx.pattern)))
            if m:
                return m

    def drain(self, quiet: float = 0.1) -> list[str]:
        """Read and return whatever arrives until the line has been quiet for ``quiet`` seconds."""
        out: list[str] = []
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            if self._fill():
                last = time.monotonic()
            out.extend(self._lines)
            self._lines.clear()
        if self._partial:
            out.append(self._partial.decode("ascii", "replace"))
            self._partial = b""
        return out

    def _pending(self) -> list[str]:
        """Take what has already arrived (queued lines, partial line, bytes waiting) without waiting."""
        ser = self._require_open()
        try:
            waiting = ser.in_waiting
        except Exception:  # a broken port is reported by the next read
            waiting = 0
        if waiting:
            self._fill()
        out = list(self._lines)
        self._lines.clear()
        if self._partial:
            out.append(self._partial.decode("ascii", "replace"))
            self._partial = b""
        return out

    # ------------------------------------------------------------------ protocol

    def send_command(self, cmd: str, timeout: float | None = None) -> list[str]:
        """Send ``cmd%`` and return the reply lines before ``m-ready``.

        Raises:
            DeviceError: the device answered with ``e-[...]`` (the message names the command and the
                device's text), rebooted while answering, stopped answering (timeout) or went away.
        """
        cmd = cmd.strip()
        if not cmd.endswith("%"):
            cmd += "%"
        stale = [ln for ln in self._pending() if ln.strip()]
        if stale:
            self._event(f"discarded before {cmd!r}: {stale!r}")
        self.write(cmd)
        return self.read_reply(cmd, timeout)

    def read_reply(self, cmd: str, timeout: float | None = None) -> list[str]:
        """Read the reply lines of an already sent command up to ``m-ready`` (see :meth:`send_command`)."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        lines: list[str] = []
        errors: list[str] = []
        boot_ready = False
        while True:
            line = self._next_line(deadline, limit, f"'{READY}' after '{cmd}'").strip()
            if line == READY:
                if boot_ready:  # the m-ready that ends a boot banner, not our reply
                    boot_ready = False
                    continue
                break
            if line.startswith("m-boot-"):
                if not self.synced:  # boot output of a device we never synchronised with: skip it
                    boot_ready = True
                    lines.clear()
                    continue
                raise DeviceError(f"the device rebooted while answering '{cmd}' (it printed {line!r})",
                                  hint=f"the firmware crashed or a watchdog fired; full log: {self.log_path}")
            if line.startswith("e-["):
                errors.append(line[3:-1] if line.endswith("]") else line[3:])
            lines.append(line)
        if errors:
            raise DeviceError(f"device rejected '{cmd}': {'; '.join(errors)}", hint=f"full log: {self.log_path}")
        return lines

    def sync(self, timeout: float | None = None, interval: float = 0.5) -> str:
        """Send ``name%`` until the device answers ``m-name-dut-[...]`` then ``m-ready``; returns the name.

        Tolerates boot output, partial lines from before the host connected, commands lost while the device
        was still starting, and errors caused by leftover characters in the device's line buffer.
        """
        limit = max(self.timeout if timeout is None else timeout, interval)
        deadline = time.monotonic() + limit
        self._event("sync")
        name: str | None = None
        while time.monotonic() < deadline:
            self.write("\r\nname%")
            resend = min(time.monotonic() + interval, deadline)
            while time.monotonic() < resend:
                self._fill()
                while self._lines:
                    line = self._lines.popleft().strip()
                    m = re.search(r"m-name-dut-\[(.*)\]", line)
                    if m:
                        name = m.group(1)
                    elif line == READY and name is not None:
                        self.drain(quiet=0.1)  # replies to repeated name% requests
                        self.synced = True
                        self._event(f"synced: {name}")
                        return name
        self._check_alive()
        raise self._timeout_error("an answer to 'name%' (sync)", limit)

    # ------------------------------------------------------------------ internals

    def tail(self) -> list[str]:
        """The last lines (and partial line) received, newest last."""
        out = list(self._tail)
        if self._partial:
            out.append(self._partial.decode("ascii", "replace"))
        return out

    def _require_open(self) -> Any:
        if self._ser is None:
            raise DeviceError(f"{self.url} is not open", hint="call Link.open() or use 'with Link(...)'")
        return self._ser

    def _fill(self) -> bool:
        """Wait up to one poll period for bytes; split them into lines. True when bytes arrived."""
        ser = self._require_open()
        serial = _serial_module()
        try:
            data = ser.read(1)
            if data:
                waiting = ser.in_waiting
                if waiting:
                    data += ser.read(waiting)
        except (serial.SerialException, OSError, *_CLOSED_UNDER_US) as exc:
            self._event(f"connection lost: {_reason(exc)}")
            self._check_alive(grace=2.0)
            raise DeviceError(f"connection to {self.url} lost: {_reason(exc)}",
                              hint=f"last output: {self._tail_text()}; full log: {self.log_path}") from None
        if not data:
            if self.alive is not None:
                self.alive()
            return False
        self._record("<", data)
        buf = self._partial + data
        *complete, self._partial = buf.split(b"\n")
        for raw in complete:
            line = raw.rstrip(b"\r").decode("ascii", "replace")
            self._lines.append(line)
            self._tail.append(line)
        return True

    def _check_alive(self, grace: float = 0.0) -> None:
        """Let ``alive`` explain a failure; after a broken connection give the far end ``grace`` s to exit."""
        if self.alive is None:
            return
        end = time.monotonic() + grace
        while True:
            self.alive()
            if time.monotonic() >= end:
                return
            time.sleep(0.05)

    def _tail_text(self) -> str:
        tail = [t for t in self.tail() if t.strip()][-4:]
        return repr(" | ".join(tail)) if tail else "(nothing)"

    def _timeout_error(self, what: str, seconds: float) -> DeviceError:
        self._event(f"timeout waiting for {what}")
        return DeviceError(f"timed out after {seconds:.3g} s waiting for {what} on {self.url}",
                           hint=f"last output: {self._tail_text()}; full log: {self.log_path}")

    def _record(self, direction: str, data: bytes) -> None:
        """Log bytes; received bytes are grouped into whole lines (a QEMU UART delivers them one by one)."""
        if direction == "<":
            self._rx_log += data
            cut = self._rx_log.rfind(b"\n") + 1
            if not cut:
                return
            data, self._rx_log = self._rx_log[:cut], self._rx_log[cut:]
        elif self._rx_log:  # a partial line received before this event: log it first, as it is
            self._write_log("<", self._rx_log)
            self._rx_log = b""
        self._write_log(direction, data)

    def _write_log(self, direction: str, data: bytes) -> None:
        if self._log.closed:
            return
        self._log.write(f"{time.monotonic() - self._t0:10.4f} {direction} {data!r}\n")
        self._log.flush()

    def _event(self, text: str) -> None:
        log.debug("%s: %s", self.url, text)
        self._record("#", text.encode("utf-8", "replace"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, _CLOSED_UNDER_US):
        return "the port was closed while in use"
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    m = re.search(r"\[Errno \d+\] (.*)", text)  # pyserial wraps OSError text in "could not open port X: ..."
    return m.group(1) if m else text


def _open_hint(exc: BaseException) -> str:
    text = str(exc).lower()
    if "permission denied" in text:
        return "add your user to the 'dialout' group and log in again"
    if "refused" in text:
        return "nothing listens on that address: is the emulator running?"
    if "no such file" in text or "could not open port" in text:
        return "check the port name (ls /dev/ttyACM* /dev/ttyUSB*) and that the board is connected"
    return "check the port/URL"
