"""edgekit's runtime on every board family (issue #20) and the build-system registry (issue #16 item 4).

Every board profile generates with the default runtime; the files of its build system are there; the generated
AOT sources plus the board's port compile and link with ``-Wall -Wextra -Werror`` (Arm boards with
arm-none-eabi-gcc and the board's ``-mcpu``, ESP32-S3 with the host gcc), against our stand-ins for the SDK
headers (tests/fixtures/sdk_stubs). The scalar kernels (no DSP) run bit-exact with the TFLM host interpreter on
the emulated Cortex-M0 (qemu-microbit, 16 KB RAM).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool, shared_model
from sdk_compile import build_file_sources, compile_project, disassemble

from edgekit.boards import list_boards, load_board
from edgekit.buildsys.registry import firmware_systems, get, names
from edgekit.codegen.aot_project import SDK_LINKS, aot_build_systems
from edgekit.errors import BoardError, UsageError
from edgekit.generation import generate

KWS = "mlperf_tiny/kws_ds_cnn_int8.tflite"
HELLO = "tflm_examples/hello_world_int8.tflite"
MCU_BOARDS = [b.id for b in list_boards() if b.kind == "mcu"]
# build system -> files its project must have (besides the model library's sources)
SYSTEM_FILES = {
    "cmake": ["CMakeLists.txt", "cmake/arm-none-eabi.cmake", "linker.ld", "src/ek_port_mcu.c", "src/ek_main.c",
              "model/ek_model.c", "model/ek_model.h", "model/ek_weights.c"],
    "pico-sdk": ["CMakeLists.txt", "README.md", "edgekit_model/CMakeLists.txt", "edgekit_model/ek_model.c",
                 "src/ek_port_pico.c", "src/ek_main_sdk.c", "src/ek_timer.c", "src/ek_protocol.c", "src/ek_config.h"],
    "esp-idf": ["CMakeLists.txt", "README.md", "sdkconfig.defaults", "main/CMakeLists.txt", "main/ek_port_esp.c",
                "main/ek_main_esp.c", "main/ek_protocol.c", "components/edgekit_model/CMakeLists.txt",
                "components/edgekit_model/ek_model.c"],
    "zephyr": ["CMakeLists.txt", "README.md", "prj.conf", "west.yml", "src/ek_port_zephyr.c", "src/ek_main_sdk.c",
               "modules/edgekit_model/zephyr/module.yml", "modules/edgekit_model/CMakeLists.txt",
               "modules/edgekit_model/Kconfig", "modules/edgekit_model/src/ek_model.c"],
    "platformio": ["platformio.ini", "README.md", "src/ek_port_arduino.cpp", "src/ek_main_arduino.cpp",
                   "lib/edgekit_model/library.json", "lib/edgekit_model/library.properties",
                   "lib/edgekit_model/src/ek_model.c"],
}


def _model_for(board_id: str) -> Path:
    """KWS, or hello_world on a board whose RAM cannot hold KWS (16 KB arena + 8 KB stack)."""
    return shared_model(HELLO if load_board(board_id).memory.ram_kb < 64 else KWS)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("families")
    projects = {b: generate(_model_for(b), b, out_dir=out / b).project_dir for b in MCU_BOARDS}
    projects["nrf52840dk+zephyr"] = generate(shared_model(KWS), "nrf52840dk", out_dir=out / "nrf-zephyr",
                                             build_system="zephyr").project_dir
    return projects


@pytest.fixture(scope="module")
def obj_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("objs")


# ------------------------------------------------------------------------------------- the registry -----

def test_every_valid_build_system_name_comes_from_the_registry(tmp_path: Path) -> None:
    assert set(names()) == {"cmake", "pico-sdk", "esp-idf", "zephyr", "platformio", "linux"}
    assert "linux" not in firmware_systems()
    text = load_board("rpi-pico").path.read_text().replace("system: pico-sdk", "system: mbed")  # type: ignore[union-attr]
    (tmp_path / "rpi-pico.yaml").write_text(text)
    from edgekit.boards import load_board_file

    with pytest.raises(BoardError, match=r"build.system: 'mbed' is not one of: .*pico-sdk"):
        load_board_file(tmp_path / "rpi-pico.yaml")
    with pytest.raises(UsageError, match=r"unknown build system 'mbed' \(known: cmake"):
        get("mbed")


@pytest.mark.parametrize("system", ["cmake", "pico-sdk", "esp-idf", "zephyr", "platformio"])
def test_each_build_system_has_both_runtimes_and_their_templates(system: str) -> None:
    from edgekit.resources import templates_dir

    bs = get(system)
    for runtime in ("edgekit", "tflm"):
        layout = bs.layout(runtime)
        for template in layout.templates:
            assert (templates_dir() / template).is_file(), f"{system}/{runtime}: {template}"
        for port in layout.ports:
            assert (templates_dir("ports") / port).is_file(), f"{system}/{runtime}: {port}"
    assert bs.tflm_flavour and bs.runtime_version() and bs.install_hint("edgekit")


# ---------------------------------------------------------------------------- every board generates -----

def test_every_mcu_board_has_a_build_system_for_the_runtime() -> None:
    from edgekit.boards.families import uart_kinds

    assert set(SDK_LINKS) <= set(uart_kinds())  # the USB links named there are UART kinds a board may have
    for b in list_boards():
        systems = aot_build_systems(b)
        if b.kind != "mcu":
            assert systems == ()
            continue
        assert systems, f"{b.id}: no build system"
        if b.firmware.uart in SDK_LINKS or not b.arch.startswith("arm"):
            assert systems == (b.build.system,), b.id  # the SDK's USB stack / a non-Arm core: the SDK's project
    assert aot_build_systems(load_board("nrf52840dk")) == ("cmake", "zephyr")


@pytest.mark.parametrize("board_id", [*MCU_BOARDS, "nrf52840dk+zephyr"])
def test_generate_writes_the_build_systems_files(generated: dict[str, Path], board_id: str) -> None:
    """With the default runtime (auto), every MCU board gets edgekit's runtime, in the build system it can use."""
    project = generated[board_id]
    data = json.loads((project / "edgekit_project.json").read_text())
    system = data["build_system"]
    assert data["runtime"] == "edgekit"
    assert system == ("zephyr" if board_id.endswith("+zephyr") else aot_build_systems(load_board(data["board"]))[0])
    for f in SYSTEM_FILES[system]:
        assert (project / f).is_file(), f"{board_id}: {f} missing"
    assert data["elf"] == get(system).elf(data["name"], load_board(data["board"]).build.board or data["board"])
    if system in ("cmake", "platformio"):
        return
    # the SDK build files name exactly the sources that are there: the app its core + port, the library the model
    layout = get(system).layout("edgekit")
    named = build_file_sources(project, system)
    app_file, lib_file = list(named)
    on_disk = {d: {p.name for p in (project / d).iterdir() if p.suffix == ".c"}
               for d in (layout.core_dir, layout.model_dir)}
    assert named[app_file] == on_disk[layout.core_dir]
    assert named[lib_file] == on_disk[layout.model_dir]


@pytest.mark.toolchain
@pytest.mark.parametrize("board_id", [*MCU_BOARDS, "nrf52840dk+zephyr"])
def test_sources_and_port_compile_and_link_with_werror(generated: dict[str, Path], obj_cache: Path,
                                                        tmp_path: Path, board_id: str) -> None:
    board = load_board(board_id.split("+")[0])
    need_tool("gcc" if board.arch == "xtensa" else "arm-none-eabi-gcc")
    if get(json.loads((generated[board_id] / "edgekit_project.json").read_text())["build_system"]).name == "platformio":
        need_tool("arm-none-eabi-g++")
    linked = compile_project(generated[board_id], board, tmp_path / "build", obj_cache)
    assert linked.image.read_bytes()[:4] == b"\x7fELF"
    if board.id in ("rpi-pico", "rpi-pico2"):  # RP2040 (M0+): portable C; RP2350 (M33 +dsp): the SIMD paths
        asm = "".join(disassemble(obj) for obj in linked.model_objects.values())
        dsp = board.id == "rpi-pico2"
        assert ("\tsxtb16" in asm) == dsp and ("\tsmlad" in asm) == dsp


def test_cli_names_the_build_system_and_refuses_one_the_board_cannot_use(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.cli import run

    model = str(shared_model(HELLO))
    assert run(["generate", model, "--board", "rpi-pico2", "-o", str(tmp_path / "p")]) == 0
    assert "pico-sdk project" in capsys.readouterr().out
    assert run(["generate", model, "--board", "rpi-pico2", "--build-system", "cmake", "-o", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "protocol link 'usb-cdc' is the SDK's USB stack" in err and "--build-system pico-sdk" in err
    assert run(["generate", model, "--board", "qemu-cortex-m4", "--build-system", "zephyr", "-o",
                str(tmp_path / "r")]) == 2
    assert "it builds with cmake" in capsys.readouterr().err
    assert not (tmp_path / "q").exists() and not (tmp_path / "r").exists()


# ------------------------------------------------------------- scalar kernels on the emulated Cortex-M0 --

def _small_cnn() -> bytes:
    """CONV_2D -> DEPTHWISE_CONV_2D -> MAX_POOL_2D -> AVERAGE_POOL_2D -> FULLY_CONNECTED -> SOFTMAX, int8 with
    per-channel weights: every kernel family of a KWS-like model, small enough for 16 KB of RAM."""
    need_module("tflite_micro")
    from tflite_single_op import T, multi_op_model

    rng = np.random.default_rng(20)

    def weights(shape: tuple[int, ...], channels: int, axis: int) -> T:
        return T(shape, "int8", list(rng.uniform(0.004, 0.02, channels)), 0,
                 rng.integers(-127, 128, size=shape, dtype=np.int8), quantized_dimension=axis)

    def bias(w: T, in_scale: float) -> T:
        scales = [in_scale * s for s in w.scale]  # type: ignore[union-attr]
        return T((len(scales),), "int32", scales, 0, rng.integers(-2000, 2000, size=len(scales), dtype=np.int32))

    x = T((1, 10, 10, 2), "int8", 0.05, -3)
    w1 = weights((6, 3, 3, 2), 6, 0)
    c1 = T((1, 10, 10, 6), "int8", 0.08, -10)
    w2 = weights((1, 3, 3, 6), 6, 3)
    c2 = T((1, 5, 5, 6), "int8", 0.06, 5)
    p1 = T((1, 4, 4, 6), "int8", 0.06, 5)
    p2 = T((1, 2, 2, 6), "int8", 0.06, 5)
    w3 = weights((4, 24), 4, 0)
    f = T((1, 4), "int8", 0.1, 2)
    y = T((1, 4), "int8", 1 / 256, -128)
    return multi_op_model([
        ("CONV_2D", [x, w1, bias(w1, 0.05)], [c1], {"padding": "SAME", "activation": "RELU"}),
        ("DEPTHWISE_CONV_2D", [c1, w2, bias(w2, 0.08)], [c2], {"padding": "SAME", "strides": (2, 2)}),
        ("MAX_POOL_2D", [c2], [p1], {"padding": "VALID", "filter": (2, 2)}),
        ("AVERAGE_POOL_2D", [p1], [p2], {"padding": "VALID", "filter": (2, 2), "strides": (2, 2)}),
        ("FULLY_CONNECTED", [p2, w3, bias(w3, 0.06)], [f], {}),
        ("SOFTMAX", [f], [y], {}),
    ])


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
def test_scalar_kernels_bit_exact_on_the_emulated_cortex_m0(tmp_path: Path) -> None:
    """The Armv6-M build (no DSP: the portable C kernels RP2040 runs too) of a small CNN, on qemu-microbit, gives
    the TFLM host interpreter's bytes."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    from edgekit.buildsys import build
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    model = tmp_path / "small_cnn.tflite"
    model.write_bytes(_small_cnn())
    assert [op.opcode for op in load_model(model).main.operators] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"]
    project = tmp_path / "m0"
    generate(model, board="qemu-microbit", out_dir=project, stack_bytes=4096)
    res = build(project)
    assert res.fits and res.ram_bytes <= 16 * 1024
    assert "smlad" not in disassemble(res.elf)  # Armv6-M: nothing but the scalar paths
    xs = np.random.default_rng(0).integers(-128, 128, size=(4, 1, 10, 10, 2), dtype=np.int8)
    val = validate(model, board="qemu-microbit", inputs=xs, project_dir=project)
    assert val.inputs == 4 and val.byte_exact == 4 and val.ok, val.to_dict()
