"""Flash a board whose bootloader shows up as a USB drive (Raspberry Pi Pico's BOOTSEL, many UF2 bootloaders).

The drive is the mounted volume whose ``INFO_UF2.TXT`` says ``Board-ID: <flash.options.board_id>`` (or the
directory given with ``--port``). An ELF/HEX/BIN is converted to UF2 blocks with the board's
``flash.options.family_id``; a UF2 whose family differs is refused. Writing is a copy of the file onto the drive
(flushed and fsync'ed); "verify" is the bootloader accepting it: after the last block it reboots into the new
firmware and the drive disappears -- if it is still mounted after ``flash.options.timeout_s`` (default 15 s)
the flash failed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError
from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import UF2_INFO_NAME, Image, parse_uf2, to_uf2

DEST_NAME = "NEW.UF2"


class Uf2Flasher(Flasher):
    """``flash.method: uf2``; options: ``board_id`` (INFO_UF2.TXT Board-ID), ``family_id``, ``timeout_s``."""

    name = "uf2"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drive: Path | None = Path(self.port) if self.port else None
        self._uf2: bytes = b""

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"uf2", "elf", "hex", "bin"}), verify=True, reset=True, port=True)

    @property
    def board_id(self) -> str:
        return str(self.board.flash.options.get("board_id", ""))

    def prepare(self, image: Image) -> Image:
        family = self.board.flash.options.get("family_id")
        family = family if isinstance(family, int) else None
        if image.format == "uf2":
            self._uf2 = image.path.read_bytes()
            return image
        region = self.board.memory.region("flash")
        self._uf2 = to_uf2(image, family, base=region.origin if region else None)
        segs, fam = parse_uf2(self._uf2, image.path)
        fam_text = f" family 0x{family:08x}" if family is not None else ""
        self.step(f"convert {image.path.name} ({image.format}) to UF2: {len(self._uf2) // 512} blocks{fam_text}")
        return Image(image.path, "uf2", tuple(segs), image.board_id, image.board_source, uf2_family=fam)

    def find_device(self) -> None:
        if self.drive is not None:
            if not (self.drive / UF2_INFO_NAME).is_file():
                raise DeviceError(f"{self.drive}: not a UF2 bootloader drive (no {UF2_INFO_NAME})",
                                  hint="pass the mount point of the board's bootloader drive with --port")
            return
        from edgekit.devices import list_uf2_drives

        drives = list_uf2_drives([self.board])
        hits = [d for d in drives if not self.board_id or d.board_id == self.board_id]
        if not hits:
            others = ", ".join(f"{d.path} (Board-ID {d.board_id or '?'})" for d in drives)
            raise DeviceError(f"no UF2 drive with Board-ID '{self.board_id}' is mounted (board '{self.board.id}')"
                              + (f"; other UF2 drives: {others}" if others else ""),
                              hint="hold BOOTSEL while plugging the board in, make sure the drive is mounted, or "
                                   "pass its mount point with --port")
        if len(hits) > 1:
            raise DeviceError(f"{len(hits)} UF2 drives have Board-ID '{self.board_id}': "
                              + ", ".join(d.path for d in hits), hint="choose one with --port MOUNTPOINT")
        self.drive = Path(hits[0].path)

    def write(self, image: Image) -> None:
        dest = (self.drive or Path(f"<drive with Board-ID {self.board_id}>")) / DEST_NAME
        self.step(f"copy {len(self._uf2)} bytes of UF2 to {dest}")
        if self.dry_run:
            return
        try:
            with open(dest, "wb") as f:
                f.write(self._uf2)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            if not (self.drive and not self.drive.exists()):  # the bootloader may reboot before close()
                raise DeviceError(f"could not write {dest}: {exc.strerror or exc}",
                                  hint="is the drive mounted read-write?") from None

    def verify(self, image: Image) -> bool | None:
        timeout = float(self.board.flash.options.get("timeout_s", 15))
        self.step(f"wait up to {timeout:g} s for {self.drive or 'the drive'} to disappear (the bootloader "
                  "reboots into the new firmware)")
        if self.dry_run or self.drive is None:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (self.drive / UF2_INFO_NAME).exists():
                return True
            time.sleep(0.1)
        raise DeviceError(f"{self.drive} is still mounted {timeout:g} s after the copy: the bootloader did not "
                          "take the image", hint="check the family id and the address range; unplug and retry")

    def reset(self) -> bool:
        self.step("reset: done by the bootloader after the last block")
        return True
