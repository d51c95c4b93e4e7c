"""A ``.tflite`` model as a C/C++ array: ``model_data.h`` + ``model_data.cc`` (or ``.c``).

The convention TFLM users rely on: a 16-byte aligned ``const unsigned char`` array plus a size constant,
declared ``extern "C"`` in the header so that C and C++ code can both use it. An optional section attribute
places the array (e.g. in external flash, or in the ``.rodata.ek_weights`` output section that edgekit's
linker scripts measure).

>>> c_identifier_from_path("models/kws-ds_cnn.int8.tflite")
'kws_ds_cnn_int8'
>>> c_identifier_from_path("2nd model.tflite")
'model_2nd_model'
>>> check_identifier("int")
Traceback (most recent call last):
...
edgekit.errors.UsageError: array name 'int' is a C/C++ keyword
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.errors import ModelError, UsageError

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile

__all__ = ["CArrayResult", "c_identifier_from_path", "check_identifier", "check_section", "render_carray",
           "write_carray", "write_text_atomic"]

LANGS = ("c", "cc")
HEADER = "model_data.h"
BYTES_PER_LINE = 12

# C11/C23 and C++20 keywords plus alternative operator names: none of them can name an array in both languages.
_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires restrict return short signed sizeof static static_assert static_cast struct switch
template this thread_local throw true try typedef typeid typename typeof typeof_unqual union unsigned using
virtual void volatile wchar_t while xor xor_eq
_Alignas _Alignof _Atomic _BitInt _Bool _Complex _Decimal32 _Decimal64 _Decimal128 _Generic _Imaginary
_Noreturn _Static_assert _Thread_local
""".split())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECTION = re.compile(r"[A-Za-z0-9_.$]+")
MAX_IDENT = 63  # C99's minimum significant length for external identifiers


@dataclass(frozen=True)
class CArrayResult:
    """What :func:`write_carray` wrote."""

    header: Path
    source: Path
    name: str          # the array's C identifier
    size_macro: str    # the size as a preprocessor constant (usable in constant expressions)
    size: int          # bytes
    section: str | None


def c_identifier_from_path(path: str | os.PathLike[str]) -> str:
    """A valid, non-reserved C identifier derived from a file name (its stem)."""
    stem = Path(path).name.split(".tflite")[0] if str(path).endswith(".tflite") else Path(path).stem
    ident = re.sub(r"[^0-9A-Za-z]+", "_", stem).strip("_")
    ident = re.sub(r"_+", "_", ident) or "model_data"
    if ident[0].isdigit():
        ident = f"model_{ident}"
    if ident in _KEYWORDS:
        ident = f"{ident}_model"
    return ident[:MAX_IDENT].rstrip("_")


def check_identifier(name: str, what: str = "array name") -> str:
    """Return ``name`` if it can name a C and C++ array; else UsageError saying why."""
    if not _IDENT.fullmatch(name):
        raise UsageError(f"{what} '{name}' is not a C identifier",
                         hint="use letters, digits and '_', not starting with a digit (e.g. g_model)")
    if name in _KEYWORDS:
        raise UsageError(f"{what} '{name}' is a C/C++ keyword", hint=f"pick another name, e.g. {name}_model")
    if "__" in name or re.match(r"_[A-Z]", name):
        raise UsageError(f"{what} '{name}' is reserved for the compiler (contains '__' or starts with '_' and an "
                         f"upper-case letter)", hint="pick a name without a double underscore")
    if len(name) > MAX_IDENT:
        raise UsageError(f"{what} '{name}' is longer than {MAX_IDENT} characters",
                         hint="some linkers truncate longer external names; pick a shorter one")
    return name


def check_section(section: str) -> str:
    """Return ``section`` if it is a plain linker section name (``.ext_flash``, ``.rodata.ek_weights``...)."""
    if not _SECTION.fullmatch(section):
        raise UsageError(f"section '{section}' is not a plain section name",
                         hint="use letters, digits, '.', '_' and '$' only, e.g. .ext_flash_rodata")
    return section


def board_section(board: BoardProfile | None) -> str | None:
    """The model placement a board profile asks for (``build.model_section``), if its schema has one."""
    if board is None:
        return None
    return getattr(board.build, "model_section", "") or None


def render_carray(data: bytes, name: str, *, lang: str = "cc", section: str | None = None,
                  header_name: str = HEADER, source_note: str = "") -> tuple[str, str]:
    """The header and source text for ``data`` as array ``name`` (identifier and section are checked)."""
    check_identifier(name)
    if lang not in LANGS:
        raise UsageError(f"language '{lang}' is not one of: {', '.join(LANGS)}")
    if section is not None:
        check_section(section)
    if not data:
        raise ModelError("the model is empty (0 bytes): nothing to put in a C array")
    size_macro = f"{name.upper()}_SIZE"
    guard = f"EK_{re.sub(r'[^0-9A-Z]+', '_', header_name.upper())}_{name.upper()}"
    note = f" from {source_note}" if source_note else ""
    header = (
        f"/* Model data{note}: {len(data)} bytes. Generated by edgekit carray; do not edit. */\n"
        f"#ifndef {guard}\n#define {guard}\n\n"
        f"#define {size_macro} {len(data)}u\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        f"/* The .tflite flatbuffer, 16-byte aligned as TFLM requires. */\n"
        f"extern const unsigned char {name}[{size_macro}];\n"
        f"extern const unsigned int {name}_len;\n\n"
        "#ifdef __cplusplus\n}\n#endif\n\n"
        f"#endif /* {guard} */\n"
    )
    if lang == "cc":
        align = "alignas(16) "
        attr = f' __attribute__((section("{section}")))' if section else ""
    else:
        align = ""
        attrs = ["aligned(16)"] + ([f'section("{section}")'] if section else [])
        attr = f" __attribute__(({', '.join(attrs)}))"
    rows = []
    for off in range(0, len(data), BYTES_PER_LINE):
        chunk = data[off:off + BYTES_PER_LINE]
        rows.append("  " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    source = (
        f"/* Model data{note}: {len(data)} bytes. Generated by edgekit carray; do not edit. */\n"
        f'#include "{header_name}"\n\n'
        f"{align}const unsigned char {name}[{size_macro}]{attr} = {{\n"
        + "\n".join(rows) + "\n};\n"
        f"const unsigned int {name}_len = {size_macro};\n"
    )
    return header, source


def write_carray(model: str | os.PathLike[str] | bytes, out_dir: str | os.PathLike[str], *,
                 name: str | None = None, section: str | None = None, lang: str = "cc",
                 board: BoardProfile | None = None) -> CArrayResult:
    """Write ``model_data.h`` and ``model_data.cc`` (``lang="c"``: ``model_data.c``) into ``out_dir``.

    Args:
        model: a .tflite path or its bytes (bytes need ``name``, or get ``model_data``).
        out_dir: created if missing; the two files are replaced atomically.
        name: array identifier (default: from the file name); validated (UsageError names the problem).
        section: linker section for the array; default: the board's ``build.model_section`` if any.
        lang: ``"cc"`` (C++: ``alignas(16)``) or ``"c"`` (``__attribute__((aligned(16)))``).
        board: a board profile whose model placement applies when ``section`` is not given.
    """
    if isinstance(model, (bytes, bytearray, memoryview)):
        data, note, default_name = bytes(model), "", "model_data"
    else:
        path = Path(model)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{path}: no such file") from None
        except OSError as exc:
            raise ModelError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ModelError(f"{path}: not a TensorFlow Lite flatbuffer (no 'TFL3' identifier)",
                             hint="pass a .tflite file; convert a Keras model with 'edgekit convert'")
        note, default_name = path.name, c_identifier_from_path(path)
    array = check_identifier(name) if name is not None else default_name
    sec = section if section is not None else board_section(board)
    header, source = render_carray(data, array, lang=lang, section=sec, source_note=note)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the output directory: {exc.strerror or exc}") from None
    hdr_path, src_path = out / HEADER, out / f"model_data.{lang}"
    write_text_atomic(hdr_path, header)
    write_text_atomic(src_path, source)
    return CArrayResult(hdr_path, src_path, array, f"{array.upper()}_SIZE", len(data), sec)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` via a temporary file in the same directory and a rename (no half-written file)."""
    from edgekit.fsutil import write_atomic

    write_atomic(path, text.encode("utf-8"))
