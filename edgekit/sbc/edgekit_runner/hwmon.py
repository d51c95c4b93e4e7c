"""Board power from an INA219/INA226 current monitor exposed by Linux hwmon.

The kernel's ``ina2xx`` driver creates ``/sys/class/hwmon/hwmonN/`` with ``name`` (``ina219``, ``ina226``,
... or ``ina2xx``), ``curr1_input`` (mA), ``in1_input`` (bus voltage, mV) and ``power1_input`` (µW).
The root directory is a parameter (``--hwmon-root`` / ``EDGEKIT_HWMON_ROOT``) so tests can use a fake tree.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HWMON_ROOT = "/sys/class/hwmon"
ENV_ROOT = "EDGEKIT_HWMON_ROOT"


@dataclass(frozen=True)
class Reading:
    """One sample: current (mA), bus voltage (mV), power (µW; the sensor's own figure, else V x I)."""

    current_ma: float
    voltage_mv: float
    power_uw: float


def _is_ina(name: str) -> bool:
    return name.startswith("ina2") or name == "ina2xx"


class InaSensor:
    """One INA2xx hwmon device directory."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self.has_power = (path / "power1_input").is_file()

    def _read(self, file: str) -> float:
        return float((self.path / file).read_text(encoding="ascii").strip())

    def read(self) -> Reading:
        """Read current, voltage and power now (OSError/ValueError when the device went away)."""
        cur = self._read("curr1_input")
        volt = self._read("in1_input")
        power = self._read("power1_input") if self.has_power else cur * volt  # mA x mV = µW
        return Reading(cur, volt, power)

    def to_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path),
                "files": ["curr1_input (mA)", "in1_input (mV)"] + (["power1_input (µW)"] if self.has_power else [])}


def find_ina_sensors(root: str | os.PathLike[str] | None = None) -> list[InaSensor]:
    """Every readable INA2xx sensor under ``root`` (default: $EDGEKIT_HWMON_ROOT or /sys/class/hwmon)."""
    base = Path(root or os.environ.get(ENV_ROOT) or HWMON_ROOT)
    if not base.is_dir():
        return []
    found = []
    for d in sorted(base.iterdir(), key=lambda p: (len(p.name), p.name)):
        try:
            name = (d / "name").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if not _is_ina(name) or not (d / "curr1_input").is_file() or not (d / "in1_input").is_file():
            continue
        sensor = InaSensor(d, name)
        try:
            sensor.read()
        except (OSError, ValueError):
            continue
        found.append(sensor)
    return found


class PowerSampler:
    """Reads a sensor every ``interval`` seconds in a background thread between ``start()`` and ``stop()``."""

    def __init__(self, sensor: InaSensor, interval: float = 0.02) -> None:
        self.sensor = sensor
        self.interval = interval
        self.samples: list[Reading] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="edgekit-power", daemon=True)

    def _sample(self) -> None:
        try:
            self.samples.append(self.sensor.read())
        except (OSError, ValueError):
            self.errors += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> PowerSampler:
        self._thread.start()
        return self

    def stop(self) -> list[Reading]:
        self._stop.set()
        self._thread.join()
        self._sample()  # at least one reading, however short the window
        return self.samples

    @staticmethod
    def mean(samples: list[Reading]) -> Reading | None:
        if not samples:
            return None
        n = len(samples)
        return Reading(sum(s.current_ma for s in samples) / n, sum(s.voltage_mv for s in samples) / n,
                       sum(s.power_uw for s in samples) / n)


def sample_for(sensor: InaSensor, seconds: float, interval: float = 0.02) -> list[Reading]:
    """Sample for ``seconds`` (the idle baseline before a benchmark)."""
    sampler = PowerSampler(sensor, interval).start()
    time.sleep(seconds)
    return sampler.stop()
