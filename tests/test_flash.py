"""Flashers: image checks, exact argv (patched proc.run), API calls (fake pyOCD/esptool), UF2 on a fake drive, CLI."""

from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from conftest import install_plugin_dist
from elf_util import EM_XTENSA, intel_hex, make_elf

from edgekit import proc
from edgekit.boards import BUILTIN_DIR, load_board
from edgekit.cli import run
from edgekit.errors import BoardError, BuildError, DeviceError, UsageError
from edgekit.flashers import base as flash_base
from edgekit.flashers import flash, get_flasher, load_image, registry
from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.esptool import EsptoolFlasher
from edgekit.flashers.image import ESP_CHIP_IDS, check_board, check_fits, parse_uf2, to_uf2
from edgekit.flashers.pyocd import PyocdFlasher

L4_FLASH = 0x0800_0000
PICO_FLASH = 0x1000_0000
PICO_FAMILY = 0xE48BFF56


def code(n: int, seed: int = 1) -> bytes:
    return bytes((i * 7 + seed) % 256 for i in range(n))


@pytest.fixture
def l4_elf(tmp_path: Path) -> Path:
    return make_elf(tmp_path / "fw.elf", [(L4_FLASH, code(300)), (L4_FLASH + 0x1000, code(40, 3))],
                    board="nucleo-l4r5zi")


def custom_board(tmp_path: Path, base: str, new_id: str, **changes: Any) -> Path:
    """A boards dir holding ``new_id``: a copy of ``base`` with top-level sections changed."""
    src = next(BUILTIN_DIR.rglob(f"{base}.yaml"))
    data = yaml.safe_load(src.read_text())
    data["id"] = new_id
    data.update(changes)
    d = tmp_path / "boards" / "custom"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{new_id}.yaml").write_text(yaml.safe_dump(data))
    return d.parent


# ---------------------------------------------------------------- images

def test_formats_are_detected_by_content(tmp_path: Path, l4_elf: Path) -> None:
    assert load_image(l4_elf).format == "elf"
    (tmp_path / "fw.hex").write_text(intel_hex([(L4_FLASH, code(40))]))
    assert load_image(tmp_path / "fw.hex").format == "hex"
    (tmp_path / "fw.bin").write_bytes(code(64))
    assert load_image(tmp_path / "fw.bin").format == "bin"
    (tmp_path / "model.tflite").write_bytes(b"\x1c\0\0\0TFL3" + bytes(40))
    with pytest.raises(BuildError, match=r"TFLite model, not a firmware image"):
        load_image(tmp_path / "model.tflite")
    (tmp_path / "fake.elf").write_bytes(code(64))
    with pytest.raises(BuildError, match=r"named .elf but its content is not that format"):
        load_image(tmp_path / "fake.elf")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BuildError, match=r"not a firmware image"):
        load_image(tmp_path / "notes.txt")


def test_hex_records_and_checksums(tmp_path: Path) -> None:
    segs = [(L4_FLASH, code(100)), (L4_FLASH + 0xFFF0, code(40, 2))]  # crosses a 64 KB boundary
    (tmp_path / "a.hex").write_text(intel_hex(segs))
    img = load_image(tmp_path / "a.hex")
    assert [(s.address, s.data) for s in img.segments] == segs
    bad = intel_hex(segs).replace(":10", ":11", 1)
    (tmp_path / "b.hex").write_text(bad)
    with pytest.raises(BuildError, match=r"line 2: malformed Intel HEX record"):
        load_image(tmp_path / "b.hex")


def test_uf2_round_trip_keeps_bytes_and_family(tmp_path: Path) -> None:
    elf = make_elf(tmp_path / "p.elf", [(PICO_FLASH + 0x10, code(600))])
    uf2 = to_uf2(load_image(elf), PICO_FAMILY)
    assert len(uf2) % 512 == 0
    segs, fam = parse_uf2(uf2, tmp_path / "x.uf2")
    assert fam == PICO_FAMILY
    start = segs[0].address
    assert start == PICO_FLASH  # aligned down to a 256-byte block
    assert segs[0].data[0x10:0x10 + 600] == code(600)


def test_image_too_big_and_outside_flash(tmp_path: Path) -> None:
    board = load_board("nucleo-l4r5zi")
    big = load_image(make_elf(tmp_path / "big.elf", [(L4_FLASH, bytes(2048 * 1024 + 1))]))
    with pytest.raises(BuildError, match=r"needs 2048.0 KB of flash, board 'nucleo-l4r5zi' has 2048 KB"):
        check_fits(big, board)
    ram = load_image(make_elf(tmp_path / "ram.elf", [(0x2000_0000, code(16))]))
    with pytest.raises(BoardError, match=r"outside the flash of board 'nucleo-l4r5zi'"):
        check_fits(ram, board)


def test_board_identity(tmp_path: Path, l4_elf: Path) -> None:
    l4, pico = load_board("nucleo-l4r5zi"), load_board("rpi-pico")
    assert check_board(load_image(l4_elf), l4) == []
    with pytest.raises(BoardError, match=r"built for board 'nucleo-l4r5zi' \(ELF section .edgekit_board\)"):
        check_board(load_image(l4_elf), pico)
    (tmp_path / "anon").mkdir()
    anon = make_elf(tmp_path / "anon" / "fw.elf", [(L4_FLASH, code(8))])
    warns = check_board(load_image(anon), l4)
    assert len(warns) == 1 and "nothing in fw.elf identifies the board" in warns[0]
    proj = tmp_path / "proj"
    (proj / "build").mkdir(parents=True)
    (proj / "edgekit_project.json").write_text(json.dumps({"schema": 1, "board": "rpi-pico"}))
    from_proj = load_image(make_elf(proj / "build" / "firmware.elf", [(L4_FLASH, code(8))]))
    assert from_proj.board_id == "rpi-pico" and from_proj.board_source.endswith("edgekit_project.json")
    with pytest.raises(BoardError, match=r"built for board 'rpi-pico'"):
        check_board(from_proj, l4)
    xt = load_image(make_elf(tmp_path / "xt.elf", [(L4_FLASH, code(8))], machine=EM_XTENSA))
    with pytest.raises(BoardError, match=r"code for EM_XTENSA, board 'nucleo-l4r5zi' is armv7e-m"):
        check_board(xt, l4)


# ---------------------------------------------------------------- pyOCD (fake API objects)

class FakeTarget:
    def __init__(self, memory: dict[int, int]) -> None:
        self.memory = memory
        self.resets = 0

    def read_memory_block8(self, addr: int, size: int) -> list[int]:
        return [self.memory.get(addr + i, 0xFF) for i in range(size)]

    def reset(self) -> None:
        self.resets += 1


class FakePyocd:
    """ConnectHelper + FileProgrammer stand-ins that record every call and 'program' the fake memory."""

    def __init__(self, probes: list[Any], corrupt: bool = False) -> None:
        self.probes = probes
        self.corrupt = corrupt
        self.calls: list[tuple[str, Any]] = []
        self.target = FakeTarget({})
        fake = self

        class Session:
            target = self.target

            def __enter__(self) -> Session:
                fake.calls.append(("session.open", None))
                return self

            def __exit__(self, *exc: object) -> None:
                fake.calls.append(("session.close", None))

        class ConnectHelper:
            @staticmethod
            def get_all_connected_probes(**kw: Any) -> list[Any]:
                fake.calls.append(("get_all_connected_probes", kw))
                return [p for p in fake.probes if not kw.get("unique_id") or kw["unique_id"] in p.unique_id]

            @staticmethod
            def session_with_chosen_probe(**kw: Any) -> Session:
                fake.calls.append(("session_with_chosen_probe", kw))
                return Session()

        class FileProgrammer:
            def __init__(self, session: Session) -> None:
                fake.calls.append(("FileProgrammer", session))

            def program(self, path: str, **kw: Any) -> None:
                fake.calls.append(("program", (path, kw)))
                for seg in load_image(path).segments:
                    base = seg.address if seg.address is not None else kw["base_address"]
                    for i, b in enumerate(seg.data):
                        fake.target.memory[base + i] = b ^ (1 if fake.corrupt and i == 5 else 0)

        self.ConnectHelper, self.FileProgrammer = ConnectHelper, FileProgrammer


def stlink(uid: str = "066DFF555", target: str | None = "stm32l4r5zitx") -> SimpleNamespace:
    info = SimpleNamespace(name="NUCLEO-L4R5ZI", target=target) if target else None
    return SimpleNamespace(unique_id=uid, description="STM32 STLink", associated_board_info=info)


@pytest.fixture
def fake_pyocd(monkeypatch: pytest.MonkeyPatch) -> FakePyocd:
    fake = FakePyocd([stlink()])
    monkeypatch.setattr("edgekit.flashers.pyocd._helpers", lambda: (fake.ConnectHelper, fake.FileProgrammer))
    return fake


def test_pyocd_writes_verifies_resets(fake_pyocd: FakePyocd, l4_elf: Path) -> None:
    res = flash(l4_elf, "nucleo-l4r5zi")
    names = [c[0] for c in fake_pyocd.calls]
    assert names == ["get_all_connected_probes", "session_with_chosen_probe", "session.open", "FileProgrammer",
                     "program", "session.close"]
    assert fake_pyocd.calls[0][1] == {"blocking": False, "unique_id": None, "print_wait_message": False}
    kw = fake_pyocd.calls[1][1]
    assert (kw["unique_id"], kw["target_override"], kw["blocking"]) == ("066DFF555", "stm32l4r5zitx", False)
    assert fake_pyocd.calls[4][1] == (str(l4_elf), {"file_format": "elf"})
    assert fake_pyocd.target.resets == 1
    assert (res.verified, res.reset, res.method, res.bytes, res.dry_run) == (True, True, "pyocd", 340, False)


def test_pyocd_bin_goes_to_the_flash_base(fake_pyocd: FakePyocd, tmp_path: Path) -> None:
    (tmp_path / "fw.bin").write_bytes(code(64))
    flash(tmp_path / "fw.bin", "nucleo-l4r5zi")
    assert fake_pyocd.calls[4][1][1] == {"file_format": "bin", "base_address": L4_FLASH}
    assert bytes(fake_pyocd.target.read_memory_block8(L4_FLASH, 64)) == code(64)


def test_pyocd_verify_failure_names_the_address(fake_pyocd: FakePyocd, l4_elf: Path) -> None:
    fake_pyocd.corrupt = True
    with pytest.raises(DeviceError, match=r"verify failed: flash at 0x08000005"):
        flash(l4_elf, "nucleo-l4r5zi")


def test_pyocd_probe_checks(fake_pyocd: FakePyocd, l4_elf: Path) -> None:
    fake_pyocd.probes = [stlink(target="stm32f411retx")]
    with pytest.raises(BoardError, match=r"probe 066DFF555 is on a NUCLEO-L4R5ZI \(pyOCD target stm32f411retx\)"):
        flash(l4_elf, "nucleo-l4r5zi")
    fake_pyocd.probes = [stlink("AAA1"), stlink("BBB2")]
    with pytest.raises(DeviceError, match=r"2 debug probes are connected: AAA1 .*, BBB2"):
        flash(l4_elf, "nucleo-l4r5zi")
    flash(l4_elf, "nucleo-l4r5zi", probe="BBB2")  # --probe picks one
    assert fake_pyocd.calls[-5][1]["unique_id"] == "BBB2"
    fake_pyocd.probes = []
    with pytest.raises(DeviceError, match=r"no debug probe is connected"):
        flash(l4_elf, "nucleo-l4r5zi")


# ---------------------------------------------------------------- esptool (fake API, argv fallback)

def esp_app(chip: str = "esp32s3", n: int = 256) -> bytes:
    header = bytes([0xE9, 3, 2, 0x20]) + (0x40380000).to_bytes(4, "little") + bytes(4)
    header += ESP_CHIP_IDS[chip].to_bytes(2, "little")
    return header + code(n - len(header))


class FakeEsptoolCmds:
    def __init__(self, chip_name: str = "ESP32-S3") -> None:
        self.calls: list[tuple[str, Any]] = []
        self.esp = SimpleNamespace(CHIP_NAME=chip_name, _port=SimpleNamespace(close=lambda: None))

    def detect_chip(self, port: str, baud: int) -> Any:
        self.calls.append(("detect_chip", (port, baud)))
        return self.esp

    def run_stub(self, esp: Any) -> Any:
        self.calls.append(("run_stub", esp is self.esp))
        return esp

    def attach_flash(self, esp: Any) -> None:
        self.calls.append(("attach_flash", esp is self.esp))

    def write_flash(self, esp: Any, pairs: list[tuple[int, str]]) -> None:
        self.calls.append(("write_flash", pairs))

    def verify_flash(self, esp: Any, pairs: list[tuple[int, str]]) -> None:
        self.calls.append(("verify_flash", pairs))

    def reset_chip(self, esp: Any, mode: str) -> None:
        self.calls.append(("reset_chip", mode))


def test_esptool_api_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cmds = FakeEsptoolCmds()
    monkeypatch.setattr(EsptoolFlasher, "_api", staticmethod(lambda: cmds))
    app = tmp_path / "app.bin"
    app.write_bytes(esp_app())
    res = flash(app, "esp32-s3-devkitc-1", port="/dev/ttyUSB7")
    assert cmds.calls == [("detect_chip", ("/dev/ttyUSB7", 460800)), ("run_stub", True), ("attach_flash", True),
                          ("write_flash", [(0x10000, str(app))]), ("verify_flash", [(0x10000, str(app))]),
                          ("reset_chip", "hard-reset")]
    assert res.verified and res.reset


def test_esptool_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(EsptoolFlasher, "_api", staticmethod(lambda: FakeEsptoolCmds("ESP32-C3")))
    app = tmp_path / "app.bin"
    app.write_bytes(esp_app())
    with pytest.raises(BoardError, match=r"the chip on /dev/ttyUSB7 is an ESP32-C3, board 'esp32-s3-devkitc-1'"):
        flash(app, "esp32-s3-devkitc-1", port="/dev/ttyUSB7")
    app.write_bytes(esp_app("esp32"))
    with pytest.raises(BoardError, match=r"app.bin was built for esp32, the board is an esp32s3"):
        flash(app, "esp32-s3-devkitc-1", port="/dev/ttyUSB7")
    app.write_bytes(code(256))
    with pytest.raises(BuildError, match=r"not an ESP firmware image"):
        flash(app, "esp32-s3-devkitc-1", port="/dev/ttyUSB7")
    elf = make_elf(tmp_path / "app.elf", [(0x4200_0000, code(64))], machine=EM_XTENSA)
    with pytest.raises(BuildError, match=r"esptool flashes the .bin files of an ESP-IDF build, not the ELF"):
        flash(elf, "esp32-s3-devkitc-1", port="/dev/ttyUSB7")


def test_esptool_idf_build_dir_and_argv_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    build = tmp_path / "idf" / "build"
    (build / "bootloader").mkdir(parents=True)
    (build / "bootloader" / "bootloader.bin").write_bytes(esp_app(n=64))
    (build / "partition_table").mkdir()
    (build / "partition_table" / "partition-table.bin").write_bytes(b"\xaa\x50" + bytes(62))
    (build / "app.bin").write_bytes(esp_app())
    (build / "flasher_args.json").write_text(json.dumps({"flash_files": {
        "0x0": "bootloader/bootloader.bin", "0x8000": "partition_table/partition-table.bin", "0x10000": "app.bin"},
        "app": {"offset": "0x10000", "file": "app.bin"}}))
    monkeypatch.setattr(EsptoolFlasher, "_api", staticmethod(lambda: None))  # esptool 4: argv through main()
    seen: list[list[str]] = []
    import esptool

    monkeypatch.setattr(esptool, "main", lambda argv: seen.append(argv))
    flash(tmp_path / "idf", "esp32-s3-devkitc-1", port="/dev/ttyUSB0")
    assert seen == [["--chip", "esp32s3", "--port", "/dev/ttyUSB0", "--baud", "460800", "--before", "default_reset",
                     "--after", "hard_reset", "write_flash", "0x0", str(build / "bootloader" / "bootloader.bin"),
                     "0x8000", str(build / "partition_table" / "partition-table.bin"), "0x10000",
                     str(build / "app.bin")]]


# ---------------------------------------------------------------- subprocess flashers (patched proc.run)

@pytest.fixture
def argvs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []

    def fake_run(argv: list[Any], **kw: Any) -> Any:
        seen.append([str(a) for a in argv])
        import subprocess

        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(proc, "run", fake_run)
    monkeypatch.setattr(proc, "which", lambda p: f"/usr/bin/{p}")
    return seen


def test_openocd_argv(argvs: list[list[str]], tmp_path: Path, l4_elf: Path) -> None:
    boards = custom_board(tmp_path, "nucleo-l4r5zi", "l4-openocd", flash={
        "method": "openocd", "options": {"config": ["interface/stlink.cfg", "target/stm32l4x.cfg"]}})
    make_elf(l4_elf, [(L4_FLASH, code(300))], board="l4-openocd")
    res = flash(l4_elf, "l4-openocd", probe="0670FF", boards_dirs=[str(boards)])
    assert argvs == [["openocd", "-f", "interface/stlink.cfg", "-f", "target/stm32l4x.cfg", "-c",
                      "adapter serial 0670FF", "-c", f"program {{{l4_elf}}} verify reset exit"]]
    assert res.verified and res.reset
    (tmp_path / "fw.bin").write_bytes(code(32))
    flash(tmp_path / "fw.bin", "l4-openocd", boards_dirs=[str(boards)])
    assert argvs[-1][-1] == f"program {{{tmp_path / 'fw.bin'}}} 0x08000000 verify reset exit"


def test_dfu_util_argv_and_flattened_bin(argvs: list[list[str]], tmp_path: Path) -> None:
    boards = custom_board(tmp_path, "nucleo-l4r5zi", "l4-dfu", flash={"method": "dfu-util"})
    elf = make_elf(tmp_path / "fw.elf", [(L4_FLASH, code(16)), (L4_FLASH + 32, code(8, 5))], board="l4-dfu")
    res = flash(elf, "l4-dfu", boards_dirs=[str(boards)])
    out = tmp_path / "fw.edgekit.bin"
    assert argvs == [["dfu-util", "-d", "0483:df11", "-a", "0", "-s", "0x08000000:leave", "-D", str(out)]]
    assert out.read_bytes() == code(16) + b"\xff" * 16 + code(8, 5)
    assert res.verified is None and res.reset


def test_bossac_touch_then_bootloader_port(argvs: list[list[str]], monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    from edgekit import devices
    from edgekit.devices import SerialPort

    touched: list[str] = []
    monkeypatch.setattr("edgekit.flashers.bossac.touch_1200", touched.append)
    state = {"ports": [SerialPort("/dev/ttyACM0", 0x2341, 0x805A)]}

    def ports(*a: Any, **kw: Any) -> list[SerialPort]:
        now = state["ports"]
        if touched:  # after the touch the sketch port goes and the bootloader comes up
            state["ports"] = [SerialPort("/dev/ttyACM1", 0x2341, 0x005A)]
        return now

    monkeypatch.setattr(devices, "list_serial_ports", ports)
    elf = make_elf(tmp_path / "fw.elf", [(0x10000, code(64))], board="arduino-nano-33-ble-sense")
    flash(elf, "arduino-nano-33-ble-sense")
    assert touched == ["/dev/ttyACM0"]
    assert argvs == [["bossac", "--port=/dev/ttyACM1", "-U", "-i", "-e", "-w", "-v",
                      str(tmp_path / "fw.edgekit.bin"), "-R"]]


def test_qemu_flash_is_a_no_op(tmp_path: Path) -> None:
    elf = make_elf(tmp_path / "fw.elf", [(0, code(64))], board="qemu-cortex-m4")
    res = flash(elf, "qemu-cortex-m4")
    assert res.steps and "nothing to flash" in res.steps[0] and res.reset is False


# ---------------------------------------------------------------- UF2 on a fake drive

@pytest.fixture
def pico_drive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    drive = tmp_path / "media" / "RPI RP2"  # a space: mount points are escaped in /proc/mounts
    drive.mkdir(parents=True)
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    monkeypatch.setenv("EDGEKIT_UF2_MOUNTS", str(drive))
    return drive


def bootloader(drive: Path, store: dict[str, bytes]) -> threading.Thread:
    """Take NEW.UF2 like a bootloader: keep the bytes, then 'reboot' (the drive's files disappear)."""
    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            f = drive / "NEW.UF2"
            if f.exists() and f.stat().st_size and f.stat().st_size % 512 == 0:
                time.sleep(0.05)
                store["uf2"] = f.read_bytes()
                f.unlink()
                (drive / "INFO_UF2.TXT").unlink()
                return
            time.sleep(0.01)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_uf2_flash_converts_copies_and_sees_reboot(pico_drive: Path, tmp_path: Path) -> None:
    elf = make_elf(tmp_path / "fw.elf", [(PICO_FLASH, code(1000))], board="rpi-pico")
    store: dict[str, bytes] = {}
    t = bootloader(pico_drive, store)
    res = flash(elf, "rpi-pico")
    t.join()
    segs, fam = parse_uf2(store["uf2"], pico_drive / "NEW.UF2")
    assert fam == PICO_FAMILY and segs[0].address == PICO_FLASH and segs[0].data[:1000] == code(1000)
    assert res.verified and res.format == "uf2"


def test_uf2_refuses_wrong_family_and_missing_drive(pico_drive: Path, tmp_path: Path) -> None:
    elf = make_elf(tmp_path / "fw.elf", [(PICO_FLASH, code(100))])
    (tmp_path / "rp2350.uf2").write_bytes(to_uf2(load_image(elf), 0xE48BFF59))
    with pytest.raises(BoardError, match=r"UF2 for family 0xe48bff59, board 'rpi-pico' takes 0xe48bff56"):
        flash(tmp_path / "rp2350.uf2", "rpi-pico")
    (pico_drive / "INFO_UF2.TXT").write_text("UF2 Bootloader\nBoard-ID: SOMETHING-ELSE\n")
    with pytest.raises(DeviceError, match=r"no UF2 drive with Board-ID 'RPI-RP2' is mounted.*SOMETHING-ELSE"):
        flash(elf, "rpi-pico")


def test_uf2_drive_that_stays_is_an_error(pico_drive: Path, tmp_path: Path) -> None:
    boards = custom_board(tmp_path, "rpi-pico", "pico-fast", flash={"method": "uf2", "options": {
        "board_id": "RPI-RP2", "family_id": PICO_FAMILY, "timeout_s": 0.3}})
    elf = make_elf(tmp_path / "fw.elf", [(PICO_FLASH, code(100))], board="pico-fast")
    with pytest.raises(DeviceError, match=r"still mounted 0.3 s after the copy"):
        flash(elf, "pico-fast", boards_dirs=[str(boards)])


# ---------------------------------------------------------------- CLI: one-line errors, dry run

def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = run(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_dry_run_prints_the_exact_steps(capsys: pytest.CaptureFixture[str], l4_elf: Path, tmp_path: Path) -> None:
    rc, out, err = cli(capsys, "flash", str(l4_elf), "--board", "nucleo-l4r5zi", "--dry-run")
    assert rc == 0, err
    assert "dry run: pyocd would flash" in out
    assert f"FileProgrammer(session).program('{l4_elf}', file_format='elf')" in out
    assert "target_override='stm32l4r5zitx'" in out and "session.target.reset()" in out
    boards = custom_board(tmp_path, "nucleo-l4r5zi", "l4-ocd", flash={"method": "openocd",
                                                                      "options": {"config": "board/st_nucleo_l4.cfg"}})
    make_elf(l4_elf, [(L4_FLASH, code(300))], board="l4-ocd")
    rc, out, err = cli(capsys, "--boards-dir", str(boards), "flash", str(l4_elf), "--board", "l4-ocd", "--dry-run")
    assert rc == 0, err
    assert f"openocd -f board/st_nucleo_l4.cfg -c 'program {{{l4_elf}}} verify reset exit'" in out


@pytest.mark.parametrize(("case", "message"), [
    ("too-big", "error: big.elf needs 2048.0 KB of flash, board 'nucleo-l4r5zi' has 2048 KB"),
    ("wrong-board", "error: fw.elf was built for board 'rpi-pico' (ELF section .edgekit_board), not 'nucleo-l4r5zi'"),
    ("wrong-format", "error: notes.txt: not a firmware image"),
    ("tool-missing", "error: 'openocd' is not installed or not on PATH"),
])
def test_cli_preflight_errors_are_one_liners(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path, case: str, message: str) -> None:
    board, boards = "nucleo-l4r5zi", []
    if case == "too-big":
        img = make_elf(tmp_path / "big.elf", [(L4_FLASH, bytes(2048 * 1024 + 1))])
    elif case == "wrong-board":
        img = make_elf(tmp_path / "fw.elf", [(L4_FLASH, code(8))], board="rpi-pico")
    elif case == "wrong-format":
        img = tmp_path / "notes.txt"
        img.write_text("hello")
    else:
        boards = ["--boards-dir", str(custom_board(tmp_path, "nucleo-l4r5zi", "l4-ocd", flash={
            "method": "openocd", "options": {"config": "board/x.cfg"}}))]
        board = "l4-ocd"
        img = make_elf(tmp_path / "fw.elf", [(L4_FLASH, code(8))], board=board)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rc, _, err = cli(capsys, *boards, "flash", str(img), "--board", board)
    assert rc == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and message.removeprefix("error: ") in lines[0], err
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "Traceback" not in err
    if case == "tool-missing":
        assert "apt-get install openocd" in lines[1]


def test_cli_missing_python_package_names_the_extra(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch, l4_elf: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyocd" else real(name, *a))
    rc, _, err = cli(capsys, "flash", str(l4_elf), "--board", "nucleo-l4r5zi")
    assert rc == 1
    assert err.startswith("error: python package 'pyocd' is not installed (needed by the pyocd flasher)")
    assert "hint: pip install 'edgekit[flash]' (pyocd)" in err


# ---------------------------------------------------------------- registry and plugins

class DummyFlasher(Flasher):
    name = "dummy"

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"elf"}))

    def write(self, image: Any) -> None:
        self.step(f"dummy write {image.path.name}")


def test_registry_has_every_board_method() -> None:
    from edgekit.boards import list_boards

    reg = registry()
    for b in list_boards():
        if b.flash.method in ("none", "ssh"):
            with pytest.raises(UsageError, match=r"nothing edgekit can flash"):
                get_flasher(b.flash.method)
        else:
            assert b.flash.method in reg
            assert get_flasher(b.flash.method).name == b.flash.method


def test_plugins_load_and_broken_ones_only_warn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    install_plugin_dist(tmp_path, monkeypatch, flash_base.ENTRY_POINT_GROUP, {
        "dummy": "test_flash:DummyFlasher", "broken": "no_such_module_xyz:Flasher", "pyocd": "x:y"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = flash_base.available_flashers()
    assert found["dummy"] is DummyFlasher and "broken" not in found and found["pyocd"] is PyocdFlasher
    texts = [str(w.message) for w in caught]
    assert any("'broken'" in t and "failed to load" in t for t in texts)
    assert any("'pyocd'" in t and "a built-in flasher has that name" in t for t in texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UsageError, match=r"the flasher plugin 'broken' failed to load"):
            get_flasher("broken")


# ---------------------------------------------------------------- deploy

def test_deploy_runs_the_stages_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import edgekit.benchmarking
    import edgekit.buildsys
    import edgekit.flashers as flash_pkg
    import edgekit.generation

    calls: list[str] = []
    proj = tmp_path / "out" / "project"
    monkeypatch.setattr(edgekit.generation, "generate", lambda m, b, r, **kw: calls.append(
        f"generate {Path(m).name} {b.id} {r}") or SimpleNamespace(project_dir=proj))
    monkeypatch.setattr(edgekit.buildsys, "build", lambda d, **kw: calls.append(f"build {Path(d).name}") or "built")
    monkeypatch.setattr(flash_pkg, "flash", lambda d, b, **kw: calls.append(
        f"flash {Path(d).name} dry_run={kw['dry_run']}") or SimpleNamespace(dry_run=kw["dry_run"]))
    monkeypatch.setattr(edgekit.benchmarking, "bench",
                        lambda d, **kw: calls.append(f"bench port={kw['port']}") or "result")
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    from edgekit.deployment import deploy

    res = deploy(model, "qemu-cortex-m4", out_dir=tmp_path / "out")
    assert calls == ["generate m.tflite qemu-cortex-m4 auto", "build project", "flash project dry_run=False",
                     "bench port=None"]
    assert res.converted is False and res.tflite == model and res.bench == "result"
    calls.clear()
    res = deploy(model, "qemu-cortex-m4", out_dir=tmp_path / "out", dry_run=True)
    assert calls[-1] == "flash project dry_run=True" and res.bench is None
    with pytest.raises(UsageError, match="needs calibration data"):
        deploy(tmp_path / "m.keras", "qemu-cortex-m4", out_dir=tmp_path / "out")


@pytest.mark.qemu
@pytest.mark.toolchain
def test_deploy_on_qemu_end_to_end(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from conftest import need_tool, shared_model

    for tool in ("cmake", "arm-none-eabi-gcc", "qemu-system-arm"):
        need_tool(tool)
    model = shared_model("tflm_examples/hello_world_int8.tflite")
    rc = run(["deploy", str(model), "--board", "qemu-cortex-m4", "-o", str(tmp_path / "d"), "--runs", "3", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    d = json.loads(out)
    assert d["flash"]["method"] == "qemu" and d["flash"]["warnings"] == []
    assert d["bench"]["runs"] == 3 and d["bench"]["timing"]["count"]["median"] > 0
