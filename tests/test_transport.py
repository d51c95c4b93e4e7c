"""The host side of the device protocol (Link, Device) against a fake device, and QemuInstance's lifecycle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import need_tool
from fake_device import FakeConfig, FakeDevice, fake_model

from edgekit.errors import DeviceError, ToolMissing
from edgekit.transport import Device, Link, QemuInstance
from edgekit.transport.protocol import parse_info
from edgekit.transport.qemu import describe_exit, qemu_argv


def _link(dev: FakeDevice, tmp_path: Path, timeout: float = 2.0) -> Link:
    return Link(dev.url, timeout=timeout, log_path=tmp_path / "link.log").open()


# ---------------------------------------------------------------- Link against the fake device

def test_sync_skips_boot_noise_and_partial_lines(tmp_path: Path) -> None:
    with FakeDevice() as dev, _link(dev, tmp_path) as link:
        assert link.sync() == "edgekit"
        assert link.send_command("name") == ["m-name-dut-[edgekit]"]


def test_sync_resends_until_the_device_listens(tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(ignore_first=2)) as dev, _link(dev, tmp_path) as link:
        assert link.sync(timeout=5, interval=0.1) == "edgekit"
        assert dev.cfg.received.count("name") >= 3
        # replies to repeated name% requests were drained: the next command gets its own reply
        assert link.send_command("ek-stack%") == ["m-ek-stack-[1200 8192]"]


def test_error_reply_names_command_and_device_text(tmp_path: Path) -> None:
    with FakeDevice() as dev, _link(dev, tmp_path) as link:
        link.sync()
        with pytest.raises(DeviceError, match=r"device rejected 'infer 1 0%': infer: no input loaded"):
            link.send_command("infer 1 0%")
        with pytest.raises(DeviceError, match=r"unknown command: bogus"):
            link.send_command("bogus")
        # the link is still usable after an error
        assert link.send_command("name%") == ["m-name-dut-[edgekit]"]


def test_timeout_shows_last_output_and_log_path(tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(hang_after=1)) as dev, _link(dev, tmp_path, timeout=0.5) as link:
        link.send_command("name%")
        with pytest.raises(DeviceError) as err:
            link.send_command("ek-info%")
    msg, hint = str(err.value), err.value.hint or ""
    assert "timed out after 0.5 s waiting for 'm-ready' after 'ek-info%'" in msg
    assert dev.url in msg
    assert "m-name-dut-[edgekit]" in hint and str(tmp_path / "link.log") in hint


def test_every_byte_is_logged(tmp_path: Path) -> None:
    import ast

    with FakeDevice() as dev, _link(dev, tmp_path) as link:
        link.sync()
        link.send_command("ek-stack%")
    text = (tmp_path / "link.log").read_text()
    sent = b"".join(ast.literal_eval(ln.split(" > ", 1)[1]) for ln in text.splitlines() if " > " in ln)
    received = b"".join(ast.literal_eval(ln.split(" < ", 1)[1]) for ln in text.splitlines() if " < " in ln)
    assert sent.endswith(b"ek-stack%")
    assert received.startswith(dev.cfg.boot_noise)  # boot noise included, byte for byte
    assert received.endswith(b"m-ek-stack-[1200 8192]\r\nm-ready\r\n")


def test_reboot_mid_reply_is_an_error(tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(reboot_on="ek-stack")) as dev, _link(dev, tmp_path) as link:
        link.sync()
        with pytest.raises(DeviceError, match="rebooted while answering 'ek-stack%'"):
            link.send_command("ek-stack%")


def test_device_drops_connection_mid_command(tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(hang_after=1)) as dev, _link(dev, tmp_path, timeout=5) as link:
        link.sync()
        link.write("ek-info%")
        time.sleep(0.1)
        dev.drop()
        with pytest.raises(DeviceError, match=r"connection to .* lost"):
            link.read_reply("ek-info%")


def test_reconnect_keeps_device_state(tmp_path: Path) -> None:
    with FakeDevice() as dev, _link(dev, tmp_path) as link:
        link.sync()
        device = Device(link)
        device.upload(bytes(range(64)))
        link.reconnect()  # a client that goes away and comes back
        assert dev.connections == 2
        device.infer(1, 0)
        assert device.output(0) == fake_model(bytes(range(64)), 10)


def test_open_fails_clearly_when_nothing_listens(tmp_path: Path) -> None:
    from edgekit.transport.qemu import free_port

    link = Link(f"socket://127.0.0.1:{free_port()}", log_path=tmp_path / "l.log", open_timeout=0.3)
    with pytest.raises(DeviceError, match="could not open socket://") as err:
        link.open()
    assert "nothing listens" in (err.value.hint or "")


# ---------------------------------------------------------------- Device (typed commands)

def test_info_parsing(tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(input_bytes=(64, 8), output_bytes=(10,))) as dev, _link(dev, tmp_path) as link:
        link.sync()
        info = Device(link).info()
    assert info.runtime == "edgekit 0.1.0"
    assert (info.model, info.model_sha256_16) == ("fake_model", "0123456789abcdef")
    assert (info.arena_used, info.arena_reserved) == (4000, 4096)
    assert info.input_bytes == (64, 8) and info.output_bytes == (10,)
    assert (info.timer_kind, info.timer_hz, info.line_max, info.board) == ("systick", 25_000_000, 256, "qemu-cortex-m4")


def test_parse_info_tolerates_missing_lines() -> None:
    info = parse_info(["m-ek-inputs-[3]", "m-ek-outputs-[4]", "noise"])
    assert info.input_bytes == (3,) and info.timer_hz is None and info.line_max == 256


@pytest.mark.parametrize("mode", ["bin", "hex", "auto"])
def test_upload_infer_laps_output(tmp_path: Path, mode: str) -> None:
    data = bytes((i * 37) % 256 for i in range(300))
    cfg = FakeConfig(input_bytes=(300,), output_bytes=(70,), line_max=40)
    with FakeDevice(cfg) as dev, _link(dev, tmp_path) as link:
        link.sync()
        device = Device(link)
        device.info()
        used = device.upload(data, mode=mode)
        reply = device.infer(5, 2)
        laps = device.laps()
        out = device.output(0)
        stack = device.stack()
    assert used == ("hex" if mode == "hex" else "ek-bin")
    assert bytes(dev.input) == data
    assert out == fake_model(data, 70)  # 70 bytes span two m-ek-out lines
    assert laps == [1000, 1001, 1000, 1002, 1000]
    assert reply.runs == 5 and len(reply.lap_us) == 2 and len(reply.results) == 70
    assert stack == (1200, 8192)
    if mode == "hex":  # every db command fits the device's 40-character line buffer
        assert all(len(c) <= 40 for c in dev.cfg.received)


def test_upload_falls_back_to_hex_without_ek_bin(tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(support_bin=False)) as dev, _link(dev, tmp_path) as link:
        link.sync()
        assert Device(link).upload(bytes(64)) == "hex"
        assert dev.loaded


def test_upload_too_large_is_rejected_with_device_text(tmp_path: Path) -> None:
    with FakeDevice() as dev, _link(dev, tmp_path) as link:
        link.sync()
        with pytest.raises(DeviceError, match="exceeds buffer of 64"):
            Device(link).upload(bytes(65))
        assert link.send_command("name%")  # still in sync after the rejected upload


def test_output_size_checked_against_info(tmp_path: Path) -> None:
    with FakeDevice() as dev, _link(dev, tmp_path) as link:
        link.sync()
        device = Device(link)
        device.info()
        dev.cfg.output_bytes = (12,)  # the device now disagrees with what it announced
        device.upload(bytes(64))
        device.infer()
        with pytest.raises(DeviceError, match="returned 12 bytes, ek-info announced 10"):
            device.output(0)


# ---------------------------------------------------------------- QEMU: argv, errors (no QEMU needed)

def test_qemu_argv() -> None:
    argv = qemu_argv("fw.elf", machine="mps2-an386", cpu="cortex-m4", icount_shift=0, port=4321)
    assert argv == ["qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic",
                    "-icount", "shift=0", "-semihosting-config", "enable=on,target=native",
                    "-serial", "tcp:127.0.0.1:4321,server=on,wait=on,nodelay=on", "-monitor", "none",
                    "-kernel", "fw.elf"]


def test_describe_exit() -> None:
    assert "locked up" in describe_exit(-6) and "locked up" in describe_exit(134)
    assert "SIGKILL" in describe_exit(-9)
    assert "code 3" in describe_exit(3)


def test_qemu_missing_is_toolmissing_with_apt_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", str(tmp_path))  # no qemu-system-arm on this PATH
    with pytest.raises(ToolMissing) as err:
        QemuInstance(elf, machine="mps2-an386").start()
    assert "'qemu-system-arm' is not installed" in str(err.value)
    assert "apt-get install qemu-system-arm" in (err.value.hint or "")


# ---------------------------------------------------------------- QEMU lifecycle (real QEMU, tiny ELFs)

_STARTUP = """
    .syntax unified
    .thumb
    .text
    .word 0x20010000
    .word reset
    .thumb_func
reset:
"""

_PROGRAMS = {
    # a firmware that never answers
    "hang": "1:  b 1b\n",
    # a firmware that exits through semihosting with code 7
    "exit7": """
    ldr r1, =blk
    movs r0, #0x20
    bkpt 0xab
2:  b 2b
    .align 2
blk: .word 0x20026, 7
""",
}


def _tiny_elf(tmp_path: Path, which: str) -> Path:
    need_tool("arm-none-eabi-gcc")
    src = tmp_path / f"{which}.S"
    src.write_text(_STARTUP + textwrap.dedent(_PROGRAMS[which]))
    elf = tmp_path / f"{which}.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-Wl,-Ttext=0", "-Wl,-e,reset",
                    "-o", str(elf), str(src)], check=True)
    return elf


def _gone(pid: int) -> bool:
    """True when no process with this pid exists any more (or only a zombie nobody will reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z"


def _qemu(elf: Path, **kw: object) -> QemuInstance:
    need_tool("qemu-system-arm")
    return QemuInstance(elf, machine="mps2-an386", cpu="cortex-m4", **kw)  # type: ignore[arg-type]


@pytest.mark.qemu
@pytest.mark.toolchain
def test_firmware_exit_code_becomes_device_error(tmp_path: Path) -> None:
    with _qemu(_tiny_elf(tmp_path, "exit7")) as q:
        link = q.link(timeout=5)
        with pytest.raises(DeviceError, match="QEMU exited with code 7") as err:
            link.sync(timeout=5)
        assert "full log:" in (err.value.hint or "")
        pid = q.pid
    assert pid is not None and _gone(pid)


@pytest.mark.qemu
def test_guest_lockup_is_explained(tmp_path: Path) -> None:
    """A garbage image (loaded raw: its first word becomes the stack pointer) locks the core up; QEMU aborts."""
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x7fELF" + bytes(60))
    with _qemu(junk) as q:
        link = q.link(timeout=5)
        with pytest.raises(DeviceError, match=r"QEMU aborted \(SIGABRT\): the guest locked up") as err:
            link.sync(timeout=5)
    assert "qemu: fatal: Lockup" in (err.value.hint or "")


@pytest.mark.qemu
@pytest.mark.toolchain
def test_hanging_firmware_times_out_and_qemu_is_killed(tmp_path: Path) -> None:
    with _qemu(_tiny_elf(tmp_path, "hang")) as q:
        pid = q.pid
        link = q.link(timeout=1)
        with pytest.raises(DeviceError, match=r"timed out after 1 s waiting for an answer to 'name%'"):
            link.sync(timeout=1)
    assert pid is not None and _gone(pid)


@pytest.mark.qemu
@pytest.mark.toolchain
def test_killed_qemu_is_reported_with_signal(tmp_path: Path) -> None:
    with _qemu(_tiny_elf(tmp_path, "hang")) as q:
        link = q.link(timeout=5)
        assert q.pid is not None
        os.kill(q.pid, signal.SIGKILL)
        with pytest.raises(DeviceError, match="QEMU was killed by SIGKILL"):
            link.sync(timeout=5)


@pytest.mark.qemu
@pytest.mark.toolchain
def test_stopped_qemu_is_reported_and_killed(tmp_path: Path) -> None:
    with _qemu(_tiny_elf(tmp_path, "hang")) as q:
        link = q.link(timeout=30)
        pid = q.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        with pytest.raises(DeviceError, match="is stopped"):
            link.sync(timeout=30)
    assert _gone(pid)


@pytest.mark.qemu
@pytest.mark.toolchain
def test_keyboard_interrupt_kills_qemu(tmp_path: Path) -> None:
    elf = _tiny_elf(tmp_path, "hang")
    pids = []
    with pytest.raises(KeyboardInterrupt):
        with _qemu(elf) as q:
            q.link(timeout=5)
            pids.append(q.pid)
            raise KeyboardInterrupt
    assert pids[0] is not None and _gone(pids[0])


@pytest.mark.qemu
@pytest.mark.toolchain
def test_garbage_collection_kills_qemu(tmp_path: Path) -> None:
    import gc

    q = _qemu(_tiny_elf(tmp_path, "hang"))
    q.start()
    pid = q.pid
    assert pid is not None and not _gone(pid)
    del q
    gc.collect()
    assert _gone(pid)


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.parametrize("how", ["exit", "sigterm"])
def test_no_orphan_when_python_exits(tmp_path: Path, how: str) -> None:
    """A Python process that leaves without stopping QEMU (normal exit, or killed) takes QEMU with it."""
    need_tool("qemu-system-arm")
    elf = _tiny_elf(tmp_path, "hang")
    script = textwrap.dedent(f"""
        import sys, time
        from edgekit.transport import QemuInstance
        q = QemuInstance({str(elf)!r}, machine="mps2-an386", cpu="cortex-m4")
        q.start()
        q.link(timeout=5)
        print(q.pid, flush=True)
        keep = q
        if {how!r} == "sigterm":
            time.sleep(60)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    pid = int(child.stdout.readline())
    if how == "sigterm":
        child.send_signal(signal.SIGTERM)
    child.wait(timeout=30)
    for _ in range(100):  # the kernel delivers PDEATHSIG asynchronously
        if _gone(pid):
            break
        time.sleep(0.05)
    assert _gone(pid)
