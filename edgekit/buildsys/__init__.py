"""``edgekit build``: compile a generated firmware project and account for its flash and RAM.

Runs the board's own build tool through :func:`edgekit.proc.run`, as the project's ``edgekit_project.json``
says (:mod:`edgekit.buildsys.systems`: CMake, Pico SDK, ESP-IDF ``idf.py``, Zephyr ``west``, PlatformIO ``pio``),
after checking that every tool and SDK it needs is installed. Then it reads the ELF with pyelftools:
flash = every loaded section whose load address is in a flash region (.vectors, .text, .ek_weights, .rodata,
.ARM.exidx and the initial values of .data); RAM = every allocated section in a RAM region (.stack, .data,
.ek_arena, .bss). The totals are checked against the board's budget (``memory.flash_kb`` / ``memory.ram_kb``)
so that a model that cannot fit fails here, before anyone flashes it (boards without memory regions, whose SDK
writes its own linker script, are reported but not checked: their linker refuses what does not fit). Results
go to ``build/edgekit_build.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import BuildError

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile, MemoryRegion
    from edgekit.manifest import ProjectManifest

BUILD_DIR = "build"
BUILD_FILE = "edgekit_build.json"
LOG_FILE = "edgekit_build.log"
TIMEOUT_S = 1800.0
TFLM_TIMEOUT_S = 3600.0  # all of TFLM compiles in 10-40 min on 2 cores
ARENA_GUARD_BYTES = 32  # 16-byte guard words on each side of the arena (linker.ld)
_OVERFLOW = re.compile(r"region [`']?(\w+)'? overflowed by (\d+) bytes")


@dataclass(frozen=True)
class SectionSize:
    """One allocated section of the firmware image."""

    name: str
    address: int
    size: int
    region: str  # memory region name of its run address (e.g. FLASH, RAM), "" when outside every region
    flash: bool  # counted in flash (stored in the image)
    ram: bool    # counted in RAM (occupies RAM at run time)


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` produced and how it fits the board."""

    project_dir: Path
    elf: Path
    board: str
    runtime: str
    flash_bytes: int
    ram_bytes: int
    weights_bytes: int
    arena_bytes: int
    stack_bytes: int
    flash_budget_bytes: int
    ram_budget_bytes: int
    sections: tuple[SectionSize, ...]
    build_system: str = "cmake"
    images: tuple[Path, ...] = ()  # every image file the build left (ELF first: .bin, .hex, .uf2 ...)

    @property
    def fits(self) -> bool:
        return self.flash_bytes <= self.flash_budget_bytes and self.ram_bytes <= self.ram_budget_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_dir": str(self.project_dir), "elf": str(self.elf), "board": self.board,
            "runtime": self.runtime, "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes,
            "weights_bytes": self.weights_bytes, "arena_bytes": self.arena_bytes, "stack_bytes": self.stack_bytes,
            "flash_budget_bytes": self.flash_budget_bytes, "ram_budget_bytes": self.ram_budget_bytes,
            "fits": self.fits, "build_system": self.build_system, "images": [str(p) for p in self.images],
            "sections": [{"name": s.name, "address": s.address, "size": s.size, "region": s.region,
                          "flash": s.flash, "ram": s.ram} for s in self.sections],
        }


def build(project_dir: str | os.PathLike[str], *, jobs: int = 2, clean: bool = False,
          boards_dirs: list[str] | None = None, tflm_dir: str | None = None, cmsis_nn: bool = False,
          tflm_fetch: bool | None = None) -> BuildResult:
    """Build a project made by ``edgekit generate`` with its board's build tool, then account for its memory.

    Args:
        project_dir: the generated project.
        jobs: parallel compile jobs.
        clean: delete ``build/`` first.
        boards_dirs: extra board directories (to find the board if its file moved).
        tflm_dir: TFLM CMake projects: the tflite-micro tree (default: ``EDGEKIT_TFLM_DIR``).
        cmsis_nn: TFLM CMake projects: use TFLM's CMSIS-NN kernels.
        tflm_fetch: TFLM CMake projects without a tree: download the pinned TFLM (default: ``EDGEKIT_TFLM_FETCH``).
            Either way the TFLM library is built once per configuration and reused (:mod:`.tflm_cache`).

    Raises:
        UsageError: not an edgekit project.
        ToolMissing: a tool or SDK the project's build system needs is not installed (all of them are named,
            with the install step and the environment variable to set).
        BuildError: compilation failed, no ELF came out, or the image does not fit the board.
    """
    from edgekit import proc
    from edgekit.buildsys.systems import find_images, plan_build
    from edgekit.manifest import load_project

    root = Path(project_dir).expanduser().resolve()
    project = load_project(root)
    board = _project_board(project, boards_dirs)
    plan = plan_build(root, jobs=jobs, tflm_dir=tflm_dir, cmsis_nn=cmsis_nn, tflm_fetch=tflm_fetch)
    plan.require_tools()
    build_dir = root / BUILD_DIR
    if clean:
        for d in (build_dir, root / ".pio" / "build"):
            if d.exists():
                shutil.rmtree(d)
    build_dir.mkdir(exist_ok=True)
    log_path = build_dir / LOG_FILE
    log: list[str] = []
    timeout = TFLM_TIMEOUT_S if plan.runtime == "tflm" else TIMEOUT_S
    for step in plan.steps:
        res = proc.run(step.argv, cwd=root, timeout=timeout, check=False, what=step.what)
        log += [f"$ {step.cmdline}", res.stdout, res.stderr]
        log_path.write_text("\n".join(log), encoding="utf-8")
        if res.returncode != 0:
            _raise_build_failure(step.what, res.stdout + "\n" + res.stderr, board, log_path)

    elf = plan.elf
    if not elf.is_file():
        raise BuildError(f"{elf}: the {plan.build_system} build succeeded but produced no ELF there",
                         hint=f"full log: {log_path}")
    result = analyze_elf(elf, board, project_dir=root, runtime=project.runtime)
    result = replace(result, build_system=plan.build_system, images=tuple(find_images(plan)))
    (build_dir / BUILD_FILE).write_text(json.dumps(
        {"edgekit_version": project.edgekit_version, "model_sha256": project.model.sha256 if project.model else None,
         **result.to_dict()}, indent=2) + "\n", encoding="utf-8")
    if board.memory.regions:
        _check_fit(result, board)
    return result


def analyze_elf(elf: str | os.PathLike[str], board: BoardProfile, *, project_dir: str | os.PathLike[str] = "",
                runtime: str = "") -> BuildResult:
    """Flash/RAM accounting of a linked firmware ELF against ``board``'s memory regions."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    path = Path(elf)
    sections: list[SectionSize] = []
    arena_symbol = 0
    try:
        with path.open("rb") as f:
            e = ELFFile(f)
            loads = [s for s in e.iter_segments() if s["p_type"] == "PT_LOAD"]
            for sec in e.iter_sections():
                if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                    continue
                addr, size = int(sec["sh_addr"]), int(sec["sh_size"])
                lma = addr
                for seg in loads:
                    if seg.section_in_segment(sec):
                        lma = int(seg["p_paddr"]) + addr - int(seg["p_vaddr"])
                        break
                run_region = _region_of(board, addr)
                load_region = _region_of(board, lma)
                stored = sec["sh_type"] != "SHT_NOBITS"
                writable = bool(sec["sh_flags"] & SH_FLAGS.SHF_WRITE)
                in_flash = stored and (load_region.kind == "flash" if load_region else not writable)
                in_ram = run_region.kind == "ram" if run_region else writable
                sections.append(SectionSize(sec.name, addr, size, run_region.name if run_region else "",
                                            in_flash, in_ram))
            symtab = e.get_section_by_name(".symtab")
            if symtab is not None:
                for sym in symtab.get_symbol_by_name("ek_arena") or []:
                    arena_symbol = int(sym["st_size"])
    except (OSError, ELFError) as exc:
        raise BuildError(f"{path}: cannot read the firmware ELF: {exc}") from None

    by_name = {s.name: s.size for s in sections}
    arena = arena_symbol or max(by_name.get(".ek_arena", 0) - ARENA_GUARD_BYTES, 0)
    return BuildResult(
        project_dir=Path(project_dir), elf=path, board=board.id, runtime=runtime,
        flash_bytes=sum(s.size for s in sections if s.flash), ram_bytes=sum(s.size for s in sections if s.ram),
        weights_bytes=by_name.get(".ek_weights", 0), arena_bytes=arena, stack_bytes=by_name.get(".stack", 0),
        flash_budget_bytes=board.memory.flash_bytes, ram_budget_bytes=board.memory.ram_bytes,
        sections=tuple(sections))


def _region_of(board: BoardProfile, addr: int) -> MemoryRegion | None:
    for r in board.memory.regions:
        if r.origin <= addr < r.origin + r.size_kb * 1024:
            return r
    return None


def _project_board(project: ProjectManifest, boards_dirs: list[str] | None) -> BoardProfile:
    from edgekit.boards import load_board, load_board_file

    board_file = project.board_file
    if board_file and Path(board_file).is_file():
        return load_board_file(board_file)
    return load_board(project.board, boards_dirs)


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}".removesuffix(".0")


def _check_fit(res: BuildResult, board: BoardProfile) -> None:
    for what, need, have in (("flash", res.flash_bytes, res.flash_budget_bytes),
                             ("RAM", res.ram_bytes, res.ram_budget_bytes)):
        if need > have:
            raise BuildError(f"model does not fit: needs {_kb(need)} KB {what}, board {board.id} has {_kb(have)} KB "
                             f"(weights {_kb(res.weights_bytes)} KB, arena {_kb(res.arena_bytes)} KB)",
                             hint="use a smaller model or a board with more memory; sizes per section are in "
                                  f"{res.project_dir / BUILD_DIR / BUILD_FILE}")


def _raise_build_failure(what: str, output: str, board: BoardProfile, log_path: Path) -> None:
    m = _OVERFLOW.search(output)
    if m:
        name, over = m.group(1), int(m.group(2))
        region = next((r for r in board.memory.regions if r.name == name), None)
        if region is not None:
            have = region.size_kb * 1024
            kind = "flash" if region.kind == "flash" else "RAM"
            raise BuildError(f"model does not fit: needs {_kb(have + over)} KB {kind}, board {board.id} has "
                             f"{_kb(have)} KB ({name} overflowed by {over} bytes at link time)",
                             hint=f"use a smaller model or a board with more memory; full log: {log_path}")
    lines = [ln for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines
    tail = "\n".join(errors[-12:])
    raise BuildError(f"{what} failed:\n{tail}", hint=f"full log: {log_path}")
