"""An INA219/INA226 current sensor read by any small board that forwards its readings over serial.

The line protocol is edgekit's own, documented in ``docs/ina-bridge.md``: ``ina?`` identifies the bridge
(``ina-id <chip> <shunt_mohm> <rate_hz>``), ``ina start`` streams ``ina <shunt_uV> <bus_mV> <current_uA> <t_us>
<gpio>`` lines until ``ina stop``. The bridge timestamps each reading with its own microsecond clock and samples
the DUT's energy GPIO (bit 0 of ``gpio``) at the same instant. Energy uses the measured bus voltage of every
reading and the bridge's timestamps (readings need not be evenly spaced).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from typing import Any

import numpy as np

from edgekit.errors import DeviceError
from edgekit.power.base import Capture, PowerMonitor

LINE = re.compile(rb"^ina (-?\d+) (-?\d+) (-?\d+) (\d+) (\d+)\s*$")
ID_LINE = re.compile(r"^ina-id (\S+) (\d+(?:\.\d+)?) (\d+)\s*$")


def parse_lines(lines: list[bytes]) -> tuple[np.ndarray, int]:
    """Rows (shunt_uV, bus_mV, current_uA, t_us, gpio) of the well-formed lines, and how many were malformed."""
    rows = [tuple(int(g) for g in m.groups()) for m in map(LINE.match, lines) if m]
    bad = sum(1 for ln in lines if ln.startswith(b"ina ") and not LINE.match(ln))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 5), bad


def unwrap_us(t: np.ndarray) -> np.ndarray:
    """Undo the 32-bit wrap of the bridge's microsecond clock."""
    if t.size < 2:
        return t
    steps = np.diff(t)
    steps[steps < 0] += 1 << 32
    return np.concatenate(([t[0]], t[0] + np.cumsum(steps)))


class InaBridge(PowerMonitor):
    """``--power ina:PORT[,baud=115200][,channel=N]``."""

    name = "ina"
    digital_inputs = 8

    def __init__(self, port: str | None = None, **kw: Any) -> None:
        super().__init__(port, **kw)
        self.baud = int(self.options.get("baud", 115200))
        self.timeout = float(self.options.get("timeout", 3.0))
        self._ser: Any = None
        self.ident: dict[str, Any] = {}
        self._lines: list[bytes] = []
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def open(self) -> None:
        import serial

        if not self.port:
            raise DeviceError("the INA bridge has no USB id of its own: give its port", hint="--power ina:PORT")
        try:
            self._ser = serial.Serial(self.port, self.baud, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"could not open the INA bridge at {self.port}: {exc}") from None
        self._ser.write(b"ina stop\n")
        self._ser.reset_input_buffer()
        self._ser.write(b"ina?\n")
        deadline = time.monotonic() + self.timeout
        buf = b""
        while time.monotonic() < deadline:
            buf += self._ser.read(256)
            for line in buf.decode("ascii", "replace").splitlines():
                m = ID_LINE.match(line.strip())
                if m:
                    self.ident = {"chip": m.group(1), "shunt_mohm": float(m.group(2)), "rate_hz": int(m.group(3))}
                    return
        raise DeviceError(f"no 'ina-id' answer to 'ina?' from {self.port} within {self.timeout:g} s",
                          hint="is the bridge firmware running? see docs/ina-bridge.md")

    def close(self) -> None:
        if self._ser is not None:
            self._halt()
            with contextlib.suppress(Exception):
                self._ser.write(b"ina stop\n")
                self._ser.close()
            self._ser = None

    def start(self) -> None:
        self._halt()
        self._lines = []
        self._stop.clear()
        self._ser.write(b"ina start\n")
        self._reader = threading.Thread(target=self._read_loop, name="ina-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        partial = b""
        while not self._stop.is_set():
            try:
                data = self._ser.read(max(1, self._ser.in_waiting))
            except Exception:
                return
            if data:
                *whole, partial = (partial + data).split(b"\n")
                self._lines += [w.strip() for w in whole]

    def _halt(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def stop(self) -> Capture:
        self._ser.write(b"ina stop\n")
        deadline = time.monotonic() + self.timeout
        while b"ina-ok stop" not in self._lines[-8:] and time.monotonic() < deadline:  # readings still in flight
            time.sleep(0.01)
        confirmed = b"ina-ok stop" in self._lines[-8:]
        self._halt()
        rows, bad = parse_lines(self._lines)
        notes = [f"INA bridge: {bad} malformed lines skipped"] if bad else []
        if not confirmed:
            notes.append(f"INA bridge: no 'ina-ok stop' within {self.timeout:g} s; the last readings may be missing")
        if rows.shape[0] == 0:
            raise DeviceError(f"the INA bridge at {self.port} sent no readings after 'ina start'",
                              hint="see docs/ina-bridge.md for the line format")
        t = (unwrap_us(rows[:, 3]) - rows[0, 3]) / 1e6
        rate = float(self.ident.get("rate_hz") or (1 / np.median(np.diff(t)) if t.size > 1 else 0))
        return Capture(t, rows[:, 2] / 1e6, rows[:, 4].astype(np.uint8), rows[:, 1] / 1e3, rate, self.name, notes)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.ident}
