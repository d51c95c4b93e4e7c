"""The pre-widened int16 weight kernels of issue 22 (DSP cores), bit-exact with TFLM.

CONV_2D through ek_conv2d_s8_im2col_w16 / ek_matmul_s8w16 (filter widened to int16 by the generator, requantization
words precomputed): one chain of conv layers covering 1x1 direct and padded 3x3 / 5x3 windows, strides 1 and 2,
depths that are not multiples of 4, odd and even row counts (the odd last row), an odd pixel count (the one-column
path), a single output channel, channels with a zero multiplier, RELU6 and narrow activation clamps, extreme zero
points, and a layer whose multipliers >= 1/4 keep the int8 kernel; then FULLY_CONNECTED through
ek_fully_connected_s8_w16 (4 rows per pass, every depth % 4 and rows % 4, per-tensor and per-channel, one layer left
on the int8 vec kernel). The host build (ASan/UBSan, portable C of the same layout) is one executable for the whole
chain; the QEMU test runs the Thumb-2 LDM / SMLAD paths on the emulated Cortex-M4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import need_module, need_tool

from edgekit.cores import CoreFeatures

pytestmark = [pytest.mark.tflm]

M4 = CoreFeatures.from_flags(["-mcpu=cortex-m4", "-mfloat-abi=hard"])  # DSP, no MVE


def _conv_layer(x, out_c: int, *, k=(3, 3), strides=(1, 1), padding="SAME", act="NONE", eff=(0.002, 0.02),
                out_zp=3, seed=0, dead=0):
    """One CONV_2D op (tflite_single_op tuple) on tensor ``x`` with per-channel effective multipliers drawn from
    ``eff``, the first ``dead`` channels with scale 0 and zero weights (multiplier 0, shift 0, as in VWW's late
    layers); returns (op, output tensor)."""
    from tflite_single_op import T

    from edgekit.codegen.aot.geometry import compute_padding

    rng = np.random.default_rng(seed)
    in_c = x.shape[3]
    oh = compute_padding(padding, x.shape[1], k[0], strides[0], 1).out_size
    ow = compute_padding(padding, x.shape[2], k[1], strides[1], 1).out_size
    out_scale = 0.05
    w_scale = rng.uniform(*eff, out_c) * out_scale / x.scale
    w_scale[:dead] = 0.0
    data = rng.integers(-127, 128, (out_c, k[0], k[1], in_c)).astype(np.int8)
    data[:dead] = 0
    w = T((out_c, k[0], k[1], in_c), scale=list(w_scale), zero_point=0, quantized_dimension=0, data=data)
    b = T((out_c,), dtype="int32", scale=list(w_scale * x.scale), zero_point=0,
          data=np.round(rng.normal(scale=3000.0, size=out_c)).astype(np.int32))
    y = T((1, oh, ow, out_c), scale=out_scale, zero_point=out_zp)
    opts = dict(padding=padding, strides=strides, dilation=(1, 1), activation=act)
    return ("CONV_2D", [x, w, b], [y], opts), y


def _chain() -> bytes:
    from tflite_single_op import T, multi_op_model

    x = T((1, 9, 7, 3), scale=0.07, zero_point=-128)
    layers = [
        dict(out_c=9, k=(3, 3), out_zp=127),                          # depth 27 (tail group), odd rows, 63 pixels
        dict(out_c=7, k=(1, 1), act="RELU", out_zp=-128),             # 1x1 direct, depth 9, odd rows
        dict(out_c=16, k=(5, 3), strides=(2, 2), act="RELU6", out_zp=-100, eff=(0.02, 0.2), dead=3),  # stride 2
        dict(out_c=1, k=(3, 3), padding="VALID", out_zp=50),          # one output channel: the odd row alone
        dict(out_c=12, k=(1, 1), eff=(0.26, 1.5), out_zp=0),          # multipliers >= 1/4: the int8 kernel
        dict(out_c=6, k=(3, 2), padding="VALID", eff=(1e-6, 1e-4), out_zp=-3),  # tiny multipliers, 1 pixel
    ]
    ops = []
    for i, opts in enumerate(layers):
        op, x = _conv_layer(x, seed=20 + i, **opts)
        ops.append(op)
    return multi_op_model(ops + _fc_layers(x))


def _fc_layers(x) -> list:
    """FULLY_CONNECTED layers (one batch row) after ``x`` ([1, 1, 1, 6]): depth % 4 = 2, 2, 1, 3, 0 and rows % 4 =
    2, 1, 3, 0, 1, per-channel and per-tensor weights, RELU / RELU6 clamps, and a last layer with a multiplier >= 1/4
    (the int8 vec kernel)."""
    from tflite_single_op import T

    rng = np.random.default_rng(5)
    ops = []
    for rows, per_channel, act, eff, out_zp in [(14, True, "RELU", (0.002, 0.02), -128), (9, False, "NONE",
                                                (0.001, 0.01), 127), (7, True, "RELU6", (0.02, 0.2), -100),
                                                (12, True, "NONE", (1e-6, 1e-4), 3), (5, False, "NONE", (0.3, 0.3), 0)]:
        depth = x.shape[-1]
        n = rows if per_channel else 1
        w_scale = rng.uniform(*eff, n) * 0.05 / x.scale
        w = T((rows, depth), scale=list(w_scale) if per_channel else float(w_scale[0]), zero_point=0,
              data=rng.integers(-127, 128, (rows, depth)).astype(np.int8))
        b = T((rows,), dtype="int32", scale=list(np.broadcast_to(w_scale * x.scale, (rows,))) if per_channel else
              float(w_scale[0] * x.scale), zero_point=0,
              data=np.round(rng.normal(scale=2000.0, size=rows)).astype(np.int32))
        y = T((1, rows), scale=0.05, zero_point=out_zp)
        ops.append(("FULLY_CONNECTED", [x, w, b], [y], {"activation": act}))
        x = y
    return ops


def _extreme_inputs(model) -> list[list[np.ndarray]]:
    sg = model.main
    shape = sg.tensors[sg.inputs[0]].shape
    sets = [[np.full(shape, v, dtype=np.int8)] for v in (-128, 127)]
    sets.append([np.where(np.indices(shape).sum(axis=0) % 2 == 0, 127, -128).astype(np.int8)])
    return sets + random_inputs(model, 3, seed=7)


def test_matmul_w16_layouts() -> None:
    """matmul_filter_w16 / matmul_rq_w16 put every weight and requantization word where ek_matmul.h says."""
    from edgekit.codegen.aot.ops.base import matmul_filter_w16, matmul_rq_w16, w16_shifts

    rows, depth = 5, 6
    w = np.arange(1, rows * depth + 1, dtype=np.int64).reshape(rows, depth) * (-1) ** np.arange(rows * depth).reshape(
        rows, depth)
    flat = matmul_filter_w16(w.astype(np.int8))
    assert flat.dtype == np.int16 and flat.size == rows * 8
    order = [0, 2, 1, 3]
    for r in range(rows):
        for k in range(8):
            g, j = divmod(k, 4)
            want = int(w[r, 4 * g + order[j]]) if 4 * g + order[j] < depth else 0
            idx = (r // 2) * 16 + g * 8 + (r % 2) * 4 + j if r < 4 else 32 + k
            assert int(flat[idx]) == want, (r, k)
    rq = matmul_rq_w16(np.array([10, 11, 12]), [100, 101, 102], [-2, -5, -31])
    assert rq.tolist() == [10, 11, 100, 101, 1, 8, 1, 4, 12, 102, 2**29, 30]
    with pytest.raises(ValueError):
        matmul_rq_w16(None, [1, 2], [-2, -1])
    assert w16_shifts([0, 2**30, 0], [0, -3, 5]) == [-2, -3, -2]  # a zero multiplier gives 0 with any shift
    assert w16_shifts([2**30, 2**30], [-2, -1]) is None
    assert w16_shifts([2**30], [-4]) == [-4]


def test_w16_chain_bit_exact_on_host(tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    tflite = _chain()
    model = load_model(tflite)
    src = (generate_c(model, tmp_path / "gen", features=M4, sparse="off").files[0].parent / "ek_model.c").read_text()
    assert src.count("ek_conv2d_s8_im2col_w16(") == 5
    assert src.count("ek_conv2d_s8_im2col(") == 1  # the >= 1/4 multipliers layer
    assert src.count("ek_fully_connected_s8_w16(") == 4
    assert src.count("ek_fully_connected_s8_vec(") == 1
    problems = aot_vs_tflm(tflite, tmp_path / "host", inputs=_extreme_inputs(model), features=M4, sparse="off")
    assert problems == []


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.slow
def test_w16_chain_bit_exact_on_qemu(tmp_path: Path) -> None:
    """The Thumb-2 paths (conv: LDM of the two columns, LDRD weights; FC: LDM of 4 rows' weights; SMLAD, SSAT,
    SSUB8/SEL clamp) on the Cortex-M4."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    tflite = _chain()
    model = load_model(tflite)
    path = tmp_path / "w16_chain.tflite"
    path.write_bytes(tflite)
    xs = np.stack([s[0] for s in _extreme_inputs(model)])
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]


@pytest.mark.parametrize("single", [0, 1])
def test_w16_kernels_equal_reference_kernels(single: int, tmp_path: Path) -> None:
    """ek_fully_connected_s8_w16 == ek_fully_connected_s8 and ek_conv2d_s8_im2col_w16 == ek_conv2d_s8 (a padded
    3x3 conv with an odd pixel count and odd rows), both with TFLM's double rounding and with EK_SINGLE_ROUNDING=1
    (the rq words then go through ek_mbqm), one ASan/UBSan executable per rounding."""
    import subprocess

    from edgekit.codegen.aot import RUNTIME_DIR
    from edgekit.codegen.aot.ops.base import fc_filter_w16, fc_rq_w16, matmul_filter_w16, matmul_rq_w16
    from edgekit.codegen.aot.ops.fully_connected import folded_bias

    def arr(ctype: str, name: str, values) -> str:
        body = ", ".join(str(int(v)) for v in np.asarray(values).reshape(-1))
        return f"static const {ctype} {name}[] = {{{body}}};\n"

    rng = np.random.default_rng(11 + single)
    rows, depth = 11, 23
    w = rng.integers(-127, 128, (rows, depth), dtype=np.int8)
    x = rng.integers(-128, 128, depth, dtype=np.int8)
    bias = rng.integers(-2**20, 2**20, rows).astype(np.int32)
    mult = rng.integers(2**30, 2**31 - 1, rows).astype(np.int32)
    shift = rng.integers(-14, -1, rows).astype(np.int8)
    # conv: 5x3 input, 3 channels, 3x3 SAME, 7 output channels (15 pixels)
    cw = rng.integers(-127, 128, (7, 3, 3, 3), dtype=np.int8)
    cx = rng.integers(-128, 128, 5 * 3 * 3, dtype=np.int8)
    cb = rng.integers(-2**16, 2**16, 7).astype(np.int32)
    cm = rng.integers(2**30, 2**31 - 1, 7).astype(np.int32)
    cs = rng.integers(-12, -1, 7).astype(np.int8)
    depth_c = 27
    scratch = 4 * 28 + 28
    src = ['#include <stdio.h>\n#include "ek_fully_connected.h"\n#include "ek_conv.h"\n',
           arr("int8_t", "w", w), arr("int16_t", "w16", fc_filter_w16(w)), arr("int8_t", "x", x),
           arr("int32_t", "bias", bias), arr("int32_t", "mult", mult), arr("int8_t", "shift", shift),
           arr("int32_t", "rq", fc_rq_w16(folded_bias(w, bias, 5), mult.tolist(), shift.tolist())),
           arr("int8_t", "cw", cw), arr("int16_t", "cw16", matmul_filter_w16(cw.reshape(7, depth_c))),
           arr("int8_t", "cx", cx), arr("int32_t", "cb", cb), arr("int32_t", "cm", cm), arr("int8_t", "cs", cs),
           arr("int32_t", "crq", matmul_rq_w16(cb, cm.tolist(), cs.tolist())),
           f"""static uint32_t scratch[{scratch // 4 + 1}];
int main(void) {{
    int8_t a[{rows}], b[{rows}], ca[105], cbuf[105];
    ek_fc_params_t p = {{1, {depth}, {rows}, 5, 0, -3, -100, 90, 1, mult, shift}};
    ek_conv_params_t c = {{1, 5, 3, 3, 5, 3, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 7, -9, -120, 100, cm, cs, NULL, NULL}};
    int i, same = 1;
    ek_fully_connected_s8(&p, x, w, bias, a);
    ek_fully_connected_s8_w16(&p, x, w16, rq, b);
    for (i = 0; i < {rows}; i++) same &= a[i] == b[i];
    ek_conv2d_s8(&c, cx, cw, cb, ca);
    c.out_mult = NULL;
    c.out_shift = NULL;
    ek_conv2d_s8_im2col_w16(&c, cx, cw16, crq, cbuf, scratch);
    for (i = 0; i < 105; i++) same &= ca[i] == cbuf[i];
    printf("%d\\n", same);
    return 0;
}}
"""]
    gcc = need_tool("gcc")
    (tmp_path / "t.c").write_text("".join(src))
    exe = tmp_path / "t"
    subprocess.run([gcc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", f"-DEK_SINGLE_ROUNDING={single}", "-I", str(RUNTIME_DIR),
                    str(tmp_path / "t.c"), *(str(RUNTIME_DIR / f) for f in ("ek_fully_connected.c", "ek_fc_w16.c",
                    "ek_conv.c", "ek_matmul.c", "ek_matmul_w16.c", "ek_elementwise.c")), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "1"


def test_weights_budget_falls_back_to_int8_weights(tmp_path: Path) -> None:
    """generate_c widens weights on DSP cores only while they fit weights_budget (per layer, most weight reuse
    first: test_aot_variants.py); a budget of the int8 model's weights keeps every layer on int8."""
    need_module("tflite_micro")
    from edgekit.codegen.aot import generate_c
    from edgekit.cores import PORTABLE
    from edgekit.tflite_model import load_model

    model = load_model(_chain())
    wide = generate_c(model, tmp_path / "wide", features=M4, sparse="off", weights_budget=10**7)
    plain = generate_c(model, tmp_path / "plain", features=PORTABLE, sparse="off")
    narrow = generate_c(model, tmp_path / "narrow", features=M4, sparse="off", weights_budget=plain.weights_bytes)
    src = {k: (tmp_path / k / "ek_model.c").read_text() for k in ("wide", "narrow")}
    assert "_w16(" in src["wide"] and "_w16(" not in src["narrow"]
    assert narrow.weights_bytes == plain.weights_bytes < wide.weights_bytes
    assert all("flash budget" in v["reason"] for v in narrow.variants)
