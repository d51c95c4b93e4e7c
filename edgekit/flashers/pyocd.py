"""Flash through a debug probe (ST-LINK, CMSIS-DAP, J-Link) with pyOCD's Python API.

Preflight lists probes with ``ConnectHelper.get_all_connected_probes`` and compares the board the probe belongs
to (``associated_board_info.target``) with the profile's ``flash.target``. Writing opens
``ConnectHelper.session_with_chosen_probe(unique_id=..., target_override=flash.target)`` and calls
``FileProgrammer(session).program(path, file_format=...)``; verify reads every written range back with
``target.read_memory_block8`` and compares; reset is ``target.reset()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from edgekit.errors import BoardError, DeviceError
from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import Image

INSTALL_HINT = "pip install 'edgekit[flash]' (pyocd)"
_VERIFY_CHUNK = 64 * 1024


def _helpers() -> tuple[Any, Any]:
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer

    return ConnectHelper, FileProgrammer


def _norm(target: str) -> str:
    return target.lower().replace("-", "_")


class PyocdFlasher(Flasher):
    """``flash.method: pyocd``; ``flash.target`` is the pyOCD target type; options: ``frequency`` (Hz), ``pack``."""

    name = "pyocd"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sess: Any = None
        self._uid: str | None = self.probe

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"elf", "hex", "bin"}), verify=True, reset=True, probe=True, package="pyocd",
                            install_hint=INSTALL_HINT)

    def _base(self) -> int:
        region = self.board.memory.region("flash")
        if region is None:
            raise BoardError(f"board '{self.board.id}' has no flash region: cannot place a raw .bin",
                             hint="flash the ELF or HEX instead")
        return region.origin

    def find_device(self) -> None:
        ConnectHelper, _ = _helpers()
        self.step(f"ConnectHelper.get_all_connected_probes(blocking=False, unique_id={self.probe!r})")
        try:
            probes = ConnectHelper.get_all_connected_probes(blocking=False, unique_id=self.probe,
                                                            print_wait_message=False)
        except Exception as exc:
            raise DeviceError(f"pyOCD could not list debug probes: {' '.join(str(exc).split())}",
                              hint="check USB permissions (pyOCD's udev rules)") from None
        if not probes:
            which = f" whose unique id contains '{self.probe}'" if self.probe else ""
            raise DeviceError(f"no debug probe{which} is connected (board '{self.board.id}')",
                              hint="connect the board's debug USB port; 'edgekit devices' lists probes; on Linux "
                                   "install pyOCD's udev rules")
        if len(probes) > 1:
            listed = ", ".join(f"{p.unique_id} ({p.description})" for p in probes)
            raise DeviceError(f"{len(probes)} debug probes are connected: {listed}", hint="choose one with --probe UID")
        probe = probes[0]
        self._uid = str(probe.unique_id)
        info = getattr(probe, "associated_board_info", None)
        have = getattr(info, "target", None) if info else None
        want = self.board.flash.target
        if have and want and _norm(have) != _norm(want):
            raise BoardError(f"probe {self._uid} is on a {getattr(info, 'name', 'board')} (pyOCD target {have}), not "
                             f"a {self.board.name} (target {want})",
                             hint="pass the --board of the connected board, or --probe to pick another probe")

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        freq = self.board.flash.options.get("frequency")
        if isinstance(freq, int):
            opts["frequency"] = freq
        return opts

    @contextlib.contextmanager
    def _open(self) -> Iterator[None]:
        ConnectHelper, _ = _helpers()
        target = self.board.flash.target
        try:
            session = ConnectHelper.session_with_chosen_probe(blocking=False, return_first=False, unique_id=self._uid,
                                                              target_override=target or None,
                                                              options=self._options())
            if session is None:
                raise DeviceError(f"pyOCD found no probe to open (unique id {self._uid!r})",
                                  hint="is the board still connected?")
            with session:
                self._sess = session
                yield
        except DeviceError:
            raise
        except Exception as exc:
            note = self.board.flash.options.get("pack_note", "")
            text = " ".join(str(exc).split())
            hint = (f"{note}" if note and "target" in text.lower() else
                    "check the wiring and that nothing else (an IDE, another pyocd) holds the probe")
            raise DeviceError(f"pyOCD failed on probe {self._uid}: {text}", hint=hint) from None
        finally:
            self._sess = None

    def connect(self) -> contextlib.AbstractContextManager[Any]:
        return self._open()

    def write(self, image: Image) -> None:
        _, FileProgrammer = _helpers() if not self.dry_run else (None, None)
        kw: dict[str, Any] = {}
        if image.format == "bin":
            kw["base_address"] = self._base()
        self.step(f"ConnectHelper.session_with_chosen_probe(blocking=False, return_first=False, "
                  f"unique_id={self._uid!r}, target_override={self.board.flash.target!r}, "
                  f"options={self._options()!r})")
        args = ", ".join([repr(str(image.path)), f"file_format={image.format!r}",
                          *(f"{k}=0x{v:08x}" for k, v in kw.items())])
        self.step(f"FileProgrammer(session).program({args})")
        if self.dry_run:
            return
        try:
            FileProgrammer(self._sess).program(str(image.path), file_format=image.format, **kw)
        except Exception as exc:
            raise DeviceError(f"pyOCD could not program {image.path.name}: {' '.join(str(exc).split())}",
                              hint="is the flash write-protected (option bytes)? try a mass erase") from None

    def verify(self, image: Image) -> bool | None:
        base = self._base() if image.format == "bin" else None
        for seg in image.segments:
            addr = seg.address if seg.address is not None else base
            self.step(f"session.target.read_memory_block8(0x{addr:08x}, {len(seg.data)})  # compare")
            if self.dry_run:
                continue
            for off in range(0, len(seg.data), _VERIFY_CHUNK):
                want = seg.data[off:off + _VERIFY_CHUNK]
                got = bytes(self._sess.target.read_memory_block8(addr + off, len(want)))
                if got != want:
                    bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
                    raise DeviceError(f"verify failed: flash at 0x{addr + off + bad:08x} reads 0x{got[bad]:02x}, "
                                      f"the image has 0x{want[bad]:02x}",
                                      hint="flash again; if it persists the flash may be protected or worn")
        return True

    def reset(self) -> bool:
        self.step("session.target.reset()")
        if not self.dry_run:
            self._sess.target.reset()
        return True
