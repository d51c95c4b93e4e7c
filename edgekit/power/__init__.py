"""Power monitors (PPK2, Joulescope, LPM01A, INA bridge) and energy per inference, measured or modelled."""

from __future__ import annotations

from edgekit.power.base import BUILTIN, Capture, PowerMonitor, PowerSpec, get_monitor, open_monitor, parse_spec
from edgekit.power.energy import EnergyResult, energy_per_inference, windows_from_edges, windows_from_levels
from edgekit.power.model import modelled_energy

__all__ = ["BUILTIN", "Capture", "EnergyResult", "PowerMonitor", "PowerSpec", "energy_per_inference", "get_monitor",
           "modelled_energy", "open_monitor", "parse_spec", "windows_from_edges", "windows_from_levels"]
