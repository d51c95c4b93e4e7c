"""Joulescope JS110/JS220 through the ``joulescope`` package (imported only when used).

Facts (pyjoulescope ``joulescope/v1/device.py``; MLPerf Tiny's ``power_manager_js220.py``): ``joulescope.scan()``
lists devices; ``device.open()``; ``parameter_set('sensor_power', 'on')``, ``('i_range', 'auto')``, and
``('current_lsb', 'gpi0')`` routes general-purpose input 0 into the least significant bit of the current samples,
which the stream buffer then offers as the ``current_lsb`` field; ``device.start()`` / ``device.stop()`` stream
into ``device.stream_buffer``, read back with ``samples_get(start_id, stop_id, fields=[...])`` as
``data['signals'][name]['value']``. The Joulescope measures the voltage too, so energy uses the measured voltage
of every sample. It cannot power the board from a set voltage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgekit.errors import DeviceError, ToolMissing
from edgekit.power.base import Capture, FoundMonitor, PowerMonitor

FIELDS = ["current", "voltage", "current_lsb"]


def _package() -> Any:
    try:
        import joulescope
    except ImportError:
        raise ToolMissing("python package 'joulescope' is not installed (needed for --power joulescope)",
                          hint="pip install 'edgekit[power]' (joulescope)") from None
    return joulescope


class Joulescope(PowerMonitor):
    """``--power joulescope[:SERIAL][,channel=0|1][,rate=HZ]``: GPI0/GPI1 mark the energy windows."""

    name = "joulescope"

    @classmethod
    def discover(cls, ports: Sequence[Any]) -> tuple[list[FoundMonitor], str | None]:
        """Joulescopes through their own package (they are not serial ports)."""
        try:
            import joulescope
        except ImportError:
            return [], "Joulescopes not listed: the joulescope package is not installed (pip install joulescope)"
        found = []
        try:
            for dev in joulescope.scan(config="off"):
                found.append(FoundMonitor("joulescope", str(getattr(dev, "device_path", dev)),
                                          str(getattr(dev, "serial_number", "") or "") or None))
        except Exception as exc:  # USB errors must not break a listing
            return found, f"Joulescope scan failed: {' '.join(str(exc).split())}"
        return found, None
    digital_inputs = 2

    def __init__(self, port: str | None = None, **kw: Any) -> None:
        super().__init__(port, **kw)
        self.rate = int(self.options.get("rate", 1_000_000))
        self.device: Any = None

    def open(self) -> None:
        js = _package()
        devices = list(js.scan(config="off"))
        if self.port:
            devices = [d for d in devices if self.port in str(getattr(d, "device_path", d))]
        if len(devices) != 1:
            raise DeviceError(f"{len(devices) or 'no'} Joulescope{'s' if len(devices) != 1 else ''} found"
                              + (f" matching '{self.port}'" if self.port else ""),
                              hint="connect one, or name it: --power joulescope:SERIAL")
        dev = devices[0]
        try:
            dev.open()
            dev.parameter_set("sensor_power", "on")
            dev.parameter_set("i_range", "auto")
            dev.parameter_set("current_lsb", f"gpi{self.channel}")
            dev.parameter_set("sampling_frequency", self.rate)
        except Exception as exc:
            with contextlib.suppress(Exception):
                dev.close()
            raise DeviceError(f"could not configure the Joulescope: {exc}") from None
        self.device = dev
        self.port = str(getattr(dev, "device_path", self.port))

    def close(self) -> None:
        if self.device is not None:
            with contextlib.suppress(Exception):
                self.device.stop()
            with contextlib.suppress(Exception):
                self.device.close()
            self.device = None

    def start(self) -> None:
        self.device.start()

    def stop(self) -> Capture:
        self.device.stop()
        sb = self.device.stream_buffer
        start, stop = sb.sample_id_range
        data = sb.samples_get(start, stop, fields=FIELDS)
        sig = data["signals"]
        current = np.asarray(sig["current"]["value"], dtype=np.float64)
        voltage = np.asarray(sig["voltage"]["value"], dtype=np.float64)
        gpi = np.asarray(sig["current_lsb"]["value"]).astype(np.uint8) & 1
        fs = float(getattr(self.device, "output_sampling_frequency", 0) or self.rate)
        notes = []
        bad = ~np.isfinite(current)
        if bad.any():  # NaN during range switches or dropped samples: count them as zero, say so
            notes.append(f"Joulescope: {int(bad.sum())} samples missing (NaN) counted as 0 A")
            current = np.where(bad, 0.0, current)
            voltage = np.where(np.isfinite(voltage), voltage, self.supply_v)
        bits = (gpi << self.channel).astype(np.uint8)
        return Capture(np.arange(current.size) / fs, current, bits, voltage, fs, self.name, notes)
