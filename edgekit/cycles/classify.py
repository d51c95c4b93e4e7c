"""Instruction classes of a firmware ELF, from ``arm-none-eabi-objdump -d`` (which knows Thumb-2, DSP, FP and MVE).

The QEMU plugin (``plugin/ek_insn_mix.c``) only counts: it reads the table written here, one line per instruction,
``ADDR CLASS WEIGHT FLAGS``. Deciding the class offline keeps the plugin small and the decoding testable in Python.

WEIGHT is the number of registers an LDM/STM/PUSH/POP/VLDM/VSTM moves (words), or the beats of an MVE instruction
(4: a 128-bit vector is four 32-bit beats). A gather load / scatter store (vector offsets or vector base:
``[r0, q1]``, ``[q1, #8]``) accesses memory one element at a time, so it weighs two beats per element (16-byte
gather: 32), an upper bound priced as one element per cycle on the dual-beat Cortex-M55.
FLAGS: bit 0, the instruction may branch (B, BL, BX, CBZ, TBB, LE, POP
or LDR into pc, a data-processing write to pc); bit 1, it loads from memory (the plugin counts loads from flash).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from edgekit import proc
from edgekit.errors import ToolMissing

# Class ids are the plugin's counter slots: append only (saved bench JSON refers to them by name).
CLASSES = ("alu", "load", "load_pipelined", "load_double", "store", "store_double", "ldm", "stm", "mul", "mac",
           "mul_long", "div", "branch", "it", "system", "fp", "fp_mac", "fp_div", "fp_load", "fp_store",
           "mve_load", "mve_store", "mve_mac", "mve_alu", "loop")
CLASS_ID = {name: i for i, name in enumerate(CLASSES)}
MAY_BRANCH, LOADS = 1, 2

_LINE = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{4,8} ?){1,2})\s+([a-z][\w.]*)\s*([^;@]*)")
_SYMTAB = re.compile(r"^([0-9a-f]{8}) [ lgw!]{2}[ CWIiDdFfO]{5} (\.text\S*)\s+[0-9a-f]{8} (\S+)$")
_BRANCH = re.compile(r"^(b|bl|blx|bx)(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?$")
_IT = re.compile(r"^it[te]{0,3}$")
_QREG = re.compile(r"\bq[0-7]\b")
_GATHER = re.compile(r"\[\s*(?:r\d+|sp|ip|lr)\s*,\s*q[0-7]|\[\s*q[0-7]")
_ELEMENT_BITS = re.compile(r"\.[usfi]?(8|16|32|64)$")
_SYSTEM = ("nop", "dsb", "dmb", "isb", "bkpt", "svc", "wfi", "wfe", "sev", "yield", "cps", "msr", "mrs", "udf")
_MVE_MAC = ("vmla", "vmls", "vmul", "vqdmulh", "vqrdmulh", "vqdmlah", "vqrdmlah", "vqdmladh", "vqrdmladh",
            "vqdmlsdh", "vqrdmlsdh", "vqdmull", "vrmlal", "vrmlsl", "vfma", "vfms", "vrmulh", "vmulh")
_FP_MAC = ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms")
_LOOP = ("le", "letp", "wls", "wlstp", "dls", "dlstp", "lctp")


@dataclass(frozen=True)
class Insn:
    """One disassembled instruction and its class."""

    addr: int
    size: int
    mnemonic: str
    operands: str
    cls: str
    weight: int
    flags: int


def reglist_words(operands: str) -> int:
    """Words moved by a register list: ``{r4, r5, lr}`` -> 3, ``{r4-r11}`` -> 8, ``{d8-d15}`` -> 16.

    >>> reglist_words("{r4-r7, lr}"), reglist_words("sp!, {d8-d9}")
    (5, 4)
    """
    m = re.search(r"\{([^}]*)\}", operands)
    if not m:
        return 1
    words = 0
    for part in m.group(1).split(","):
        part = part.strip()
        per = 2 if part.startswith("d") else 1
        rng = re.fullmatch(r"[a-z]+(\d+)-[a-z]+(\d+)", part)
        words += per * (int(rng.group(2)) - int(rng.group(1)) + 1) if rng else per
    return words


def _writes_pc(operands: str) -> bool:
    return re.match(r"\s*pc\b", operands) is not None


def classify(mnemonic: str, operands: str) -> tuple[str, int, int]:
    """(class, weight, flags) of one instruction as objdump prints it.

    >>> classify("smlad", "r3, r4, r5, r3"), classify("pop", "{r4, r5, pc}"), classify("bne.n", "8 <x>")
    (('mac', 0, 0), ('ldm', 3, 3), ('branch', 0, 1))
    """
    base = mnemonic.split(".")[0]
    if _BRANCH.match(base) or base in ("cbz", "cbnz", "tbb", "tbh"):
        return "branch", 0, MAY_BRANCH
    if _IT.match(base):
        return "it", 0, 0
    if base in _LOOP:
        return "loop", 0, MAY_BRANCH if base in ("le", "letp", "wls", "wlstp") else 0
    if base.startswith("v"):
        return _classify_vector(base, operands, mnemonic)
    if base.startswith(("ldm", "pop")):
        return "ldm", reglist_words(operands), LOADS | (MAY_BRANCH if re.search(r"\bpc\b", operands) else 0)
    if base.startswith(("stm", "push")):
        return "stm", reglist_words(operands), 0
    if base.startswith("ldrd"):
        return "load_double", 2, LOADS
    if base.startswith(("ldr", "lda")):
        return "load", 0, LOADS | (MAY_BRANCH if _writes_pc(operands) else 0)
    if base.startswith("strd"):
        return "store_double", 2, 0
    if base.startswith(("str", "stl")):
        return "store", 0, 0
    if base in ("sdiv", "udiv"):
        return "div", 0, 0
    if base.startswith(("umull", "smull", "smlal", "umlal", "umaal", "smlsld")):
        return "mul_long", 0, 0
    if base.startswith(("mla", "mls", "smla", "smlsd", "smmla", "smmls")):
        return "mac", 0, 0
    if base.startswith(("mul", "smul", "smuad", "smusd", "smmul")):
        return "mul", 0, 0
    if base.startswith(_SYSTEM):
        return "system", 0, 0
    return "alu", 0, MAY_BRANCH if _writes_pc(operands) else 0


def _classify_vector(base: str, operands: str, mnemonic: str) -> tuple[str, int, int]:
    mve = _QREG.search(operands) is not None or base.startswith(("vpst", "vpt", "vctp", "vld2", "vld4", "vst2",
                                                                  "vst4", "vpsel", "vpnot"))
    if mve:
        if base.startswith(("vldr", "vld2", "vld4")):
            return "mve_load", _memory_beats(mnemonic, operands), LOADS
        if base.startswith(("vstr", "vst2", "vst4")):
            return "mve_store", _memory_beats(mnemonic, operands), 0
        if base.startswith(_MVE_MAC):
            return "mve_mac", 4, 0
        return "mve_alu", 4, 0
    if base.startswith(("vldr", "vldm", "vpop")):
        return "fp_load", reglist_words(operands) if base.startswith(("vldm", "vpop")) else 0, LOADS
    if base.startswith(("vstr", "vstm", "vpush")):
        return "fp_store", reglist_words(operands) if base.startswith(("vstm", "vpush")) else 0, 0
    if base.startswith(("vdiv", "vsqrt")):
        return "fp_div", 0, 0
    if base.startswith(_FP_MAC):
        return "fp_mac", 0, 0
    return "fp", 0, 0


def _memory_beats(mnemonic: str, operands: str) -> int:
    """Beats of a vector load / store: 4, or 2 per element for a gather / scatter (``vldrb.u8 q0, [r0, q1]``:
    16 elements, 32; the element size is the memory access size of the mnemonic, ``vldrb.s32``: 4 elements)."""
    if not _GATHER.search(operands):
        return 4
    size = {"b": 8, "h": 16, "w": 32, "d": 64}.get(mnemonic[4:5], 0)
    m = _ELEMENT_BITS.search(mnemonic)
    lane = int(m.group(1)) if m else 32
    return 2 * (128 // max(lane, size or lane))


def disassemble(elf: str | Path, objdump: str = "arm-none-eabi-objdump") -> tuple[list[Insn], dict[str, int]]:
    """Every instruction of the ELF's code sections, classified, and the code symbols' addresses.

    A single load that directly follows a single load in straight-line code is ``load_pipelined`` (the
    Cortex-M3/M4 pipeline their address and data phases)."""
    if shutil.which(objdump) is None:
        raise ToolMissing(f"{objdump} not found: it disassembles the firmware for the instruction-mix counter",
                          hint="install the Arm toolchain (sudo apt-get install gcc-arm-none-eabi)")
    text = proc.run([objdump, "-d", "-t", *_arch_option(elf, objdump), elf], what=f"disassembling {elf}").stdout
    out: list[Insn] = []
    symbols: dict[str, int] = {}
    prev_single_load, prev_end = False, -1
    for line in text.splitlines():
        sym = _SYMTAB.match(line)
        if sym:  # the symbol table (-t): every symbol, also several at one address
            symbols.setdefault(sym.group(3), int(sym.group(1), 16) & ~1)
            continue
        if line.endswith(">:"):  # a new symbol: code here may be a branch target
            prev_single_load = False
            continue
        m = _LINE.match(line)
        if not m or m.group(3).startswith("."):
            continue
        addr = int(m.group(1), 16)
        size = sum(len(w) for w in m.group(2).split()) // 2
        cls, weight, flags = classify(m.group(3), m.group(4).strip())
        if cls == "load" and prev_single_load and addr == prev_end and not flags & MAY_BRANCH:
            cls = "load_pipelined"
        prev_single_load, prev_end = m.group(3).startswith("ldr") and cls in ("load", "load_pipelined"), addr + size
        out.append(Insn(addr, size, m.group(3), m.group(4).strip(), cls, weight, flags))
    return out, symbols


def _arch_option(elf: str | Path, objdump: str) -> list[str]:
    """``-m armv8.1-m.main`` for an Armv8.1-M ELF: objdump decodes MVE only when told the architecture."""
    readelf = objdump.replace("objdump", "readelf")
    if shutil.which(readelf) is None:
        return []
    attrs = proc.run([readelf, "-A", elf], check=False).stdout
    return ["-m", "armv8.1-m.main"] if "v8.1-M" in attrs else []


def write_table(insns: list[Insn], path: str | Path) -> Path:
    """The plugin's class table (``ADDR CLASS WEIGHT FLAGS`` per line)."""
    p = Path(path)
    p.write_text("".join(f"{i.addr:x} {CLASS_ID[i.cls]} {i.weight} {i.flags}\n" for i in insns))
    return p
