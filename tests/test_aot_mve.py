"""The MVE (Helium) kernels of issue 8: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED for Cortex-M55/M85.

Boards whose build flags target integer MVE get ``generate_c(features=board.features)`` with ``features.mve``: the
``ek_*_mve`` kernels, the model's own
row-major filters with the input offset folded into the bias (VMLADAVA over 16 int8 lanes), and depthwise filters in
16- and 4-channel blocks (VMUL + VADD over int32 lanes), all requantized 4 lanes at a time (VQRDMULH, VRSHL).

- Host (ASan/UBSan): the same generated code runs the kernels' portable C; bit-exact with TFLM on single-op models
  that sweep depth tails, row tails, padding, strides, 16/4-channel block mixes, odd and even tap counts, extreme
  zero points, weights of -128 (which keep depthwise off the int16 pair sums), multipliers from 1e-9 to > 1 (left
  shifts) and clamps.
- QEMU (mps3-an547, Cortex-M55, which QEMU 7.2 models with MVE): the inline-asm / intrinsic paths (and ADD's
  table gathers, MVE pooling), bit-exact with TFLM on a chain of those layers through the whole firmware and serial
  protocol.
- The cross-compiled kernels contain the MVE instructions (and a Cortex-M4 build of the same sources does not).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import need_module, need_tool

from edgekit.codegen.aot import RUNTIME_DIR
from edgekit.cores import CoreFeatures

M55 = CoreFeatures.from_flags(["-mcpu=cortex-m55", "-mfloat-abi=hard"])  # DSP, MVE, FPU


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for the host builds of this module."""
    return tmp_path_factory.mktemp("ek_objs")


# ---------------------------------------------------------------------------------------------------- selection


def test_boards_with_mve_flags() -> None:
    from dataclasses import replace

    from edgekit.boards import load_board

    m55 = load_board("qemu-cortex-m55")
    assert m55.has_mve
    for other in ("qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m33", "nucleo-l4r5zi"):
        assert not load_board(other).has_mve, other
    for flags, want in ((["-mcpu=cortex-m55+nomve"], False), (["-mcpu=cortex-m85"], True),
                        (["-march=armv8.1-m.main+mve"], True), (["-march=armv8.1-m.main+dsp"], False)):
        assert replace(m55, build=replace(m55.build, cpu_flags=flags)).has_mve is want, flags


def test_dw_mve_filter_blocks() -> None:
    from edgekit.codegen.aot.ops.conv import dw_mve_filter

    taps, ch = 9, 40  # blocks: 16, 16, 4, 4
    w = (np.arange(taps * ch) % 251 - 125).astype(np.int8).reshape(taps, ch)
    flat = dw_mve_filter(w)
    assert flat.size == w.size
    pos = 0
    for c0, width in ((0, 16), (16, 16), (32, 4), (36, 4)):
        block = flat[pos:pos + taps * width].reshape(taps, width)
        np.testing.assert_array_equal(block, w[:, c0:c0 + width])
        pos += taps * width


def test_mve_rows_filter_layout() -> None:
    from edgekit.codegen.aot.ops.base import mve_rows_filter

    rows, depth = 6, 20  # 2 groups of 4 rows (2 zero rows), depth padded to 32: 2 chunks of 16
    w = (np.arange(rows * depth) % 253 - 126).astype(np.int8).reshape(rows, depth)
    flat = mve_rows_filter(w)
    assert flat.size == 8 * 32
    for r in range(8):
        for k in range(32):
            want = w[r, k] if r < rows and k < depth else 0
            assert flat[(r // 4) * 128 + (k // 16) * 64 + (r % 4) * 16 + k % 16] == want, (r, k)


def test_mve_rows_filter_segments() -> None:
    from edgekit.codegen.aot.ops.base import mve_rows_filter

    rows, segs, run = 5, 3, 20  # runs padded to 32: per group and segment 2 chunks of 4 x 16
    w = (np.arange(rows * segs * run) % 251 - 125).astype(np.int8).reshape(rows, segs * run)
    flat = mve_rows_filter(w, segs)
    assert flat.size == 8 * segs * 32
    for r in range(8):
        for g in range(segs):
            for k in range(32):
                want = w[r, g * run + k] if r < rows and k < run else 0
                pos = (r // 4) * segs * 128 + g * 128 + (k // 16) * 64 + (r % 4) * 16 + k % 16
                assert flat[pos] == want, (r, g, k)
    np.testing.assert_array_equal(mve_rows_filter(w, 1), mve_rows_filter(w.reshape(rows, -1)))


def test_mve_rq_table_words() -> None:
    from edgekit.codegen.aot.ops.base import mve_rq_table

    bias = np.array([5, -6, 7, 2**31 - 1, -(2**31)])
    table = mve_rq_table(bias, [100, 200, 300, 400, 500], [3, -1, 0, -31, 30], 5).reshape(-1, 10)
    assert table.shape == (2, 10)  # 5 rows: 2 groups, the last padded
    np.testing.assert_array_equal(table[:, :4].reshape(-1)[:5], bias)
    np.testing.assert_array_equal(table[:, 4:8].reshape(-1), [100, 200, 300, 400, 500, 0, 0, 0])
    lanes = table[:, 8:10].astype("<i4").view(np.int8).reshape(2, 2, 4)  # [group][left / right][lane]
    np.testing.assert_array_equal(lanes[0, 0], [3, 0, 0, 0])
    np.testing.assert_array_equal(lanes[0, 1], [0, -1, 0, -31])
    np.testing.assert_array_equal(lanes[1, 0], [30, 0, 0, 0])
    np.testing.assert_array_equal(lanes[1, 1], [0, 0, 0, 0])
    per_tensor = mve_rq_table(np.zeros(3), [77], [-2], 3).reshape(-1, 10)
    assert list(per_tensor[0, 4:8]) == [77, 77, 77, 0]


def test_dw_pairs_blocks_and_order() -> None:
    from edgekit.codegen.aot.ops.conv import dw_mve_blocks, dw_mve_filter, dw_pairs_order, dw_t9_order

    assert dw_mve_blocks(44, pairs=True) == [(0, 16), (16, 16), (32, 8), (40, 4)]
    assert dw_mve_blocks(44, pairs=False) == [(0, 16), (16, 16), (32, 4), (36, 4), (40, 4)]
    assert dw_mve_blocks(8, pairs=True) == [(0, 8)]
    order = dw_pairs_order(44)
    assert list(order[:16]) == [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15]
    assert list(order[16:32]) == [16 + c for c in order[:16]]
    assert list(order[32:40]) == [32, 34, 36, 38, 33, 35, 37, 39]
    assert list(order[40:]) == [40, 41, 42, 43]
    assert sorted(order) == list(range(44))
    w = (np.arange(9 * 44) % 255 - 127).astype(np.int8).reshape(9, 44)
    flat = dw_mve_filter(w, pairs=True)
    np.testing.assert_array_equal(flat[2 * 9 * 16:2 * 9 * 16 + 9 * 8].reshape(9, 8), w[:, 32:40])
    t9 = dw_t9_order(32)  # ek_depthwise_conv2d_s8_mve_t9: the lanes of VMULLB/T.S8 then VMOVLB/T
    assert list(t9[:16]) == [0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15]
    assert list(t9[16:]) == [16 + c for c in t9[:16]]


# ---------------------------------------------------------------------------------------------------- models


def _conv(x, out_c: int, *, k=(3, 3), strides=(1, 1), padding="SAME", act="NONE", eff=(0.002, 0.03), out_zp=0,
          seed=0, bias_scale=3000.0, w_range=(-127, 128)):
    """One per-channel CONV_2D op (tflite_single_op tuple) on ``x``; effective multipliers from ``eff``."""
    from tflite_single_op import T

    from edgekit.codegen.aot.geometry import compute_padding

    rng = np.random.default_rng(seed)
    in_c = x.shape[3]
    oh = compute_padding(padding, x.shape[1], k[0], strides[0], 1).out_size
    ow = compute_padding(padding, x.shape[2], k[1], strides[1], 1).out_size
    out_scale = 0.05
    w_scale = rng.uniform(*eff, out_c) * out_scale / x.scale
    w = T((out_c, k[0], k[1], in_c), scale=list(w_scale), zero_point=0, quantized_dimension=0,
          data=rng.integers(*w_range, (out_c, k[0], k[1], in_c)).astype(np.int8))
    b = T((out_c,), dtype="int32", scale=list(w_scale * x.scale), zero_point=0,
          data=np.round(rng.normal(scale=bias_scale, size=out_c)).astype(np.int32))
    y = T((x.shape[0], oh, ow, out_c), scale=out_scale, zero_point=out_zp)
    return ("CONV_2D", [x, w, b], [y], dict(padding=padding, strides=strides, activation=act)), y


def _fc(x, out_d: int, *, per_channel=True, act="NONE", eff=(0.001, 0.02), out_zp=0, seed=0, bias=True,
        w_range=(-127, 128)):
    """One FULLY_CONNECTED op on the 2-D tensor ``x`` [batches, depth]."""
    from tflite_single_op import T

    rng = np.random.default_rng(seed)
    depth = x.shape[-1]
    out_scale = 0.04
    n = out_d if per_channel else 1
    w_scale = rng.uniform(*eff, n) * out_scale / x.scale
    w = T((out_d, depth), scale=list(w_scale) if per_channel else float(w_scale[0]), zero_point=0,
          quantized_dimension=0, data=rng.integers(*w_range, (out_d, depth)).astype(np.int8))
    inputs = [x, w]
    if bias:
        bs = list(w_scale * x.scale) if per_channel else float(w_scale[0] * x.scale)
        inputs.append(T((out_d,), dtype="int32", scale=bs, zero_point=0,
                        data=rng.integers(-5000, 5000, out_d).astype(np.int32)))
    y = T((x.shape[0], out_d), scale=out_scale, zero_point=out_zp)
    return ("FULLY_CONNECTED", inputs, [y], dict(activation=act)), y


def _dw(x, *, w128: bool = False, **opts):
    """A depthwise layer (test_aot_dsp_paths._dw_layer, weights in [-127, 127]); ``w128``: one weight set to -128,
    which keeps the kernel off the int16 pair sums."""
    from test_aot_dsp_paths import _dw_layer

    op, y = _dw_layer(x, x.shape[3], **opts)
    if w128:
        op[1][1].data.reshape(-1)[5] = -128
    return op, y


def _t(shape, zp, scale=0.07):
    from tflite_single_op import T

    return T(shape, scale=scale, zero_point=zp)


def _then_wide(x, out_c: int, wide: int, **opts) -> list:
    """A 3x3 conv on ``x`` then a 1x1 conv to ``wide`` channels, whose tensors set the arena's peak."""
    op, y = _conv(x, out_c, **opts)
    return [op, _conv(y, wide, k=(1, 1), seed=40)[0]]


def _global_pool(x, act: str = "NONE") -> tuple:
    """AVERAGE_POOL_2D over the whole image (VALID, filter = input): ek_avgpool_s8_global on MVE."""
    y = _t((x.shape[0], 1, 1, x.shape[3]), x.zero_point, scale=x.scale)
    return ("AVERAGE_POOL_2D", [x], [y], dict(filter=tuple(x.shape[1:3]), strides=(1, 1), padding="VALID",
                                               activation=act))


CASES = {
    # name: (builder of the op list, kernel the MVE generator must choose)
    "conv1x1_direct_depth8": (lambda: [_conv(_t((1, 6, 5, 8), -128), 16, k=(1, 1), out_zp=127)[0]],
                              "ek_conv2d_s8_mve_1x1("),
    "conv1x1_depth33_rows13": (lambda: [_conv(_t((1, 4, 3, 33), 127), 13, k=(1, 1), act="RELU6", out_zp=-128)[0]],
                               "ek_conv2d_s8_mve_1x1("),
    "conv3x3_rgb_same": (lambda: [_conv(_t((1, 7, 6, 3), -3), 8, act="RELU")[0]], "ek_conv2d_s8_mve_patches("),
    "conv3x3_s2_rgb_padding_after": (lambda: [_conv(_t((1, 8, 10, 3), -128), 8, strides=(2, 2), act="RELU")[0]],
                                     "ek_conv2d_s8_mve_patches("),  # SAME, even sizes: no padding before, one after
    "conv3x3_s2_depth144_rows5": (lambda: [_conv(_t((1, 7, 7, 16), 20), 5, strides=(2, 2), out_zp=-9)[0]],
                                  "ek_conv2d_s8_mve_rows("),
    "conv3x3_valid_w-128": (lambda: [_conv(_t((1, 5, 6, 17), -100), 7, padding="VALID", w_range=(-128, 128))[0]],
                            "ek_conv2d_s8_mve_inside("),
    "conv3x3_valid_gather": (lambda: [_conv(_t((1, 5, 6, 5), 12), 7, padding="VALID", out_zp=-3)[0]],
                             "ek_conv2d_s8_mve_inside_gather("),  # windows of 45 bytes: gather loads on MVE
    "conv3x3_rows_in_place_ch16": (lambda: [_conv(_t((1, 6, 7, 16), -128), 10, out_zp=50)[0]],
                                   "ek_conv2d_s8_mve_rows("),
    "conv3x3_s2_rows_in_place_ch32": (lambda: [_conv(_t((1, 7, 8, 32), 90), 20, strides=(2, 2), act="RELU")[0]],
                                      "ek_conv2d_s8_mve_rows("),
    "conv2x4_rows_in_place_ch4": (lambda: [_conv(_t((1, 5, 9, 4), -5), 6, k=(2, 4), padding="VALID")[0]],
                                  "ek_conv2d_s8_mve_rows("),
    "conv1x1_s2_valid_odd_pixels": (lambda: [_conv(_t((1, 5, 5, 20), 33), 7, k=(1, 1), strides=(2, 2),
                                                   padding="VALID", act="RELU")[0]], "ek_conv2d_s8_mve_1x1_strided("),
    # a wider op after the conv leaves the arena room for a larger scratch: the planner grants it (ek_conv.h)
    "conv1x1_s2_even_rows": (lambda: [_conv(_t((1, 6, 8, 20), 5), 9, k=(1, 1), strides=(2, 2), padding="VALID",
                                            out_zp=-30)[0]], "ek_conv2d_s8_mve_1x1_rows("),
    "conv3x3_border_pairs_ch16": (lambda: _then_wide(_t((1, 6, 7, 16), -128), 10, 36, out_zp=50, seed=3),
                                  "EK_CONV_MVE_PAIRS"),
    "conv3x3_s2_padded_ch32_batches2": (lambda: _then_wide(_t((2, 7, 8, 32), 90), 20, 256, strides=(2, 2),
                                                           act="RELU", seed=5), "EK_CONV_MVE_PADDED"),
    "conv3x3_padded_depth81_batches2": (lambda: _then_wide(_t((2, 5, 5, 9), -7), 6, 64, out_zp=-20, seed=7),
                                        "ek_conv2d_s8_mve_padded("),
    "conv_left_shift": (lambda: [_conv(_t((1, 4, 4, 20), 0), 12, k=(1, 1), eff=(0.3, 3.0), out_zp=-50)[0]],
                        "ek_conv2d_s8_mve_1x1("),
    "conv_tiny_multipliers": (lambda: [_conv(_t((1, 4, 4, 24), 9), 8, eff=(1e-9, 1e-6), bias_scale=3e8)[0]],
                              "ek_conv2d_s8_mve_patches("),
    "dw_blocks_16_16_4": (lambda: [_dw(_t((1, 5, 6, 36), -128), out_zp=127)[0]],
                          "ek_depthwise_conv2d_s8_mve_pairs_nls("),
    "dw_blocks_w-128": (lambda: [_dw(_t((1, 5, 6, 36), 3), out_zp=-7, w128=True)[0]], "ek_depthwise_conv2d_s8_mve("),
    # 8 channels, 9 taps, stride_w 1: pixel pairs as 16-channel blocks (t9x2), the border columns alone
    "dw_8_channels": (lambda: [_dw(_t((1, 6, 7, 8), -128), out_zp=100)[0]], "ek_depthwise_conv2d_s8_mve_t9x2_nls_nc("),
    "dw_t9x2_40_columns_relu": (lambda: [_dw(_t((1, 4, 40, 8), 9), act="RELU", out_zp=-20)[0]],
                                "ek_depthwise_conv2d_s8_mve_t9x2_nls("),  # 19 pairs: 2 chunks
    "dw_t9x2_left_shift_s2x1": (lambda: [_dw(_t((1, 7, 6, 8), -20), strides=(2, 1), eff=(0.26, 1.5))[0]],
                                "ek_depthwise_conv2d_s8_mve_t9x2_nc("),
    "dw_t9x2_shift0_relu6_w4": (lambda: [_dw(_t((1, 3, 4, 8), 60), eff=(0.5, 0.99), act="RELU6")[0]],
                                "ek_depthwise_conv2d_s8_mve_t9x2("),
    "dw_t9x2_valid_dilation_1x2": (lambda: [_dw(_t((1, 6, 9, 8), -90), dilation=(1, 2), padding="VALID",
                                                out_zp=-3)[0]], "ek_depthwise_conv2d_s8_mve_t9x2_nls_nc("),
    "dw_t9x2_9x1_valid": (lambda: [_dw(_t((1, 11, 5, 8), 44), k=(9, 1), padding="VALID", out_zp=7)[0]],
                          "ek_depthwise_conv2d_s8_mve_t9x2_nls_nc("),
    # 8 channels the pairs cannot take: 3 columns, stride 2 or 5x5 keep the 8-channel pixel loop
    "dw_8_channels_3_columns": (lambda: [_dw(_t((1, 5, 3, 8), 3), out_zp=-50)[0]],
                                "ek_depthwise_conv2d_s8_mve_pairs8_nls("),
    "dw_8_channels_5x5_s2": (lambda: [_dw(_t((1, 9, 9, 8), -2), k=(5, 5), strides=(2, 2), act="RELU6")[0]],
                             "ek_depthwise_conv2d_s8_mve_pairs8_nls("),
    "dw_blocks_16_8_4_5x5": (lambda: [_dw(_t((1, 5, 6, 28), 7), k=(5, 5), act="RELU6")[0]],
                             "ek_depthwise_conv2d_s8_mve_pairs_nls("),
    "dw_4_channels_s2": (lambda: [_dw(_t((1, 7, 9, 4), 5), strides=(2, 2), act="RELU")[0]],
                         "ek_depthwise_conv2d_s8_mve_pairs_nls("),
    "dw_5x5_ch20_relu6": (lambda: [_dw(_t((1, 6, 5, 20), -20), k=(5, 5), act="RELU6", out_zp=-100)[0]],
                          "ek_depthwise_conv2d_s8_mve_pairs_nls("),
    "dw_2x2_even_taps_ch32": (lambda: [_dw(_t((1, 6, 7, 32), 60), k=(2, 2), padding="VALID")[0]],
                              "ek_depthwise_conv2d_s8_mve_pairs_nls("),
    "dw_1x1_single_tap_ch16": (lambda: [_dw(_t((1, 3, 4, 16), -1), k=(1, 1), eff=(0.05, 0.2))[0]],
                               "ek_depthwise_conv2d_s8_mve_pairs_nls("),
    "dw_left_shift": (lambda: [_dw(_t((1, 5, 5, 16), -7), eff=(0.26, 1.5))[0]], "ek_depthwise_conv2d_s8_mve_t9_nc("),
    "dw_left_shift_2x3": (lambda: [_dw(_t((1, 5, 5, 16), -7), k=(2, 3), eff=(0.26, 1.5))[0]],
                          "ek_depthwise_conv2d_s8_mve_pairs("),
    # 9 taps, channels % 16 == 0: one call per output row of <= 16 columns, padding taps through per-pixel masks
    "dw_t9_s2_ch48_relu": (lambda: [_dw(_t((1, 7, 9, 48), 40), strides=(2, 2), act="RELU", out_zp=-128)[0]],
                           "ek_depthwise_conv2d_s8_mve_t9_nls_nc("),  # RELU from -128: no clamp
    "dw_t9_dilation2_ch16": (lambda: [_dw(_t((1, 7, 8, 16), -128), dilation=(2, 2), out_zp=90)[0]],
                             "ek_depthwise_conv2d_s8_mve_t9_nls_nc("),
    "dw_t9_1x9_21_columns": (lambda: [_dw(_t((1, 3, 21, 32), 3), k=(1, 9), act="RELU6")[0]],
                             "ek_depthwise_conv2d_s8_mve_t9_nls("),
    "dw_t9_9x1_valid": (lambda: [_dw(_t((1, 10, 3, 16), -60), k=(9, 1), padding="VALID", out_zp=-3)[0]],
                        "ek_depthwise_conv2d_s8_mve_t9_nls_nc("),
    "dw_t9_shift0_relu6": (lambda: [_dw(_t((1, 4, 6, 16), 10), eff=(0.5, 0.99), act="RELU6")[0]],
                           "ek_depthwise_conv2d_s8_mve_t9("),
    "dw_t9_all_border_2x2": (lambda: [_dw(_t((1, 2, 2, 16), 127), out_zp=-100)[0]],
                             "ek_depthwise_conv2d_s8_mve_t9_nls_nc("),
    "dw_left_shift_w-128": (lambda: [_dw(_t((1, 5, 5, 16), -7), eff=(0.26, 1.5), w128=True)[0]],
                            "ek_depthwise_conv2d_s8_mve("),
    "dw_tiny_multipliers": (lambda: [_dw(_t((1, 5, 5, 32), -50), eff=(1e-9, 1e-6), bias_scale=3e8)[0]],
                            "ek_depthwise_conv2d_s8_mve_t9_nls_nc("),
    "dw_odd_channels_fallback": (lambda: [_dw(_t((1, 5, 7, 7), -128))[0]], "ek_depthwise_conv2d_s8("),
    "dw_one_channel_as_conv": (lambda: [_dw(_t((1, 9, 8, 1), 5), mult=8, k=(4, 3), strides=(2, 2))[0]],
                               "ek_conv2d_s8_mve_patches("),
    "avgpool_global_ch20": (lambda: [_global_pool(_t((1, 5, 7, 20), -9))], "ek_avgpool_s8_global("),
    "avgpool_global_batches2_ch8": (lambda: [_global_pool(_t((2, 15, 17, 8), -60), act="RELU")],
                                    "ek_avgpool_s8_global("),  # 255 pixels: the largest vector division
    "fc_per_channel_depth100": (lambda: [_fc(_t((1, 100), -128), 9, out_zp=127)[0]], "ek_matmul_mve_s8(&q, "),
    "fc_per_tensor_batches3": (lambda: [_fc(_t((3, 17), 11), 6, per_channel=False, act="RELU")[0]],
                               "ek_fully_connected_s8_mve("),
    "fc_depth16_no_bias": (lambda: [_fc(_t((2, 16), 127), 4, bias=False, w_range=(-128, 128))[0]],
                           "ek_fully_connected_s8_mve("),
    "fc_depth1": (lambda: [_fc(_t((1, 1), 0), 3, eff=(0.5, 2.0))[0]], "ek_matmul_mve_s8(&q, "),  # one batch row
}


def _model(name: str) -> bytes:
    from tflite_single_op import multi_op_model

    return multi_op_model(CASES[name][0]())


def _extreme_inputs(model, n_random: int = 3) -> list[list[np.ndarray]]:
    sg = model.main
    shape = sg.tensors[sg.inputs[0]].shape
    sets = [[np.full(shape, v, dtype=np.int8)] for v in (-128, 127)]
    sets.append([np.where(np.indices(shape).sum(axis=0) % 2 == 0, 127, -128).astype(np.int8)])
    return sets + random_inputs(model, n_random, seed=5)


@pytest.mark.tflm
@pytest.mark.parametrize("name", sorted(CASES))
def test_mve_case_bit_exact_on_host(name: str, objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    tflite = _model(name)
    model = load_model(tflite)
    src = (generate_c(model, tmp_path / "gen", features=M55).files[0].parent / "ek_model.c").read_text()
    assert CASES[name][1] in src
    assert "_packed(" not in src and "_im2col(" not in src and "_vec(" not in src  # no DSP-layout kernels
    problems = aot_vs_tflm(tflite, tmp_path / "host", inputs=_extreme_inputs(model), obj_cache=objs, features=M55)
    assert problems == [], "\n".join(problems)


def test_mve_conv_scratch_only_where_the_arena_has_room(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The planner grants ek_conv2d_s8_mve_rows a larger scratch layout only when the arena keeps its size: a lone conv
    (its tensors are the peak) keeps one patch, a conv before a wider layer gets the padded copy at the same arena."""
    need_module("tflite_micro")
    from tflite_single_op import multi_op_model

    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.ops import conv

    lone = generate_c(multi_op_model(CASES["conv3x3_rows_in_place_ch16"][0]()), tmp_path / "lone", features=M55)
    assert ".g.layout = EK_CONV_MVE_PATCH, .x2 = NULL" in (lone.files[0].parent / "ek_model.c").read_text()
    tflite = multi_op_model(CASES["conv3x3_s2_padded_ch32_batches2"][0]())
    granted = generate_c(tflite, tmp_path / "granted", features=M55)
    assert ".g.layout = EK_CONV_MVE_PADDED, .x2 = NULL" in (granted.files[0].parent / "ek_model.c").read_text()
    monkeypatch.setattr(conv._ConvBase, "scratch_options", lambda self, ctx: [])
    least = generate_c(tflite, tmp_path / "least", features=M55)
    assert ".g.layout = EK_CONV_MVE_PATCH, .x2 = NULL" in (least.files[0].parent / "ek_model.c").read_text()
    assert granted.arena_bytes == least.arena_bytes


def test_mve_conv_entry_follows_the_geometry() -> None:
    """The generator names the ek_conv2d_s8_mve_* entry of each layer's path (a model links only those), and offers
    the padded copy only to layers with a window in the padding."""
    from edgekit.codegen.aot.ops.conv_mve import mve_entry, mve_scratch, mve_x2

    def geo(k, in_hw, out_hw, c, s=1, pad=(0, 0)) -> dict[str, object]:
        return dict(k_h=k[0], k_w=k[1], in_h=in_hw[0], in_w=in_hw[1], out_h=out_hw[0], out_w=out_hw[1], in_c=c,
                    k_c=c, stride_h=s, stride_w=s, pad_h=pad[0], pad_w=pad[1])

    def name(p, layout="EK_CONV_MVE_PAIRS") -> str:
        return mve_entry(p, layout).name.removeprefix("ek_conv2d_s8_mve_")

    assert name(geo((1, 1), (6, 5), (6, 5), 8)) == "1x1" and mve_scratch(geo((1, 1), (6, 5), (6, 5), 8)) == {}
    assert name(geo((1, 1), (5, 5), (3, 3), 20, s=2)) == "1x1_strided"  # odd rows: pairs across rows
    assert name(geo((1, 1), (6, 8), (3, 4), 20, s=2)) == "1x1_rows"
    same3 = geo((3, 3), (7, 6), (7, 6), 3, pad=(1, 1))  # 27-byte windows, some in the padding
    assert name(same3) == "patches" and name(same3, "EK_CONV_MVE_PADDED") == "padded_gather"
    assert list(mve_scratch(same3)) == ["EK_CONV_MVE_PAIRS", "EK_CONV_MVE_PADDED"]
    valid = geo((3, 3), (5, 6), (3, 4), 5)  # every window inside: no padded copy offered
    assert name(valid) == "inside_gather" and list(mve_scratch(valid)) == ["EK_CONV_MVE_PAIRS"]
    assert name(geo((3, 3), (5, 40), (3, 38), 5)) == "inside"  # windows spanning 2 rows of 200 bytes: no gather
    assert name(geo((3, 3), (5, 5), (5, 5), 9, pad=(1, 1)), "EK_CONV_MVE_PADDED") == "padded"  # 81 bytes
    assert name(geo((3, 3), (8, 10), (4, 5), 3, s=2)) == "patches"  # SAME, even sizes: padding after only
    rows = geo((3, 3), (6, 7), (6, 7), 16, pad=(1, 1))
    assert name(rows) == name(rows, "EK_CONV_MVE_PADDED") == "rows" and len(mve_scratch(rows)) == 3
    # the pair kernel: the depth-17..32 one only for such runs without left shift (other models do not link it)
    assert mve_x2(same3, [-3] * 8) == "ek_matmul_mve_s8_x2_d32" and mve_x2(same3, [-3, 1]) == "ek_matmul_mve_s8_x2"
    assert mve_x2(geo((10, 4), (49, 10), (25, 5), 1), [-2]) == "ek_matmul_mve_s8_x2"  # KWS conv1: 40 deep
    assert mve_x2(geo((1, 1), (5, 5), (3, 3), 20, s=2), [-1]) == "ek_matmul_mve_s8_x2_d32"
    assert mve_entry(same3, "EK_CONV_MVE_PAIRS").x2 and not mve_entry(rows, "EK_CONV_MVE_PAIRS").x2


def test_mve_conv_params_fit_16_bits(tmp_path: Path) -> None:
    """ek_conv_params_t has 16-bit fields on MVE cores (60 B of rodata per layer instead of 100), ek_conv_geo_t 8-bit
    strides: the generator refuses a conv whose values do not fit them there, and keeps it on the other cores (int32
    fields)."""
    need_module("tflite_micro")
    from tflite_single_op import multi_op_model

    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.ops.conv_mve import conv_params_unfit
    from edgekit.errors import UnsupportedOpError

    assert conv_params_unfit(dict(in_w=65535, pad_h=-2, in_offset=128, act_min=-32768, stride_w=255)) == ""
    assert conv_params_unfit(dict(in_w=65536)) == "in_w = 65536 does not fit the 16-bit ek_conv_params_t field"
    assert conv_params_unfit(dict(pad_w=-1, out_offset=32768)).startswith("out_offset = 32768 does not fit")
    assert conv_params_unfit(dict(stride_h=-1)) == "stride_h = -1 does not fit the 8-bit ek_conv_geo_t field"
    assert conv_params_unfit(dict(k_w=300, stride_w=256)) == "stride_w = 256 does not fit the 8-bit ek_conv_geo_t field"
    op, _ = _conv(_t((1, 1, 70000, 1), 0), 1, k=(1, 1), seed=3)
    tflite = multi_op_model([op])
    generate_c(tflite, tmp_path / "dsp")
    with pytest.raises(UnsupportedOpError, match="in_w = 70000 does not fit the 16-bit ek_conv_params_t"):
        generate_c(tflite, tmp_path / "mve", features=M55)
    op, _ = _conv(_t((1, 1, 300, 1), 0), 1, k=(1, 1), strides=(1, 256), padding="VALID", seed=3)
    tflite = multi_op_model([op])
    generate_c(tflite, tmp_path / "dsp256")
    with pytest.raises(UnsupportedOpError, match="stride_w = 256 does not fit the 8-bit ek_conv_geo_t field"):
        generate_c(tflite, tmp_path / "mve256", features=M55)


def test_mve_makes_no_layer_sparse_unless_forced(tmp_path: Path) -> None:
    """The dense MVE kernels beat the sparse ones: sparse "auto" keeps MVE layers dense, "force" still encodes."""
    need_module("tflite_micro")
    from tflite_single_op import multi_op_model

    from edgekit.codegen.aot import generate_c

    op, _ = _conv(_t((1, 6, 6, 32), 0), 32, k=(1, 1), seed=3)
    op[1][1].data[:, :, :, 4:] = 0  # 87.5% zeros: sparse on Cortex-M4
    tflite = multi_op_model([op])
    assert any("sparse" in n for n in generate_c(tflite, tmp_path / "dsp").notes)
    assert not any("sparse" in n for n in generate_c(tflite, tmp_path / "mve", features=M55).notes)
    assert any("sparse" in n for n in generate_c(tflite, tmp_path / "force", features=M55, sparse="force").notes)


# ---------------------------------------------------------------------------------------------------- Cortex-M55


def test_kernels_use_mve_instructions(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    for src, want in (("ek_matmul.c", ("vmladava.s8", "vctp.8", "vqrdmulh.s32", "vrshl.s32")),
                      ("ek_depthwise_mve.c", ("vmul.i32", "vldrb.s32", "vstrb.32")),
                      ("ek_depthwise_t9.c", ("vmullb.s8", "vmullt.s8", "vqmovnt.s16", "csel"))):
        flags = ["-O2", "-mthumb", "-mfloat-abi=hard", "-S", "-o", "-", "-I", str(RUNTIME_DIR), str(RUNTIME_DIR / src)]
        m55 = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m55", *flags], capture_output=True, text=True,
                             check=True).stdout
        m4 = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", *flags], capture_output=True, text=True,
                            check=True).stdout
        for insn in want:
            assert insn in m55, (src, insn)
            assert insn not in m4, (src, insn)


def _chain() -> bytes:
    """Every MVE kernel and its tails in one model: conv 3x3 (depth 27, rows 8), depthwise 16+16+4 channels,
    1x1 convs with depth tails and a row tail, ADD through its tables (MVE gathers), strided depthwise, max and
    average pooling (16 + 12 channels, windows clipped at the borders), FC per-tensor and per-channel (depths 252, 19
    and 10)."""
    from tflite_single_op import T, multi_op_model

    x = _t((1, 9, 10, 3), -128, scale=0.08)
    op0, y = _conv(x, 32, act="RELU", out_zp=-128, seed=1)
    opr, y = _conv(y, 36, out_zp=-100, seed=11)  # 3x3 over 32 channels: rows read in place, patches at the borders
    op1, y = _dw(y, out_zp=5, seed=2)  # 36 channels: blocks 16, 16, 4
    op2, y2 = _conv(y, 13, k=(1, 1), out_zp=-20, seed=3, w_range=(-128, 128))  # depth 36, rows 13
    op2b, y2b = _conv(y, 13, k=(1, 1), out_zp=100, seed=9)
    s = T(y2.shape, scale=0.06, zero_point=-128)  # 1170 elements: ADD through tables, a 2-element tail
    add = ("ADD", [y2, y2b], [s], {"activation": "RELU"})
    op3, y = _conv(s, 28, k=(1, 1), eff=(0.3, 3.0), out_zp=9, seed=4)  # left shifts; 28 = 16 + 8 + 4 channels
    op4, y = _dw(y, strides=(2, 2), k=(5, 5), act="RELU6", out_zp=-100, seed=5)
    op5, y = _dw(y, eff=(0.26, 1.5), seed=6, w128=True)  # a -128 weight: int32 lanes, not int16 pair sums
    mp = T((1, 3, 3, y.shape[3]), scale=y.scale, zero_point=y.zero_point)  # 28 channels: 16 + 12 predicated
    maxpool = ("MAX_POOL_2D", [y], [mp], dict(filter=(2, 2), strides=(2, 2), padding="SAME", activation="RELU"))
    y = T(mp.shape, scale=mp.scale, zero_point=mp.zero_point)
    avgpool = ("AVERAGE_POOL_2D", [mp], [y], dict(filter=(3, 3), strides=(1, 1), padding="SAME"))  # 4 to 9 taps
    flat = T((1, int(np.prod(y.shape))), scale=y.scale, zero_point=y.zero_point)
    reshape = ("RESHAPE", [y, T((2,), "int32", data=np.array([1, flat.shape[1]], dtype=np.int32))], [flat], {})
    op6, z = _fc(flat, 19, per_channel=False, act="RELU", out_zp=-128, seed=7)
    op7, z = _fc(z, 10, out_zp=3, seed=8)
    op8, _ = _fc(z, 6, out_zp=-7, seed=35)  # depth 10: no full chunk, the tail only
    return multi_op_model([op0, opr, op1, op2, op2b, add, op3, op4, op5, maxpool, avgpool, reshape, op6, op7, op8])


def _pairs_chain() -> bytes:
    """ek_matmul_mve_s8_x2's cases (two pixels per pass, one naked-asm loop on MVE): 3x3 windows read in place in
    pairs (odd out_w: a single window before the right border; 21 rows: a row tail), 1x1 pixel pairs across output
    rows (63 pixels: a last single one) with a depth tail and left shifts, a 3x2 over 32 channels with left shifts
    (3 runs of 4 chunks), two 3x5 over 32 channels (runs of 10 chunks: 2 passes of the 8-chunk loop; one with left
    shifts), a strided 3x3 (6 chunks x 3 runs), a 1x1 with stride 2 and a depth below 16 (tail only), 6 rows; layers
    without a left shift take the kernels' no-VSHL requantization, 32-channel depthwise layers with left shifts the
    VSHL ones (2x2: dw16_pairs_asm, 3x3: dw9_asm), the 3x3 ones all four dw9 variants (with / without VSHL, with /
    without the clamp), two 8-channel 3x3 ones over 5 columns the pixel pairs of t9x2 (clamp and right shifts, no
    clamp and left shifts), an 8-channel 5x5 one pairs8; 3x1 patches of depth 18 (7 rows) the light single-pair
    entry ek_matmul_mve_s8_x2_d32.
    ek_conv2d_s8_mve_*'s scratch layouts: border patches in pairs (op_a, op_c), a 3x3 over 16 channels in a padded
    copy (op_s), the 3x1 windows gathered from one (op_j), 1x2 windows gathered in place (op_w); a global average
    pool."""
    from tflite_single_op import multi_op_model

    x = _t((1, 7, 9, 16), -128, scale=0.08)
    op_a, y = _conv(x, 21, out_zp=-30, seed=21)
    op_b, y = _conv(y, 32, k=(1, 1), eff=(0.3, 3.0), act="RELU", out_zp=-128, seed=22)
    # runs of 64 in place with left shifts; small weights keep outputs off the clamp (a missing VSHL shows)
    op_t, y = _conv(y, 32, k=(3, 2), eff=(0.5, 3.0), out_zp=7, seed=32, w_range=(-1, 2), bias_scale=30.0)
    op_u, y = _conv(y, 32, k=(3, 5), out_zp=-9, seed=33)  # runs of 160: 10 chunks, 2 passes of the 8-chunk loop
    op_v, y = _conv(y, 32, k=(3, 5), eff=(0.5, 3.0), out_zp=2, seed=36, w_range=(-1, 2), bias_scale=30.0)  # VSHL
    op_e, y = _dw(y, eff=(0.01, 0.45), out_zp=-60, act="RELU", seed=25)  # 3x3, 32 ch, shifts -1..-7: dw9_asm_nls
    op_f, y = _dw(y, k=(2, 2), padding="VALID", eff=(0.26, 1.5), out_zp=40, seed=26)  # even taps, left shifts
    op_k, y = _dw(y, eff=(0.26, 1.5), out_zp=-3, seed=31)  # 9 taps, left shifts, no clamp: dw9_asm_nc
    op_l, y = _dw(y, eff=(0.26, 1.5), act="RELU6", out_zp=-128, seed=34)  # left shifts, clamp: dw9_asm
    op_m, y = _dw(y, out_zp=20, seed=35)  # right shifts only, no clamp: dw9_asm_nls_nc
    op_c, y = _conv(y, 8, strides=(2, 2), act="RELU6", out_zp=-128, seed=23, w_range=(-128, 128))
    # 8 channels, 3x3 over 5 columns: t9x2, pixel pairs as 16-channel blocks (columns 0, 4, 3 alone)
    op_g, y = _dw(y, out_zp=12, act="RELU6", seed=27)
    op_g1, y = _dw(y, eff=(0.26, 1.5), out_zp=-3, seed=37)  # the same with left shifts, no clamp: t9x2_nc
    # 8 channels, 5x5, left shifts: pairs8 (two pixels as one 16-channel block in dw16_pairs_asm), VSHL
    op_g2, y = _dw(y, k=(5, 5), eff=(0.9, 1.5), out_zp=-9, seed=36, bias_scale=1.0)
    w = op_g2[1][1].data
    w[...] = 0
    w[0, 2, 2, :] = 1  # the centre tap alone: outputs off the clamp, where a missing shift shows
    op_h, y = _conv(y, 16, k=(1, 1), out_zp=-5, seed=28)  # depth 8 in one run: the columns loaded once
    op_s, y = _conv(y, 16, out_zp=8, seed=32)  # 3x3 over 16 channels in a zero-point-padded copy, all in place
    op_i, y = _conv(y, 9, k=(1, 1), act="RELU", out_zp=-128, seed=29)  # depth exactly 16, 3 groups
    op_d, y = _conv(y, 6, k=(1, 1), strides=(2, 2), padding="VALID", out_zp=77, seed=24)
    op_j, y = _conv(y, 7, k=(3, 1), out_zp=3, seed=30)  # 3x1 patches of depth 18, 7 rows: ek_matmul_mve_s8_x2_d32
    op_w, y = _conv(y, 11, k=(1, 2), padding="VALID", out_zp=-7, seed=33)  # windows inside, gathered: 2 pixels
    pool = _global_pool(y)  # 11 channels: 8 + 3 predicated, sums and divisions
    return multi_op_model([op_a, op_b, op_t, op_u, op_v, op_e, op_f, op_k, op_l, op_m, op_c, op_g, op_g1, op_g2, op_h,
                           op_s, op_i, op_d, op_j, op_w, pool])


def _lone_chain() -> bytes:
    """A model whose layers need no single-column kernel (no 1x1 entry, one-row FULLY_CONNECTED): its lone columns run
    the pair kernel twice (ek_conv2d_s8_mve_x1_pair, ek_conv.h): a segmented 3x3 over 16 channels with one patch slot
    (EK_CONV_MVE_PATCH: every border patch alone), gathered 1x3 windows of depth 24 with an odd last pixel (5x5, the
    d32 pair kernel), segmented 2x2 windows with stride 2 in a padded copy (3x3 pixels) and a one-row
    FULLY_CONNECTED (the pair kernel on the row twice)."""
    from tflite_single_op import T, multi_op_model

    x = _t((1, 5, 7, 16), -128, scale=0.08)
    op0, y = _conv(x, 8, out_zp=-30, seed=41)  # 5x7 pixels
    op1, y = _conv(y, 8, k=(1, 3), padding="VALID", out_zp=5, seed=42)  # 5x5
    op2, y = _conv(y, 3, k=(2, 2), strides=(2, 2), out_zp=-3, seed=43)  # 3x3, padded after
    flat = T((1, int(np.prod(y.shape))), scale=y.scale, zero_point=y.zero_point)
    reshape = ("RESHAPE", [y, T((2,), "int32", data=np.array([1, flat.shape[1]], dtype=np.int32))], [flat], {})
    op3, _ = _fc(flat, 6, out_zp=-7, seed=44)
    return multi_op_model([op0, op1, op2, reshape, op3])


def test_mve_single_column_kernel_only_where_linked() -> None:
    """ek_matmul_mve_s8 (mve_x1_asm) is named by the generated code only where a layer links it anyway or no layer
    links the pair kernel (conv_mve.mve_x1_defines)."""
    from edgekit.codegen.aot.ops.conv_mve import mve_x1_defines

    conv = ["    static const ek_conv_mve_t p = {", "        .x1 = EK_MVE_X1",
            "    ek_conv2d_s8_mve_rows(&p, a, b, c);"]
    fc = ["#if EK_MVE_X1_LINKED", "    ek_matmul_mve_s8(&q, a, 0, b);", "#endif"]
    assert mve_x1_defines(["    ek_softmax_s8(a, b, 1, 10, t);"]) == []
    assert mve_x1_defines(conv + fc)[1:] == ["#define EK_MVE_X1 ek_conv2d_s8_mve_x1_pair", "#define EK_MVE_X1_LINKED 0"]
    one = [*conv, "    ek_conv2d_s8_mve_1x1(&q, a, b, 9);"]
    assert mve_x1_defines(one)[1:] == ["#define EK_MVE_X1 ek_matmul_mve_s8", "#define EK_MVE_X1_LINKED 1"]
    assert mve_x1_defines(fc)[1:] == ["#define EK_MVE_X1 ek_matmul_mve_s8", "#define EK_MVE_X1_LINKED 1"]  # no pairs
    big_fc = ["    ek_matmul_mve_s8(&q, a, 0, b);"]  # a one-row FC of MVE_X1_FC_MACS or more
    assert mve_x1_defines(conv + big_fc + fc)[2] == "#define EK_MVE_X1_LINKED 1"


def test_mve_large_one_row_fc_links_the_single_column_kernel(tmp_path: Path) -> None:
    """A one-row FULLY_CONNECTED of MVE_X1_FC_MACS or more calls ek_matmul_mve_s8 (the single-column kernel)
    even when the other layers would not link it; a smaller one runs the pair kernel on its row twice."""
    need_module("tflite_micro")
    from tflite_single_op import T, multi_op_model

    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.ops.conv_mve import MVE_X1_FC_MACS

    def model_c(rows: int) -> str:
        x = _t((1, 4, 4, 16), -128, scale=0.08)
        op0, y = _conv(x, 16, out_zp=-30, seed=41)  # a 3x3 conv: the pair kernel, no single-column user
        flat = T((1, 256), scale=y.scale, zero_point=y.zero_point)
        reshape = ("RESHAPE", [y, T((2,), "int32", data=np.array([1, 256], dtype=np.int32))], [flat], {})
        op1, _ = _fc(flat, rows, out_zp=-7, seed=44)
        gen = generate_c(multi_op_model([op0, reshape, op1]), tmp_path / f"fc{rows}", features=M55)
        return (gen.files[0].parent / "ek_model.c").read_text()

    big, small = model_c(MVE_X1_FC_MACS // 256), model_c(MVE_X1_FC_MACS // 256 - 1)
    assert "#if EK_MVE_X1_LINKED" not in big and "#define EK_MVE_X1_LINKED 1" in big
    assert "#if EK_MVE_X1_LINKED" in small and "#define EK_MVE_X1_LINKED 0" in small


@pytest.mark.tflm
@pytest.mark.parametrize("chain", ["chain", "pairs", "lone"])
def test_mve_chain_bit_exact_on_host(chain: str, objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model

    tflite = {"chain": _chain, "pairs": _pairs_chain, "lone": _lone_chain}[chain]()
    problems = aot_vs_tflm(tflite, tmp_path, inputs=_extreme_inputs(load_model(tflite)), obj_cache=objs, features=M55)
    assert problems == [], "\n".join(problems)


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.slow
@pytest.mark.tflm
@pytest.mark.parametrize("chain", ["chain", "pairs", "lone"])
def test_mve_chain_bit_exact_on_qemu_cortex_m55(chain: str, tmp_path: Path) -> None:
    """The MVE paths themselves (inline asm VMLADAVA loops, VCTP tails, vector requantization, 16/4-channel
    depthwise blocks) on the emulated Cortex-M55, through the whole firmware, against TFLM."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    tflite = {"chain": _chain, "pairs": _pairs_chain, "lone": _lone_chain}[chain]()
    path = tmp_path / "mve_chain.tflite"
    path.write_bytes(tflite)
    xs = np.stack([s[0] for s in _extreme_inputs(load_model(tflite), n_random=4)])
    res = validate(path, board="qemu-cortex-m55", inputs=xs, work_dir=tmp_path / "fw")
    src = next((tmp_path / "fw").rglob("ek_model.c")).read_text()
    kernels = ("ek_conv2d_s8_mve_rows(", "ek_conv2d_s8_mve_1x1(", "ek_depthwise_conv2d_s8_mve_pairs_nls(",
               "ek_depthwise_conv2d_s8_mve(", "ek_matmul_mve_s8(&q, ", "ek_conv2d_s8_mve_padded_gather(",
               ".x2 = ek_matmul_mve_s8_x2_d32", ".q.x2rq = ek_mve_x2_nls") if chain == "chain" else (
                   "ek_conv2d_s8_mve_rows(", "ek_conv2d_s8_mve_1x1_rows(", "ek_depthwise_conv2d_s8_mve_pairs(",
                   "ek_depthwise_conv2d_s8_mve_t9x2_nls(", "ek_depthwise_conv2d_s8_mve_t9x2_nc(",
                   "ek_depthwise_conv2d_s8_mve_pairs8(",
                   "EK_CONV_MVE_PAIRS", "EK_CONV_MVE_PADDED",
                   "ek_depthwise_conv2d_s8_mve_t9(", "ek_depthwise_conv2d_s8_mve_t9_nls(",
                   "ek_depthwise_conv2d_s8_mve_t9_nc(", "ek_depthwise_conv2d_s8_mve_t9_nls_nc(",
                   "ek_conv2d_s8_mve_inside_gather(", "ek_avgpool_s8_global(",
                   ".q.x2rq = ek_mve_x2_shl") if chain == "pairs" else (  # the left-shift convs: VSHL code runs
                   "#define EK_MVE_X1 ek_conv2d_s8_mve_x1_pair", "EK_CONV_MVE_PATCH", "EK_CONV_MVE_PADDED",
                   "ek_conv2d_s8_mve_inside_gather(", ".x2 = ek_matmul_mve_s8_x2_d32",
                   "ek_matmul_mve_s8_x2(&q, ")
    for kernel in kernels:
        assert kernel in src
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]
