"""Flash through a SAM-BA bootloader with ``bossac`` (the Arduino Nano 33 BLE and other Arduino boards).

As the Arduino IDE does it: a "1200-baud touch" (open the sketch's serial port at 1200 baud and close it) makes
the running firmware jump to the bootloader, which enumerates with its own USB id (``flash.options.bootloader_usb``,
2341:005a on the Nano 33 BLE) and often another port name; then
``bossac --port=PORT -U -i -e -w -v FILE.bin -R`` (USB, info, erase, write, verify, reset). An ELF/HEX is
flattened to a ``.bin`` starting at the board's first flash region (the application start the bootloader
expects). Options: ``touch_1200bps`` (default true), ``bootloader_usb``, ``max_size`` (bytes).
"""

from __future__ import annotations

import time

from edgekit import proc
from edgekit.errors import BoardError, BuildError, DeviceError
from edgekit.flashers.base import Capabilities, Flasher, temp_image_path
from edgekit.flashers.image import Image, Segment

TIMEOUT_S = 300.0
BOOTLOADER_WAIT_S = 10.0


def touch_1200(port: str) -> None:
    """Open ``port`` at 1200 baud with DTR low and close it: the Arduino bootloader request."""
    import serial

    try:
        ser = serial.Serial(port, 1200)
        ser.dtr = False
        ser.close()
    except (serial.SerialException, OSError) as exc:
        raise DeviceError(f"1200-baud touch on {port} failed: {exc}",
                          hint="double-tap the board's reset button to enter the bootloader, then pass its "
                               "port with --port") from None


class BossacFlasher(Flasher):
    """``flash.method: bossac``."""

    name = "bossac"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.boot_port: str | None = None

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"bin", "elf", "hex"}), verify=True, reset=True, port=True, program="bossac",
                            install_hint="install bossac (Arduino's BOSSA fork, shipped with the Arduino mbed core; "
                                         "Debian's 'bossa-cli' is upstream BOSSA)")

    def prepare(self, image: Image) -> Image:
        if image.format != "bin":
            region = self.board.memory.region("flash")
            start, data = image.flat()
            if region is not None and start != region.origin:
                raise BoardError(f"{image.path.name} starts at 0x{start:08x}, the bootloader expects the "
                                 f"application at 0x{region.origin:08x}", hint="rebuild for this board")
            out = temp_image_path(image, ".bin")
            self.step(f"flatten {image.path.name} to {out.name} ({len(data)} bytes from 0x{start:08x})")
            if not self.dry_run:
                out.write_bytes(data)
            image = Image(out, "bin", (Segment(start, data, out),), image.board_id, image.board_source)
        limit = self.board.flash.options.get("max_size")
        if isinstance(limit, int) and image.size > limit:
            raise BuildError(f"{image.path.name} is {image.size} bytes, the bootloader takes at most {limit}",
                             hint="use a smaller model")
        return image

    def find_device(self) -> None:
        from edgekit.devices import resolve_port

        if not self.board.flash.options.get("touch_1200bps", True):
            self.boot_port = resolve_port(self.board, self.port)
            return
        self.port = resolve_port(self.board, self.port)

    def _enter_bootloader(self) -> None:
        from edgekit.devices import resolve_port

        self.step(f"1200-baud touch on {self.port or 'PORT'} (the firmware jumps to the bootloader)")
        boot_usb = self.board.flash.options.get("bootloader_usb", "?")
        self.step(f"wait up to {BOOTLOADER_WAIT_S:g} s for the bootloader port (USB {boot_usb})")
        if self.dry_run:
            return
        touch_1200(str(self.port))
        deadline = time.monotonic() + BOOTLOADER_WAIT_S
        while True:
            try:
                self.boot_port = resolve_port(self.board, "auto", bootloader=True)
                return
            except DeviceError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def argv(self, image: Image) -> list[str]:
        port = self.boot_port or self.port or "PORT"
        return ["bossac", f"--port={port}", "-U", "-i", "-e", "-w", "-v", str(image.path), "-R"]

    def write(self, image: Image) -> None:
        if self.board.flash.options.get("touch_1200bps", True):
            self._enter_bootloader()
        argv = self.argv(image)
        self.step(" ".join(argv))
        proc.run(argv, timeout=TIMEOUT_S, dry_run=self.dry_run, what="bossac")

    def verify(self, image: Image) -> bool | None:
        return True  # -v in the command: bossac fails on a mismatch

    def reset(self) -> bool:
        return True  # -R
