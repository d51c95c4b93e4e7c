"""What is plugged in: serial ports (with the board profile their USB id suggests), debug probes, mounted UF2
bootloader drives and power monitors; and ``--port auto`` resolution for a board.

Serial ports come from pyserial's ``serial.tools.list_ports.comports()``; debug probes from pyOCD's
``ConnectHelper.get_all_connected_probes`` (when pyOCD is installed); UF2 drives are the mount points in
``/proc/mounts`` (plus ``EDGEKIT_UF2_MOUNTS``, os.pathsep-separated) that hold an ``INFO_UF2.TXT``; power monitors
are the Nordic PPK2 (USB 1915:c00a), ST's X-NUCLEO-LPM01A (0483:5740, ST's generic virtual COM port id, so only
"possibly") and Joulescopes found by the ``joulescope`` package.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError, UsageError
from edgekit.power.base import FoundMonitor as PowerMonitorInfo

UF2_INFO = "INFO_UF2.TXT"
UF2_MOUNTS_ENV = "EDGEKIT_UF2_MOUNTS"


@dataclass(frozen=True)
class SerialPort:
    """One serial port and what it probably is."""

    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    manufacturer: str | None = None
    product: str | None = None
    location: str | None = None
    boards: tuple[str, ...] = ()     # board profiles whose serial USB id matches
    bootloader_of: tuple[str, ...] = ()  # board profiles whose bootloader has this USB id
    role: str = ""                   # "board", "bootloader", "power-monitor" or ""

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "usb_id": self.usb_id, "boards": list(self.boards),
                "bootloader_of": list(self.bootloader_of)}


@dataclass(frozen=True)
class Probe:
    """A debug probe pyOCD sees."""

    unique_id: str
    description: str
    vendor: str = ""
    product: str = ""
    board: str | None = None   # the board the probe is part of, as pyOCD knows it
    target: str | None = None  # pyOCD target type of that board


@dataclass(frozen=True)
class Uf2Drive:
    """A mounted UF2 bootloader drive and its ``INFO_UF2.TXT``."""

    path: str
    board_id: str = ""
    model: str = ""
    info: dict[str, str] = field(default_factory=dict)
    boards: tuple[str, ...] = ()  # board profiles whose flash.options.board_id matches


@dataclass
class DeviceReport:
    """Everything :func:`discover` found, with notes on what could not be looked at."""

    serial_ports: list[SerialPort]
    probes: list[Probe]
    uf2_drives: list[Uf2Drive]
    power_monitors: list[PowerMonitorInfo]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"serial_ports": [p.to_dict() for p in self.serial_ports],
                "probes": [asdict(p) for p in self.probes], "uf2_drives": [asdict(d) for d in self.uf2_drives],
                "power_monitors": [asdict(m) for m in self.power_monitors], "notes": list(self.notes)}


# ---------------------------------------------------------------- USB ids of the board profiles

def _usb_pair(text: Any) -> tuple[int, int] | None:
    """'2e8a:0003' -> (0x2e8a, 0x0003)."""
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"\s*(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})\s*", text)
    return (int(m.group(1), 16), int(m.group(2), 16)) if m else None


def _board_ids(boards: Sequence[Any]) -> tuple[dict[tuple[int, int], list[str]], dict[tuple[int, int], list[str]]]:
    run: dict[tuple[int, int], list[str]] = {}
    boot: dict[tuple[int, int], list[str]] = {}
    for b in boards:
        if b.serial.usb_vid is not None and b.serial.usb_pid is not None:
            run.setdefault((b.serial.usb_vid, b.serial.usb_pid), []).append(b.id)
        pair = _usb_pair(b.flash.options.get("bootloader_usb"))
        if pair:
            boot.setdefault(pair, []).append(b.id)
    return run, boot


def _all_boards(boards: Sequence[Any] | None, boards_dirs: Iterable[str] | None) -> Sequence[Any]:
    if boards is not None:
        return boards
    from edgekit.boards import list_boards

    return list_boards(boards_dirs)


# ---------------------------------------------------------------- serial ports

def list_serial_ports(boards: Sequence[Any] | None = None, *, boards_dirs: Iterable[str] | None = None,
                      comports: Any = None) -> list[SerialPort]:
    """Serial ports with their USB identity and the board profiles their USB id matches."""
    if comports is None:
        from serial.tools import list_ports

        comports = list_ports.comports
    from edgekit.power.base import MONITORS

    run_ids, boot_ids = _board_ids(_all_boards(boards, boards_dirs))
    monitor_ids = {c.usb_id for c in MONITORS.available().values() if c.usb_id is not None and c.usb_id_certain}
    out = []
    for info in sorted(comports(), key=lambda i: i.device):
        vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
        key = (vid, pid) if vid is not None and pid is not None else None
        matched = tuple(run_ids.get(key, ())) if key else ()
        boot = tuple(boot_ids.get(key, ())) if key else ()
        role = ("power-monitor" if key in monitor_ids else "board" if matched else "bootloader" if boot else "")
        out.append(SerialPort(info.device, vid, pid, getattr(info, "serial_number", None),
                              getattr(info, "description", "") or "", getattr(info, "manufacturer", None),
                              getattr(info, "product", None), getattr(info, "location", None), matched, boot, role))
    return out


def resolve_port(board: Any, port: str | None = "auto", *, ports: Sequence[SerialPort] | None = None,
                 bootloader: bool = False) -> str:
    """The port to use for ``board``: ``port`` itself unless it is ``auto``/None, else the single port whose USB id
    matches the board profile (its bootloader's id when ``bootloader``).

    Raises:
        DeviceError: no matching port (or several: the message lists them and says how to choose).
        UsageError: the board profile has no USB id to look for.
    """
    if port not in (None, "", "auto"):
        return str(port)
    if bootloader:
        want = _usb_pair(board.flash.options.get("bootloader_usb"))
        what = "bootloader USB id (flash.options.bootloader_usb)"
    else:
        want = ((board.serial.usb_vid, board.serial.usb_pid)
                if board.serial.usb_vid is not None and board.serial.usb_pid is not None else None)
        what = "USB id (serial.usb)"
    if want is None:
        raise UsageError(f"board '{board.id}' has no {what}: cannot find its port automatically",
                         hint="pass --port /dev/ttyACM0 (list ports with 'edgekit devices')")
    found = ports if ports is not None else list_serial_ports([board])
    hits = [p for p in found if (p.vid, p.pid) == want]
    usb = f"{want[0]:04x}:{want[1]:04x}"
    if not hits:
        seen = ", ".join(f"{p.device} ({p.usb_id or 'no USB id'})" for p in found) or "none"
        raise DeviceError(f"no serial port with USB id {usb} ({board.name}{' bootloader' if bootloader else ''}) "
                          f"is connected; ports seen: {seen}",
                          hint="plug the board in (a data cable, not a charge-only one) or pass --port")
    if len(hits) > 1:
        listed = ", ".join(f"{p.device} (serial {p.serial_number or '?'})" for p in hits)
        raise DeviceError(f"{len(hits)} ports have USB id {usb} ({board.name}): {listed}",
                          hint="choose one with --port")
    return hits[0].device


# ---------------------------------------------------------------- debug probes

def list_probes() -> tuple[list[Probe], str | None]:
    """Debug probes pyOCD sees, and a note when they could not be listed (pyOCD missing, USB error)."""
    try:
        from pyocd.core.helpers import ConnectHelper
    except ImportError:
        return [], "debug probes not listed: pyOCD is not installed (pip install 'edgekit[flash]')"
    try:
        probes = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
    except Exception as exc:  # libusb errors, permissions: report, do not crash a listing
        return [], f"debug probes not listed: pyOCD failed: {' '.join(str(exc).split())}"
    out = []
    for p in probes:
        info = getattr(p, "associated_board_info", None)
        out.append(Probe(str(p.unique_id), str(p.description), str(getattr(p, "vendor_name", "") or ""),
                         str(getattr(p, "product_name", "") or ""), getattr(info, "name", None) if info else None,
                         getattr(info, "target", None) if info else None))
    return out, None


# ---------------------------------------------------------------- UF2 drives

def _unescape_mount(path: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as octal (\\040 ...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mount_points(mounts_file: str | Path = "/proc/mounts") -> list[str]:
    """Mount points listed in ``mounts_file`` plus those in ``EDGEKIT_UF2_MOUNTS``."""
    points: list[str] = []
    try:
        for line in Path(mounts_file).read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2:
                points.append(_unescape_mount(fields[1]))
    except OSError:
        pass
    points += [p for p in os.environ.get(UF2_MOUNTS_ENV, "").split(os.pathsep) if p]
    return points


def parse_uf2_info(text: str) -> dict[str, str]:
    """``INFO_UF2.TXT``: a first line (bootloader name and version) and ``Key: value`` lines."""
    info: dict[str, str] = {}
    for i, line in enumerate(text.splitlines()):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = value.strip()
        elif i == 0 and line.strip():
            info["Bootloader"] = line.strip()
    return info


def list_uf2_drives(boards: Sequence[Any] | None = None, *, mounts_file: str | Path = "/proc/mounts",
                    boards_dirs: Iterable[str] | None = None) -> list[Uf2Drive]:
    """Mounted UF2 bootloader drives (every mount point holding ``INFO_UF2.TXT``)."""
    by_id: dict[str, list[str]] = {}
    for b in _all_boards(boards, boards_dirs):
        bid = b.flash.options.get("board_id")
        if b.flash.method == "uf2" and isinstance(bid, str):
            by_id.setdefault(bid, []).append(b.id)
    out = []
    seen: set[str] = set()
    for point in mount_points(mounts_file):
        info_file = Path(point) / UF2_INFO
        if point in seen or not info_file.is_file():
            continue
        seen.add(point)
        try:
            info = parse_uf2_info(info_file.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        board_id = info.get("Board-ID", "")
        out.append(Uf2Drive(point, board_id, info.get("Model", ""), info, tuple(by_id.get(board_id, ()))))
    return out


# ---------------------------------------------------------------- power monitors

def list_power_monitors(ports: Sequence[SerialPort]) -> tuple[list[PowerMonitorInfo], str | None]:
    """The power monitors connected: each registered monitor's own ``discover()`` (plugins included)."""
    from edgekit.power.base import MONITORS

    out: list[PowerMonitorInfo] = []
    notes: list[str] = []
    for cls in MONITORS.available().values():
        found, note = cls.discover(ports)
        out += found
        if note:
            notes.append(note)
    return out, "; ".join(notes) or None


def discover(*, boards_dirs: Iterable[str] | None = None, mounts_file: str | Path = "/proc/mounts") -> DeviceReport:
    """Everything connected: serial ports, debug probes, UF2 drives, power monitors."""
    boards = _all_boards(None, boards_dirs)
    ports = list_serial_ports(boards)
    probes, probe_note = list_probes()
    drives = list_uf2_drives(boards, mounts_file=mounts_file)
    monitors, mon_note = list_power_monitors(ports)
    notes = [n for n in (probe_note, mon_note) if n]
    return DeviceReport(ports, probes, drives, monitors, notes)
