"""The "flasher" of emulated boards: nothing to write -- ``edgekit bench`` boots the ELF in QEMU itself."""

from __future__ import annotations

from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import Image


class QemuFlasher(Flasher):
    """``flash.method: qemu``: checks the image like any flasher, then does nothing."""

    name = "qemu"

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"elf"}), verify=False, reset=False)

    def write(self, image: Image) -> None:
        machine = self.board.qemu.machine if self.board.qemu else "?"
        self.step(f"nothing to flash: QEMU ({machine}) loads {image.path.name} when 'edgekit bench' starts it")
