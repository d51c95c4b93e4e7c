"""edgekit's AOT int8 math kernels against the TFLM host interpreter, byte for byte.

SOFTMAX, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, ADD/SUB/MUL (broadcasting, fused activations),
MEAN/SUM/REDUCE_MAX/REDUCE_MIN, QUANTIZE and DEQUANTIZE. Two kinds of models:

* hand-written flatbuffers (``tflite_single_op``) with many operators side by side, to sweep
  exact quantization parameters -- tiny and huge scales, extreme and asymmetric zero points --
  with every int8 input value where an op is elementwise;
* small Keras models converted by TFLiteConverter over calibration data of very different ranges.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, need_module, need_tool
from tflite_single_op import T, multi_op_model, single_op_model

pytestmark = [pytest.mark.tflm]

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def _run_both(model: bytes, sets: list[list[np.ndarray]], work: Path) -> tuple[list, list, object]:
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    need_module("tflite_micro")
    need_tool("gcc")
    parsed = load_model(model)
    exe = build_host(parsed, work)
    return run_host_sets(exe, sets), tflm_run(parsed, sets), parsed


def _mismatches(model: bytes, sets: list[list[np.ndarray]], work: Path) -> list[str]:
    """Outputs (as 'op k OPCODE: ...') where edgekit's bytes differ from TFLM's."""
    ours, ref, parsed = _run_both(model, sets, work)
    sg = parsed.main
    producer = {t: op for op in sg.operators for t in op.outputs}
    problems = []
    for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            b = np.asarray(b).reshape(a.shape)
            if a.dtype != b.dtype or a.tobytes() != b.tobytes():
                op = producer[sg.outputs[j]]
                bad = np.nonzero(a.view(np.uint8) != b.view(np.uint8))[0]
                problems.append(f"set {k} op {op.index} {op.opcode}: {bad.size} bytes differ, first at {bad[:3]}")
    return problems


def _random_sets(parsed_inputs: list[tuple[tuple[int, ...], str]], n: int, rng: np.random.Generator) -> list:
    """Input sets: all-min, all-max, then uniform random over each integer type's range."""
    sets = []
    for k in range(n):
        one = []
        for shape, dtype in parsed_inputs:
            info = np.iinfo(dtype)
            if k < 2:
                one.append(np.full(shape, info.min if k == 0 else info.max, dtype))
            else:
                one.append(rng.integers(info.min, info.max + 1, size=shape).astype(dtype))
        sets.append(one)
    return sets


def _inputs_of(model: bytes) -> list[tuple[tuple[int, ...], str]]:
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    return [(tuple(sg.tensors[i].shape), sg.tensors[i].dtype) for i in sg.inputs]


def _f32(x: float) -> float:
    return float(np.float32(x))


# ----------------------------------------------------------------------------------------------
# elementwise look-up-table ops: every int8 input value, many quantizations

# (in_scale, in_zp, out_scale, out_zp) where computing TFLM's multipliers in float32 instead of
# double gives different bytes (found by search); they pin down which precision TFLM uses.
HARD_SWISH_PRECISION_CASES = [(0.06978963315486908, 7, 0.03089108131825924, -100),
                              (0.0919453352689743, -115, 0.3023674488067627, -119),
                              (0.2069905698299408, -13, 3.3669755458831787, 54)]
LEAKY_PRECISION_CASES = [(0.05, -37, 0.02, -128, -0.5), (0.1, 127, 0.02, -128, -0.5)]


def _lut_ops(rng: np.random.Generator) -> list:
    ops = []
    scales = [1e-6, 2e-4, 1 / 255, 0.02, 0.1, 0.5, 1.0, 8.0, 100.0, 3e4]
    for s in scales:
        for zp in (-128, -1, 90, 127):
            ops.append(("LOGISTIC", [T((1, 256), "int8", s, zp)], [T((1, 256), "int8", 1 / 256, -128)], {}))
            ops.append(("TANH", [T((1, 256), "int8", s, zp)], [T((1, 256), "int8", 1 / 128, 0)], {}))
    for s, zp, so, zo in HARD_SWISH_PRECISION_CASES:
        ops.append(("HARD_SWISH", [T((1, 256), "int8", s, zp)], [T((1, 256), "int8", so, zo)], {}))
    for s, zp, so, zo, alpha in LEAKY_PRECISION_CASES:
        ops.append(("LEAKY_RELU", [T((1, 256), "int8", s, zp)], [T((1, 256), "int8", so, zo)], {"alpha": alpha}))
    for _ in range(16):
        s = _f32(10 ** rng.uniform(-4, 1.5))
        zp, zo = (int(v) for v in rng.integers(-128, 128, 2))
        # HARD_SWISH needs out_scale >= in_scale / 128 (TFLM rejects the rest)
        ops.append(("HARD_SWISH", [T((1, 256), "int8", s, zp)],
                    [T((1, 256), "int8", _f32(s * 10 ** rng.uniform(-1.5, 1)), zo)], {}))
        alpha = float(rng.choice([0.0, 0.01, 0.2, 0.3, 1.0, 1.7, -0.25]))
        ops.append(("LEAKY_RELU", [T((1, 256), "int8", s, zp)],
                    [T((1, 256), "int8", _f32(s * 10 ** rng.uniform(-1, 1)), zo)], {"alpha": alpha}))
    return ops


def test_lut_activations_every_input_value_match_tflm(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ops = _lut_ops(rng)
    model = multi_op_model(ops)
    every_value = [[ALL_INT8.reshape(1, 256)] * len(ops)]
    shuffled = [[rng.permutation(ALL_INT8).reshape(1, 256) for _ in ops]]
    assert _mismatches(model, every_value + shuffled, tmp_path) == []


def test_lut_tables_are_shared_and_ops_run_in_place(tmp_path: Path) -> None:
    from edgekit.codegen.aot.generate import generate_c

    x1, x2 = T((2, 3, 5), "int8", 0.05, 3), T((2, 3, 5), "int8", 0.05, 3)
    y1, y2 = T((2, 3, 5), "int8", 1 / 256, -128), T((2, 3, 5), "int8", 1 / 256, -128)
    z = T((2, 3, 5), "int8", 0.02, -128)
    model = multi_op_model([("LOGISTIC", [x1], [y1], {}), ("LOGISTIC", [x2], [y2], {}),
                            ("HARD_SWISH", [y2], [z], {})])
    result = generate_c(model, tmp_path)
    weights = (tmp_path / "ek_weights.c").read_text()
    assert weights.count("_lut[256]") == 2  # the two identical LOGISTIC tables are one array
    assert result.arena_bytes <= 2 * 32  # y1 in x1's bytes, y2 and z in x2's
    sets = [[ALL_INT8[:30].reshape(2, 3, 5), ALL_INT8[-30:].reshape(2, 3, 5)]]
    assert _mismatches(model, sets, tmp_path / "run") == []


# ----------------------------------------------------------------------------------------------
# SOFTMAX

def _softmax_ops(rng: np.random.Generator) -> list:
    ops = []
    shapes = [(1, 1), (1, 2), (1, 10), (3, 7), (2, 3, 33), (1, 2, 2, 200)]
    for beta in (0.05, 0.5, 1.0, 1.7, 10.0, 1e4):
        for shape in shapes:
            s = _f32(10 ** rng.uniform(-3, 1.7))
            if beta * s < 2e-7:  # below 2**-26 TFLM aborts (QuantizeMultiplierGreaterThanOne)
                s = 1e-3
            zp = int(rng.integers(-128, 128))
            out = T(shape, "int8", 1 / 256, -128) if rng.random() < 0.7 else T(shape, "int16", 1 / 65536, -32768)
            ops.append(("SOFTMAX", [T(shape, "int8", s, zp)], [out], {"beta": beta}))
    return ops


def test_softmax_matches_tflm(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    ops = _softmax_ops(rng)
    model = multi_op_model(ops)
    specs = _inputs_of(model)
    sets = _random_sets(specs, 8, rng)
    # ties, one spike, a spread that crosses diff_min, and values near the bottom
    for fill in ("spike", "ramp", "low"):
        one = []
        for shape, _ in specs:
            a = np.full(shape, -100, np.int8)
            if fill == "spike":
                a[..., -1] = 127
            elif fill == "ramp":
                a = np.resize(ALL_INT8[::3], shape).astype(np.int8)
            else:
                a = rng.integers(-128, -120, size=shape).astype(np.int8)
            one.append(a)
        sets.append(one)
    assert _mismatches(model, sets, tmp_path) == []


def test_softmax_python_model_and_table() -> None:
    from edgekit.codegen.aot.ops.softmax import softmax_exp_table, softmax_input_params, softmax_reference

    table = softmax_exp_table(1.0, 0.25)
    assert table[0] == 2**31 - 1  # exp(0) is gemmlowp's 1.0
    _, _, diff_min = softmax_input_params(1.0, 0.25)
    k = np.arange(-diff_min + 1)
    np.testing.assert_allclose(table[k] / 2**31, np.exp(-0.25 * k), rtol=1e-6, atol=1e-9)
    assert np.all(table[-diff_min + 1:] == 0)  # differences below diff_min are left out, like TFLM
    out = softmax_reference(np.array([[10, 10, -128]], np.int8), table)
    assert out[0, 0] == out[0, 1] and out[0, 2] == -128
    with pytest.raises(ValueError, match="too small"):
        softmax_input_params(1.0, 1e-9)


# ----------------------------------------------------------------------------------------------
# ADD, SUB, MUL

# a scalar operand is a constant (a model input of shape () is not settable through edgekit.tflm)
BINARY_SHAPES = [((1, 8), (1, 8)), ((2, 3, 4), (4,)), ((1, 4, 4, 3), (1, 1, 1, 3)), ((1, 1, 1, 3), (1, 4, 4, 3)),
                 ((2, 1, 3, 1), (1, 4, 1, 5)), ((5,), ()), ((), (6,)), ((1, 2, 3, 4, 5), (1, 1, 3, 1, 5)),
                 ((3, 1), (1, 3)), ((2, 2, 1, 2, 1, 2), (1, 2, 2, 1, 2, 1)), ((2, 7), (2, 7))]
# (s1, z1, s2, z2, so, zo) where SUB's multipliers in float32 and in double give different bytes
SUB_PRECISION_CASES = [(0.462358683347702, 1, 2.448869228363037, 85, 1.0289840698242188, -7),
                       (0.0017165625467896461, 1, 0.0005764149245806038, -29, 0.006075258832424879, 76),
                       (0.0014033811166882515, 48, 0.00015129370149224997, -113, 0.002524400595575571, 79)]


def _binary_ops(rng: np.random.Generator) -> list:
    ops = []
    for opcode in ("ADD", "SUB", "MUL"):
        for sa, sb in BINARY_SHAPES:
            out_shape = tuple(np.broadcast_shapes(sa, sb))
            for act in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
                s1 = _f32(10 ** rng.uniform(-4, 1.5))
                s2 = s1 if rng.random() < 0.3 else _f32(10 ** rng.uniform(-4, 1.5))
                if opcode == "MUL":
                    so = _f32(s1 * s2 * 128 * 10 ** rng.uniform(-1.5, 1))
                else:
                    so = _f32((s1 + s2) / 2 * 10 ** rng.uniform(-1, 1))
                z = [int(v) for v in rng.integers(-128, 128, 3)] if rng.random() < 0.8 else [-128, 127, 0]
                a, b = T(sa, "int8", s1, z[0]), T(sb, "int8", s2, z[1])
                for t in (a, b):
                    if t.shape == () or (t.shape == (2, 7) and act == "RELU"):
                        t.data = rng.integers(-128, 128, size=t.shape).astype(np.int8)
                ops.append((opcode, [a, b], [T(out_shape, "int8", so, z[2])], {"activation": act}))
    return ops


def test_add_sub_mul_broadcast_match_tflm(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ops = _binary_ops(rng)
    model = multi_op_model(ops)
    assert _mismatches(model, _random_sets(_inputs_of(model), 12, rng), tmp_path) == []


def test_add_sub_every_input_pair_match_tflm(tmp_path: Path) -> None:
    grid_a = np.repeat(ALL_INT8, 256).reshape(256, 256)
    ops = []
    for s1, z1, s2, z2, so, zo in SUB_PRECISION_CASES:
        for opcode in ("SUB", "ADD"):
            ops.append((opcode, [T((256, 256), "int8", s1, z1), T((256, 256), "int8", s2, z2)],
                        [T((256, 256), "int8", so, zo)], {}))
    ops.append(("MUL", [T((256, 256), "int8", 0.02, -3), T((256, 256), "int8", 0.7, 100)],
                [T((256, 256), "int8", 0.9, 11)], {"activation": "RELU6"}))
    model = multi_op_model(ops)
    sets = [[grid_a if k % 2 == 0 else grid_a.T.copy() for k in range(2 * len(ops))]]
    assert _mismatches(model, sets, tmp_path) == []


def test_broadcast_layout_merges_and_rejects() -> None:
    from edgekit.codegen.aot.ops.elementwise import broadcast_layout

    assert broadcast_layout((1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8)) == ([128], [1], [1])
    assert broadcast_layout((1, 4, 4, 8), (1, 1, 1, 8), (1, 4, 4, 8)) == ([16, 8], [8, 1], [0, 1])
    assert broadcast_layout((3, 1), (1, 3), (3, 3)) == ([3, 3], [1, 0], [0, 1])
    assert broadcast_layout((), (), ()) == ([1], [0], [0])
    with pytest.raises(ValueError, match="broadcast"):
        broadcast_layout((2, 3), (4, 3), (4, 3))


# ----------------------------------------------------------------------------------------------
# MEAN, SUM, REDUCE_MAX, REDUCE_MIN

REDUCE_CASES = [((1, 4, 4, 8), [1, 2]), ((1, 4, 4, 8), [2, 1]), ((1, 5, 3, 2), [-1]), ((2, 3, 4), [0, 2]),
                ((7,), [0]), ((2, 3, 4, 5), [1, 3]), ((1, 16, 16, 3), [1, 2]), ((3, 4), [1, 1, -1]),
                ((1, 300, 2), [1]), ((1, 2, 3, 4, 5), [0, 2, 4]), ((1, 9, 7, 16), [1, 2])]


def _reduce_ops(rng: np.random.Generator) -> list:
    ops = []
    for opcode in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"):
        for shape, axes in REDUCE_CASES:
            rax = sorted({a % len(shape) for a in axes})
            count = int(np.prod([shape[a] for a in rax]))
            for keep in (False, True):
                out_shape = tuple(1 if d in rax else n for d, n in enumerate(shape) if keep or d not in rax)
                s, z = _f32(10 ** rng.uniform(-4, 1.5)), int(rng.integers(-128, 128))
                if opcode in ("MEAN", "SUM"):
                    so = _f32(s * 10 ** rng.uniform(-1, 1) * (count if opcode == "SUM" else 1))
                    zo = int(rng.integers(-128, 128))
                else:
                    so, zo = s, z
                axis = T((len(axes),), "int32", data=np.array(axes, np.int32))
                ops.append((opcode, [T(shape, "int8", s, z), axis], [T(out_shape, "int8", so, zo)],
                            {"keep_dims": keep}))
    return ops


def test_reductions_match_tflm(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    model = multi_op_model(_reduce_ops(rng))
    assert _mismatches(model, _random_sets(_inputs_of(model), 10, rng), tmp_path) == []


def test_mean_multiplier_folds_count_like_tflm() -> None:
    from edgekit.codegen.aot.ops.reduce import mean_multiplier, reduce_layout, resolve_axes
    from edgekit.codegen.aot.quant import quantize_multiplier

    m, s = quantize_multiplier(0.5)
    assert mean_multiplier(0.5, 1.0, 1) == (m, s)
    assert mean_multiplier(0.5, 1.0, 4) == (m, s - 2)  # a power of two just shifts
    assert mean_multiplier(0.5, 1.0, 3, mean=False) == (m, s)
    assert resolve_axes([-1, 1, 3], 4) == [3, 1]
    layout = reduce_layout((1, 4, 4, 8), [1, 2])
    assert (layout["outer_ndims"], layout["inner_ndims"]) == (1, 1)
    assert (layout["outer_dims"][0], layout["inner_dims"][0], layout["inner_strides"][0]) == (8, 16, 8)


# ----------------------------------------------------------------------------------------------
# QUANTIZE, DEQUANTIZE

def _quantize_ops(rng: np.random.Generator) -> list:
    ops = []
    for _ in range(10):
        s, s2 = _f32(10 ** rng.uniform(-4, 1.5)), _f32(10 ** rng.uniform(-4, 1.5))
        z, z2 = (int(v) for v in rng.integers(-128, 128, 2))
        ops += [
            ("QUANTIZE", [T((3, 40), "float32")], [T((3, 40), "int8", s, z)], {}),
            ("QUANTIZE", [T((3, 40), "float32")], [T((3, 40), "int16", s / 256, 0)], {}),
            ("QUANTIZE", [T((256,), "int8", s, z)], [T((256,), "int8", s2, z2)], {}),
            ("QUANTIZE", [T((256,), "int8", s, z)], [T((256,), "int8", s, z2)], {}),
            ("QUANTIZE", [T((256,), "uint8", s, z + 128)], [T((256,), "int8", s, z)], {}),
            ("QUANTIZE", [T((256,), "int8", s, z)], [T((256,), "uint8", s2, z2 + 128)], {}),
            ("QUANTIZE", [T((64,), "int16", s / 256, 0)], [T((64,), "int8", s2, z2)], {}),
            ("QUANTIZE", [T((64,), "int8", s, z)], [T((64,), "int16", s2 / 256, 0)], {}),
            ("QUANTIZE", [T((64,), "int16", s / 256, 0)], [T((64,), "int16", s2 / 256, 0)], {}),
            ("DEQUANTIZE", [T((256,), "int8", s, z)], [T((256,), "float32")], {}),
            ("DEQUANTIZE", [T((256,), "uint8", s, z + 128)], [T((256,), "float32")], {}),
            ("DEQUANTIZE", [T((64,), "int16", s / 256, 0)], [T((64,), "float32")], {}),
        ]
    return ops


def _quantize_inputs(model: bytes, ops: list, rng: np.random.Generator, k: int) -> list[np.ndarray]:
    """Every 8-bit value for the 256-element inputs; float inputs on and near rounding ties."""
    inputs = []
    for _opcode, ins, outs, _ in ops:
        t = ins[0]
        if t.dtype == "float32":
            scale = np.float32(outs[0].scale)
            q = rng.integers(-200, 200, size=t.shape) + (0.5 if k % 2 else 0.0) + rng.normal(size=t.shape) * (k / 50)
            x = (q * scale).astype(np.float32)
            x.flat[:4] = [0.0, -0.0, scale * 0.5, -scale * 0.5]
            inputs.append(x)
        elif t.shape == (256,):
            info = np.iinfo(t.dtype)
            inputs.append(rng.permutation(np.arange(info.min, info.max + 1)).astype(t.dtype))
        else:
            info = np.iinfo(t.dtype)
            inputs.append(rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype))
    return inputs


def test_quantize_dequantize_match_tflm(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ops = _quantize_ops(rng)
    model = multi_op_model(ops)
    sets = [_quantize_inputs(model, ops, rng, k) for k in range(8)]
    assert _mismatches(model, sets, tmp_path) == []


# ----------------------------------------------------------------------------------------------
# what is refused, and why

@pytest.mark.parametrize("op, ins, outs, opts, why", [
    ("LOGISTIC", [T((4,), "int8", 0.1, 0)], [T((4,), "int8", 1 / 256, 0)], {}, "zero point"),
    ("SOFTMAX", [T((4,), "int8", 0.1, 0)], [T((4,), "int8", 1 / 128, -128)], {}, "1/256"),
    ("SOFTMAX", [T((4,), "int8", 1e-9, 0)], [T((4,), "int8", 1 / 256, -128)], {}, "too small"),
    ("HARD_SWISH", [T((4,), "int8", 1.0, 0)], [T((4,), "int8", 1e-4, 0)], {}, "HARD_SWISH"),
    # int16 ADD runs (tests/test_aot_int16.py); int16 MUL needs zero points 0 as TFLM
    ("MUL", [T((4,), "int16", 0.1, 3), T((4,), "int16", 0.1, 0)], [T((4,), "int16", 0.1, 0)], {}, "zero points 0"),
    ("ADD", [T((4,), "int8", 1.0, 0), T((4,), "int8", 1.0, 0)], [T((4,), "int8", 1e-7, 0)], {}, "too small"),
    ("QUANTIZE", [T((4,), "uint8", 0.1, 0)], [T((4,), "uint8", 0.2, 0)], {}, "uint8 to uint8"),
    ("MEAN", [T((2, 4), "int8", 0.1, 0), T((1,), "int32")], [T((2,), "int8", 0.1, 0)], {}, "constant"),
    ("REDUCE_MAX", [T((2, 4), "int8", 0.1, 0), T((1,), "int32", data=np.array([1], np.int32))],
     [T((2,), "int8", 0.2, 0)], {}, "quantization differ"),
])
def test_unsupported_parameters_are_refused_with_a_reason(op, ins, outs, opts, why) -> None:
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.errors import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match=why) as exc:
        check_supported(single_op_model(op, ins, outs, **opts))
    assert exc.value.hint and "tflm" in exc.value.hint


# ----------------------------------------------------------------------------------------------
# Keras models through TFLiteConverter

def math_zoo():
    """Softmax, sigmoid, tanh, hard-swish, leaky ReLU, broadcast add/multiply/subtract, reductions."""
    import keras
    from keras import layers, ops

    x = keras.Input((4, 4, 6), batch_size=1)
    flat = layers.Flatten()(x)
    logits = layers.Dense(10)(flat)
    gap_keep = layers.GlobalAveragePooling2D(keepdims=True)(x)
    outs = [
        layers.Softmax()(logits),
        layers.Activation("sigmoid")(x),
        layers.Activation("tanh")(logits),
        layers.Activation("hard_swish")(x),
        layers.LeakyReLU(negative_slope=0.3)(x),
        layers.Add()([x, layers.Dense(6)(gap_keep)]),
        layers.Multiply()([x, layers.Activation("sigmoid")(gap_keep)]),
        layers.Subtract()([x, gap_keep]),
        layers.GlobalAveragePooling2D()(x),
        ops.mean(x, axis=-1, keepdims=True),
        ops.mean(x, axis=[1, 3]),
        ops.max(x, axis=[1, 2]),
        ops.sum(x, axis=2),
        layers.Softmax(axis=-1)(layers.Reshape((16, 6))(x)),
    ]
    return keras.Model(x, outs)


def two_input_zoo():
    """Binary ops between two model inputs of different shapes (broadcasting both ways)."""
    import keras
    from keras import layers

    a = keras.Input((3, 5), batch_size=1, name="in_a")  # names fix the converter's input order
    b = keras.Input((5,), batch_size=1, name="in_b")
    b3 = layers.Reshape((1, 5))(b)
    return keras.Model([a, b], [layers.Add()([a, b3]), layers.Multiply()([b3, a]), layers.Subtract()([b3, a]),
                                layers.Activation("relu")(layers.Add()([a, a]))])


REGIME_DATA = {
    "unit": lambda rng, shape: rng.normal(size=shape),
    "tiny": lambda rng, shape: rng.normal(size=shape) * 2e-3 + 1e-3,
    "huge": lambda rng, shape: rng.normal(size=shape) * 300.0 + 500.0,
    "negative": lambda rng, shape: rng.uniform(-9.0, -0.25, size=shape),
}


def _convert(build, regime: str, io_dtype: str, cache: Path) -> bytes:
    """Keras model -> full-int8 .tflite with ``io_dtype`` inputs/outputs (cached per session)."""
    path = cache / f"{build.__name__}_{regime}_{io_dtype}.tflite"
    if path.exists():
        return path.read_bytes()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = build()
    rng = np.random.default_rng(0)
    shapes = [tuple(int(d) for d in t.shape) for t in model.inputs]
    samples = [[REGIME_DATA[regime](rng, s).astype(np.float32) for s in shapes] for _ in range(32)]
    if len(shapes) > 1:  # the calibrator takes a list in the .tflite's input order: key by name instead
        samples = [dict(zip([t.name for t in model.inputs], one, strict=True)) for one in samples]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = getattr(tf, io_dtype)
    conv.inference_output_type = getattr(tf, io_dtype)
    data = bytes(conv.convert())
    path.write_bytes(data)
    return data


@pytest.fixture(scope="module")
def keras_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_module("tensorflow")
    return tmp_path_factory.mktemp("aot_math_models")


def _keras_sets(model: bytes, regime: str, n: int, seed: int) -> list[list[np.ndarray]]:
    from edgekit.tflite_model import load_model

    rng = np.random.default_rng(seed)
    sg = load_model(model).main
    sets = []
    for k in range(n):
        one = []
        for i in sg.inputs:
            t = sg.tensors[i]
            if t.dtype == "float32":
                one.append(REGIME_DATA[regime](rng, t.shape).astype(np.float32) * (1 + k % 3))
            else:
                info = np.iinfo(t.dtype)
                one.append(rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype) if k else
                           np.full(t.shape, info.max, t.dtype))
        sets.append(one)
    return sets


@pytest.mark.tf
@pytest.mark.parametrize("build, regime, io_dtype", [
    (math_zoo, "unit", "int8"), (math_zoo, "tiny", "int8"), (math_zoo, "huge", "int8"),
    (math_zoo, "negative", "int8"), (math_zoo, "unit", "float32"), (math_zoo, "negative", "uint8"),
    (two_input_zoo, "unit", "int8"), (two_input_zoo, "huge", "float32"),
], ids=lambda v: getattr(v, "__name__", v))
def test_converted_keras_models_match_tflm(build, regime, io_dtype, keras_cache: Path, tmp_path: Path) -> None:
    from edgekit.tflite_model import load_model

    model = _convert(build, regime, io_dtype, keras_cache)
    opcodes = {op.opcode for op in load_model(model).main.operators}
    if build is math_zoo:
        assert {"SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "ADD", "MUL", "SUB", "MEAN",
                "REDUCE_MAX", "SUM"} <= opcodes
    if io_dtype != "int8":
        assert "QUANTIZE" in opcodes and ("DEQUANTIZE" in opcodes or io_dtype == "uint8")
    assert _mismatches(model, _keras_sets(model, regime, 8, seed=7), tmp_path) == []


# ----------------------------------------------------------------------------------------------
# the kernels build for Cortex-M

@pytest.mark.toolchain
def test_kernels_compile_for_cortex_m4_without_warnings(tmp_path: Path) -> None:
    gcc = need_tool("arm-none-eabi-gcc")
    runtime = REPO / "firmware_templates" / "runtime" / "edgekit"
    for name in ("ek_activations", "ek_softmax", "ek_elementwise", "ek_reduce", "ek_quantize"):
        res = subprocess.run([gcc, "-std=c99", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                              "-mfpu=fpv4-sp-d16", "-O2", "-Wall", "-Wextra", "-Werror", "-c",
                              str(runtime / f"{name}.c"), "-o", str(tmp_path / f"{name}.o")],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
