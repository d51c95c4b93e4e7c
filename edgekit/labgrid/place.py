"""An acquired labgrid place as an edgekit target: its board, its serial URL, and bench / validate / flash on it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError, UsageError
from edgekit.labgrid.coordinator import Resource

BOARD_TAG = "edgekit_board"     # the place tag naming the edgekit board profile of the board in the place
PROBE_TAG = "edgekit_probe"     # the place tag naming its debug probe (unique id) among several on the exporter host
LOADER_NAME = "edgekit-loader"  # the NetworkService resource of an emulated board's firmware loader


@dataclass
class LabgridPlace:
    """A place this process holds (from :func:`edgekit.labgrid.acquire`), with what edgekit needs of it.

    ``bench`` / ``validate`` / ``flash`` are edgekit's functions with the place's board and serial port filled in;
    ``port`` can also be passed by hand to any function that takes a serial port.
    """

    name: str
    coordinator: str
    owner: str
    board_id: str | None
    resources: list[Resource] = field(default_factory=list)
    boards_dirs: list[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ resources

    def _first(self, cls: str, name: str | None = None) -> Resource | None:
        return next((r for r in self.resources if r.cls == cls and (name is None or r.name == name)), None)

    def _offers(self) -> str:
        return ", ".join(f"{r.cls} '{r.name}'" for r in self.resources) or "no resources"

    @property
    def port(self) -> str:
        """The pyserial URL of the place's ``NetworkSerialPort`` (``socket://`` raw TCP, or ``rfc2217://``)."""
        res = self._first("NetworkSerialPort")
        if res is None:
            raise UsageError(f"labgrid place '{self.name}' has no NetworkSerialPort (it offers {self._offers()})",
                             hint="edgekit talks to a board in a place over its NetworkSerialPort: export the "
                                  "board's serial port (RawSerialPort/USBSerialPort on the exporter) and match it")
        p = res.params
        if not res.avail:
            raise DeviceError(f"labgrid place '{self.name}': its serial port {res.path} is unavailable (the exporter "
                              "does not see the device)", hint="is the board plugged in and powered at the exporter?")
        if p.get("extra", {}).get("proxy_required"):
            raise UsageError(f"labgrid place '{self.name}': its serial port is only reachable through an SSH proxy "
                             f"({p['extra'].get('proxy')}), which edgekit does not set up",
                             hint="run the exporter without --isolated, or forward the port yourself and pass --port")
        scheme = {"raw": "socket", "rfc2217": "rfc2217"}.get(str(p.get("protocol", "rfc2217")))
        if scheme is None:
            raise UsageError(f"labgrid place '{self.name}': serial protocol {p.get('protocol')!r} is not raw/rfc2217")
        return f"{scheme}://{p['host']}:{p['port']}"

    @property
    def baudrate(self) -> int | None:
        res = self._first("NetworkSerialPort")
        return int(res.params["speed"]) if res is not None and res.params.get("speed") else None

    @property
    def can_flash(self) -> bool:
        """True when the place has a loader or an exported USB interface edgekit flashes through (:meth:`flash`)."""
        from edgekit.labgrid.exporter_flasher import USB_CLASSES

        return any((r.cls == "NetworkService" and r.name == LOADER_NAME) or r.cls in USB_CLASSES
                   for r in self.resources)

    def describe(self) -> dict[str, Any]:
        """The ``labgrid`` section results carry: place, coordinator, owner, resources."""
        return {"place": self.name, "coordinator": self.coordinator, "acquired_by": self.owner,
                "board": self.board_id, "resources": [r.path for r in self.resources]}

    # ------------------------------------------------------------------ board

    def board(self, requested: str | None = None, project_board: str | None = None) -> str:
        """The board profile to use: the place's ``edgekit_board`` tag, checked against ``--board`` and the
        project's board; without the tag, ``--board`` or the project's board."""
        for what, other in (("--board", requested), ("the project", project_board)):
            if self.board_id and other and other != self.board_id:
                raise UsageError(f"labgrid place '{self.name}' holds a {self.board_id} (tag {BOARD_TAG}), "
                                 f"{what} is for {other}",
                                 hint=f"choose a place with {BOARD_TAG}={other}, or generate the project for "
                                      f"{self.board_id}")
        chosen = self.board_id or requested or project_board
        if not chosen:
            raise UsageError(f"labgrid place '{self.name}' does not say which board it holds",
                             hint=f"pass --board ID, or tag the place: labgrid-client -p {self.name} set-tags "
                                  f"{BOARD_TAG}=ID")
        return chosen

    def _profile(self, board: str | None, project_board: str | None) -> Any:
        from edgekit.boards import load_board

        prof = load_board(self.board(board, project_board), self.boards_dirs)
        if self.baudrate and self.baudrate != prof.serial.baudrate:
            import dataclasses

            prof = dataclasses.replace(prof, serial=dataclasses.replace(prof.serial, baudrate=self.baudrate))
        return prof

    def check_firmware(self, project: Any, prof: Any, *, timeout: float = 10.0) -> None:
        """Refuse a project whose model is not the one the place's firmware runs (its ``ek-info%`` sha256)."""
        want = project.model.sha256[:16] if project is not None and project.model else ""
        if not want:
            return
        from edgekit.transport.session import open_session

        with open_session(prof, port=self.port, timeout=timeout) as sess:
            info = sess.device.info()
        if info.model_sha256_16 and info.model_sha256_16 != want:
            raise UsageError(f"labgrid place '{self.name}' runs firmware for model {info.model or '?'} (sha256 "
                             f"{info.model_sha256_16}), the project is for {project.model.path or '?'} (sha256 {want})",
                             hint=f"flash the project first: edgekit flash PROJECT --labgrid {self.name}")

    # ------------------------------------------------------------------ verbs

    def bench(self, target: str | os.PathLike[str], *, board: str | None = None, **kwargs: Any) -> Any:
        """:func:`edgekit.bench` on the board in this place (its serial port; the running firmware must be the
        project's: see :meth:`flash`). The result's ``transport.labgrid`` names the place."""
        from edgekit.benchmarking import bench
        from edgekit.target import resolve_target

        tgt = resolve_target(target)
        prof = self._profile(board, tgt.board_id)
        self.check_firmware(tgt.project, prof, timeout=kwargs.get("timeout", 10.0))
        save = kwargs.pop("save", None)
        result = bench(target, board=prof, port=self.port, boards_dirs=self.boards_dirs, **kwargs)
        result.transport["labgrid"] = self.describe()
        if save is not None:
            result.save(save)
        return result

    def validate(self, model: str | os.PathLike[str] | bytes, *, project_dir: str | os.PathLike[str],
                 board: str | None = None, **kwargs: Any) -> Any:
        """:func:`edgekit.validate` on the board in this place, with the project it runs (flashed beforehand)."""
        from edgekit.target import resolve_target
        from edgekit.validation import validate

        tgt = resolve_target(project_dir)
        prof = self._profile(board, tgt.board_id)
        self.check_firmware(tgt.project, prof, timeout=kwargs.get("timeout", 10.0))
        result = validate(model, board=prof, project_dir=project_dir, port=self.port, boards_dirs=self.boards_dirs,
                          **kwargs)
        result.transport["labgrid"] = self.describe()
        return result

    def flash(self, image: str | os.PathLike[str], *, board: str | None = None, dry_run: bool = False) -> Any:
        """Load ``image`` onto the board in this place through the place's resources.

        - an emulated board's loader (a ``NetworkService`` named ``edgekit-loader``,
          ``python -m edgekit.labgrid.emulator``): the ELF is sent to it;
        - a real board's USB interface on the exporter (``NetworkUSBDebugger``, ``NetworkUSBMassStorage``,
          ``NetworkDFUDevice``, ``NetworkUSBFlashableDevice``): ``edgekit flash`` runs on the exporter host over
          SSH with the board's own flasher (:mod:`edgekit.labgrid.exporter_flasher`).

        A place with neither is refused, naming what it offers.
        """
        from edgekit.flashers import load_image, resolve_image
        from edgekit.labgrid.exporter_flasher import USB_CLASSES, ExporterFlasher
        from edgekit.labgrid.loader_flasher import LoaderFlasher

        loader = self._first("NetworkService", LOADER_NAME)
        usb = next((r for r in self.resources if r.cls in USB_CLASSES), None)
        if loader is None and usb is None:
            raise UsageError(f"labgrid place '{self.name}' has no way to load firmware that edgekit drives (it "
                             f"offers {self._offers()})",
                             hint=f"a real board: export its probe, DFU device or UF2 drive ({', '.join(USB_CLASSES)} "
                                  f"on the client side); an emulated board: its loader, a NetworkService named "
                                  f"'{LOADER_NAME}' (docs/labgrid.md)")
        guess = load_image(image) if not Path(image).is_dir() else None
        project_board = guess.board_id if guess else _project_board(Path(image))
        prof = self._profile(board, project_board)
        flasher: Any
        if loader is not None:
            img = resolve_image(image, "qemu")
            flasher = LoaderFlasher(prof, port=f"{loader.params['address']}:{loader.params['port']}", dry_run=dry_run)
            flasher.via = f"labgrid place '{self.name}' ({loader.path})"
        else:
            assert usb is not None
            img = resolve_image(image, prof.flash.method)
            extra = usb.params.get("extra") or {}
            host = extra.get("proxy") if extra.get("proxy_required") else usb.params["host"]
            flasher = ExporterFlasher(prof, port=str(host), probe=self.tags.get(PROBE_TAG) or None, dry_run=dry_run)
            flasher.via = f"labgrid place '{self.name}' ({usb.path})"
        return flasher.run(img)


def _project_board(path: Path) -> str | None:
    from edgekit.errors import EdgekitError
    from edgekit.target import resolve_target

    try:
        return resolve_target(path).board_id
    except EdgekitError:
        return None
