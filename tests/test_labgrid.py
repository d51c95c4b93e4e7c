"""Boards in labgrid places, for real: a labgrid coordinator and exporter on localhost (started here), the
exporter offering emulated boards (QEMU behind ``python -m edgekit.labgrid.emulator``) as ``NetworkSerialPort``s.

Places: ``ek-m4`` (serial port + the emulator's firmware loader, tagged ``edgekit_board=qemu-cortex-m4``, no
firmware until flashed) and ``ek-serial`` (a serial port only, untagged, the firmware already running).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool

from edgekit.errors import DeviceError, UsageError

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]


def _fc_model(path: Path, seed: int) -> Path:
    from tflite_single_op import T, single_op_model

    w = np.random.default_rng(seed).integers(-127, 128, (4, 16), dtype=np.int8)
    path.write_bytes(single_op_model("FULLY_CONNECTED",
                                     [T((1, 16), scale=0.05, zero_point=3), T((4, 16), scale=[0.01] * 4, data=w),
                                      T((4,), "int32", scale=[0.0005] * 4, data=np.arange(4, dtype=np.int32))],
                                     [T((1, 4), scale=0.1, zero_point=-2)]))
    return path


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny FULLY_CONNECTED models (a_model, b_model); a generated and built for qemu-cortex-m4 (b is deployed
    through a place by the ``deployed_b`` fixture)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.buildsys import build
    from edgekit.generation import generate

    work = tmp_path_factory.mktemp("lg_projects")
    out = {"a_model": _fc_model(work / "a.tflite", 1), "b_model": _fc_model(work / "b.tflite", 2), "a": work / "fw_a"}
    generate(out["a_model"], "qemu-cortex-m4", out_dir=out["a"])
    build(out["a"])
    return out


@pytest.fixture(scope="module")
def lab(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    need_module("labgrid")
    from labgrid_lab import Lab

    from edgekit.target import resolve_target

    lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.add_board("m4")
        lab.add_board("serial", elf=resolve_target(projects["a"]).elf)
        lab.start_exporter(loaders=("m4",))
        lab.add_place("ek-m4", "m4", board_tag="qemu-cortex-m4")
        lab.add_place("ek-serial", "serial")
        yield lab
    finally:
        lab.close()
    assert lab.qemus() == [], "QEMU processes of the lab are still running"
    assert all(p.poll() is not None for p in lab.procs), "lab processes are still running"


def test_acquire_flash_bench_release_matches_direct_qemu(lab, projects: dict[str, Path], tmp_path: Path) -> None:
    from edgekit import bench
    from edgekit.labgrid import acquire

    direct = bench(projects["a"], runs=3, cycles=False)
    with acquire("ek-m4", coordinator=lab.address) as place:
        assert lab.owner("ek-m4") == place.owner and place.board_id == "qemu-cortex-m4"
        flashed = place.flash(projects["a"])
        assert flashed.method == "edgekit-loader" and flashed.verified is True and flashed.reset
        assert place.port.startswith("socket://127.0.0.1:")
        remote = place.bench(projects["a"], runs=3, save=tmp_path / "r.json")
    assert lab.owner("ek-m4") is None
    # the same firmware, emulated the same way, reached through labgrid: the same instruction counts
    assert remote.basis == direct.basis == "instructions"
    assert remote.timing["ticks"] == direct.timing["ticks"] and remote.median_count == direct.median_count
    assert remote.output == direct.output and remote.device["model_sha256_16"] == direct.device["model_sha256_16"]
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["transport"]["kind"] == "serial" and saved["transport"]["labgrid"]["place"] == "ek-m4"
    assert "ek-exporter/m4/NetworkSerialPort/NetworkSerialPort" in saved["transport"]["labgrid"]["resources"]


def test_a_sweep_cell_on_a_place(lab, projects: dict[str, Path]) -> None:
    """What item 3's cells call: the board from the tag without acquiring, then flash + bench + validate + release."""
    from edgekit.labgrid import measure_on_place, place_board

    assert place_board("ek-m4", coordinator=lab.address) == "qemu-cortex-m4"
    assert place_board("ek-serial", coordinator=lab.address) is None
    inputs = np.random.default_rng(5).integers(-128, 128, (2, 1, 16), dtype=np.int8)
    res, checked = measure_on_place("ek-m4", projects["a"], coordinator=lab.address, model=projects["a_model"],
                                    inputs=inputs, runs=2, wait=30)
    assert res.transport["labgrid"]["place"] == "ek-m4" and res.runs == 2 and res.basis == "instructions"
    assert checked.ok and checked.inputs == 2
    assert lab.owner("ek-m4") is None


def test_place_is_released_after_a_failing_bench_and_after_ctrl_c(lab, deployed_b: tuple[Path, dict]) -> None:
    from edgekit.labgrid import acquire

    # ek-serial runs project a's firmware: benchmarking project b there is refused inside the acquired block
    with pytest.raises(UsageError, match=r"runs firmware for model .*the project is for"):
        with acquire("ek-serial", coordinator=lab.address, boards_dirs=None) as place:
            place.bench(deployed_b[0], board="qemu-cortex-m4", runs=1)
    assert lab.owner("ek-serial") is None
    with pytest.raises(KeyboardInterrupt), acquire("ek-serial", coordinator=lab.address):
        raise KeyboardInterrupt
    assert lab.owner("ek-serial") is None


def test_serial_only_place_validates_running_firmware_and_refuses_flash(lab, projects: dict[str, Path]) -> None:
    from edgekit.labgrid import acquire

    with acquire("ek-serial", coordinator=lab.address) as place:
        assert place.board_id is None
        with pytest.raises(UsageError, match="does not say which board"):
            place.board()
        with pytest.raises(UsageError, match=r"no way to load firmware .*NetworkSerialPort 'NetworkSerialPort'"):
            place.flash(projects["a"])
        res = place.validate(projects["a_model"], project_dir=projects["a"],
                             inputs=np.random.default_rng(3).integers(-128, 128, (3, 1, 16), dtype=np.int8))
    assert res.ok and res.inputs == 3 and res.transport["labgrid"]["place"] == "ek-serial"
    assert lab.owner("ek-serial") is None


def test_places_acquired_from_threads_at_once(lab) -> None:
    """A sweep runs cells on different places in parallel: one session per place, each thread its own loop."""
    import threading

    from edgekit.labgrid import acquire

    seen: list[tuple[str, str | None]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def cell(name: str) -> None:
        try:
            for _ in range(2):
                with acquire(name, coordinator=lab.address) as place:
                    barrier.wait(timeout=30)  # both places held at the same moment
                    seen.append((name, lab.owner(name) if place.owner else None))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=cell, args=(n,)) for n in ("ek-m4", "ek-serial")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(seen) == 4 and all(owner for _, owner in seen), (errors, seen)
    assert lab.owner("ek-m4") is None and lab.owner("ek-serial") is None


def test_a_place_held_by_someone_else_names_the_owner(lab) -> None:
    import threading

    from edgekit.labgrid import acquire

    lab.client("-p", "ek-serial", "acquire", user="benchpc/alice")
    try:
        with pytest.raises(DeviceError, match=r"'ek-serial' is acquired by benchpc/alice") as exc, \
                acquire("ek-serial", coordinator=lab.address):
            pass
        assert "wait until benchpc/alice releases it" in (exc.value.hint or "")
        assert lab.owner("ek-serial") == "benchpc/alice"  # refused, and not taken from alice
        # with wait=: acquired as soon as alice releases it
        alice = threading.Thread(target=lab.client, args=("-p", "ek-serial", "release"),
                                 kwargs={"user": "benchpc/alice"})
        alice.start()
        with acquire("ek-serial", coordinator=lab.address, wait=60) as place:
            assert lab.owner("ek-serial") == place.owner != "benchpc/alice"
        alice.join()
    finally:
        if lab.owner("ek-serial") == "benchpc/alice":
            lab.client("-p", "ek-serial", "release", user="benchpc/alice")


def test_missing_coordinator_and_missing_place_are_clear(lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from labgrid_lab import _free_port

    from edgekit.labgrid import acquire

    dead = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("LG_COORDINATOR", dead)
    with pytest.raises(DeviceError, match=f"could not reach the labgrid coordinator at {dead}") as exc, \
            acquire("ek-m4"):
        pass
    assert "--coordinator" in (exc.value.hint or "") and "LG_COORDINATOR" in (exc.value.hint or "")
    with pytest.raises(UsageError, match=r"place 'nope' does not exist .*ek-m4, ek-serial"), \
            acquire("nope", coordinator=lab.address):
        pass


@pytest.fixture(scope="module")
def deployed_b(lab, projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """``edgekit deploy b.tflite --labgrid ek-m4 --json``: generate, build, flash through the place, bench there
    (no --board: the place's edgekit_board tag). Returns the project directory and the printed JSON."""
    import contextlib
    import io
    import os

    from edgekit.cli import run

    out = tmp_path_factory.mktemp("deploy_b")
    buf = io.StringIO()
    old = os.environ.get("LG_COORDINATOR")
    os.environ["LG_COORDINATOR"] = lab.address
    try:
        with contextlib.redirect_stdout(buf):
            rc = run(["deploy", str(projects["b_model"]), "--labgrid", "ek-m4", "-o", str(out), "--runs", "2",
                      "--json"])
    finally:
        os.environ.pop("LG_COORDINATOR") if old is None else os.environ.__setitem__("LG_COORDINATOR", old)
    assert rc == 0, buf.getvalue()[-2000:]
    return out / "project", json.loads(buf.getvalue())


def test_cli_deploy_flash_and_bench_with_labgrid(lab, projects: dict[str, Path], deployed_b: tuple[Path, dict],
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.cli import run

    project_b, deployed = deployed_b
    assert deployed["flash"]["method"] == "edgekit-loader" and deployed["flash"]["verified"] is True
    assert deployed["bench"]["transport"]["labgrid"]["place"] == "ek-m4"
    assert deployed["bench"]["board"]["id"] == "qemu-cortex-m4" and deployed["bench"]["runs"] == 2
    assert lab.owner("ek-m4") is None
    monkeypatch.setenv("LG_COORDINATOR", lab.address)
    assert run(["flash", str(projects["a"]), "--labgrid", "ek-m4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    assert run(["bench", str(projects["a"]), "--labgrid", "ek-m4", "--runs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["transport"]["labgrid"]["place"] == "ek-m4" and out["runs"] == 2
    # a project for another model than the place runs: exit 2, the place released
    assert run(["bench", str(project_b), "--labgrid", "ek-m4"]) == 2
    assert "runs firmware for model" in capsys.readouterr().err
    assert lab.owner("ek-m4") is None
    assert run(["bench", str(project_b), "--labgrid", "ek-m4", "--port", "/dev/null"]) == 2
    assert "pass one" in capsys.readouterr().err
    assert run(["bench", str(project_b), "--labgrid", "ek-m4", "--host", "local"]) == 2
    assert "--labgrid and --host" in capsys.readouterr().err


def test_cli_killed_mid_bench_releases_the_place(lab, projects: dict[str, Path]) -> None:
    """SIGTERM to ``edgekit bench --labgrid`` while it runs: exit code 130, the place free again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from edgekit.labgrid import acquire

    with acquire("ek-m4", coordinator=lab.address) as place:
        place.flash(projects["a"])
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", "bench", str(projects["a"]), "--labgrid", "ek-m4",
                             "--runs", "1000000"], env={**lab.env, "LG_USERNAME": "ci-runner"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while lab.owner("ek-m4") is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (lab.owner("ek-m4") or "").endswith("/ci-runner")
        time.sleep(0.5)  # into the benchmark
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert lab.owner("ek-m4") is None


def test_emulator_loader_refuses_what_is_not_firmware(tmp_path: Path) -> None:
    """The loader's protocol without QEMU: a non-ELF upload and an unknown request are refused, saying why."""
    import socket
    import threading

    from edgekit.boards import load_board
    from edgekit.labgrid.emulator import EmulatedBoard, load_firmware

    board = EmulatedBoard(load_board("qemu-cortex-m4"), work_dir=tmp_path)
    server = threading.Thread(target=board.serve_loader, daemon=True)
    server.start()
    try:
        (tmp_path / "fw.bin").write_bytes(b"\x00" * 64)
        with pytest.raises(DeviceError, match=r"refused fw.bin: error not an ELF image"):
            load_firmware("127.0.0.1", board.loader_port, tmp_path / "fw.bin")
        for request, answer in ((b"info\n", b"firmware none -\n"), (b"erase\n", b"error unknown request 'erase'")):
            with socket.create_connection(("127.0.0.1", board.loader_port), timeout=10) as s:
                s.sendall(request)
                assert s.makefile("rb").readline().startswith(answer)
    finally:
        board.close()
        server.join(timeout=5)
    with pytest.raises(DeviceError, match=r"emulated board loader 127.0.0.1:\d+: .*refused"):
        load_firmware("127.0.0.1", board.loader_port, tmp_path / "fw.bin")
    with pytest.raises(DeviceError, match="has no QEMU stand-in"):
        EmulatedBoard(load_board("nucleo-l4r5zi"))


def test_real_board_place_flashes_with_edgekit_on_the_exporter_host(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """A place holding a board's exported probe: scp + ``ssh HOST edgekit flash`` (argv checked, proc.run patched:
    the house rule for flashers); the remote JSON result becomes the flash result."""
    import hashlib
    import subprocess

    from elf_util import make_elf

    from edgekit import proc
    from edgekit.labgrid import LabgridPlace, Resource

    seen: list[tuple[list[str], bool]] = []

    def fake_run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        seen.append(([str(a) for a in argv], bool(kw.get("dry_run"))))
        out = json.dumps({"verified": True, "reset": True, "warnings": ["probe 0670FF"]}) if argv[0] == "ssh" else ""
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(proc, "run", fake_run)
    monkeypatch.setattr(proc, "which", lambda p: f"/usr/bin/{p}")
    elf = make_elf(tmp_path / "fw.elf", [(0x0800_0000, bytes(range(200)))], board="nucleo-l4r5zi")
    usb = {"host": "lab-pc-3", "busnum": 1, "devnum": 7, "path": "1-1.2", "vendor_id": 0x0483, "model_id": 0x374B,
           "extra": {"proxy": "lab-pc-3", "proxy_required": False}}
    place = LabgridPlace("rack-3", "lab:20408", "ci/me", "nucleo-l4r5zi", resources=[
        Resource("lab-pc-3", "l4", "NetworkSerialPort", "NetworkSerialPort",
                 {"host": "lab-pc-3", "port": 4001, "protocol": "rfc2217", "speed": 115200}, True),
        Resource("lab-pc-3", "l4", "NetworkUSBDebugger", "USBDebugger", usb, True)])
    assert place.can_flash and place.port == "rfc2217://lab-pc-3:4001"
    res = place.flash(elf)
    remote = f"/tmp/edgekit-flash-{hashlib.sha256(elf.read_bytes()).hexdigest()[:16]}.elf"
    assert seen == [(["scp", "-q", "-o", "BatchMode=yes", str(elf), f"lab-pc-3:{remote}"], False),
                    (["ssh", "-o", "BatchMode=yes", "lab-pc-3", "edgekit", "flash", remote, "--board",
                      "nucleo-l4r5zi", "--json"], False)]
    assert res.method == "labgrid-exporter" and res.verified is True and res.reset
    assert "lab-pc-3: probe 0670FF" in res.warnings
    place.tags["edgekit_probe"] = "0670FF"  # several probes on that host: the place's tag names its own
    place.flash(elf)
    assert seen[-1][0][-3:] == ["--probe", "0670FF", "--json"]
    seen.clear()
    dry = place.flash(elf, dry_run=True)
    assert [d for _, d in seen] == [True, True] and len(dry.steps) == 2 and "rack-3" in dry.steps[0]
    with pytest.raises(UsageError, match=r"holds a nucleo-l4r5zi .*--board is for qemu-cortex-m4"):
        place.flash(elf, board="qemu-cortex-m4")
