"""The DSP-core fast paths of issue 8, bit-exact with TFLM.

DEPTHWISE_CONV_2D through ek_depthwise_conv2d_s8_packed: packed 16-bit weights, dw_rq requantization
table, lane-wise int8 clamp. Bit-exact with TFLM on single-op models with exact quantization parameters: channel
counts that are and are not multiples of 4, padding at every edge, strides 2, 5x5 / 2x3 windows (generic tap loop),
dilation, depth multiplier > 1 and multipliers >= 1/4 (fallback kernels), extreme zero points and multipliers.
Host runs are ASan/UBSan builds (portable path); the QEMU test runs the Thumb-2 / DSP path on a Cortex-M4.

ADD / SUB through per-input tables (ek_add_params.table1/2): same-shape, broadcast, in-place, tails, activations,
and the cases that keep the per-element path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import need_module, need_tool

pytestmark = [pytest.mark.tflm]


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for the host builds of this module."""
    return tmp_path_factory.mktemp("ek_objs")


def _dw_layer(x, ch_in: int, *, k=(3, 3), strides=(1, 1), padding="SAME", dilation=(1, 1), mult=1,
              act="NONE", eff=(0.003, 0.05), out_zp=3, seed=0, bias_scale=2000.0):
    """One DEPTHWISE_CONV_2D op (tflite_single_op tuple) on tensor ``x``; per-channel effective multipliers
    in_scale * w_scale / out_scale drawn from ``eff``; returns (op, output tensor)."""
    from tflite_single_op import T

    from edgekit.codegen.aot.geometry import compute_padding

    rng = np.random.default_rng(seed)
    out_c = ch_in * mult
    in_h, in_w = x.shape[1], x.shape[2]
    oh = compute_padding(padding, in_h, k[0], strides[0], dilation[0]).out_size
    ow = compute_padding(padding, in_w, k[1], strides[1], dilation[1]).out_size
    out_scale = 0.05
    w_scale = rng.uniform(*eff, out_c) * out_scale / x.scale
    w = T((1, k[0], k[1], out_c), scale=list(w_scale), zero_point=0, quantized_dimension=3,
          data=rng.integers(-127, 128, (1, k[0], k[1], out_c)).astype(np.int8))
    b = T((out_c,), dtype="int32", scale=list(w_scale * x.scale), zero_point=0,
          data=np.round(rng.normal(scale=bias_scale, size=out_c)).astype(np.int32))
    y = T((1, oh, ow, out_c), scale=out_scale, zero_point=out_zp)
    opts = dict(padding=padding, strides=strides, dilation=dilation, depth_multiplier=mult, activation=act)
    return ("DEPTHWISE_CONV_2D", [x, w, b], [y], opts), y


CASES = {
    # name: (input shape, input zero point, layer options, expected kernel)
    "3x3_s1_same_zp-128": ((1, 5, 7, 12), -128, dict(out_zp=127), "packed"),
    "3x3_s1_same_zp127": ((1, 6, 5, 8), 127, dict(out_zp=-128, act="RELU"), "packed"),
    "3x3_s2_same_odd": ((1, 7, 9, 8), 5, dict(strides=(2, 2)), "packed"),
    "3x3_s2_valid": ((1, 6, 6, 4), -3, dict(strides=(2, 2), padding="VALID"), "packed"),
    "all_border_1x2": ((1, 1, 2, 4), 9, dict(), "packed"),
    "5x5_generic_taps": ((1, 6, 5, 8), -20, dict(k=(5, 5), act="RELU6", out_zp=-100), "packed"),
    "2x3_dilated": ((1, 7, 6, 4), 0, dict(k=(2, 3), dilation=(2, 1), strides=(1, 2)), "packed"),
    "relu6_narrow_clamp": ((1, 4, 5, 20), 11, dict(act="RELU6", eff=(0.02, 0.2), out_zp=-120), "packed"),
    "tiny_multipliers": ((1, 5, 5, 8), -50, dict(eff=(1e-9, 1e-6), bias_scale=3e8), "packed"),
    "near_quarter": ((1, 5, 5, 8), 40, dict(eff=(0.2, 0.2499)), "packed"),
    "odd_channels_7": ((1, 5, 7, 7), -128, dict(), "ek_depthwise_conv2d_s8("),
    "multiplier_2": ((1, 4, 5, 3), 17, dict(mult=2), "ek_depthwise_conv2d_s8("),
    "one_channel_multiplier_8": ((1, 9, 8, 1), 5, dict(mult=8, k=(4, 3), strides=(2, 2)), "ek_conv2d_s8_im2col("),
    "multiplier_ge_quarter": ((1, 5, 5, 8), -7, dict(eff=(0.26, 1.5)), "ek_depthwise_conv2d_s8_fast"),
}


def _model(name: str) -> bytes:
    from tflite_single_op import T, multi_op_model

    shape, zp, opts, _ = CASES[name]
    x = T(shape, scale=0.07, zero_point=zp)
    op, _y = _dw_layer(x, shape[3], seed=len(name), **opts)
    return multi_op_model([op])


def _extreme_inputs(model) -> list[list[np.ndarray]]:
    sg = model.main
    shape = sg.tensors[sg.inputs[0]].shape
    sets = [[np.full(shape, v, dtype=np.int8)] for v in (-128, 127)]
    sets.append([np.where(np.indices(shape).sum(axis=0) % 2 == 0, 127, -128).astype(np.int8)])
    return sets + random_inputs(model, 3, seed=5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_depthwise_case_bit_exact_on_host(name: str, objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    tflite = _model(name)
    model = load_model(tflite)
    src = (generate_c(model, tmp_path / "gen").files[0].parent / "ek_model.c").read_text()
    want = CASES[name][3]
    kernel = "ek_depthwise_conv2d_s8_packed(" if want == "packed" else want
    assert kernel in src
    if want != "packed":
        assert "ek_depthwise_conv2d_s8_packed(" not in src
    problems = aot_vs_tflm(tflite, tmp_path / "host", inputs=_extreme_inputs(model), obj_cache=objs)
    assert problems == []


def test_dw_requant_table_matches_mbqm() -> None:
    """The dw_rq words reproduce ek_mbqm's double rounding through the kernel's 64-bit formula (Python model)."""
    from edgekit.codegen.aot.ops.conv import dw_requant_table
    from edgekit.codegen.aot.quant import mbqm

    rng = np.random.default_rng(3)
    n = 64
    mults = [int(v) for v in rng.integers(2**30, 2**31, n)]
    shifts = [int(v) for v in rng.integers(-31, -1, n)]
    shifts[:2] = [-2, -31]
    tab = dw_requant_table(np.arange(n, dtype=np.int32), mults, shifts).reshape(-1, 4, 4)
    xs = np.concatenate([rng.integers(-(2**31), 2**31, 200), rng.integers(-5000, 5000, 200), [0, -1, 1,
                                                                                          -(2**31), 2**31 - 1]])
    for c in range(n):
        g, lane = divmod(c, 4)
        bias, m, rnd, rs = (int(tab[g, k, lane]) for k in range(4))
        assert bias == c
        for x in xs:
            x = int(x)
            s = -1 if x < 0 else 0
            start = ((rnd + s) << 32) + 0x40000000 + (2**31 if s else 0)
            got = ((start + x * m) >> 32) >> rs
            assert got == mbqm(x, m, shifts[c]), (x, m, shifts[c])
    with pytest.raises(ValueError):
        dw_requant_table(np.zeros(4, np.int32), [2**30] * 4, [-2, -2, -1, -2])


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.slow
def test_depthwise_chain_bit_exact_on_qemu(tmp_path: Path) -> None:
    """The Thumb-2 / DSP paths (inline asm taps, SSAT, SSUB8/SEL clamp, BFI) on the emulated Cortex-M4: a chain of
    depthwise layers covering the 9-tap and generic tap loops, borders, stride 2 and narrow activations, with a
    residual ADD through the input tables."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from tflite_single_op import T, multi_op_model

    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    x = T((1, 9, 11, 12), scale=0.07, zero_point=-128)
    op0, y0 = _dw_layer(x, 12, seed=10, out_zp=127)
    op1, y1 = _dw_layer(y0, 12, seed=11, out_zp=-128)
    z = T(y1.shape, scale=0.06, zero_point=-128)  # ADD with tables (1188 elements), extreme zero points, RELU6
    ops = [op0, op1, ("ADD", [y0, y1], [z], {"activation": "RELU6"})]
    x = z
    for i, opts in enumerate([dict(strides=(2, 2), act="RELU"), dict(k=(5, 5), out_zp=-60),
                              dict(k=(2, 3), padding="VALID", act="RELU6", eff=(0.02, 0.2), out_zp=-120),
                              dict(eff=(1e-7, 1e-5), bias_scale=1e7, out_zp=50)]):
        op, x = _dw_layer(x, 12, seed=i, **opts)
        ops.append(op)
    tflite = multi_op_model(ops)
    model = load_model(tflite)
    path = tmp_path / "dw_chain.tflite"
    path.write_bytes(tflite)
    xs = np.stack([s[0] for s in _extreme_inputs(model)])
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]


ADD_CASES = {
    # name: (opcode, shape 1, shape 2, (scale, zp) of input 1, input 2, output, activation, tables expected)
    "add_same_shape_tail": ("ADD", (1, 7, 13, 13), (1, 7, 13, 13), (0.05, -128), (0.3, 127), (0.2, 5), "NONE", True),
    "add_relu_extreme_zp": ("ADD", (1, 16, 16, 8), (1, 16, 16, 8), (0.01, 127), (0.02, -128), (0.04, -128), "RELU",
                            True),
    "add_relu6_channel_bcast": ("ADD", (1, 16, 16, 8), (1, 1, 1, 8), (0.1, 3), (0.1, -9), (0.03, -100), "RELU6",
                                True),
    "add_inner_bcast_strided": ("ADD", (1, 16, 16, 8), (1, 16, 16, 1), (0.5, 0), (0.001, 20), (0.6, 1), "NONE", True),
    "sub_same_shape": ("SUB", (1, 9, 9, 15), (1, 9, 9, 15), (0.07, -3), (0.09, 100), (0.1, -2), "NONE", True),
    "add_small_no_tables": ("ADD", (1, 3, 5, 7), (1, 3, 5, 7), (0.05, 1), (0.05, 2), (0.08, 0), "NONE", False),
    "add_big_multiplier_no_tables": ("ADD", (1, 16, 16, 4), (1, 16, 16, 4), (0.5, 0), (0.5, 0), (3e-6, 0), "NONE",
                                     False),
}


@pytest.mark.parametrize("name", sorted(ADD_CASES))
def test_add_tables_bit_exact_on_host(name: str, objs: Path, tmp_path: Path) -> None:
    """ADD / SUB through the per-input tables (ek_add_params.table1/2): bit-exact with TFLM, in place and
    broadcast, tails of < 4 elements, fused activations; small ops and output shifts > -2 keep the per-element
    path."""
    need_tool("gcc")
    need_module("tflite_micro")
    from tflite_single_op import T, multi_op_model

    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    opcode, s1, s2, q1, q2, qo, act, tables = ADD_CASES[name]
    a, b = T(s1, scale=q1[0], zero_point=q1[1]), T(s2, scale=q2[0], zero_point=q2[1])
    out_shape = tuple(max(u, v) for u, v in zip(s1, s2, strict=True))
    y = T(out_shape, scale=qo[0], zero_point=qo[1])
    tflite = multi_op_model([(opcode, [a, b], [y], {"activation": act})])
    model = load_model(tflite)
    src = (generate_c(model, tmp_path / "gen").files[0].parent / "ek_model.c").read_text()
    assert ("_in1_table" in src) == tables
    sg = model.main
    shapes = [sg.tensors[i].shape for i in sg.inputs]
    sets = [[np.full(s, v, dtype=np.int8) for s in shapes] for v in (-128, 127)]
    sets.append([np.full(shapes[0], 127, np.int8), np.full(shapes[1], -128, np.int8)])
    sets += random_inputs(model, 3, seed=9)
    assert aot_vs_tflm(tflite, tmp_path / "host", inputs=sets, obj_cache=objs) == []


def test_add_tables_match_tflm_addfunc() -> None:
    """table1 / table2 are TFLM's rescaled inputs ((v + offset) << 20, then the smaller-than-one multiply)."""
    from edgekit.codegen.aot.ops.elementwise import ADD_LEFT_SHIFT, add_params, add_tables
    from edgekit.codegen.aot.quant import rdbpot, srdhm

    params = {"input1_offset": 128, "input2_offset": -127, "left_shift": ADD_LEFT_SHIFT,
              **add_params(0.013, 0.4, 0.25)}
    t1, t2 = add_tables(params, negate2=True)
    for v in (-128, -1, 0, 1, 127):
        x1 = (v + 128) << ADD_LEFT_SHIFT
        x2 = (v - 127) << ADD_LEFT_SHIFT
        assert t1[v + 128] == rdbpot(srdhm(np.int64(x1), params["input1_multiplier"]), -params["input1_shift"])
        assert t2[v + 128] == -rdbpot(srdhm(np.int64(x2), params["input2_multiplier"]), -params["input2_shift"])
