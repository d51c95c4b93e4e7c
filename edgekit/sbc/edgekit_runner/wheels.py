"""Which LiteRT runtime wheel exists for a machine and Python version, and what to say when none does.

Facts (PyPI, checked November 2026):

- ``ai-edge-litert`` 2.3.0: CPython 3.10-3.14, ``manylinux_2_27`` x86_64 and aarch64 (also macOS arm64,
  Windows); no 32-bit ARM wheels. Works with numpy 1 and 2.
- ``tflite-runtime`` 2.14.0 (the last release): CPython 3.8-3.11, ``manylinux_2_34`` x86_64, aarch64 and
  armv7l (so glibc 2.34+: Debian / Raspberry Pi OS 12 "bookworm"; "bullseye" has 2.31). Breaks with
  numpy 2 (``_ARRAY_API not found``).

Standard library only: this module ships inside the bundle and is also used by edgekit itself.
"""

from __future__ import annotations

from dataclasses import dataclass

LITERT = ("ai-edge-litert", "2.3.0")
LITERT_PYTHON = ((3, 10), (3, 14))
LITERT_MACHINES = ("x86_64", "aarch64")
LITERT_GLIBC = (2, 27)
TFLITE_RUNTIME = ("tflite-runtime", "2.14.0")
TFLITE_RUNTIME_PYTHON = ((3, 8), (3, 11))
TFLITE_RUNTIME_MACHINES = ("x86_64", "aarch64", "armv7l")
TFLITE_RUNTIME_GLIBC = (2, 34)
NUMPY_LITERT = "numpy>=1.24,<3"
NUMPY_TFLITE_RUNTIME = "numpy>=1.21,<2"
PAHO = "paho-mqtt==2.2.0"

_ALIASES = {"arm64": "aarch64", "armv8": "aarch64", "amd64": "x86_64", "x86-64": "x86_64", "x64": "x86_64",
            "armhf": "armv7l", "armv7": "armv7l", "arm": "armv7l", "armv8l": "armv7l"}


class NoWheel(Exception):
    """No runtime wheel for this machine/Python: ``message`` says why, ``hint`` names the alternative."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime package for a target and the requirement lines that install it."""

    package: str
    version: str
    machine: str
    python: tuple[int, int]
    requirements: tuple[str, ...]
    note: str = ""

    def to_dict(self) -> dict:
        return {"package": self.package, "version": self.version, "machine": self.machine,
                "python": _fmt(self.python), "requirements": list(self.requirements), "note": self.note}


def normalize_machine(machine: str) -> str:
    """``platform.machine()``-style name: aarch64, x86_64, armv7l, armv6l, ..."""
    m = machine.strip().lower()
    return _ALIASES.get(m, m)


def _fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def _between(v: tuple[int, int], lo_hi: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    return lo_hi[0] <= v <= lo_hi[1]


def choose_runtime(machine: str, python: tuple[int, int] = (3, 11),
                   glibc: tuple[int, int] | None = None) -> RuntimeChoice:
    """The LiteRT runtime to install on ``machine`` with CPython ``python`` (and ``glibc`` when known).

    Raises:
        NoWheel: no published wheel fits; the hint names the alternative.
    """
    m = normalize_machine(machine)
    py = (int(python[0]), int(python[1]))
    lite_ok = m in LITERT_MACHINES and _between(py, LITERT_PYTHON) and (glibc is None or glibc >= LITERT_GLIBC)
    if lite_ok:
        return RuntimeChoice(LITERT[0], LITERT[1], m, py, (f"{LITERT[0]}=={LITERT[1]}", NUMPY_LITERT, PAHO))
    tfl_ok = (m in TFLITE_RUNTIME_MACHINES and _between(py, TFLITE_RUNTIME_PYTHON)
              and (glibc is None or glibc >= TFLITE_RUNTIME_GLIBC))
    if tfl_ok:
        why = ("ai-edge-litert has no 32-bit ARM wheels" if m == "armv7l"
               else f"ai-edge-litert {LITERT[1]} needs Python {_fmt(LITERT_PYTHON[0])}+ and glibc "
                    f"{_fmt(LITERT_GLIBC)}+")
        return RuntimeChoice(TFLITE_RUNTIME[0], TFLITE_RUNTIME[1], m, py,
                             (f"{TFLITE_RUNTIME[0]}=={TFLITE_RUNTIME[1]}", NUMPY_TFLITE_RUNTIME, PAHO),
                             note=f"{why}; using tflite-runtime {TFLITE_RUNTIME[1]} (its last release) with numpy<2")
    raise _no_wheel(m, py, glibc)


def _no_wheel(m: str, py: tuple[int, int], glibc: tuple[int, int] | None) -> NoWheel:
    where = f"{m} with Python {_fmt(py)}" + (f" and glibc {_fmt(glibc)}" if glibc else "")
    if m == "armv7l":
        if py > TFLITE_RUNTIME_PYTHON[1]:
            return NoWheel(f"no LiteRT wheel for {where}: ai-edge-litert has no 32-bit ARM wheels and "
                           f"tflite-runtime {TFLITE_RUNTIME[1]} (the last release) stops at Python "
                           f"{_fmt(TFLITE_RUNTIME_PYTHON[1])}",
                           "install a 64-bit OS (aarch64: ai-edge-litert), or run Python 3.11 on this board "
                           "(the bundle's Dockerfile uses python:3.11-slim-bookworm for linux/arm/v7)")
        if glibc is not None and glibc < TFLITE_RUNTIME_GLIBC:
            return NoWheel(f"no LiteRT wheel for {where}: tflite-runtime {TFLITE_RUNTIME[1]} armv7l wheels need "
                           f"glibc {_fmt(TFLITE_RUNTIME_GLIBC)}+ (manylinux_2_34)",
                           "upgrade to Raspberry Pi OS 12 (bookworm), or use the bundle's Dockerfile "
                           "(python:3.11-slim-bookworm)")
        return NoWheel(f"no LiteRT wheel for {where}: tflite-runtime {TFLITE_RUNTIME[1]} needs Python "
                       f"{_fmt(TFLITE_RUNTIME_PYTHON[0])}-{_fmt(TFLITE_RUNTIME_PYTHON[1])}",
                       "install Python 3.11 (Raspberry Pi OS bookworm ships it)")
    if m in LITERT_MACHINES:
        if glibc is not None and glibc < LITERT_GLIBC:
            return NoWheel(f"no LiteRT wheel for {where}: ai-edge-litert needs glibc {_fmt(LITERT_GLIBC)}+ "
                           f"(manylinux_2_27)", "upgrade the OS, or use the bundle's Dockerfile")
        if py > LITERT_PYTHON[1]:
            return NoWheel(f"no LiteRT wheel for {where}: ai-edge-litert {LITERT[1]} has wheels for Python "
                           f"{_fmt(LITERT_PYTHON[0])}-{_fmt(LITERT_PYTHON[1])}",
                           f"create the venv with Python {_fmt(LITERT_PYTHON[1])} or older "
                           "(or use the bundle's Dockerfile)")
        return NoWheel(f"no LiteRT wheel for {where}: ai-edge-litert needs Python {_fmt(LITERT_PYTHON[0])}+, "
                       f"tflite-runtime {TFLITE_RUNTIME[1]} Python {_fmt(TFLITE_RUNTIME_PYTHON[0])}+",
                       "install Python 3.10 or newer (or use the bundle's Dockerfile)")
    if m == "armv6l":
        return NoWheel(f"no LiteRT wheel for {where}: neither ai-edge-litert nor tflite-runtime publishes "
                       "armv6l (Raspberry Pi Zero / 1) wheels",
                       "use a board with an ARMv7 or 64-bit core, or run the model on an MCU runtime "
                       "('edgekit generate' for a microcontroller board)")
    return NoWheel(f"no LiteRT wheel for {where}: wheels exist for x86_64 and aarch64 (ai-edge-litert) and "
                   "armv7l (tflite-runtime)", "build tflite-runtime from source for this architecture")
