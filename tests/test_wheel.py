"""The package users install: a wheel built from this tree, in a fresh venv, outside the checkout, does the whole
flow (boards list, generate -> build -> bench on the emulated Cortex-M4); and the public API keeps its names."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, need_module, need_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]


def _api_names() -> dict[str, object]:
    import edgekit

    return {name: getattr(edgekit, name) for name in edgekit.__all__}


def test_public_api_is_stable_across_submodule_imports() -> None:
    """``edgekit.inspect`` etc. are the same callables before and after every submodule (and the CLI) is imported."""
    before = _api_names()
    import edgekit

    skipped = []
    for info in pkgutil.walk_packages(edgekit.__path__, "edgekit.", onerror=lambda name: skipped.append(name)):
        if ".sbc.edgekit_runner" in info.name or info.name.endswith("__main__"):  # programs, not modules
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as exc:  # an optional extra that is not installed
            skipped.append(f"{info.name}: {exc}")
    importlib.import_module("edgekit.cli")
    after = _api_names()
    changed = [n for n in before if before[n] is not after[n]]
    assert not changed, f"imports replaced public names: {changed}"
    for name in ("inspect", "convert", "generate", "build", "bench", "validate", "flash", "deploy"):
        assert callable(after[name]) and not isinstance(after[name], type(edgekit)), name


def _tiny_model(path: Path) -> Path:
    need_module("tflite_micro")
    from tflite_single_op import T, single_op_model

    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (4, 16), dtype=np.int8)
    data = single_op_model("FULLY_CONNECTED",
                           [T((1, 16), scale=0.05, zero_point=3), T((4, 16), scale=[0.01] * 4, data=w),
                            T((4,), "int32", scale=[0.0005] * 4, data=np.arange(4, dtype=np.int32))],
                           [T((1, 4), scale=0.1, zero_point=-2)])
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of this tree installed into a new venv; returns the venv's ``edgekit`` program."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(REPO)],
                   check=True, capture_output=True, text=True)
    wheel = next((work / "dist").glob("edgekit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("edgekit/_data/boards/") and n.endswith(".yaml") for n in names)
    assert any(n.startswith("edgekit/_data/firmware_templates/runtime/edgekit/") for n in names)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    return venv / "bin" / "edgekit"


def _run(exe: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDGEKIT_BOARDS_PATH")}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_wheel_install_runs_the_whole_flow(installed: Path, tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("qemu-system-arm")
    where = _run(installed.parent / "python", "-c", "import edgekit.resources as r; print(r.boards_dir())",
                 cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert "site-packages/edgekit/_data/boards" in where.stdout, where.stdout  # not this checkout's boards/
    boards = _run(installed, "boards", "list", cwd=tmp_path)
    assert boards.returncode == 0, boards.stderr
    assert "qemu-cortex-m4" in boards.stdout and "nucleo-l4r5zi" in boards.stdout
    model = _tiny_model(tmp_path / "fc.tflite")
    gen = _run(installed, "generate", str(model), "--board", "qemu-cortex-m4", "-o", "fw", cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    build = _run(installed, "build", "fw", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    bench = _run(installed, "bench", "fw", "--runs", "3", "--json", cwd=tmp_path)
    assert bench.returncode == 0, bench.stderr
    result = json.loads(bench.stdout)
    assert result["schema"] == "edgekit.bench/1"
    assert result["board"]["id"] == "qemu-cortex-m4" and result["runs"] == 3
    assert result["device"]["runtime"].startswith("edgekit ")
    # the instruction-mix plugin's C source and the timing tables ship in the wheel: cycles are estimated
    assert result["cycles"]["estimated_cycles"] > 0 and result["cycles"]["mix"]["unclassified"] == 0
