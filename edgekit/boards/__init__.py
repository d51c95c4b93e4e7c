"""Board profiles: YAML data in ``boards/``, validated against one schema into frozen dataclasses.

Search path (first match of an id wins): directories given explicitly (``--boards-dir``), then
``EDGEKIT_BOARDS_PATH`` (os.pathsep-separated), then the ``boards/`` directory shipped with edgekit.
Every file is ``boards/<vendor>/<id>.yaml``; the file name must equal its ``id``. ``boards/families/`` holds the
chip families (:mod:`edgekit.boards.families`), whose UARTs, timers, GPIOs and clock trees the schema accepts.

Units live in key names (``_hz``, ``_kb``, ``_ma``, ``_v``); unknown keys, missing keys and wrong
types are errors that name the file and the field.

Modules: :mod:`.profile` (the dataclasses), :mod:`.schema` (validation), :mod:`.clock` (PLL set-up checks),
:mod:`.families` (chip families), :mod:`.loader` (search path), :mod:`.yamlfile` (safe YAML with clear errors).
"""

from __future__ import annotations

from edgekit.boards.loader import BUILTIN_DIR, list_boards, load_board, load_board_file, search_dirs
from edgekit.boards.profile import (
    BoardProfile,
    Build,
    ClockSetup,
    EnableBit,
    Firmware,
    Flash,
    Memory,
    MemoryRegion,
    Perf,
    Pin,
    Power,
    Qemu,
    Serial,
    UartPins,
)
from edgekit.boards.schema import KINDS, POWER_MODELS, SCHEMA_VERSION, parse_board

DEFAULT_BOARD = "qemu-cortex-m4"

__all__ = ["BUILTIN_DIR", "DEFAULT_BOARD", "KINDS", "POWER_MODELS", "SCHEMA_VERSION", "BoardProfile",
           "Build", "ClockSetup", "EnableBit", "Firmware", "Flash", "Memory", "MemoryRegion", "Perf", "Pin", "Power",
           "Qemu", "Serial", "UartPins", "list_boards", "load_board", "load_board_file", "parse_board", "search_dirs"]
