"""The float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / pool kernels' blocked paths against TFLM.

ek_float_nn.c computes 4 outputs per pass (scalar FPU: 4 output channels share each input load; Helium MVE-F on
the Cortex-M55: 4 output channels in the lanes of a vector), each output still summed in TFLM's order, so the
results stay bit-exact. The model below hits every path: channel counts that leave 1-3 channels after the blocks of
4, groups, depth multipliers, SAME/VALID padding, strides, dilations, windows larger than the input, batches.
Host: one ASan/UBSan build. Board: the same model on the emulated Cortex-M55 (MVE-F paths) and Cortex-M4F.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model

pytestmark = [pytest.mark.tflm]

RNG = np.random.default_rng(2121)


def _w(*shape: int, scale: float = 0.4) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _f(*shape: int, data: np.ndarray | None = None) -> T:
    return T(shape, "float32", data=data)


def _c(*shape: int) -> T:
    return _f(*shape, data=_w(*shape))


def kernel_ops() -> list:
    """Conv / depthwise / FC / pool operators over odd shapes (inputs x, z, u, v)."""
    x, z, u, v = _f(1, 9, 7, 5), _f(1, 6, 6, 8), _f(1, 63), _f(3, 20)
    return [
        ("CONV_2D", [x, _c(11, 3, 3, 5), _c(11)], [_f(1, 9, 7, 11)], {"activation": "RELU"}),  # 8 + 3 channels
        ("CONV_2D", [x, _c(6, 3, 2, 5), None], [_f(1, 4, 6, 6)], {"padding": "VALID", "strides": (2, 1)}),
        ("CONV_2D", [x, _c(8, 3, 3, 5), _c(8)], [_f(1, 5, 4, 8)], {"dilation": (2, 3), "strides": (2, 2)}),
        ("CONV_2D", [x, _c(13, 1, 1, 5), _c(13)], [_f(1, 9, 7, 13)], {"activation": "RELU6"}),
        ("CONV_2D", [z, _c(10, 2, 2, 4), _c(10)], [_f(1, 6, 6, 10)], {}),  # 2 groups of 5 outputs
        ("CONV_2D", [x, _c(4, 7, 7, 5), _c(4)], [_f(1, 3, 3, 4)], {"strides": (3, 3)}),  # window > input
        ("DEPTHWISE_CONV_2D", [x, _c(1, 3, 3, 5), _c(5)], [_f(1, 9, 7, 5)], {"activation": "RELU"}),
        ("DEPTHWISE_CONV_2D", [x, _c(1, 2, 3, 15), _c(15)], [_f(1, 4, 3, 15)],
         {"padding": "VALID", "strides": (2, 2), "depth_multiplier": 3}),
        ("DEPTHWISE_CONV_2D", [z, _c(1, 3, 3, 8), _c(8)], [_f(1, 3, 3, 8)],
         {"dilation": (2, 2), "strides": (2, 2), "activation": "RELU6"}),
        ("DEPTHWISE_CONV_2D", [z, _c(1, 5, 5, 16), _c(16)], [_f(1, 6, 6, 16)], {"depth_multiplier": 2}),
        ("FULLY_CONNECTED", [u, _c(13, 63), _c(13)], [_f(1, 13)], {}),
        ("FULLY_CONNECTED", [u, _c(3, 63), None], [_f(1, 3)], {"activation": "RELU"}),
        ("FULLY_CONNECTED", [v, _c(9, 20), _c(9)], [_f(3, 9)], {"activation": "RELU_N1_TO_1"}),
        ("AVERAGE_POOL_2D", [x], [_f(1, 5, 4, 5)], {"filter": (3, 3), "strides": (2, 2)}),
        ("MAX_POOL_2D", [x], [_f(1, 8, 3, 5)], {"filter": (2, 3), "strides": (1, 2), "padding": "VALID"}),
        ("L2_POOL_2D", [z], [_f(1, 3, 3, 8)], {"filter": (2, 2), "strides": (2, 2), "padding": "VALID"}),
        ("MAX_POOL_2D", [z], [_f(1, 6, 6, 8)], {"filter": (3, 3)}),
        ("AVERAGE_POOL_2D", [z], [_f(1, 2, 2, 8)], {"filter": (4, 4), "strides": (4, 4)}),
    ]


def kernel_inputs(model: bytes, n: int, seed: int) -> list[list[np.ndarray]]:
    """Standard-normal input sets; every other one scaled by 7."""
    from edgekit.tflite_model import load_model

    rng = np.random.default_rng(seed)
    sg = load_model(model).main
    return [[(rng.standard_normal(sg.tensors[i].shape) * (7.0 if k % 2 else 1.0)).astype(np.float32)
             for i in sg.inputs] for k in range(n)]


def _not_bit_exact(ours: list[list[np.ndarray]], ref: list[list[np.ndarray]]) -> list[str]:
    return [f"set {k} output {j}: {int((a.view(np.uint32) != np.asarray(b).reshape(a.shape).view(np.uint32)).sum())}"
            f" of {a.size} differ" for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True))
            for j, (a, b) in enumerate(zip(mine, theirs, strict=True))
            if a.tobytes() != np.asarray(b, a.dtype).tobytes()]


def test_blocked_float_kernels_bit_exact_on_host(tmp_path: Path) -> None:
    """One ASan/UBSan host build of every shape; each output bit-exact with TFLM on 4 input sets."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    model = multi_op_model(kernel_ops())
    sets = kernel_inputs(model, 4, 1)
    parsed = load_model(model)
    ours = run_host_sets(build_host(parsed, tmp_path), sets)
    ref = tflm_run(parsed, sets)
    assert _not_bit_exact(ours, ref) == []
    for j in range(len(ours[0])):
        assert np.unique(np.concatenate([s[j].reshape(-1) for s in ours])).size > 4, j


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.parametrize("board", ["qemu-cortex-m55", "qemu-cortex-m4"])
def test_blocked_float_kernels_bit_exact_on_qemu(board: str, tmp_path: Path) -> None:
    """The same model on the emulated Cortex-M55 (Helium MVE-F lanes) and Cortex-M4F (FPU): byte-exact."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = tmp_path / "float_kernels.tflite"
    model = multi_op_model(kernel_ops())
    path.write_bytes(model)
    sets = kernel_inputs(model, 2, 2)
    per_input = [np.stack([s[i] for s in sets]) for i in range(len(sets[0]))]
    res = validate(path, board=board, inputs=per_input, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(sets), res.to_dict()["mismatches"]
    assert res.ok and res.max_rel_diff == 0.0
    assert list(Path(res.project_dir).rglob("ek_float_nn.c")), "not built with edgekit's AOT runtime"


@pytest.mark.toolchain
def test_float_kernels_never_fuse_multiply_add_in_gnu_c(tmp_path: Path) -> None:
    """GNU C dialects (PlatformIO's default) let GCC contract a * b + c into VFMA, one rounding instead of TFLM's
    two: ek_float_nn.c turns contraction off itself, so its object code has no fused multiply-add."""
    import re
    import shutil
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    objdump = shutil.which("arm-none-eabi-objdump")
    assert objdump, "arm-none-eabi-objdump comes with arm-none-eabi-gcc"
    src = REPO / "firmware_templates" / "runtime" / "edgekit" / "ek_float_nn.c"
    for cpu in (["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"], ["-mcpu=cortex-m55"]):
        obj = tmp_path / "k.o"
        subprocess.run([gcc, "-std=gnu11", *cpu, "-mthumb", "-mfloat-abi=hard", "-O2", "-Wall", "-Wextra", "-Werror",
                        "-c", str(src), "-o", str(obj)], check=True, capture_output=True)
        text = subprocess.run([objdump, "-d", str(obj)], check=True, capture_output=True, text=True).stdout
        assert "vmul.f32" in text and "vadd.f32" in text, cpu
        assert not re.search(r"\bv(fma|fms|fnma|fnms|mla|mls|nmla|nmls)\b", text), cpu
