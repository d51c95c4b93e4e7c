"""Build the instruction-mix plugin with the host compiler, hand QEMU its arguments, read what it wrote.

The plugin's C source ships in the package (``plugin/ek_insn_mix.c``); it is compiled once per source version into
the cache (``$EDGEKIT_CACHE_DIR`` or ``$XDG_CACHE_HOME/edgekit`` or ``~/.cache/edgekit``, file name keyed by the
source's hash), so an upgrade never runs a stale plugin.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edgekit import proc
from edgekit.cycles.classify import CLASSES, MAY_BRANCH, Insn, disassemble, write_table
from edgekit.errors import BuildError, DeviceError, ToolMissing

SOURCE = Path(__file__).with_name("plugin") / "ek_insn_mix.c"
MAX_CLASSES = 32  # EK_MAX_CLASSES in the plugin
FIXED = ("total", "unknown", "branches_taken", "branches_not_taken", "flash_loads")
END_OF_RUN = 0xFFFFFFFF  # the snapshot the plugin writes when QEMU exits normally


def cache_dir() -> Path:
    """Where compiled helpers are kept."""
    env = os.environ.get("EDGEKIT_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgekit"


def build_plugin(cache: str | os.PathLike[str] | None = None, cc: str | None = None) -> Path:
    """The compiled plugin (``ek_insn_mix-<hash>.so``), built with the host C compiler when not cached yet.

    Raises:
        ToolMissing: no host C compiler (``$CC`` or gcc).
        BuildError: the compiler failed.
    """
    src = SOURCE.read_bytes()
    digest = hashlib.sha256(src).hexdigest()[:16]
    out_dir = Path(cache) if cache is not None else cache_dir() / "plugins"
    lib = out_dir / f"ek_insn_mix-{digest}.so"
    if lib.is_file():
        return lib
    compiler = cc or os.environ.get("CC") or "gcc"
    if shutil.which(compiler) is None:
        raise ToolMissing(f"'{compiler}' not found: edgekit compiles its QEMU instruction-mix plugin "
                          f"({SOURCE.name}) with the host C compiler to estimate cycles",
                          hint="install gcc (sudo apt-get install gcc), or set CC; without it bench reports "
                               "instructions only (--no-cycles)")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = lib.with_suffix(f".{os.getpid()}.tmp")
    res = proc.run([compiler, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-o", tmp, SOURCE],
                   check=False, what=f"compiling {SOURCE.name}")
    if res.returncode != 0:
        raise BuildError(f"compiling {SOURCE.name} failed: {res.stderr.strip()[-800:]}",
                         hint=f"command: {compiler} -shared -fPIC -O2 -o {lib} {SOURCE}")
    os.replace(tmp, lib)
    return lib


@dataclass
class Mix:
    """Executed instructions by class (``counts``), registers moved / beats by class (``weights``), branches
    taken and not taken, data loads from flash; one window of a run (or the whole run)."""

    total: int = 0
    unknown: int = 0
    branches_taken: int = 0
    branches_not_taken: int = 0
    flash_loads: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_counters(cls, values: list[int]) -> Mix:
        fixed = dict(zip(FIXED, values[:len(FIXED)], strict=True))
        rest = values[len(FIXED):]
        counts = {name: rest[2 * i] for i, name in enumerate(CLASSES) if rest[2 * i]}
        weights = {name: rest[2 * i + 1] for i, name in enumerate(CLASSES) if rest[2 * i + 1]}
        return cls(**fixed, counts=counts, weights=weights)

    def __sub__(self, other: Mix) -> Mix:
        def diff(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) - b.get(k, 0) for k in a if a.get(k, 0) - b.get(k, 0)}

        return Mix(self.total - other.total, self.unknown - other.unknown,
                   self.branches_taken - other.branches_taken, self.branches_not_taken - other.branches_not_taken,
                   self.flash_loads - other.flash_loads, diff(self.counts, other.counts),
                   diff(self.weights, other.weights))

    def to_dict(self) -> dict[str, object]:
        return {"instructions": self.total, "unclassified": self.unknown, "by_class": dict(self.counts),
                "registers_or_beats": dict(self.weights), "branches_taken": self.branches_taken,
                "branches_not_taken": self.branches_not_taken, "flash_data_loads": self.flash_loads}


@dataclass(frozen=True)
class Snapshot:
    """The counters as they stood when the marker at ``addr`` was about to execute."""

    addr: int
    mix: Mix


@dataclass
class MixRun:
    """One QEMU run prepared for the plugin: pass :attr:`qemu_args` to QEMU, then call :meth:`snapshots`."""

    elf: Path
    work_dir: Path
    insns: list[Insn]
    symbols: dict[str, int]
    marks: tuple[int, ...]
    qemu_args: tuple[str, ...]
    out_path: Path

    def snapshots(self) -> list[Snapshot]:
        """Every marker hit, in order (the last one, ``END_OF_RUN``, only when QEMU exited normally)."""
        return read_snapshots(self.out_path)


def prepare(elf: str | os.PathLike[str], work_dir: str | os.PathLike[str], *, marks: list[int] | tuple[int, ...] = (),
            mark_symbols: tuple[str, ...] = (), mark_pattern: str | None = None, mark_returns_of: tuple[str, ...] = (),
            flash: tuple[int, int] | None = None, plugin: Path | None = None) -> MixRun:
    """Disassemble ``elf``, write the class table and the marker list into ``work_dir``; the QEMU arguments.

    Markers: ``marks`` (addresses), ``mark_symbols`` (symbol names; missing ones are skipped), every symbol
    matching the regular expression ``mark_pattern``, and the return address of every call to a function in
    ``mark_returns_of``. ``flash``: (first, last) address of the flash, to count data loads from it.
    """
    import re

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    elf = Path(elf)
    insns, symbols = disassemble(elf)
    table = write_table(insns, work / f"{elf.name}.classes")
    named = [a for s, a in symbols.items() if s in mark_symbols or (mark_pattern and re.match(mark_pattern, s))]
    returns = [a for f in mark_returns_of for a in call_returns(insns, f)]
    all_marks = tuple(sorted({*marks, *named, *returns}))
    marks_file = work / f"{elf.name}.marks"
    marks_file.write_text("".join(f"{a:x}\n" for a in all_marks))
    out = work / f"{elf.name}.mix"
    lib = plugin or build_plugin()
    arg = f"{lib},table={table},marks={marks_file},out={out}"
    if flash is not None:
        arg += f",flash={flash[0]:x}-{flash[1]:x}"
    return MixRun(elf, work, insns, symbols, all_marks, ("-plugin", arg, "-d", "plugin"), out)


def read_snapshots(path: str | os.PathLike[str]) -> list[Snapshot]:
    """Parse the plugin's output file."""
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except OSError as exc:
        raise DeviceError(f"{p}: the instruction-mix plugin wrote nothing ({exc})",
                          hint="is QEMU built with plugin support (-plugin)? see the QEMU log") from None
    if not lines or not lines[0].startswith("H ek_insn_mix 1"):
        raise DeviceError(f"{p}: not an ek_insn_mix output (header {lines[:1]})")
    snaps = []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) != 2 + len(FIXED) + 2 * MAX_CLASSES or parts[0] != "M":
            continue  # a line cut short when QEMU was killed
        snaps.append(Snapshot(int(parts[1], 16), Mix.from_counters([int(v) for v in parts[2:]])))
    return snaps


def call_returns(insns: list[Insn], symbol: str) -> list[int]:
    """Addresses right after every ``bl <symbol>``: where a call to it returns."""
    return [i.addr + i.size for i in insns
            if i.flags & MAY_BRANCH and i.mnemonic.startswith("bl") and i.operands.endswith(f"<{symbol}>")]
