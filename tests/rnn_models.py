"""Single-op models of the recurrent and stateful ops (issue 14), written directly with the flatbuffer schema.

TF 2.21 cannot quantize a Keras 3 LSTM (NOTES.md), so these builders write what the converter emits: the 24-input
UNIDIRECTIONAL_SEQUENCE_LSTM with variable hidden / cell states, SVDF with a variable activation state,
TRANSPOSE_CONV, and resource variables with a CALL_ONCE init subgraph. Random int8 weights with realistic scales.
Used by tests/test_aot_rnn_ops.py and as fuzz seeds (fuzz/_common.py).
"""

from __future__ import annotations

import numpy as np
from tflite_single_op import T, multi_op_model


def _weights(rng: np.random.Generator, rows: int, cols: int, scale: float, zp: int = 0) -> T:
    data = rng.integers(-127, 128, size=(rows, cols)).astype(np.int8)
    return T((rows, cols), scale=scale, zero_point=zp, data=data)


def lstm_op(rng: np.random.Generator, x: T, n_state: int, *, time_major: bool = False, cell_clip: float = 0.0,
            act: str = "TANH", cell_pow: int = -12, hid_zp: int = 3, hid_scale: float = 1 / 128,
            w_scale: tuple[float, float] = (0.004, 0.02)) -> tuple[tuple, T]:
    """One UNIDIRECTIONAL_SEQUENCE_LSTM over ``x`` (3-D) in the converter's 24-input layout; returns (op, output).
    An int16 ``x`` makes it 16x8 (int16 state and output, zero points 0, int64 biases)."""
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_in = x.shape[2]
    wide = x.dtype == "int16"
    hid_zp = 0 if wide else hid_zp
    hid = T((batches, n_state), x.dtype, scale=hid_scale, zero_point=hid_zp, variable=True)
    cell = T((batches, n_state), "int16", scale=2.0 ** cell_pow, variable=True)
    w_in = [_weights(rng, n_state, n_in, float(rng.uniform(*w_scale))) for _ in range(4)]  # input, forget, cell, output
    w_rec = [_weights(rng, n_state, n_state, float(rng.uniform(*w_scale))) for _ in range(4)]
    bias_t, lim = ("int64", 400_000) if wide else ("int32", 4000)
    biases = [T((n_state,), bias_t, scale=float(x.scale) * float(w.scale),
                data=rng.integers(-lim, lim, size=n_state).astype(bias_t)) for w in w_in]
    out_shape = (steps, batches, n_state) if time_major else (batches, steps, n_state)
    out = T(out_shape, x.dtype, scale=hid_scale, zero_point=hid_zp)
    inputs = [x, *w_in, *w_rec, None, None, None, *biases, None, None, hid, cell, None, None, None, None]
    opts = dict(activation=act, cell_clip=cell_clip, time_major=time_major)
    return ("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [out], opts), out


def svdf_op(rng: np.random.Generator, x: T, units: int, *, rank: int = 1, memory: int = 4, state: str = "int16",
            state_zp: int = 0, out_zp: int = 0, out_scale: float = 0.05) -> tuple[tuple, T]:
    """One SVDF over ``x`` [batches][n_input] with a variable activation state; returns (op, output)."""
    batches, n_in = x.shape
    filters = units * rank
    hi = 32767 if state == "int16" else 127
    s_feat, s_time = float(rng.uniform(0.004, 0.01)), (5e-5 if state == "int16" else 0.01)
    s_state = 0.004 if state == "int16" else 0.3
    wf = T((filters, n_in), scale=s_feat, data=rng.integers(-127, 128, size=(filters, n_in)).astype(np.int8))
    wt = T((filters, memory), state, scale=s_time,
           data=rng.integers(-hi, hi + 1, size=(filters, memory)).astype(state))
    bias = T((units,), "int32", scale=s_state * s_time, data=rng.integers(-20000, 20000, size=units).astype(np.int32))
    st = T((batches, filters * memory), state, scale=s_state, zero_point=state_zp, variable=True)
    out = T((batches, units), scale=out_scale, zero_point=out_zp)
    return ("SVDF", [x, wf, wt, bias, st], [out], dict(rank=rank, activation="RELU")), out


def tconv_op(rng: np.random.Generator, x: T, out_c: int, *, k: tuple[int, int] = (3, 3),
             strides: tuple[int, int] = (2, 2), padding: str = "SAME", bias: bool = True, per_channel: bool = True,
             act: str = "NONE", out_scale: float = 0.05, out_zp: int = 0, bias16: bool = False) -> tuple[tuple, T]:
    """One TRANSPOSE_CONV over ``x`` (NHWC, int8 or int16) with the output size TFLite's shape rule gives;
    ``bias16``: a 16x8 op's bias as int16 (TFLM widens it to int64)."""
    b, h, w, c = x.shape
    sh, sw = strides
    if padding == "SAME":
        oh, ow = h * sh, w * sw
    else:
        oh, ow = (h - 1) * sh + k[0], (w - 1) * sw + k[1]
    scales = ([float(v) for v in rng.uniform(0.002, 0.02, size=out_c)] if per_channel
              else float(rng.uniform(0.002, 0.02)))
    filt = T((out_c, k[0], k[1], c), scale=scales,
             data=rng.integers(-127, 128, size=(out_c, k[0], k[1], c)).astype(np.int8))
    shape = T((4,), "int32", data=np.array([b, oh, ow, out_c], dtype=np.int32))
    wide = x.dtype == "int16"
    ins = [shape, filt, x]
    if bias:
        dtype = ("int16" if bias16 else "int64") if wide else "int32"
        lim = {"int16": 30000, "int64": 2**20, "int32": 3000}[dtype]
        ins.append(T((out_c,), dtype, scale=0.0, data=rng.integers(-lim, lim, size=out_c).astype(dtype)))
    out = T((b, oh, ow, out_c), x.dtype, scale=out_scale, zero_point=out_zp)
    return ("TRANSPOSE_CONV", ins, [out], dict(padding=padding, strides=strides, activation=act)), out


def resource_variable_model() -> bytes:
    """A streaming accumulator with resource variables: CALL_ONCE sets 'acc' from a constant on the first
    invocation; each invocation reads 'acc' and 'last' (never initialised: TFLM fills it with the zero point of the
    tensor first assigned to it), outputs last and x + acc, and stores x + acc and x back."""
    x = T((1, 8), scale=0.05, zero_point=-3)
    r = [T((), "resource") for _ in range(4)]
    acc = T((1, 8), scale=0.1, zero_point=4)
    s = T((1, 8), scale=0.1, zero_point=4, graph_output=True)
    last = T((1, 8), scale=0.05, zero_point=-3, graph_output=True)
    main = [("CALL_ONCE", [], [], dict(init_subgraph_index=1)),
            ("VAR_HANDLE", [], [r[0]], dict(shared_name="acc")),
            ("READ_VARIABLE", [r[0]], [acc], {}),
            ("VAR_HANDLE", [], [r[1]], dict(shared_name="last")),
            ("READ_VARIABLE", [r[1]], [last], {}),
            ("ADD", [x, acc], [s], {}),
            ("VAR_HANDLE", [], [r[2]], dict(shared_name="acc")),
            ("ASSIGN_VARIABLE", [r[2], s], [], {}),
            ("VAR_HANDLE", [], [r[3]], dict(shared_name="last")),
            ("ASSIGN_VARIABLE", [r[3], x], [], {})]
    handle = T((), "resource")
    start = T((1, 8), scale=0.1, zero_point=4, data=np.arange(-40, 40, 10, dtype=np.int8).reshape(1, 8))
    init = [("VAR_HANDLE", [], [handle], dict(shared_name="acc")), ("ASSIGN_VARIABLE", [handle, start], [], {})]
    return multi_op_model(main, [init])
