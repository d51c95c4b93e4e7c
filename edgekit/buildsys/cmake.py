"""CMake + arm-none-eabi-gcc: edgekit's own bare-metal firmware (QEMU stand-ins, Nucleo, nRF52840 DK).

``cmake -S . -B build -DCMAKE_BUILD_TYPE=Release [-DEDGEKIT_TFLM_DIR=...]``, ``cmake --build build -j N``; images
build/firmware.elf, .bin, .hex. TFLM projects build TFLM from ``EDGEKIT_TFLM_DIR`` (or, with ``--tflm-fetch`` /
``EDGEKIT_TFLM_FETCH=1``, a pinned FetchContent), once per configuration: the library is reused from
:mod:`edgekit.buildsys.tflm_cache`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.buildsys.base import APT_ARM, BuildStep, BuildSystem, Layout, need, pins, register

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
             cmsis_nn: bool, tflm_fetch: bool = False) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        build = root / "build"
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"]
        env: dict[str, str] = {}
        if project.runtime == "tflm":
            configure += _tflm_configure(root, env, tflm_dir, cmsis_nn, tflm_fetch)
        return configure_and_build(root, configure, jobs), [build / "firmware.bin", build / "firmware.hex"], env

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None, tflm_fetch: bool = False) -> list[str]:
        missing: list[str] = []
        if runtime != "tflm":
            for prog in ("cmake", "arm-none-eabi-gcc"):
                need(missing, prog, APT_ARM)
            return missing
        need(missing, "cmake", "sudo apt-get install cmake")
        for prog in ("arm-none-eabi-gcc", "arm-none-eabi-g++"):
            need(missing, prog, "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                                "libstdc++-arm-none-eabi-newlib")
        if not (tflm_dir or os.environ.get("EDGEKIT_TFLM_DIR") or tflm_fetch or fetch_asked()):
            missing.append("EDGEKIT_TFLM_DIR (a tensorflow/tflite-micro checkout with its third-party downloads, "
                           "or --tflm-fetch to download the pinned revision; README.md, 'TFLM projects')")
        return missing

    def install_hint(self, runtime: str, missing: tuple[str, ...] | list[str] = ()) -> str:
        """How to get what is missing, and only that (no install line for programs that are installed)."""
        if runtime != "tflm":
            return APT_ARM
        tree_missing = [m for m in missing if m.startswith("EDGEKIT_TFLM_DIR")]
        parts = [APT_ARM] if len(tree_missing) < len(missing) or not missing else []
        if tree_missing or not missing:
            parts.append(TFLM_TREE_HINT)
        return "; ".join(parts)


# How to give a TFLM CMake project its TensorFlow Lite Micro sources (the one variable: EDGEKIT_TFLM_DIR).
TFLM_TREE_HINT = ("export EDGEKIT_TFLM_DIR=<a tensorflow/tflite-micro checkout> (or pass --tflm-dir) after running "
                  "'make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads' in it once, or pass "
                  "--tflm-fetch (EDGEKIT_TFLM_FETCH=1) to let CMake download the pinned revision (git + network)")


def fetch_asked() -> bool:
    """``EDGEKIT_TFLM_FETCH`` is set to a true value."""
    return os.environ.get("EDGEKIT_TFLM_FETCH", "").lower() in ("1", "on", "true", "yes")


def _tflm_configure(root: Path, env: dict[str, str], tflm_dir: str | None, cmsis_nn: bool,
                    tflm_fetch: bool) -> list[str]:
    """The CMake -D options of a TFLM project: the tree (or the fetch), the kernels, the library cache."""
    from edgekit.buildsys.tflm_cache import library_dir

    fetch = tflm_fetch or fetch_asked()
    out = []
    tdir = tflm_dir or os.environ.get("EDGEKIT_TFLM_DIR")
    tree = Path(tdir).expanduser().resolve() if tdir else None
    if tree is not None:
        out.append(f"-DEDGEKIT_TFLM_DIR={tree}")
        env["EDGEKIT_TFLM_DIR"] = str(tdir)
    elif fetch:
        out.append("-DEDGEKIT_TFLM_FETCH=ON")
    out.append(f"-DEDGEKIT_CMSIS_NN={'ON' if cmsis_nn else 'OFF'}")
    if (tree is not None and tree.is_dir()) or (tree is None and fetch):
        commits = " ".join(f"{k}={v}" for k, v in sorted(pins().items()) if k.endswith("_commit"))
        cache = library_dir(root, tflm_dir=tree, cmsis_nn=cmsis_nn, fetch_pins=commits)
        out.append(f"-DEDGEKIT_TFLM_LIB_CACHE={cache}")
    return out


def configure_and_build(root: Path, configure: list[str], jobs: int) -> list[BuildStep]:
    """A CMake project's two steps: configure (``configure`` argv) and build with ``jobs`` jobs."""
    return [BuildStep("firmware configure", tuple(configure)),
            BuildStep("firmware build", ("cmake", "--build", str(root / "build"), "-j", str(jobs)))]
