"""Firmware projects that run a model with TensorFlow Lite Micro, one per build system.

Every project holds the same pieces: the model as a C array (:mod:`edgekit.codegen.carray`), an op resolver
with exactly its ops (:mod:`edgekit.codegen.op_resolver`), ``ek_model_tflm.cc`` implementing the
``ek_model_*`` API the firmware core calls, the firmware core's protocol (``firmware_templates/common``) and
the port glue of the board's SDK. The TFLM copy is pinned per build system (:data:`PINS`):

=============  =====================================================================================
cmake          bare-metal Cortex-M (QEMU stand-ins, Nucleo): TFLM sources from ``EDGEKIT_TFLM_DIR`` (or a pinned
               FetchContent), optional CMSIS-NN kernels (``-DEDGEKIT_CMSIS_NN=ON``)
esp-idf        ESP32-S3: Espressif's ``esp-tflite-micro`` component (ESP-NN kernels), USB-Serial-JTAG
pico-sdk       RP2040/RP2350: ``pico-tflmicro`` (CMSIS-NN kernels), stdio over USB
zephyr         nRF52840 DK: Zephyr's tflite-micro module (west manifest), console UART
platformio     Arduino Nano 33 BLE Sense: the TFLM Arduino library, ``Serial`` over USB
=============  =====================================================================================

The arena is TFLM's own measurement on the host interpreter (:func:`edgekit.tflm.tflm_arena_bytes`) plus a
margin (default ``10%+1KB``: the host build has 8-byte pointers, so the MCU needs a little less, and the
margin covers kernels whose scratch needs differ per platform, e.g. CMSIS-NN or ESP-NN buffers), aligned to 16.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.buildsys.base import pins
from edgekit.buildsys.registry import firmware_systems, get
from edgekit.codegen import common
from edgekit.codegen.carray import board_section, c_identifier_from_path, render_carray
from edgekit.codegen.op_resolver import render_resolver_header, resolver_for
from edgekit.errors import ModelError, UsageError
from edgekit.fsutil import replace_dir
from edgekit.manifest import ModelFacts, ProjectManifest, load_project

if TYPE_CHECKING:
    from collections.abc import Iterable

    from edgekit.boards import BoardProfile
    from edgekit.tflite_model import TFLiteModel

__all__ = ["BUILD_SYSTEMS", "DEFAULT_ARENA_MARGIN", "PINS", "arena_with_margin", "build_command",
           "generate_tflm", "missing_tools", "parse_arena_margin"]

TEMPLATES = common.TEMPLATES
DEFAULT_ARENA_MARGIN = "10%+1KB"

# Pinned third-party sources (edgekit/buildsys/pins.yaml): git commits or exact registry versions.
PINS: dict[str, str] = pins()

# build.system -> (op-resolver flavour, runtime version string reported by the firmware, ELF path), from the registry
BUILD_SYSTEMS: dict[str, tuple[str, str, str]] = {
    n: (get(n).tflm_flavour, get(n).runtime_version(), get(n).elf_path) for n in firmware_systems()}


def parse_arena_margin(spec: str | int | float) -> tuple[float, int]:
    """Parse an arena margin: ``"10%+1KB"``, ``"25%"``, ``"4096"``, ``"2KB"``, ``0`` -> (fraction, extra bytes).

    >>> parse_arena_margin("10%+1KB")
    (0.1, 1024)
    >>> parse_arena_margin("512")
    (0.0, 512)
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        if spec < 0:
            raise UsageError(f"arena margin {spec}: must not be negative")
        return 0.0, int(spec)
    text = str(spec).replace(" ", "").upper()
    fraction, extra = 0.0, 0
    for part in filter(None, text.split("+")):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(%|B|KB|K|KIB)?", part)
        if m is None:
            raise UsageError(f"arena margin '{spec}': cannot read '{part}'",
                             hint="use a percentage and/or a byte count, e.g. 10%+1KB, 25%, 4096")
        value, unit = float(m.group(1)), m.group(2) or "B"
        if unit == "%":
            fraction += value / 100.0
        else:
            extra += int(value * (1024 if unit.startswith("K") else 1))
    if fraction > 10:
        raise UsageError(f"arena margin '{spec}': more than 1000% is surely a mistake")
    return fraction, extra


def arena_with_margin(measured: int, margin: str | int | float = DEFAULT_ARENA_MARGIN) -> int:
    """``measured`` bytes plus the margin, rounded up to a multiple of 16.

    >>> arena_with_margin(22772)
    26080
    """
    fraction, extra = parse_arena_margin(margin)
    size = measured + int(-(-measured * fraction // 1)) + extra
    return (size + 15) // 16 * 16


def generate_tflm(model: TFLiteModel | str | os.PathLike[str] | bytes, board: str | BoardProfile,
                  out_dir: str | os.PathLike[str], *, name: str | None = None,
                  arena_margin: str | int | float = DEFAULT_ARENA_MARGIN, arena_bytes: int | None = None,
                  stack_bytes: int = common.DEFAULT_STACK_BYTES, int8_kernels: bool = True,
                  boards_dirs: Iterable[str | os.PathLike[str]] | None = None) -> dict[str, Any]:
    """Render a TFLM firmware project for ``model`` on ``board`` into ``out_dir`` (atomically).

    Args:
        model: a .tflite path, its bytes, or a loaded model.
        board: a board id or profile; its ``build.system`` picks the project kind.
        out_dir: replaced if it holds an earlier edgekit project, refused if it holds anything else.
        name: project name (a C identifier; default from the model file name).
        arena_margin: added to TFLM's measured arena (see :func:`parse_arena_margin`).
        arena_bytes: the arena TFLM needs, when known (skips the measurement, which needs the tflite-micro
            package); the margin is still added.
        stack_bytes: stack reserved by the bare-metal linker script (CMake projects).
        int8_kernels: register int8-only kernels where the model allows.
        boards_dirs: extra board directories.

    Returns:
        A JSON-friendly summary: project_dir, build_system, files, arena figures, ops, pins...

    Raises:
        UsageError: a board that has no TFLM template (e.g. a Linux SBC), a bad name or out_dir.
        UnsupportedOpError: an op the board's TFLM copy does not provide.
        ModelError: a graph without operators.
        ToolMissing: the arena must be measured and tflite-micro is not installed.
    """
    from edgekit import __version__
    from edgekit.boards import load_board
    from edgekit.tflite_model import TFLiteModel, load_model

    profile = load_board(board, boards_dirs)
    system = profile.build.system
    if system not in BUILD_SYSTEMS or profile.kind != "mcu":
        raise UsageError(f"board '{profile.id}' ({profile.kind}, builds with {system}): no TFLM firmware template",
                         hint=f"TFLM projects exist for microcontroller boards built with {', '.join(BUILD_SYSTEMS)}")
    regions = common.check_board(profile) if system == "cmake" else (None, None)
    m = model if isinstance(model, TFLiteModel) else load_model(model)
    if not m.main.operators:  # TFLM would run nothing; the resolver would be a MicroMutableOpResolver<0>
        raise ModelError(f"{m.path or 'model'}: the graph has no operators: nothing to run",
                         hint="the file is not a model TFLM can run; check it with 'edgekit inspect'")
    project_name = common.project_name(name, m)
    flavour, tflm_version, elf = BUILD_SYSTEMS[system]
    resolver = resolver_for(m, flavour=flavour, int8_kernels=int8_kernels)
    io = common.model_io(m)
    measured = int(arena_bytes) if arena_bytes is not None else _measure_arena(m)
    if measured <= 0:
        raise UsageError(f"arena_bytes must be positive, got {measured}")
    arena = arena_with_margin(measured, arena_margin)
    out = common.check_out_dir(Path(out_dir))
    sg = m.main
    model_name = m.path.stem if m.path is not None else project_name
    env_name = profile.build.board or profile.id
    ctx: dict[str, Any] = {
        "edgekit_version": __version__, "board": profile, "runtime": "tflm", "name": project_name,
        "model_name": model_name, "model_sha256": m.sha256, "line_max": common.DEFAULT_LINE_MAX,
        "stack_bytes": stack_bytes, "num_irqs": common.NUM_IRQS,
        "timer_hz": profile.firmware.timer_hz or profile.firmware_clock_hz, "regions": profile.memory.regions,
        "energy_gpio": system == "cmake",  # only the bare-metal project ships the core's ek_gpio_*.c
        "flash": regions[0], "ram": regions[1], "cpu_flags": list(profile.build.cpu_flags),
        "defines": list(profile.build.defines), **io,
        "resolver": resolver, "arena_bytes": arena, "arena_measured": measured, "arena_margin": str(arena_margin),
        "tflm_version": tflm_version, "pins": PINS, "build_system": system, "env_name": env_name,
        "array_name": "ek_model_data" if m.path is None else c_identifier_from_path(m.path) + "_tflite",
        "num_inputs": len(sg.inputs), "num_outputs": len(sg.outputs),
        "input_sizes": [sg.tensors[i].nbytes for i in sg.inputs],
        "output_sizes": [sg.tensors[i].nbytes for i in sg.outputs],
        "arena_section": ".bss.ek_arena" if system == "cmake" else None,
        "model_section": board_section(profile) or (".rodata.ek_weights" if system == "cmake" else None),
        "elf": elf.format(name=project_name, env=env_name),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _render_project(system, ctx, profile, m, tmp)
        files = [*(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()), common.PROJECT_FILE]
        summary = _summary(out, ctx, resolver, sorted(files))
        _write_project_file(tmp / common.PROJECT_FILE, summary, ctx, profile, m)
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def build_command(project_dir: str | os.PathLike[str], *, tflm_dir: str | None = None,
                  cmsis_nn: bool = False) -> list[str]:
    """The one command that builds a generated TFLM project (run it in ``project_dir``).

    ``tflm_dir`` (default: the ``EDGEKIT_TFLM_DIR`` environment variable) and ``cmsis_nn`` apply to CMake projects.
    ``edgekit build`` runs the same build as explicit steps (:func:`edgekit.buildsys.systems.plan_build`: CMake and
    Pico SDK projects as configure + build, the others with this command; PlatformIO with ``-j N`` added).
    """
    proj = Path(project_dir).resolve()
    data = load_project(proj)
    system = data.build_system
    if system in ("cmake", "pico-sdk"):
        argv = ["cmake"]
        if system == "cmake":
            tflm = tflm_dir or os.environ.get("EDGEKIT_TFLM_DIR")
            if tflm:
                argv.append(f"-DEDGEKIT_TFLM_DIR={tflm}")
            argv.append(f"-DEDGEKIT_CMSIS_NN={'ON' if cmsis_nn else 'OFF'}")
        return [*argv, "-P", str(proj / "edgekit_build.cmake")]
    if system == "esp-idf":
        return ["idf.py", "-C", str(proj), "-B", str(proj / "build"), "build"]
    if system == "zephyr":
        return ["west", "build", "-b", str(data.zephyr_board), "-d", str(proj / "build"), str(proj)]
    if system == "platformio":
        parts = Path(data.elf).parts  # .pio/build/<env>/firmware.elf
        env = ["-e", parts[2]] if len(parts) >= 4 and parts[:2] == (".pio", "build") else []
        return ["pio", "run", "-d", str(proj), *env]
    raise UsageError(f"{proj}: unknown build system '{system}' in {common.PROJECT_FILE}")


def missing_tools(project_dir: str | os.PathLike[str], *, tflm_dir: str | None = None,
                  tflm_fetch: bool = False) -> list[str]:
    """What the build of a generated TFLM project needs and this machine lacks (empty: ready to build).

    Each entry names one program or setting and how to get it, e.g.
    ``"idf.py (ESP-IDF >= 5.3: install it and run '. $IDF_PATH/export.sh')"``.
    """
    proj = Path(project_dir).resolve()
    system = load_project(proj).build_system
    return get(system).missing(proj, runtime="tflm", tflm_dir=tflm_dir, tflm_fetch=tflm_fetch)


# ------------------------------------------------------------------------------------------------------

def _measure_arena(m: TFLiteModel) -> int:
    from edgekit.tflm import tflm_arena_bytes

    return int(tflm_arena_bytes(m))


def _render_project(system: str, ctx: dict[str, Any], profile: BoardProfile, m: TFLiteModel, tmp: Path) -> None:
    layout = get(system).layout("tflm")
    model_dir = tmp / layout.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    header, source = render_carray(m.data, ctx["array_name"], lang="cc", section=ctx["model_section"],
                                   source_note=m.path.name if m.path else "")
    (model_dir / "model_data.h").write_text(header, encoding="utf-8")
    (model_dir / "model_data.cc").write_text(source, encoding="utf-8")
    (model_dir / "ek_op_resolver.h").write_text(render_resolver_header(ctx["resolver"]), encoding="utf-8")
    common.render("tflm/ek_model.h.j2", ctx, model_dir / "ek_model.h")
    common.render("tflm/ek_model_tflm.cc.j2", ctx, model_dir / "ek_model_tflm.cc")
    common.render_layout(layout, ctx, profile, tmp)


def _summary(out: Path, ctx: dict[str, Any], resolver: Any, files: list[str]) -> dict[str, Any]:
    return {
        "project_dir": str(out), "name": ctx["name"], "board": ctx["board"].id, "runtime": "tflm",
        "build_system": ctx["build_system"], "tflm": ctx["tflm_version"], "flavour": resolver.flavour,
        "model_name": ctx["model_name"], "model_sha256": ctx["model_sha256"],
        "arena_bytes": ctx["arena_bytes"], "arena_measured": ctx["arena_measured"],
        "arena_margin": ctx["arena_margin"], "input_bytes": ctx["input_bytes"],
        "ops": [{"op": r.op, "count": r.count, "method": r.method, "registration": r.registration}
                for r in resolver.ops],
        "resolver_n": resolver.n, "elf": ctx["elf"], "files": files,
    }


def _write_project_file(path: Path, summary: dict[str, Any], ctx: dict[str, Any], board: BoardProfile,
                        m: TFLiteModel) -> None:
    """edgekit_project.json: the keys of project.generate's file plus the TFLM specifics."""
    ProjectManifest(
        name=summary["name"], edgekit_version=ctx["edgekit_version"], board=board.id,
        board_file=str(board.path) if board.path else None, runtime="tflm", build_system=ctx["build_system"],
        model=ModelFacts(name=summary["model_name"], path=str(m.path) if m.path else None, sha256=m.sha256,
                         input_bytes=ctx["input_bytes"], output0=ctx["out0"]),
        arena_bytes=summary["arena_bytes"], weights_bytes=len(m.data), stack_bytes=ctx["stack_bytes"],
        line_max=common.DEFAULT_LINE_MAX, firmware=common.firmware_facts(board),
        qemu=asdict(board.qemu) if board.qemu else None, elf=summary["elf"], files=tuple(summary["files"]),
        tflm={"version": summary["tflm"], "flavour": summary["flavour"], "arena_measured": summary["arena_measured"],
              "arena_margin": summary["arena_margin"], "ops": summary["ops"], "pins": PINS},
        zephyr_board=board.build.board or None).save(path.parent)

