"""`edgekit build` for every TFLM project kind: the exact commands, what it says when a tool is missing, and a
real run of stand-in `idf.py` / `west` / `pio` / `cmake` programs (they record their argv and write the image
where the real tool would), so the subprocess path, the log, the ELF analysis and the image search all run."""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path

import pytest
from conftest import shared_model
from elf_util import make_elf

from edgekit.buildsys import build
from edgekit.buildsys.systems import plan_build
from edgekit.cli import run
from edgekit.codegen.tflm_project import generate_tflm
from edgekit.errors import BuildError, ToolMissing

KWS = "mlperf_tiny/kws_ds_cnn_int8.tflite"
BOARDS = {"qemu-cortex-m4": "cmake", "rpi-pico": "pico-sdk", "nrf52840dk": "zephyr",
          "esp32-s3-devkitc-1": "esp-idf", "arduino-nano-33-ble-sense": "platformio"}
ENV_VARS = ("EDGEKIT_TFLM_DIR", "PICO_SDK_PATH", "PICO_TFLMICRO_PATH", "ZEPHYR_BASE", "IDF_PATH")

# A stand-in for each build tool: appends its argv and cwd to $EK_FAKE_LOG, then writes $EK_FAKE_ELF where the
# real tool puts its image (read from its own arguments, as the real tool does), or fails with $EK_FAKE_FAIL.
FAKE_TOOL = r'''#!{python}
import json, os, re, shutil, sys
from pathlib import Path
prog, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(os.environ["EK_FAKE_LOG"], "a") as f:
    f.write(json.dumps({{"argv": [prog, *args], "cwd": os.getcwd()}}) + "\n")
if os.environ.get("EK_FAKE_FAIL") == prog:
    print("main.c:1: error: fake failure of " + prog, file=sys.stderr)
    sys.exit(2)
def opt(flag):
    return args[args.index(flag) + 1]
def put(path, *extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(os.environ["EK_FAKE_ELF"], path)
    for e in extra:
        path.with_suffix(e).write_bytes(b"image")
if prog == "idf.py":
    name = re.search(r"project\((\w+)\)", (Path(opt("-C")) / "CMakeLists.txt").read_text()).group(1)
    put(Path(opt("-B")) / (name + ".elf"), ".bin")
elif prog == "west":
    put(Path(opt("-d")) / "zephyr" / "zephyr.elf", ".hex", ".bin")
elif prog in ("pio", "platformio"):
    put(Path(opt("-d")) / ".pio" / "build" / opt("-e") / "firmware.elf", ".hex")
elif prog == "cmake" and "--build" in args:
    build = Path(opt("--build"))
    uf2 = "pico_sdk_init" in (build.parent / "CMakeLists.txt").read_text()
    put(build / "firmware.elf", ".bin", ".hex", *([".uf2"] if uf2 else []))
'''
TOOLS = ("idf.py", "west", "pio", "cmake", "arm-none-eabi-gcc", "arm-none-eabi-g++")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("tflm_build")
    model = shared_model(KWS)
    return {b: Path(generate_tflm(model, b, out / b, arena_bytes=24272)["project_dir"]) for b in BOARDS}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SDK variables, and a PATH holding only an empty directory (returned)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


@pytest.fixture
def fake_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: Path) -> Path:
    """The stand-in tools on PATH; returns the log file they append to."""
    bindir = tmp_path / "fake_bin"
    bindir.mkdir()
    for name in TOOLS:
        p = bindir / name
        p.write_text(FAKE_TOOL.format(python=sys.executable))
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "argv.jsonl"
    elf = make_elf(tmp_path / "fake.elf", [(0x0, b"\x00" * 64)])
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setenv("EK_FAKE_LOG", str(log))
    monkeypatch.setenv("EK_FAKE_ELF", str(elf))
    return log


def _expected_argv(board: str, p: Path, *, jobs: int = 2) -> list[list[str]]:
    b = str(p / "build")
    return {
        "qemu-cortex-m4": [["cmake", "-S", str(p), "-B", b, "-DCMAKE_BUILD_TYPE=Release",
                            "-DEDGEKIT_TFLM_DIR=/opt/tflm", "-DEDGEKIT_CMSIS_NN=OFF"],
                           ["cmake", "--build", b, "-j", str(jobs)]],
        "rpi-pico": [["cmake", "-S", str(p), "-B", b, "-DCMAKE_BUILD_TYPE=Release", "-DPICO_SDK_PATH=/opt/pico-sdk"],
                     ["cmake", "--build", b, "-j", str(jobs)]],
        "nrf52840dk": [["west", "build", "-b", "nrf52840dk/nrf52840", "-d", b, str(p)]],
        "esp32-s3-devkitc-1": [["idf.py", "-C", str(p), "-B", b, "build"]],
        "arduino-nano-33-ble-sense": [["pio", "run", "-d", str(p), "-e", "nano33ble", "-j", str(jobs)]],
    }[board]


def _sdk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGEKIT_TFLM_DIR", "/opt/tflm")
    monkeypatch.setenv("PICO_SDK_PATH", "/opt/pico-sdk")
    monkeypatch.setenv("IDF_PATH", "/opt/esp-idf")
    zephyr = tmp_path / "zephyrproject"
    zephyr.mkdir(exist_ok=True)
    monkeypatch.setenv("ZEPHYR_BASE", str(zephyr))


# --------------------------------------------------------------------------------------- the plan -----

@pytest.mark.parametrize("board", list(BOARDS))
def test_dry_run_prints_the_exact_commands(projects: dict[str, Path], board: str, clean_env: Path,
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _sdk_env(monkeypatch, tmp_path)
    p = projects[board]
    plan = plan_build(p, jobs=3)
    assert plan.build_system == BOARDS[board]
    assert [list(s.argv) for s in plan.steps] == _expected_argv(board, p, jobs=3)
    assert run(["build", str(p), "--dry-run", "-j", "3", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["argv"] for s in info["steps"]] == _expected_argv(board, p, jobs=3)
    assert info["elf"] == str(p / json.loads((p / "edgekit_project.json").read_text())["elf"])
    # the human form prints the same commands, and what this machine lacks (PATH is empty here)
    assert run(["build", str(p), "--dry-run", "-j", "3"]) == 0
    out = capsys.readouterr()
    for argv in _expected_argv(board, p, jobs=3):
        assert f"  {shlex.join(argv)}" in out.out.splitlines()
    assert "missing: " in out.err and "hint: " in out.err
    assert not (p / "build").exists(), "a dry run must not create anything"


def test_cmake_options_reach_the_configure_step(projects: dict[str, Path], clean_env: Path) -> None:
    plan = plan_build(projects["qemu-cortex-m4"], tflm_dir="/srv/tflite-micro", cmsis_nn=True)
    assert plan.steps[0].argv[-2:] == ("-DEDGEKIT_TFLM_DIR=/srv/tflite-micro", "-DEDGEKIT_CMSIS_NN=ON")
    assert "EDGEKIT_TFLM_DIR" not in " ".join(plan.missing)
    assert "-DEDGEKIT_TFLM_DIR" not in " ".join(plan_build(projects["qemu-cortex-m4"]).steps[0].argv)


# ---------------------------------------------------------------------------------- missing tools -----

MISSING = {  # board -> (words in the message, words in the hint: the install step and the variable)
    "qemu-cortex-m4": (["cmake", "arm-none-eabi-gcc", "EDGEKIT_TFLM_DIR"],
                       ["apt-get install cmake", "EDGEKIT_TFLM_DIR", "--tflm-fetch"]),
    "rpi-pico": (["cmake", "arm-none-eabi-gcc", "PICO_SDK_PATH"],
                 ["apt-get install", "git clone https://github.com/raspberrypi/pico-sdk", "export PICO_SDK_PATH"]),
    "nrf52840dk": (["west", "west workspace", "ZEPHYR_BASE"], ["pip install west", "west init -l .", "ZEPHYR_BASE"]),
    "esp32-s3-devkitc-1": (["idf.py", "IDF_PATH"], ["ESP-IDF (>= 5.3", "install.sh", ". $IDF_PATH/export.sh"]),
    "arduino-nano-33-ble-sense": (["pio", "pip install platformio"], ["pip install platformio"]),
}


@pytest.mark.parametrize("board", list(BOARDS))
def test_missing_tools_are_named_with_the_install_step(projects: dict[str, Path], board: str,
                                                       clean_env: Path) -> None:
    with pytest.raises(ToolMissing) as exc:
        build(projects[board])
    msg, hint = exc.value.message, exc.value.hint or ""
    assert msg.startswith(f"{projects[board]}: cannot build this {BOARDS[board]} project, missing: ")
    for word in MISSING[board][0]:
        assert word in msg, f"{board}: '{word}' not in {msg!r}"
    for word in MISSING[board][1]:
        assert word in hint, f"{board}: '{word}' not in {hint!r}"
    assert "then 'edgekit build' runs: " in hint  # the commands that will run once installed
    assert not (projects[board] / "build").exists(), "nothing runs before the tools are there"


def test_a_west_workspace_is_enough_for_zephyr(projects: dict[str, Path], fake_tools: Path, tmp_path: Path) -> None:
    p = projects["nrf52840dk"]
    assert any("west workspace" in m for m in plan_build(p).missing)
    (p / ".west").mkdir()
    try:
        assert plan_build(p).missing == ()
    finally:
        (p / ".west").rmdir()


# ------------------------------------------------------------------------- stand-in tools, real runs --

@pytest.mark.parametrize("board", list(BOARDS))
def test_build_runs_the_boards_tool_and_finds_its_image(projects: dict[str, Path], board: str, fake_tools: Path,
                                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _sdk_env(monkeypatch, tmp_path)
    p = projects[board]
    res = build(p, clean=True)
    calls = [json.loads(line) for line in fake_tools.read_text().splitlines()]
    assert [c["argv"] for c in calls] == _expected_argv(board, p)
    assert all(c["cwd"] == str(p) for c in calls)
    elf = p / json.loads((p / "edgekit_project.json").read_text())["elf"]
    assert res.elf == elf and res.build_system == BOARDS[board] and res.images[0] == elf
    want = {"qemu-cortex-m4": {".bin", ".hex"}, "rpi-pico": {".uf2", ".bin", ".hex"},
            "nrf52840dk": {".hex", ".bin"}, "esp32-s3-devkitc-1": {".bin"}, "arduino-nano-33-ble-sense": {".hex"}}
    assert {x.suffix for x in res.images[1:]} == want[board]
    report = json.loads((p / "build" / "edgekit_build.json").read_text())
    assert report["build_system"] == BOARDS[board] and report["elf"] == str(elf)
    log = (p / "build" / "edgekit_build.log").read_text()
    assert f"$ {shlex.join(_expected_argv(board, p)[-1])}" in log


def test_a_failing_tool_is_a_build_error_with_the_log(projects: dict[str, Path], fake_tools: Path,
                                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _sdk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("EK_FAKE_FAIL", "west")
    with pytest.raises(BuildError, match=r"Zephyr build failed:\n.*fake failure of west") as exc:
        build(projects["nrf52840dk"])
    assert "edgekit_build.log" in (exc.value.hint or "")


def test_a_tool_that_leaves_no_elf_is_a_build_error(projects: dict[str, Path], fake_tools: Path,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _sdk_env(monkeypatch, tmp_path)
    monkeypatch.setenv("EK_FAKE_ELF", os.devnull)  # the stand-in copies an empty file: not an ELF
    with pytest.raises(BuildError, match="cannot read the firmware ELF"):
        build(projects["esp32-s3-devkitc-1"], clean=True)
    (tmp_path / "bin2").mkdir()
    (tmp_path / "bin2" / "idf.py").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin2" / "idf.py").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin2"))
    with pytest.raises(BuildError, match=r"esp-idf build succeeded but produced no ELF there"):
        build(projects["esp32-s3-devkitc-1"], clean=True)


# ------------------------------------------------------------------- flash refuses another board's image --

@pytest.mark.parametrize(("board", "other"), [("nrf52840dk", "rpi-pico"), ("arduino-nano-33-ble-sense", "rpi-pico"),
                                              ("rpi-pico", "nrf52840dk")])
def test_flash_refuses_a_tflm_image_built_for_another_board(projects: dict[str, Path], board: str, other: str,
                                                            fake_tools: Path, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SDK builds carry no .edgekit_board section: the project file above the image (up to
    .pio/build/<env>/firmware.elf) names the board, and both ELFs are ARM, so only that can tell them apart."""
    from edgekit.boards import load_board
    from edgekit.errors import BoardError
    from edgekit.flashers.image import check_board, load_image

    _sdk_env(monkeypatch, tmp_path)
    res = build(projects[board], clean=True)
    img = load_image(res.elf)
    assert img.board_id == board and img.board_source.endswith("edgekit_project.json")
    with pytest.raises(BoardError, match=rf"was built for board '{board}'"):
        check_board(img, load_board(other))
    assert check_board(img, load_board(board)) == []
    assert run(["flash", str(res.elf), "--board", other, "--dry-run"]) == 1
    assert f"built for board '{board}'" in capsys.readouterr().err


def test_esp_idf_installed_but_not_exported_says_so(projects: dict[str, Path], clean_env: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDF_PATH", "/opt/esp-idf")
    with pytest.raises(ToolMissing, match=r"IDF_PATH=/opt/esp-idf is set but export.sh was not run"):
        build(projects["esp32-s3-devkitc-1"])


# ------------------------------------------------------ edgekit-runtime projects in the boards' own SDKs --

AOT_BOARDS = {"rpi-pico": "pico-sdk", "esp32-s3-devkitc-1": "esp-idf", "arduino-nano-33-ble-sense": "platformio",
              "nrf52840dk": "zephyr"}


@pytest.mark.parametrize("board", list(AOT_BOARDS))
def test_edgekit_runtime_sdk_projects_build_with_the_same_commands(board: str, fake_tools: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The AOT model in an SDK project (library, component, module) is built by the same tool, the same argv, as the
    TFLM project for that board; only what it needs differs (no TFLM copy)."""
    from edgekit.generation import generate

    _sdk_env(monkeypatch, tmp_path)
    res = generate(shared_model(KWS), board, "edgekit", out_dir=tmp_path / "aot", build_system=AOT_BOARDS[board])
    p = res.project_dir
    plan = plan_build(p)
    assert plan.runtime == "edgekit" and plan.build_system == AOT_BOARDS[board] and plan.missing == ()
    want = _expected_argv(board, p)
    assert [list(s.argv) for s in plan.steps] == want
    built = build(p, clean=True)
    assert [json.loads(line)["argv"] for line in fake_tools.read_text().splitlines()] == want
    assert built.runtime == "edgekit" and built.elf == p / res.summary["elf"]
    assert built.build_system == AOT_BOARDS[board]
