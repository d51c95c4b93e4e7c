"""edgekit's AOT data-movement / shape ops against the TFLM host interpreter, byte for byte.

TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, PACK, UNPACK, GATHER, GATHER_ND, DEPTH_TO_SPACE,
SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND, MIRROR_PAD, REVERSE_V2, BROADCAST_TO,
RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, FILL, ZEROS_LIKE. Each test writes one flatbuffer holding many
independent single-op cases side by side (``tflite_single_op``), so one host build (ASan + UBSan)
and one TFLM run cover a whole parameter sweep. Then: the memory planner with split outputs, the
parameters the runtime refuses (with TFLM failing on the same models where it cannot run them), a
channel-shuffle + resize chain on QEMU (Cortex-M4), and a Keras 3 model through the real converter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, convert_int8, opcodes
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model, single_op_model

pytestmark = [pytest.mark.tflm]


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for this module's host builds."""
    need_tool("gcc")
    need_module("tflite_micro")
    return tmp_path_factory.mktemp("ek_objs")


def q(shape, dtype: str = "int8", zp: int = 0, scale: float = 0.05) -> T:
    return T(tuple(shape), dtype, scale=scale, zero_point=zp)


def ints(values, dtype: str = "int32") -> T:
    a = np.asarray(values, dtype=dtype)
    return T(a.shape, dtype, data=a)


def _check(model: bytes, work: Path, objs: Path, *, sets: int = 3, inputs=None) -> None:
    problems = aot_vs_tflm(model, work, sets=sets, inputs=inputs, obj_cache=objs)
    assert problems == [], "AOT output differs from TFLM:\n" + "\n".join(problems)


def _ops_of(model: bytes) -> set[str]:
    return set(opcodes(model))


# ---------------------------------------------------------------------------------------------- sweeps ---

def test_transpose_reverse_broadcast_depth_space(objs: Path, tmp_path: Path) -> None:
    ops = []
    for dtype, shape, perm in [("int8", (1, 4, 5, 6), (0, 3, 1, 2)), ("int8", (2, 3, 4, 5), (0, 2, 1, 3)),
                               ("int8", (3, 7), (1, 0)), ("int8", (2, 3, 4, 2, 3), (4, 0, 3, 1, 2)),
                               ("int8", (6,), (0,)), ("int8", (2, 3, 5), (2, 1, 0)),
                               ("int16", (1, 4, 5, 6), (0, 3, 1, 2)), ("int16", (2, 3, 4), (1, 2, 0))]:
        out = tuple(shape[p] for p in perm)
        ops.append(("TRANSPOSE", [q(shape, dtype, 3), ints(perm)], [q(out, dtype, 3)], {}))
    for dtype, shape, axes in [("int8", (2, 3, 4, 5), [-1]), ("int8", (2, 3, 4, 5), [1, 2]),
                               ("int8", (2, 3, 4, 5), [0]), ("int8", (2, 3, 4), [0, 1, 2]),
                               ("int8", (7,), [0]), ("int16", (3, 4, 5), [2]), ("int16", (3, 4, 5), [0, 1])]:
        ops.append(("REVERSE_V2", [q(shape, dtype), ints(axes)], [q(shape, dtype)], {}))
    for dtype, shape, target in [("int8", (3, 1), (2, 3, 4)), ("int8", (1,), (5,)), ("int8", (2, 3), (2, 3)),
                                 ("int16", (1, 4, 1, 2), (3, 4, 5, 2)), ("int8", (4, 1, 3), (2, 4, 6, 3))]:
        ops.append(("BROADCAST_TO", [q(shape, dtype), ints(target)], [q(target, dtype)], {}))
    for b, (n, h, w, c) in [(2, (1, 3, 4, 8)), (3, (2, 2, 3, 9)), (2, (1, 1, 1, 12))]:
        ops.append(("DEPTH_TO_SPACE", [q((n, h, w, c), zp=-4)], [q((n, h * b, w * b, c // (b * b)), zp=-4)],
                    {"block_size": b}))
    for b, (n, h, w, c) in [(2, (1, 4, 6, 3)), (3, (2, 6, 3, 2)), (2, (1, 2, 2, 1))]:
        ops.append(("SPACE_TO_DEPTH", [q((n, h, w, c), zp=9)], [q((n, h // b, w // b, c * b * b), zp=9)],
                    {"block_size": b}))
    model = multi_op_model(ops)
    assert _ops_of(model) == {"TRANSPOSE", "REVERSE_V2", "BROADCAST_TO", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH"}
    _check(model, tmp_path, objs)


# (input shape, begin, end, strides, options, dtype) -- output shapes follow from TFLM's own arithmetic
STRIDED_CASES = [
    ((2, 3, 4), [0, 1, 0], [2, 3, 4], [1, 1, 1], {}, "int8"),
    ((2, 3, 4), [0, 0, 0], [0, 0, 0], [1, 1, 1], {"begin_mask": 7, "end_mask": 7}, "int8"),
    ((1, 5, 6, 3), [0, -1, 5, 2], [1, -6, -7, -4], [1, -1, -2, -1], {}, "int8"),  # negative strides and indices
    ((1, 5, 6, 3), [0, 4, 0, 0], [1, 0, 6, 3], [1, -2, 3, 2], {"end_mask": 2}, "int8"),
    ((1, 8, 8, 4), [0, 1, 0, 0], [1, 8, 8, 4], [1, 2, 2, 1], {}, "int8"),  # stride-2 subsampling
    ((4, 6), [1, -2], [3, 0], [1, 1], {"shrink_axis_mask": 2, "end_mask": 0}, "int8"),  # shrink a column
    ((3, 4, 5), [-1, 0, 2], [0, 4, 3], [1, 1, 1], {"shrink_axis_mask": 5, "end_mask": 2}, "int8"),
    ((3, 4, 5), [0, 9, -99], [3, -99, 99], [1, -1, 1], {}, "int8"),  # clamped out-of-range bounds
    ((2, 9), [0, 1], [2, 8], [1, 3], {"begin_mask": 1}, "int16"),
    ((1, 4, 4, 6), [0, 3, 0, 5], [1, 0, 4, 0], [1, -1, 1, -2], {"end_mask": 2}, "int16"),
    ((5,), [4], [0], [-1], {"end_mask": 1}, "int8"),  # full reversal
    ((2, 3, 4), [0, 1, 1], [2, 3, 3], [1, 1, 1], {"ellipsis_mask": 1}, "int8"),  # ellipsis = one whole axis
]


def _strided_shape(shape, begin, end, strides, o):
    from edgekit.codegen.aot.ops.slicing import _axis_range

    out = []
    for d, size in enumerate(shape):
        bm, em, sh = ((o.get(k, 0) >> d) & 1 for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
        _, count = _axis_range(size, begin[d], end[d], strides[d], bool(bm), bool(em), bool(sh))
        if not sh:
            out.append(count)
    return tuple(out)


def test_strided_slice_and_slice(objs: Path, tmp_path: Path) -> None:
    ops = []
    for shape, begin, end, strides, o, dtype in STRIDED_CASES:
        out = _strided_shape(shape, begin, end, strides, o)
        ops.append(("STRIDED_SLICE", [q(shape, dtype, -7), ints(begin), ints(end), ints(strides)],
                    [q(out, dtype, -7)], o))
    for shape, begin, size, dtype, idt in [((3, 4, 5), [1, 0, 2], [2, -1, 3], "int8", "int32"),
                                           ((2, 3, 4, 5, 2), [1, 1, 0, 2, 0], [1, 2, 4, -1, 1], "int8", "int32"),
                                           ((6,), [2], [3], "int16", "int64"),
                                           ((1, 7, 7, 4), [0, 1, 1, 0], [-1, 5, 5, -1], "int16", "int32")]:
        out = tuple(shape[d] - begin[d] if size[d] == -1 else size[d] for d in range(len(shape)))
        ops.append(("SLICE", [q(shape, dtype), ints(begin, idt), ints(size, idt)], [q(out, dtype)], {}))
    model = multi_op_model(ops)
    _check(model, tmp_path, objs)


def test_split_split_v_unpack_pack(objs: Path, tmp_path: Path) -> None:
    ops = []
    for dtype, shape, axis, n in [("int8", (1, 4, 4, 8), 3, 2), ("int8", (6, 3), 0, 3), ("int8", (2, 6, 5), -2, 3),
                                  ("int16", (2, 4, 6), -1, 2), ("int8", (4,), 0, 4)]:
        part = list(shape)
        part[axis] //= n
        ops.append(("SPLIT", [ints([axis]), q(shape, dtype, 5)], [q(part, dtype, 5) for _ in range(n)],
                    {"num_splits": n}))
    for dtype, shape, axis, sizes in [("int8", (1, 3, 3, 10), 3, [2, 5, 3]), ("int8", (7, 2), 0, [4, -1]),
                                      ("int16", (2, 9), -1, [1, 1, 7])]:
        real = [s if s >= 0 else shape[axis] - sum(x for x in sizes if x >= 0) for s in sizes]
        outs = []
        for s in real:
            part = list(shape)
            part[axis] = s
            outs.append(q(part, dtype))
        ops.append(("SPLIT_V", [q(shape, dtype), ints(sizes), ints([axis])], outs, {"num_splits": len(sizes)}))
    for dtype, shape, axis in [("int8", (3, 4, 5), 0), ("int8", (3, 4, 5), 1), ("int16", (2, 3, 4), -1),
                               ("int8", (2, 5), -1)]:
        rest = [d for k, d in enumerate(shape) if k != axis % len(shape)]
        n = shape[axis]
        ops.append(("UNPACK", [q(shape, dtype, -3)], [q(rest, dtype, -3) for _ in range(n)], {"num": n, "axis": axis}))
    for dtype, shape, axis, n in [("int8", (3, 4), 0, 3), ("int8", (3, 4), -1, 2), ("int16", (2, 3, 4), 1, 4),
                                  ("int8", (5,), 1, 3)]:
        out = list(shape)
        out.insert(axis % (len(shape) + 1), n)
        ops.append(("PACK", [q(shape, dtype) for _ in range(n)], [q(out, dtype)], {"values_count": n, "axis": axis}))
    model = multi_op_model(ops)
    assert _ops_of(model) == {"SPLIT", "SPLIT_V", "UNPACK", "PACK"}
    _check(model, tmp_path, objs)


def test_split_outputs_in_the_memory_plan(objs: Path, tmp_path: Path) -> None:
    """A SPLIT of an intermediate tensor writes output 0 over its input; UNPACK's unused outputs still get
    their own memory; values match TFLM."""
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    x, y = q((1, 6, 6, 8), zp=-2), q((1, 6, 6, 8), zp=-128, scale=0.03)
    halves = [q((1, 6, 6, 4), zp=-128, scale=0.03) for _ in range(2)]
    a, b = q((1, 6, 6, 4), zp=-128, scale=0.03), q((1, 6, 6, 4), zp=-128, scale=0.03)
    cat = q((1, 6, 6, 8), zp=-128, scale=0.03)
    rows = [q((6, 8), zp=-128, scale=0.03) for _ in range(6)]
    reshaped = q((6, 6, 8), zp=-128, scale=0.03)
    model = multi_op_model([
        ("RELU", [x], [y], {}),
        ("SPLIT", [ints([3]), y], halves, {"num_splits": 2}),
        ("REVERSE_V2", [halves[0], ints([2])], [a], {}),
        ("TRANSPOSE", [halves[1], ints([0, 2, 1, 3])], [b], {}),
        ("CONCATENATION", [b, a], [cat], {"axis": 3}),
        ("RESHAPE", [cat, ints([6, 6, 8])], [reshaped], {}),
        ("UNPACK", [reshaped], rows, {"num": 6, "axis": 0}),
    ])
    sg = load_model(model).main
    plan = generate_c(model, tmp_path / "gen").plan
    split = next(op for op in sg.operators if op.opcode == "SPLIT")
    assert plan.aliases.get(split.outputs[0]) == split.inputs[1], plan.aliases
    assert plan.tensor_offsets[split.outputs[1]] != plan.tensor_offsets[split.outputs[0]]
    unpack = next(op for op in sg.operators if op.opcode == "UNPACK")
    assert len({plan.tensor_offsets[t] for t in unpack.outputs}) == 6  # six live graph outputs, six places
    assert "shares the input's memory" in (tmp_path / "gen" / "ek_model.c").read_text()
    _check(model, tmp_path / "host", objs)


def test_gather_and_gather_nd(objs: Path, tmp_path: Path) -> None:
    from edgekit.tflite_model import load_model

    rng = np.random.default_rng(5)
    ops, limits = [], []  # limits: exclusive bound for each int32 model input, in model-input order
    for shape, idx_shape, axis, bd, const in [((5, 4), (3,), 0, 0, True), ((3, 6, 2), (2, 4), 1, 0, True),
                                              ((2, 3, 7), (5,), -1, 0, False), ((2, 5, 3), (2, 4), 1, 1, False),
                                              ((4, 3, 2), (2, 2, 2), 0, 0, True)]:
        a = axis % len(shape)
        out = shape[:a] + idx_shape[bd:] + shape[a + 1:]
        idx = ints(rng.integers(0, shape[a], size=idx_shape)) if const else T(idx_shape, "int32")
        if not const:
            limits.append(shape[a])
        ops.append(("GATHER", [q(shape, zp=11), idx], [q(out, zp=11)], {"axis": axis, "batch_dims": bd}))
    table = T((10, 4), "int8", scale=0.1, zero_point=0, data=rng.integers(-128, 128, size=(10, 4)).astype(np.int8))
    ops.append(("GATHER", [table, T((3,), "int32")], [q((3, 4), scale=0.1)], {"axis": 0}))  # embedding lookup
    limits.append(10)
    for shape, idx in [((4, 5), [[1, 2], [3, 4], [0, 0]]), ((3, 4, 2), [[2], [0]]),
                       ((2, 3, 4), [[[1, 2, 3]], [[0, 1, 0]]])]:
        idx = np.asarray(idx)
        out = tuple(idx.shape[:-1]) + tuple(shape[idx.shape[-1]:])
        ops.append(("GATHER_ND", [q(shape, zp=-1), ints(idx)], [q(out, zp=-1)], {}))
    model = multi_op_model(ops)
    sg = load_model(model).main
    sets = []
    for _ in range(3):
        one, k = [], 0
        for t in sg.inputs:
            tensor = sg.tensors[t]
            if tensor.dtype == "int32":
                one.append(rng.integers(0, limits[k], size=tensor.shape).astype(np.int32))
                k += 1
            else:
                one.append(rng.integers(-128, 128, size=tensor.shape).astype(np.int8))
        sets.append(one)
    assert _ops_of(model) == {"GATHER", "GATHER_ND"}
    _check(model, tmp_path, objs, inputs=sets)


def test_gather_index_out_of_range_fails_the_invoke(objs: Path, tmp_path: Path) -> None:
    from edgekit.codegen.aot.host import build_host, run_host
    from edgekit.errors import NativeCrash

    model = single_op_model("GATHER", [q((4, 3)), T((2,), "int32")], [q((2, 3))], axis=0)
    exe = build_host(model, tmp_path, obj_cache=objs)
    ok = run_host(exe, [np.zeros((4, 3), np.int8) + 1, np.array([3, 0], np.int32)])
    assert ok[0].tolist() == [[1, 1, 1], [1, 1, 1]]
    with pytest.raises(NativeCrash, match="returned 1000"):
        run_host(exe, [np.zeros((4, 3), np.int8), np.array([0, 4], np.int32)])


def test_space_batch_and_mirror_pad(objs: Path, tmp_path: Path) -> None:
    ops = []
    for ishape, block, crops in [((4, 2, 3, 5), [2, 2], [[0, 0], [0, 0]]), ((8, 3, 3, 2), [2, 2], [[1, 0], [0, 2]]),
                                 ((6, 2, 2, 3), [3, 2], [[2, 1], [1, 1]]), ((4, 5, 3), [2], [[1, 2]])]:
        nb = ishape[0] // int(np.prod(block))
        oshape = [nb, ishape[1] * block[0] - sum(crops[0])]
        if len(ishape) == 4:
            oshape.append(ishape[2] * block[1] - sum(crops[1]))
        oshape.append(ishape[-1])
        ops.append(("BATCH_TO_SPACE_ND", [q(ishape, zp=4), ints(block), ints(crops)], [q(oshape, zp=4)], {}))
    for ishape, block, pads, zp in [((1, 4, 4, 3), [2, 2], [[0, 0], [0, 0]], 17),
                                    ((2, 3, 5, 2), [2, 3], [[1, 0], [0, 1]], 0), ((1, 5, 2), [3], [[2, 2]], 0)]:
        oshape = [ishape[0] * int(np.prod(block)), (ishape[1] + sum(pads[0])) // block[0]]
        if len(ishape) == 4:
            oshape.append((ishape[2] + sum(pads[1])) // block[1])
        oshape.append(ishape[-1])
        ops.append(("SPACE_TO_BATCH_ND", [q(ishape, zp=zp), ints(block), ints(pads)], [q(oshape, zp=zp)], {}))
    for shape, pads, mode, idt in [((1, 5, 6, 3), [[0, 0], [2, 1], [1, 3], [0, 0]], "REFLECT", "int32"),
                                   ((1, 5, 6, 3), [[0, 0], [3, 5], [6, 0], [1, 2]], "SYMMETRIC", "int32"),
                                   ((7,), [[6, 6]], "REFLECT", "int64"),
                                   ((2, 3), [[2, 2], [3, 3]], "SYMMETRIC", "int32"),
                                   ((2, 2, 3, 2, 3), [[1, 1], [0, 1], [2, 0], [1, 0], [2, 2]], "REFLECT", "int32")]:
        out = [s + a + b for s, (a, b) in zip(shape, pads, strict=True)]
        ops.append(("MIRROR_PAD", [q(shape, zp=-9), ints(pads, idt)], [q(out, zp=-9)], {"mode": mode}))
    model = multi_op_model(ops)
    assert _ops_of(model) == {"BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "MIRROR_PAD"}
    _check(model, tmp_path, objs)


def test_resize_nearest_and_bilinear(objs: Path, tmp_path: Path) -> None:
    ops = []
    sizes = [((1, 4, 5, 3), (8, 10)), ((2, 7, 3, 2), (3, 8)), ((1, 3, 3, 4), (7, 5)), ((1, 6, 6, 1), (6, 6)),
             ((1, 1, 4, 2), (3, 1)), ((1, 5, 9, 2), (13, 4))]
    for align, half in [(False, False), (True, False), (False, True)]:
        for (n, h, w, c), (oh, ow) in sizes:
            for dtype in ("int8", "int16"):
                ops.append(("RESIZE_NEAREST_NEIGHBOR", [q((n, h, w, c), dtype, 6), ints([oh, ow])],
                            [q((n, oh, ow, c), dtype, 6)], {"align_corners": align, "half_pixel_centers": half}))
            ops.append(("RESIZE_BILINEAR", [q((n, h, w, c), "int8", -20), ints([oh, ow])],
                        [q((n, oh, ow, c), "int8", -20)], {"align_corners": align, "half_pixel_centers": half}))
    model = multi_op_model(ops)
    _check(model, tmp_path, objs, sets=4)


def test_fill_and_zeros_like(objs: Path, tmp_path: Path) -> None:
    ops = [("FILL", [ints([2, 3, 4]), T((), "int8", scale=0.1, zero_point=3)], [q((2, 3, 4), zp=3, scale=0.1)], {}),
           ("FILL", [ints([5]), T((), "int8", scale=0.1, data=np.array(-77, np.int8))], [q((5,), scale=0.1)], {}),
           ("FILL", [ints([3, 7], "int64"), T((), "int32", data=np.array(123456, np.int32))], [T((3, 7), "int32")], {}),
           ("ZEROS_LIKE", [q((3, 5), zp=-50)], [q((3, 5), zp=-50)], {}),
           ("ZEROS_LIKE", [T((4, 2), "int32")], [T((4, 2), "int32")], {})]
    model = multi_op_model(ops)
    assert _ops_of(model) == {"FILL", "ZEROS_LIKE"}
    _check(model, tmp_path, objs)


# ---------------------------------------------------------------------------------------- refusals ---

def _ss(shape, begin, end, strides, out, **o) -> bytes:
    return single_op_model("STRIDED_SLICE", [q(shape), ints(begin), ints(end), ints(strides)], [q(out)], **o)


# (model, words the error must contain, does TFLM fail on the model too?)
REFUSED = {
    "ellipsis": (lambda: _ss((2, 3, 4), [0, 1, 1], [0, 3, 3], [1, 1, 1], (2, 2, 2), ellipsis_mask=1),
                 "ellipsis_mask=1", True),
    "new_axis": (lambda: _ss((2, 3, 4), [0, 1, 0], [0, 3, 4], [1, 1, 1], (1, 2, 2, 4), new_axis_mask=1),
                 "new_axis_mask=1", True),
    "offset": (lambda: _ss((2, 3, 4), [0, 1, 0], [2, 1, 4], [1, 1, 1], (2, 1, 4), offset=True), "offset=True", True),
    "shrink_negative_stride": (lambda: _ss((2, 3, 4), [-1, 0, 0], [0, 3, 4], [-1, 1, 1], (3, 4), shrink_axis_mask=1),
                               "shrink_axis_mask on axis 0 with negative stride", False),
    "strided_rank5": (lambda: _ss((1, 2, 2, 2, 2), [0] * 5, [1, 2, 2, 2, 2], [1] * 5, (1, 2, 2, 2, 2)),
                      "rank 5", True),
    "transpose_perm_input": (lambda: single_op_model("TRANSPOSE", [q((2, 3)), T((2,), "int32")], [q((3, 2))]),
                             "perm must be a constant", True),
    "reverse_gap": (lambda: single_op_model("REVERSE_V2", [q((2, 3, 4)), ints([0, 2])], [q((2, 3, 4))]),
                    "not contiguous", True),
    "gather_int16": (lambda: single_op_model("GATHER", [q((4, 3), "int16"), ints([1])], [q((1, 3), "int16")]),
                     "dtype int16", True),
    "mirror_reflect_too_far": (lambda: single_op_model("MIRROR_PAD", [q((3, 4)), ints([[0, 0], [4, 0]])],
                                                       [q((3, 8))], mode="REFLECT"), "out of range for REFLECT", None),
    "bilinear_int16": (lambda: single_op_model("RESIZE_BILINEAR", [q((1, 2, 2, 1), "int16"), ints([4, 4])],
                                               [q((1, 4, 4, 1), "int16")]), "dtype int16", True),
    "bilinear_both_modes": (lambda: single_op_model("RESIZE_BILINEAR", [q((1, 2, 2, 1)), ints([4, 4])],
                                                    [q((1, 4, 4, 1))], align_corners=True, half_pixel_centers=True),
                            "align_corners and half_pixel_centers", True),
    "space_to_batch_zero_point": (lambda: single_op_model("SPACE_TO_BATCH_ND", [q((1, 2, 2, 1), zp=5), ints([2, 2]),
                                                                                 ints([[1, 1], [1, 1]])],
                                                          [q((4, 2, 2, 1), zp=5)]), "output zero point 5", False),
    "depth_to_space_int16": (lambda: single_op_model("DEPTH_TO_SPACE", [q((1, 1, 1, 4), "int16")],
                                                     [q((1, 2, 2, 1), "int16")], block_size=2), "dtype int16", True),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsupported_parameters_are_refused_by_name(case: str) -> None:
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.errors import UnsupportedOpError
    from edgekit.tflm import tflm_run

    build, words, tflm_fails = REFUSED[case]
    model = build()
    with pytest.raises(UnsupportedOpError) as err:
        check_supported(model)
    assert words in str(err.value) and "--runtime tflm" in (err.value.hint or "")
    if tflm_fails:  # the refusal loses nothing: TFLM cannot run the model either
        need_module("tflite_micro")
        from edgekit.errors import EdgekitError
        from edgekit.tflite_model import load_model

        sg = load_model(model).main
        with pytest.raises(EdgekitError, match="TFLM"):
            tflm_run(model, [[np.zeros(sg.tensors[t].shape, sg.tensors[t].dtype) for t in sg.inputs]])


# ------------------------------------------------------------------------------- models: QEMU, Keras ---

def _shuffle_chain() -> bytes:
    """Channel split / shuffle / concat, resizes, slices, pads, gathers and (un)packs in one int8 graph."""
    def t(shape):
        return q(shape, zp=-3)

    x = t((1, 8, 8, 8))
    a, b = t((1, 8, 8, 4)), t((1, 8, 8, 4))
    a2, c = t((1, 8, 8, 4)), t((1, 8, 8, 8))
    c5, s5, s4 = t((1, 8, 8, 2, 4)), t((1, 8, 8, 4, 2)), t((1, 8, 8, 8))
    up, sl, pad, s2d = t((1, 12, 12, 8)), t((1, 6, 12, 4)), t((1, 8, 14, 4)), t((1, 4, 7, 16))
    nn, g, tr = t((1, 9, 5, 16)), t((1, 9, 5, 5)), t((1, 5, 9, 5))
    rows = [t((1, 9, 5)) for _ in range(5)]
    out = t((1, 9, 5, 5))
    return multi_op_model([
        ("SPLIT", [ints([3]), x], [a, b], {"num_splits": 2}),
        ("REVERSE_V2", [a, ints([2])], [a2], {}),
        ("CONCATENATION", [b, a2], [c], {"axis": 3}),
        ("RESHAPE", [c, ints([1, 8, 8, 2, 4])], [c5], {}),
        ("TRANSPOSE", [c5, ints([0, 1, 2, 4, 3])], [s5], {}),
        ("RESHAPE", [s5, ints([1, 8, 8, 8])], [s4], {}),
        ("RESIZE_BILINEAR", [s4, ints([12, 12])], [up], {"half_pixel_centers": True}),
        ("STRIDED_SLICE", [up, ints([0, 1, 0, 0]), ints([1, 12, 12, 8]), ints([1, 2, 1, 2])], [sl], {}),
        ("MIRROR_PAD", [sl, ints([[0, 0], [1, 1], [2, 0], [0, 0]])], [pad], {"mode": "REFLECT"}),
        ("SPACE_TO_DEPTH", [pad], [s2d], {"block_size": 2}),
        ("RESIZE_NEAREST_NEIGHBOR", [s2d, ints([9, 5])], [nn], {"half_pixel_centers": True}),
        ("GATHER", [nn, ints([15, 0, 3, 3, 7])], [g], {"axis": 3}),
        ("TRANSPOSE", [g, ints([0, 3, 1, 2])], [tr], {}),
        ("UNPACK", [tr], rows, {"num": 5, "axis": 1}),
        ("PACK", rows, [out], {"values_count": 5, "axis": 3}),
    ])


def test_shuffle_chain_on_host(objs: Path, tmp_path: Path) -> None:
    _check(_shuffle_chain(), tmp_path, objs, sets=4)


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.slow
def test_shuffle_chain_bit_exact_on_qemu_cortex_m4(tmp_path: Path) -> None:
    """The chain's firmware (default runtime: edgekit AOT) on the emulated Cortex-M4, against TFLM."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = tmp_path / "shuffle_chain.tflite"
    path.write_bytes(_shuffle_chain())
    rng = np.random.default_rng(8)
    xs = np.concatenate([np.full((1, 1, 8, 8, 8), -128, np.int8), np.full((1, 1, 8, 8, 8), 127, np.int8),
                         rng.integers(-128, 128, size=(3, 1, 8, 8, 8)).astype(np.int8)])
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    src = next((tmp_path / "fw").rglob("ek_model.c")).read_text()
    for call in ("ek_strided_copy(", "ek_resize_bilinear_s8(", "ek_resize_nearest(", "ek_mirror_pad(", "ek_gather(",
                 "ek_concat("):
        assert call in src
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]


@pytest.fixture(scope="module")
def model_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("edgekit_aot_models")) if cache is not None else tmp_path_factory.mktemp("models")


def shuffle_upsample_net():
    """Keras 3 everyday layers: conv, channel split + shuffle (keras.ops), Resizing down and up, slicing."""
    import keras

    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    a, b = keras.ops.split(x, 2, axis=-1)
    b = keras.layers.Conv2D(4, 1, activation="relu")(b)
    x = keras.ops.concatenate([a, b], axis=-1)
    x = keras.ops.reshape(x, (1, 16, 16, 2, 4))
    x = keras.ops.transpose(x, (0, 1, 2, 4, 3))
    x = keras.ops.reshape(x, (1, 16, 16, 8))
    x = keras.layers.Resizing(8, 8, interpolation="bilinear")(x)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    x = keras.layers.Resizing(16, 16, interpolation="nearest")(x)
    x = x[:, ::2, 1:, :]
    out = keras.layers.Conv2D(2, 1)(x)
    return keras.Model(inp, out)


@pytest.mark.tf
def test_keras_shuffle_upsample_model_matches_tflm(objs: Path, model_cache: Path, tmp_path: Path) -> None:
    need_module("tensorflow")
    tflite = convert_int8(shuffle_upsample_net, "unit", model_cache)
    ops = _ops_of(tflite)
    assert {"TRANSPOSE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "STRIDED_SLICE"} <= ops, ops
    assert ops & {"SPLIT", "SPLIT_V"}, ops
    _check(tflite, tmp_path, objs, sets=4)


def test_other_element_types(objs: Path, tmp_path: Path) -> None:
    """float32 / int32 / int64 tensors where TFLM's kernel takes them: the same byte moves, other element sizes."""
    from edgekit.tflite_model import load_model

    def f(shape, dtype="float32"):
        return T(tuple(shape), dtype)

    ops = [("TRANSPOSE", [f((2, 3, 4)), ints([2, 0, 1])], [f((4, 2, 3))], {}),
           ("STRIDED_SLICE", [f((4, 6), "int32"), ints([3, 1]), ints([0, 6]), ints([-1, 2])], [f((3, 3), "int32")], {}),
           ("SPLIT", [ints([1]), f((2, 6), "int32")], [f((2, 3), "int32"), f((2, 3), "int32")], {"num_splits": 2}),
           ("PACK", [f((3,), "int64"), f((3,), "int64")], [f((3, 2), "int64")], {"values_count": 2, "axis": 1}),
           ("REVERSE_V2", [f((3, 4), "int32"), ints([1])], [f((3, 4), "int32")], {}),
           ("BROADCAST_TO", [f((1, 3)), ints([4, 3])], [f((4, 3))], {}),
           ("GATHER", [f((5, 3)), ints([4, 0, 4])], [f((3, 3))], {"axis": 0}),
           ("MIRROR_PAD", [f((3, 4)), ints([[1, 2], [3, 0]])], [f((6, 7))], {"mode": "REFLECT"}),
           ("RESIZE_NEAREST_NEIGHBOR", [f((1, 2, 3, 2)), ints([5, 4])], [f((1, 5, 4, 2))], {"align_corners": True}),
           ("SPACE_TO_DEPTH", [f((1, 4, 4, 2))], [f((1, 2, 2, 8))], {"block_size": 2})]
    model = multi_op_model(ops)
    sg = load_model(model).main
    rng = np.random.default_rng(3)
    sets = [[(rng.normal(size=sg.tensors[t].shape) * 100).astype(sg.tensors[t].dtype) for t in sg.inputs]
            for _ in range(2)]
    _check(model, tmp_path, objs, inputs=sets)
