"""Tiny ELF32 little-endian images for flasher tests: PT_LOAD segments, an optional ``.edgekit_board`` section."""

from __future__ import annotations

import struct
from pathlib import Path

EM_ARM, EM_XTENSA = 40, 94


def make_elf(path: Path, segments: list[tuple[int, bytes]], *, machine: int = EM_ARM,
             board: str | None = None, entry: int = 0) -> Path:
    """Write an executable ELF whose loadable bytes are ``segments`` [(physical address, data)]."""
    n_ph = len(segments)
    data_off = 52 + 32 * n_ph
    body = bytearray()
    phdrs = b""
    for addr, data in segments:
        phdrs += struct.pack("<8I", 1, data_off + len(body), addr, addr, len(data), len(data), 5, 4)
        body += data
    sections = []
    if board is not None:
        note = board.encode() + b"\0"
        sections.append((b".edgekit_board", data_off + len(body), len(note)))
        body += note
    shstr = b"\0" + b"".join(n + b"\0" for n, _, _ in sections) + b".shstrtab\0"
    shstr_off = data_off + len(body)
    body += shstr
    shdrs = bytes(40)
    name = 1
    for sec_name, off, size in sections:
        shdrs += struct.pack("<10I", name, 1, 0, 0, off, size, 0, 0, 1, 0)
        name += len(sec_name) + 1
    shdrs += struct.pack("<10I", name, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    shoff = data_off + len(body)
    n_sh = len(sections) + 2
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, entry, 52, shoff, 0x05000200, 52, 32, n_ph, 40,
                                 n_sh, n_sh - 1)
    path.write_bytes(header + phdrs + bytes(body) + shdrs)
    return path


def intel_hex(segments: list[tuple[int, bytes]]) -> str:
    """Intel HEX text (extended linear address records, 16 data bytes per line)."""
    def rec(kind: int, addr: int, data: bytes) -> str:
        raw = bytes([len(data), addr >> 8 & 0xFF, addr & 0xFF, kind]) + data
        return ":" + (raw + bytes([(-sum(raw)) & 0xFF])).hex().upper()

    lines = []
    upper = None
    for base, data in segments:
        for off in range(0, len(data), 16):
            addr = base + off
            if addr >> 16 != upper:
                upper = addr >> 16
                lines.append(rec(4, 0, upper.to_bytes(2, "big")))
            lines.append(rec(0, addr & 0xFFFF, data[off:off + 16]))
    lines.append(rec(1, 0, b""))
    return "\n".join(lines) + "\n"
