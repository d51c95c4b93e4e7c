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
from rnn_models import lstm_op, resource_variable_model, svdf_op, tconv_op
from tflite_single_op import T, multi_op_model


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for the host builds of this module."""
    return tmp_path_factory.mktemp("ek_objs")


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
