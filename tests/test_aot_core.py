"""AOT framework pieces without TensorFlow: fixed-point helpers (C vs Python), quantize_multiplier,
window padding, the static memory planner."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.codegen.aot import RUNTIME_DIR, generate_c
from edgekit.codegen.aot.geometry import compute_padding
from edgekit.codegen.aot.plan import ALIGN, PlanOp, plan_memory
from edgekit.codegen.aot.quant import activation_range, mbqm, quantize_multiplier, rdbpot, srdhm


@pytest.mark.parametrize("real", [0.5, 1.0, 0.75, 1e-3, 3.7e-7, 2.5, 1 - 2**-40, 0.123456789, 1e-12])
def test_quantize_multiplier_reconstructs_the_value(real: float) -> None:
    mult, shift = quantize_multiplier(real)
    if real < 2**-32:
        assert (mult, shift) == (0, 0)  # flushed to zero like TFLite
        return
    assert 2**30 <= mult < 2**31
    assert math.isclose(mult * 2.0**shift / 2**31, real, rel_tol=2**-30)


def test_quantize_multiplier_rounds_up_to_the_next_power() -> None:
    # q * 2^31 rounds to 2^31: TFLite halves it and bumps the shift
    assert quantize_multiplier(1 - 2**-40) == (2**30, 1)
    assert quantize_multiplier(0.0) == (0, 0)


def test_activation_range_uses_float32_and_round_half_away() -> None:
    assert activation_range("NONE", 0.1, 3) == (-128, 127)
    assert activation_range("RELU", 0.1, -5) == (-5, 127)
    assert activation_range("RELU6", 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert activation_range("RELU6", 0.5, 120) == (120, 127)  # clamped to int8
    assert activation_range("RELU_N1_TO_1", 0.25, 0) == (-4, 4)
    assert activation_range("RELU6", 12.0, 0) == (0, 1)  # 0.5 rounds away from zero
    with pytest.raises(ValueError):
        activation_range("TANH", 0.1, 0)


@pytest.mark.parametrize("padding,in_size,k,stride,dil,expected", [
    ("SAME", 11, 3, 1, 1, (1, 0, 11)),
    ("SAME", 11, 2, 2, 1, (0, 1, 6)),
    ("SAME", 13, 5, 3, 1, (2, 0, 5)),
    ("SAME", 9, 3, 1, 2, (2, 0, 9)),
    ("VALID", 11, 3, 1, 1, (0, 0, 9)),
    ("VALID", 13, 3, 2, 3, (0, 0, 4)),
    ("SAME", 1, 3, 2, 1, (1, 0, 1)),
])
def test_compute_padding_matches_tflite(padding: str, in_size: int, k: int, stride: int, dil: int,
                                        expected: tuple[int, int, int]) -> None:
    p = compute_padding(padding, in_size, k, stride, dil)
    assert (p.before, p.offset, p.out_size) == expected


def test_compute_padding_rejects_empty_outputs() -> None:
    with pytest.raises(ValueError):
        compute_padding("VALID", 3, 5, 1)
    with pytest.raises(ValueError):
        compute_padding("FULL", 3, 1, 1)


def test_python_fixed_point_edge_cases() -> None:
    assert srdhm(np.array([-(2**31)]), -(2**31))[0] == 2**31 - 1
    assert rdbpot(np.array([5, -5, 6, -6, 7]), 1).tolist() == [3, -3, 3, -3, 4]  # ties away from zero
    assert mbqm(np.array([100]), 2**30, 0)[0] == 50


_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "ek_common.h"
int main(void) {
    long x, m, s;
    while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {
        printf("%ld %ld %ld\n", (long)ek_mbqm((int32_t)x, (int32_t)m, (int)s),
               (long)ek_srdhm((int32_t)x, (int32_t)m), (long)ek_rdbpot((int32_t)x, (int)(s < 0 ? -s : s)));
    }
    return 0;
}
"""


@pytest.mark.parametrize("single", [False, True])
def test_c_fixed_point_matches_python(single: bool, tmp_path: Path) -> None:
    gcc = need_tool("gcc")
    src = tmp_path / "fx.c"
    src.write_text(_HARNESS)
    exe = tmp_path / "fx"
    subprocess.run([gcc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", f"-DEK_SINGLE_ROUNDING={int(single)}", "-I", str(RUNTIME_DIR),
                    str(src), "-o", str(exe)], check=True)
    rng = np.random.default_rng(4)
    n = 4000
    x = np.concatenate([rng.integers(-(2**31), 2**31, n // 2), rng.integers(-70000, 70000, n // 2),
                        [-(2**31), 2**31 - 1, 0, -1, 1]])
    m = np.concatenate([rng.integers(2**30, 2**31, x.size - 3), [2**31 - 1, 2**30, -(2**31)]])
    s = rng.integers(-31, 1, x.size)
    s[: x.size // 8] = rng.integers(0, 4, x.size // 8)  # a few left shifts (on small x, as TFLM uses them)
    x[: x.size // 8] = rng.integers(-2000, 2000, x.size // 8)
    lines = "\n".join(f"{a} {b} {c}" for a, b, c in zip(x, m, s, strict=True))
    out = subprocess.run([str(exe)], input=lines, capture_output=True, text=True, check=True).stdout.split()
    got = np.array(out, dtype=np.int64).reshape(-1, 3)
    want_mbqm = np.array([mbqm(np.array([a]), int(b), int(c), single_rounding=single)[0]
                          for a, b, c in zip(x, m, s, strict=True)])
    ok = (m >= 0) if single else np.ones_like(m, dtype=bool)  # single rounding requires a positive multiplier
    assert np.array_equal(got[ok, 0], want_mbqm[ok])
    want_srdhm = [int(srdhm(np.array([a]), int(b))[0]) for a, b in zip(x, m, strict=True)]
    assert np.array_equal(got[:, 1], want_srdhm)
    assert np.array_equal(got[:, 2], [int(rdbpot(np.array([a]), abs(int(c)))[0]) for a, c in zip(x, s, strict=True)])


def _check_plan(ops: list[PlanOp], sizes: dict[int, int], ins: list[int], outs: list[int]):
    plan = plan_memory(ops, sizes, ins, outs)
    bufs = plan.buffers
    for b in bufs:
        assert b.offset % ALIGN == 0
        assert b.offset + b.size <= plan.arena_bytes
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    return plan


def test_plan_reuses_memory_along_a_chain() -> None:
    # 0 -> op0 -> 1 -> op1 -> 2 -> op2 -> 3 : at most two tensors live at a time
    ops = [PlanOp([0], [1]), PlanOp([1], [2]), PlanOp([2], [3])]
    sizes = {0: 100, 1: 200, 2: 100, 3: 200}
    plan = _check_plan(ops, sizes, [0], [3])
    assert plan.arena_bytes == 112 + 208


def test_plan_aliases_in_place_ops_and_places_scratch() -> None:
    ops = [PlanOp([0], [1], scratch_bytes=40), PlanOp([1], [2], inplace=True), PlanOp([2], [3])]
    sizes = {0: 64, 1: 64, 2: 64, 3: 32}
    plan = _check_plan(ops, sizes, [0], [3])
    assert plan.aliases == {2: 1}
    assert plan.tensor_offsets[2] == plan.tensor_offsets[1]
    assert 0 in plan.scratch_offsets and plan.scratch_sizes[0] == 40
    assert plan.arena_bytes == 64 + 64 + 48


def test_plan_does_not_alias_a_tensor_still_needed() -> None:
    # tensor 1 feeds op1 (in place) and op2: op1 must not overwrite it; model outputs are never overwritten
    ops = [PlanOp([0], [1]), PlanOp([1], [2], inplace=True), PlanOp([1, 2], [3]), PlanOp([3], [4], inplace=True)]
    sizes = {0: 16, 1: 16, 2: 16, 3: 16, 4: 16}
    plan = _check_plan(ops, sizes, [0], [3, 4])
    assert plan.aliases == {}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 3), st.booleans(), st.integers(0, 50)),
                min_size=1, max_size=14))
def test_plan_never_overlaps_live_buffers(spec: list[tuple[int, int, bool, int]]) -> None:
    # random DAG: op i writes tensor i+1 and reads tensor i plus one earlier tensor
    ops, sizes = [], {0: 50}
    for i, (size, back, inplace, scratch) in enumerate(spec):
        extra = max(0, i - back)
        ins = [i] if extra == i else [i, extra]
        ops.append(PlanOp(ins, [i + 1], scratch_bytes=scratch, inplace=inplace and size <= sizes[i]))
        sizes[i + 1] = size
    plan = _check_plan(ops, sizes, [0], [len(spec)])
    lower = max(sum(-(-b.size // ALIGN) * ALIGN for b in plan.buffers if b.first <= t <= b.last)
                for t in range(-1, len(spec) + 1))
    assert lower <= plan.arena_bytes <= sum(-(-b.size // ALIGN) * ALIGN for b in plan.buffers)


def test_zero_points_outside_their_dtype_are_refused(tmp_path: Path) -> None:
    """A (fuzzed) zero point that does not fit the tensor's dtype is a clear ModelError, not C that fails to
    compile (the generated code keeps zero points in int32 fields)."""
    need_module("tflite_micro")
    from tflite_single_op import T, single_op_model

    from edgekit.errors import ModelError

    w = np.ones((2, 4), dtype=np.int8)
    model = single_op_model("FULLY_CONNECTED", [T((1, 4), scale=0.1, zero_point=2 ** 40), T((2, 4), scale=[0.1] * 2,
                                                                                           data=w)],
                            [T((1, 2), scale=0.2)])
    with pytest.raises(ModelError, match=r"zero point outside -128\.\.127"):
        generate_c(model, tmp_path / "gen")


def test_nan_scale_is_a_model_error_in_generate_and_inspect(tmp_path: Path) -> None:
    """Found by the tflite fuzz target: a NaN tensor scale made quantize_multiplier raise a bare ValueError through
    inspect's per-op support check; it is a ModelError (QuantizationError) now, and inspect reports the op as
    refused."""
    need_module("tflite_micro")
    from tflite_single_op import T, single_op_model

    from edgekit.errors import ModelError
    from edgekit.inspection import inspect

    w = np.ones((3, 1, 1, 2), dtype=np.int8)  # a per-channel filter scale is NaN (the fuzzer's input: a conv)
    model = single_op_model("CONV_2D", [T((1, 4, 4, 2), scale=0.1), T((3, 1, 1, 2), scale=[0.1, float("nan"), 0.1],
                                                                       data=w)],
                            [T((1, 4, 4, 3), scale=0.2)])
    with pytest.raises(ModelError, match=r"nan|NaN"):
        generate_c(model, tmp_path / "gen")
    ops = {o.opcode: o for o in inspect(model, arena=False).ops}
    assert ops["CONV_2D"].edgekit and "nan" in ops["CONV_2D"].edgekit.lower()
