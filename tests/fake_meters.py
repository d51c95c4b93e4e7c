"""Line-protocol fakes on pseudo-terminals: an ST X-NUCLEO-LPM01A (PowerShield) and an INA bridge (docs/ina-bridge.md).

Both answer text commands the way the real devices do (the LPM01A as MLPerf Tiny's energy runner expects it:
``ack <command>`` lines behind the ``PowerShield > `` prompt, ``6409-07``-style values, ``event N ris`` markers,
``Acquisition completed`` after ``stop``) and stream a scripted list of samples when started.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable


class PtyFake:
    """A device on a raw PTY served by ``_serve`` in a thread; ``port`` is the slave path for pyserial.

    The slave end stays open so the PTY survives the host closing and reopening the port.
    """

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self._slave)

    def send(self, data: bytes) -> None:
        """Write all of ``data`` to the host side."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]


class PtyLineFake(PtyFake):
    """Serve ``handle(line) -> bytes`` on a PTY."""

    def __init__(self, eol: bytes = b"\n") -> None:
        super().__init__()
        self.eol = eol
        self.lines: list[str] = []

    def handle(self, line: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _serve(self) -> None:
        buf = b""
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.01)[0]:
                continue
            try:
                buf += os.read(self.master, 1024)
            except OSError:
                return
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.strip(b"\r").decode()
                self.lines.append(line)
                self.handle(line)


class FakeLpm01a(PtyLineFake):
    """Energy samples (J per period) with events at given sample indices."""

    PROMPT = b"PowerShield > "

    def __init__(self, energies_j: list[float], events_at: list[int], reject: str | None = None) -> None:
        super().__init__()
        self.energies = energies_j
        self.events_at = events_at
        self.reject = reject

    def handle(self, line: str) -> None:
        if line == self.reject:
            self.send(self.PROMPT + f"error {line}\r\n".encode() + b"Error detail: invalid parameter\r\n")
            return
        if line == "stop":
            self.send(b"Acquisition completed\r\n" + self.PROMPT + b"ack stop\r\n")
            return
        self.send(self.PROMPT + f"ack {line}\r\n".encode())
        if line == "start":
            out = []
            for i, e in enumerate(self.energies):
                if i in self.events_at:
                    out.append(f"event {self.events_at.index(i) + 1} ris")
                if i and i % 1000 == 0:
                    out.append(f"TimeStamp: {i // 1000:03d}s 000ms, buff 00%")
                mant, exp = _lpm_value(e)
                out.append(f"{mant:04d}{exp:+03d}")
            self.send(("\r\n".join(out) + "\r\n").encode())


def _lpm_value(x: float) -> tuple[int, int]:
    """x as 4 significant digits x 10^exp (the ascii_dec format)."""
    if x == 0:
        return 0, 0
    import math

    exp = math.floor(math.log10(abs(x))) - 3
    mant = round(x / 10 ** exp)
    if mant >= 10000:
        mant, exp = round(mant / 10), exp + 1
    return mant, exp


class FakeInaBridge(PtyLineFake):
    """Answers ``ina?`` and streams ``rows`` = [(shunt_uV, bus_mV, current_uA, t_us, gpio)] on ``ina start``."""

    def __init__(self, rows: list[tuple[int, int, int, int, int]], garbage: Callable[[int], bytes] | None = None):
        super().__init__()
        self.rows = rows
        self.garbage = garbage

    def handle(self, line: str) -> None:
        if line == "ina?":
            self.send(b"ina-id ina226 100 1000\n")
        elif line == "ina start":
            out = b"ina-ok start\n"
            for k, r in enumerate(self.rows):
                out += ("ina " + " ".join(str(v) for v in r) + "\n").encode()
                if self.garbage:
                    out += self.garbage(k)
            self.send(out)
        elif line == "ina stop":
            self.send(b"ina-ok stop\n")
