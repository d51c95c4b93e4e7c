"""Zephyr: ``west build -b <board> -d build .`` in a west workspace (or with ZEPHYR_BASE); build/zephyr/zephyr.elf,
.hex, .bin (.uf2 when the board's Zephyr config asks for one).

edgekit runtime: the AOT model is the Zephyr module ``modules/edgekit_model`` (added with ZEPHYR_EXTRA_MODULES,
enabled by ``CONFIG_EDGEKIT_MODEL``); TFLM: Zephyr's tflite-micro module. Both on the console UART.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.buildsys.base import BuildStep, BuildSystem, Layout, env_settings, need, pins, register

if TYPE_CHECKING:
    from edgekit.manifest import ProjectManifest

_CORE = ("ek_port.h", "ek_protocol.c", "ek_protocol.h", "ek_regs.h")
_PORTS = ("ek_port_zephyr.c", "ek_main_sdk.c", "ek_dwt.h")
_SHARED = {"zephyr/CMakeLists.txt.j2": "CMakeLists.txt", "zephyr/prj.conf.j2": "prj.conf",
           "zephyr/west.yml.j2": "west.yml"}
MODULE = "modules/edgekit_model"


@register
class Zephyr(BuildSystem):
    name = "zephyr"
    title = "Zephyr"
    elf_path = "build/zephyr/zephyr.elf"
    tflm_flavour = "zephyr"
    tflm_version = "zephyr {zephyr} tflite-micro"

    def layout(self, runtime: str) -> Layout:
        if runtime == "tflm":
            return Layout("src", "src", "src", _CORE, _PORTS, {**_SHARED, "tflm/zephyr/README.md.j2": "README.md"})
        return Layout("src", f"{MODULE}/src", "src", _CORE, _PORTS, {
            **_SHARED, "zephyr/module.yml.j2": f"{MODULE}/zephyr/module.yml",
            "zephyr/module_CMakeLists.txt.j2": f"{MODULE}/CMakeLists.txt", "zephyr/Kconfig.j2": f"{MODULE}/Kconfig",
            "README.edgekit.md.j2": "README.md"})

    def plan(self, root: Path, project: ProjectManifest, *, jobs: int, tflm_dir: str | None,
             cmsis_nn: bool, tflm_fetch: bool = False) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        build = root / "build"
        board = project.zephyr_board or project.board
        steps = [BuildStep("Zephyr build", ("west", "build", "-b", str(board), "-d", str(build), str(root)))]
        out = build / "zephyr"
        return steps, [out / "zephyr.hex", out / "zephyr.bin", out / "zephyr.uf2"], env_settings("ZEPHYR_BASE")

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None, tflm_fetch: bool = False) -> list[str]:
        missing: list[str] = []
        need(missing, "west", f"pip install west=={pins()['west']}; then 'west init -l .' and 'west update' in this "
                              "project (README.md)")
        if not os.environ.get("ZEPHYR_BASE") and not any((d / ".west").is_dir() for d in (root, *root.parents)):
            missing.append("a west workspace (run 'west init -l .' and 'west update' in the project, or set "
                           "ZEPHYR_BASE) and the Zephyr SDK (arm-zephyr-eabi toolchain)")
        return missing

    def install_hint(self, runtime: str, missing: tuple[str, ...] | list[str] = ()) -> str:
        return (f"pip install west=={pins()['west']}; in the project run 'west init -l . && west update' (or export "
                "ZEPHYR_BASE=<a zephyr checkout>), and install the Zephyr SDK (arm-zephyr-eabi toolchain)")
