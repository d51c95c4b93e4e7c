"""Estimated cycles on QEMU: an instruction-mix TCG plugin plus per-core timing tables.

``prepare()`` disassembles a firmware ELF (classes per instruction), builds the plugin and gives QEMU's arguments;
:func:`estimate` turns a counted :class:`Mix` into cycles with a :class:`CoreTiming` table (``cores/*.yaml``).
"""

from edgekit.cycles.model import CoreTiming, Estimate, board_flash_wait_states, estimate, timing_for
from edgekit.cycles.plugin import Mix, MixRun, Snapshot, build_plugin, call_returns, prepare, read_snapshots

__all__ = ["CoreTiming", "Estimate", "Mix", "MixRun", "Snapshot", "board_flash_wait_states", "build_plugin",
           "call_returns", "estimate", "prepare", "read_snapshots", "timing_for"]
