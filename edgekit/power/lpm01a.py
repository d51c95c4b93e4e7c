"""ST X-NUCLEO-LPM01A ("PowerShield") on its virtual COM port, driven the way MLPerf Tiny's energy runner does.

What was checked, and against what (details in docs/hardware.md, "LPM01A: what was verified"):

* ST's UM2269 ("Getting started with PowerShield firmware") could not be read beyond its introduction here (copies
  exist on dokumen.tips / manualmachine.com, only their first page was reachable). The reference used instead is
  the PowerShield firmware's own ``help`` text (its command list, argument ranges, data formats and the table of
  acquisition limits at 3,686,400 baud), as embedded in mlcommons/tiny
  ``benchmark/runner/power_manager/power_manager_lpm.py``, cross-checked with two independent open-source drivers:
  zissis-pap/x-nucleo-lpm01a-gui ``core/protocol.py`` (3,686,400 baud, the same command syntax, replies starting
  with ``ack``) and lazicdanilo/LPM01A-lib ``src/LPM01A.py`` (``PowerShield > ack <command>`` replies,
  ``Acquisition completed`` after ``stop``).
* Commands (all in the firmware's help): ``htc`` / ``hrc`` (host takes / releases control), ``pwr off``,
  ``pwr on nostatus`` (the optional second argument), ``acqtime inf`` ('0' or 'inf': unlimited), ``trigdelay 0``
  (range 0..30 s), ``trigsrc sw``, ``output energy`` (energy integrated over each sample period, "limited at 10kHz
  max"), ``format ascii_dec``, ``freq <f>`` (100k, 50k, 20k, 10k, 5k, 2k, 1k, 500, 200, 100, 50, 20, 10, 5, 2, 1),
  ``volt <mV>m`` (1800m..3300m), ``start``, ``stop``. ``eventsrc d7 fal`` (the event input MLPerf Tiny uses for its
  timestamp GPIO) is sent by MLPerf Tiny's runner but is NOT in that help text: firmware without it rejects it, and
  edgekit then says so instead of measuring without windows.
* Limits: with ``ascii_dec`` only sampling rates up to 5 kHz run unlimited (10 kHz: 1 s at most, 20 kHz: 500 ms);
  an ``acqtime inf`` capture therefore uses 5k or less (``RATES``).
* Replies: ``ack <command> [value]`` or ``error <command>`` followed by ``Error detail: <text>``, lines possibly
  prefixed by the prompt ``PowerShield > ``. Data lines hold values like ``6409-07`` (6409 x 10^-7, the help's own
  example); with ``output energy`` each is the energy in J integrated over one sample period (1 ms at ``freq 1k``).
  ``TimeStamp: 001s 000ms, buff 00%`` lines come every 1000 samples; ``event N ris`` lines mark an edge on the event
  input (the DUT's timestamp GPIO) at the current sample position (MLPerf Tiny's runner; not in the help text).
* The link runs at 3,686,400 baud (the baud rate the help's acquisition-limit table is given for; the GUI driver
  above opens the port at the same rate).

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
# freq values that run unlimited ('acqtime inf') in ascii_dec: the help's table allows <= 5k (10k: 1 s at most)
RATES = {"5k": 5000.0, "2k": 2000.0, "1k": 1000.0, "500": 500.0, "200": 200.0, "100": 100.0, "50": 50.0,
         "20": 20.0, "10": 10.0, "5": 5.0, "2": 2.0, "1": 1.0}
LIMITED_RATES = ("100k", "50k", "20k", "10k")  # valid PowerShield rates, but not for an unlimited ascii_dec capture


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
    usb_id = (0x0483, 0x5740)
    usb_id_certain = False
    usb_id_note = "0483:5740 is ST's generic virtual COM port id: possibly an X-NUCLEO-LPM01A"
    digital_inputs = 1

    def __init__(self, port: str | None = None, **kw: Any) -> None:
        super().__init__(port, **kw)
        self.source = True  # the PowerShield always supplies the board it measures
        self.freq = str(self.options.get("freq", "1k"))
        if self.freq in LIMITED_RATES:
            raise DeviceError(f"lpm01a: freq {self.freq} cannot stream without a time limit in ascii_dec format "
                              "(the PowerShield firmware allows at most 5k for an unlimited capture; 10k runs 1 s)",
                              hint=f"choose one of {', '.join(RATES)}")
        if self.freq not in RATES:
            raise DeviceError(f"lpm01a: freq {self.freq} is not a PowerShield sampling rate here "
                              f"(choose {', '.join(RATES)})")
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
            try:
                self.command(cmd)
            except DeviceError as exc:
                if cmd.startswith("eventsrc") and "rejected" in str(exc):
                    raise DeviceError(f"{exc} - this PowerShield firmware has no event input, so the inference "
                                      "windows (the board's timestamp GPIO on D7) cannot be seen",
                                      hint="update the LPM01A's firmware (STM32-LPM01-XN), or measure with a monitor "
                                           "that has digital inputs (ppk2, joulescope)") from None
                raise
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
