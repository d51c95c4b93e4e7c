"""The dot-product paths of the 16x8 convolutions / FULLY_CONNECTED, SVDF and TRANSPOSE_CONV (ek_dot.h,
ek_conv16.c): SMLALD / SMLAD on DSP cores, VMLALDAVA / VMLADAVA on MVE, plain C on the host, all byte-identical
with the TFLM host interpreter.

The shapes aim at the paths' edges: channel counts that leave 1-3 values after the groups of 4 (8 or 16 on MVE),
clipped windows (padding) that shorten CONV_2D's row runs, dilation (one dot per tap), groups, a depthwise window
of more than 511 taps (the 64-bit fallback), depth multipliers > 1, odd SVDF input sizes and memories, int8 state
zero points. One ASan/UBSan host build runs every variant and the chain (the portable path); the chain through all
of them runs on the emulated Cortex-M4 (DSP) and Cortex-M55 (MVE), every intermediate a model output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import REPO, need_module, need_tool
from rnn_models import svdf_op, tconv_op
from tflite_single_op import T, multi_op_model

RUNTIME_DIR = REPO / "firmware_templates" / "runtime" / "edgekit"


def _w(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _b(rng: np.random.Generator, n: int, dtype: str, mag: int, scale: float = 1.0) -> T:
    return T((n,), dtype, scale=scale, data=rng.integers(-mag, mag + 1, size=n).astype(dtype))


def _conv(rng: np.random.Generator, x: T, oc: int, k: tuple[int, int], out_hw: tuple[int, int], bias: str | None,
          opts: dict, groups: int = 1, out_scale: float = 0.02) -> tuple[tuple, T]:
    kc = x.shape[3] // groups
    f = T((oc, *k, kc), "int8", scale=list(rng.uniform(0.002, 0.02, oc)), data=_w(rng, (oc, *k, kc)))
    y = T((x.shape[0], *out_hw, oc), "int16", scale=out_scale)
    b = _b(rng, oc, bias, 30000 if bias == "int64" else 3000) if bias else None
    return ("CONV_2D", [x, f, b], [y], opts), y


def _dw(rng: np.random.Generator, x: T, mult: int, k: tuple[int, int], out_hw: tuple[int, int], opts: dict,
        out_scale: float = 0.02) -> tuple[tuple, T]:
    oc = x.shape[3] * mult
    f = T((1, *k, oc), "int8", scale=list(rng.uniform(0.002, 0.02, oc)), data=_w(rng, (1, *k, oc)),
          quantized_dimension=3)
    y = T((x.shape[0], *out_hw, oc), "int16", scale=out_scale)
    return ("DEPTHWISE_CONV_2D", [x, f, _b(rng, oc, "int64", 20000)], [y], {**opts, "depth_multiplier": mult}), y


def _fc(rng: np.random.Generator, x: T, rows: int, bias: str | None, out_scale: float) -> tuple[tuple, T]:
    f = T((rows, x.shape[1]), "int8", scale=list(rng.uniform(0.002, 0.02, rows)), data=_w(rng, (rows, x.shape[1])))
    y = T((x.shape[0], rows), "int16", scale=out_scale)
    return ("FULLY_CONNECTED", [x, f, _b(rng, rows, bias, 20000) if bias else None], [y], {}), y


def variants() -> bytes:
    """Independent ops, each its own input and output, and the chain, in one model."""
    rng = np.random.default_rng(16)
    x = lambda *s: T(s, "int16", scale=1 / 4096)  # noqa: E731
    ops = [
        _conv(rng, x(1, 5, 7, 7), 5, (3, 3), (5, 7), "int64", {"padding": "SAME"})[0],  # rows of 21/14, tails
        _conv(rng, x(1, 1, 40, 1), 3, (1, 13), (1, 28), "int32", {"padding": "VALID"})[0],  # 1-channel audio rows
        _conv(rng, x(2, 7, 6, 5), 6, (3, 2), (3, 2), None, {"padding": "VALID", "strides": (2, 3),
                                                             "dilation": (1, 2)})[0],  # one dot per tap, kc 5
        _conv(rng, x(1, 6, 6, 6), 4, (3, 3), (6, 6), "int64", {"padding": "SAME"}, groups=2)[0],  # groups: kc 3
        _conv(rng, x(1, 4, 4, 33), 2, (2, 2), (3, 3), "int64", {"padding": "VALID", "activation": "RELU"},
              out_scale=0.2)[0],
        _dw(rng, x(1, 6, 7, 7), 1, (3, 3), (6, 7), {"padding": "SAME"})[0],  # 4 + a tail of 3
        _dw(rng, x(1, 5, 5, 6), 1, (3, 3), (3, 3), {"padding": "SAME", "strides": (2, 2), "dilation": (1, 1)})[0],
        _dw(rng, x(1, 9, 9, 9), 1, (3, 3), (5, 5), {"padding": "VALID", "dilation": (2, 2)})[0],
        _dw(rng, x(1, 24, 24, 5), 1, (23, 23), (2, 2), {"padding": "VALID"}, out_scale=0.5)[0],  # 529 taps
        _dw(rng, x(1, 4, 5, 3), 3, (2, 2), (4, 5), {"padding": "SAME", "activation": "RELU6"})[0],
        _fc(rng, x(2, 37), 9, "int64", 0.05)[0],
        _fc(rng, x(1, 3), 4, "int32", 0.002)[0],
        _fc(rng, x(3, 130), 5, None, 0.1)[0],
        tconv_op(rng, T((1, 3, 4, 7), scale=0.05, zero_point=-9), 5, k=(3, 3), strides=(2, 2))[0],
        tconv_op(rng, T((1, 2, 3, 19), scale=0.03, zero_point=100), 2, k=(2, 3), strides=(1, 2),
                 padding="VALID")[0],
        tconv_op(rng, T((1, 3, 2, 13), "int16", scale=1e-3), 3, k=(3, 3), strides=(2, 1), out_scale=4e-3)[0],
        svdf_op(rng, T((1, 37), scale=0.05, zero_point=-20), 5, rank=2, memory=9, out_scale=0.2)[0],
        svdf_op(rng, T((2, 19), scale=0.05, zero_point=3), 3, memory=17, state="int8", state_zp=-40,
                out_scale=0.4)[0],
    ]
    return multi_op_model(ops + chain_ops())


@pytest.mark.tflm
def test_dot_path_variants_match_tflm_on_host(tmp_path: Path) -> None:
    """Every variant, several inferences in a row (the SVDF states carry over), ASan/UBSan."""
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model

    tflite = variants()
    sets = random_inputs(load_model(tflite), 4, seed=3)
    assert aot_vs_tflm(tflite, tmp_path, inputs=sets) == []


def chain_ops() -> list[tuple]:
    """int8 [1, 5, 6, 7] -> TRANSPOSE_CONV int8 -> int16 -> CONV_2D (rows) -> CONV_2D (dilated, int32 bias) ->
    DEPTHWISE (x1, stride 2) -> TRANSPOSE_CONV 16x8 -> DEPTHWISE (x2) -> FULLY_CONNECTED -> int8 -> SVDF (int16
    state) -> SVDF (int8 state); every intermediate is a model output."""
    rng = np.random.default_rng(55)
    x8 = T((1, 5, 6, 7), scale=0.04, zero_point=-6)
    t8, y = tconv_op(rng, x8, 9, k=(3, 3), strides=(1, 1), out_scale=0.3, out_zp=3)
    y.graph_output = True
    x16 = T(y.shape, "int16", scale=1 / 256, graph_output=True)
    c1, h = _conv(rng, x16, 7, (3, 3), (5, 6), "int64", {"padding": "SAME"}, out_scale=0.5)
    c2, h2 = _conv(rng, h, 6, (3, 3), (5, 6), "int32", {"padding": "SAME", "dilation": (2, 2)}, out_scale=0.05)
    d1, h3 = _dw(rng, h2, 1, (3, 3), (3, 3), {"padding": "SAME", "strides": (2, 2)}, out_scale=0.02)
    t16, h4 = tconv_op(rng, h3, 5, k=(3, 3), strides=(2, 2), out_scale=0.02)
    d2, h5 = _dw(rng, h4, 2, (2, 2), (5, 5), {"padding": "VALID"}, out_scale=0.01)
    flat = T((1, 250), "int16", scale=h5.scale)
    fc, h6 = _fc(rng, flat, 13, "int64", 0.02)
    q8 = T((1, 13), scale=0.02, zero_point=1, graph_output=True)
    s1, h7 = svdf_op(rng, q8, 6, rank=2, memory=5, out_scale=0.1, out_zp=-3)
    s2, _ = svdf_op(rng, h7, 4, memory=7, state="int8", state_zp=-20, out_scale=0.3)
    for t in (h, h2, h3, h4, h5, h6, h7):
        t.graph_output = True
    shape = T((2,), "int32", data=np.array([1, 250], np.int32))
    return [t8, ("QUANTIZE", [y], [x16], {}), c1, c2, d1, t16, d2,
            ("RESHAPE", [h5, shape], [flat], {"new_shape": [1, 250]}), fc, ("QUANTIZE", [h6], [q8], {}), s1, s2]


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
@pytest.mark.parametrize("board", ["qemu-cortex-m4", "qemu-cortex-m55"])
def test_dot_path_chain_bit_exact_on_qemu(board: str, tmp_path: Path) -> None:
    """The chain on the DSP (M4) and MVE (M55) paths, 4 inferences in a row (SVDF state carried)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = tmp_path / "chain.tflite"
    path.write_bytes(multi_op_model(chain_ops()))
    rng = np.random.default_rng(9)
    xs = np.concatenate([np.full((1, 1, 5, 6, 7), 127, np.int8),
                         rng.integers(-128, 128, size=(3, 1, 5, 6, 7)).astype(np.int8)])
    res = validate(path, board=board, inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]
    assert list(Path(res.project_dir).rglob("ek_conv16.c")), "not built with edgekit's AOT runtime"


@pytest.mark.toolchain
@pytest.mark.parametrize(("cpu", "want", "absent"), [
    ("cortex-m4", ("smlald", "smlad", "smlatb", "pkhtb"), ("vmlaldav",)),
    ("cortex-m33", ("smlald", "smlad", "pkhbt"), ("vmlaldav",)),
    ("cortex-m55", ("vmlalva.s16", "vmlava.s8", "vmul.i32"), ()),
    ("cortex-m3", (), ("smlald", "smlad", "vmlaldav")),
])
def test_dot_paths_compile_to_the_instructions(cpu: str, want: tuple[str, ...], absent: tuple[str, ...],
                                               tmp_path: Path) -> None:
    """-Wall -Wextra -Werror -Wconversion on each core; the DSP / MVE instructions are there where they should be."""
    gcc = need_tool("arm-none-eabi-gcc")
    objdump = need_tool("arm-none-eabi-objdump")
    flags = ["-mfloat-abi=hard"] if cpu == "cortex-m55" else []
    text = ""
    for src in ("ek_conv16.c", "ek_svdf.c", "ek_transpose_conv.c"):
        obj = tmp_path / f"{src}.o"
        res = subprocess.run([gcc, f"-mcpu={cpu}", *flags, "-mthumb", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                              "-Wconversion", "-Wno-sign-conversion", "-I", str(RUNTIME_DIR), "-c",
                              str(RUNTIME_DIR / src), "-o", str(obj)], capture_output=True, text=True)
        assert res.returncode == 0, f"{cpu} {src}: {res.stderr}"
        arch = ["-marmv8.1-m.main"] if cpu == "cortex-m55" else []  # objdump decodes MVE only when told
        text += subprocess.run([objdump, "-d", *arch, str(obj)],
                               capture_output=True, text=True, check=True).stdout
    mnemonics = {line.split("\t")[2].strip() for line in text.splitlines() if line.count("\t") >= 2}
    for m in want:
        assert m in mnemonics, f"{cpu}: no {m}"
    for m in absent:
        assert not any(x.startswith(m) for x in mnemonics), f"{cpu}: {m} on a core without it"
