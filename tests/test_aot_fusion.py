"""CONV_2D + ADD fusion (edgekit/codegen/aot/fusion.py): bit-exact with TFLM, a smaller arena, and no fusion
where it would be wrong (the skip input still needed later, a broadcast ADD)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import need_module, need_tool

from edgekit.cores import CoreFeatures

pytestmark = pytest.mark.tflm


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for the module's host builds."""
    need_tool("gcc")
    return tmp_path_factory.mktemp("ek_objs")


def _conv(x, out_c: int, *, k: int = 3, seed: int, out_zp: int = 0, **opts):
    """A CONV_2D op on ``x`` with random per-channel int8 weights; returns (op, output tensor)."""
    from tflite_single_op import T

    from edgekit.codegen.aot.geometry import compute_padding

    rng = np.random.default_rng(seed)
    in_c = x.shape[3]
    w_scale = [0.02 * (1 + 0.1 * c) for c in range(out_c)]
    w = T((out_c, k, k, in_c), scale=w_scale, data=rng.integers(-127, 128, (out_c, k, k, in_c), dtype=np.int8))
    bias_scale = [x.scale * s for s in w_scale]
    b = T((out_c,), "int32", scale=bias_scale, data=rng.integers(-3000, 3000, out_c, dtype=np.int32))
    sh, sw = opts.get("strides", (1, 1))
    pad = opts.get("padding", "SAME")
    oh = compute_padding(pad, x.shape[1], k, sh, 1).out_size
    ow = compute_padding(pad, x.shape[2], k, sw, 1).out_size
    out_scale = x.scale * 0.02 * 70 * 70 * np.sqrt(k * k * in_c) / 40
    y = T((1, oh, ow, out_c), scale=float(out_scale), zero_point=out_zp)
    return ("CONV_2D", [x, w, b], [y], opts), y


def _residual(*, skip_order: bool = False, size: tuple[int, int] = (16, 16), channels: int = 16,
              strided: bool = False, pointwise: bool = False) -> bytes:
    """x -> conv -> a; a -> conv -> b; (b, or a 1x1/2 conv of a when ``strided``) -> conv (1x1 when ``pointwise``)
    -> c; d = ADD(a, c)."""
    from tflite_single_op import T, multi_op_model

    x = T((1, *size, 8), scale=0.05, zero_point=-3)
    op0, a = _conv(x, channels, seed=1, out_zp=-128, activation="RELU")
    if strided:  # ResNet's downsampling block: b = conv3x3/2(a), c = conv1x1/2(a) VALID (no top padding)
        op1, b = _conv(a, channels, seed=2, out_zp=5, strides=(2, 2), activation="RELU")
        op2, c = _conv(a, channels, k=1, seed=3, out_zp=-7, strides=(2, 2), padding="VALID")
        skip = b
    else:
        op1, b = _conv(a, channels, seed=2, out_zp=5, activation="RELU")
        op2, c = _conv(b, channels, k=1 if pointwise else 3, seed=3, out_zp=-7)
        skip = a
    d = T(c.shape, scale=0.09, zero_point=-20)
    add_in = [c, skip] if skip_order else [skip, c]
    return multi_op_model([op0, op1, op2, ("ADD", add_in, [d], {"activation": "RELU"})])


def _fused(tflite: bytes, tmp: Path, **kw) -> tuple[int, int, list[str]]:
    """(arena fused, arena unfused, notes of the fused generation)."""
    from edgekit.codegen.aot import generate_c

    on = generate_c(tflite, tmp / "on", **kw)
    off = generate_c(tflite, tmp / "off", fuse=False, **kw)
    return on.arena_bytes, off.arena_bytes, [n for n in on.notes if "fused" in n]


@pytest.mark.parametrize("case,rows", [("plain", None), ("skip_second", None), ("strided", None),
                                        ("plain", 3), ("strided", 1), ("sparse", 5), ("mve", None),
                                        ("mve_skip_second", None), ("mve_1x1", 5), ("mve_small", None)])
def test_fused_residual_is_bit_exact_and_smaller(case: str, rows: int | None, objs: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("tflite_micro")
    from edgekit.codegen.aot import fusion
    from edgekit.tflite_model import load_model

    if rows is not None:  # blocks of `rows` output rows (16 rows: the last block of 3 is shorter)
        monkeypatch.setattr(fusion, "ROW_BLOCK_BYTES", rows * 16 * 16)
    sparse = "force" if case == "sparse" else "auto"
    # mve: the fused conv takes two patch slots for one of the 8 block rows (fusion.trade_rows, ek_conv.h)
    mve = case.startswith("mve")
    features = {"features": CoreFeatures.from_flags(["-mcpu=cortex-m55", "-mfloat-abi=hard"])} if mve else {}
    tflite = _residual(skip_order=case.endswith("skip_second"), strided=case == "strided", pointwise=case == "mve_1x1",
                       size=(4, 8) if case == "mve_small" else (16, 16))
    on, off, notes = _fused(tflite, tmp_path, sparse=sparse, **features)
    assert len(notes) == 1 and "ops 2+3" in notes[0]
    if case == "mve":
        assert "7 output rows per block" in notes[0]
        src = (tmp_path / "on" / "ek_model.c").read_text()
        assert "EK_CONV_MVE_PAIRS" in src
        # the table ADD over the block's elements, in place on A, no broadcast walk (ek_bcast) linked
        # A is the ADD's first input: input 1 of pa is the conv's block, the table ADD's input fields swapped
        assert "ek_conv2d_s8_mve_add(&p, ek_conv2d_s8_mve_rows, " in src and "ek_bcast" not in src
        assert ".input1_offset = 7, .input2_offset = 128," in src  # the EK_SINGLE_ROUNDING build's ek_add_params
        assert "static const ek_add_table_t pa = {" in src  # else the table ADD's fields alone
        # both roundings compile warning-free (the other one's struct is preprocessed away), portable and MVE
        files = [str(tmp_path / "on" / f) for f in ("ek_model.c", "ek_conv.c", "ek_elementwise.c")]
        m55 = ["arm-none-eabi-gcc", "-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"]
        for cc in (["gcc"], m55) if shutil.which(m55[0]) else (["gcc"],):
            for single in (0, 1):
                subprocess.run([*cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-DEK_SINGLE_ROUNDING={single}",
                                "-fsyntax-only", *files], check=True)
    if case == "mve_skip_second":  # the conv's block is the ADD's first input already: pa as the ADD has it
        assert ".input1_offset = 7, .input2_offset = 128," in (tmp_path / "on" / "ek_model.c").read_text()
    if case == "mve_small":  # 512 elements: no ADD tables, the block loop inline on a copy of the ek_conv_mve_t
        assert "ek_conv_mve_t pr = p;" in (tmp_path / "on" / "ek_model.c").read_text()
    if case == "mve_1x1":  # the 1x1 entry counts a block's pixels from its rows (blocks of 5, the last one of 1)
        assert "ek_conv2d_s8_mve_1x1(&q, in, blk, pr.out_h * 16);" in (tmp_path / "on" / "ek_model.c").read_text()
    # strided: the peak is the first conv (x and a), before the pair (mve_small: x too); else a + b + c is the peak
    # without fusion
    assert on <= off if case in ("strided", "mve_small") else on < off
    model = load_model(tflite)
    sets = random_inputs(model, 3, seed=7)
    shape = model.main.tensors[model.main.inputs[0]].shape
    sets += [[np.full(shape, v, dtype=np.int8)] for v in (-128, 127)]
    problems = aot_vs_tflm(tflite, tmp_path / "host", inputs=sets, obj_cache=objs, sparse=sparse, **features)
    assert problems == [], "\n".join(problems)


def test_ic_resnet8_arena_is_under_0_8_of_tflm(tmp_path: Path) -> None:
    from conftest import shared_model

    from edgekit.codegen.aot import generate_c

    path = shared_model("mlperf_tiny/ic_resnet8_int8.tflite")
    res = generate_c(path, tmp_path / "gen")
    assert sum("fused" in n for n in res.notes) == 3
    assert res.arena_bytes <= 0.8 * 54_340  # TFLM's arena on a Cortex-M4 (NOTES.md)
    assert res.arena_bytes < generate_c(path, tmp_path / "off", fuse=False).arena_bytes


def test_no_fusion_when_the_skip_input_is_read_later(objs: Path, tmp_path: Path) -> None:
    need_module("tflite_micro")
    from tflite_single_op import T, multi_op_model

    x = T((1, 12, 12, 8), scale=0.05, zero_point=-3)
    op0, a = _conv(x, 8, seed=1, out_zp=-128, activation="RELU")
    op1, b = _conv(a, 8, seed=2, out_zp=5)
    op2, c = _conv(b, 8, seed=3, out_zp=-7)
    d = T(c.shape, scale=0.09, zero_point=-20)
    e = T(c.shape, scale=0.1, zero_point=3)
    tflite = multi_op_model([op0, op1, op2, ("ADD", [a, c], [d], {}), ("ADD", [d, a], [e], {})])
    on, off, notes = _fused(tflite, tmp_path)
    assert notes == [] and on == off
    assert aot_vs_tflm(tflite, tmp_path / "host", sets=2, obj_cache=objs) == []


def test_no_fusion_when_the_conv_reads_the_skip_input_or_the_add_broadcasts(tmp_path: Path) -> None:
    from tflite_single_op import T, multi_op_model

    x = T((1, 12, 12, 8), scale=0.05, zero_point=-3)
    op0, a = _conv(x, 8, seed=1, out_zp=-128)
    op1, c = _conv(a, 8, seed=2, out_zp=5)  # c = conv(a), d = a + c: overwriting a would corrupt the conv's input
    d = T(c.shape, scale=0.09, zero_point=-20)
    _, _, notes = _fused(multi_op_model([op0, op1, ("ADD", [a, c], [d], {})]), tmp_path / "self")
    assert notes == []

    y = T((1, 1, 1, 8), scale=0.05, zero_point=1)  # a per-channel model input broadcast over c
    op0, c = _conv(x, 8, seed=4, out_zp=2)
    e = T(c.shape, scale=0.09, zero_point=-20)
    _, _, notes = _fused(multi_op_model([op0, ("ADD", [y, c], [e], {})]), tmp_path / "bcast")
    assert notes == []
