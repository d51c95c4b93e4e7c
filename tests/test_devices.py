"""Device discovery: serial ports matched to board profiles, --port auto, UF2 drives, probes, power monitors, CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from edgekit import devices
from edgekit.boards import list_boards, load_board
from edgekit.cli import run
from edgekit.devices import SerialPort, list_serial_ports, list_uf2_drives, parse_uf2_info, resolve_port
from edgekit.errors import DeviceError, UsageError


def port(device: str, vid: int | None, pid: int | None, serial: str | None = None, desc: str = "") -> Any:
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial, description=desc,
                           manufacturer=None, product=None, location=None)


PORTS = [
    port("/dev/ttyACM0", 0x0483, 0x374B, "066DFF555", "STM32 STLink"),
    port("/dev/ttyACM1", 0x2E8A, 0x0003, "E0C9125B0D9B", "RP2 Boot"),
    port("/dev/ttyACM2", 0x1915, 0xC00A, "C2F6C1D2", "PPK2"),
    port("/dev/ttyACM3", 0x0483, 0x5740, "3677", "STM32 Virtual ComPort"),
    port("/dev/ttyS0", None, None, None, "n/a"),
]


def test_ports_are_matched_to_board_profiles() -> None:
    found = {p.device: p for p in list_serial_ports(list_boards(), comports=lambda: PORTS)}
    # every board with an ST-LINK/V2-1 matches (nucleo-f446re shares 0483:374b)
    assert "nucleo-l4r5zi" in found["/dev/ttyACM0"].boards and found["/dev/ttyACM0"].role == "board"
    assert found["/dev/ttyACM0"].usb_id == "0483:374b"
    assert found["/dev/ttyACM1"].bootloader_of == ("rpi-pico",) and found["/dev/ttyACM1"].role == "bootloader"
    assert found["/dev/ttyACM2"].role == "power-monitor"
    assert found["/dev/ttyS0"].boards == () and found["/dev/ttyS0"].usb_id == ""


def test_resolve_port() -> None:
    l4 = load_board("nucleo-l4r5zi")
    ports = list_serial_ports([l4], comports=lambda: PORTS)
    assert resolve_port(l4, "auto", ports=ports) == "/dev/ttyACM0"
    assert resolve_port(l4, "/dev/ttyUSB3", ports=ports) == "/dev/ttyUSB3"  # an explicit port is taken as is
    two = [*ports, SerialPort("/dev/ttyACM9", 0x0483, 0x374B, "0670FF")]
    with pytest.raises(DeviceError, match=r"2 ports have USB id 0483:374b .*/dev/ttyACM0 \(serial 066DFF555\), "
                                          r"/dev/ttyACM9 \(serial 0670FF\)") as info:
        resolve_port(l4, None, ports=two)
    assert info.value.hint == "choose one with --port"
    with pytest.raises(DeviceError, match=r"no serial port with USB id 0483:374b .*ports seen: /dev/ttyS0"):
        resolve_port(l4, "auto", ports=[SerialPort("/dev/ttyS0")])
    pico = load_board("rpi-pico")
    assert resolve_port(pico, "auto", ports=ports, bootloader=True) == "/dev/ttyACM1"
    with pytest.raises(UsageError, match="board 'qemu-cortex-m4' has no USB id"):
        resolve_port(load_board("qemu-cortex-m4"), "auto", ports=ports)


def test_uf2_drives_from_mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEKIT_UF2_MOUNTS", raising=False)
    drive = tmp_path / "media" / "RPI RP2"
    drive.mkdir(parents=True)
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\r\nModel: Raspberry Pi RP2\r\nBoard-ID: RPI-RP2\r\n")
    other = tmp_path / "usbstick"
    other.mkdir()
    escaped = str(drive).replace(" ", "\\040")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 {other} vfat rw 0 0\n/dev/sdb1 {escaped} vfat rw,nosuid 0 0\n"
                      "proc /proc proc rw 0 0\n")
    drives = list_uf2_drives(list_boards(), mounts_file=mounts)
    assert len(drives) == 1
    d = drives[0]
    assert (d.path, d.board_id, d.model, d.boards) == (str(drive), "RPI-RP2", "Raspberry Pi RP2", ("rpi-pico",))
    assert d.info["Bootloader"] == "UF2 Bootloader v3.0"
    assert parse_uf2_info("Board-ID: RP2350\n") == {"Board-ID": "RP2350"}


def test_probes_through_pyocd(monkeypatch: pytest.MonkeyPatch) -> None:
    helpers = ModuleType("pyocd.core.helpers")
    seen: list[dict[str, Any]] = []

    class ConnectHelper:
        @staticmethod
        def get_all_connected_probes(**kw: Any) -> list[Any]:
            seen.append(kw)
            return [SimpleNamespace(unique_id="066DFF555", description="STM32 STLink", vendor_name="STMicro",
                                    product_name="STLink", associated_board_info=SimpleNamespace(
                                        name="NUCLEO-L4R5ZI", target="stm32l4r5zitx"))]

    helpers.ConnectHelper = ConnectHelper  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyocd.core.helpers", helpers)
    probes, note = devices.list_probes()
    assert note is None and seen == [{"blocking": False, "print_wait_message": False}]
    assert (probes[0].unique_id, probes[0].board, probes[0].target) == ("066DFF555", "NUCLEO-L4R5ZI", "stm32l4r5zitx")
    monkeypatch.setitem(sys.modules, "pyocd.core.helpers", None)  # as if pyOCD were not installed
    assert devices.list_probes() == ([], "debug probes not listed: pyOCD is not installed (pip install "
                                         "'edgekit[flash]')")


def test_power_monitors_by_usb_id() -> None:
    ports = list_serial_ports([], comports=lambda: PORTS)
    mons, _ = devices.list_power_monitors(ports)
    kinds = {(m.kind, m.where, m.certain) for m in mons if m.kind != "joulescope"}
    assert kinds == {("ppk2", "/dev/ttyACM2", True), ("lpm01a", "/dev/ttyACM3", False)}


class UsbMeter:  # a plugin power monitor with a USB id of its own (loaded through an entry point)
    from edgekit.power.base import PowerMonitor as _Base

    class Meter(_Base):
        name = "usbmeter"
        usb_id = (0x1234, 0x5678)

        def open(self) -> None: ...
        def close(self) -> None: ...
        def start(self) -> None: ...
        def stop(self) -> Any: ...


def test_plugin_power_monitors_are_discovered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from conftest import install_plugin_dist

    from edgekit.power.base import ENTRY_POINT_GROUP

    install_plugin_dist(tmp_path, monkeypatch, ENTRY_POINT_GROUP, {"usbmeter": "test_devices:UsbMeter.Meter"})
    ports = [SerialPort("/dev/ttyACM7", 0x1234, 0x5678, "M1"), *list_serial_ports([], comports=lambda: PORTS)]
    mons, _ = devices.list_power_monitors(ports)
    assert ("usbmeter", "/dev/ttyACM7", "M1") in {(m.kind, m.where, m.serial_number) for m in mons}
    assert {m.kind for m in mons} >= {"ppk2", "lpm01a", "usbmeter"}


def test_cli_devices_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                          tmp_path: Path) -> None:
    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda: PORTS)
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nBoard-ID: RPI-RP2\n")
    monkeypatch.setenv("EDGEKIT_UF2_MOUNTS", str(drive))
    rc = run(["devices", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    d = json.loads(out)
    by_port = {p["device"]: p for p in d["serial_ports"]}
    assert "nucleo-l4r5zi" in by_port["/dev/ttyACM0"]["boards"]
    assert [u["board_id"] for u in d["uf2_drives"]] == ["RPI-RP2"]
    assert {m["kind"] for m in d["power_monitors"]} >= {"ppk2", "lpm01a"}
    rc = run(["devices"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "nucleo-l4r5zi" in out and "UF2 drive" in out and "power monitor: ppk2" in out
