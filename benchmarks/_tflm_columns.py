"""Measured TFLM columns for benchmarks/runtime.py: the same model, board and inputs through TFLM, in this run.

For each flavour (:data:`FLAVOURS`: reference kernels, CMSIS-NN kernels) the TFLM CMake project of
:func:`edgekit.codegen.tflm_project.generate_tflm` is built against a tflite-micro tree (``--tflm-dir`` or
``EDGEKIT_TFLM_DIR``), checked byte-exact against the TFLM host interpreter with :func:`edgekit.validation.validate`
on the inputs the edgekit row used, and counted with :func:`edgekit.benchmarking.bench`, as the edgekit rows are
(QEMU ``-icount shift=0``, guest instructions per inference from the firmware's timer).

Sizes use the edgekit row's definition: code+rodata = flash (every loaded section stored in a flash region,
:func:`edgekit.buildsys.analyze_elf`) minus the ``.ek_weights`` output section. Both linker scripts are the same
(firmware_templates/cmake/linker.ld.j2): for edgekit that section holds the weight arrays, for TFLM the model
array (``*(.rodata.ek_weights*)``: the whole .tflite flatbuffer). :func:`model_in_image` checks on every TFLM ELF
that the section holds exactly that array (one object symbol of the model's size plus alignment padding), so
the exclusion removes the model and nothing else. The flatbuffer also carries the graph (operators, tensor
shapes, quantization), which edgekit compiles into code: ``model_graph_bytes`` says how much of the excluded
array that is, for a reader who wants TFLM's figure with the graph counted as edgekit's is. runtime.py splits
both images by the linker map (firmware core / runtime / libc); ``code_rodata_without_core`` compares them
without the firmware core, which the TFLM CMake project compiles at -O2 and the edgekit project at -Os.

Compiling TFLM takes 10-40 minutes per flavour on 2 cores, and the library does not depend on the model. So a
project regenerated in a persistent ``work`` directory (runtime.py ``--work-dir``) keeps its ``build/``, and a
new project takes the compiled TFLM objects of an earlier project of the same board and flavour in ``work``
when the two configured ``tflm`` targets have the same flags.make (compiler flags, defines, the tree's include
paths): make then compiles only what is missing. A clean build and one seeded this way gave byte-identical
firmware images (AD, reference kernels, qemu-cortex-m4).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

FLAVOURS: dict[str, bool] = {"tflm_ref": False, "tflm_cmsis_nn": True}  # flavour -> cmsis_nn
ENV_VAR = "EDGEKIT_TFLM_DIR"
MARKER = "tensorflow/lite/micro/micro_interpreter.h"
TFLM_OBJECTS = Path("build") / "CMakeFiles" / "tflm.dir"  # the CMake Makefile generator's objects of 'tflm'


def tflm_tree(option: str | None) -> Path | None:
    """The tflite-micro tree to measure against: ``option`` or ``$EDGEKIT_TFLM_DIR``; None when neither is set.

    Raises:
        UsageError: the directory is not a tflite-micro tree.
    """
    from edgekit.errors import UsageError

    given = option or os.environ.get(ENV_VAR)
    if not given:
        return None
    tree = Path(given).expanduser().resolve()
    if not (tree / MARKER).is_file():
        raise UsageError(f"{tree}: not a tflite-micro tree (no {MARKER})",
                         hint=f"pass --tflm-dir or set {ENV_VAR} to a tensorflow/tflite-micro checkout with its "
                              "third-party downloads")
    return tree


def model_in_image(elf: str | os.PathLike[str], model_bytes: int) -> dict[str, Any]:
    """Where the model array lies in a TFLM firmware ELF: the ``.ek_weights`` section and the symbols in it.

    Returns ``{"section_bytes", "symbol", "symbol_bytes", "padding_bytes"}``.

    Raises:
        BuildError: no ``.ek_weights`` section, or it holds anything but one object of ``model_bytes`` bytes
            (and at most 15 bytes of alignment padding): excluding it would not exclude exactly the model.
    """
    from elftools.elf.elffile import ELFFile

    from edgekit.errors import BuildError

    with Path(elf).open("rb") as f:
        e = ELFFile(f)
        sec = e.get_section_by_name(".ek_weights")
        if sec is None or sec["sh_size"] == 0:
            raise BuildError(f"{elf}: no .ek_weights section: the model array is not where the linker script puts it")
        index, start, size = e.get_section_index(".ek_weights"), int(sec["sh_addr"]), int(sec["sh_size"])
        symtab = e.get_section_by_name(".symtab")
        objects = sorted({(s.name, int(s["st_value"]), int(s["st_size"])) for s in (symtab.iter_symbols() if symtab
                          else ()) if s["st_info"]["type"] == "STT_OBJECT" and s["st_shndx"] == index
                          and s["st_size"] > 0})
    inside = [o for o in objects if start <= o[1] < start + size]
    if len(inside) != 1 or inside[0][2] != model_bytes or size - model_bytes > 15:
        found = ", ".join(f"{n} ({b} B)" for n, _, b in inside) or "no object symbol"
        raise BuildError(f"{elf}: .ek_weights ({size} B) holds {found}, not just the {model_bytes}-byte model array")
    return {"section_bytes": size, "symbol": inside[0][0], "symbol_bytes": model_bytes,
            "padding_bytes": size - model_bytes}


def model_graph_bytes(model: Any) -> int:
    """Bytes of the .tflite that are not constant tensor data (graph, shapes, quantization, flatbuffer tables)."""
    return model.size - sum(len(b) for b in model.buffers if b)


def ratio(edgekit: float | None, tflm: float | None) -> float | None:
    """edgekit / TFLM rounded to 3 places (< 1: edgekit is smaller or faster); None when either is unknown or 0."""
    if not edgekit or not tflm:
        return None
    return round(edgekit / tflm, 3)


def tflm_ratios(row: dict[str, Any], measured: dict[str, Any]) -> dict[str, float | None]:
    """The edgekit row over one measured TFLM flavour: instructions, code+rodata (also without the firmware core,
    when both rows have the linker-map split), arena (edgekit's over TFLM's used), flash, RAM."""
    out = {"instructions": ratio(row["instructions"], measured["instructions"]),
           "code_rodata": ratio(row["code_rodata_bytes"], measured["code_rodata_bytes"]),
           "arena": ratio(row["arena_bytes"], measured["arena_used_bytes"]),
           "flash": ratio(row["flash_bytes"], measured["flash_bytes"]),
           "ram": ratio(row["ram_bytes"], measured["ram_bytes"]),
           "estimated_cycles": ratio(row.get("estimated_cycles"), measured.get("estimated_cycles"))}
    if "code_core_bytes" in row and "code_core_bytes" in measured:  # the firmware core's flags differ per project
        out["code_rodata_without_core"] = ratio(row["code_rodata_bytes"] - row["code_core_bytes"],
                                                measured["code_rodata_bytes"] - measured["code_core_bytes"])
    return out


def add_measured(row: dict[str, Any], measured: dict[str, dict[str, Any]], tree: dict[str, Any]) -> dict[str, Any]:
    """Put the measured flavours (``{"tflm_ref": {...}, "tflm_cmsis_nn": {...}}``) and their ratios into ``row``:
    ``row["tflm_measured"]`` (with ``tree``: where the TFLM sources came from) and ``row["vs_tflm_measured"]``."""
    row["tflm_measured"] = {"source": "measured in this run", "tree": tree, **measured}
    row["vs_tflm_measured"] = {flavour: tflm_ratios(row, m) for flavour, m in measured.items()}
    return row


def tree_facts(tree: Path) -> dict[str, Any]:
    """Where the TFLM sources came from: the path and, for a git checkout, its commit."""
    head = tree / ".git" / "HEAD"
    commit = None
    if head.is_file():
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            target = tree / ".git" / ref[5:]
            commit = target.read_text().strip() if target.is_file() else None
        else:
            commit = ref
    return {"path": str(tree), "commit": commit}


def measure(name: str, model: Path, board: str, flavour: str, tree: Path, runs: int, work: Path,
            inputs: Any) -> dict[str, Any]:
    """Generate, build, validate and benchmark one TFLM flavour of ``model`` on ``board`` (see the module doc)."""
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    m = load_model(model)
    project = work / f"{name}-{board}-{flavour}"
    t0 = time.perf_counter()
    summary = _generate_keeping_build(model, board, project)
    seeded = None
    if not any((project / TFLM_OBJECTS).rglob("*.obj")):
        from edgekit import proc
        from edgekit.buildsys.systems import plan_build

        configure = plan_build(project, tflm_dir=str(tree), cmsis_nn=FLAVOURS[flavour]).steps[0]
        proc.run(configure.argv, cwd=project, timeout=600, what=configure.what)
        seeded = seed_tflm_objects(project, sorted(work.glob(f"*-{board}-{flavour}")))
    built = build(project, tflm_dir=str(tree), cmsis_nn=FLAVOURS[flavour], jobs=2)
    build_s = time.perf_counter() - t0
    placed = model_in_image(built.elf, m.size)
    val = validate(model, board=board, inputs=inputs, project_dir=project)
    res = bench(project, board=board, runs=runs, warmup=1).to_dict()
    count = res["timing"]["count"]["median"]
    return {
        "instructions": int(count), "count_basis": res["timing"]["basis"],
        "deterministic": len(set(res["timing"]["ticks"])) == 1,
        "flash_bytes": built.flash_bytes, "model_array_bytes": placed["section_bytes"],
        "model_graph_bytes": model_graph_bytes(m), "code_rodata_bytes": built.flash_bytes - placed["section_bytes"],
        "ram_bytes": built.ram_bytes, "arena_used_bytes": res["memory"]["arena_used_bytes"],
        "arena_reserved_bytes": res["memory"]["arena_reserved_bytes"],
        "arena_measured_host_bytes": summary["arena_measured"],
        "stack_used_bytes": res["memory"]["stack_used_bytes"],
        "bit_exact": f"{val.byte_exact}/{val.inputs}", "build_s": round(build_s, 1),
        "tflm_objects_from": seeded and Path(seeded).name, "project_dir": str(project),
        "estimated_cycles": (res.get("cycles") or {}).get("estimated_cycles"),
        "cycles": res.get("cycles"),
    }


def seed_tflm_objects(project: Path, donors: list[Path]) -> str | None:
    """Copy the compiled TFLM objects of the first donor project whose configured ``tflm`` target has the same
    flags.make as ``project``'s (configured, nothing compiled yet); their times are set to now, so make takes
    them as up to date. Returns the donor's path, or None when none fits (make then compiles everything)."""
    mine = project / TFLM_OBJECTS
    if not (mine / "flags.make").is_file() or any(mine.rglob("*.obj")):
        return None
    flags = (mine / "flags.make").read_text()
    for donor in donors:
        theirs = donor / TFLM_OBJECTS
        if (donor.resolve() == project.resolve() or not (donor / "build" / "libtflm.a").is_file()
                or not (theirs / "flags.make").is_file() or (theirs / "flags.make").read_text() != flags):
            continue
        copied = []
        for obj in theirs.rglob("*.obj"):
            dest = mine / obj.relative_to(theirs)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(obj, dest)
            copied.append(dest)
        now = time.time()
        for dest in copied:
            os.utime(dest, (now, now))
        return str(donor)
    return None


def _generate_keeping_build(model: Path, board: str, project: Path) -> dict[str, Any]:
    """generate_tflm into ``project``, keeping an earlier ``build/`` there (generate_tflm replaces the directory):
    make then recompiles only the project's own sources, not the TFLM library."""
    from edgekit.codegen.tflm_project import generate_tflm

    kept = project.parent / f".{project.name}.build"
    if (project / "build").is_dir():
        shutil.rmtree(kept, ignore_errors=True)
        (project / "build").rename(kept)
    try:
        return generate_tflm(model, board, project)
    finally:
        if kept.is_dir():
            if (project / "build").exists():
                shutil.rmtree(project / "build")
            kept.rename(project / "build")
