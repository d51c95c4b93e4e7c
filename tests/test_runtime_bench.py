"""benchmarks/runtime.py's measured TFLM columns: the pure parts (no TFLM compile, no QEMU).

Row assembly and ratios, the tflite-micro tree option, the model-array exclusion on tiny hand-made ELFs (with
the flash accounting edgekit.buildsys uses, so code+rodata means the same for both runtimes), the code split of a
TFLM link map, and keeping a project's build/ when it is regenerated.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest
from conftest import REPO

from edgekit.boards import load_board
from edgekit.buildsys import analyze_elf
from edgekit.errors import BuildError, UsageError

sys.path.insert(0, str(REPO / "benchmarks"))
import _tflm_columns as tc


def _load_runtime():
    spec = importlib.util.spec_from_file_location("benchmarks_runtime", REPO / "benchmarks" / "runtime.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------ a tiny ELF with sections and symbols

_ALLOC, _EXEC, _WRITE = 2, 4, 1


def _elf(path: Path, sections: list[tuple[str, int, bytes, int]], symbols: list[tuple[str, str, int, int]]) -> Path:
    """ELF32 ARM: ``sections`` [(name, address, contents, flags)] (PROGBITS), ``symbols`` [(name, section name,
    address, size)] as global STT_OBJECT symbols in .symtab."""
    names = [s[0] for s in sections] + [".symtab", ".strtab", ".shstrtab"]
    shstr = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    strtab = b"\0" + b"".join(n.encode() + b"\0" for n, *_ in symbols)
    sym = bytes(16)
    off = 1
    for n, sec, addr, size in symbols:
        sym += struct.pack("<IIIBBH", off, addr, size, 0x11, 0, 1 + [s[0] for s in sections].index(sec))
        off += len(n) + 1
    blobs = [s[2] for s in sections] + [sym, strtab, shstr]
    body, offsets = b"", []
    for b in blobs:
        offsets.append(52 + len(body))
        body += b + bytes(-len(b) % 4)
    shdrs = bytes(40)
    name_off = 1
    n_sec = len(sections)
    for i, b in enumerate(blobs):
        if i < n_sec:
            kind, flags, addr, link, info, entsize = 1, sections[i][3], sections[i][1], 0, 0, 0
        elif i == n_sec:  # .symtab: link .strtab, first global symbol 1
            kind, flags, addr, link, info, entsize = 2, 0, 0, n_sec + 2, 1, 16
        else:
            kind, flags, addr, link, info, entsize = 3, 0, 0, 0, 0, 0
        shdrs += struct.pack("<10I", name_off, kind, flags, addr, offsets[i], len(b), link, info, 4, entsize)
        name_off += len(names[i]) + 1
    n_sh = len(blobs) + 1
    header = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack(
        "<HHIIIIIHHHHHH", 2, 40, 1, 0, 0, 52 + len(body), 0x05000400, 52, 32, 0, 40, n_sh, n_sh - 1)
    path.write_bytes(header + body + shdrs)
    return path


def _firmware(tmp: Path, *, model: int = 1000, pad: int = 8, extra: int = 0) -> Path:
    """A firmware-shaped image: .vectors, .text, .ek_weights (the model array, padding, maybe another object),
    .rodata, .data (RAM, whose initial values the accounting counts as flash only with a load address)."""
    weights = model + pad + extra
    secs = [(".vectors", 0x0, bytes(64), _ALLOC), (".text", 0x40, bytes(300), _ALLOC | _EXEC),
            (".ek_weights", 0x200, bytes(weights), _ALLOC), (".rodata", 0x200 + weights, bytes(52), _ALLOC),
            (".data", 0x20000000, bytes(12), _ALLOC | _WRITE)]
    syms = [("model_tflite", ".ek_weights", 0x200, model), ("some_table", ".rodata", 0x200 + weights, 52)]
    if extra:
        syms.append(("stray_const", ".ek_weights", 0x200 + model + pad, extra))
    return _elf(tmp / "firmware.elf", secs, syms)


def test_model_exclusion_removes_exactly_the_model_array(tmp_path: Path) -> None:
    elf = _firmware(tmp_path, model=1000, pad=8)
    placed = tc.model_in_image(elf, 1000)
    assert placed == {"section_bytes": 1008, "symbol": "model_tflite", "symbol_bytes": 1000, "padding_bytes": 8}
    built = analyze_elf(elf, load_board("qemu-cortex-m4"))
    # the accounting edgekit rows use: flash minus .ek_weights is vectors + text + rodata (the .data image here
    # has no separate load address, so it sits in RAM only)
    assert built.weights_bytes == placed["section_bytes"]
    assert built.flash_bytes - placed["section_bytes"] == 64 + 300 + 52


@pytest.mark.parametrize(("model", "kw", "why"), [
    (999, {}, "not just the 999-byte model array"),        # the array is not the model
    (1000, {"extra": 40}, "stray_const"),                  # something else shares the section
    (1000, {"pad": 64}, "not just the 1000-byte"),         # more than alignment padding
])
def test_model_exclusion_refuses_anything_else(tmp_path: Path, model: int, kw: dict, why: str) -> None:
    elf = _firmware(tmp_path, **kw)
    with pytest.raises(BuildError, match=why):
        tc.model_in_image(elf, model)


def test_model_exclusion_needs_the_section(tmp_path: Path) -> None:
    elf = _elf(tmp_path / "f.elf", [(".text", 0x40, bytes(8), _ALLOC | _EXEC)], [])
    with pytest.raises(BuildError, match=r"no \.ek_weights"):
        tc.model_in_image(elf, 8)


# ------------------------------------------------------------------ row assembly

def _measured(instr: int, code: int, arena_used: int) -> dict:
    return {"instructions": instr, "code_rodata_bytes": code, "arena_used_bytes": arena_used,
            "arena_reserved_bytes": 6128, "flash_bytes": code + 276_976, "ram_bytes": 16_408,
            "stack_used_bytes": 700, "bit_exact": "3/3"}


def test_ratios_are_edgekit_over_tflm() -> None:
    assert tc.ratio(444_680, 1_954_000) == 0.228
    assert tc.ratio(5, 0) is None and tc.ratio(None, 3) is None
    row = {"instructions": 500, "code_rodata_bytes": 1000, "arena_bytes": 768, "flash_bytes": 2000, "ram_bytes": 400}
    measured = {"tflm_ref": _measured(2000, 4000, 1536), "tflm_cmsis_nn": _measured(1000, 5000, 0)}
    tc.add_measured(row, measured, {"path": "/x", "commit": None})
    assert row["tflm_measured"]["source"] == "measured in this run"
    assert row["tflm_measured"]["tflm_ref"]["instructions"] == 2000
    assert row["vs_tflm_measured"]["tflm_ref"]["instructions"] == 0.25
    assert row["vs_tflm_measured"]["tflm_ref"]["code_rodata"] == 0.25
    assert row["vs_tflm_measured"]["tflm_ref"]["arena"] == 0.5
    assert row["vs_tflm_measured"]["tflm_cmsis_nn"]["instructions"] == 0.5
    assert row["vs_tflm_measured"]["tflm_cmsis_nn"]["arena"] is None  # no arena figure: no ratio, no crash
    assert set(row["vs_tflm_measured"]) == set(tc.FLAVOURS)
    assert "code_rodata_without_core" not in row["vs_tflm_measured"]["tflm_ref"]  # no linker-map split given
    row["code_core_bytes"] = 400
    split = {**_measured(2000, 4000, 1536), "code_core_bytes": 1000}
    assert tc.tflm_ratios(row, split)["code_rodata_without_core"] == 0.2  # (1000 - 400) / (4000 - 1000)


def test_measured_table_lists_edgekit_and_each_flavour() -> None:
    from rich.console import Console

    rt = _load_runtime()
    row = {"model": "ad", "board": "qemu-cortex-m4", "instructions": 500, "code_rodata_bytes": 1000,
           "arena_bytes": 768, "flash_bytes": 2000, "ram_bytes": 400, "stack_used_bytes": 500, "bit_exact": "3/3"}
    tc.add_measured(row, {"tflm_ref": _measured(2000, 4000, 1536)}, {"path": "/x", "commit": None})
    console = Console(width=200, record=True)
    console.print(rt._measured_table([row]))
    text = console.export_text()
    assert "tflm_ref" in text and "2,000" in text and "1,536/6,128" in text and "0.25" in text


def test_tflm_tree_option_env_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tc.ENV_VAR, raising=False)
    assert tc.tflm_tree(None) is None
    with pytest.raises(UsageError, match="not a tflite-micro tree"):
        tc.tflm_tree(str(tmp_path))
    marker = tmp_path / tc.MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    monkeypatch.setenv(tc.ENV_VAR, str(tmp_path))
    assert tc.tflm_tree(None) == tmp_path.resolve()
    assert tc.tree_facts(tmp_path) == {"path": str(tmp_path), "commit": None}


def test_code_split_counts_libtflm_as_runtime(tmp_path: Path) -> None:
    rt = _load_runtime()
    lib = "/usr/lib/arm-none-eabi/newlib/thumb/v7e-m+fp/hard/libc_nano.a(libc_a-memcpy.o)"
    (tmp_path / "firmware.map").write_text("\n".join([
        "Archive member included", "Linker script and memory map", "",
        ".text           0x00000040     0x1000",
        " .text.ek_main  0x00000040       0x20 CMakeFiles/firmware.dir/src/ek_main.c.obj",
        " .text._ZN6tflite16MicroInterpreter6InvokeEv",
        "                0x00000060      0x100 libtflm.a(micro_interpreter.cc.obj)",
        " .text.ek_model_invoke  0x00000160  0x30 CMakeFiles/firmware.dir/model/ek_model_tflm.cc.obj",
        f" .text.memcpy   0x00000190       0x10 {lib}",
        ".ek_weights     0x00001040     0x400",
        " .rodata.ek_weights  0x00001040  0x400 CMakeFiles/firmware.dir/model/model_data.cc.obj",
        ".rodata         0x00001440       0x40",
        " .rodata._ZTVN6tflite18MicroErrorReporterE  0x00001440  0x8 libtflm.a(micro_log.cc.obj)",
    ]) + "\n")
    parts = rt.code_components(tmp_path / "firmware.map")
    assert parts == {"core": 0x20, "runtime": 0x100 + 0x30 + 0x8, "libc_libgcc": 0x10}  # model array not counted


def test_regenerating_keeps_the_build_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.codegen.tflm_project as tp

    def fake_generate(model: object, board: object, out: Path) -> dict:
        out = Path(out)
        if out.exists():
            for p in sorted(out.rglob("*"), reverse=True):
                p.rmdir() if p.is_dir() else p.unlink()
            out.rmdir()
        out.mkdir()
        (out / "CMakeLists.txt").write_text("new")
        return {"arena_measured": 1}

    monkeypatch.setattr(tp, "generate_tflm", fake_generate)
    project = tmp_path / "ad-qemu-cortex-m4-tflm_ref"
    (project / "build" / "CMakeFiles").mkdir(parents=True)
    (project / "build" / "libtflm.a").write_text("objects")
    (project / "CMakeLists.txt").write_text("old")
    assert tc._generate_keeping_build(Path("m.tflite"), "qemu-cortex-m4", project) == {"arena_measured": 1}
    assert (project / "CMakeLists.txt").read_text() == "new"
    assert (project / "build" / "libtflm.a").read_text() == "objects"
    assert [p.name for p in tmp_path.iterdir()] == [project.name]  # nothing left beside it


def _configured(project: Path, flags: str, objects: dict[str, str] | None = None) -> Path:
    objs = project / tc.TFLM_OBJECTS
    objs.mkdir(parents=True)
    (objs / "flags.make").write_text(flags)
    for rel, text in (objects or {}).items():
        (objs / rel).parent.mkdir(parents=True, exist_ok=True)
        (objs / rel).write_text(text)
    if objects:
        (project / "build" / "libtflm.a").write_text("lib")
    return project


def test_seeding_takes_objects_only_from_a_project_with_the_same_flags(tmp_path: Path) -> None:
    cm4 = "CXX_FLAGS = -mcpu=cortex-m4 -O2\n"
    objs = {"tmp/tflm/micro/a.cc.obj": "A", "tmp/tflm/micro/kernels/b.cc.obj": "B"}
    other = _configured(tmp_path / "kws-qemu-cortex-m4-tflm_ref", "CXX_FLAGS = -mcpu=cortex-m7 -O2\n",
                        {"tmp/tflm/micro/a.cc.obj": "M7"})
    unbuilt = _configured(tmp_path / "ic-qemu-cortex-m4-tflm_ref", cm4)  # configured, never compiled
    donor = _configured(tmp_path / "vww-qemu-cortex-m4-tflm_ref", cm4, objs)
    new = _configured(tmp_path / "ad-qemu-cortex-m4-tflm_ref", cm4)
    flags_time = (new / tc.TFLM_OBJECTS / "flags.make").stat().st_mtime
    assert tc.seed_tflm_objects(new, [other, unbuilt, new, donor]) == str(donor)
    got = {str(p.relative_to(new / tc.TFLM_OBJECTS)): p.read_text() for p in (new / tc.TFLM_OBJECTS).rglob("*.obj")}
    assert got == objs
    assert all(p.stat().st_mtime >= flags_time for p in (new / tc.TFLM_OBJECTS).rglob("*.obj"))
    assert tc.seed_tflm_objects(new, [donor]) is None  # already has objects: left alone
    lone = _configured(tmp_path / "hw-qemu-cortex-m4-tflm_ref", cm4)
    assert tc.seed_tflm_objects(lone, [other, unbuilt]) is None
    assert not list((lone / tc.TFLM_OBJECTS).rglob("*.obj"))
