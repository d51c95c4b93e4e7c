"""Firmware core, ``edgekit generate`` and ``edgekit build``.

- The protocol parser (firmware_templates/common/ek_protocol.c) compiled for the host with ASan/UBSan and
  driven by scripted byte streams (valid commands, every documented error, garbage).
- Project generation: files, config, atomicity, errors.
- Builds for every QEMU board, booted in qemu-system-arm and driven over ``socket://``: the protocol round
  trip, error cases, binary upload, a HardFault report and ``ek-exit``.
- The real AOT code generator end to end: the same generated C on the host and in QEMU gives the same bytes.

The hand-written model in tests/fixtures/firmware/ stands in for generated code in the protocol tests only.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, need_module, need_tool, shared_model

from edgekit.boards import load_board
from edgekit.buildsys import build
from edgekit.codegen.project import generate_aot
from edgekit.errors import BuildError, ToolMissing, UsageError
from edgekit.generation import generate
from edgekit.manifest import PROJECT_FILE

COMMON = REPO / "firmware_templates" / "common"
HOST = REPO / "firmware_templates" / "host"
FIXTURE = REPO / "tests" / "fixtures" / "firmware"
QEMU_BOARDS = ["qemu-cortex-m3", "qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m33", "qemu-cortex-m55"]
HOST_CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
               "-fno-sanitize-recover=all"]
KWS = "mlperf_tiny/kws_ds_cnn_int8.tflite"
HELLO = "tflm_examples/hello_world_int8.tflite"
IN_BYTES = 490  # the fixture model's input (like MLPerf Tiny KWS)


# ------------------------------------------------------------------------------ helpers ---------------

def fixture_outputs(data: bytes) -> tuple[bytes, bytes]:
    """What the fixture model computes (see tests/fixtures/firmware/ek_model.c)."""
    padded = data + bytes(IN_BYTES - len(data))
    out0 = bytearray(12)
    for k, b in enumerate(padded):
        out0[k % 12] = (out0[k % 12] + b) % 256
    s = sum(b - 256 if b > 127 else b for b in padded)
    return bytes(out0), s.to_bytes(4, "little", signed=True)


def results_line(out0: bytes) -> str:
    """m-results-[...] for int8 output with scale 1/256, zero point -128 (as the KWS model's output 0)."""
    vals = [((b - 256 if b > 127 else b) + 128) / 256 for b in out0]
    return "m-results-[" + ",".join(f"{v:.3f}" for v in vals) + "]"


def split_replies(text: str) -> list[list[str]]:
    """Device output -> one list of lines per reply (each ended by m-ready)."""
    replies, cur = [], []
    for line in text.split("\r\n"):
        if line == "m-ready":
            replies.append(cur)
            cur = []
        elif line:
            cur.append(line)
    if cur:
        replies.append(cur)
    return replies


def compile_host(sources: list[Path], includes: list[Path], exe: Path) -> Path:
    """Compile the protocol + host port + a model for the host, with sanitizers and -Werror."""
    gcc = need_tool("gcc")
    argv = [gcc, *HOST_CFLAGS, *(f"-I{d}" for d in includes), *map(str, sources), "-o", str(exe)]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return exe


def run_host(exe: Path, stream: bytes) -> str:
    res = subprocess.run([str(exe)], input=stream, capture_output=True, check=False, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert not res.stderr, res.stderr.decode(errors="replace")  # no sanitizer report
    return res.stdout.decode("ascii")


@pytest.fixture(scope="module")
def host_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("host")
    sources = [COMMON / "ek_protocol.c", HOST / "ek_port_host.c", HOST / "ek_host_main.c", FIXTURE / "ek_model.c"]
    return compile_host(sources, [FIXTURE, COMMON], out / "ekhost")


def fixture_sources(m, model_dir: Path, sparse: str = "auto", features: object = None) -> tuple[int, int, str]:
    """The hand-written fixture model in place of the AOT generator's output (``generate_aot(model_sources=)``)."""
    shutil.copyfile(FIXTURE / "ek_model.h", model_dir / "ek_model.h")
    shutil.copyfile(FIXTURE / "ek_model.c", model_dir / "ek_model.c")
    return 512, 0, "fixture_kws_like"


def generate_fixture(model, board: str = "qemu-cortex-m4", *, boards_dirs: list[Path] | None = None, **kw: object):
    """A firmware project for ``board`` with the fixture model in it (a GenerateResult)."""
    return generate_aot(model, load_board(board, boards_dirs), model_sources=fixture_sources, **kw)


# ------------------------------------------------------------------------------ protocol on the host ---

def test_protocol_round_trip_on_host(host_exe: Path) -> None:
    data = bytes(random.Random(1).randrange(256) for _ in range(IN_BYTES))
    hexdata = data.hex()
    stream = ["name%", "profile%", "ek-info%", f"db load {IN_BYTES}%"]
    stream += [f"db {hexdata[i:i + 248]}%" for i in range(0, len(hexdata), 248)]
    stream += ["infer 3 1%", "results%", "ek-laps%", "ek-out%", "ek-out 1%", "ek-canary%", "\r\n  infer%"]
    replies = split_replies(run_host(host_exe, "".join(stream).encode()))
    out0, out1 = fixture_outputs(data)
    assert replies[0] == ["m-boot-[edgekit]"]
    assert replies[1] == ["m-name-dut-[edgekit]"]
    assert replies[2] == ["m-profile-[edgekit-test]", "m-model-[fixture_kws_like]"]
    assert replies[3] == ["m-ek-runtime-[fixture 0]", "m-ek-model-[fixture_kws_like 0011223344556677]",
                          "m-ek-arena-[510 512]", "m-ek-inputs-[490]", "m-ek-outputs-[12,4]",
                          "m-ek-timer-[host 1000000]", "m-ek-line-max-[256]", "m-ek-board-[host-test]"]
    assert replies[4] == [f"m-[Expecting {IN_BYTES} bytes]"]
    n_chunks = -(-len(hexdata) // 248)
    assert all(r == [] for r in replies[5:4 + n_chunks])
    assert replies[4 + n_chunks] == ["m-load-done"]
    infer = replies[5 + n_chunks]
    assert infer[:3] == ["m-warmup-start-1", "m-warmup-done", "m-infer-start-3"]
    assert infer[3].startswith("m-lap-us-") and infer[4].startswith("m-lap-us-")
    assert int(infer[4][9:]) > int(infer[3][9:])
    # the fixture overwrites its input on every invoke: equal results prove the input is re-copied
    assert infer[5:] == ["m-infer-done", results_line(out0)]
    assert replies[6 + n_chunks] == [results_line(out0)]
    assert replies[7 + n_chunks] == ["m-ek-laps-n-[3]", "m-ek-laps-[1000,1000,1000]"]
    assert replies[8 + n_chunks] == [f"m-ek-out-0-[{out0.hex()}]", "m-ek-out-0-end"]
    assert replies[9 + n_chunks] == [f"m-ek-out-1-[{out1.hex()}]", "m-ek-out-1-end"]
    assert replies[10 + n_chunks] == ["m-ek-canary-[ok]"]
    assert replies[11 + n_chunks][-1] == results_line(out0)  # 'infer%' = 1 run, 0 warm-up
    assert replies[11 + n_chunks][0] == "m-warmup-start-0"


@pytest.mark.parametrize(("commands", "expected"), [
    ("infer%", ["e-[infer: no input loaded]"]),
    ("results%", ["e-[results: no inference yet]"]),
    ("ek-out%", ["e-[ek-out: no inference yet]"]),
    ("ek-out 2%", ["e-[ek-out: no output 2]"]),
    ("db 00%", ["e-[db: no load in progress]"]),
    ("db load 0%", ["e-[db load: size must be > 0]"]),
    ("db load 491%", ["e-[db load: 491 bytes exceeds buffer of 490]"]),
    ("db load 99999999999%", ["e-[db load: malformed size]"]),
    ("db load -1%", ["e-[db load: malformed size]"]),
    ("db load%", ["e-[db load: missing size]"]),
    ("db%", ["e-[db: missing argument]"]),
    ("infer 0%", ["e-[infer: N must be > 0]"]),
    ("infer x%", ["e-[infer: malformed number]"]),
    ("infer 1 2 3%", ["e-[infer: too many arguments]"]),
    ("ek-bin 0%", ["e-[ek-bin: size must be > 0]"]),
    ("ek-bin 500%", ["e-[ek-bin: 500 bytes exceeds buffer of 490]"]),
    ("ek-exit 300%", ["e-[ek-exit: code must be 0..255]"]),
    ("bogus%", ["e-[unknown command: bogus]"]),
    ("a]b[c\x01%", ["e-[unknown command: a_b_c_]"]),
    ("a b c d e%", ["e-[too many arguments]"]),
    ("x" * 257 + "%", ["e-[line too long]"]),
    ("   %", []),
])
def test_protocol_errors_on_host(host_exe: Path, commands: str, expected: list[str]) -> None:
    replies = split_replies(run_host(host_exe, commands.encode("latin-1")))
    assert replies[0] == ["m-boot-[edgekit]"]
    assert replies[1] == expected


def test_protocol_db_chunk_errors_store_nothing(host_exe: Path) -> None:
    stream = "db load 2%db 0%db 0g%db 000102%db 01%db 02%db 03%infer%"
    replies = split_replies(run_host(host_exe, stream.encode()))
    assert replies[1] == ["m-[Expecting 2 bytes]"]
    assert replies[2:8] == [["e-[db: malformed hex]"], ["e-[db: malformed hex]"], ["e-[db: too many bytes]"], [],
                            ["m-load-done"], ["e-[db: no load in progress]"]]
    out0, _ = fixture_outputs(bytes([1, 2]))  # only the two accepted bytes were stored
    assert replies[8][-1] == results_line(out0)


def test_protocol_line_max_boundary_and_recovery(host_exe: Path) -> None:
    ok = "db " + "0" * 252 + "%"  # 255 characters: 126 bytes
    at_max = "x" * 256 + "%"  # exactly EK_LINE_MAX characters
    stream = "db load 490%" + ok + at_max + "y" * 10_000 + "%name%"
    replies = split_replies(run_host(host_exe, stream.encode()))
    assert replies[2] == []  # 126 bytes stored
    assert replies[3] == ["e-[unknown command: " + "x" * 32 + "]"]  # 256 characters still fit the buffer
    assert replies[4] == ["e-[line too long]"]
    assert replies[5] == ["m-name-dut-[edgekit]"]


def test_protocol_binary_upload_and_runtime_error(host_exe: Path) -> None:
    data = bytes([0x25, 0x25]) + bytes(range(256)) * 2  # '%' bytes and all values; 514 > 490 is cut below
    data = data[:IN_BYTES]
    stream = f"ek-bin {IN_BYTES}%".encode() + data + b"infer%ek-out%ek-bin 2%\x7f\x7finfer 5%results%"
    replies = split_replies(run_host(host_exe, stream))
    out0, _ = fixture_outputs(data)
    assert replies[1] == [f"m-ek-bin-ready-{IN_BYTES}", "m-load-done"]
    assert replies[2][-1] == results_line(out0)
    assert replies[3] == [f"m-ek-out-0-[{out0.hex()}]", "m-ek-out-0-end"]
    assert replies[4] == ["m-ek-bin-ready-2", "m-load-done"]
    assert replies[5] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-5", "e-[infer: runtime error 42]"]
    assert replies[6] == ["e-[results: no inference yet]"]


def test_protocol_binary_upload_times_out(host_exe: Path) -> None:
    replies = split_replies(run_host(host_exe, b"ek-bin 10%abc"))
    assert replies[1] == ["m-ek-bin-ready-10", "e-[ek-bin: timeout after 3 of 10 bytes]"]


def test_protocol_survives_garbage(host_exe: Path) -> None:
    rng = random.Random(7)
    alphabet = b"%db load infer ek-bin ek-out 0123456789abcdefx \r\n\x00\xff"
    chunks = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 400))) for _ in range(300)]
    chunks += [bytes(rng.randrange(256) for _ in range(5000))]
    out = run_host(host_exe, b"".join(chunks) + b"%name%")
    assert out.endswith("m-name-dut-[edgekit]\r\nm-ready\r\n")
    assert all(line.startswith(("m-", "e-[")) for line in out.split("\r\n") if line)


# ------------------------------------------------------------------------------ generate ---------------

def test_generate_project_files_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = shared_model(KWS)
    res = generate_fixture(model, "qemu-cortex-m33", out_dir=tmp_path / "p", stack_bytes=4096)
    root = tmp_path / "p"
    assert res.project_dir == root and res.board == "qemu-cortex-m33" and res.input_bytes == IN_BYTES
    for f in ("CMakeLists.txt", "cmake/arm-none-eabi.cmake", "linker.ld", PROJECT_FILE, "src/ek_config.h",
              "src/ek_protocol.c", "src/ek_startup.c", "src/ek_uart_cmsdk.c", "model/ek_model.c"):
        assert (root / f).is_file(), f
        assert f in res.files
    cfg = (root / "src" / "ek_config.h").read_text()
    assert "#define EK_INPUT_BYTES 490u" in cfg
    assert "#define EK_OUT0_DTYPE 1" in cfg and "#define EK_OUT0_ZERO_POINT (-128)" in cfg
    assert "#define EK_OUT0_SCALE 3.906250000e-03f" in cfg
    assert "#define EK_UART_BASE 0x50200000u" in cfg and "#define EK_TIMER_HZ 20000000u" in cfg
    ld = (root / "linker.ld").read_text()
    assert "FLASH (rx) : ORIGIN = 0x10000000, LENGTH = 4096K" in ld
    assert "RAM (rwx) : ORIGIN = 0x38000000, LENGTH = 4096K" in ld
    assert "EK_STACK_BYTES = 4096;" in ld
    cmake = (root / "CMakeLists.txt").read_text()
    assert "-mcpu=cortex-m33" in cmake and "-Werror" in cmake and "--gc-sections" in cmake
    meta = json.loads((root / PROJECT_FILE).read_text())
    assert meta["board"] == "qemu-cortex-m33" and meta["runtime"] == "edgekit"
    assert meta["model"]["sha256"] == res.model_sha256 and len(res.model_sha256) == 64
    assert meta["arena_bytes"] == 512 and meta["qemu"]["machine"] == "mps2-an505"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_generate_is_atomic_and_replaces_only_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = shared_model(KWS)
    out = tmp_path / "p"
    generate_fixture(model, out_dir=out)
    (out / "build").mkdir()
    generate_fixture(model, out_dir=out, name="again")  # an earlier project is replaced (build dir included)
    assert json.loads((out / PROJECT_FILE).read_text())["name"] == "again"
    assert not (out / "build").exists()

    def boom(m, model_dir: Path, sparse: str = "auto", features: object = None) -> tuple[int, int, str]:
        (model_dir / "half.c").write_text("/* half */")
        raise UsageError("AOT failed half way")

    m4 = load_board("qemu-cortex-m4")
    with pytest.raises(UsageError, match="half way"):
        generate_aot(model, m4, out_dir=tmp_path / "q", model_sources=boom)
    assert not (tmp_path / "q").exists()
    with pytest.raises(UsageError, match="half way"):
        generate_aot(model, m4, out_dir=out, model_sources=boom)
    assert json.loads((out / PROJECT_FILE).read_text())["name"] == "again"  # old project untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an edgekit project"):
        generate_fixture(model, out_dir=other)
    assert (other / "notes.txt").read_text() == "mine"


def test_generate_rejects_what_it_cannot_do(tmp_path: Path) -> None:
    model = shared_model(HELLO)
    with pytest.raises(UsageError, match="unknown runtime"):
        generate(model, runtime="onnx", out_dir=tmp_path / "a")
    with pytest.raises(UsageError, match=r"is xtensa, not an Arm Cortex-M"):  # no bare-metal core for Xtensa
        generate(model, board="esp32-s3-devkitc-1", runtime="edgekit", out_dir=tmp_path / "a", build_system="cmake")
    with pytest.raises(UsageError, match="project name"):
        generate(model, out_dir=tmp_path / "a", name="bad name")
    assert not (tmp_path / "a").exists()


def test_cli_generate_errors(tmp_path: Path) -> None:
    from edgekit.cli import run

    model = shared_model(HELLO)
    assert run(["generate", str(model), "--runtime", "onnx", "-o", str(tmp_path / "x")]) == 2  # click's choice
    assert run(["build", str(tmp_path)]) == 2  # not a project


# ------------------------------------------------------------------------------ QEMU --------------------

class QemuBoard:
    """Boot an ELF in qemu-system-arm with the UART on a TCP socket; send commands, collect replies."""

    def __init__(self, elf: Path, machine: str, cpu: str) -> None:
        import serial

        qemu = need_tool("qemu-system-arm")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.argv = [qemu, "-machine", machine, "-cpu", cpu, "-nographic", "-monitor", "none",
                     "-icount", "shift=0", "-semihosting-config", "enable=on,target=native",
                     "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", "-kernel", str(elf)]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.link = None
        try:
            deadline = time.monotonic() + 20
            while self.link is None:
                try:
                    self.link = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=30)
                except serial.SerialException:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.05)
            self.boot = self.read_until("m-ready")  # wait=on: the guest starts once we are connected
        except BaseException:
            self.close()
            raise

    def read_until(self, last: str) -> list[str]:
        lines: list[str] = []
        while True:
            raw = self.link.readline()
            assert raw.endswith(b"\r\n"), f"timed out; got {lines!r} + {raw!r}"
            line = raw.decode("ascii").rstrip("\r\n")
            if line == last:
                return lines
            lines.append(line)

    def cmd(self, text: str | bytes) -> list[str]:
        self.link.write(text if isinstance(text, bytes) else text.encode())
        return self.read_until("m-ready")

    def wait_exit(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="module")
def fixture_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One build per QEMU board with the fixture model (cached for the module)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    model = shared_model(KWS)
    root = tmp_path_factory.mktemp("fw")
    builds = {}
    for board in QEMU_BOARDS:
        generate_fixture(model, board, out_dir=root / board)
        builds[board] = root / board
    return builds


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_firmware_protocol_in_qemu(fixture_builds: dict[str, Path], board_id: str) -> None:
    from edgekit.boards import load_board

    board = load_board(board_id)
    res = build(fixture_builds[board_id])
    assert res.fits and res.flash_bytes > 0 and res.stack_bytes == 8192
    assert res.ram_bytes >= res.stack_bytes + res.arena_bytes and res.arena_bytes == 512
    assert res.elf.is_file() and (res.elf.parent / "edgekit_build.json").is_file()

    data = bytes(random.Random(board_id).randrange(256) for _ in range(IN_BYTES))
    out0, out1 = fixture_outputs(data)
    dev = QemuBoard(res.elf, board.qemu.machine, board.qemu.cpu)
    try:
        assert dev.boot == ["m-boot-[edgekit]"]
        assert dev.cmd("name%") == ["m-name-dut-[edgekit]"]
        info = dev.cmd("ek-info%")
        assert f"m-ek-board-[{board_id}]" in info and "m-ek-inputs-[490]" in info
        assert f"m-ek-timer-[systick {board.firmware.timer_hz}]" in info
        # hex upload, in chunks as a host would send them
        assert dev.cmd(f"db load {IN_BYTES}%") == [f"m-[Expecting {IN_BYTES} bytes]"]
        hexdata = data.hex()
        replies = [dev.cmd(f"db {hexdata[i:i + 248]}%") for i in range(0, len(hexdata), 248)]
        assert replies[-1] == ["m-load-done"] and all(r == [] for r in replies[:-1])
        infer = dev.cmd("infer 4 2%")
        assert infer[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-4"]
        assert infer[-2:] == ["m-infer-done", results_line(out0)]
        assert dev.cmd("ek-out 0%") == [f"m-ek-out-0-[{out0.hex()}]", "m-ek-out-0-end"]
        assert dev.cmd("ek-out 1%") == [f"m-ek-out-1-[{out1.hex()}]", "m-ek-out-1-end"]
        laps = dev.cmd("ek-laps%")
        assert laps[0] == "m-ek-laps-n-[4]"
        ticks = [int(t) for t in laps[1][len("m-ek-laps-["):-1].split(",")]
        assert len(ticks) == 4 and min(ticks) > 0 and max(ticks) - min(ticks) <= 1  # -icount: deterministic
        # binary upload of different data, then the same results path
        data2 = bytes(reversed(data))
        dev.link.write(f"ek-bin {IN_BYTES}%".encode())
        assert dev.read_until(f"m-ek-bin-ready-{IN_BYTES}") == []
        dev.link.write(data2)
        assert dev.read_until("m-ready") == ["m-load-done"]
        assert dev.cmd("infer%")[-1] == results_line(fixture_outputs(data2)[0])
        # documented errors
        assert dev.cmd("db 00%") == ["e-[db: no load in progress]"]
        assert dev.cmd("db load 491%") == ["e-[db load: 491 bytes exceeds buffer of 490]"]
        assert dev.cmd("x" * 300 + "%") == ["e-[line too long]"]
        assert dev.cmd("ek-bin 2%\x7f\x7f") == ["m-ek-bin-ready-2", "m-load-done"]
        assert dev.cmd("infer%")[-1] == "e-[infer: runtime error 42]"
        # memory checks
        assert dev.cmd("ek-canary%") == ["m-ek-canary-[ok]"]
        used, reserved = map(int, dev.cmd("ek-stack%")[0][len("m-ek-stack-["):-1].split())
        assert reserved == 8192 and 0 < used < reserved
        dev.link.write(b"ek-exit 0%")
        assert dev.wait_exit() == 0
    finally:
        dev.close()


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.parametrize("board_id", ["qemu-cortex-m4", "qemu-cortex-m33", "qemu-cortex-m55"])
def test_firmware_hardfault_report_in_qemu(fixture_builds: dict[str, Path], board_id: str) -> None:
    from edgekit.boards import load_board

    board = load_board(board_id)
    res = build(fixture_builds[board_id])
    dev = QemuBoard(res.elf, board.qemu.machine, board.qemu.cpu)
    try:
        assert dev.cmd("ek-bin 2%\x66\x66") == ["m-ek-bin-ready-2", "m-load-done"]
        dev.link.write(b"infer%")
        lines = dev.read_until("")  # the report starts on a fresh line
        lines += [dev.link.readline().decode().rstrip("\r\n")]
        assert lines[:3] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-1"]
        report = lines[-1]
        assert report.startswith("e-[hardfault pc=0x") and report.endswith("]") and len(report) == 27
        pc = int(report[18:26], 16)
        flash = board.memory.region("flash")
        assert flash.origin <= pc < flash.origin + flash.size_kb * 1024
        assert dev.wait_exit() == 3
    finally:
        dev.close()


@pytest.mark.toolchain
@pytest.mark.qemu
def test_dwt_timer_falls_back_to_systick_in_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A board asking for the DWT cycle counter still times with SysTick where CYCCNT does not count (QEMU)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    boards = tmp_path / "boards" / "test"
    boards.mkdir(parents=True)
    src = (REPO / "boards" / "qemu" / "qemu-cortex-m7.yaml").read_text()
    (boards / "dwt-m7.yaml").write_text(src.replace("id: qemu-cortex-m7", "id: dwt-m7")
                                        .replace("  timer: systick", "  timer: dwt"))
    generate_fixture(shared_model(KWS), "dwt-m7", out_dir=tmp_path / "p", boards_dirs=[tmp_path / "boards"])
    assert "#define EK_TIMER_DWT 1" in (tmp_path / "p" / "src" / "ek_config.h").read_text()
    res = build(tmp_path / "p", boards_dirs=[str(tmp_path / "boards")])
    dev = QemuBoard(res.elf, "mps2-an500", "cortex-m7")
    try:
        assert "m-ek-timer-[systick 25000000]" in dev.cmd("ek-info%")
        assert dev.cmd("ek-bin 1%\x01") == ["m-ek-bin-ready-1", "m-load-done"]
        assert dev.cmd("infer 2%")[-2] == "m-infer-done"
        dev.link.write(b"ek-exit 5%")
        assert dev.wait_exit() == 5
    finally:
        dev.close()


@pytest.mark.toolchain
def test_build_rejects_models_that_do_not_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    src = (REPO / "boards" / "qemu" / "qemu-cortex-m4.yaml").read_text()
    boards = tmp_path / "boards" / "test"
    boards.mkdir(parents=True)
    # 1) the linker region itself is too small: the link fails, reported as a fit error
    tiny = src.replace("id: qemu-cortex-m4", "id: tiny-flash").replace(
        "{name: FLASH, origin: 0x00000000, size_kb: 4096, kind: flash}",
        "{name: FLASH, origin: 0x00000000, size_kb: 4, kind: flash}").replace("flash_kb: 4096", "flash_kb: 4")
    (boards / "tiny-flash.yaml").write_text(tiny)
    # 2) the regions are large but the board's budget is small: caught after linking
    budget = src.replace("id: qemu-cortex-m4", "id: tiny-budget").replace("ram_kb: 4096", "ram_kb: 8")
    (boards / "tiny-budget.yaml").write_text(budget)
    model = shared_model(KWS)
    generate_fixture(model, "tiny-flash", out_dir=tmp_path / "a", boards_dirs=[tmp_path / "boards"])
    with pytest.raises(BuildError, match=r"model does not fit: needs \d+(\.\d)? KB flash, board tiny-flash has 4 KB"):
        build(tmp_path / "a")
    generate_fixture(model, "tiny-budget", out_dir=tmp_path / "b", boards_dirs=[tmp_path / "boards"])
    with pytest.raises(BuildError, match=r"model does not fit: needs \d+(\.\d)? KB RAM, board tiny-budget has 8 KB"):
        build(tmp_path / "b")
    report = json.loads((tmp_path / "b" / "build" / "edgekit_build.json").read_text())
    assert report["fits"] is False and report["ram_bytes"] > 8 * 1024


def test_build_tool_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_fixture(shared_model(KWS), out_dir=tmp_path / "p")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing, match="cmake") as exc:
        build(tmp_path / "p")
    assert "apt-get install cmake" in (exc.value.hint or "")


def test_build_reports_compile_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    generate_fixture(shared_model(KWS), out_dir=tmp_path / "p")
    (tmp_path / "p" / "model" / "ek_model.c").write_text("int broken(void) { return 1 }\n")
    with pytest.raises(BuildError, match="firmware build failed") as exc:
        build(tmp_path / "p")
    assert "edgekit_build.log" in (exc.value.hint or "")


# ------------------------------------------------------------------------------ real AOT end to end -----

def _need_aot() -> None:
    try:
        from edgekit.codegen.aot import generate_c  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the AOT generator is part of edgekit
        pytest.fail(f"edgekit.codegen.aot.generate_c unavailable: {exc}")


@pytest.mark.toolchain
@pytest.mark.qemu
def test_aot_model_same_bytes_on_host_and_in_qemu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Generated C for KWS: host build (ASan/UBSan, -Werror) and QEMU firmware give identical outputs."""
    _need_aot()
    from edgekit.boards import load_board
    from edgekit.cli import run

    model = shared_model(KWS)
    sample = shared_model("mlperf_tiny/kws_input_sample_int8.bin").read_bytes()
    out = tmp_path / "kws"
    assert run(["generate", str(model), "--board", "qemu-cortex-m4", "-o", str(out), "--json"]) == 0
    assert run(["build", str(out), "--json"]) == 0
    report = json.loads((out / "build" / "edgekit_build.json").read_text())
    assert report["weights_bytes"] > 20_000 and report["arena_bytes"] > 0
    assert report["flash_bytes"] > report["weights_bytes"] and report["fits"] is True
    capsys.readouterr()
    assert run(["build", str(out)]) == 0  # the table view (an up-to-date build: nothing recompiles)
    table = capsys.readouterr().out
    assert ".ek_weights" in table and "flash total" in table and f"{report['flash_bytes']:,}" in table

    exe = compile_host([out / "src" / "ek_protocol.c", HOST / "ek_port_host.c", HOST / "ek_host_main.c",
                        *sorted((out / "model").glob("*.c"))], [out / "src", out / "model"], tmp_path / "kws_host")
    host = split_replies(run_host(exe, f"ek-bin {len(sample)}%".encode() + sample + b"infer%ek-out%"))
    assert host[1] == [f"m-ek-bin-ready-{len(sample)}", "m-load-done"]

    board = load_board("qemu-cortex-m4")
    dev = QemuBoard(out / "build" / "firmware.elf", board.qemu.machine, board.qemu.cpu)
    try:
        info = dev.cmd("ek-info%")
        assert any(x.startswith("m-ek-runtime-[edgekit ") for x in info)
        dev.link.write(f"ek-bin {len(sample)}%".encode())
        dev.read_until(f"m-ek-bin-ready-{len(sample)}")
        dev.link.write(sample)
        assert dev.read_until("m-ready") == ["m-load-done"]
        infer = dev.cmd("infer 2 1%")
        assert infer[-1] == host[2][-1]  # m-results identical
        assert dev.cmd("ek-out%") == host[3]
        assert dev.cmd("ek-canary%") == ["m-ek-canary-[ok]"]
        dev.link.write(b"ek-exit 0%")
        assert dev.wait_exit() == 0
    finally:
        dev.close()


def test_env_paths_exist() -> None:
    """The templates the generator reads ship with the package layout it expects."""
    for f in ("ek_protocol.c", "ek_startup.c", "ek_config.h.j2", "ek_uart_cmsdk.c"):
        assert (COMMON / f).is_file()
    for f in ("CMakeLists.txt.j2", "linker.ld.j2", "arm-none-eabi.cmake.j2"):
        assert (REPO / "firmware_templates" / "cmake" / f).is_file()
    assert os.access(HOST / "ek_port_host.c", os.R_OK)


@pytest.mark.toolchain
def test_elf_names_its_board_and_flash_refuses_another(fixture_builds: dict[str, Path]) -> None:
    """The image carries its board id in a non-loaded ELF section; flashing it for another board fails."""
    from elftools.elf.elffile import ELFFile

    from edgekit.buildsys import build
    from edgekit.cli import run as cli_run

    res = build(fixture_builds["qemu-cortex-m4"])
    elf = res.elf
    with elf.open("rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".edgekit_board")
        assert sec is not None and not (sec["sh_flags"] & 0x2), "section must exist and not be allocated"
        assert sec.data().rstrip(b"\0") == b"qemu-cortex-m4"
    assert cli_run(["flash", str(elf), "--board", "qemu-cortex-m7", "--dry-run"]) == 1
    assert cli_run(["flash", str(elf), "--board", "qemu-cortex-m4", "--dry-run"]) == 0


def test_tflm_runtime_generates_a_project_and_build_names_what_is_missing(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`generate --runtime tflm` writes a TFLM CMake project; without a TFLM tree, build names what is missing."""
    from edgekit.cli import run

    need_module("tflite_micro")  # the arena is measured by the TFLM host interpreter
    monkeypatch.delenv("EDGEKIT_TFLM_DIR", raising=False)
    model = shared_model(HELLO)
    out = tmp_path / "fw"
    assert run(["generate", str(model), "--board", "qemu-cortex-m4", "--runtime", "tflm", "-o", str(out)]) == 0
    assert (out / "CMakeLists.txt").is_file() and (out / "edgekit_project.json").is_file()
    assert json.loads((out / "edgekit_project.json").read_text())["runtime"] == "tflm"
    with pytest.raises(ToolMissing, match="EDGEKIT_TFLM_DIR"):
        build(out)
    # --json and --arena-margin reach the TFLM generator; the margin is refused for the exact edgekit runtime
    from click.testing import CliRunner

    from edgekit.cli import main

    small = CliRunner().invoke(main, ["generate", str(model), "--runtime", "tflm", "--arena-margin", "0",
                                      "-o", str(tmp_path / "a"), "--json"])
    big = CliRunner().invoke(main, ["generate", str(model), "--runtime", "tflm", "--arena-margin", "4096",
                                    "-o", str(tmp_path / "b"), "--json"])
    assert small.exit_code == 0 and big.exit_code == 0, small.output + big.output
    arena = [json.loads((tmp_path / d / "edgekit_project.json").read_text())["arena_bytes"] for d in ("a", "b")]
    assert arena[1] - arena[0] >= 4096 - 16
    assert run(["generate", str(model), "--arena-margin", "10%", "-o", str(tmp_path / "c")]) == 2
