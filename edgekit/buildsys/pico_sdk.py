"""Raspberry Pi Pico SDK (RP2040, RP2350): CMake with ``PICO_SDK_PATH``; images build/firmware.elf, .uf2, .bin, .hex.

edgekit runtime: the AOT model is the static library ``edgekit_model`` (``edgekit_model/CMakeLists.txt``) linked
into the firmware; TFLM: Raspberry Pi's pico-tflmicro (CMSIS-NN kernels). Both speak the protocol over USB CDC.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.buildsys.base import APT_ARM, BuildStep, BuildSystem, Layout, env_settings, need, pins, register
from edgekit.buildsys.cmake import configure_and_build

if TYPE_CHECKING:
    from edgekit.manifest import ProjectManifest

_CORE = ("ek_port.h", "ek_protocol.c", "ek_protocol.h", "ek_regs.h", "ek_timer.c", "ek_timer.h")
_PORTS = ("ek_port_pico.c", "ek_main_sdk.c")


@register
class PicoSdk(BuildSystem):
    name = "pico-sdk"
    title = "Pico SDK"
    tflm_flavour = "pico-tflmicro"
    tflm_version = "pico-tflmicro {pico_tflmicro_commit:.12}"

    def layout(self, runtime: str) -> Layout:
        if runtime == "tflm":
            return Layout("src", "model", "model", _CORE, _PORTS, {
                "pico-sdk/CMakeLists.txt.j2": "CMakeLists.txt", "tflm/edgekit_build.cmake.j2": "edgekit_build.cmake",
                "tflm/pico-sdk/README.md.j2": "README.md"})
        return Layout("src", "edgekit_model", "src", _CORE, _PORTS, {
            "pico-sdk/CMakeLists.txt.j2": "CMakeLists.txt",
            "pico-sdk/edgekit_model.cmake.j2": "edgekit_model/CMakeLists.txt", "README.edgekit.md.j2": "README.md"})

    def plan(self, root: Path, project: ProjectManifest, *, jobs: int, tflm_dir: str | None,
             cmsis_nn: bool, tflm_fetch: bool = False) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        build = root / "build"
        env = env_settings("PICO_SDK_PATH", "PICO_TFLMICRO_PATH")
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     *(f"-D{k}={v}" for k, v in env.items())]
        images = [build / "firmware.uf2", build / "firmware.bin", build / "firmware.hex"]
        return configure_and_build(root, configure, jobs), images, env

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None, tflm_fetch: bool = False) -> list[str]:
        missing: list[str] = []
        need(missing, "cmake", "sudo apt-get install cmake")
        need(missing, "arm-none-eabi-gcc", "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
        if not os.environ.get("PICO_SDK_PATH"):
            missing.append(f"PICO_SDK_PATH (environment variable: a raspberrypi/pico-sdk checkout of "
                           f"{pins()['pico_sdk_version']} with its submodules)")
        return missing

    def install_hint(self, runtime: str, missing: tuple[str, ...] | list[str] = ()) -> str:
        return (f"{APT_ARM}; git clone https://github.com/raspberrypi/pico-sdk && git -C pico-sdk checkout "
                f"{pins()['pico_sdk_commit']} && git -C pico-sdk submodule update --init; "
                "export PICO_SDK_PATH=$PWD/pico-sdk")
