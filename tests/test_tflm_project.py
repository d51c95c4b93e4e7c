"""TFLM firmware projects: C arrays, the op resolver, the arena margin, the per-build-system templates.

Building against real TFLM sources needs a tflite-micro tree given by EDGEKIT_TFLM_DIR (a checkout with
its third-party downloads). CI has none, so those tests skip there too (the one skip CI allows); the
rest runs everywhere: compile checks with gcc/arm-none-eabi-gcc, template rendering, CMake's configure
step, and the build helpers' messages for tools that are not installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need, need_module, need_tool, shared_model

from edgekit.cli import run
from edgekit.codegen.carray import c_identifier_from_path, check_identifier, render_carray, write_carray
from edgekit.codegen.op_resolver import BUILTIN_METHODS, FLAVOURS, OpResolver, render_resolver_header, resolver_for
from edgekit.codegen.tflm_project import (
    BUILD_SYSTEMS,
    arena_with_margin,
    build_command,
    generate_tflm,
    missing_tools,
    parse_arena_margin,
)
from edgekit.errors import ModelError, UnsupportedOpError, UsageError
from edgekit.tflite_model import load_model

KWS = "mlperf_tiny/kws_ds_cnn_int8.tflite"
SHARED = [KWS, "mlperf_tiny/vww_mobilenet_int8.tflite", "mlperf_tiny/ic_resnet8_int8.tflite",
          "mlperf_tiny/ad_fc_autoencoder_int8.tflite", "tflm_examples/hello_world_int8.tflite",
          "tflm_examples/person_detect_int8.tflite", "tflm_examples/magic_wand_float.tflite"]
BOARDS = {"qemu-cortex-m4": "cmake", "rpi-pico": "pico-sdk", "rpi-pico2": "pico-sdk", "nrf52840dk": "zephyr",
          "esp32-s3-devkitc-1": "esp-idf", "arduino-nano-33-ble-sense": "platformio"}
EXPECTED_FILES = {
    "cmake": ["CMakeLists.txt", "README.md", "cmake/arm-none-eabi.cmake", "cmake/tflm.cmake", "edgekit_build.cmake",
              "linker.ld", "model/ek_model.h", "model/ek_model_tflm.cc", "model/ek_op_resolver.h",
              "model/ek_tflm_log.cc", "model/model_data.cc", "model/model_data.h", "src/ek_config.h",
              "src/ek_main.c", "src/ek_protocol.c"],
    "pico-sdk": ["CMakeLists.txt", "README.md", "edgekit_build.cmake", "model/ek_model_tflm.cc",
                 "model/ek_port_pico.c", "model/model_data.cc", "src/ek_config.h", "model/ek_main_sdk.c",
                 "src/ek_protocol.c", "src/ek_timer.c"],
    "zephyr": ["CMakeLists.txt", "README.md", "prj.conf", "west.yml", "src/ek_port_zephyr.c", "src/ek_dwt.h",
               "src/ek_model_tflm.cc", "src/model_data.cc", "src/ek_main_sdk.c", "src/ek_protocol.c"],
    "esp-idf": ["CMakeLists.txt", "README.md", "sdkconfig.defaults", "main/CMakeLists.txt",
                "main/idf_component.yml", "main/ek_port_esp.c", "main/ek_main_esp.c", "main/ek_model_tflm.cc",
                "main/model_data.cc", "main/ek_protocol.c"],
    "platformio": ["platformio.ini", "README.md", "src/ek_port_arduino.cpp", "src/ek_main_arduino.cpp",
                   "src/ek_model_tflm.cc", "src/model_data.cc", "src/ek_protocol.c"],
}
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]

READER = """#include <stdio.h>
#include <stdint.h>
#include "model_data.h"
int main(void) {
    fwrite(NAME, 1, NAME_len, stdout);
    return ((uintptr_t)NAME % 16u) != 0u;  /* 16-byte aligned */
}
"""


def _compile(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"


# ------------------------------------------------------------------------------------------ carray ----

def test_identifier_from_file_name() -> None:
    assert c_identifier_from_path("a/b/kws-ds_cnn.int8.tflite") == "kws_ds_cnn_int8"
    assert c_identifier_from_path("3x.tflite") == "model_3x"
    assert c_identifier_from_path("int.tflite") == "int_model"
    assert c_identifier_from_path("__weird__name.tflite") == "weird_name"


@pytest.mark.parametrize(("name", "why"), [("int", "keyword"), ("class", "keyword"), ("9lives", "not a C identifier"),
                                           ("a-b", "not a C identifier"), ("__x", "reserved"), ("_Model", "reserved"),
                                           ("x" * 64, "longer")])
def test_invalid_array_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        check_identifier(name)


def test_carray_rejects_non_tflite_and_bad_section(tmp_path: Path) -> None:
    bogus = tmp_path / "x.tflite"
    bogus.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="TFL3"):
        write_carray(bogus, tmp_path / "out")
    with pytest.raises(UsageError, match="section"):
        render_carray(b"\x00" * 8, "m", section=".bad section")


@pytest.mark.parametrize("lang", ["cc", "c"])
def test_carray_compiles_on_host_with_werror_and_round_trips(tmp_path: Path, lang: str) -> None:
    need_tool("gcc")
    need_tool("g++")
    model = shared_model("tflm_examples/hello_world_int8.tflite")
    res = write_carray(model, tmp_path / "out", lang=lang, section=".rodata.ek_test")
    assert res.name == "hello_world_int8" and res.size == model.stat().st_size
    assert res.source.name == f"model_data.{lang}"
    (tmp_path / "reader.c").write_text(READER.replace("NAME", res.name))
    warn = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(res.header.parent)]
    # C reader + array compiled as the language it was written for, and the header read from C++ too
    src_compiler = ["g++", "-std=c++11"] if lang == "cc" else ["gcc", "-std=c99"]
    _compile(["gcc", "-std=c99", *warn, "-c", "reader.c", "-o", "reader.o"], tmp_path)
    _compile([*src_compiler, *warn, "-c", str(res.source), "-o", "data.o"], tmp_path)
    _compile(["g++", "-std=c++17", *warn, "-x", "c++", "-c", "reader.c", "-o", "reader_cc.o"], tmp_path)
    for reader in ("reader.o", "reader_cc.o"):
        _compile(["g++" if reader.endswith("_cc.o") or lang == "cc" else "gcc", reader, "data.o", "-o", "reader"],
                 tmp_path)
        out = subprocess.run([str(tmp_path / "reader")], capture_output=True, check=False)
        assert out.returncode == 0, "array not 16-byte aligned"
        assert out.stdout == model.read_bytes()
    sections = subprocess.run(["objdump", "-h", "data.o"], cwd=tmp_path, capture_output=True, text=True,
                              check=False).stdout
    if shutil.which("objdump"):
        assert ".rodata.ek_test" in sections


@pytest.mark.toolchain
def test_carray_compiles_for_arm_as_c_and_cpp(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("arm-none-eabi-g++")
    model = shared_model("tflm_examples/hello_world_int8.tflite")
    for lang, cc, std in (("c", "arm-none-eabi-gcc", "-std=c99"), ("cc", "arm-none-eabi-g++", "-std=c++11")):
        res = write_carray(model, tmp_path / lang, lang=lang, name="g_model", section=".ext_flash")
        _compile([cc, *ARM_FLAGS, std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", str(res.source), "-o",
                  f"{lang}.o"], tmp_path)
        dump = subprocess.run(["arm-none-eabi-objdump", "-h", f"{lang}.o"], cwd=tmp_path, capture_output=True,
                              text=True, check=False).stdout
        line = next(ln for ln in dump.splitlines() if ".ext_flash" in ln)
        assert int(line.split()[2], 16) == model.stat().st_size
        assert line.split()[-1] == "2**4"  # 16-byte alignment


def test_carray_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = shared_model("tflm_examples/hello_world_int8.tflite")
    rc = run(["carray", str(model), "-o", str(tmp_path), "--name", "g_model", "--json"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "g_model" and info["size"] == model.stat().st_size
    assert "alignas(16) const unsigned char g_model[G_MODEL_SIZE]" in (tmp_path / "model_data.cc").read_text()
    assert run(["carray", str(model), "-o", str(tmp_path), "--name", "while"]) == 2
    assert "keyword" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ resolver --

@pytest.mark.parametrize("rel", SHARED)
def test_resolver_has_exactly_the_models_ops(rel: str) -> None:
    model = load_model(shared_model(rel))
    ops = [op.opcode for sg in model.subgraphs for op in sg.operators]
    res = resolver_for(model)
    assert sorted(r.op for r in res.ops) == sorted(set(ops))
    assert res.n == len(set(ops))
    assert res.cpp_type == f"tflite::MicroMutableOpResolver<{len(set(ops))}>"
    for r in res.ops:
        assert r.method == BUILTIN_METHODS[r.op] and r.count == ops.count(r.op)
    header = render_resolver_header(res)
    assert header.count("resolver.Add") == res.n


def test_resolver_picks_int8_kernels_only_for_int8_models() -> None:
    kws = resolver_for(load_model(shared_model(KWS)))
    regs = {r.op: r.registration for r in kws.ops}
    assert regs == {"CONV_2D": "tflite::Register_CONV_2D_INT8()",
                    "DEPTHWISE_CONV_2D": "tflite::Register_DEPTHWISE_CONV_2D_INT8()",
                    "AVERAGE_POOL_2D": "tflite::Register_AVERAGE_POOL_2D_INT8()", "RESHAPE": None,
                    "FULLY_CONNECTED": "tflite::Register_FULLY_CONNECTED_INT8()",
                    "SOFTMAX": "tflite::Register_SOFTMAX_INT8()"}
    floats = resolver_for(load_model(shared_model("tflm_examples/magic_wand_float.tflite")))
    assert all(r.registration is None for r in floats.ops)
    plain = resolver_for(load_model(shared_model(KWS)), int8_kernels=False)
    assert all(r.registration is None for r in plain.ops)


# Where TFLM (tensorflow/tflite-micro 90b983c2b3f1, tensorflow/lite/micro/kernels/) declares each int8-only
# registration, and which of those headers micro_mutable_op_resolver.h includes itself: read from the tree, kept
# here as data so CI (which has no TFLM tree) checks the generated includes.
DECLARED_IN = {
    "Register_ADD_INT8": "add.h", "Register_AVERAGE_POOL_2D_INT8": "pooling.h", "Register_MAX_POOL_2D_INT8":
    "pooling.h", "Register_BATCH_MATMUL_INT8": "batch_matmul.h", "Register_CONV_2D_INT8": "conv.h",
    "Register_DEPTHWISE_CONV_2D_INT8": "depthwise_conv.h", "Register_FULLY_CONNECTED_INT8": "fully_connected.h",
    "Register_MAXIMUM_INT8": "maximum_minimum.h", "Register_MINIMUM_INT8": "maximum_minimum.h",
    "Register_MUL_INT8": "mul.h", "Register_PAD_INT8": "pad.h", "Register_SOFTMAX_INT8": "softmax.h",
    "Register_SOFTMAX_INT8_INT16": "softmax.h", "Register_SVDF_INT8": "svdf.h",
    "Register_TRANSPOSE_CONV_INT8": "transpose_conv.h", "Register_TRANSPOSE_INT8": "transpose.h",
    "Register_UNIDIRECTIONAL_SEQUENCE_LSTM_INT8": "unidirectional_sequence_lstm.h",
}
RESOLVER_H_INCLUDES = {"add.h", "batch_matmul.h", "conv.h", "depthwise_conv.h", "ethosu.h", "fully_connected.h",
                       "maximum_minimum.h", "micro_ops.h", "mul.h", "pooling.h", "reduce.h", "softmax.h", "svdf.h",
                       "transpose_conv.h", "unidirectional_sequence_lstm.h"}


def _every_registration() -> OpResolver:
    """A resolver that registers every builtin and custom op TFLM has, and every int8-only kernel."""
    from edgekit.codegen.op_resolver import CUSTOM_METHODS, OpRegistration

    int8 = {reg.removesuffix("_INT8_INT16").removesuffix("_INT8"): reg for reg in DECLARED_IN}
    regs = [OpRegistration(op, m, None, 1) for op, m in {**BUILTIN_METHODS, **CUSTOM_METHODS}.items()]
    regs += [OpRegistration(op, BUILTIN_METHODS[op.removeprefix("Register_")], f"tflite::{reg}()", 1)
             for op, reg in int8.items()]
    return OpResolver(tuple(regs), "tflm")


def test_resolver_header_includes_what_each_int8_registration_needs() -> None:
    """Register_PAD_INT8 / Register_TRANSPOSE_INT8 are declared only in pad.h / transpose.h."""
    header = render_resolver_header(_every_registration())
    included = {line.split('"')[1].rsplit("/", 1)[-1] for line in header.splitlines() if line.startswith("#include")}
    for reg, where in DECLARED_IN.items():
        assert where in RESOLVER_H_INCLUDES | included, f"{reg} is declared in {where}, which is not included"
    kws = render_resolver_header(resolver_for(_one_op("PAD")))
    assert '#include "tensorflow/lite/micro/kernels/pad.h"' in kws and "Register_PAD_INT8()" in kws


def test_every_registration_compiles_against_tflm(tmp_path: Path) -> None:
    """Every op TFLM has, and every int8-only registration, through the generated header (EDGEKIT_TFLM_DIR)."""
    tflm = os.environ.get("EDGEKIT_TFLM_DIR")
    if not tflm:
        pytest.skip("EDGEKIT_TFLM_DIR not set (a tflite-micro checkout with third-party downloads)")
    gxx = need_tool("g++")
    res = _every_registration()
    (tmp_path / "ek_op_resolver.h").write_text(render_resolver_header(res))
    (tmp_path / "all.cc").write_text('#include "ek_op_resolver.h"\n'
                                     "int ek_all(EkOpResolver &r) { return ek_register_ops(r); }\n")
    dl = Path(tflm) / "tensorflow/lite/micro/tools/make/downloads"
    _compile([gxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-DTF_LITE_STATIC_MEMORY", f"-isystem{tflm}",
              f"-isystem{dl / 'flatbuffers/include'}", f"-isystem{dl / 'gemmlowp'}", f"-isystem{dl / 'ruy'}",
              f"-I{tmp_path}", "-fsyntax-only", "all.cc"], tmp_path)


def _one_op(op: str, dtype: str = "int8") -> bytes:
    need_module("tflite_micro")
    from tflite_single_op import T, single_op_model

    scale = None if dtype == "float32" else 0.1
    return single_op_model(op, [T((1, 4), dtype, scale)], [T((1, 4), dtype, scale)])


def test_op_tflm_lacks_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedOpError, match=r"operator 0 \(op TOPK_V2.*TFLM has no kernel"):
        resolver_for(_one_op("TOPK_V2"))


def test_op_missing_from_an_older_tflm_copy_names_the_copy() -> None:
    data = _one_op("REVERSE_V2")
    assert [r.op for r in resolver_for(data, flavour="tflm").ops] == ["REVERSE_V2"]
    with pytest.raises(UnsupportedOpError, match="pico-tflmicro"):
        resolver_for(data, flavour="pico-tflmicro")
    # an op with an int8 registration upstream only: the older copy gets the generic kernel
    pad = _one_op("MAXIMUM")
    assert resolver_for(pad, flavour="tflm").ops[0].registration == "tflite::Register_MAXIMUM_INT8()"
    assert resolver_for(pad, flavour="pico-tflmicro").ops[0].registration is None
    assert set(FLAVOURS) == {flavour for flavour, _, _ in BUILD_SYSTEMS.values()}


# ------------------------------------------------------------------------------------------ arena -----

def test_arena_margin() -> None:
    assert parse_arena_margin("10%+1KB") == (0.1, 1024)
    assert parse_arena_margin("25%") == (0.25, 0)
    assert parse_arena_margin(0) == (0.0, 0)
    assert arena_with_margin(1000, "0") == 1008  # aligned to 16
    assert arena_with_margin(22772) == 22772 + 2278 + 1024 + 6
    assert arena_with_margin(4096, "50%") == 6144
    for bad in ("ten percent", "-5", "5%%"):
        with pytest.raises(UsageError):
            parse_arena_margin(bad)


# ------------------------------------------------------------------------------------------ projects --

@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    model = shared_model(KWS)
    out = tmp_path_factory.mktemp("tflm_projects")
    return {board: generate_tflm(model, board, out / board, arena_bytes=24272) for board in BOARDS}


@pytest.mark.parametrize("board", list(BOARDS))
def test_each_template_renders_completely(projects: dict[str, dict], board: str) -> None:
    res = projects[board]
    proj = Path(res["project_dir"])
    assert res["build_system"] == BOARDS[board]
    for f in EXPECTED_FILES[res["build_system"]]:
        assert (proj / f).is_file(), f"{board}: {f} missing"
    for f in res["files"]:
        assert (proj / f).is_file()
        text = (proj / f).read_text(encoding="utf-8")
        assert not re.search(r"\{\{ |\{%|StrictUndefined", text), f"{board}: unrendered Jinja in {f}"
    assert res["arena_bytes"] == arena_with_margin(24272) and res["arena_measured"] == 24272
    model_dir = proj / ("model" if res["build_system"] in ("cmake", "pico-sdk") else
                        "main" if res["build_system"] == "esp-idf" else "src")
    header = (model_dir / "ek_model.h").read_text()
    assert f"#define EK_ARENA_SIZE   {res['arena_bytes']}u" in header
    assert "MicroMutableOpResolver<6>" in (model_dir / "ek_op_resolver.h").read_text()
    wrapper = (model_dir / "ek_model_tflm.cc").read_text()
    assert "arena_used_bytes()" in wrapper and "AllocateTensors()" in wrapper
    project = json.loads((proj / "edgekit_project.json").read_text())
    assert project["runtime"] == "tflm" and project["build_system"] == res["build_system"]
    assert project["elf"] == res["elf"]


def test_wrapper_and_resolver_compile_against_tflm_headers(projects: dict[str, dict], tmp_path: Path) -> None:
    """The generated C++ against a real TFLM tree (EDGEKIT_TFLM_DIR; CI has none and skips)."""
    tflm = os.environ.get("EDGEKIT_TFLM_DIR")
    if not tflm:
        pytest.skip("EDGEKIT_TFLM_DIR not set (a tflite-micro checkout with third-party downloads)")
    need_tool("arm-none-eabi-g++")
    model_dir = Path(projects["qemu-cortex-m4"]["project_dir"]) / "model"
    dl = Path(tflm) / "tensorflow/lite/micro/tools/make/downloads"
    incs = [tflm, dl / "flatbuffers/include", dl / "gemmlowp", dl / "ruy", model_dir,
            Path(projects["qemu-cortex-m4"]["project_dir"]) / "src"]
    _compile(["arm-none-eabi-g++", *ARM_FLAGS, "-std=c++17", "-fno-rtti", "-fno-exceptions", "-Wall", "-Wextra",
              "-Werror", "-DTF_LITE_STATIC_MEMORY", *[f"-isystem{p}" for p in incs[:4]], f"-I{incs[4]}",
              f"-I{incs[5]}", "-fsyntax-only", str(model_dir / "ek_model_tflm.cc")], tmp_path)


def test_cmake_configure_without_tflm_names_tflm_dir(projects: dict[str, dict], tmp_path: Path) -> None:
    need_tool("cmake")
    need_tool("arm-none-eabi-gcc")
    proj = Path(projects["qemu-cortex-m4"]["project_dir"])
    env = {k: v for k, v in os.environ.items() if k != "EDGEKIT_TFLM_DIR"}
    res = subprocess.run(["cmake", "-S", str(proj), "-B", str(tmp_path / "b1")], capture_output=True, text=True,
                         env=env, check=False)
    assert res.returncode != 0
    assert "EDGEKIT_TFLM_DIR is missing" in res.stderr and "EDGEKIT_TFLM_FETCH" in res.stderr
    fake = tmp_path / "not_tflm"
    fake.mkdir()
    res = subprocess.run(["cmake", "-S", str(proj), "-B", str(tmp_path / "b2"), f"-DEDGEKIT_TFLM_DIR={fake}"],
                         capture_output=True, text=True, env=env, check=False)
    assert res.returncode != 0 and "is not a tflite-micro tree" in res.stderr
    # a tree without its third-party downloads: each missing piece is listed
    (fake / "tensorflow/lite/micro").mkdir(parents=True)
    (fake / "tensorflow/lite/micro/micro_interpreter.h").write_text("")
    res = subprocess.run(["cmake", "-S", str(proj), "-B", str(tmp_path / "b3"), f"-DEDGEKIT_TFLM_DIR={fake}",
                          "-DEDGEKIT_CMSIS_NN=ON"], capture_output=True, text=True, env=env, check=False)
    assert res.returncode != 0
    for var in ("EK_FLATBUFFERS_INCLUDE", "EK_GEMMLOWP_DIR", "EK_RUY_DIR", "EK_CMSIS_DIR", "EK_CMSIS_NN_DIR"):
        assert var in res.stderr
    assert "third_party_downloads" in res.stderr


@pytest.mark.parametrize("layout", ["tree", "checkout"])
def test_cmake_configures_against_either_tflm_layout(projects: dict[str, dict], tmp_path: Path, layout: str) -> None:
    """Configure only (no compile) against a stand-in tree with the files the CMake logic looks for."""
    need_tool("cmake")
    need_tool("arm-none-eabi-gcc")
    need_tool("arm-none-eabi-g++")
    root = tmp_path / "tflm"
    third = root / ("third_party" if layout == "tree" else "tensorflow/lite/micro/tools/make/downloads")
    for rel in ("tensorflow/lite/micro/micro_interpreter.h", "tensorflow/lite/micro/micro_log.cc",
                "tensorflow/lite/micro/kernels/conv.cc", "tensorflow/lite/micro/kernels/conv_test.cc",
                "tensorflow/lite/micro/kernels/cmsis_nn/conv.cc", "tensorflow/lite/micro/debug_log.cc",
                "tensorflow/lite/core/c/common.cc", "tensorflow/lite/array.cc"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    for rel in ("flatbuffers/include/flatbuffers/flatbuffers.h", "gemmlowp/fixedpoint/fixedpoint.h",
                "ruy/ruy/profiler/instrumentation.h", "cmsis/CMSIS/Core/Include/cmsis_compiler.h",
                "cmsis_nn/Include/arm_nnfunctions.h", "cmsis_nn/Source/ConvolutionFunctions/arm_conv_s8.c",
                "cmsis_nn/Source/ConvolutionFunctions/arm_conv_f32.c"):
        (third / rel).parent.mkdir(parents=True, exist_ok=True)
        (third / rel).write_text("")
    res = subprocess.run(["cmake", "-S", projects["qemu-cortex-m4"]["project_dir"], "-B", str(tmp_path / "b"),
                          f"-DEDGEKIT_TFLM_DIR={root}", "-DEDGEKIT_CMSIS_NN=ON"], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    # micro_log.cc, common.cc and the CMSIS-NN conv.cc (tests, debug_log.cc, array.cc and the reference conv.cc
    # left out), one CMSIS-NN source (the float one left out)
    assert "3 sources, CMSIS-NN ON (1 sources)" in res.stdout


def test_sdk_projects_name_their_sdk_when_configured_without_it(projects: dict[str, dict], tmp_path: Path) -> None:
    need_tool("cmake")
    env = {k: v for k, v in os.environ.items() if k not in ("PICO_SDK_PATH", "IDF_PATH")}
    for board, var in (("rpi-pico", "PICO_SDK_PATH"), ("esp32-s3-devkitc-1", "IDF_PATH")):
        res = subprocess.run(["cmake", "-S", projects[board]["project_dir"], "-B", str(tmp_path / board)],
                             capture_output=True, text=True, env=env, check=False)
        assert res.returncode != 0 and f"{var} is" in res.stderr, res.stderr


def test_build_commands_and_missing_tools(projects: dict[str, dict], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for var in ("EDGEKIT_TFLM_DIR", "PICO_SDK_PATH", "ZEPHYR_BASE", "IDF_PATH"):
        monkeypatch.delenv(var, raising=False)
    expect = {"cmake": ["cmake", "arm-none-eabi-gcc", "arm-none-eabi-g++", "EDGEKIT_TFLM_DIR"],
              "pico-sdk": ["cmake", "arm-none-eabi-gcc", "PICO_SDK_PATH"], "zephyr": ["west", "west workspace"],
              "esp-idf": ["idf.py"], "platformio": ["pio"]}
    for board, res in projects.items():
        missing = missing_tools(res["project_dir"])
        for tool in expect[res["build_system"]]:
            assert any(tool in m for m in missing), f"{board}: {tool} not reported in {missing}"
        argv = build_command(res["project_dir"])
        assert argv[0] in ("cmake", "west", "idf.py", "pio")
    cmake_argv = build_command(projects["qemu-cortex-m4"]["project_dir"], tflm_dir="/opt/tflm", cmsis_nn=True)
    assert "-DEDGEKIT_TFLM_DIR=/opt/tflm" in cmake_argv and "-DEDGEKIT_CMSIS_NN=ON" in cmake_argv
    assert build_command(projects["nrf52840dk"]["project_dir"])[:4] == ["west", "build", "-b", "nrf52840dk/nrf52840"]


def test_mve_boards_work_around_gcc12_conditional_vcvt(tmp_path: Path) -> None:
    """arm-none-eabi-gcc 12.2 emits conditional VCVT in IT blocks for Cortex-M55 that its assembler rejects (TFLM's
    resize_nearest_neighbor.cc): the CMake project of an MVE board turns the second if-conversion pass off, others
    keep their flags."""
    model = shared_model(KWS)
    m55 = generate_tflm(model, "qemu-cortex-m55", tmp_path / "m55", arena_bytes=24272)
    m4 = generate_tflm(model, "qemu-cortex-m4", tmp_path / "m4", arena_bytes=24272)
    assert "list(APPEND EK_CPU_FLAGS -fno-if-conversion2)" in (Path(m55["project_dir"]) / "CMakeLists.txt").read_text()
    assert "if-conversion" not in (Path(m4["project_dir"]) / "CMakeLists.txt").read_text()


def test_generate_refuses_boards_without_a_tflm_template(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no TFLM firmware template"):
        generate_tflm(shared_model(KWS), "host", tmp_path / "p", arena_bytes=1000)


def test_generate_measures_the_arena_with_tflm(tmp_path: Path) -> None:
    need_module("tflite_micro")
    from edgekit.tflm import tflm_arena_bytes

    model = shared_model("tflm_examples/hello_world_int8.tflite")
    res = generate_tflm(model, "qemu-cortex-m4", tmp_path / "p", arena_margin="0")
    assert res["arena_measured"] == tflm_arena_bytes(model)
    assert res["arena_bytes"] == (res["arena_measured"] + 15) // 16 * 16


# ------------------------------------------------------------------------------ build + run in QEMU --

@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.timeout(7200)  # compiling all of TFLM takes 10-40 min on 2 cores
@pytest.mark.parametrize("cmsis_nn", [False, True], ids=["reference", "cmsis-nn"])
def test_firmware_matches_tflm_host_on_qemu(tmp_path: Path, cmsis_nn: bool) -> None:
    """Build the CMake project against EDGEKIT_TFLM_DIR and compare device outputs with the TFLM host.

    CI has no TFLM tree: this test skips there (the allowed skip); locally set EDGEKIT_TFLM_DIR.
    """
    tflm = os.environ.get("EDGEKIT_TFLM_DIR")
    if not tflm:
        pytest.skip("EDGEKIT_TFLM_DIR not set (a tflite-micro checkout with third-party downloads)")
    need_tool("qemu-system-arm")
    need_tool("cmake")
    need_module("tflite_micro")
    from edgekit import proc
    from edgekit.boards import load_board
    from edgekit.tflm import tflm_run
    from edgekit.transport.protocol import Device
    from edgekit.transport.qemu import QemuInstance

    model = shared_model(KWS)
    res = generate_tflm(model, "qemu-cortex-m4", tmp_path / "fw")
    proc.run(build_command(res["project_dir"], tflm_dir=tflm, cmsis_nn=cmsis_nn), timeout=3600,
             what="TFLM firmware build")
    elf = Path(res["project_dir"]) / res["elf"]
    need(elf.is_file(), "firmware was not built")
    sample = np.frombuffer(shared_model("mlperf_tiny/kws_input_sample_int8.bin").read_bytes(), dtype=np.int8)
    rng = np.random.default_rng(7)
    inputs = [sample, rng.integers(-128, 128, size=490, dtype=np.int8)]
    expected = [o[0].reshape(-1).astype(np.int8) for o in tflm_run(model, inputs)]
    with QemuInstance.for_board(load_board("qemu-cortex-m4"), elf) as q, q.link(timeout=60) as link:
        link.sync()
        dev = Device(link, infer_timeout=600)
        info = dev.info()
        assert info.runtime.startswith("tflm ")
        assert info.arena_reserved == res["arena_bytes"]
        assert 0 < (info.arena_used or 0) <= res["arena_bytes"]
        for x, want in zip(inputs, expected, strict=True):
            dev.upload(x.tobytes())
            dev.infer(1, 0)
            got = np.frombuffer(dev.output(0), dtype=np.int8)
            assert np.array_equal(got, want), f"device {got} != TFLM host {want}"
        assert dev.canary() == "ok"
