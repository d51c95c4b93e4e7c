"""Flash over USB DFU with ``dfu-util`` (STM32 system bootloader and other DfuSe devices), via :func:`proc.run`.

``dfu-util -d VID:PID -a ALT -s ADDRESS:leave -D FILE.bin`` (``-S SERIAL`` with ``--probe``). Options:
``dfu_usb`` (default ``bootloader_usb``, else ST's ``0483:df11``), ``alt`` (default 0), ``address`` (default the
board's first flash region). An ELF/HEX is flattened to a ``.bin`` first (gaps filled with 0xFF) and must start at
that address. ``:leave`` makes the device leave DFU mode and run the firmware. dfu-util does not read back, so
the write is not verified.
"""

from __future__ import annotations

from edgekit import proc
from edgekit.errors import BoardError
from edgekit.flashers.base import Capabilities, Flasher, temp_image_path
from edgekit.flashers.image import Image, Segment

TIMEOUT_S = 300.0
ST_DFU = "0483:df11"


class DfuUtilFlasher(Flasher):
    """``flash.method: dfu-util``."""

    name = "dfu-util"

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"bin", "elf", "hex"}), verify=False, reset=True, probe=True,
                            program="dfu-util", install_hint="sudo apt-get install dfu-util")

    def address(self) -> int:
        addr = self.board.flash.options.get("address")
        if isinstance(addr, int):
            return addr
        region = self.board.memory.region("flash")
        if region is None:
            raise BoardError(f"board '{self.board.id}': no flash region and no flash.options.address for dfu-util")
        return region.origin

    def prepare(self, image: Image) -> Image:
        if image.format == "bin":
            return image
        start, data = image.flat()
        if start != self.address():
            raise BoardError(f"{image.path.name} starts at 0x{start:08x}, dfu-util writes at 0x{self.address():08x}",
                             hint="set flash.options.address or rebuild for this board")
        out = temp_image_path(image, ".bin")
        self.step(f"flatten {image.path.name} to {out.name} ({len(data)} bytes from 0x{start:08x})")
        if not self.dry_run:
            out.write_bytes(data)
        return Image(out, "bin", (Segment(start, data, out),), image.board_id, image.board_source)

    def argv(self, image: Image) -> list[str]:
        usb = self.board.flash.options.get("dfu_usb") or self.board.flash.options.get("bootloader_usb") or ST_DFU
        argv = ["dfu-util", "-d", str(usb), "-a", str(self.board.flash.options.get("alt", 0))]
        if self.probe:
            argv += ["-S", self.probe]
        return [*argv, "-s", f"0x{self.address():08x}:leave", "-D", str(image.path)]

    def write(self, image: Image) -> None:
        argv = self.argv(image)
        self.step(" ".join(argv))
        proc.run(argv, timeout=TIMEOUT_S, dry_run=self.dry_run, what="dfu-util")

    def reset(self) -> bool:
        return True  # ':leave'
