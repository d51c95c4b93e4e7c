"""Which build system carries edgekit's runtime (the AOT C) on a board.

Two kinds of project hold the same generated model, kernels and memory plan, behind the same ``ek_model_*`` API and
host protocol:

- edgekit's own bare-metal firmware (``cmake``: start-up, UART, timer and linker script of
  ``firmware_templates/common``), for Arm Cortex-M boards whose protocol link the firmware core drives itself;
- the board's own SDK (Pico SDK, ESP-IDF, Zephyr, Arduino/PlatformIO), the model packaged as that SDK's kind of
  library (Pico SDK library, ESP-IDF component, Zephyr module, Arduino/PlatformIO library) next to the SDK port of
  ``firmware_templates/ports`` that the TFLM projects use too.

The bare-metal project comes first where it can run (it is measured in QEMU and drives the energy GPIO); a board
whose protocol link is the SDK's USB stack, or whose core is not an Arm Cortex-M, gets its SDK's project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgekit.errors import UsageError

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.buildsys.base import BuildSystem

__all__ = ["SDK_LINKS", "aot_build_systems", "choose_build_system"]

# firmware.uart kinds that are a USB device stack: only the board's SDK (TinyUSB in the Pico SDK, the Arduino core's
# USB CDC, ESP-IDF's USB-Serial-JTAG driver) provides them; the bare-metal core has UART drivers only.
SDK_LINKS = frozenset({"usb-cdc", "esp-usb-serial"})
_CORTEX_M = ("armv6-m", "armv7-m", "armv7e-m", "armv8-m", "armv8.1-m")


def aot_build_systems(board: BoardProfile) -> tuple[str, ...]:
    """The build systems edgekit's runtime can be generated for on ``board``, the default first (empty for boards
    that run no firmware)."""
    from edgekit.buildsys.registry import get

    if board.kind != "mcu":
        return ()
    own = board.build.system
    bare_metal = own == "cmake" or (board.arch.startswith(_CORTEX_M) and board.firmware.uart not in SDK_LINKS)
    systems = ["cmake"] if bare_metal else []
    if own != "cmake" and get(own).firmware:
        systems.append(own)
    return tuple(systems)


def choose_build_system(board: BoardProfile, requested: str | None = None) -> BuildSystem:
    """The build system of an edgekit-runtime project on ``board``: ``requested``, or the default.

    Raises:
        UsageError: ``requested`` is not one the runtime can use on this board, or the board runs no firmware.
    """
    from edgekit.buildsys.registry import get

    systems = aot_build_systems(board)
    if not systems:
        raise UsageError(f"board '{board.id}' is a {board.kind}, not a microcontroller: there is no firmware to "
                         "generate", hint="run models on it with 'edgekit bench --board ...' instead")
    if requested is None:
        return get(systems[0])
    get(requested)  # an unknown name names the known ones
    if requested not in systems:
        why = (f"it builds with {board.build.system}" if requested != "cmake" else
               f"it is {board.arch}, not an Arm Cortex-M" if not board.arch.startswith(_CORTEX_M) else
               f"its protocol link '{board.firmware.uart}' is the SDK's USB stack")
        raise UsageError(f"board '{board.id}': edgekit's runtime cannot use build system '{requested}' ({why})",
                         hint=f"use --build-system {' or '.join(systems)}")
    return get(requested)
