"""PlatformIO (Arduino framework; Arduino Nano 33 BLE Sense): ``pio run -d . -e <env> -j N``;
.pio/build/<env>/firmware.elf, .hex, .bin.

edgekit runtime: the AOT model is the library ``lib/edgekit_model`` (library.json for PlatformIO,
library.properties for the Arduino IDE); TFLM: the TFLM Arduino library, pinned to a commit. Both on ``Serial``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.buildsys.base import BuildStep, BuildSystem, Layout, pins, register
from edgekit.errors import UsageError

if TYPE_CHECKING:
    from edgekit.manifest import ProjectManifest

_CORE = ("ek_port.h", "ek_protocol.c", "ek_protocol.h", "ek_regs.h")
_PORTS = ("ek_port_arduino.cpp", "ek_main_arduino.cpp", "ek_dwt.h")
LIBRARY = "lib/edgekit_model"


@register
class PlatformIO(BuildSystem):
    name = "platformio"
    title = "PlatformIO"
    elf_path = ".pio/build/{env}/firmware.elf"
    tflm_flavour = "arduino"
    tflm_version = "tflite-micro-arduino {arduino_tflm_commit:.12}"

    def layout(self, runtime: str) -> Layout:
        if runtime == "tflm":
            return Layout("src", "src", "src", _CORE, (*_PORTS, "ek_arduino_tflm.cpp"), {
                "platformio/platformio.ini.j2": "platformio.ini", "tflm/platformio/README.md.j2": "README.md"})
        return Layout("src", f"{LIBRARY}/src", "src", _CORE, _PORTS, {
            "platformio/platformio.ini.j2": "platformio.ini", "platformio/library.json.j2": f"{LIBRARY}/library.json",
            "platformio/library.properties.j2": f"{LIBRARY}/library.properties", "README.edgekit.md.j2": "README.md"})

    def plan(self, root: Path, project: ProjectManifest, *, jobs: int, tflm_dir: str | None,
             cmsis_nn: bool, tflm_fetch: bool = False) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        elf = root / project.elf
        env_name = _pio_env(root, elf)
        pio = "pio" if shutil.which("pio") or not shutil.which("platformio") else "platformio"
        steps = [BuildStep("PlatformIO build", (pio, "run", "-d", str(root), "-e", env_name, "-j", str(jobs)))]
        return steps, [elf.with_name("firmware.hex"), elf.with_name("firmware.bin")], {}

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None, tflm_fetch: bool = False) -> list[str]:
        if shutil.which("pio") is None and shutil.which("platformio") is None:
            return [f"pio (pip install platformio=={pins()['platformio']}; it downloads the nordicnrf52 platform "
                    "on first build)"]
        return []

    def install_hint(self, runtime: str, missing: tuple[str, ...] | list[str] = ()) -> str:
        return (f"pip install platformio=={pins()['platformio']} (the first build downloads the board's platform and "
                "toolchain)")


def _pio_env(root: Path, elf: Path) -> str:
    """The PlatformIO environment: from the ELF path .pio/build/<env>/firmware.elf, else platformio.ini."""
    parts = elf.relative_to(root).parts if elf.is_relative_to(root) else ()
    if len(parts) >= 3 and parts[:2] == (".pio", "build"):
        return parts[2]
    ini = root / "platformio.ini"
    if ini.is_file():
        for line in ini.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("default_envs"):
                return line.split("=", 1)[1].split(",")[0].strip()
    raise UsageError(f"{root}: cannot tell the PlatformIO environment (no .pio/build/<env> ELF path in "
                     "edgekit_project.json, no default_envs in platformio.ini)", hint="run 'edgekit generate' again")
