"""Put a firmware image on a board: ``flash(image, board)`` picks the flasher named by the board's ``flash.method``.

Flashers are plugins (:mod:`edgekit.flashers.base`): pyocd, esptool, uf2, openocd, dfu-util, bossac and qemu are built
in; others come from the ``edgekit.flashers`` entry-point group.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgekit.flashers.base import (
    BUILTIN,
    ENTRY_POINT_GROUP,
    Capabilities,
    Flasher,
    FlashResult,
    available_flashers,
    get_flasher,
    registry,
)
from edgekit.flashers.image import Image, load_image

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Capabilities", "FlashResult", "Flasher", "Image", "available_flashers",
           "flash", "get_flasher", "load_image", "registry", "resolve_image"]


def resolve_image(path: str | os.PathLike[str], method: str) -> Image:
    """The image to flash from a file, or from a directory: an ESP-IDF build (``build/flasher_args.json``), a UF2
    next to the ELF for UF2 boards, else the project's ELF (as ``edgekit bench`` finds it)."""
    p = Path(path)
    if not p.is_dir():
        return load_image(p)
    if method == "esptool":
        from edgekit.flashers.esptool import load_idf_build

        for build in (p / "build", p):
            if (build / "flasher_args.json").is_file():
                return load_idf_build(build)
    if method == "uf2":
        uf2s = sorted((p / "build").glob("*.uf2"), key=lambda f: f.stat().st_mtime, reverse=True)
        if uf2s:
            return load_image(uf2s[0])
    from edgekit.target import resolve_target

    return load_image(resolve_target(p).elf)


def flash(image: str | os.PathLike[str], board: str | object | None = None, *, probe: str | None = None,
          port: str | None = None, dry_run: bool = False, boards_dirs: list[str] | None = None) -> FlashResult:
    """Flash ``image`` (a file, or a project/build directory) to ``board``.

    Args:
        image: .elf/.hex/.bin/.uf2 file, a generated project directory, or an ESP-IDF project directory.
        board: board id or profile; default: the board named by the project next to the image.
        probe: debug probe unique id (or part of it) for probe-based flashers.
        port: serial port ("auto" or None: found by the board's USB id), or a UF2 drive's mount point.
        dry_run: check the image and print the steps (commands, API calls) without touching the board.

    Raises:
        UsageError: no board given and none found, or a board edgekit cannot flash.
        ToolMissing: the flasher's program or Python package is not installed.
        BuildError: wrong image format, image too big.
        BoardError: the image was built for another board, or the probe is on another board.
        DeviceError: probe/port/drive not found, or the write/verify failed.
    """
    from edgekit.boards import load_board
    from edgekit.errors import UsageError

    if board is None:
        guess = load_image(image) if not Path(image).is_dir() else None
        board_id = guess.board_id if guess else _project_board(Path(image))
        if not board_id:
            raise UsageError(f"{image}: no board given and none recorded with the image", hint="pass --board ID")
        board = board_id
    prof = load_board(board, boards_dirs)  # type: ignore[arg-type]
    cls = get_flasher(prof.flash.method)
    img = resolve_image(image, prof.flash.method)
    return cls(prof, probe=probe, port=None if port == "auto" else port, dry_run=dry_run).run(img)


def _project_board(path: Path) -> str | None:
    from edgekit.target import resolve_target

    try:
        return resolve_target(path).board_id
    except Exception:
        return None

