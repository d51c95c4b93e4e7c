"""The power-monitor plugin interface: open, optionally supply the board, capture current with digital inputs.

A :class:`PowerMonitor` yields a :class:`Capture`: sample times (s), current (A), the digital input bits of each
sample (bit n = input n, when the monitor has digital inputs) and the supply voltage (a constant, or per sample
when the monitor measures it). :mod:`edgekit.power.energy` turns a capture into energy per inference.

Monitors are named in a registry (``--power NAME[:PORT][,key=value...]``): ppk2, joulescope, lpm01a, ina; others
come from the ``edgekit.power_monitors`` entry-point group (a broken plugin warns, never crashes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from edgekit.errors import UsageError
from edgekit.plugins import PluginRegistry

ENTRY_POINT_GROUP = "edgekit.power_monitors"
BUILTIN: dict[str, str] = {
    "ppk2": "edgekit.power.ppk2:Ppk2",
    "joulescope": "edgekit.power.joulescope:Joulescope",
    "lpm01a": "edgekit.power.lpm01a:Lpm01a",
    "ina": "edgekit.power.ina:InaBridge",
}


@dataclass(frozen=True)
class FoundMonitor:
    """A power monitor found on this machine (``edgekit devices``)."""

    kind: str   # its registry name: "ppk2", "lpm01a", "joulescope", ...
    where: str  # port or device path
    serial_number: str | None = None
    certain: bool = True
    note: str = ""


@dataclass
class Capture:
    """Samples of one capture. ``voltage_v`` is a constant (the supply) or an array (measured per sample)."""

    t_s: np.ndarray
    current_a: np.ndarray
    bits: np.ndarray | None
    voltage_v: float | np.ndarray
    sample_rate_hz: float
    monitor: str = ""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.current_a)


@dataclass(frozen=True)
class PowerSpec:
    """``NAME[:PORT][,key=value...]`` parsed (``ppk2:/dev/ttyACM1,channel=1,supply=3.0``)."""

    name: str
    port: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    def option(self, key: str, default: Any = None, cast: Any = str) -> Any:
        if key not in self.options:
            return default
        try:
            return cast(self.options[key])
        except ValueError:
            raise UsageError(f"--power {self.name}: option {key}={self.options[key]!r} is not a valid "
                             f"{cast.__name__}") from None


def parse_spec(text: str) -> PowerSpec:
    """Parse ``NAME[:PORT][,key=value...]``."""
    head, *opts = [p.strip() for p in text.split(",")]
    name, _, port = head.partition(":")
    name = name.strip().lower()
    if not name:
        raise UsageError(f"--power {text!r}: no monitor name", hint=f"e.g. --power ppk2 (known: {', '.join(BUILTIN)})")
    options: dict[str, str] = {}
    for o in opts:
        key, sep, value = o.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--power {text!r}: option {o!r} is not key=value",
                             hint="e.g. --power ppk2:/dev/ttyACM1,channel=0,supply=3.3")
        options[key.strip()] = value.strip()
    return PowerSpec(name, port.strip() or None, options)


class PowerMonitor(ABC):
    """One power monitor. Use as a context manager (open/close).

    Args:
        port: where the monitor is (serial port; None: found by USB id when the monitor has one).
        supply_v: the board's supply voltage (used for energy when the monitor does not measure voltage, and
            set on monitors that power the board).
        source: power the board from the monitor at ``supply_v`` (source meter) instead of measuring current
            that flows from another supply (ampere meter).
        channel: the digital input wired to the firmware's energy GPIO.
    """

    name: ClassVar[str] = ""
    digital_inputs: ClassVar[int] = 0
    usb_id: ClassVar[tuple[int, int] | None] = None  # (vid, pid) that identifies the monitor, if it has its own
    usb_id_certain: ClassVar[bool] = True            # False: the id is shared (a vendor's generic serial port)
    usb_id_note: ClassVar[str] = ""

    def __init__(self, port: str | None = None, *, supply_v: float = 3.3, source: bool = False, channel: int = 0,
                 **options: Any) -> None:
        self.port = port
        self.supply_v = supply_v
        self.source = source
        self.channel = channel
        self.options = options

    @abstractmethod
    def open(self) -> None:
        """Connect and configure (calibration, mode)."""

    @abstractmethod
    def close(self) -> None:
        """Stop everything and disconnect (the board stays powered unless the monitor powers it)."""

    def set_supply(self, volts: float) -> None:
        """Power the board at ``volts`` (source-meter monitors only)."""
        raise UsageError(f"the {self.name} monitor cannot power the board", hint="supply the board another way")

    @abstractmethod
    def start(self) -> None:
        """Start capturing."""

    @abstractmethod
    def stop(self) -> Capture:
        """Stop capturing and return the samples since :meth:`start`."""

    @classmethod
    def discover(cls, ports: Sequence[Any]) -> tuple[list[FoundMonitor], str | None]:
        """Monitors of this kind connected to this machine: those among ``ports`` (serial ports with ``device``,
        ``vid``, ``pid``, ``serial_number``) and any the monitor's own package finds; plus a note on what could
        not be looked at. The default finds monitors by :attr:`usb_id`."""
        if cls.usb_id is None:
            return [], None
        return [FoundMonitor(cls.name, p.device, p.serial_number, certain=cls.usb_id_certain, note=cls.usb_id_note)
                for p in ports if (p.vid, p.pid) == cls.usb_id], None

    def describe(self) -> dict[str, Any]:
        """What to record in a benchmark result."""
        return {"monitor": self.name, "port": self.port, "mode": "source" if self.source else "ampere",
                "supply_v": self.supply_v, "channel": self.channel}

    def __enter__(self) -> PowerMonitor:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MONITORS: PluginRegistry[PowerMonitor] = PluginRegistry(
    "power monitor", ENTRY_POINT_GROUP, PowerMonitor, BUILTIN, unknown_hint="--power ppk2[:PORT] for a Nordic PPK2")


def registry() -> dict[str, str]:
    """Built-in monitors, then plugins (a plugin may not replace a built-in)."""
    return MONITORS.names()


def get_monitor(name: str) -> type[PowerMonitor]:
    """The monitor class registered as ``name`` (UsageError when unknown or its plugin is broken)."""
    return MONITORS.get(name)


def open_monitor(spec: str | PowerSpec, *, supply_v: float = 3.3) -> PowerMonitor:
    """An unopened monitor from a ``--power`` spec; ``supply_v`` is the board's (overridden by ``supply=``)."""
    ps = parse_spec(spec) if isinstance(spec, str) else spec
    cls = get_monitor(ps.name)
    supply = ps.option("supply", None, float)
    source = ps.option("mode", "source" if supply is not None else "ampere") == "source"
    known = {"supply", "mode", "channel"}
    extra = {k: v for k, v in ps.options.items() if k not in known}
    return cls(ps.port, supply_v=supply if supply is not None else supply_v, source=source,
               channel=ps.option("channel", 0, int), **extra)
