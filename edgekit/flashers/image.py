"""Firmware images as flashers see them: format by magic, loaded bytes at their addresses, what board they are for.

Formats: ``elf`` (``\\x7fELF``; the PT_LOAD segments with file bytes, at their physical = load addresses),
``hex`` (Intel HEX records, checksums checked), ``uf2`` (512-byte blocks, magic ``UF2\\n`` ... ``0x0AB16F30``;
the family id when flag 0x2000 is set) and ``bin`` (raw bytes; no address of its own). Also the checks every
flasher runs before touching a board: the image fits the board's flash (``memory.flash_kb`` and its flash
regions), and nothing in it says it was built for another board (a ``.edgekit_board`` ELF section, the
project's ``edgekit_project.json``, the ELF machine, the UF2 family, the ESP image chip id).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.errors import BoardError, BuildError, UsageError
from edgekit.manifest import PROJECT_FILE

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile

FORMATS = ("elf", "hex", "bin", "uf2")
BOARD_SECTION = ".edgekit_board"  # optional ELF section holding the board id, NUL-terminated
UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
UF2_FLAG_NOT_MAIN_FLASH, UF2_FLAG_FAMILY = 0x1, 0x2000
UF2_PAYLOAD = 256  # bytes per block, as every UF2 bootloader accepts
UF2_INFO_NAME = "INFO_UF2.TXT"
ESP_IMAGE_MAGIC = 0xE9
# esp_image_header_t.chip_id (bytes 12-13) per chip, from ESP-IDF's esp_chip_id_t
ESP_CHIP_IDS = {"esp32": 0, "esp32s2": 2, "esp32c3": 5, "esp32s3": 9, "esp32c2": 12, "esp32c6": 13,
                "esp32h2": 16, "esp32p4": 18}
# ELF e_machine per board arch prefix
_EM = {"arm": ("EM_ARM", 40), "xtensa": ("EM_XTENSA", 94), "riscv": ("EM_RISCV", 243)}


@dataclass(frozen=True)
class Segment:
    """Bytes to store at ``address`` (None: a raw binary, placed where the flasher's board says)."""

    address: int | None
    data: bytes
    source: Path | None = None  # the file these bytes come from, when a tool needs a file per segment

    @property
    def end(self) -> int:
        return (self.address or 0) + len(self.data)


@dataclass(frozen=True)
class Image:
    """A firmware image ready for a flasher."""

    path: Path
    format: str
    segments: tuple[Segment, ...]
    board_id: str | None = None      # what the image says it was built for
    board_source: str = ""           # where board_id comes from
    elf_machine: str | None = None
    uf2_family: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def size(self) -> int:
        """Bytes stored in flash."""
        return sum(len(s.data) for s in self.segments)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest() if self.path.is_file() else ""

    def flat(self, base: int | None = None, fill: int = 0xFF) -> tuple[int, bytes]:
        """(start address, contiguous bytes) with gaps filled; a raw binary starts at ``base``."""
        if not self.segments:
            return base or 0, b""
        if all(s.address is None for s in self.segments):
            return base or 0, b"".join(s.data for s in self.segments)
        segs = sorted((s for s in self.segments if s.address is not None), key=lambda s: s.address or 0)
        start = segs[0].address or 0
        out = bytearray([fill]) * (max(s.end for s in segs) - start)
        for s in segs:
            off = (s.address or 0) - start
            out[off:off + len(s.data)] = s.data
        return start, bytes(out)


def detect_format(path: Path, head: bytes | None = None) -> str:
    """``elf``, ``uf2``, ``hex`` or ``bin`` from the file's first bytes (never from its name alone)."""
    data = head if head is not None else _head(path)
    if data[:4] == b"\x7fELF":
        return "elf"
    if len(data) >= 8 and struct.unpack_from("<II", data) == (UF2_MAGIC0, UF2_MAGIC1):
        return "uf2"
    if data[4:8] == b"TFL3":
        raise BuildError(f"{path}: this is a TFLite model, not a firmware image",
                         hint="build firmware first ('edgekit deploy MODEL --board ID' does it all)")
    if data.lstrip()[:1] == b":" and all(c in b":0123456789abcdefABCDEF\r\n" for c in data[:256]):
        return "hex"
    ext = path.suffix.lower()
    if ext in (".elf", ".axf", ".hex", ".ihex", ".uf2"):
        raise BuildError(f"{path}: named {ext} but its content is not that format (first bytes {data[:8].hex()})",
                         hint="is the file truncated or renamed? rebuild it")
    if ext not in (".bin", ".img", ""):
        raise BuildError(f"{path}: not a firmware image: neither ELF, Intel HEX, UF2 nor a .bin "
                         f"(first bytes {data[:8].hex()})", hint="pass the .elf/.hex/.bin/.uf2 the build produced")
    return "bin"


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(512)
    except FileNotFoundError:
        raise BuildError(f"{path}: no such image file") from None
    except OSError as exc:
        raise BuildError(f"{path}: cannot read the image: {exc}") from None


def load_image(path: str | Path) -> Image:
    """Read an image file of any supported format (BuildError when malformed)."""
    p = Path(path)
    if p.is_dir():
        raise BuildError(f"{p}: is a directory", hint="pass an image file or a project directory to flash()")
    fmt = detect_format(p)
    data = p.read_bytes()
    if fmt == "elf":
        img = _load_elf(p)
    elif fmt == "hex":
        img = Image(p, "hex", tuple(_parse_hex(data, p)))
    elif fmt == "uf2":
        segs, family = parse_uf2(data, p)
        img = Image(p, "uf2", tuple(segs), uf2_family=family)
    else:
        if not data:
            raise BuildError(f"{p}: empty image")
        img = Image(p, "bin", (Segment(None, data, p),))
    return _with_project_board(img)


def _load_elf(p: Path) -> Image:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    segs: list[Segment] = []
    board_id = None
    try:
        with p.open("rb") as f:
            e = ELFFile(f)
            machine = str(e["e_machine"])
            for seg in e.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_filesz"] == 0:
                    continue
                segs.append(Segment(int(seg["p_paddr"]), seg.data()[: seg["p_filesz"]]))
            sec = e.get_section_by_name(BOARD_SECTION)
            if sec is not None:
                board_id = sec.data().split(b"\0", 1)[0].decode("ascii", "replace").strip() or None
    except (ELFError, OSError, ValueError, struct.error) as exc:
        raise BuildError(f"{p}: malformed ELF: {exc}") from None
    if not segs:
        raise BuildError(f"{p}: the ELF has no loadable bytes (no PT_LOAD segment with file data)",
                         hint="is this an object file (.o) rather than the linked firmware?")
    return Image(p, "elf", tuple(segs), board_id=board_id,
                 board_source=f"ELF section {BOARD_SECTION}" if board_id else "", elf_machine=machine)


def _parse_hex(data: bytes, p: Path) -> list[Segment]:
    base = 0
    chunks: list[tuple[int, bytes]] = []
    for n, raw in enumerate(data.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        try:
            if line[:1] != b":":
                raise ValueError("no ':'")
            rec = bytes.fromhex(line[1:].decode("ascii"))
            count, addr, kind = rec[0], (rec[1] << 8) | rec[2], rec[3]
            if len(rec) != count + 5 or sum(rec) & 0xFF:
                raise ValueError("bad length or checksum")
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise BuildError(f"{p}: line {n}: malformed Intel HEX record ({exc})") from None
        payload = rec[4:4 + count]
        if kind == 0:
            chunks.append((base + addr, payload))
        elif kind == 1:
            break
        elif kind == 2:
            base = int.from_bytes(payload, "big") << 4
        elif kind == 4:
            base = int.from_bytes(payload, "big") << 16
    return _merge(chunks)


def _merge(chunks: Iterable[tuple[int, bytes]]) -> list[Segment]:
    out: list[list] = []
    for addr, payload in sorted(chunks):
        if out and out[-1][0] + len(out[-1][1]) == addr:
            out[-1][1] += payload
        else:
            out.append([addr, bytearray(payload)])
    return [Segment(a, bytes(d)) for a, d in out]


def parse_uf2(data: bytes, p: Path) -> tuple[list[Segment], int | None]:
    if len(data) % 512:
        raise BuildError(f"{p}: UF2 size {len(data)} is not a multiple of 512 bytes")
    chunks: list[tuple[int, bytes]] = []
    families: set[int] = set()
    for off in range(0, len(data), 512):
        m0, m1, flags, addr, size, _blk, _nblk, fam = struct.unpack_from("<8I", data, off)
        (mend,) = struct.unpack_from("<I", data, off + 508)
        if (m0, m1, mend) != (UF2_MAGIC0, UF2_MAGIC1, UF2_MAGIC_END) or size > 476:
            raise BuildError(f"{p}: block {off // 512} is not a valid UF2 block")
        if flags & UF2_FLAG_NOT_MAIN_FLASH:
            continue
        if flags & UF2_FLAG_FAMILY:
            families.add(fam)
        chunks.append((addr, data[off + 32: off + 32 + size]))
    if len(families) > 1:
        raise BuildError(f"{p}: UF2 blocks of several families ({', '.join(hex(f) for f in sorted(families))})")
    return _merge(chunks), (families.pop() if families else None)


def to_uf2(image: Image, family_id: int | None, base: int | None = None) -> bytes:
    """The image as UF2 blocks of 256 bytes (the family flag set when ``family_id`` is given)."""
    start, flat = image.flat(base)
    lead = start % UF2_PAYLOAD  # UF2 bootloaders expect blocks on 256-byte boundaries
    if lead:
        start -= lead
        flat = b"\xff" * lead + flat
    n = (len(flat) + UF2_PAYLOAD - 1) // UF2_PAYLOAD
    flags = UF2_FLAG_FAMILY if family_id is not None else 0
    out = bytearray()
    for i in range(n):
        chunk = flat[i * UF2_PAYLOAD:(i + 1) * UF2_PAYLOAD].ljust(UF2_PAYLOAD, b"\xff")
        out += struct.pack("<8I", UF2_MAGIC0, UF2_MAGIC1, flags, start + i * UF2_PAYLOAD, UF2_PAYLOAD, i, n,
                           family_id if family_id is not None else len(flat))
        out += chunk.ljust(476, b"\0") + struct.pack("<I", UF2_MAGIC_END)
    return bytes(out)


# ---------------------------------------------------------------- which board is the image for

def _with_project_board(img: Image) -> Image:
    """Fill board_id from ``edgekit_project.json`` next to or above the image when the image names none.

    Up to four levels up: build/firmware.elf, build/zephyr/zephyr.elf, .pio/build/<env>/firmware.elf.
    """
    from edgekit.manifest import find_project, load_project

    proj_dir = find_project(img.path.parent, levels=3)
    if proj_dir is None:
        return img
    try:
        board = load_project(proj_dir).board
    except UsageError:
        return img
    pfile = proj_dir / PROJECT_FILE
    if img.board_id and img.board_id != board:
        raise BuildError(f"{img.path}: its {img.board_source} says board '{img.board_id}' but {pfile} says "
                         f"'{board}'", hint="rebuild the project")
    if not img.board_id:
        return Image(img.path, img.format, img.segments, board, str(pfile), img.elf_machine, img.uf2_family,
                     img.notes)
    return img


def check_board(img: Image, board: BoardProfile) -> list[str]:
    """Refuse an image built for another board; returns warnings (e.g. nothing identifies the board)."""
    if img.board_id and img.board_id != board.id:
        raise BoardError(f"{img.path.name} was built for board '{img.board_id}' ({img.board_source}), not "
                         f"'{board.id}'", hint=f"flash it with --board {img.board_id}, or rebuild for {board.id}")
    if img.elf_machine:
        want = next((v for k, v in _EM.items() if board.arch.startswith(k)), None)
        if want and img.elf_machine not in want:
            raise BoardError(f"{img.path.name} is code for {img.elf_machine}, board '{board.id}' is {board.arch}",
                             hint="this image was built for another kind of CPU")
    fam = board.flash.options.get("family_id")
    if img.uf2_family is not None and isinstance(fam, int) and img.uf2_family != fam:
        raise BoardError(f"{img.path.name} is a UF2 for family 0x{img.uf2_family:08x}, board '{board.id}' takes "
                         f"0x{fam:08x}", hint="build the image for this board (see microsoft/uf2 uf2families.json)")
    if not img.board_id:
        return [f"nothing in {img.path.name} identifies the board it was built for (no {BOARD_SECTION} section, "
                f"no {PROJECT_FILE} beside it): flashing it to '{board.id}' unchecked"]
    return []


def check_fits(img: Image, board: BoardProfile) -> None:
    """BuildError when the image is larger than the board's flash or loads bytes outside its flash regions."""
    budget = board.memory.flash_bytes
    if budget and img.size > budget:
        raise BuildError(f"{img.path.name} needs {img.size / 1024:.1f} KB of flash, board '{board.id}' has "
                         f"{board.memory.flash_kb} KB", hint="use a smaller model or a board with more flash")
    regions = [r for r in board.memory.regions if r.kind == "flash"]
    if not regions:
        return
    for s in img.segments:
        if s.address is None:
            continue
        inside = any(r.origin <= s.address and s.end <= r.origin + r.size_kb * 1024 for r in regions)
        if not inside:
            where = ", ".join(f"{r.name} 0x{r.origin:08x}-0x{r.origin + r.size_kb * 1024:08x}" for r in regions)
            raise BoardError(f"{img.path.name} loads {len(s.data)} bytes at 0x{s.address:08x}-0x{s.end:08x}, outside "
                             f"the flash of board '{board.id}' ({where})",
                             hint="the image was linked for another memory map: rebuild it for this board")


def check_esp_image(data: bytes, chip: str, name: str) -> None:
    """An ESP app/bootloader image starts with 0xE9 and names its chip in bytes 12-13 (BuildError/BoardError)."""
    if not data or data[0] != ESP_IMAGE_MAGIC:
        raise BuildError(f"{name}: not an ESP firmware image (first byte 0x{data[:1].hex() or '??'}, expected 0xe9)",
                         hint="flash the .bin from the ESP-IDF build (build/<project>.bin), not an ELF or raw data")
    if len(data) >= 14:
        chip_id = int.from_bytes(data[12:14], "little")
        want = ESP_CHIP_IDS.get(chip.lower().replace("-", ""))
        if want is not None and chip_id != want:
            other = next((k for k, v in ESP_CHIP_IDS.items() if v == chip_id), f"chip id {chip_id}")
            raise BoardError(f"{name} was built for {other}, the board is an {chip}",
                             hint=f"rebuild with 'idf.py set-target {chip.lower()}'")
