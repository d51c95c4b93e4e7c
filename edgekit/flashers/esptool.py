"""Flash an Espressif chip over its serial/USB port with esptool.

esptool 5 has a typed scripting API (``esptool.cmds``): ``detect_chip(port, baud)``, ``run_stub``,
``attach_flash``, ``write_flash(esp, [(offset, file)])``, ``verify_flash`` and ``reset_chip(esp, "hard-reset")``;
that is what runs. With esptool 4 (no such API) the same is done through ``esptool.main(argv)``; ``--dry-run``
prints that argv. Images: the ``.bin`` files of an ESP-IDF build -- a project directory with
``build/flasher_args.json`` (every file at its offset), or one app ``.bin`` at ``flash.options.offset``
(default 0x10000, ESP-IDF's default app partition). An ELF is refused: it must go through ``elf2image`` and
the partition layout of its project.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgekit.errors import BoardError, BuildError, DeviceError
from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import Image, Segment, check_esp_image

INSTALL_HINT = "pip install 'edgekit[flash]' (esptool)"
APP_OFFSET = 0x10000
DEFAULT_BAUD = 460800


def _norm(chip: str) -> str:
    return chip.lower().replace("-", "").replace("_", "")


def load_idf_build(build_dir: Path) -> Image:
    """The files and offsets ESP-IDF lists in ``build/flasher_args.json`` as one multi-segment image."""
    args_file = build_dir / "flasher_args.json"
    try:
        args = json.loads(args_file.read_text(encoding="utf-8"))
        files = args["flash_files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{args_file}: not a readable ESP-IDF flasher_args.json ({exc})") from None
    segs = []
    for offset, rel in sorted(files.items(), key=lambda kv: int(kv[0], 0)):
        path = build_dir / rel
        if not path.is_file():
            raise BuildError(f"{args_file}: lists {rel}, which does not exist", hint="run 'idf.py build' again")
        segs.append(Segment(int(offset, 0), path.read_bytes(), path))
    app = args.get("app", {}).get("file") if isinstance(args.get("app"), dict) else None
    return Image(args_file, "bin", tuple(segs), notes=(f"app: {app}",) if app else ())


class EsptoolFlasher(Flasher):
    """``flash.method: esptool``; ``flash.target`` is the chip (``esp32s3``); options: ``baud``, ``offset``."""

    name = "esptool"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._esp: Any = None

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"bin"}), verify=True, reset=True, port=True, package="esptool",
                            install_hint=INSTALL_HINT)

    @property
    def chip(self) -> str:
        return self.board.flash.target or "auto"

    @property
    def baud(self) -> int:
        baud = self.board.flash.options.get("baud")
        return baud if isinstance(baud, int) else DEFAULT_BAUD

    def prepare(self, image: Image) -> Image:
        if image.format == "elf":
            raise BuildError(f"{image.path.name}: esptool flashes the .bin files of an ESP-IDF build, not the ELF",
                             hint="pass the project directory (with build/flasher_args.json) or build/<app>.bin")
        image = super().prepare(image)
        if len(image.segments) == 1 and image.segments[0].address is None:  # one app binary
            seg = image.segments[0]
            offset = self.board.flash.options.get("offset", APP_OFFSET)
            check_esp_image(seg.data, self.chip, image.path.name)
            return Image(image.path, "bin", (Segment(int(offset), seg.data, seg.source or image.path),),
                         image.board_id, image.board_source)
        for seg in image.segments:  # an IDF build: check the chip id of every ESP image in it
            if seg.data[:1] == b"\xe9":
                check_esp_image(seg.data, self.chip, seg.source.name if seg.source else image.path.name)
        return image

    def find_device(self) -> None:
        from edgekit.devices import resolve_port

        self.port = resolve_port(self.board, self.port)

    def _argv(self, image: Image, v5: bool = True) -> list[str]:
        before, after, write = (("default-reset", "hard-reset", "write-flash") if v5 else
                                ("default_reset", "hard_reset", "write_flash"))
        argv = ["--chip", self.chip, "--port", self.port or "PORT", "--baud", str(self.baud), "--before", before,
                "--after", after, write]
        for seg in image.segments:
            argv += [f"0x{seg.address or 0:x}", str(seg.source or image.path)]
        return argv

    @staticmethod
    def _api() -> Any | None:
        """esptool.cmds when it has the esptool 5 scripting API, else None."""
        try:
            from esptool import cmds
        except ImportError:
            return None
        fn = getattr(cmds, "detect_chip", None)
        if fn is None or "port" not in inspect.signature(fn).parameters:
            return None
        return cmds

    @contextlib.contextmanager
    def _open(self) -> Iterator[None]:
        cmds = self._api()
        if cmds is None:  # esptool 4: everything happens in write() through esptool.main(argv)
            yield
            return
        try:
            esp = cmds.detect_chip(self.port, self.baud)
        except Exception as exc:
            raise DeviceError(f"esptool could not connect to {self.port}: {' '.join(str(exc).split())}",
                              hint="hold BOOT while pressing RESET to enter the download mode; check the port "
                                   "and the 'dialout' group") from None
        try:
            name = str(getattr(esp, "CHIP_NAME", ""))
            if self.chip != "auto" and name and _norm(name) != _norm(self.chip):
                raise BoardError(f"the chip on {self.port} is an {name}, board '{self.board.id}' is an {self.chip}",
                                 hint="pass the --board of the connected board")
            self._esp = cmds.run_stub(esp)
            cmds.attach_flash(self._esp)
            yield
        finally:
            port = getattr(self._esp or esp, "_port", None)
            if port is not None:
                with contextlib.suppress(Exception):
                    port.close()
            self._esp = None

    def connect(self) -> contextlib.AbstractContextManager[Any]:
        return self._open()

    def _pairs(self, image: Image) -> list[tuple[int, str]]:
        return [(seg.address or 0, str(seg.source or image.path)) for seg in image.segments]

    def write(self, image: Image) -> None:
        cmds = None if self.dry_run else self._api()
        if self.dry_run or cmds is None:
            argv = self._argv(image, v5=self.dry_run or cmds is not None)
            self.step("esptool.main(" + repr(argv) + ")")
            if self.dry_run:
                return
            import esptool

            try:
                esptool.main(argv)
            except (Exception, SystemExit) as exc:
                raise DeviceError(f"esptool failed: {' '.join(str(exc).split())}",
                                  hint="hold BOOT while pressing RESET and try again") from None
            return
        pairs = self._pairs(image)
        self.step(f"esptool.cmds.detect_chip({self.port!r}, {self.baud}); run_stub(esp); attach_flash(esp)")
        self.step(f"esptool.cmds.write_flash(esp, {[(hex(a), f) for a, f in pairs]!r})")
        try:
            cmds.write_flash(self._esp, pairs)
        except Exception as exc:
            raise DeviceError(f"esptool could not write the flash: {' '.join(str(exc).split())}") from None

    def verify(self, image: Image) -> bool | None:
        cmds = None if self.dry_run else self._api()
        if cmds is None:
            return None if self.dry_run else True  # esptool 4's write_flash checks the MD5 of what it wrote
        pairs = self._pairs(image)
        self.step(f"esptool.cmds.verify_flash(esp, {[(hex(a), f) for a, f in pairs]!r})")
        try:
            cmds.verify_flash(self._esp, pairs)
        except Exception as exc:
            raise DeviceError(f"verify failed: {' '.join(str(exc).split())}", hint="flash again") from None
        return True

    def reset(self) -> bool:
        cmds = None if self.dry_run else self._api()
        if cmds is None:
            return True  # --after hard-reset in the argv
        self.step("esptool.cmds.reset_chip(esp, 'hard-reset')")
        cmds.reset_chip(self._esp, "hard-reset")
        return True
