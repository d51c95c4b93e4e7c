"""Seed models of the .tflite harnesses: tiny models written directly with the flatbuffer schema, one or two
operators each, so that a mutation lands in the operator it is about. Together with the shared third-party models
they reach each op handler of edgekit's AOT generator and the TFLM project generator: int8, 16x8 (int16
activations), float32, the recurrent/stateful ops and the data-movement ops.

Built with the tests' model writer (tests/tflite_single_op.py, tests/rnn_models.py; needs tflite_micro's schema
module); nothing here is stored, the seeds are rebuilt for each run.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def made_models() -> dict[str, bytes]:
    """A few tiny int8 models written directly with the flatbuffer schema (one or two operators)."""
    sys.path.insert(0, str(TESTS))
    try:
        import numpy as np
        from rnn_models import lstm_op, resource_variable_model, svdf_op, tconv_op
        from tflite_single_op import T, multi_op_model, single_op_model
    except ImportError:  # tflite_micro (the schema module) missing: the shared models still seed
        return {}
    finally:
        sys.path.remove(str(TESTS))
    rng = np.random.default_rng(0)
    x = T((1, 8), scale=0.05, zero_point=-3)
    w = T((4, 8), scale=0.02, data=rng.integers(-127, 128, (4, 8), dtype=np.int8))
    b = T((4,), "int32", scale=0.001, data=rng.integers(-500, 500, 4, dtype=np.int32))
    fc_out = T((1, 4), scale=0.1, zero_point=2)
    sm_out = T((1, 4), scale=1 / 256, zero_point=-128)
    a = T((1, 3, 3, 2), scale=0.1, zero_point=1)
    c = T((1, 3, 3, 2), scale=0.07, zero_point=-2)
    return {
        "softmax.tflite": single_op_model("SOFTMAX", [T((1, 10), scale=0.1)], [T((1, 10), scale=1 / 256,
                                                                                zero_point=-128)]),
        "add.tflite": single_op_model("ADD", [a, c], [T((1, 3, 3, 2), scale=0.15)], activation="RELU"),
        "mean.tflite": single_op_model("MEAN", [T((1, 4, 4, 3), scale=0.1),
                                                T((2,), "int32", data=np.array([1, 2], np.int32))],
                                       [T((1, 3), scale=0.1)]),
        "fc_softmax.tflite": multi_op_model([("FULLY_CONNECTED", [x, w, b], [fc_out], {}),
                                             ("SOFTMAX", [fc_out], [sm_out], {})]),
        "hard_swish.tflite": single_op_model("HARD_SWISH", [T((1, 16), scale=0.05)], [T((1, 16), scale=0.04)]),
        **_shape_op_models(T, single_op_model, np),
        **_int16_models(T, single_op_model, np, rng),
        **_float_models(T, single_op_model, np, rng),
        # recurrent / stateful ops: variable tensors, optional inputs, a CALL_ONCE init subgraph
        "lstm.tflite": multi_op_model([lstm_op(rng, T((1, 3, 4), scale=0.02, zero_point=-5), 5, cell_clip=3.0)[0]]),
        "lstm16x8.tflite": multi_op_model([lstm_op(rng, T((3, 1, 4), "int16", scale=1e-4), 3, time_major=True,
                                                   hid_scale=1e-4)[0]]),
        "svdf.tflite": multi_op_model([svdf_op(rng, T((1, 6), scale=0.05, zero_point=3), 3, rank=2, memory=2)[0]]),
        "transpose_conv.tflite": multi_op_model([tconv_op(rng, T((1, 2, 3, 2), scale=0.05, zero_point=1), 3)[0]]),
        "resource_variables.tflite": resource_variable_model(),
    }


def _shape_op_models(T, single_op_model, np) -> dict[str, bytes]:
    """Seeds for the data-movement ops: a masked strided slice, an uneven split, a resize, a gather, a mirror pad."""
    def i32(values):
        a = np.asarray(values, dtype=np.int32)
        return T(a.shape, "int32", data=a)

    def q(shape):
        return T(shape, scale=0.05, zero_point=-3)

    return {
        "strided_slice.tflite": single_op_model("STRIDED_SLICE", [q((1, 5, 6, 3)), i32([0, 4, 0, 0]), i32([1, 0, 6, 3]),
                                                                  i32([1, -2, 3, 2])], [q((1, 3, 2, 2))], end_mask=2),
        "split_v.tflite": single_op_model("SPLIT_V", [q((1, 3, 3, 10)), i32([2, 5, 3]), i32([3])],
                                          [q((1, 3, 3, 2)), q((1, 3, 3, 5)), q((1, 3, 3, 3))], num_splits=3),
        "resize_bilinear.tflite": single_op_model("RESIZE_BILINEAR", [q((1, 4, 5, 3)), i32([8, 10])],
                                                  [q((1, 8, 10, 3))], half_pixel_centers=True),
        "gather.tflite": single_op_model("GATHER", [q((3, 6, 2)), i32([[0, 5], [2, 2]])], [q((3, 2, 2, 2))], axis=1),
        "mirror_pad.tflite": single_op_model("MIRROR_PAD", [q((1, 5, 6, 3)), i32([[0, 0], [2, 1], [1, 3], [0, 0]])],
                                             [q((1, 8, 10, 3))], mode="SYMMETRIC"),
    }


def _int16_models(T, single_op_model, np, rng) -> dict[str, bytes]:
    """16x8 seeds (int16 activations, int8 weights, int64/int32 bias): the kernels of issue 14 item 3."""
    def w(shape, **kw):
        return T(shape, "int8", data=rng.integers(-127, 128, shape).astype(np.int8), **kw)

    def bias(n, dtype="int64"):
        return T((n,), dtype, data=rng.integers(-20000, 20000, n).astype(dtype))

    def a16(shape, scale=1 / 4096, zp=0):
        return T(shape, "int16", scale=scale, zero_point=zp)

    return {
        "conv16x8.tflite": single_op_model("CONV_2D", [a16((1, 5, 5, 3)), w((4, 3, 3, 3), scale=[0.01, 0.02, 0.005,
                                                                                                 0.01]), bias(4)],
                                           [a16((1, 5, 5, 4), 0.02)], padding="SAME"),
        "dwconv16x8.tflite": single_op_model("DEPTHWISE_CONV_2D", [a16((1, 5, 5, 2)),
                                                                   w((1, 3, 3, 4), scale=0.01, quantized_dimension=3),
                                                                   bias(4)],
                                             [a16((1, 3, 3, 4), 0.01)], padding="VALID", depth_multiplier=2),
        "fc16x8.tflite": single_op_model("FULLY_CONNECTED", [a16((2, 12)), w((5, 12), scale=0.01), bias(5, "int32")],
                                         [a16((2, 5), 0.01)], activation="RELU"),
        "tconv16x8.tflite": single_op_model("TRANSPOSE_CONV", [T((4,), "int32", data=np.array([1, 4, 6, 3], np.int32)),
                                                               w((3, 3, 3, 2), scale=0.01), a16((1, 2, 3, 2)),
                                                               bias(3)],
                                            [a16((1, 4, 6, 3), 0.01)], padding="SAME", strides=(2, 2)),
        "add16.tflite": single_op_model("ADD", [a16((1, 4, 1, 6), 0.01), a16((4, 5, 1), 0.0003)],
                                        [a16((1, 4, 5, 6), 0.02)], activation="RELU"),
        "mul16.tflite": single_op_model("MUL", [a16((3, 5)), a16((5,))], [a16((3, 5), 1 / 16384)]),
        "logistic16.tflite": single_op_model("LOGISTIC", [a16((2, 20), 1 / 2048)], [a16((2, 20), 1 / 32768)]),
        "softmax16.tflite": single_op_model("SOFTMAX", [a16((3, 10), 0.001)], [a16((3, 10), 1 / 32768)]),
        "avgpool16.tflite": single_op_model("AVERAGE_POOL_2D", [a16((1, 6, 6, 2), 0.001)], [a16((1, 3, 3, 2), 0.001)],
                                            padding="SAME", strides=(2, 2), filter=(3, 3)),
        "leaky_relu16.tflite": single_op_model("LEAKY_RELU", [a16((3, 8), 0.01)], [a16((3, 8), 0.002)], alpha=-0.5),
        "quantize16to8.tflite": single_op_model("QUANTIZE", [a16((4, 6))], [T((4, 6), scale=1 / 64, zero_point=7)]),
    }


def _float_models(T, single_op_model, np, rng) -> dict[str, bytes]:
    """float32 seeds (issue 21's kernels): elementwise with broadcasting, the C-library unary ops, reductions."""
    def f(*shape, data=None):
        return T(shape, "float32", data=data)

    def wf(*shape):
        return f(*shape, data=(rng.standard_normal(shape) * 0.5).astype(np.float32))

    x = f(1, 4, 4, 3)
    return {
        "float_add.tflite": single_op_model("ADD", [x, f(1, 1, 4, 3)], [f(1, 4, 4, 3)], activation="RELU6"),
        "float_div.tflite": single_op_model("DIV", [x, wf(3)], [f(1, 4, 4, 3)]),
        "float_exp.tflite": single_op_model("EXP", [f(2, 10)], [f(2, 10)]),
        "float_rsqrt.tflite": single_op_model("RSQRT", [f(2, 10)], [f(2, 10)]),
        "float_conv.tflite": single_op_model("CONV_2D", [x, wf(2, 3, 3, 3), wf(2)], [f(1, 4, 4, 2)],
                                             activation="RELU"),
        "float_mean.tflite": single_op_model("MEAN", [x, T((2,), "int32", data=np.array([1, 2], np.int32))],
                                             [f(1, 1, 1, 3)], keep_dims=True),
        "float_log_softmax.tflite": single_op_model("LOG_SOFTMAX", [f(2, 7)], [f(2, 7)]),
    }
