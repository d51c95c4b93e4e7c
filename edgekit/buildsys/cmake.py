"""CMake + arm-none-eabi-gcc: edgekit's own bare-metal firmware (QEMU stand-ins, Nucleo, nRF52840 DK).

``cmake -S . -B build -DCMAKE_BUILD_TYPE=Release [-DTFLM_DIR=...]``, ``cmake --build build -j N``; images
build/firmware.elf, .bin, .hex. TFLM projects build TFLM from ``TFLM_DIR`` (or a pinned FetchContent).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.buildsys.base import APT_ARM, BuildStep, BuildSystem, Layout, need, register

if TYPE_CHECKING:
    from edgekit.manifest import ProjectManifest

_BARE_METAL = {"cmake/arm-none-eabi.cmake.j2": "cmake/arm-none-eabi.cmake", "cmake/linker.ld.j2": "linker.ld"}


@register
class CMake(BuildSystem):
    name = "cmake"
    title = "CMake"
    tflm_flavour = "tflm"
    tflm_version = "tflite-micro {tflm_commit:.12}"

    def layout(self, runtime: str) -> Layout:
        if runtime == "tflm":
            return Layout("src", "model", "model", None, ("ek_tflm_log.cc",), {
                "tflm/cmake/CMakeLists.txt.j2": "CMakeLists.txt", "tflm/cmake/tflm.cmake.j2": "cmake/tflm.cmake",
                "tflm/cmake/arm-none-eabi.cmake.j2": "cmake/arm-none-eabi.cmake",
                "tflm/edgekit_build.cmake.j2": "edgekit_build.cmake", "tflm/cmake/README.md.j2": "README.md",
                "cmake/linker.ld.j2": "linker.ld"})
        return Layout("src", "model", "src", None, (), {"cmake/CMakeLists.txt.j2": "CMakeLists.txt", **_BARE_METAL})

    def plan(self, root: Path, project: ProjectManifest, *, jobs: int, tflm_dir: str | None,
             cmsis_nn: bool) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        build = root / "build"
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"]
        env: dict[str, str] = {}
        if project.runtime == "tflm":
            tdir = tflm_dir or os.environ.get("TFLM_DIR")
            if tdir:
                configure.append(f"-DTFLM_DIR={Path(tdir).expanduser().resolve()}")
                env["TFLM_DIR"] = tdir
            configure.append(f"-DEDGEKIT_CMSIS_NN={'ON' if cmsis_nn else 'OFF'}")
        return configure_and_build(root, configure, jobs), [build / "firmware.bin", build / "firmware.hex"], env

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None) -> list[str]:
        missing: list[str] = []
        if runtime != "tflm":
            for prog in ("cmake", "arm-none-eabi-gcc"):
                need(missing, prog, APT_ARM)
            return missing
        need(missing, "cmake", "sudo apt-get install cmake")
        for prog in ("arm-none-eabi-gcc", "arm-none-eabi-g++"):
            need(missing, prog, "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                                "libstdc++-arm-none-eabi-newlib")
        if not (tflm_dir or os.environ.get("TFLM_DIR")):
            missing.append("TFLM_DIR (environment variable: a tensorflow/tflite-micro checkout with its "
                           "third-party downloads; see README.md)")
        return missing

    def install_hint(self, runtime: str) -> str:
        if runtime != "tflm":
            return APT_ARM
        return (f"{APT_ARM}; then set TFLM_DIR (or pass --tflm-dir) to a tensorflow/tflite-micro checkout after "
                "'make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads' in it")


def configure_and_build(root: Path, configure: list[str], jobs: int) -> list[BuildStep]:
    """A CMake project's two steps: configure (``configure`` argv) and build with ``jobs`` jobs."""
    return [BuildStep("firmware configure", tuple(configure)),
            BuildStep("firmware build", ("cmake", "--build", str(root / "build"), "-j", str(jobs)))]
