"""atheris harness: the TFLM project generator (C array, op resolver, project templates) on any model bytes.

Each input is rendered for one of the board families (the first input byte picks CMake, ESP-IDF, Pico SDK,
Zephyr or PlatformIO), with a fixed arena so no TFLM run is needed. The outcome must be a project summary or an
:class:`~edgekit.errors.EdgekitError`; any other exception is a crash. A rendered project must hold the model
array byte for byte and an op resolver whose ``MicroMutableOpResolver<N>`` matches its registrations, and no
``*.tmp`` directory may be left behind.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import collect_or_raise, scratch_dir

with atheris.instrument_imports(include=["edgekit"]):
    from edgekit.boards import load_board
    from edgekit.codegen.tflm_project import generate_tflm
    from edgekit.errors import EdgekitError
    from edgekit.tflite_model import load_model

BOARDS = [load_board(b) for b in ("qemu-cortex-m4", "esp32-s3-devkitc-1", "rpi-pico", "nrf52840dk",
                                  "arduino-nano-33-ble-sense")]
_WORK = scratch_dir("ek_fuzz_tflm_")
_RESOLVER_N = re.compile(r"MicroMutableOpResolver<(\d+)>")
_ADD = re.compile(r"\.Add[A-Za-z0-9_]*\(")


class Mismatch(AssertionError):
    """A rendered project that contradicts the model (a generator bug, reported as a crash)."""


def _check_project(out: Path, data: bytes) -> None:
    if list(_WORK.glob("*.tmp")):
        raise Mismatch("a temporary project directory was left behind")
    texts = {p: p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix in {".h", ".cc",
                                                                                                       ".c", ".cpp"}}
    arrays = [t for p, t in texts.items() if p.stem == "model_data" and p.suffix in {".c", ".cc"}]
    if not arrays:
        raise Mismatch("no model array in the project")
    body = arrays[0].split("{", 1)[1].split("}", 1)[0]
    if bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", body)) != data:
        raise Mismatch("the model array differs from the model bytes")
    for text in texts.values():
        m = _RESOLVER_N.search(text)
        if m and int(m.group(1)) != len(_ADD.findall(text)):
            raise Mismatch(f"MicroMutableOpResolver<{m.group(1)}> with {len(_ADD.findall(text))} registrations")


def test_one(data: bytes) -> None:
    """One input: parse, then render a TFLM project for one board family and check it."""
    if not data:
        return
    board = BOARDS[data[0] % len(BOARDS)]
    out = _WORK / "project"
    try:
        model = load_model(data)
        generate_tflm(model, board, out, arena_bytes=4096)
    except EdgekitError:
        return
    except Exception as exc:  # anything else is a bug: stop (or file it in a long campaign)
        collect_or_raise(exc, data)
        return
    try:
        _check_project(out, data)
    except Mismatch as exc:
        collect_or_raise(exc, data)


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
