"""Every int8 model in ../shared/models runs on the emulated Cortex-M4 (DSP kernels) and Cortex-M55 (MVE / Helium
kernels) with the edgekit runtime and its outputs are byte-identical with the TFLM host interpreter (generate ->
build -> QEMU -> serial -> compare)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MODELS, need, need_module, need_tool, shared_model

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain, pytest.mark.tflm, pytest.mark.slow]


def _int8_models() -> list[str]:
    manifest = SHARED_MODELS / "MANIFEST.json"
    if not manifest.exists():  # the test below then skips locally / fails in CI through shared_model()
        return ["mlperf_tiny/kws_ds_cnn_int8.tflite"]
    files = json.loads(manifest.read_text())["files"]
    names = [f["file"] if isinstance(f, dict) else f for f in files]
    return sorted(n for n in names if n.endswith("int8.tflite"))


@pytest.mark.parametrize("board", ["qemu-cortex-m4", "qemu-cortex-m55"])
@pytest.mark.parametrize("rel", _int8_models())
def test_shared_int8_model_is_byte_exact_on_qemu(rel: str, board: str, tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    path = shared_model(rel)
    m = load_model(path)
    inp = m.main.tensors[m.main.inputs[0]]
    need(inp.dtype == "int8", f"{rel}: input is {inp.dtype}")
    rng = np.random.default_rng(len(rel))
    xs = rng.integers(-128, 128, size=(3, *inp.shape), dtype=np.int8)
    res = validate(path, board=board, inputs=xs, work_dir=tmp_path / "fw")
    assert res.inputs == 3
    assert res.byte_exact == 3, res.to_dict()["mismatches"]
    assert res.max_abs_diff == 0 and res.ok
