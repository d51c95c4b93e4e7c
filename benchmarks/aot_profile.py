"""Per-operator instruction profile of edgekit's AOT code on QEMU (a developer tool for kernel work).

Generates the model's C with ``generate_c``, inserts a SysTick lap before every operator of
``ek_model_invoke()``, links it with a minimal bare-metal harness (vector table, semihosting output and
exit; no firmware core, no serial protocol) and runs it in QEMU with ``-icount shift=0``, where one
SysTick tick is exactly 1e9 / timer_hz guest instructions (40 on the 25 MHz mps2 boards, 31.25 on the 32 MHz
mps3-an547 Cortex-M55 stand-in, whose MVE kernels are generated as ``edgekit generate`` would). Prints
instructions per operator (with MACs and instructions per MAC), the total, and checks the outputs on random
inputs against the TFLM host interpreter (bit-exact or not).

``--functions`` also counts the guest instructions of every function of the image (edgekit's instruction-mix
TCG plugin with one class per function: a second QEMU run per 31 functions), per inference (the whole run / the
number of input sets; start-up and the harness are in it too), worst first: where a kernel's instructions go.

    python benchmarks/aot_profile.py ../shared/models/mlperf_tiny/kws_ds_cnn_int8.tflite [--board qemu-cortex-m4]
    python benchmarks/aot_profile.py ../shared/models/mlperf_tiny/ic_resnet8_int8.tflite --board qemu-cortex-m55 \
        --functions
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TICK_INSTR = 40  # -icount shift=0: 1 ns per instruction; SysTick at 25 MHz (mps2); see tick_instr()

HARNESS = r"""
#include <stdint.h>
#include <string.h>
#include "ek_model.h"
#include "prof_input.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
int main(void);
void reset_handler(void);
static void hang(void) { for (;;) {} }
__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top, reset_handler, hang, hang, hang, hang, hang, 0, 0, 0, 0,
    hang, hang, 0, hang, hang};

static uint32_t semi(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)arg;
    __asm__ __volatile__("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
static void puts_(const char *s) { semi(0x04, s); }
static void put_u32(uint32_t v) {
    char b[12]; int i = 11; b[i] = 0;
    do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(&b[i]);
}
static void put_hex8(uint8_t v) {
    char b[3] = {"0123456789abcdef"[v >> 4], "0123456789abcdef"[v & 15], 0};
    puts_(b);
}

uint32_t prof_t[PROF_NUM_OPS + 1];
void prof_lap(int i) { prof_t[i] = SYST_CVR; }

void reset_handler(void) {
#if defined(__ARM_FP)
    CPACR |= (0xFu << 20);
    __asm__ __volatile__("dsb\n isb" ::: "memory");
#endif
    uint32_t *s = __data_load;
    for (uint32_t *d = __data_start; d < __data_end; d++) *d = *s++;
    for (uint32_t *d = __bss_start; d < __bss_end; d++) *d = 0;
    uint32_t rc = (uint32_t)main();
    uint32_t block[2] = {0x20026u, rc};
    semi(0x20, block);
    hang();
}

int main(void) {
    int set, i;
    if (ek_model_init() != 0) return 1;
    for (set = 0; set < PROF_SETS; set++) {
        memcpy(ek_model_input(0), prof_input[set], ek_model_input_bytes(0));
        SYST_CSR = 0; SYST_RVR = 0x00FFFFFFu; SYST_CVR = 0; SYST_CSR = 5;
        if (ek_model_invoke() != 0) return 2;
        if (set == 0) {
            for (i = 0; i < PROF_NUM_OPS; i++) {
                puts_("op "); put_u32((uint32_t)i); puts_(" ");
                put_u32((prof_t[i] - prof_t[i + 1]) & 0x00FFFFFFu); puts_("\n");
            }
        }
        puts_("out ");
        {
            const uint8_t *o = (const uint8_t *)ek_model_output(0);
            size_t n = ek_model_output_bytes(0), k;
            for (k = 0; k < n; k++) put_hex8(o[k]);
        }
        puts_("\n");
    }
    return 0;
}
"""

LINKER = """
MEMORY { FLASH (rx) : ORIGIN = {flash}, LENGTH = 4M  RAM (rwx) : ORIGIN = {ram}, LENGTH = 4M }
ENTRY(reset_handler)
SECTIONS {
  .vectors : { KEEP(*(.vectors)) } > FLASH
  .text : { *(.text .text.*) *(.rodata .rodata.*) . = ALIGN(4); } > FLASH
  .data : { __data_start = .; *(.data .data.*) . = ALIGN(4); __data_end = .; } > RAM AT > FLASH
  __data_load = LOADADDR(.data);
  .bss (NOLOAD) : { __bss_start = .; *(.bss .bss.* COMMON) . = ALIGN(4); __bss_end = .; } > RAM
  .stack (NOLOAD) : ALIGN(8) { . += 16384; __stack_top = .; } > RAM
}
"""


def instrument(model_c: str) -> tuple[str, int]:
    """Insert ``prof_lap(k)`` before every operator comment and before the final return of invoke."""
    count = 0

    def lap(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"    prof_lap({count - 1});\n{m.group(0)}"

    body_start = model_c.index("_model_invoke(void) {")
    head, body = model_c[:body_start], model_c[body_start:]
    body = re.sub(r"^    /\* op \d+:", lap, body, flags=re.M)
    end = body.index("    return 0;\n}")
    body = body[:end] + f"    prof_lap({count});\n" + body[end:]
    return "extern void prof_lap(int);\n" + head + body, count


def op_macs(model) -> list[int]:
    """MACs per operator (conv, depthwise, FC), 0 for the rest."""
    sg = model.main
    macs = []
    for op in sg.operators:
        out = sg.tensors[op.outputs[0]]
        n = 0
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            f = sg.tensors[op.inputs[1]]
            if op.opcode == "CONV_2D":
                n = int(np.prod(out.shape)) * int(np.prod(f.shape[1:]))
            elif op.opcode == "DEPTHWISE_CONV_2D":
                n = int(np.prod(out.shape)) * int(f.shape[1] * f.shape[2])
            else:
                n = int(np.prod(out.shape)) * int(f.shape[1])
        macs.append(n)
    return macs


def qemu_argv(board, elf: Path) -> list[str]:
    """QEMU for the bare-metal profile image: semihosting output and exit, exact instruction counting."""
    q = board.qemu
    return ["qemu-system-arm", "-M", q.machine, "-cpu", q.cpu, "-nographic", "-monitor", "none", "-serial", "none",
            "-icount", "shift=0", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]


def function_counts(board, elf: Path, work: Path) -> tuple[dict[str, int], int]:
    """Executed guest instructions per function of ``elf`` (the whole run) and the run's total.

    Each instruction belongs to the nearest code symbol at or below it; the plugin's classes (32) are the
    functions, 31 per QEMU run and class 31 for the rest, so every function is counted in exactly one run."""
    import bisect

    from edgekit.cycles.classify import disassemble
    from edgekit.cycles.plugin import FIXED, MAX_CLASSES, build_plugin

    insns, symbols = disassemble(elf)
    at = {i.addr for i in insns}
    starts = sorted((a, s) for s, a in symbols.items() if a in at and not s.startswith(("$", ".")))
    addrs = [a for a, _ in starts]
    owner = [starts[bisect.bisect_right(addrs, i.addr) - 1][1] if i.addr >= addrs[0] else "?" for i in insns]
    names = sorted(set(owner))
    per_run = MAX_CLASSES - 1
    lib, counts, total = build_plugin(), {}, 0
    for k in range(0, len(names), per_run):
        cls = {n: j for j, n in enumerate(names[k:k + per_run])}
        table, marks, out = work / "fprof.classes", work / "fprof.marks", work / "fprof.mix"
        rows = (f"{i.addr:x} {cls.get(o, per_run)} 1 {i.flags}\n" for i, o in zip(insns, owner, strict=True))
        table.write_text("".join(rows))
        marks.write_text("")
        out.unlink(missing_ok=True)
        subprocess.run([*qemu_argv(board, elf), "-plugin", f"{lib},table={table},marks={marks},out={out}",
                        "-d", "plugin"], capture_output=True, timeout=900, check=True)
        last = [ln for ln in out.read_text().splitlines() if ln.startswith("M ")][-1].split()[2:]
        values = [int(v) for v in last]
        total, rest = values[0], values[len(FIXED):]
        counts.update({n: rest[2 * j] for n, j in cls.items() if rest[2 * j]})
    return counts, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--board", default="qemu-cortex-m4")
    ap.add_argument("--sets", type=int, default=2)
    ap.add_argument("--cflags", default="-O2")
    ap.add_argument("--keep", default="", help="keep the build in this directory")
    ap.add_argument("--quiet", action="store_true", help="print only the total and the check")
    ap.add_argument("--sparse", default="auto", choices=("auto", "off", "force"),
                    help="sparse weights for CONV_2D / FULLY_CONNECTED (generate_c(sparse=...))")
    ap.add_argument("--runtime-dir", default="", help="copy these ek_*.[ch] over the generated runtime (experiments)")
    ap.add_argument("--functions", action="store_true", help="also count the instructions of every function")
    args = ap.parse_args()

    from edgekit.boards import load_board
    from edgekit.codegen.aot.generate import generate_c
    from edgekit.tflite_model import load_model

    board = load_board(args.board)
    model = load_model(args.model)
    work = Path(args.keep or tempfile.mkdtemp(prefix="ek-prof-"))
    work.mkdir(parents=True, exist_ok=True)
    res = generate_c(model, work, sparse=args.sparse, features=board.features)
    if args.runtime_dir:
        import shutil

        for f in Path(args.runtime_dir).glob("ek_*.[ch]"):
            shutil.copyfile(f, work / f.name)
    src, nops = instrument((work / "ek_model.c").read_text())
    (work / "ek_model.c").write_text(src)
    sg = model.main
    inp = sg.tensors[sg.inputs[0]]
    rng = np.random.default_rng(0)
    xs = rng.integers(-128, 128, size=(args.sets, *inp.shape), dtype=np.int8)
    rows = ",\n".join("{" + ",".join(str(int(v)) for v in x.reshape(-1)) + "}" for x in xs)
    (work / "prof_input.h").write_text(
        f"#define PROF_NUM_OPS {nops}\n#define PROF_SETS {args.sets}\n"
        f"static const int8_t prof_input[{args.sets}][{inp.nbytes}] = {{\n{rows}\n}};\n")
    (work / "prof_main.c").write_text(HARNESS)
    regions = board.memory.regions
    flash = next(r for r in regions if r.kind == "flash").origin
    ram = next(r for r in regions if r.kind == "ram").origin
    (work / "link.ld").write_text(LINKER.replace("{flash}", hex(flash)).replace("{ram}", hex(ram)))
    cflags = [*board.build.cpu_flags, "-std=c99", *args.cflags.split(), "-g", "-Wall", "-Wextra", "-Werror",
              "-ffunction-sections", "-fdata-sections"]
    sources = [str(p) for p in sorted(work.glob("*.c"))]
    elf = work / "prof.elf"
    subprocess.run(["arm-none-eabi-gcc", *cflags, "-I", str(work), *sources, "-nostartfiles", "-nostdlib",
                    "-T", str(work / "link.ld"), "-Wl,--gc-sections", "-lgcc", "-lc", "-lgcc", "-o", str(elf)],
                   check=True)
    size = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    proc = subprocess.run(qemu_argv(board, elf), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"qemu exit {proc.returncode}")
    text_out = proc.stdout + proc.stderr
    tick = 1e9 / board.firmware.timer_hz if board.firmware.timer_hz else TICK_INSTR
    counts = [round(int(m.group(2)) * tick) for m in re.finditer(r"^op (\d+) (\d+)\r?$", text_out, re.M)]
    outs = [bytes.fromhex(m.group(1)) for m in re.finditer(r"^out ([0-9a-f]*)\r?$", text_out, re.M)]
    macs = op_macs(model)
    total = sum(counts)
    if not args.quiet:
        print(f"{'op':>3} {'opcode':<18} {'instr':>11} {'%':>5} {'MACs':>10} {'i/MAC':>6}  shape")
        for op, c, mc in zip(sg.operators, counts, macs, strict=True):
            out = sg.tensors[op.outputs[0]]
            f = sg.tensors[op.inputs[1]].shape if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
            ipm = f"{c / mc:.2f}" if mc else ""
            print(f"{op.index:>3} {op.opcode:<18} {c:>11,} {100 * c / total:>5.1f} {mc:>10,} {ipm:>6}  "
                  f"out {list(out.shape)} f {list(f)}")
    text = sum(int(m.group(1)) for m in re.finditer(r"^\.text\s+(\d+)", size, re.M))
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(Path(args.model).read_bytes(), arena_size=1 << 20)
    ok = 0
    for x, got in zip(xs, outs, strict=True):
        interp.set_input(x, 0)
        interp.invoke()
        want = np.asarray(interp.get_output(0)).tobytes()
        ok += int(want == got)
    total_macs = sum(macs)
    print(f"total {total:,} instructions ({total / max(total_macs, 1):.3f}/MAC), text+rodata {text:,} B "
          f"(weights {res.weights_bytes:,} B), bit-exact {ok}/{len(outs)}")
    if args.functions:
        counts, run_total = function_counts(board, elf, work)
        print(f"\n{'instr/inference':>15} {'%':>5}  function (whole run {run_total:,} / {args.sets} sets)")
        for name, c in sorted(counts.items(), key=lambda kv: -kv[1]):
            if 100 * c / run_total >= 0.05:
                print(f"{c / args.sets:>15,.0f} {100 * c / run_total:>5.1f}  {name}")
        if sum(counts.values()) != run_total:
            print(f"functions sum to {sum(counts.values()):,}, not the run's {run_total:,}", file=sys.stderr)
            return 1
    return 0 if ok == len(outs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
