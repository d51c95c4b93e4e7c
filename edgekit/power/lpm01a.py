"""ST X-NUCLEO-LPM01A ("PowerShield") on its virtual COM port, driven the way MLPerf Tiny's energy runner does.

Verified against mlcommons/tiny ``benchmark/runner/power_manager/power_manager_lpm.py`` (which embeds the
PowerShield command help) and ``serial_device.py``; ST's UM2269 itself was not readable here. Facts used:

* Text commands ending in ``\\r\\n``; the board answers ``ack <command> [value]`` or ``error <command>`` followed by
  ``Error detail: <text>``, lines possibly prefixed by the prompt ``PowerShield > ``.
* Setup as MLPerf Tiny: ``htc`` (host takes control), ``pwr off``, ``acqtime inf``, ``trigdelay 0``, ``trigsrc sw``,
  ``eventsrc d7 fal``, ``output energy``, ``format ascii_dec``, ``freq 1k``, ``volt <mV>m``; then ``pwr on nostatus``,
  ``start``; ``stop`` ends with a line containing ``Acquisition completed``; ``hrc`` releases control.
* Data lines hold values like ``6409-07`` (6409 x 10^-7); with ``output energy`` each is the energy in J
  integrated over one sample period (1 ms at ``freq 1k``). ``TimeStamp: 001s 000ms, buff 00%`` lines come every
  1000 samples; ``event N ris`` lines mark an edge on the event input (the DUT's timestamp GPIO) at the current
  sample position.
* The link runs at 3,686,400 baud (the rate of the PowerShield's acquisition-time table).

A capture converts each energy sample to the mean current of its period (E / (V x dt)) and turns the events into
a digital input that toggles at every event, so a window is the span between an odd and the next even event
(MLPerf Tiny's start/end timestamps).
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

BAUD = 3_686_400
PROMPT = "PowerShield > "
VALUE = re.compile(r"(\d{4})([-+]\d{2})")
EVENT = re.compile(r"event (\d+) (ris|fal)")
RATES = {"1k": 1000.0, "2k": 2000.0, "5k": 5000.0, "500": 500.0, "100": 100.0}


def parse_stream(lines: list[str]) -> tuple[np.ndarray, list[int], list[str]]:
    """(values, sample index of each event, other lines) from acquisition output lines."""
    values: list[float] = []
    events: list[int] = []
    other: list[str] = []
    for raw in lines:
        line = raw.replace(PROMPT, "").strip()
        if not line:
            continue
        if EVENT.match(line):
            events.append(len(values))
        elif line.startswith("TimeStamp"):
            continue
        elif VALUE.match(line):
            values += [float(f"{m.group(1)}e{m.group(2)}") for m in VALUE.finditer(line)]
        else:
            other.append(line)
    return np.asarray(values, dtype=np.float64), events, other


class Lpm01a(PowerMonitor):
    """``--power lpm01a:PORT[,freq=1k]``: powers the board itself at ``supply_v`` (1.8..3.3 V)."""

    name = "lpm01a"
    digital_inputs = 1

    def __init__(self, port: str | None = None, **kw: Any) -> None:
        super().__init__(port, **kw)
        self.source = True  # the PowerShield always supplies the board it measures
        self.freq = str(self.options.get("freq", "1k"))
        if self.freq not in RATES:
            raise DeviceError(f"lpm01a: freq {self.freq} not supported here (choose {', '.join(RATES)})")
        self.timeout = float(self.options.get("timeout", 3.0))
        self.baud = int(self.options.get("baud", BAUD))
        self._ser: Any = None
        self._lines: list[str] = []
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._partial = b""
        self._backlog: list[str] = []

    # -------------------------------------------------------------- line I/O

    def _readlines(self) -> list[str]:
        data = self._ser.read(max(1, self._ser.in_waiting))
        if not data:
            return []
        *whole, self._partial = (self._partial + data).split(b"\n")
        return [w.decode("ascii", "replace").strip("\r\0 ") for w in whole]

    def command(self, cmd: str) -> str:
        """Send one command; return the value after ``ack <cmd>`` (DeviceError on ``error``)."""
        self._ser.write((cmd + "\r\n").encode("ascii"))
        deadline = time.monotonic() + self.timeout
        error = None
        while time.monotonic() < deadline:
            lines = self._readlines()
            for k, line in enumerate(lines):
                text = line.replace(PROMPT, "").strip()
                if text.startswith(f"ack {cmd}"):
                    self._backlog = lines[k + 1:]  # e.g. the first samples right after 'ack start'
                    return text[len(f"ack {cmd}"):].strip()
                if text.startswith("error"):
                    error = text
                if text.startswith("Error detail") and error:
                    raise DeviceError(f"LPM01A rejected '{cmd}': {text.split(':', 1)[1].strip()}")
        raise DeviceError(f"no answer from the LPM01A at {self.port} to '{cmd}' within {self.timeout:g} s",
                          hint=f"check the port and the baud rate ({self.baud})")

    # -------------------------------------------------------------- PowerMonitor

    def open(self) -> None:
        import serial

        if not self.port:
            raise DeviceError("give the LPM01A's port", hint="--power lpm01a:/dev/ttyACM1")
        try:
            self._ser = serial.Serial(self.port, self.baud, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"could not open the LPM01A at {self.port}: {exc}") from None
        for cmd in ("htc", "pwr off", "acqtime inf", "trigdelay 0", "trigsrc sw", "eventsrc d7 fal",
                    "output energy", "format ascii_dec", f"freq {self.freq}"):
            self.command(cmd)
        self.set_supply(self.supply_v)

    def set_supply(self, volts: float) -> None:
        mv = round(volts * 1000)
        if not 1800 <= mv <= 3300:
            raise DeviceError(f"LPM01A supply {mv} mV is outside 1800..3300 mV")
        self.supply_v = volts
        self.command(f"volt {mv}m")
        self.command("pwr on nostatus")

    def close(self) -> None:
        if self._ser is None:
            return
        with contextlib.suppress(Exception):
            self._halt()
            self.command("hrc")
        with contextlib.suppress(Exception):
            self._ser.close()
        self._ser = None

    def start(self) -> None:
        self.command("start")
        self._lines = list(self._backlog)
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, name="lpm01a-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._lines += self._readlines()
            except Exception:
                return

    def _halt(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def stop(self) -> Capture:
        self._halt()
        self._ser.write(b"stop\r\n")
        deadline = time.monotonic() + self.timeout
        while not any("Acquisition completed" in ln for ln in self._lines):
            if time.monotonic() > deadline:
                raise DeviceError("the LPM01A did not confirm 'stop' (no 'Acquisition completed')")
            self._lines += self._readlines()
        values, events, _ = parse_stream(self._lines)
        fs = RATES[self.freq]
        current = values / (self.supply_v / fs) if self.supply_v else values * 0
        bits = np.zeros(values.size, dtype=np.uint8)
        for k, idx in enumerate(events):
            if idx < bits.size:
                bits[idx:] = (k + 1) % 2  # each event toggles the marker
        bits = (bits << self.channel).astype(np.uint8)
        return Capture(np.arange(values.size) / fs, current, bits, self.supply_v, fs, self.name, [])
