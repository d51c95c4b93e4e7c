"""The TFLM library cache: one libtflm.a per (TFLM tree, board flags, kernel flavour, compiler), reused.

CI has no TFLM tree: the key logic runs on stand-in trees, and the CMake side is checked at configure time
(a cached library is linked as an imported target, a missing one is built and stored). A real two-project build
against a tflite-micro checkout is the local check described in the module docstring.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import need_module, need_tool

from edgekit.buildsys.systems import plan_build
from edgekit.buildsys.tflm_cache import cache_root, library_key, tree_fingerprint
from edgekit.codegen.tflm_project import generate_tflm

GCC = "arm-none-eabi-g++ (15:12.2.rel1-1) 12.2.1 20221205"


def _fc_model() -> bytes:
    need_module("tflite_micro")
    import numpy as np
    from tflite_single_op import T, single_op_model

    w = T((4, 8), "int8", 0.02, data=np.ones((4, 8), np.int8))
    return single_op_model("FULLY_CONNECTED", [T((1, 8), "int8", 0.1), w], [T((1, 4), "int8", 0.2)])


def _tree(root: Path) -> Path:
    """A stand-in tflite-micro tree with the files the CMake logic looks for."""
    for rel in ("tensorflow/lite/micro/micro_interpreter.h", "tensorflow/lite/micro/micro_log.cc",
                "tensorflow/lite/micro/kernels/conv.cc", "signal/micro/kernels/rfft.h",
                "third_party/flatbuffers/include/flatbuffers/flatbuffers.h",
                "third_party/gemmlowp/fixedpoint/fixedpoint.h", "third_party/ruy/ruy/profiler/instrumentation.h"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("// " + rel)
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("cache_projects")
    model = _fc_model()
    return {key: Path(generate_tflm(model, board, out / key, name=name, arena_bytes=4096)["project_dir"])
            for key, board, name in (("a", "qemu-cortex-m4", "first"), ("b", "qemu-cortex-m4", "second"),
                                     ("m55", "qemu-cortex-m55", "first"), ("m3", "qemu-cortex-m3", "first"))}


def test_key_is_shared_by_projects_and_changes_with_what_changes_the_library(projects: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tflm")

    def key(p: str = "a", **kw: object) -> str:
        args = {"tflm_dir": tree, "cmsis_nn": False, "compiler": GCC, **kw}
        return library_key(projects[p], **args)  # type: ignore[arg-type]

    base = key()
    assert len(base) == 24 and base == key()
    assert key("b") == base, "another model and project name on the same board reuses the library"
    assert key("m55") != base and key("m3") != base and key("m55") != key("m3"), "CPU flags are in the key"
    assert key(cmsis_nn=True) != base, "the kernel flavour is in the key"
    assert key(compiler="arm-none-eabi-g++ 13.3.1") != base, "the compiler is in the key"
    assert key(tflm_dir=None, fetch_pins="tflm_commit=90b9") != base
    assert key(tflm_dir=None, fetch_pins="tflm_commit=90b9") != key(tflm_dir=None, fetch_pins="tflm_commit=1b68")
    kernel = tree / "tensorflow/lite/micro/kernels/conv.cc"
    kernel.write_text("// an edited kernel, one byte longer!")
    assert key() != base, "an edited TFLM source changes the key"
    edited = key()
    (tree / "third_party/ruy/ruy/extra.h").write_text("")
    assert key() != edited, "a new header changes the key"
    (tree / "README.md").write_text("docs do not count")
    (tree / "tensorflow/lite/micro/kernels/notes.txt").write_text("neither do other files")
    assert key() == key() and tree_fingerprint(tree) == tree_fingerprint(tree)


def test_plan_passes_the_cache_directory(projects: dict[str, Path], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EDGEKIT_TFLM_DIR", raising=False)
    monkeypatch.delenv("EDGEKIT_TFLM_FETCH", raising=False)
    assert cache_root() == tmp_path / "cache"
    tree = _tree(tmp_path / "tflm")
    argv = plan_build(projects["a"], tflm_dir=str(tree)).steps[0].argv
    opt = [a for a in argv if a.startswith("-DEDGEKIT_TFLM_LIB_CACHE=")]
    assert len(opt) == 1 and opt[0].startswith(f"-DEDGEKIT_TFLM_LIB_CACHE={tmp_path / 'cache' / 'tflm'}/")
    assert opt == [a for a in plan_build(projects["b"], tflm_dir=str(tree)).steps[0].argv
                   if a.startswith("-DEDGEKIT_TFLM_LIB_CACHE=")]
    # without a tree: no cache, and the one variable is named with the fetch alternative
    plan = plan_build(projects["a"])
    assert not any("LIB_CACHE" in a for a in plan.steps[0].argv)
    assert any(m.startswith("EDGEKIT_TFLM_DIR") for m in plan.missing)
    assert "--tflm-fetch" in plan.hint and "EDGEKIT_TFLM_DIR" in plan.hint
    fetched = plan_build(projects["a"], tflm_fetch=True)
    assert "-DEDGEKIT_TFLM_FETCH=ON" in fetched.steps[0].argv
    assert not any(m.startswith("EDGEKIT_TFLM_DIR") for m in fetched.missing)
    assert any(a.startswith("-DEDGEKIT_TFLM_LIB_CACHE=") for a in fetched.steps[0].argv)


def test_cmake_links_a_cached_library_and_stores_a_new_one(projects: dict[str, Path], tmp_path: Path) -> None:
    need_tool("cmake")
    need_tool("arm-none-eabi-gcc")
    need_tool("arm-none-eabi-g++")
    tree = _tree(tmp_path / "tflm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEKIT_")}
    hit, miss = tmp_path / "hit", tmp_path / "miss"
    hit.mkdir()
    (hit / "libtflm.a").write_bytes(b"!<arch>\n")

    def configure(cache: Path, build: str) -> str:
        res = subprocess.run(["cmake", "-S", str(projects["a"]), "-B", str(tmp_path / build),
                              f"-DEDGEKIT_TFLM_DIR={tree}", f"-DEDGEKIT_TFLM_LIB_CACHE={cache}"],
                             capture_output=True, text=True, env=env, check=False)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert f"TFLM library from the cache: {hit}/libtflm.a" in configure(hit, "b1")
    out = configure(miss, "b2")
    assert "from the cache" not in out and "sources, CMSIS-NN OFF" in out
    rules = "".join(p.read_text(errors="replace") for p in (tmp_path / "b2").rglob("build.make"))
    assert f"{miss}/libtflm.a" in rules, "the built library is stored in the cache directory"
