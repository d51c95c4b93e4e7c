"""Nordic Power Profiler Kit II over its USB CDC serial protocol (the protocol ``ppk2-api`` and nRF Connect speak).

Facts (read from ppk2-api 0.9.2 and nRF Connect Power Profiler's serialDevice.ts; a metadata dump in Nordic's
DevZone case 92921):

* Commands are raw bytes: ``0x19`` get metadata; ``0x11 1`` ampere-meter mode, ``0x11 2`` source-meter mode;
  ``0x0D hi lo`` regulator voltage in mV, big-endian (800..5000 mV; ppk2-api writes it as 3 + n/256, n % 256 with
  n = mV - 800 + 32, the same number); ``0x0C 1``/``0x0C 0`` DUT power on/off; ``0x06`` start, ``0x07`` stop
  sampling; ``0x20`` reset.
* Metadata is text, ``Key: value`` per line, ending with ``END``: ``Calibrated``, ``R0..R4`` (shunt resistors,
  ohm), ``GS0..4``, ``GI0..4`` (gain), ``O0..4`` (offset, ADC counts), ``S0..4``, ``I0..4`` (voltage/offset
  terms), ``UG0..4`` (user gain), ``VDD``, ``HW``, ``mode``, ``IA``.
* Samples stream at 100 kHz as 4-byte little-endian words: bits 0-13 ADC value, 14-16 measurement range (0..4),
  18-23 a 6-bit counter, 24-31 the eight digital inputs D0..D7.
* Current in A for range r: ``x = (adc x 4 - O[r]) x (1.8 / 163840) / R[r]``;
  ``I = UG[r] x (x x (GS[r] x x + GI[r]) + S[r] x vdd_V + I[r])``.

nRF Connect additionally smooths the few samples after a range switch (a "spike filter"); edgekit reports the
samples as the device sends them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.errors import DeviceError, UsageError
from edgekit.power.base import Capture, PowerMonitor

USB_ID = (0x1915, 0xC00A)
SAMPLE_RATE_HZ = 100_000
ADC_MULT = 1.8 / 163840
VDD_MIN_MV, VDD_MAX_MV = 800, 5000
RANGES = 5

GET_METADATA = 0x19
AVERAGE_START = 0x06
AVERAGE_STOP = 0x07
REGULATOR_SET = 0x0D
DEVICE_RUNNING_SET = 0x0C
SET_POWER_MODE = 0x11
RESET = 0x20
MODE_AMPERE, MODE_SOURCE = 1, 2


@dataclass
class Calibration:
    """Per-range calibration from the metadata (defaults: ppk2-api's, for an uncalibrated device)."""

    r: list[float] = field(default_factory=lambda: [1031.64, 101.65, 10.15, 0.94, 0.043])
    gs: list[float] = field(default_factory=lambda: [1.0] * RANGES)
    gi: list[float] = field(default_factory=lambda: [1.0] * RANGES)
    o: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    s: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    i: list[float] = field(default_factory=lambda: [0.0] * RANGES)
    ug: list[float] = field(default_factory=lambda: [1.0] * RANGES)
    meta: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, text: str) -> Calibration:
        """Parse the metadata text (``Key: value`` lines up to ``END``)."""
        cal = cls()
        for line in text.replace("\r", "").split("\n"):
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip(), value.strip()
            cal.meta[key] = value
            name, idx = key[:-1].lower(), key[-1:]
            if idx.isdigit() and int(idx) < RANGES and hasattr(cal, name) and name != "meta":
                try:
                    v = float(value)
                except ValueError:
                    continue
                if not np.isfinite(v):  # '-nan' in the metadata of some devices: keep the default
                    continue
                if name == "r" and v == 0:  # ppk2-api skips zero resistors (broken calibration data)
                    continue
                getattr(cal, name)[int(idx)] = v
        return cal

    def current_a(self, adc: np.ndarray, rng: np.ndarray, vdd_mv: float) -> np.ndarray:
        """Calibrated current (A) of raw ADC values in their ranges."""
        r = np.minimum(rng, RANGES - 1)
        arr = {k: np.asarray(getattr(self, k), dtype=np.float64)[r] for k in ("r", "gs", "gi", "o", "s", "i", "ug")}
        x = (adc.astype(np.float64) * 4 - arr["o"]) * (ADC_MULT / arr["r"])
        return arr["ug"] * (x * (arr["gs"] * x + arr["gi"]) + (arr["s"] * (vdd_mv / 1000.0) + arr["i"]))


def voltage_command(mv: int) -> bytes:
    """The REGULATOR_SET command for ``mv`` millivolts."""
    if not VDD_MIN_MV <= mv <= VDD_MAX_MV:
        raise UsageError(f"PPK2 supply {mv} mV is out of range ({VDD_MIN_MV}..{VDD_MAX_MV} mV)")
    return bytes([REGULATOR_SET, mv >> 8, mv & 0xFF])


def decode(buf: bytes, cal: Calibration, vdd_mv: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(current A, digital bits, samples lost by the counter) of whole 4-byte samples in ``buf``."""
    n = len(buf) // 4
    raw = np.frombuffer(buf[: n * 4], dtype="<u4")
    adc = (raw & 0x3FFF).astype(np.int64)
    rng = ((raw >> 14) & 0x7).astype(np.int64)
    counter = ((raw >> 18) & 0x3F).astype(np.int64)
    bits = ((raw >> 24) & 0xFF).astype(np.uint8)
    lost = int(((np.diff(counter) - 1) % 64).sum()) if n > 1 else 0
    return cal.current_a(adc, rng, vdd_mv), bits, lost


class Ppk2(PowerMonitor):
    """A PPK2 on a serial port (``--power ppk2[:PORT][,mode=source|ampere][,supply=V][,channel=N]``)."""

    name = "ppk2"
    usb_id = USB_ID
    digital_inputs = 8

    def __init__(self, port: str | None = None, **kw: Any) -> None:
        super().__init__(port, **kw)
        self.timeout = float(self.options.get("timeout", 3.0))
        self._ser: Any = None
        self.cal = Calibration()
        self._buf = bytearray()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._read_error: Exception | None = None

    @property
    def vdd_mv(self) -> int:
        return round(self.supply_v * 1000)

    def _find_port(self) -> str:
        from edgekit.devices import list_serial_ports

        hits = [p.device for p in list_serial_ports([]) if (p.vid, p.pid) == USB_ID]
        if len(hits) != 1:
            raise DeviceError(f"{'no' if not hits else len(hits)} PPK2 (USB 1915:c00a) found"
                              + (f": {', '.join(hits)}" if hits else ""), hint="pass --power ppk2:PORT")
        return hits[0]

    def open(self) -> None:
        import serial

        self.port = self.port or self._find_port()
        try:
            self._ser = serial.Serial(self.port, 115200, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"could not open the PPK2 at {self.port}: {exc}",
                              hint="check the port; add your user to the 'dialout' group") from None
        self._write(bytes([AVERAGE_STOP]))  # a capture left running by an earlier process
        self._drain()
        self.cal = Calibration.from_metadata(self._metadata())
        mode = MODE_SOURCE if self.source else MODE_AMPERE
        self._write(bytes([SET_POWER_MODE, mode]))
        if self.source:
            self.set_supply(self.supply_v)

    def _write(self, data: bytes) -> None:
        try:
            self._ser.write(data)
            self._ser.flush()
        except Exception as exc:
            raise DeviceError(f"write to the PPK2 at {self.port} failed: {exc}") from None

    def _drain(self, quiet: float = 0.1) -> None:
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            if self._ser.read(4096):
                end = time.monotonic() + quiet

    def _metadata(self) -> str:
        self._write(bytes([GET_METADATA]))
        text = b""
        deadline = time.monotonic() + self.timeout
        while b"END" not in text:
            if time.monotonic() > deadline:
                raise DeviceError(f"no metadata from {self.port} within {self.timeout:g} s (got {text[-60:]!r})",
                                  hint="is this a PPK2? unplug and replug it")
            text += self._ser.read(4096)
        return text.split(b"END", 1)[0].decode("ascii", "replace")

    def set_supply(self, volts: float) -> None:
        """Source mode: regulator to ``volts`` and the DUT powered on."""
        self.supply_v = volts
        self._write(voltage_command(self.vdd_mv))
        self._write(bytes([DEVICE_RUNNING_SET, 1]))

    def close(self) -> None:
        if self._ser is None:
            return
        with contextlib.suppress(Exception):
            self._halt_reader()
            self._write(bytes([AVERAGE_STOP]))
        with contextlib.suppress(Exception):
            self._ser.close()
        self._ser = None

    def start(self) -> None:
        self._halt_reader()
        self._ser.reset_input_buffer()
        self._buf = bytearray()
        self._read_error = None
        self._stop.clear()
        self._write(bytes([AVERAGE_START]))
        self._reader = threading.Thread(target=self._read_loop, name="ppk2-reader", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                chunk = self._ser.read(max(4096, self._ser.in_waiting))
            except Exception as exc:
                self._read_error = exc
                return
            if chunk:
                self._buf += chunk

    def _halt_reader(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def stop(self) -> Capture:
        self._write(bytes([AVERAGE_STOP]))
        seen, quiet_since = -1, time.monotonic()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and self._reader is not None and self._reader.is_alive():
            if len(self._buf) != seen:  # samples still in flight: wait until the line is quiet for 50 ms
                seen, quiet_since = len(self._buf), time.monotonic()
            elif time.monotonic() - quiet_since > 0.05:
                break
            time.sleep(0.01)
        self._halt_reader()
        with contextlib.suppress(Exception):
            self._buf += self._ser.read(self._ser.in_waiting or 0)
        if self._read_error is not None:
            raise DeviceError(f"reading the PPK2 at {self.port} failed: {self._read_error}")
        current, bits, lost = decode(bytes(self._buf), self.cal, self.vdd_mv)
        notes = [f"PPK2: {lost} samples lost (sample counter gaps)"] if lost else []
        t = np.arange(current.size, dtype=np.float64) / SAMPLE_RATE_HZ
        return Capture(t, current, bits, self.supply_v, SAMPLE_RATE_HZ, self.name, notes)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "hw": self.cal.meta.get("HW"), "calibrated": self.cal.meta.get("Calibrated"),
                "sample_rate_hz": SAMPLE_RATE_HZ}
