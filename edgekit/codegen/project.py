"""edgekit's AOT runtime in a self-contained firmware project for a model and a board.

The bare-metal project (CMake, arm-none-eabi-gcc) holds the firmware core (``firmware_templates/common``: startup,
UART, timer, the host protocol), the model as C from the AOT code generator, a linker script rendered
from the board's memory regions, and ``edgekit_project.json`` that ``edgekit build``/``bench`` read::

    <out_dir>/
      CMakeLists.txt  cmake/arm-none-eabi.cmake  linker.ld  edgekit_project.json
      src/    firmware core + ek_config.h (board and model facts)
      model/  ek_model.h/.c, ek_weights.c/.h, ek_*.c/.h (AOT runtime kernels)

Boards whose protocol link only their SDK drives (USB CDC, USB-Serial-JTAG) or that are not Arm Cortex-M get the same
model in their SDK's project instead (Pico SDK library, ESP-IDF component, Zephyr module, Arduino/PlatformIO
library; :mod:`edgekit.codegen.aot_project`); where the pieces go is the build system's
:class:`~edgekit.buildsys.base.Layout`.

Generation is atomic: everything is rendered into a temporary sibling directory that replaces
``out_dir`` only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.codegen.common import (  # noqa: F401  (re-exported: the names this module always had)
    COMMON_DIR,
    DEFAULT_LINE_MAX,
    DEFAULT_STACK_BYTES,
    NUM_IRQS,
    OUT0_DTYPES,
    PROJECT_FILE,
    PROJECT_SCHEMA,
    TEMPLATES,
    TIMERS,
    UART_DRIVERS,
    check_board,
    check_out_dir,
    copy_core,
    firmware_facts,
    model_io,
    render,
    render_layout,
)
from edgekit.codegen.common import project_name as make_project_name
from edgekit.cores import PORTABLE, CoreFeatures
from edgekit.errors import UsageError
from edgekit.fsutil import replace_dir
from edgekit.manifest import ModelFacts, ProjectManifest

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.codegen.aot.variants import Target
    from edgekit.tflite_model import TFLiteModel

CMAKE_DIR = TEMPLATES / "cmake"
ELF_PATH = "build/firmware.elf"


@dataclass(frozen=True)
class GenerateResult:
    """What :func:`generate` wrote."""

    project_dir: Path
    name: str
    board: str
    runtime: str
    model_name: str
    model_sha256: str
    arena_bytes: int
    weights_bytes: int
    input_bytes: int
    stack_bytes: int
    files: tuple[str, ...]
    build_system: str = "cmake"  # the build system of the project (edgekit.buildsys.registry)
    elf: str = ELF_PATH          # where its build leaves the ELF, relative to project_dir
    kernel_variants: list[dict[str, Any]] = field(default_factory=list)  # DSP cores: weight width per layer

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["project_dir"] = str(self.project_dir)
        d["files"] = list(self.files)
        return d


def generate_aot(model: TFLiteModel | str | os.PathLike[str] | bytes, board: BoardProfile, *,
                 out_dir: str | os.PathLike[str], name: str | None = None,
                 stack_bytes: int = DEFAULT_STACK_BYTES, sparse: str = "auto", weights: str = "auto",
                 flash_wait_states: int | None = None,
                 build_system: str | None = None, model_sources: ModelSources | None = None,
                 io: dict[str, Any] | None = None, manifest_extra: dict[str, Any] | None = None) -> GenerateResult:
    """Render a firmware project running ``model`` on edgekit's AOT runtime into ``out_dir``: edgekit's bare-metal
    CMake firmware, or the board's own SDK with the model as that SDK's library (:mod:`edgekit.codegen.aot_project`).

    Most callers want :func:`edgekit.generate`, which picks the runtime and the generator for a board.

    Args:
        model: a .tflite path, its bytes, or a loaded :class:`~edgekit.tflite_model.TFLiteModel`.
        board: the board's profile (a microcontroller).
        out_dir: the project directory; replaced if it holds an earlier edgekit project, refused if it
            holds anything else.
        name: the project name (a C identifier; default: from the model file name).
        stack_bytes: stack reserved by the linker script (painted at boot, reported by ``ek-stack%``).
        sparse: sparse weights for CONV_2D / FULLY_CONNECTED, ``"auto"`` (where the cost model says it is
            faster), ``"off"`` or ``"force"`` (see :func:`edgekit.codegen.aot.generate_c`).
        weights: DSP cores' weight width per CONV_2D / FULLY_CONNECTED layer, ``"auto"`` (the cycle model of
            :mod:`edgekit.codegen.aot.variants` at the board's flash wait states, within its flash less
            ``CODE_FLASH_RESERVE``), ``"int8"`` or ``"int16"``; the decisions go to the manifest (``kernel_variants``).
        flash_wait_states: the wait states the weights choice assumes (default: the board's
            ``firmware.clock.flash_wait_states``; e.g. a QEMU stand-in generated for a real board's flash).
        build_system: one of :func:`edgekit.codegen.aot_project.aot_build_systems` for the board (default: its
            first: edgekit's bare-metal CMake project where the firmware core drives the board, else its SDK).
        model_sources: what writes the model's C into the project's model directory (default
            :func:`aot_model_sources`, the AOT code generator; tests put a hand-written model there instead).
        io: the model's input/output facts for ``ek_config.h`` and the manifest (default: from the .tflite,
            :func:`~edgekit.codegen.common.model_io`); a model that is not a .tflite (a tree ensemble,
            :mod:`edgekit.trees.project`) passes its own with its ``model_sources``.
        manifest_extra: more keys for ``edgekit_project.json`` (e.g. ``trees``).

    Raises:
        UsageError: a board that edgekit cannot generate for, bad name or out_dir.
        ModelError / UnsupportedOpError: an unreadable model or one the runtime cannot run.
    """
    from edgekit import __version__
    from edgekit.buildsys.base import pins
    from edgekit.codegen.aot.variants import Target, check_weights_mode
    from edgekit.codegen.aot_project import choose_build_system
    from edgekit.cycles.model import board_flash_wait_states
    from edgekit.tflite_model import load_model

    check_weights_mode(weights)

    profile = board
    runtime = "edgekit"
    system = choose_build_system(profile, build_system)
    flash_region, ram_region = check_board(profile) if system.name == "cmake" else (None, None)
    if stack_bytes < 1024 or stack_bytes % 8:
        raise UsageError(f"stack size {stack_bytes} B: must be a multiple of 8 and at least 1024")
    m = load_model(model) if isinstance(model, (str, os.PathLike, bytes)) else model
    project_name = make_project_name(name, m)
    io = model_io(m) if io is None else io
    out = check_out_dir(Path(out_dir))
    layout = system.layout(runtime)
    env_name = profile.build.board or profile.id
    elf = system.elf(project_name, env_name)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model_dir = tmp / layout.model_dir
        model_dir.mkdir(parents=True)
        # int16 weights (DSP cores) only while they leave CODE_FLASH_RESERVE of the board's flash for the rest
        budget = max(profile.memory.flash_kb * 1024 - CODE_FLASH_RESERVE, 0) if profile.memory.flash_kb else None
        variants: list[dict[str, Any]] = []
        ws = board_flash_wait_states(profile) if flash_wait_states is None else int(flash_wait_states)
        target = Target(core=profile.core, flash_wait_states=ws)
        sources = model_sources or partial(aot_model_sources, weights_budget=budget, weights=weights, target=target,
                                           variants=variants)
        arena_bytes, weights_bytes, model_name = sources(m, model_dir, sparse, profile.features)
        if variants:
            manifest_extra = {**(manifest_extra or {}), "kernel_variants": {
                "weights": weights, "core": target.core, "flash_wait_states": target.flash_wait_states,
                "model": "edgekit/codegen/aot/variants.py", "layers": variants}}
        ctx = {
            "edgekit_version": __version__, "board": profile, "runtime": runtime, "name": project_name,
            "model_name": model_name, "model_sha256": m.sha256, "line_max": DEFAULT_LINE_MAX,
            "stack_bytes": stack_bytes, "num_irqs": NUM_IRQS,
            "energy_gpio": system.name == "cmake",  # only the bare-metal core has the ek_gpio_*.c drivers
            "timer_hz": profile.firmware.timer_hz or profile.firmware_clock_hz,
            "regions": profile.memory.regions, "flash": flash_region, "ram": ram_region,
            "cpu_flags": list(profile.build.cpu_flags), "defines": list(profile.build.defines), **io,
            "system": system, "build_system": system.name, "pins": pins(), "env_name": env_name, "elf": elf,
            "arena_bytes": arena_bytes, "weights_bytes": weights_bytes,
        }
        render_layout(layout, ctx, profile, tmp)
        files = [*sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()), PROJECT_FILE]
        result = GenerateResult(
            project_dir=out, name=project_name, board=profile.id, runtime=runtime, model_name=model_name,
            model_sha256=m.sha256, arena_bytes=arena_bytes, weights_bytes=weights_bytes,
            input_bytes=io["input_bytes"], stack_bytes=stack_bytes, files=tuple(sorted(files)),
            build_system=system.name, elf=elf, kernel_variants=variants)
        _write_project_file(tmp / PROJECT_FILE, result, profile, m, io, __version__, manifest_extra)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


# ------------------------------------------------------------------------------------------------------

# (model, model directory, sparse mode, core features) -> (arena bytes, weights bytes, model name)
ModelSources = Callable[["TFLiteModel", Path, str, CoreFeatures], tuple[int, int, str]]


# flash kept free for code and read-only data when the weights' budget is derived from a board's flash
CODE_FLASH_RESERVE = 64 * 1024


def aot_model_sources(m: TFLiteModel, model_dir: Path, sparse: str = "auto",
                      features: CoreFeatures = PORTABLE, weights_budget: int | None = None, weights: str = "auto",
                      target: Target | None = None,
                      variants: list[dict[str, Any]] | None = None) -> tuple[int, int, str]:
    """Run the AOT code generator into ``model_dir`` for a core with ``features``; returns (arena bytes,
    weights bytes, model name). ``weights_budget``, ``weights``, ``target``: see
    :func:`edgekit.codegen.aot.generate_c`; ``variants``: a list the per-layer weight decisions are added to."""
    from edgekit.codegen.aot import generate_c

    res = generate_c(m, model_dir, sparse=sparse, features=features, weights_budget=weights_budget,
                     weights=weights, target=target)
    if variants is not None:
        variants.extend(res.variants)
    return int(res.arena_bytes), int(res.weights_bytes), res.model_name or (m.path.stem if m.path else "model")


def _write_project_file(path: Path, res: GenerateResult, board: BoardProfile, m: TFLiteModel,
                        io: dict[str, Any], version: str, extra: dict[str, Any] | None = None) -> None:
    ProjectManifest(
        name=res.name, edgekit_version=version, board=board.id, board_file=str(board.path) if board.path else None,
        runtime=res.runtime,
        model=ModelFacts(name=res.model_name, path=str(m.path) if m.path else None, sha256=m.sha256,
                         input_bytes=io["input_bytes"], output0=io["out0"]),
        arena_bytes=res.arena_bytes, weights_bytes=res.weights_bytes, stack_bytes=res.stack_bytes,
        line_max=DEFAULT_LINE_MAX, firmware=firmware_facts(board), qemu=asdict(board.qemu) if board.qemu else None,
        elf=res.elf, files=tuple(res.files), build_system=res.build_system,
        zephyr_board=board.build.board or None, extra=dict(extra or {})).save(path.parent)


