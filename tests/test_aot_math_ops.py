"""edgekit's AOT math ops (issue 14) against the TFLM host interpreter, byte for byte.

ABS, RSQRT, ELU, LOGICAL_NOT; MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, PRELU, the comparisons, LOGICAL_AND/OR,
SELECT_V2 with broadcasting up to 5-D; ARG_MAX/ARG_MIN, CUMSUM, BATCH_MATMUL, L2_NORMALIZATION, LOG_SOFTMAX;
int8, and int16 where TFLM has an int16 kernel. Many operators side by side in one hand-written model per
test (one ASan/UBSan host build each), exact quantization parameters from tiny to huge scales and extreme
zero points; one chain of all of them on the emulated Cortex-M4; a Keras 3 model with PReLU, ELU, a small
attention block and an argmax output through the real converter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model, single_op_model

pytestmark = [pytest.mark.tflm]

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def _f32(x: float) -> float:
    return float(np.float32(x))


def _inputs(model: bytes) -> list:
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    return [sg.tensors[i] for i in sg.inputs]


def _value_sets(model: bytes, n: int, rng: np.random.Generator, fill=None) -> list[list[np.ndarray]]:
    """Input sets: all-min, all-max, then uniform over each type's range (bool: 0/1); ``fill(k, tensor)`` may
    override an input (return None to keep the random one)."""
    sets = []
    for k in range(n):
        one = []
        for t in _inputs(model):
            if t.dtype == "bool":
                a = rng.integers(0, 2, size=t.shape).astype(bool) if k >= 2 else np.full(t.shape, bool(k))
            else:
                info = np.iinfo(t.dtype)
                a = (np.full(t.shape, info.min if k == 0 else info.max, t.dtype) if k < 2 else
                     rng.integers(info.min, info.max + 1, size=t.shape).astype(t.dtype))
            custom = fill(k, t) if fill is not None else None
            one.append(a if custom is None else custom)
        sets.append(one)
    return sets


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime kernels compiled once for the module's host builds."""
    return tmp_path_factory.mktemp("ek_objs")


def _mismatches(model: bytes, sets: list[list[np.ndarray]], work: Path,
                objs: Path) -> tuple[list[str], list[list[np.ndarray]]]:
    """(outputs where edgekit's bytes differ from TFLM's, edgekit's outputs)."""
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    need_module("tflite_micro")
    need_tool("gcc")
    parsed = load_model(model)
    ours = run_host_sets(build_host(parsed, work, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    producer = {t: op for op in parsed.main.operators for t in op.outputs}
    problems = []
    for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            b = np.asarray(b).reshape(a.shape)
            if a.dtype != b.dtype or a.tobytes() != b.tobytes():
                op = producer[parsed.main.outputs[j]]
                problems.append(f"set {k} op {op.index} {op.opcode}: {int((a != b).sum())} of {a.size} differ")
    return problems, ours


def _assert_varied(model: bytes, outs: list[list[np.ndarray]], sometimes_constant: tuple[str, ...] = ()) -> None:
    """Every output takes at least two values over the sets (the sweep is not all saturated); for the opcodes in
    ``sometimes_constant`` (a comparison of inputs quantized far apart may always agree) at least one does."""
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    producer = {t: op for op in sg.operators for t in op.outputs}
    varied: dict[str, bool] = {}
    for j, t in enumerate(sg.outputs):
        op = producer[t]
        values = np.unique(np.concatenate([s[j].reshape(-1) for s in outs]))
        varied[op.opcode] = varied.get(op.opcode, False) or values.size >= 2
        assert values.size >= 2 or op.opcode in sometimes_constant, f"op {op.index} {op.opcode} is constant: {values}"
    assert all(varied[name] for name in sometimes_constant if name in varied), varied


# ----------------------------------------------------------------------------------------------
# unary: every int8 input value, many quantizations

QUANTS = [(1e-4, 0), (2e-3, -128), (1 / 255, 127), (0.02, -5), (0.1, 90), (0.5, -1), (1.0, 0), (8.0, 3), (100.0, -128)]


def _unary_ops(rng: np.random.Generator) -> list:
    ops = []
    for s, zp in QUANTS:
        for _ in range(2):
            so = _f32(s * 10 ** rng.uniform(-1.5, 1.5))
            zo = int(rng.integers(-128, 128))
            ops.append(("ABS", [T((256,), "int8", s, zp)], [T((256,), "int8", so, zo)], {}))
            ops.append(("ELU", [T((256,), "int8", s, zp)], [T((256,), "int8", so, zo)], {}))
        ops.append(("ABS", [T((256,), "int8", s, zp)], [T((256,), "int8", s, -zp // 2)], {}))  # same scale: no rescale
        # RSQRT: inputs at or above the zero point only (TFLM fails the inference below it)
        ops.append(("RSQRT", [T((128,), "int8", s, -128)], [T((128,), "int8", _f32(1 / np.sqrt(s) / 60), -100)], {}))
        ops.append(("RSQRT", [T((128,), "int8", s, -128)], [T((128,), "int8", _f32(10 ** rng.uniform(-3, 1)),
                                                                int(rng.integers(-128, 128)))], {}))
    for s, so in ((0.01, 0.01), (3e-4, 1e-3), (2.0, 0.5)):
        ops.append(("ABS", [T((2, 300), "int16", s, 0)], [T((2, 300), "int16", so, 0)], {}))
    for s, so in ((1e-4, 1e-3), (3e-3, 3e-4), (0.5, 1e-4), (0.05, 0.05)):  # int16 RSQRT: inputs >= 0
        ops.append(("RSQRT", [T((5, 60), "int16", s, 0)], [T((5, 60), "int16", so, 0)], {}))
    ops.append(("LOGICAL_NOT", [T((3, 7), "bool")], [T((3, 7), "bool")], {}))
    return ops


def test_unary_ops_every_input_value_match_tflm(tmp_path: Path, objs: Path) -> None:
    rng = np.random.default_rng(1)
    ops = _unary_ops(rng)
    model = multi_op_model(ops)

    def fill(k: int, t) -> np.ndarray | None:
        if t.dtype == "int8" and t.shape == (256,):
            return ALL_INT8 if k % 2 == 0 else rng.permutation(ALL_INT8)
        if t.dtype == "int8" and t.shape == (128,) and k < 2:  # RSQRT (zero point -128): both halves of the range
            return ALL_INT8[128 * k:][:128]
        if t.dtype == "int16" and t.shape == (5, 60):  # int16 RSQRT: 0, 1, small and large values
            a = rng.integers(0, 32768, size=t.shape) if k % 2 else rng.integers(0, 300, size=t.shape)
            a.flat[:3] = [0, 1, 32767]
            return a.astype(np.int16)
        return None

    sets = _value_sets(model, 6, rng, fill)
    problems, ours = _mismatches(model, sets, tmp_path, objs)
    assert problems == []
    _assert_varied(model, ours)


def test_rsqrt_below_zero_point_fails_like_tflm(tmp_path: Path, objs: Path) -> None:
    from edgekit.codegen.aot.host import build_host, run_host
    from edgekit.errors import EdgekitError
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    need_tool("gcc")
    model = multi_op_model([("RSQRT", [T((4,), "int8", 0.1, 0)], [T((4,), "int8", 0.05, 0)], {}),
                            ("RSQRT", [T((4,), "int16", 0.01, 0)], [T((4,), "int16", 0.01, 0)], {})])
    exe = build_host(load_model(model), tmp_path, obj_cache=objs)
    ok = [np.array([0, 1, 50, 127], np.int8), np.array([0, 3, 7, 32767], np.int16)]
    assert [a.tobytes() for a in run_host(exe, ok)] == [np.asarray(a).tobytes() for a in tflm_run(model, [ok])[0]]
    for k, bad in ((0, [np.array([0, -1, 50, 127], np.int8), ok[1]]), (1, [ok[0], np.array([0, 3, -7, 9], np.int16)])):
        with pytest.raises(EdgekitError, match=f"returned {1000 + k}"):  # EK_ERR_OP(k)
            run_host(exe, bad)
        with pytest.raises(EdgekitError):
            tflm_run(model, [bad])


# ----------------------------------------------------------------------------------------------
# broadcasting binary ops and SELECT_V2

COMPARISONS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((1, 4, 4, 3), (1, 1, 1, 3)), ((3, 1), (1, 5)),
          ((2, 1, 3, 1), (1, 4, 1, 5)), ((1, 2, 3, 4, 5), (1, 1, 3, 1, 5)), ((2, 1, 2, 1, 3), (2, 2, 1, 3)), ((7,), ())]


def _scales(rng: np.random.Generator, below_one: bool = False) -> tuple[float, float]:
    hi = -0.05 if below_one else 1.5
    s1 = _f32(10 ** rng.uniform(-4, hi))
    return s1, (s1 if rng.random() < 0.3 else _f32(10 ** rng.uniform(-4, hi)))


def _operands(rng: np.random.Generator, sa: tuple, sb: tuple, dtype: str, s1: float | None, z1: int,
              s2: float | None, z2: int) -> list[T]:
    """Two operands of shapes ``sa``, ``sb``; a scalar second operand is a constant (a model input of shape ()
    is not settable through edgekit.tflm)."""
    b = T(sb, dtype, s2, z2)
    if sb == ():
        b.data = (rng.integers(0, 2, size=sb).astype(bool) if dtype == "bool" else
                  rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, size=sb).astype(dtype))
    return [T(sa, dtype, s1, z1), b]


def _binary_ops(rng: np.random.Generator) -> list:
    ops = []
    for sa, sb in SHAPES:
        out = tuple(np.broadcast_shapes(sa, sb))

        def pair(dtype: str, s1: float | None, z1: int, s2: float | None, z2: int, sa=sa, sb=sb) -> list[T]:
            return _operands(rng, sa, sb, dtype, s1, z1, s2, z2)

        z = [int(v) for v in rng.integers(-128, 128, 3)]
        for dtype in ("int8", "int16", "int32"):
            for op in ("MAXIMUM", "MINIMUM"):
                ops.append((op, pair(dtype, 0.1, 0, 0.1, 0), [T(out, dtype, 0.1, 0)], {}))
        s1, s2 = _scales(rng)
        ops.append(("SQUARED_DIFFERENCE", pair("int8", s1, z[0], s2, z[1]),
                    [T(out, "int8", _f32(max(s1, s2) ** 2 * 10 ** rng.uniform(1, 3.5)), z[2])], {}))
        ops.append(("SQUARED_DIFFERENCE", pair("int16", s1 / 256, 0, s2 / 256, 0),
                    [T(out, "int16", _f32(max(s1, s2) ** 2 * 10 ** rng.uniform(1, 3.5)), 0)], {}))
        s1, s2 = _scales(rng, below_one=True)  # TFLM's int8 comparisons need scales below 1
        for op in COMPARISONS:
            ops.append((op, pair("int8", s1, z[0], s2, z[1]), [T(out, "bool")], {}))
            ops.append((op, pair("int8", s1, z[0], s1, z[0]), [T(out, "bool")], {}))  # equal quantization
            ops.append((op, pair("int32", 1.0, 0, 1.0, 0), [T(out, "bool")], {}))
            if op in ("EQUAL", "NOT_EQUAL"):
                ops.append((op, pair("bool", None, 0, None, 0), [T(out, "bool")], {}))
        for op in ("LOGICAL_AND", "LOGICAL_OR"):
            ops.append((op, pair("bool", None, 0, None, 0), [T(out, "bool")], {}))
        if sb != ():  # PRELU: alpha broadcast over the input (a constant or an input), up to 5-D
            for dtype in ("int8", "int16"):
                s, sa_, so = (_f32(10 ** rng.uniform(-3, 0)) for _ in range(3))
                zin = z[0] if dtype == "int8" else 0
                alpha = T(sb, "int8", sa_, z[1])
                if rng.random() < 0.5:
                    alpha.data = rng.integers(-128, 128, size=sb).astype(np.int8)
                zo = z[2] if dtype == "int8" else 0
                ops.append(("PRELU", [T(out, dtype, s, zin), alpha], [T(out, dtype, so, zo)], {}))
    for sa, sb in (((4, 16, 32), (32,)), ((2048,), (2048,))):  # >= 1024 outputs: int8 inputs rescaled by tables
        out = tuple(np.broadcast_shapes(sa, sb))
        s1, s2 = _scales(rng, below_one=True)
        z = [int(v) for v in rng.integers(-128, 128, 3)]
        ops.append(("SQUARED_DIFFERENCE", _operands(rng, sa, sb, "int8", s1, z[0], s2, z[1]),
                    [T(out, "int8", _f32(max(s1, s2) ** 2 * 10 ** rng.uniform(1, 3.5)), z[2])], {}))
        for op in COMPARISONS:
            ops.append((op, _operands(rng, sa, sb, "int8", s1, z[0], s2, z[1]), [T(out, "bool")], {}))
    for cond, x, y in [((2, 3, 4), (2, 3, 4), (2, 3, 4)), ((2, 1, 4), (2, 3, 4), (4,)), ((3, 1), (1, 5), (3, 5)),
                       ((1, 2, 1, 3, 1), (2, 1, 4, 1, 2), (1, 1, 1, 3, 2))]:
        out = tuple(np.broadcast_shapes(cond, x, y))
        for dtype in ("int8", "int16"):  # TFLM's SELECT_V2 has no int32 kernel
            ops.append(("SELECT_V2", [T(cond, "bool"), T(x, dtype, 0.1, 0), T(y, dtype, 0.1, 0)],
                        [T(out, dtype, 0.1, 0)], {}))
    return ops


def test_binary_broadcast_ops_match_tflm(tmp_path: Path, objs: Path) -> None:
    rng = np.random.default_rng(2)
    model = multi_op_model(_binary_ops(rng))

    def near(k: int, t) -> np.ndarray | None:  # small values: comparisons hit equal rescaled values
        if k >= 6 and t.dtype in ("int8", "int32"):
            return rng.integers(-3, 4, size=t.shape).astype(t.dtype)
        return None

    problems, ours = _mismatches(model, _value_sets(model, 9, rng, near), tmp_path, objs)
    assert problems == []
    _assert_varied(model, ours, sometimes_constant=(*COMPARISONS, "LOGICAL_AND", "LOGICAL_OR"))  # a constant operand
    assert "_in1_rescale" in (tmp_path / "src" / "ek_weights.c").read_text()  # the table path ran too


# ----------------------------------------------------------------------------------------------
# ARG_MAX / ARG_MIN, CUMSUM, BATCH_MATMUL, L2_NORMALIZATION, LOG_SOFTMAX

def _axis(a: int) -> T:
    return T((1,), "int32", data=np.array([a], np.int32))


def _matmul(rng: np.random.Generator, ls: tuple, rs: tuple, adj_x: bool, adj_y: bool, dtype: str,
            const: bool) -> tuple:
    rows, depth = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
    cols = rs[-2] if adj_y else rs[-1]
    n = max(len(ls), len(rs))
    lb, rb = (1,) * (n - len(ls)) + ls[:-2], (1,) * (n - len(rs)) + rs[:-2]
    out = (*(max(a, b) for a, b in zip(lb, rb, strict=True)), rows, cols)
    z = (0, 0, 0) if dtype == "int16" else tuple(int(v) for v in rng.integers(-128, 128, 3))
    sl, sr = _f32(10 ** rng.uniform(-3, 0)), _f32(10 ** rng.uniform(-3, 0))
    so = _f32(sl * sr * depth * 10 ** rng.uniform(0.5, 2) * (1 if dtype == "int8" else 1 / 128))
    rhs = T(rs, dtype, sr, z[1])
    if const:
        info = np.iinfo(dtype)
        rhs.data = rng.integers(info.min, info.max + 1, size=rs).astype(dtype)
    return ("BATCH_MATMUL", [T(ls, dtype, sl, z[0]), rhs], [T(out, dtype, so, z[2])], {"adj_x": adj_x, "adj_y": adj_y})


def _scan_ops(rng: np.random.Generator) -> list:
    ops = []
    for op in ("ARG_MAX", "ARG_MIN"):
        for shape, a in [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((10,), 0), ((1, 5, 5, 7), 3),
                         ((2, 1, 3, 2, 4), 2)]:
            out = tuple(d for k, d in enumerate(shape) if k != a % len(shape))
            ops.append((op, [T(shape, "int8", 0.1, 0), _axis(a)], [T(out, "int32")], {}))
    for shape, a in [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((40,), 0), ((1, 2, 6, 3), 2)]:
        for ex in (False, True):
            for rev in (False, True):
                # TFLM's sum starts at -zp (rescaled): a small zero point keeps the outputs off the rails
                s, z = _f32(10 ** rng.uniform(-3, 1)), int(rng.integers(-30, 30))
                so = _f32(s * shape[a] * 10 ** rng.uniform(-1, 0.5))
                out = T(shape, "int8", so, int(rng.integers(-128, 128)))
                ops.append(("CUMSUM", [T(shape, "int8", s, z), _axis(a)], [out], {"exclusive": ex, "reverse": rev}))
    for dtype in ("int8", "int16"):
        for adj_x in (False, True):
            for adj_y in (False, True):
                for const in (False, True):
                    ls = (2, 5, 3) if adj_x else (2, 3, 5)
                    rs = (2, 4, 5) if adj_y else (2, 5, 4)
                    ops.append(_matmul(rng, ls, rs, adj_x, adj_y, dtype, const))
        ops.append(_matmul(rng, (2, 1, 3, 8), (1, 4, 8, 6), False, False, dtype, False))
        ops.append(_matmul(rng, (2, 1, 3, 3, 8), (1, 4, 1, 6, 8), False, True, dtype, False))
        ops.append(_matmul(rng, (4, 7), (2, 3, 7, 5), False, False, dtype, True))
        ops.append(_matmul(rng, (1, 4, 16, 6), (1, 4, 16, 6), True, False, dtype, False))
    for shape in [(1, 10), (3, 7), (2, 3, 33), (1, 2, 2, 200), (5,)]:
        for s in (1e-3, 0.01, 0.1, 0.5, 2.0, 30.0):
            z = int(rng.integers(-128, 128))
            ops.append(("LOG_SOFTMAX", [T(shape, "int8", s, z)], [T(shape, "int8", 16 / 256, 127)], {}))
            ops.append(("L2_NORMALIZATION", [T(shape, "int8", s, z)], [T(shape, "int8", 1 / 128, 0)], {}))
    return ops


def test_scan_matmul_normalization_match_tflm(tmp_path: Path, objs: Path) -> None:
    rng = np.random.default_rng(3)
    model = multi_op_model(_scan_ops(rng))

    def rows(k: int, t) -> np.ndarray | None:  # ties, one spike per row, a ramp
        if k == 2:
            return np.zeros(t.shape, t.dtype)
        if k == 3 and t.dtype == "int8":
            a = np.full(t.shape, -100, np.int8)
            a[..., -1] = 127
            return a
        if k == 4 and t.dtype == "int8":
            return np.resize(ALL_INT8[::3], t.shape).astype(np.int8)
        return None

    problems, ours = _mismatches(model, _value_sets(model, 9, rng, rows), tmp_path, objs)
    assert problems == []
    _assert_varied(model, ours)


# ----------------------------------------------------------------------------------------------
# what is refused, and why

@pytest.mark.parametrize("op, ins, outs, opts, why", [
    ("ARG_MAX", [T((2, 4), "int8", 0.1, 0), _axis(1)], [T((2,), "int64")], {"output_type": "int64"}, "int32 only"),
    ("ARG_MAX", [T((2, 4), "int8", 0.1, 0), T((1,), "int32")], [T((2,), "int32")], {}, "constant"),
    ("LESS", [T((4,), "int8", 1.5, 0), T((4,), "int8", 0.1, 0)], [T((4,), "bool")], {}, "outside"),
    ("LOG_SOFTMAX", [T((4,), "int8", 0.1, 0)], [T((4,), "int8", 1 / 256, -128)], {}, "16/256"),
    ("L2_NORMALIZATION", [T((4,), "int8", 0.1, 0)], [T((4,), "int8", 1 / 128, 0)], {"activation": "RELU"}, "NONE"),
    ("L2_NORMALIZATION", [T((1, 1, 1, 2, 4), "int8", 0.1, 0)], [T((1, 1, 1, 2, 4), "int8", 1 / 128, 0)], {}, "4-D"),
    ("SQUARED_DIFFERENCE", [T((4,), "int16", 0.1, 3), T((4,), "int16", 0.1, 0)], [T((4,), "int16", 0.1, 0)], {},
     "zero points 0"),
    ("ABS", [T((4,), "int16", 0.1, 1)], [T((4,), "int16", 0.1, 0)], {}, "zero points 0"),
    ("RSQRT", [T((4,), "int16", 0.1, 2)], [T((4,), "int16", 0.1, 0)], {}, "zero points 0"),
    ("ELU", [T((4,), "int16", 0.1, 0)], [T((4,), "int16", 0.1, 0)], {}, "dtype int16"),
    ("CUMSUM", [T((4,), "int16", 0.1, 0), _axis(0)], [T((4,), "int16", 0.1, 0)], {}, "dtype int16"),
    ("BATCH_MATMUL", [T((2, 3), "int8", 0.1, 0), T((4, 5), "int8", 0.1, 0)], [T((2, 5), "int8", 0.1, 0)], {},
     "do not multiply"),
    ("BATCH_MATMUL", [T((2, 3), "int16", 0.1, 1), T((3, 5), "int16", 0.1, 0)], [T((2, 5), "int16", 0.1, 0)], {},
     "zero points 0"),
    ("MAXIMUM", [T((1, 1, 1, 1, 2, 3), "int8", 0.1, 0), T((3,), "int8", 0.1, 0)],
     [T((1, 1, 1, 1, 2, 3), "int8", 0.1, 0)], {}, "broadcasts at most 5-D"),
    ("SELECT_V2", [T((4,), "bool"), T((4,), "int32"), T((4,), "int32")], [T((4,), "int32")], {}, "dtype int32"),
    ("LOGICAL_AND", [T((4,), "int8", 0.1, 0), T((4,), "int8", 0.1, 0)], [T((4,), "bool")], {}, "dtype int8"),
    ("LESS", [T((4,), "int16", 0.1, 0), T((4,), "int16", 0.1, 0)], [T((4,), "bool")], {}, "dtype int16"),
    ("GREATER", [T((4,), "bool"), T((4,), "bool")], [T((4,), "bool")], {}, "dtype bool"),
])
def test_unsupported_parameters_are_refused_with_a_reason(op, ins, outs, opts, why) -> None:
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.errors import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match=why) as exc:
        check_supported(single_op_model(op, ins, outs, **opts))
    assert exc.value.hint and "tflm" in exc.value.hint


# ----------------------------------------------------------------------------------------------
# all of them in one firmware on the emulated Cortex-M4

def _chain() -> bytes:
    """One input through every op of this module (bool tensors only inside), several outputs."""
    rng = np.random.default_rng(7)

    def const(shape: tuple, dtype: str = "int8", s: float = 0.05, z: int = 0) -> T:
        return T(shape, dtype, s, z, data=rng.integers(-128, 128, size=shape).astype(dtype))

    def act(s: float, z: int, shape: tuple = (1, 8, 16), dtype: str = "int8") -> T:
        return T(shape, dtype, s, z)

    x, a, b, c, r = act(0.05, -10), act(0.04, 5), act(0.03, -20), act(0.03, -128), act(0.2, -100)
    d, mn, e = act(0.03, -20), act(0.03, -20), act(0.05, -128)
    g, h, gh, ng, ne, k = (act(0, 0, dtype="bool") for _ in range(6))
    for t in (g, h, gh, ng, ne, k):
        t.scale = None
    s, m, att = act(0.05, -10), act(0.3, 3, (1, 8, 12)), act(2.0, -5, (1, 8, 8))
    ls, l2, cs, am = act(16 / 256, 127, (1, 8, 8)), act(1 / 128, 0, (1, 8, 12)), act(0.6, 0), T((1, 8), "int32")
    axis = T((1,), "int32", data=np.array([2], np.int32))
    last = T((1,), "int32", data=np.array([-1], np.int32))
    return multi_op_model([
        ("PRELU", [x, const((16,), s=0.01, z=-20)], [a], {}),
        ("ELU", [a], [b], {}),
        ("ABS", [b], [c], {}),
        ("RSQRT", [c], [r], {}),
        ("MAXIMUM", [b, const((16,), s=0.03, z=-20)], [d], {}),
        ("MINIMUM", [d, const((8, 1), s=0.03, z=-20)], [mn], {}),
        ("SQUARED_DIFFERENCE", [x, mn], [e], {}),
        ("GREATER", [x, e], [g], {}),
        ("LESS_EQUAL", [a, const((1, 16), s=0.04, z=5)], [h], {}),
        ("LOGICAL_OR", [g, h], [gh], {}),
        ("NOT_EQUAL", [x, b], [ne], {}),
        ("LOGICAL_NOT", [gh], [ng], {}),
        ("LOGICAL_AND", [ng, ne], [k], {}),
        ("SELECT_V2", [k, x, e], [s], {}),
        ("BATCH_MATMUL", [s, const((16, 12), s=0.02, z=3)], [m], {}),
        ("BATCH_MATMUL", [m, m], [att], {"adj_y": True}),
        ("LOG_SOFTMAX", [att], [ls], {}),
        ("L2_NORMALIZATION", [m], [l2], {}),
        ("CUMSUM", [r, axis], [cs], {"exclusive": True}),
        ("ARG_MAX", [m, last], [am], {}),
    ])


@pytest.mark.qemu
@pytest.mark.toolchain
def test_math_chain_bit_exact_on_qemu(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = tmp_path / "math_chain.tflite"
    path.write_bytes(_chain())
    rng = np.random.default_rng(8)
    xs = np.concatenate([np.stack([np.full((1, 8, 16), v, np.int8) for v in (-128, 127)]),
                         rng.integers(-128, 128, size=(4, 1, 8, 16)).astype(np.int8)])
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]
    assert list(Path(res.project_dir).rglob("ek_normalization.c")), "not built with edgekit's AOT runtime"
    from edgekit.tflm import tflm_run

    ref = tflm_run(path, list(xs))  # the outputs compared are not constant
    for j in range(len(ref[0])):
        assert np.unique(np.concatenate([np.asarray(r[j]).reshape(-1) for r in ref])).size >= 2, j


# ----------------------------------------------------------------------------------------------
# a Keras 3 model of everyday layers through the real converter

def keras_math_model():
    """PReLU, a one-head self-attention block (two BATCH_MATMULs, one with adj_y), an argmax output, and
    elementwise layers/ops that convert to this module's ops (Maximum, Minimum, abs, rsqrt, log_softmax,
    where/greater, squared difference). (TF 2.21's converter leaves ELU and CUMSUM in float32: not here.)"""
    import keras
    import tensorflow as tf
    from keras import layers, ops

    x = keras.Input((6, 8), batch_size=1, name="in_x")  # names fix the converter's input order
    y = keras.Input((6, 8), batch_size=1, name="in_y")
    h = layers.PReLU()(layers.Dense(8)(x))
    q, k, v = layers.Dense(8)(h), layers.Dense(8)(h), layers.Dense(8)(h)
    att = layers.Softmax()(ops.einsum("bqd,bkd->bqk", q, k))
    o = ops.einsum("bqk,bkd->bqd", att, v)
    logits = layers.Dense(5)(o)
    argmax = layers.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32), output_shape=(6,))(logits)
    return keras.Model([x, y], [
        o, argmax, layers.Maximum()([h, y]), layers.Minimum()([h, y]), ops.rsqrt(ops.abs(h) + 1.0),
        layers.Activation("log_softmax")(h), ops.where(ops.greater(h, y), h, 0.5), ops.square(h - y)])


@pytest.mark.tf
def test_keras_math_model_matches_tflm(request: pytest.FixtureRequest, tmp_path: Path, objs: Path) -> None:
    """Calibrated on unit-variance data (with data of scale ~300 the converter gives GREATER input scales >= 1,
    where TFLM's comparison aborts and edgekit refuses)."""
    need_module("tensorflow")
    need_tool("gcc")
    from aot_util import aot_vs_tflm, convert_int8, opcodes

    cache = getattr(request.config, "cache", None)
    models = Path(cache.mkdir("edgekit_aot_models")) if cache is not None else tmp_path
    tflite = convert_int8(keras_math_model, "unit", models)
    ops = set(opcodes(tflite))
    assert {"PRELU", "BATCH_MATMUL", "ARG_MAX", "MAXIMUM", "MINIMUM", "ABS", "RSQRT", "LOG_SOFTMAX", "GREATER",
            "SQUARED_DIFFERENCE", "SELECT_V2"} <= ops, ops
    assert aot_vs_tflm(tflite, tmp_path, sets=6, seed=3, obj_cache=objs) == []


@pytest.mark.toolchain
def test_math_kernels_compile_for_cortex_m_without_warnings(tmp_path: Path) -> None:
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    runtime = REPO / "firmware_templates" / "runtime" / "edgekit"
    for cpu in ("cortex-m0plus", "cortex-m4"):
        for name in ("ek_math", "ek_scan", "ek_batch_matmul", "ek_normalization"):
            res = subprocess.run([gcc, "-std=c99", f"-mcpu={cpu}", "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror",
                                  "-Wconversion", "-Wno-sign-conversion", "-c", str(runtime / f"{name}.c"),
                                  "-o", str(tmp_path / f"{name}.o")], capture_output=True, text=True)
            assert res.returncode == 0, f"{cpu} {name}: {res.stderr}"
