"""The flasher of an emulated board in a labgrid place: the ELF goes to its loader, which restarts QEMU with it."""

from __future__ import annotations

import hashlib

from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import Image


class LoaderFlasher(Flasher):
    """Writes an ELF to ``python -m edgekit.labgrid.emulator``'s loader (``port`` is its ``HOST:PORT``).

    Not a board's ``flash.method``: :meth:`edgekit.labgrid.LabgridPlace.flash` uses it when the place has the loader.
    The loader answers with the sha256 of what it received, which is the verification.
    """

    name = "edgekit-loader"
    via = ""

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"elf"}), verify=True, reset=True, port=True)

    def write(self, image: Image) -> None:
        self.step(f"send {image.path.name} ({image.size:,} B) to the emulated board's loader at {self.port}"
                  + (f" in {self.via}" if self.via else "") + "; it restarts QEMU with it")
        self._sent = hashlib.sha256(image.path.read_bytes()).hexdigest()
        self._got = None
        if not self.dry_run:
            from edgekit.labgrid.emulator import load_firmware

            host, _, port = str(self.port).rpartition(":")
            self._got = load_firmware(host, int(port), image.path)

    def verify(self, image: Image) -> bool | None:
        if self._got is None:
            return None
        if self._got != self._sent:
            from edgekit.errors import DeviceError

            raise DeviceError(f"the loader at {self.port} received sha256 {self._got[:16]}, sent {self._sent[:16]}",
                              hint="the image was corrupted on the way; flash again")
        return True

    def reset(self) -> bool:
        return not self.dry_run
