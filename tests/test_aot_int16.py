"""edgekit's AOT runtime on 16x8 models (int16 activations, int8 weights; issue 14 item 3) against the TFLM host
interpreter, byte for byte.

CONV_2D (int64 and int32 bias, none, groups, strides, dilations, padding, fused ReLU family, per-tensor and per-
channel scales), DEPTHWISE_CONV_2D (depth multipliers), FULLY_CONNECTED (int64 / int32 bias, per-channel),
TRANSPOSE_CONV (with a non-constant output_shape, as in TFLM's seanet layers), ADD / SUB (broadcasting, scales far
apart, zero points), MUL, AVERAGE_POOL_2D / MAX_POOL_2D, MEAN / SUM, RELU / RELU6, PAD, CONCATENATION, SOFTMAX,
LOGISTIC / TANH (every input), LEAKY_RELU (negative and > 1 alpha), QUANTIZE int32/int16/int8 <-> int16, DEQUANTIZE:
many operators side by side in one hand-written model per test (one ASan/UBSan host build each); one chain on the
emulated Cortex-M4; a Keras model converted by ``edgekit convert --activations int16``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model

pytestmark = [pytest.mark.tflm]


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime kernels compiled once for the module's host builds."""
    return tmp_path_factory.mktemp("ek_objs")


def _sets(model: bytes, n: int, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Input sets: all-min, all-max, then uniform over each input type's range."""
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    sets = []
    for k in range(n):
        one = []
        for i in sg.inputs:
            t = sg.tensors[i]
            info = np.iinfo(t.dtype)
            one.append(np.full(t.shape, info.min if k == 0 else info.max, t.dtype) if k < 2 else
                       rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype))
        sets.append(one)
    return sets


def _check(model: bytes, work: Path, objs: Path, n: int = 6, seed: int = 0) -> None:
    """edgekit's outputs equal TFLM's byte for byte, and each output takes several values over the sets."""
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    need_module("tflite_micro")
    need_tool("gcc")
    parsed = load_model(model)
    sets = _sets(model, n, np.random.default_rng(seed))
    ours = run_host_sets(build_host(parsed, work, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    producer = {t: op for op in parsed.main.operators for t in op.outputs}
    problems = []
    for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            b = np.asarray(b).reshape(a.shape)
            if a.dtype != b.dtype or a.tobytes() != b.tobytes():
                op = producer[parsed.main.outputs[j]]
                problems.append(f"set {k} op {op.index} {op.opcode}: {int((a != b).sum())} of {a.size} differ, "
                                f"max {int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())}")
    assert problems == []
    for j, t in enumerate(parsed.main.outputs):
        values = np.unique(np.concatenate([s[j].reshape(-1) for s in ours]))
        assert values.size >= 3, f"output {j} of op {producer[t].index} {producer[t].opcode} is flat: {values}"


def _w(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _bias(rng: np.random.Generator, n: int, dtype: str, mag: int, scale: float = 1.0) -> T:
    """A constant bias; ``scale``: input scale * filter scale where TFLM checks it (per-tensor FULLY_CONNECTED)."""
    return T((n,), dtype, scale=scale, data=rng.integers(-mag, mag + 1, size=n).astype(dtype))


def _conv_ops(rng: np.random.Generator) -> list[tuple[str, list[T], list[T], dict]]:
    """CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV 16x8 variants."""
    ops = []
    # (in shape, filter [oc, kh, kw, kc], out shape, options, bias dtype or None, per-channel, out scale)
    convs = [
        ((1, 6, 7, 3), (5, 3, 3, 3), (1, 6, 7, 5), {"padding": "SAME"}, "int64", True, 0.02),
        ((1, 6, 7, 4), (6, 3, 2, 4), (1, 2, 3, 6), {"padding": "VALID", "strides": (2, 2)}, "int32", True, 0.05),
        ((1, 9, 9, 4), (4, 3, 3, 2), (1, 9, 9, 4), {"padding": "SAME", "dilation": (2, 2)}, "int64", True, 0.01),
        ((2, 5, 5, 2), (3, 1, 1, 2), (2, 5, 5, 3), {"padding": "VALID", "activation": "RELU6"}, None, False,
         0.0005),
        ((1, 4, 8, 8), (8, 1, 3, 8), (1, 4, 8, 8), {"padding": "SAME", "activation": "RELU"}, "int64", False, 3.0),
        ((1, 1, 12, 6), (4, 1, 4, 6), (1, 1, 5, 4), {"padding": "VALID", "strides": (1, 2)}, "int32", False, 0.001),
    ]
    for shape, fshape, oshape, opts, bdt, per_ch, oscale in convs:
        oc = fshape[0]
        x = T(shape, "int16", scale=1 / 4096)
        f = T(fshape, "int8", scale=list(rng.uniform(0.002, 0.02, oc)) if per_ch else 0.01, data=_w(rng, fshape))
        b = _bias(rng, oc, bdt, 30000 if bdt == "int64" else 3000) if bdt else None
        ops.append(("CONV_2D", [x, f, b], [T(oshape, "int16", scale=oscale)], opts))
    dws = [((1, 6, 6, 4), (1, 3, 3, 4), (1, 6, 6, 4), {"padding": "SAME"}, True, 0.02),
           ((1, 7, 5, 3), (1, 2, 3, 6), (1, 3, 2, 6), {"padding": "VALID", "strides": (2, 2), "depth_multiplier": 2},
            False, 0.01),
           ((1, 8, 8, 2), (1, 3, 3, 6), (1, 8, 8, 6), {"padding": "SAME", "dilation": (2, 3), "depth_multiplier": 3,
                                                       "activation": "RELU_N1_TO_1"}, True, 1 / 16384)]
    for shape, fshape, oshape, opts, per_ch, oscale in dws:
        oc = fshape[3]
        x = T(shape, "int16", scale=1 / 2048)
        f = T(fshape, "int8", scale=list(rng.uniform(0.002, 0.02, oc)) if per_ch else 0.01, data=_w(rng, fshape),
              quantized_dimension=3)
        ops.append(("DEPTHWISE_CONV_2D", [x, f, _bias(rng, oc, "int64", 20000)], [T(oshape, "int16", scale=oscale)],
                    opts))
    fcs = [((2, 24), 10, "int64", True, 0.01, {}), ((3, 16), 7, "int32", False, 0.002, {"activation": "RELU"}),
           ((1, 40), 5, None, True, 0.05, {})]
    for shape, rows, bdt, per_ch, oscale, opts in fcs:
        x = T(shape, "int16", scale=1 / 1024)
        f = T((rows, shape[1]), "int8", scale=list(rng.uniform(0.002, 0.02, rows)) if per_ch else 0.01,
              data=_w(rng, (rows, shape[1])))
        b = _bias(rng, rows, bdt, 20000, scale=0.01 / 1024) if bdt else None
        ops.append(("FULLY_CONNECTED", [x, f, b], [T((shape[0], rows), "int16", scale=oscale)], opts))
    # TRANSPOSE_CONV with its output_shape a model input (TFLM ignores the value), as the seanet layers have it
    x = T((1, 1, 5, 8), "int16", scale=1 / 4096)
    f = T((6, 3, 4, 8), "int8", scale=list(rng.uniform(0.002, 0.02, 6)), data=_w(rng, (6, 3, 4, 8)))
    ops.append(("TRANSPOSE_CONV", [T((4,), "int32"), f, x, _bias(rng, 6, "int64", 20000)],
                [T((1, 3, 12, 6), "int16", scale=0.01)], {"padding": "VALID", "strides": (1, 2)}))
    return ops


def test_16x8_convolutions_match_tflm(tmp_path: Path, objs: Path) -> None:
    _check(multi_op_model(_conv_ops(np.random.default_rng(1))), tmp_path, objs)


def _elementwise_ops() -> list[tuple[str, list[T], list[T], dict]]:
    ops = []
    for op in ("ADD", "SUB"):
        for s1, s2, so, shapes, act, zps in [
            (1 / 4096, 1 / 4096, 1 / 2048, ((2, 3, 8), (2, 3, 8)), "NONE", (0, 0, 0)),
            (0.01, 0.0003, 0.02, ((1, 4, 1, 6), (4, 5, 1)), "RELU", (0, 0, 0)),
            (2e-5, 2e-4, 0.002, ((3, 1), (1, 7)), "RELU6", (0, 0, 0)),
            (0.001, 0.002, 0.004, ((5, 6), (6,)), "NONE", (100, -300, 50)),
        ]:
            out_shape = np.broadcast_shapes(*shapes)
            ops.append((op, [T(shapes[0], "int16", scale=s1, zero_point=zps[0]),
                             T(shapes[1], "int16", scale=s2, zero_point=zps[1])],
                        [T(tuple(out_shape), "int16", scale=so, zero_point=zps[2])], {"activation": act}))
    for s1, s2, so, shapes, act in [(1 / 256, 1 / 256, 4.0, ((2, 3, 8), (2, 3, 8)), "NONE"),
                                    (0.01, 0.0003, 0.5, ((1, 4, 1, 6), (4, 5, 1)), "RELU"),
                                    (1 / 4096, 1 / 4096, 1 / 16384, ((3, 5), (5,)), "RELU_N1_TO_1")]:
        ops.append(("MUL", [T(shapes[0], "int16", scale=s1), T(shapes[1], "int16", scale=s2)],
                    [T(tuple(np.broadcast_shapes(*shapes)), "int16", scale=so)], {"activation": act}))
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        for shape, out, opts in [((1, 6, 7, 3), (1, 3, 4, 3), {"padding": "SAME", "strides": (2, 2), "filter": (3, 3)}),
                                 ((2, 5, 5, 4), (2, 4, 2, 4), {"padding": "VALID", "strides": (1, 2), "filter": (2, 2),
                                                               "activation": "RELU"})]:
            ops.append((op, [T(shape, "int16", scale=0.001)], [T(out, "int16", scale=0.001)], opts))
    for op, shape, axes, keep, s_in, zin, s_out, zout in [
            ("MEAN", (1, 5, 6, 4), [1, 2], True, 0.001, 0, 0.0005, 0),
            ("MEAN", (3, 7, 5), [-1], False, 1 / 4096, 10, 1 / 8192, -20),
            ("SUM", (2, 3, 8), [0, 2], False, 1e-4, 0, 0.002, 0)]:
        out_shape = tuple(1 if (d in axes or d - len(shape) in axes) else n for d, n in enumerate(shape))
        out_shape = out_shape if keep else tuple(n for d, n in enumerate(shape) if d not in axes and
                                                 d - len(shape) not in axes)
        ops.append((op, [T(shape, "int16", scale=s_in, zero_point=zin), T((len(axes),), "int32",
                                                                          data=np.array(axes, np.int32))],
                    [T(out_shape, "int16", scale=s_out, zero_point=zout)], {"keep_dims": keep}))
    for op, s_in, s_out in (("RELU", 0.001, 0.0005), ("RELU", 1 / 4096, 1 / 1024), ("RELU6", 0.0003, 0.0003),
                            ("RELU6", 1e-5, 1e-5)):
        ops.append((op, [T((3, 50), "int16", scale=s_in)], [T((3, 50), "int16", scale=s_out)], {}))
    pads = T((4, 2), "int32", data=np.array([[0, 0], [1, 2], [0, 1], [2, 0]], np.int32))
    ops.append(("PAD", [T((1, 3, 4, 2), "int16", scale=0.001), pads], [T((1, 6, 5, 4), "int16", scale=0.001)], {}))
    ops.append(("CONCATENATION", [T((2, 3, 4), "int16", scale=0.002), T((2, 3, 2), "int16", scale=0.002)],
                [T((2, 3, 6), "int16", scale=0.002)], {"axis": -1}))
    for sc, beta, depth in ((1 / 4096, 1.0, 10), (0.001, 1.0, 7), (3e-4, 0.5, 33), (1 / 32768, 2.0, 4)):
        ops.append(("SOFTMAX", [T((6, depth), "int16", scale=sc)], [T((6, depth), "int16", scale=1 / 32768)],
                    {"beta": beta}))
    for alpha, s_in, s_out in ((0.2, 1 / 4096, 1 / 4096), (-0.5, 0.001, 0.003), (1.7, 0.01, 0.002)):
        ops.append(("LEAKY_RELU", [T((3, 40), "int16", scale=s_in)], [T((3, 40), "int16", scale=s_out)],
                    {"alpha": alpha}))
    for din, dout, s_in, zin, s_out, zout in [("int32", "int16", 1.49e-10, 0, 1 / 32768, 0),
                                              ("int32", "int8", 4e-10, 3, 0.004, -5),
                                              ("int16", "int16", 1 / 4096, 0, 1 / 1000, 0),
                                              ("int16", "int8", 1 / 4096, 0, 1 / 64, 7),
                                              ("int8", "int16", 0.05, -10, 1 / 2048, 0)]:
        ops.append(("QUANTIZE", [T((4, 33), din, scale=s_in, zero_point=zin)],
                    [T((4, 33), dout, scale=s_out, zero_point=zout)], {}))
    ops.append(("DEQUANTIZE", [T((4, 33), "int16", scale=3e-4, zero_point=0)], [T((4, 33), "float32")], {}))
    return ops


def test_16x8_elementwise_and_quantize_match_tflm(tmp_path: Path, objs: Path) -> None:
    _check(multi_op_model(_elementwise_ops()), tmp_path, objs)


def test_16x8_logistic_tanh_every_input_match_tflm(tmp_path: Path, objs: Path) -> None:
    """All 65536 int16 inputs through LOGISTIC and TANH at power-of-two input scales (TFLM's 3 << shift form,
    incl. TANH's shift 1) and others (its rescaling multiplier)."""
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    need_module("tflite_micro")
    need_tool("gcc")
    scales = (2**-12, 2**-11, 2**-10, 0.001, 3e-5, 0.0004)
    ops = [(op, [T((65536,), "int16", scale=sc)], [T((65536,), "int16", scale=2**-15)], {})
           for op in ("LOGISTIC", "TANH") for sc in scales]
    model = load_model(multi_op_model(ops))
    every = np.arange(-32768, 32768, dtype=np.int16)
    sets = [[every] * len(ops)]
    ours = run_host_sets(build_host(model, tmp_path, obj_cache=objs), sets)[0]
    ref = tflm_run(model, sets)[0]
    for (op, ins, _, _), a, b in zip(ops, ours, ref, strict=True):
        assert a.tobytes() == np.asarray(b).reshape(a.shape).tobytes(), (op, ins[0].scale)
        assert np.unique(a).size > 1000, (op, ins[0].scale)


@pytest.mark.parametrize("case", [
    ("CONV_2D", "int16 zero points must be 0"),
    ("DEPTHWISE_CONV_2D", "bias"),
])
def test_16x8_parameters_tflm_rejects_are_refused(case: tuple[str, str]) -> None:
    from edgekit.codegen.aot import generate_c
    from edgekit.errors import UnsupportedOpError

    op, why = case
    rng = np.random.default_rng(0)
    if op == "CONV_2D":
        ins = [T((1, 4, 4, 2), "int16", scale=0.001, zero_point=5),
               T((3, 1, 1, 2), "int8", scale=0.01, data=_w(rng, (3, 1, 1, 2))), None]
        outs = [T((1, 4, 4, 3), "int16", scale=0.01)]
    else:  # TFLM's int16 DEPTHWISE_CONV_2D takes only an int64 bias
        ins = [T((1, 4, 4, 2), "int16", scale=0.001),
               T((1, 1, 1, 2), "int8", scale=0.01, data=_w(rng, (1, 1, 1, 2)), quantized_dimension=3),
               _bias(rng, 2, "int32", 100)]
        outs = [T((1, 4, 4, 2), "int16", scale=0.01)]
    with pytest.raises(UnsupportedOpError, match=why):
        generate_c(multi_op_model([(op, ins, outs, {})]), Path("/nonexistent-never-written"))


def _chain() -> bytes:
    """int8 in -> int16 -> CONV_2D -> LEAKY_RELU -> DEPTHWISE_CONV_2D -> ADD (residual) -> FULLY_CONNECTED -> int8."""
    rng = np.random.default_rng(5)
    x8 = T((1, 6, 6, 4), "int8", scale=0.02, zero_point=-3)
    x16 = T((1, 6, 6, 4), "int16", scale=1 / 4096)
    c = T((1, 6, 6, 8), "int16", scale=1 / 1024)
    lr = T((1, 6, 6, 8), "int16", scale=1 / 1024)
    dw = T((1, 6, 6, 8), "int16", scale=1 / 512)
    add = T((1, 6, 6, 8), "int16", scale=1 / 256)
    fc = T((1, 10), "int16", scale=0.05)
    y8 = T((1, 10), "int8", scale=0.2, zero_point=4)
    flat = T((1, 288), "int16", scale=1 / 256)
    shape = T((2,), "int32", data=np.array([1, 288], np.int32))
    return multi_op_model([
        ("QUANTIZE", [x8], [x16], {}),
        ("CONV_2D", [x16, T((8, 3, 3, 4), "int8", scale=list(rng.uniform(0.005, 0.02, 8)), data=_w(rng, (8, 3, 3, 4))),
                     _bias(rng, 8, "int64", 20000)], [c], {"padding": "SAME"}),
        ("LEAKY_RELU", [c], [lr], {"alpha": 0.3}),
        ("DEPTHWISE_CONV_2D", [lr, T((1, 3, 3, 8), "int8", scale=list(rng.uniform(0.005, 0.02, 8)),
                                     data=_w(rng, (1, 3, 3, 8)), quantized_dimension=3),
                               _bias(rng, 8, "int64", 20000)], [dw], {"padding": "SAME"}),
        ("ADD", [dw, lr], [add], {}),
        ("RESHAPE", [add, shape], [flat], {"new_shape": [1, 288]}),
        ("FULLY_CONNECTED", [flat, T((10, 288), "int8", scale=0.01, data=_w(rng, (10, 288))),
                             _bias(rng, 10, "int64", 50000, scale=0.01 / 256)], [fc], {}),
        ("QUANTIZE", [fc], [y8], {}),
    ])


def test_16x8_chain_matches_tflm_on_host(tmp_path: Path, objs: Path) -> None:
    _check(_chain(), tmp_path, objs, n=4)


@pytest.mark.qemu
@pytest.mark.toolchain
def test_16x8_chain_bit_exact_on_qemu(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.tflm import tflm_run
    from edgekit.validation import validate

    path = tmp_path / "chain16.tflite"
    path.write_bytes(_chain())
    rng = np.random.default_rng(8)
    xs = np.concatenate([np.stack([np.full((1, 6, 6, 4), v, np.int8) for v in (-128, 127)]),
                         rng.integers(-128, 128, size=(3, 1, 6, 6, 4)).astype(np.int8)])
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]
    assert list(Path(res.project_dir).rglob("ek_int16.c")), "not built with edgekit's AOT runtime"
    ref = tflm_run(path, list(xs))
    assert np.unique(np.concatenate([np.asarray(r[0]).reshape(-1) for r in ref])).size >= 3


def keras_16x8_model():
    """Conv2D, DepthwiseConv2D, LeakyReLU, a residual Add, a Subtract and Dense: layers whose 16x8 kernels edgekit
    has."""
    import keras
    from keras import layers

    x = keras.Input((8, 8, 2), batch_size=1)
    h = layers.Conv2D(8, 3, padding="same")(x)
    h = layers.LeakyReLU(negative_slope=0.1)(h)
    d = layers.DepthwiseConv2D(3, padding="same")(h)
    h = layers.Add()([h, d])
    h = layers.Subtract()([h, layers.Conv2D(8, 1)(x)])
    h = layers.Conv2D(4, 3, strides=2, padding="valid")(h)
    return keras.Model(x, layers.Dense(6)(layers.Flatten()(h)))


@pytest.mark.tf
def test_converted_16x8_model_matches_tflm(tmp_path: Path, objs: Path) -> None:
    """``edgekit convert --activations int16`` (the library call behind it) -> edgekit's AOT runtime == TFLM."""
    need_module("tensorflow")
    need_tool("gcc")
    from aot_util import aot_vs_tflm, opcodes

    from edgekit.conversion import convert

    rng = np.random.default_rng(0)
    calib = rng.normal(size=(32, 8, 8, 2)).astype(np.float32)
    result = convert(keras_16x8_model(), calib, activations="int16", progress=False, isolate=False)
    tflite = result.tflite_bytes
    from edgekit.tflite_model import load_model

    sg = load_model(tflite).main
    assert sg.tensors[sg.inputs[0]].dtype == "int16"
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "LEAKY_RELU", "ADD", "SUB", "FULLY_CONNECTED"} <= set(opcodes(tflite))
    assert aot_vs_tflm(tflite, tmp_path, sets=4, seed=2, obj_cache=objs) == []


@pytest.mark.toolchain
def test_int16_kernels_compile_for_cortex_m_without_warnings(tmp_path: Path) -> None:
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    src = REPO / "firmware_templates" / "runtime" / "edgekit" / "ek_int16.c"
    for cpu in ("cortex-m0plus", "cortex-m4", "cortex-m55"):
        res = subprocess.run([gcc, "-std=c99", f"-mcpu={cpu}", "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror",
                              "-Wconversion", "-Wno-sign-conversion", "-c", str(src), "-o", str(tmp_path / "k.o")],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{cpu}: {res.stderr}"
