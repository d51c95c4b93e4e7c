"""Estimated cycles: instruction classes, the QEMU instruction-mix plugin on hand-counted code, the timing tables."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edgekit.cycles import Mix, build_plugin, estimate, prepare, timing_for
from edgekit.cycles.classify import CLASSES, classify, reglist_words
from edgekit.cycles.model import estimate_range, timing_tables
from edgekit.errors import ToolMissing
from edgekit.transport.session import merge_qemu_args
from tests.conftest import need_tool

LINKER = "ENTRY(reset)\nSECTIONS { . = 0; .text : { KEEP(*(.vectors)) *(.text*) } }\n"

# Hand-counted: 3 iterations of 10 instructions; the mark labels bound the loop.
M4_LOOP = r"""
    .syntax unified
    .thumb
    .section .vectors,"a"
    .word 0x20010000
    .word reset + 1
    .text
    .thumb_func
    .global reset
reset:
    ldr r0, =0x20000100
    movs r2, #3
    ldr r5, =weights
mark_start:
loop:
    ldr r1, [r5]            @ load (from flash)
    ldr r3, [r5, #4]        @ load_pipelined (from flash)
    str r1, [r0]            @ store
    smlad r4, r1, r3, r4    @ mac
    smull r6, r7, r1, r3    @ mul_long
    push {r4-r7}            @ stm, 4 registers
    pop {r4-r7}             @ ldm, 4 registers
    sdiv r6, r1, r2         @ div
    subs r2, #1             @ alu
    bne loop                @ branch: taken twice, falls through once
mark_end:
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
    .align 2
weights:
    .word 0x01020304, 0x05060708
"""

# Hand-counted MVE: 2 vector loads, 1 MAC (VMLADAVA), 1 vector ALU, 1 vector store (4 beats each).
M55_MVE = r"""
    .syntax unified
    .thumb
    .section .vectors,"a"
    .word 0x20010000
    .word reset + 1
    .text
    .thumb_func
    .global reset
reset:
    ldr r1, =0xE000ED88     @ CPACR: enable the FPU/MVE coprocessors
    ldr r2, [r1]
    orr r2, r2, #0xF00000
    str r2, [r1]
    dsb
    isb
    ldr r0, =0x20000000
    movs r4, #0
mark_start:
    vldrb.s8 q0, [r0]
    vldrb.s8 q1, [r0, #16]
    vmladava.s8 r4, q0, q1
    vadd.i8 q2, q0, q1
    vstrb.8 q2, [r0, #32]
mark_end:
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
"""


def _run_snippet(tmp_path: Path, source: str, cpu_flags: list[str], machine: str, cpu: str,
                 flash: tuple[int, int] | None) -> Mix:
    need_tool("arm-none-eabi-gcc")
    need_tool("qemu-system-arm")
    need_tool("gcc")
    (tmp_path / "t.S").write_text(source)
    (tmp_path / "t.ld").write_text(LINKER)
    elf = tmp_path / "t.elf"
    subprocess.run(["arm-none-eabi-gcc", *cpu_flags, "-nostdlib", "-T", str(tmp_path / "t.ld"),
                    str(tmp_path / "t.S"), "-o", str(elf)], check=True)
    run = prepare(elf, tmp_path / "mix", mark_symbols=("mark_start", "mark_end"), flash=flash,
                  plugin=build_plugin(tmp_path / "cache"))
    subprocess.run(["qemu-system-arm", "-M", machine, "-cpu", cpu, "-nographic", "-monitor", "none", "-serial",
                    "none", "-icount", "shift=0", "-semihosting-config", "enable=on,target=native", *run.qemu_args,
                    "-kernel", str(elf)], check=True, timeout=30)
    snaps = run.snapshots()
    start, end = run.symbols["mark_start"], run.symbols["mark_end"]
    first = next(s for s in snaps if s.addr == start)
    last = next(s for s in snaps if s.addr == end)
    assert snaps[-1].addr == 0xFFFFFFFF  # QEMU exited through semihosting: the end-of-run snapshot is there
    return last.mix - first.mix


def test_plugin_counts_a_hand_counted_m4_loop(tmp_path: Path) -> None:
    mix = _run_snippet(tmp_path, M4_LOOP, ["-mcpu=cortex-m4", "-mthumb"], "mps2-an386", "cortex-m4",
                       flash=(0, 0x3FFFFF))
    assert mix.total == 30 and mix.unknown == 0
    assert mix.counts == {"load": 3, "load_pipelined": 3, "store": 3, "mac": 3, "mul_long": 3, "stm": 3, "ldm": 3,
                          "div": 3, "alu": 3, "branch": 3}
    assert mix.weights == {"stm": 12, "ldm": 12}
    assert (mix.branches_taken, mix.branches_not_taken, mix.flash_loads) == (2, 1, 6)
    m4 = timing_for("cortex-m4f")
    assert m4 is not None
    # alu 3 + load 3x2 + pipelined 3 + store 3 + mac 3 + smull 3 + (1+4)x3 x2 + sdiv 3x7 + branch 3 + taken 2x2
    assert estimate(mix, m4).cycles == 79
    assert estimate(mix, m4, flash_wait_states=5).cycles == 79 + 6 * 5 * 0.5
    # the TRM's ranges: taken-branch refill 1-3 (2 branches), SDIV 2-12 (3 divides)
    assert estimate_range(mix, m4) == (79 - 2 - 3 * 5, 79 + 2 + 3 * 5)


def test_plugin_counts_mve_beats_on_the_m55(tmp_path: Path) -> None:
    mix = _run_snippet(tmp_path, M55_MVE, ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"], "mps3-an547",
                       "cortex-m55", flash=None)
    assert mix.total == 5
    assert mix.counts == {"mve_load": 2, "mve_mac": 1, "mve_alu": 1, "mve_store": 1}
    assert mix.weights == {"mve_load": 8, "mve_mac": 4, "mve_alu": 4, "mve_store": 4}
    m55 = timing_for("cortex-m55")
    assert m55 is not None
    # 20 beats at two per cycle, minus 2 cycles for each of the min(3 memory, 2 compute) overlapping pairs
    assert estimate(mix, m55).cycles == 10 - 2 * 2


@pytest.mark.parametrize(("mnemonic", "operands", "want"), [
    ("smlad", "r3, r4, r5, r3", ("mac", 0, 0)),
    ("smlabb", "r0, r1, r2, r0", ("mac", 0, 0)),
    ("mla", "r0, r1, r2, r3", ("mac", 0, 0)),
    ("smlal", "r0, r1, r2, r3", ("mul_long", 0, 0)),
    ("muls", "r1, r2", ("mul", 0, 0)),
    ("pop", "{r4, r5, pc}", ("ldm", 3, 3)),
    ("push.w", "{r4-r11, lr}", ("stm", 9, 0)),
    ("ldrd", "r2, r3, [r0]", ("load_double", 2, 2)),
    ("ldr.w", "pc, [sp], #4", ("load", 0, 3)),
    ("bne.n", "8 <x>", ("branch", 0, 1)),
    ("bls.w", "8 <x>", ("branch", 0, 1)),
    ("bic", "r0, r1", ("alu", 0, 0)),
    ("bfi", "r0, r1, #0, #8", ("alu", 0, 0)),
    ("ite", "eq", ("it", 0, 0)),
    ("udiv", "r0, r1, r2", ("div", 0, 0)),
    ("vmla.f32", "s0, s1, s2", ("fp_mac", 0, 0)),
    ("vpush", "{d8-d9}", ("fp_store", 4, 0)),
    ("vldrw.u32", "q0, [r1]", ("mve_load", 4, 2)),
    ("vldrb.u8", "q0, [r0, q1]", ("mve_load", 32, 2)),  # a byte gather: 16 elements, one per cycle
    ("vldrb.s32", "q0, [r2, q3]", ("mve_load", 8, 2)),
    ("vldrw.u32", "q0, [r1, q2, uxtw #2]", ("mve_load", 8, 2)),
    ("vldrw.u32", "q0, [q1, #8]!", ("mve_load", 8, 2)),
    ("vstrh.16", "q0, [r0, q1]", ("mve_store", 16, 0)),
    ("vldrb.s16", "q4, [r3, #8]", ("mve_load", 4, 2)),
    ("vmladava.s8", "r4, q0, q1", ("mve_mac", 4, 0)),
    ("vctp.8", "r2", ("mve_alu", 4, 0)),
    ("letp", "lr, 8 <x>", ("loop", 0, 1)),
])
def test_classify(mnemonic: str, operands: str, want: tuple[str, int, int]) -> None:
    assert classify(mnemonic, operands) == want


def test_reglist_and_qemu_arg_merge() -> None:
    assert reglist_words("{r4-r7, lr}") == 5 and reglist_words("sp!, {d8-d9}") == 4
    assert merge_qemu_args(("-d", "trace:x"), ("-plugin", "p.so", "-d", "plugin")) == (
        "-plugin", "p.so", "-d", "trace:x,plugin")


def test_timing_tables_cover_the_qemu_cores_and_name_their_sources() -> None:
    tables = timing_tables()
    for core in ("cortex-m4f", "cortex-m33", "cortex-m7", "cortex-m55"):
        t = tables[core]
        assert t.source and t.assumptions and set(t.cycles) <= set(CLASSES)
    assert timing_for("xtensa-lx7") is None


def test_missing_compiler_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing) as exc:
        build_plugin(tmp_path, cc="no-such-cc-here")
    assert "no-such-cc-here" in exc.value.message and "gcc" in (exc.value.hint or "")


def _snapshot_line(addr: int, total: int, alu: int) -> str:
    from edgekit.cycles.plugin import FIXED, MAX_CLASSES

    counters = [total] + [0] * (len(FIXED) - 1) + [0] * (2 * MAX_CLASSES)
    counters[len(FIXED)] = alu  # class 0 (alu) count
    return f"M {addr:08x} " + " ".join(map(str, counters)) + "\n"


def test_per_layer_split_shared_labels_and_tflm_calls(tmp_path: Path) -> None:
    """Two labels at one address (a fused operator) count once, under the later operator; a TFLM project's
    ek_prof_layer() calls number the layers in order; the layers plus the prologue are the whole call."""
    from edgekit.boards import load_board
    from edgekit.cycles.plugin import MixRun
    from edgekit.cycles.profile import cycles_section, per_layer_section

    board = load_board("qemu-cortex-m4")
    for symbols, marks in (({"ek_model_invoke": 0x100, "ek_prof_op_0": 0x110, "ek_prof_op_1": 0x120,
                             "ek_prof_op_2": 0x120}, [0x100, 0x110, 0x120, 0x204]),
                           ({"ek_model_invoke": 0x100, "ek_prof_layer": 0x300}, [0x100, 0x300, 0x300, 0x300, 0x204])):
        out = tmp_path / "mix"
        if "ek_prof_layer" in symbols:
            rows = [(0x100, 0), (0x300, 5), (0x300, 105), (0x300, 600), (0x204, 1105)]
        else:  # one snapshot per executed marker address: the shared label fires once
            rows = [(0x100, 0), (0x110, 5), (0x120, 105), (0x204, 1105)]
        out.write_text("H ek_insn_mix 1 classes 32 fixed total unknown taken not_taken flash_loads\n"
                       + "".join(_snapshot_line(a, t, t) for a, t in rows))
        run = MixRun(tmp_path / "fw.elf", tmp_path, [], symbols, tuple(sorted(set(marks))), (), out)
        cyc, win = cycles_section(run, board, timed=1, icount_instructions=1120.0, macs=None, clock_hz=25_000_000)
        assert cyc["instructions"] == 1105 and cyc["estimated_cycles"] == 1105  # ALU only: one cycle each
        layers = per_layer_section(run, board, win, None, 25_000_000)
        got = {tuple(r["ops"]): r["instructions"] for r in layers["layers"]}
        if "ek_prof_layer" in symbols:
            assert got == {(0,): 100, (1,): 495, (2,): 505}
        else:
            assert got == {(0,): 100, (1, 2): 1000}
        assert layers["sum_instructions"] + layers["outside_layers"]["instructions"] == 1105
        assert [r["instructions"] for r in layers["layers"]] == sorted(got.values(), reverse=True)
