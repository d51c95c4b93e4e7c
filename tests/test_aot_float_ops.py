"""float32 comparisons, SELECT_V2, ARG_MAX / ARG_MIN, CUMSUM, L2_NORMALIZATION, RESIZE_BILINEAR, TRANSPOSE_CONV,
the dtype-generic data-movement handlers in float32, and float CONV_2D + ADD fusion (issue 21).

Every case over its parameter space (broadcasting, axes, exclusive / reverse, align_corners / half_pixel_centers,
strides / padding) side by side in one hand-written model, one ASan/UBSan host build, bit for bit against TFLM's
float reference kernels (the host interpreter); a float autoencoder made by the TF converter (Conv2DTranspose,
bilinear Resizing, a fused residual ADD) end to end on the emulated Cortex-M4F.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model

pytestmark = [pytest.mark.tflm]

RNG = np.random.default_rng(2121)


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime kernels compiled once for the module's host builds."""
    return tmp_path_factory.mktemp("ek_objs")


def _f(*shape: int, data: np.ndarray | None = None) -> T:
    return T(shape, "float32", data=data)


def _w(*shape: int, scale: float = 0.5) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _i32(*values: int) -> T:
    return T((len(values),), "int32", data=np.array(values, np.int32))


def _scalar(value: int) -> T:
    return T((), "int32", data=np.array(value, np.int32))


COMPARE = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")
NEW_FLOAT = {*COMPARE, "SELECT_V2", "ARG_MAX", "ARG_MIN", "CUMSUM", "L2_NORMALIZATION", "RESIZE_BILINEAR",
             "TRANSPOSE_CONV"}


def float_more_ops() -> list:
    """The operators of the test model (inputs: x [1,6,6,3] and y of its shape, b [1,1,6,3], u [2,50], a scalar)."""
    x, y, b, u = _f(1, 6, 6, 3), _f(1, 6, 6, 3), _f(1, 1, 6, 3), _f(2, 50)
    s2d, s2b = _f(1, 3, 3, 12), _f(9, 3, 3, 3)
    cond = T((1, 6, 6, 3), "bool")
    pad_rows = np.array([[0, 0], [1, 2], [2, 1], [0, 0]], np.int32)
    pads = T((4, 2), "int32", data=pad_rows)
    tconv = [  # (filter [out_c, k_h, k_w, in_c], output [1, h, w, out_c], options, bias)
        ((4, 3, 3, 3), (1, 12, 12, 4), {"strides": (2, 2)}, True),
        ((2, 3, 3, 3), (1, 13, 13, 2), {"strides": (2, 2), "padding": "VALID"}, False),
        ((5, 3, 3, 3), (1, 6, 6, 5), {"activation": "RELU"}, True),
        ((3, 4, 2, 3), (1, 18, 12, 3), {"strides": (3, 2), "activation": "RELU6"}, True),
        ((2, 2, 3, 3), (1, 7, 10, 2), {"strides": (1, 2), "padding": "VALID"}, True),
    ]
    resize = [((8, 10), {}), ((11, 7), {"align_corners": True}), ((12, 12), {"half_pixel_centers": True}),
              ((4, 3), {"half_pixel_centers": True}), ((1, 1), {"align_corners": True}), ((5, 4), {})]
    ops = [
        *((op, [x, y], [T((1, 6, 6, 3), "bool")], {}) for op in COMPARE),
        *((op, [x, b], [T((1, 6, 6, 3), "bool")], {}) for op in COMPARE),  # broadcast
        ("LESS", [u, _f(1, data=np.array([0.5], np.float32))], [T((2, 50), "bool")], {}),
        ("GREATER", [x, y], [cond], {}),
        ("SELECT_V2", [cond, x, y], [_f(1, 6, 6, 3)], {}),
        ("SELECT_V2", [cond, b, _f(1, data=np.array([-2.5], np.float32))], [_f(1, 6, 6, 3)], {}),  # broadcast x, y
        ("ARG_MAX", [x, _i32(3)], [T((1, 6, 6), "int32")], {}),
        ("ARG_MAX", [x, _i32(1)], [T((1, 6, 3), "int32")], {}),
        ("ARG_MIN", [u, _i32(-1)], [T((2,), "int32")], {}),
        ("ARG_MIN", [x, _i32(2)], [T((1, 6, 3), "int32")], {}),
        *(("CUMSUM", [x, _i32(axis)], [_f(1, 6, 6, 3)], {"exclusive": ex, "reverse": rev})
          for axis, ex, rev in ((1, False, False), (2, True, False), (3, False, True), (1, True, True))),
        ("CUMSUM", [u, _i32(-1)], [_f(2, 50)], {"reverse": True}),
        ("L2_NORMALIZATION", [u], [_f(2, 50)], {}),
        ("L2_NORMALIZATION", [x], [_f(1, 6, 6, 3)], {}),
        *(("RESIZE_BILINEAR", [x, _i32(*size)], [_f(1, *size, 3)], opts) for size, opts in resize),
        ("RESIZE_NEAREST_NEIGHBOR", [x, _i32(9, 4)], [_f(1, 9, 4, 3)], {"half_pixel_centers": True}),
        *(("TRANSPOSE_CONV", [_i32(*out), _f(*fs, data=_w(*fs)), x, _f(fs[0], data=_w(fs[0])) if bias else None],
           [_f(*out)], opts) for fs, out, opts, bias in tconv),
        # dtype-generic handlers (data movement) in float32
        ("GATHER", [x, T((2,), "int32", data=np.array([2, 0], np.int32))], [_f(1, 6, 6, 2)], {"axis": 3}),
        ("GATHER_ND", [u, T((3, 2), "int32", data=np.array([[0, 4], [1, 49], [1, 0]], np.int32))], [_f(3)], {}),
        ("STRIDED_SLICE", [x, _i32(0, 1, 0, 0), _i32(1, 6, 6, 3), _i32(1, 2, 3, 1)], [_f(1, 3, 2, 3)], {}),
        ("SLICE", [x, _i32(0, 1, 2, 1), _i32(1, 4, 3, 2)], [_f(1, 4, 3, 2)], {}),
        ("BROADCAST_TO", [b, _i32(1, 6, 6, 3)], [_f(1, 6, 6, 3)], {}),
        ("ZEROS_LIKE", [u], [_f(2, 50)], {}),
        ("MIRROR_PAD", [x, pads], [_f(1, 9, 9, 3)], {"mode": "REFLECT"}),
        ("MIRROR_PAD", [x, pads], [_f(1, 9, 9, 3)], {"mode": "SYMMETRIC"}),
        ("PADV2", [x, pads, _f(1, data=np.array([1.5], np.float32))], [_f(1, 9, 9, 3)], {}),
        ("SPACE_TO_DEPTH", [x], [s2d], {"block_size": 2}),
        ("DEPTH_TO_SPACE", [s2d], [_f(1, 6, 6, 3)], {"block_size": 2}),
        ("TRANSPOSE", [x, _i32(0, 3, 1, 2)], [_f(1, 3, 6, 6)], {}),
        ("REVERSE_V2", [x, _i32(2)], [_f(1, 6, 6, 3)], {}),
        ("SPLIT", [_scalar(1), x], [_f(1, 2, 6, 3), _f(1, 2, 6, 3), _f(1, 2, 6, 3)], {"num_splits": 3}),
        ("SPLIT_V", [u, _i32(20, 30), _scalar(1)], [_f(2, 20), _f(2, 30)], {"num_splits": 2}),
        ("PACK", [u, u], [_f(2, 2, 50)], {"values_count": 2, "axis": 1}),
        ("UNPACK", [u], [_f(50), _f(50)], {"num": 2, "axis": 0}),
        ("SPACE_TO_BATCH_ND", [x, _i32(2, 3), T((2, 2), "int32", data=np.zeros((2, 2), np.int32))],
         [_f(6, 3, 2, 3)], {}),
        ("RESHAPE", [u, _i32(10, 10)], [_f(10, 10)], {}),
        ("EXPAND_DIMS", [u, _scalar(1)], [_f(2, 1, 50)], {}),
        ("SQUEEZE", [b], [_f(6, 3)], {}),
        ("FILL", [_i32(2, 3), _f()], [_f(2, 3)], {}),  # the value a scalar model input
        ("SPACE_TO_BATCH_ND", [x, _i32(3, 3), T((2, 2), "int32", data=pad_rows[1:3])], [s2b], {}),
        ("BATCH_TO_SPACE_ND", [s2b, _i32(3, 3), T((2, 2), "int32", data=np.array([[1, 2], [0, 1]], np.int32))],
         [_f(1, 6, 8, 3)], {}),
        ("CAST", [u], [T((2, 50), "int32")], {}),
        ("QUANTIZE", [u], [T((2, 50), "int8", 0.05, -3)], {}),
    ]
    return ops


def model_and_sets(n: int = 4, bool_outputs: bool = True) -> tuple[bytes, list[list[np.ndarray]]]:
    """The test model and input sets: normal values, a set on a grid of halves (ties for the comparisons,
    ARG_MAX / ARG_MIN and SELECT), a set with a zero row (L2_NORMALIZATION's epsilon), large magnitudes.
    ``bool_outputs=False``: each bool output CAST to int32 (the firmware reports no bool outputs)."""
    from edgekit.tflite_model import load_model

    ops = float_more_ops()
    if not bool_outputs:
        consumed = {id(t) for _, ins, _, _ in ops for t in ins}
        ops += [("CAST", [t], [T(t.shape, "int32")], {}) for _, _, outs, _ in list(ops) for t in outs
                if t.dtype == "bool" and id(t) not in consumed]
    model = multi_op_model(ops)
    sg = load_model(model).main
    rng = np.random.default_rng(7)
    sets = []
    for k in range(n):
        one = []
        for t in (sg.tensors[i] for i in sg.inputs):
            a = np.asarray(rng.standard_normal(t.shape) * (1.0, 3.0, 1.0, 40.0)[k % 4])
            if k == 2 and a.ndim:
                a = np.round(a * 2) / 2
                a.reshape(-1, a.shape[-1])[0] = 0.0  # a row of zeros
            one.append(a.astype(np.float32))
        sets.append(one)
    return model, sets


def test_more_float_ops_bit_exact_with_tflm(tmp_path: Path, objs: Path) -> None:
    """One host build (ASan/UBSan): every output byte for byte TFLM's, and not constant over the sets."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    model, sets = model_and_sets()
    parsed = load_model(model)
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    sg = parsed.main
    producer = {t: op for op in sg.operators for t in op.outputs}
    bad = [f"set {k} op {producer[sg.outputs[j]].index} {producer[sg.outputs[j]].opcode}"
           for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True))
           for j, (a, b) in enumerate(zip(mine, theirs, strict=True))
           if a.dtype != np.asarray(b).dtype or a.tobytes() != np.asarray(b).tobytes()]
    assert bad == []
    for j in range(len(ours[0])):
        values = np.concatenate([s[j].reshape(-1) for s in ours])
        if producer[sg.outputs[j]].opcode == "ZEROS_LIKE":
            assert not values.any()
            continue
        assert np.unique(values).size >= 2, producer[sg.outputs[j]].opcode
    ties = [o for o in ours[2]]  # the grid set: EQUAL finds equal elements, NOT_EQUAL different ones
    assert ties[0].any() and ties[1].any()


def test_new_float_handlers_are_in_the_test_models() -> None:
    """Every float handler is in this model, in test_aot_float's or in test_aot_float_rnn's (the recurrent ones),
    the new ones here."""
    from test_aot_float import float_ops
    from test_aot_float_rnn import RNN_FLOAT

    from edgekit.codegen.aot.ops.dispatch import FLOAT_REGISTRY

    here = {op for op, *_ in float_more_ops()}
    assert NEW_FLOAT <= here
    assert set(FLOAT_REGISTRY) - {"DEQUANTIZE"} - RNN_FLOAT <= here | {op for op, *_ in float_ops()}


def _residual_model() -> bytes:
    """x -> CONV a; x -> CONV c; ADD(a, c) with RELU (fusable: a dies at the ADD and is not c's input)."""
    x, a, c = _f(1, 12, 12, 4), _f(1, 12, 12, 8), _f(1, 12, 12, 8)
    return multi_op_model([
        ("CONV_2D", [x, _f(8, 3, 3, 4, data=_w(8, 3, 3, 4)), _f(8, data=_w(8))], [a], {"activation": "RELU"}),
        ("CONV_2D", [x, _f(8, 3, 3, 4, data=_w(8, 3, 3, 4)), _f(8, data=_w(8))], [c], {}),
        ("ADD", [a, c], [_f(1, 12, 12, 8)], {"activation": "RELU6"}),
    ])


def test_float_conv_add_fusion_keeps_tflm_results_and_shrinks_the_arena(tmp_path: Path, objs: Path) -> None:
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot import fusion
    from edgekit.codegen.aot.generate import generate_c
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    parsed = load_model(_residual_model())
    assert list(fusion.find_conv_add(parsed.main)) == [2]
    fused = generate_c(parsed, tmp_path / "fused")
    plain = generate_c(parsed, tmp_path / "plain", fuse=False)
    assert any("CONV_2D+ADD fused" in n for n in fused.notes)
    assert fused.arena_bytes < plain.arena_bytes - 12 * 12 * 8 * 4 // 2, (fused.arena_bytes, plain.arena_bytes)
    sets = [[(np.random.default_rng(k).standard_normal((1, 12, 12, 4)) * s).astype(np.float32)]
            for k, s in enumerate((0.5, 1.0, 3.0))]
    ours = run_host_sets(build_host(parsed, tmp_path / "host", obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    assert [o[0].tobytes() for o in ours] == [np.asarray(r[0]).tobytes() for r in ref]
    assert len(np.unique(ours[2][0])) > 100


def _autoencoder(path: Path) -> Path:
    """A small float autoencoder through the TF converter: strided conv, a residual block with a projection
    shortcut (CONV_2D + ADD), Conv2DTranspose, bilinear Resizing."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(4)
    inp = tf.keras.Input((16, 16, 1), batch_size=1)
    h = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    r = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    r = tf.keras.layers.Conv2D(8, 3, padding="same")(r)
    shortcut = tf.keras.layers.Conv2D(8, 1)(h)  # ResNet's projection shortcut: the fusable CONV_2D + ADD
    h = tf.keras.layers.Add()([r, shortcut])
    h = tf.keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(h)
    h = tf.keras.layers.Resizing(24, 24, interpolation="bilinear")(h)
    out = tf.keras.layers.Conv2D(2, 3, padding="same")(h)
    model = tf.keras.Model(inp, out)
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


@pytest.mark.qemu
@pytest.mark.toolchain
def test_float_autoencoder_on_qemu_cortex_m4(tmp_path: Path) -> None:
    """The converter's float autoencoder on the emulated Cortex-M4F, byte for byte TFLM's outputs."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    need_module("tensorflow")
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    path = _autoencoder(tmp_path / "autoencoder.tflite")
    ops = {op.opcode for op in load_model(path).main.operators}
    assert {"TRANSPOSE_CONV", "RESIZE_BILINEAR", "ADD", "CONV_2D"} <= ops, ops
    xs = np.random.default_rng(9).standard_normal((3, 1, 16, 16, 1)).astype(np.float32)
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs) and res.ok, res.to_dict()
    src = next(Path(res.project_dir).rglob("ek_model.c")).read_text()
    assert "ek_f32_transpose_conv" in src and "ek_f32_resize_bilinear" in src
    assert "CONV_2D, float32" in src  # the residual pair fused


@pytest.mark.qemu
@pytest.mark.toolchain
def test_more_float_ops_on_qemu_soft_float(tmp_path: Path) -> None:
    """The same op model on the emulated Cortex-M3 (no FPU: the compiler's IEEE soft-float and newlib's sqrtf /
    floorf / ceilf), byte for byte TFLM's outputs."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    model, sets = model_and_sets(3, bool_outputs=False)
    path = tmp_path / "float_more_ops.tflite"
    path.write_bytes(model)
    per_input = [np.stack([s[i] for s in sets]) for i in range(len(sets[0]))]
    res = validate(path, board="qemu-cortex-m3", inputs=per_input, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(sets) and res.ok, res.to_dict()["mismatches"]
    assert list(Path(res.project_dir).rglob("ek_float_ops.c")), "not built with edgekit's AOT runtime"


@pytest.mark.toolchain
def test_float_ops_kernels_never_fuse_multiply_add_in_gnu_c(tmp_path: Path) -> None:
    """GNU C dialects (PlatformIO's default) let GCC contract a * b + c into VFMA, one rounding instead of TFLM's
    two (TRANSPOSE_CONV, L2_NORMALIZATION, RESIZE_BILINEAR): ek_float_ops.c turns contraction off itself."""
    import shutil
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    objdump = shutil.which("arm-none-eabi-objdump")
    assert objdump, "arm-none-eabi-objdump comes with arm-none-eabi-gcc"
    src = REPO / "firmware_templates" / "runtime" / "edgekit" / "ek_float_ops.c"
    obj = tmp_path / "k.o"
    subprocess.run([gcc, "-std=gnu11", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-mthumb", "-O2",
                    "-Wall", "-Wextra", "-Werror", "-c", str(src), "-o", str(obj)], check=True)
    text = subprocess.run([objdump, "-d", str(obj)], check=True, capture_output=True, text=True).stdout
    assert "vmul.f32" in text and not [ln for ln in text.splitlines() if "vfma" in ln or "vfms" in ln
                                       or "vfnm" in ln]


def test_float_resource_variables_carry_state_like_tflm(tmp_path: Path, objs: Path) -> None:
    """A float32 streaming accumulator (CALL_ONCE sets 'acc' from a constant; each inference outputs x + acc and
    the previous x, and stores both back): four inferences in a row, byte for byte TFLM's."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    x, acc, r = _f(1, 8), _f(1, 8), [T((), "resource") for _ in range(4)]
    s, last = T((1, 8), "float32", graph_output=True), T((1, 8), "float32", graph_output=True)
    main = [("CALL_ONCE", [], [], {"init_subgraph_index": 1}),
            ("VAR_HANDLE", [], [r[0]], {"shared_name": "acc"}), ("READ_VARIABLE", [r[0]], [acc], {}),
            ("VAR_HANDLE", [], [r[1]], {"shared_name": "last"}), ("READ_VARIABLE", [r[1]], [last], {}),
            ("ADD", [x, acc], [s], {}),
            ("VAR_HANDLE", [], [r[2]], {"shared_name": "acc"}), ("ASSIGN_VARIABLE", [r[2], s], [], {}),
            ("VAR_HANDLE", [], [r[3]], {"shared_name": "last"}), ("ASSIGN_VARIABLE", [r[3], x], [], {})]
    handle = T((), "resource")
    init = [("VAR_HANDLE", [], [handle], {"shared_name": "acc"}),
            ("ASSIGN_VARIABLE", [handle, _f(1, 8, data=np.linspace(-2, 2, 8, dtype=np.float32).reshape(1, 8))], [], {})]
    parsed = load_model(multi_op_model(main, [init]))
    sets = [[np.random.default_rng(k).standard_normal((1, 8)).astype(np.float32)] for k in range(4)]
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    assert [[a.tobytes() for a in o] for o in ours] == [[np.asarray(a).tobytes() for a in o] for o in ref]
    assert any(np.array_equal(np.asarray(o).reshape(1, 8), sets[2][0]) for o in ref[3])  # "last": state carried
