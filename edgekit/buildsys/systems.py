"""How ``edgekit build`` builds each kind of generated project: the commands, what they need, where the image lands.

The project's ``edgekit_project.json`` says which build system it uses (``build_system``; older files have none and
are CMake). :func:`plan_build` asks that build system (:mod:`edgekit.buildsys.registry`, one module each) for the
exact commands, run in the project directory:

- cmake: ``cmake -S . -B build -DCMAKE_BUILD_TYPE=Release [-DEDGEKIT_TFLM_DIR=...]``, ``cmake --build build -j N``;
  images build/firmware.elf, .bin, .hex
- pico-sdk: the same two with ``-DPICO_SDK_PATH=$PICO_SDK_PATH``; build/firmware.elf, .uf2, .bin, .hex
- esp-idf: ``idf.py -C . -B build build`` (IDF_PATH and idf.py from ``export.sh``); build/<name>.elf, .bin
- zephyr: ``west build -b <board> -d build .`` (a west workspace or ZEPHYR_BASE); build/zephyr/zephyr.elf,
  .hex, .bin (.uf2 when the board's Zephyr config asks for one)
- platformio: ``pio run -d . -e <env> -j N``; .pio/build/<env>/firmware.elf, .hex, .bin

(paths relative to the project; the commands name them absolutely).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.buildsys.base import BuildStep
from edgekit.errors import ToolMissing, UsageError

__all__ = ["BuildPlan", "BuildStep", "find_images", "plan_build"]

BUILD_DIR = "build"


@dataclass(frozen=True)
class BuildPlan:
    """The commands that build a project, what this machine lacks to run them, and where the images land."""

    project_dir: Path
    build_system: str
    runtime: str
    steps: tuple[BuildStep, ...]
    elf: Path                        # the ELF the build produces
    images: tuple[Path, ...]         # every image file the build may produce (ELF first), where known
    missing: tuple[str, ...] = ()    # programs / settings this machine lacks (empty: ready)
    hint: str = ""                   # how to install what is missing
    env: dict[str, str] = field(default_factory=dict)  # settings the commands take from the environment

    def to_dict(self) -> dict[str, Any]:
        return {"project_dir": str(self.project_dir), "build_system": self.build_system, "runtime": self.runtime,
                "steps": [{"what": s.what, "argv": list(s.argv), "cmdline": s.cmdline} for s in self.steps],
                "elf": str(self.elf), "images": [str(p) for p in self.images], "missing": list(self.missing),
                "hint": self.hint, "env": dict(self.env)}

    def require_tools(self) -> None:
        """ToolMissing naming everything missing, the install step and the commands that will then run."""
        if self.missing:
            then = "; ".join(s.cmdline for s in self.steps)
            raise ToolMissing(f"{self.project_dir}: cannot build this {self.build_system} project, missing: "
                              f"{'; '.join(self.missing)}", hint=f"{self.hint}; then 'edgekit build' runs: {then}")


def plan_build(project_dir: str | os.PathLike[str], *, jobs: int = 2, tflm_dir: str | None = None,
               cmsis_nn: bool = False, tflm_fetch: bool | None = False) -> BuildPlan:
    """The exact commands that build the generated project in ``project_dir`` (nothing is run).

    Args:
        project_dir: a project made by ``edgekit generate``.
        jobs: parallel compile jobs (CMake, Pico SDK, PlatformIO; ESP-IDF and Zephyr use ninja's default).
        tflm_dir: TFLM CMake projects: the tflite-micro tree (default: the ``EDGEKIT_TFLM_DIR`` environment variable).
        cmsis_nn: TFLM CMake projects: build TFLM's CMSIS-NN kernels.
        tflm_fetch: TFLM CMake projects without a tree: let CMake download the pinned TFLM (also: the
            ``EDGEKIT_TFLM_FETCH`` environment variable). The TFLM library is built once per configuration and
            reused from :mod:`edgekit.buildsys.tflm_cache`.

    Raises:
        UsageError: not an edgekit project, or an unknown build system.
    """
    from edgekit.buildsys.registry import firmware_systems, get
    from edgekit.manifest import load_project

    root = Path(project_dir).expanduser().resolve()
    data = load_project(root)
    name = data.build_system
    runtime = data.runtime
    if name not in firmware_systems():
        raise UsageError(f"{root}: unknown build system '{name}' in edgekit_project.json (known: "
                         f"{', '.join(firmware_systems())})", hint="run 'edgekit generate' again")
    system = get(name)
    elf = root / data.elf
    steps, images, env = system.plan(root, data, jobs=max(1, int(jobs)), tflm_dir=tflm_dir, cmsis_nn=cmsis_nn,
                                     tflm_fetch=bool(tflm_fetch))
    missing = system.missing(root, runtime=runtime, tflm_dir=tflm_dir, tflm_fetch=bool(tflm_fetch))
    return BuildPlan(root, name, runtime, tuple(steps), elf, tuple(dict.fromkeys([elf, *images])), tuple(missing),
                     system.install_hint(runtime, missing), env)


def find_images(plan: BuildPlan) -> list[Path]:
    """The image files a finished build left (those of ``plan.images`` that exist, the ELF first)."""
    return [p for p in plan.images if p.is_file()]
