"""The flasher plugin interface: a :class:`Flasher` per ``flash.method``, found through a registry.

A flash runs in fixed steps (Zephyr's west runners and pyOCD's plugins are the models): preflight (the tool or
package is installed, the image format is one the flasher takes, the image fits the board and was built for it,
the probe/port/drive is there and is the board's), then write, verify, reset. Every external program goes
through :func:`edgekit.proc.run`; every step is also recorded as text (``Flasher.steps``) so that ``--dry-run``
shows the exact commands and API calls without touching anything.

Third-party flashers register through the ``edgekit.flashers`` entry-point group (name = the ``flash.method``
they serve, value = ``module:Class``); a plugin that fails to load is reported with a warning and skipped.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekit.errors import BuildError, ToolMissing
from edgekit.flashers.image import Image, check_board, check_fits
from edgekit.plugins import PluginRegistry

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile

log = logging.getLogger("edgekit.flashers")

ENTRY_POINT_GROUP = "edgekit.flashers"
BUILTIN: dict[str, str] = {
    "pyocd": "edgekit.flashers.pyocd:PyocdFlasher",
    "esptool": "edgekit.flashers.esptool:EsptoolFlasher",
    "uf2": "edgekit.flashers.uf2:Uf2Flasher",
    "openocd": "edgekit.flashers.openocd:OpenocdFlasher",
    "dfu-util": "edgekit.flashers.dfu_util:DfuUtilFlasher",
    "bossac": "edgekit.flashers.bossac:BossacFlasher",
    "qemu": "edgekit.flashers.qemu:QemuFlasher",
}


@dataclass(frozen=True)
class Capabilities:
    """What a flasher can do and needs."""

    formats: frozenset[str]        # image formats it writes (others are converted when possible, else refused)
    verify: bool = True            # reads back / checks what it wrote
    reset: bool = True             # starts the new firmware
    probe: bool = False            # talks to a debug probe (--probe UID selects one)
    port: bool = False             # talks to a serial port (--port, default: found by the board's USB id)
    program: str | None = None     # external program it runs
    package: str | None = None     # Python package it imports
    install_hint: str = ""


@dataclass
class FlashResult:
    """What a flash did (or, with ``dry_run``, would do)."""

    board: str
    method: str
    image: str
    format: str
    bytes: int
    dry_run: bool
    steps: list[str]
    verified: bool | None
    reset: bool
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"board": self.board, "method": self.method, "image": self.image, "format": self.format,
                "bytes": self.bytes, "dry_run": self.dry_run, "steps": list(self.steps), "verified": self.verified,
                "reset": self.reset, "warnings": list(self.warnings), "duration_s": self.duration_s}


class Flasher(ABC):
    """Writes an image to one board. Subclasses set ``name`` and implement ``capabilities``/``write``.

    Args:
        board: the board profile (``flash.target`` / ``flash.options`` configure the flasher).
        probe: debug probe unique id (or a part of it).
        port: serial port, or for UF2 the drive's mount point.
        dry_run: record and print the steps, touch nothing.
    """

    name: ClassVar[str] = ""

    def __init__(self, board: BoardProfile, *, probe: str | None = None, port: str | None = None,
                 dry_run: bool = False) -> None:
        self.board = board
        self.probe = probe
        self.port = port
        self.dry_run = dry_run
        self.steps: list[str] = []
        self.warnings: list[str] = []

    # ------------------------------------------------------------ what subclasses provide

    @classmethod
    @abstractmethod
    def capabilities(cls) -> Capabilities:
        """Formats, verify/reset support, and what the flasher needs."""

    def prepare(self, image: Image) -> Image:
        """Convert ``image`` to a format this flasher writes (default: refuse other formats)."""
        caps = self.capabilities()
        if image.format not in caps.formats:
            raise BuildError(f"{image.path.name}: the {self.name} flasher takes {'/'.join(sorted(caps.formats))} "
                             f"images, not {image.format}", hint="pass the image the build produced for this board")
        return image

    def find_device(self) -> None:
        """Check that the probe/port/drive is there (skipped in dry runs). Default: nothing to check."""
        return None

    def connect(self) -> contextlib.AbstractContextManager[Any]:
        """A context kept open across write, verify and reset (e.g. a debug session)."""
        return contextlib.nullcontext()

    @abstractmethod
    def write(self, image: Image) -> None:
        """Write the image."""

    def verify(self, image: Image) -> bool | None:
        """Check what was written; None when the flasher cannot verify."""
        return None

    def reset(self) -> bool:
        """Start the new firmware; False when the flasher cannot."""
        return False

    # ------------------------------------------------------------ the fixed sequence

    def step(self, text: str) -> None:
        """Record one command / API call (printed by ``--dry-run``)."""
        self.steps.append(text)
        log.info("%s%s", "(dry run) " if self.dry_run else "", text)

    def check_tool(self) -> None:
        """ToolMissing (a warning in dry runs) when the program or package is not installed."""
        caps = self.capabilities()
        try:
            if caps.program:
                from edgekit import proc

                proc.which(caps.program)
            if caps.package:
                import importlib.util

                if importlib.util.find_spec(caps.package) is None:
                    raise ToolMissing(f"python package '{caps.package}' is not installed (needed by the "
                                      f"{self.name} flasher)", hint=caps.install_hint or f"pip install {caps.package}")
        except ToolMissing as exc:
            if not self.dry_run:
                if caps.install_hint and exc.hint != caps.install_hint:
                    exc.hint = f"{exc.hint}; {caps.install_hint}" if exc.hint else caps.install_hint
                raise
            self.warnings.append(f"{exc.message} (dry run continues)")

    def preflight(self, image: Image) -> Image:
        """Tool, format, fit, board identity; then the device itself (not in dry runs). Returns the image to write."""
        self.check_tool()
        self.warnings += check_board(image, self.board)
        ready = self.prepare(image)
        check_fits(ready, self.board)
        if not self.dry_run:
            self.find_device()
        return ready

    def run(self, image: Image) -> FlashResult:
        """Preflight, write, verify, reset."""
        t0 = time.monotonic()
        ready = self.preflight(image)
        with self._session():
            self.write(ready)
            verified = self.verify(ready)
            did_reset = self.reset()
        return FlashResult(board=self.board.id, method=self.name, image=str(image.path), format=ready.format,
                           bytes=ready.size, dry_run=self.dry_run, steps=list(self.steps),
                           verified=None if self.dry_run else verified, reset=did_reset,
                           warnings=list(self.warnings), duration_s=round(time.monotonic() - t0, 3))

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        if self.dry_run:
            yield
            return
        with self.connect():
            yield


# ---------------------------------------------------------------- registry

def _registry() -> PluginRegistry[Flasher]:
    return PluginRegistry("flasher", ENTRY_POINT_GROUP, Flasher, BUILTIN)


def plugin_entry_points() -> dict[str, str]:
    """``edgekit.flashers`` entry points: method name -> ``module:Class``."""
    return _registry().entry_points()


def registry() -> dict[str, str]:
    """Every known flasher: built-ins, then plugins (a plugin may not replace a built-in)."""
    return _registry().names()


def get_flasher(method: str) -> type[Flasher]:
    """The flasher class for a board's ``flash.method``.

    Raises:
        UsageError: no flasher has that name (or its plugin failed to load: warned first).
    """
    from edgekit.errors import UsageError

    if method in ("none", "ssh"):
        raise UsageError(f"flash.method '{method}': there is nothing edgekit can flash on this board",
                         hint="SBC and host boards run models directly (see 'edgekit bench')")
    reg = _registry()
    known = reg.names()
    if method not in known:
        raise UsageError(f"no flasher for flash.method '{method}' (known: {', '.join(sorted(known))})",
                         hint=f"install a plugin that registers it in the '{ENTRY_POINT_GROUP}' entry-point group")
    return reg.get(method)


def available_flashers() -> dict[str, type[Flasher]]:
    """Loadable flashers by name; plugins that fail to load are warned about and left out."""
    return _registry().available()


def temp_image_path(image: Image, suffix: str) -> Path:
    """Where a converted copy of ``image`` goes: next to it (``fw.elf`` -> ``fw.edgekit.bin``)."""
    return image.path.with_name(f"{image.path.stem}.edgekit{suffix}")
