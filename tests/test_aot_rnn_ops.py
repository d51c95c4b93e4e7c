"""Recurrent and stateful ops of issue 14 in the AOT runtime, byte-identical with the TFLM host interpreter.

SVDF (int16 and int8 state), TRANSPOSE_CONV (int8 and 16x8) and resource variables (VAR_HANDLE, READ_VARIABLE,
ASSIGN_VARIABLE, CALL_ONCE with its init subgraph) are here too; the stateful ones run several inferences in a row.

UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM's integer LSTM: int8 weights and activations, int16 cell state), with the
24-input layout the converter emits, written directly as single-op models (TF 2.21 cannot quantize a Keras 3
LSTM, see NOTES.md). Several variants share one model (one host build): batch-major and time-major, one and
several batches, 16x8 (int16 activations), cell clip, cell-state scales 2^-10..2^-15 (the integer tanh's shift
both ways), hidden zero points, two stacked layers. Every model runs several inferences in a row, so the
variable tensors (hidden and cell state) carry over between them as in TFLM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for the host builds of this module."""
    return tmp_path_factory.mktemp("ek_objs")


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


def lstm_variants() -> bytes:
    """Independent LSTMs (each its own input and output) plus a stacked pair, in one model."""
    rng = np.random.default_rng(14)
    ops = []
    op, _ = lstm_op(rng, T((1, 5, 7), scale=0.02, zero_point=-5), 6)
    ops.append(op)
    op, _ = lstm_op(rng, T((3, 4, 9), scale=0.05, zero_point=10), 5, cell_clip=3.0, cell_pow=-11, hid_zp=-128,
                    hid_scale=1 / 256)
    ops.append(op)
    op, _ = lstm_op(rng, T((3, 2, 6), scale=0.03, zero_point=0), 4, time_major=True, cell_pow=-15, cell_clip=0.5)
    ops.append(op)
    op, _ = lstm_op(rng, T((2, 3, 5), scale=0.1, zero_point=-128), 7, cell_pow=-10,
                    w_scale=(0.02, 0.05))  # large pre-activations: the Q3.12 adds and the LUTs saturate
    ops.append(op)
    op, y = lstm_op(rng, T((1, 6, 8), scale=0.04, zero_point=2), 8, cell_clip=8.0)
    ops.append(op)
    op, _ = lstm_op(rng, y, 3, hid_zp=-20, hid_scale=0.01)  # stacked: the first layer's sequence feeds the second
    ops.append(op)
    op, _ = lstm_op(rng, T((2, 4, 6), "int16", scale=2e-4), 5, cell_clip=2.0, hid_scale=1 / 32768)  # 16x8
    ops.append(op)
    op, _ = lstm_op(rng, T((3, 1, 9), "int16", scale=5e-5), 4, time_major=True, cell_pow=-11, hid_scale=5e-5,
                    w_scale=(0.02, 0.05))
    ops.append(op)
    return multi_op_model(ops)


@pytest.mark.tflm
def test_lstm_variants_bit_exact_over_consecutive_inferences(objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model

    tflite = lstm_variants()
    model = load_model(tflite)
    sets = random_inputs(model, 3, seed=5)
    sets.append(sets[0])  # the same input again: the carried state must make the outputs differ, in both runtimes
    problems = aot_vs_tflm(tflite, tmp_path, inputs=sets, obj_cache=objs)
    assert problems == [], "\n".join(problems)

    from edgekit.tflm import tflm_run

    ref = tflm_run(model, sets)
    assert any(not np.array_equal(a, b) for a, b in zip(ref[0], ref[3], strict=True)), "state had no effect"


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


def svdf_variants() -> bytes:
    """int16 and int8 state, rank 1 and 2, several batches, state and output zero points; one model."""
    rng = np.random.default_rng(41)
    ops = [svdf_op(rng, T((1, 12), scale=0.06, zero_point=-128), 6, out_scale=0.1)[0],
           svdf_op(rng, T((2, 9), scale=0.03, zero_point=7), 4, rank=2, memory=3, out_zp=-10, out_scale=0.02)[0],
           svdf_op(rng, T((1, 10), scale=0.05, zero_point=0), 5, state="int8", state_zp=-50, memory=5,
                   out_scale=0.4)[0],
           svdf_op(rng, T((3, 6), scale=0.02, zero_point=-3), 3, rank=3, memory=2, state="int8", state_zp=20,
                   out_zp=5, out_scale=0.5)[0]]
    return multi_op_model(ops)


@pytest.mark.tflm
def test_svdf_variants_bit_exact_over_consecutive_inferences(objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    tflite = svdf_variants()
    model = load_model(tflite)
    sets = random_inputs(model, 7, seed=9)  # more inferences than the longest memory: the state wraps around
    sets.append(sets[0])
    problems = aot_vs_tflm(tflite, tmp_path, inputs=sets, obj_cache=objs)
    assert problems == [], "\n".join(problems)
    ref = tflm_run(model, sets)
    assert any(not np.array_equal(a, b) for a, b in zip(ref[0], ref[7], strict=True)), "state had no effect"


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


def tconv_variants() -> bytes:
    """SAME / VALID, strides 1-3 (unequal), odd and even kernels, with and without bias, per-channel and
    per-tensor weights, fused activations, zero points, batches, and 16x8; one model."""
    rng = np.random.default_rng(7)
    ops = [tconv_op(rng, T((1, 4, 5, 3), scale=0.05, zero_point=-10), 4)[0],
           tconv_op(rng, T((2, 3, 3, 5), scale=0.03, zero_point=20), 3, k=(2, 3), strides=(1, 2), padding="VALID",
                    bias=False, act="RELU", out_zp=-128, out_scale=0.04)[0],
           tconv_op(rng, T((1, 3, 4, 2), scale=0.1, zero_point=0), 6, k=(4, 4), strides=(3, 2), per_channel=False,
                    act="RELU6", out_scale=0.06, out_zp=-100)[0],
           tconv_op(rng, T((1, 5, 2, 4), scale=0.08, zero_point=127), 2, k=(1, 1), strides=(2, 3), out_zp=30)[0],
           tconv_op(rng, T((1, 3, 3, 4), "int16", scale=1e-3), 5, k=(3, 3), strides=(2, 2), out_scale=2e-3)[0],
           tconv_op(rng, T((1, 2, 4, 3), "int16", scale=5e-4), 2, k=(2, 2), strides=(1, 1), padding="VALID",
                    bias=False, act="RELU", out_scale=1e-3)[0],
           tconv_op(rng, T((1, 2, 2, 3), "int16", scale=5e-4), 3, k=(3, 2), strides=(2, 1), out_scale=1e-3,
                    bias16=True)[0]]
    return multi_op_model(ops)


@pytest.mark.tflm
def test_transpose_conv_variants_bit_exact(objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model

    tflite = tconv_variants()
    problems = aot_vs_tflm(tflite, tmp_path, inputs=random_inputs(load_model(tflite), 3, seed=2), obj_cache=objs)
    assert problems == [], "\n".join(problems)


def streaming_model() -> bytes:
    """A small stateful streaming model: two stacked LSTMs over 6 steps, an FC head and an SVDF (its own memory of
    past inferences): x [1, 6, 10] -> [1, 4]."""
    rng = np.random.default_rng(3)
    x = T((1, 6, 10), scale=0.05, zero_point=-3)
    lstm1, y = lstm_op(rng, x, 12, cell_clip=4.0)
    lstm2, y = lstm_op(rng, y, 8, cell_pow=-11, hid_zp=-5)
    flat = T((1, 48), scale=y.scale, zero_point=y.zero_point)
    reshape = ("RESHAPE", [y, T((2,), "int32", data=np.array([1, 48], dtype=np.int32))], [flat], {})
    w = T((16, 48), scale=0.01, data=rng.integers(-127, 128, size=(16, 48)).astype(np.int8))
    b = T((16,), "int32", scale=0.01 * float(flat.scale), data=rng.integers(-500, 500, size=16).astype(np.int32))
    h = T((1, 16), scale=0.04, zero_point=1)
    fc = ("FULLY_CONNECTED", [flat, w, b], [h], {})
    svdf, _ = svdf_op(rng, h, 4, rank=2, memory=3, out_scale=0.05, out_zp=-7)
    return multi_op_model([lstm1, lstm2, reshape, fc, svdf])


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.slow
@pytest.mark.tflm
def test_streaming_lstm_model_bit_exact_on_qemu_cortex_m4(tmp_path: Path) -> None:
    """Consecutive inferences on the emulated Cortex-M4 through the firmware and serial protocol: the LSTM and SVDF
    states carried from one inference to the next give the same bytes as TFLM's interpreter (one instance, invoked
    once per sample)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run
    from edgekit.validation import validate

    tflite = streaming_model()
    path = tmp_path / "streaming.tflite"
    path.write_bytes(tflite)
    model = load_model(tflite)
    sets = random_inputs(model, 5, seed=11)
    xs = np.stack([s[0] for s in [*sets, sets[0]]])  # sample 0 again at the end: the state changes its output
    ref = tflm_run(model, list(xs))
    assert not np.array_equal(ref[0][0], ref[5][0]), "the model's state had no effect on its output"
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    src = next((tmp_path / "fw").rglob("ek_model.c")).read_text()
    assert "ek_lstm_s8(" in src and "ek_svdf_s16(" in src
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]


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


@pytest.mark.tflm
def test_resource_variables_and_call_once_bit_exact(objs: Path, tmp_path: Path) -> None:
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.codegen.aot.generate import generate_c
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    tflite = resource_variable_model()
    model = load_model(tflite)
    assert len(model.subgraphs) == 2
    sets = random_inputs(model, 4, seed=4)
    problems = aot_vs_tflm(tflite, tmp_path / "host", inputs=sets, obj_cache=objs)
    assert problems == [], "\n".join(problems)
    ref = tflm_run(model, sets)
    assert np.all(ref[0][0] == -3) and np.array_equal(ref[1][0], sets[0][0])  # reset value, then the last input
    res = generate_c(model, tmp_path / "gen")
    src = (tmp_path / "gen" / "ek_model.c").read_text()
    assert res.arena_bytes > 0 and src.count("memcpy(") == 5  # init, 2 reads, 2 assigns


def test_unsupported_variants_are_named(tmp_path: Path) -> None:
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.errors import UnsupportedOpError

    rng = np.random.default_rng(0)
    op, _ = lstm_op(rng, T((1, 3, 4), scale=0.02), 5)
    peep = list(op[1])
    peep[10] = T((5,), "int16", scale=0.01, data=np.ones(5, dtype=np.int16))
    with pytest.raises(UnsupportedOpError, match="peephole") as info:
        check_supported(multi_op_model([(op[0], peep, op[2], op[3])]))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in str(info.value) and info.value.hint

    x = T((1, 8), scale=0.05)
    handle, y = T((), "resource"), T((1, 8), scale=0.05)
    computed = [("VAR_HANDLE", [], [handle], dict(shared_name="v")), ("RELU", [x], [y], {}),
                ("ASSIGN_VARIABLE", [handle, y], [], {})]
    main = [("CALL_ONCE", [], [], dict(init_subgraph_index=1)), *computed[:1],
            ("READ_VARIABLE", [handle], [T((1, 8), scale=0.05)], {})]
    with pytest.raises(UnsupportedOpError, match="init subgraph may only assign constants"):
        check_supported(multi_op_model(main, [computed]))
