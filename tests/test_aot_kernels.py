"""edgekit AOT kernels vs the TFLM host interpreter: byte-identical outputs.

Each model in ``aot_zoo`` exercises one op family through many branches (kernel sizes, strides,
paddings, dilations, depth multipliers, odd shapes, fused activations); each is converted to full
int8 under several calibration regimes (tiny / huge / one-sided value ranges give extreme scales and
zero points). The generated C runs on the host with ASan+UBSan; every output byte must equal TFLM's.
Conversions are cached in pytest's cache directory, runtime objects per session.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from aot_util import REGIMES, aot_vs_tflm, convert_int8, opcodes, random_inputs
from aot_zoo import ZOO, double_rounding_probe
from conftest import need_module, need_tool

pytestmark = [pytest.mark.tf, pytest.mark.tflm]

EXPECTED_OPS = {
    "conv": {"CONV_2D"},
    "depthwise": {"DEPTHWISE_CONV_2D"},
    "dense": {"FULLY_CONNECTED"},
    "pool": {"AVERAGE_POOL_2D", "MAX_POOL_2D"},
    "shape": {"PAD", "PADV2", "CONCATENATION", "RESHAPE", "RELU", "RELU6"},
}


@pytest.fixture(scope="session")
def aot_dirs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Directories for converted models (persistent pytest cache when available) and runtime objects."""
    need_module("tensorflow")
    need_module("tflite_micro")
    need_tool("gcc")
    cache = getattr(request.config, "cache", None)
    models = Path(cache.mkdir("edgekit_aot_models")) if cache is not None else tmp_path_factory.mktemp("models")
    return {"models": models, "objs": tmp_path_factory.mktemp("ek_objs")}


def _check(tflite: bytes, work: Path, objs: Path, sets: int = 3, seed: int = 0) -> None:
    problems = aot_vs_tflm(tflite, work, sets=sets, seed=seed, obj_cache=objs)
    assert problems == [], "AOT output differs from TFLM:\n" + "\n".join(problems)


@pytest.mark.parametrize("regime", sorted(REGIMES))
@pytest.mark.parametrize("family", sorted(ZOO))
def test_family_matches_tflm(family: str, regime: str, aot_dirs: dict[str, Path], tmp_path: Path) -> None:
    tflite = convert_int8(ZOO[family], regime, aot_dirs["models"])
    ops = set(opcodes(tflite))
    assert EXPECTED_OPS[family] <= ops, f"the converter did not emit {EXPECTED_OPS[family] - ops}"
    _check(tflite, tmp_path, aot_dirs["objs"], seed=zlib.crc32(f"{family}/{regime}".encode()) % 1000)


def test_zoo_covers_the_parameters(aot_dirs: dict[str, Path]) -> None:
    """The converted zoo really contains the parameter combinations the kernel tests claim to cover."""
    from edgekit.tflite_model import load_model

    seen: set[tuple] = set()
    for family in ("conv", "depthwise", "dense", "pool"):
        m = load_model(convert_int8(ZOO[family], "unit", aot_dirs["models"]))
        sg = m.main
        for op in sg.operators:
            o = op.options
            seen.add((op.opcode, "padding", o.get("padding")))
            seen.add((op.opcode, "stride>1", max(o.get("stride_h", 1), o.get("stride_w", 1)) > 1))
            seen.add((op.opcode, "dilation>1", max(o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)) > 1))
            seen.add((op.opcode, "act", o.get("fused_activation_function")))
            if op.opcode == "DEPTHWISE_CONV_2D":
                seen.add((op.opcode, "multiplier", o.get("depth_multiplier")))
            if op.opcode == "CONV_2D":
                in_c, k_c = sg.tensors[op.inputs[0]].shape[3], sg.tensors[op.inputs[1]].shape[3]
                seen.add((op.opcode, "grouped", k_c != in_c))
            if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                seen.add((op.opcode, "bias", len(op.inputs) > 2 and op.inputs[2] >= 0))
            if op.opcode == "FULLY_CONNECTED":
                seen.add((op.opcode, "keep_num_dims", o.get("keep_num_dims")))
    for conv in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        for item in [("padding", "SAME"), ("padding", "VALID"), ("stride>1", True), ("dilation>1", True),
                     ("act", "NONE"), ("act", "RELU"), ("act", "RELU6"), ("bias", True)]:
            assert (conv, *item) in seen, (conv, item)
    assert ("CONV_2D", "grouped", True) in seen
    assert ("FULLY_CONNECTED", "bias", False) in seen  # the converter always gives convolutions a bias
    assert {("DEPTHWISE_CONV_2D", "multiplier", k) for k in (1, 2, 3, 8)} <= seen
    for item in [("act", "RELU"), ("act", "RELU6"), ("keep_num_dims", True)]:
        assert ("FULLY_CONNECTED", *item) in seen, item
    for pool in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        assert {(pool, "padding", "SAME"), (pool, "padding", "VALID"), (pool, "stride>1", True)} <= seen


@pytest.mark.parametrize("regime", ["unit", "huge"])
def test_per_tensor_fully_connected(regime: str, aot_dirs: dict[str, Path], tmp_path: Path) -> None:
    from edgekit.tflite_model import load_model

    tflite = convert_int8(ZOO["dense"], regime, aot_dirs["models"], per_tensor_dense=True)
    m = load_model(tflite)
    fcs = [op for op in m.main.operators if op.opcode == "FULLY_CONNECTED"]
    assert fcs and all(len(m.main.tensors[op.inputs[1]].quantization.scale) == 1 for op in fcs)
    _check(tflite, tmp_path, aot_dirs["objs"], seed=7)


def test_tflm_wheel_uses_double_rounding(aot_dirs: dict[str, Path]) -> None:
    """ek_common.h defaults to double rounding because the TFLM wheel does: check that assumption."""
    from edgekit.codegen.aot.quant import conv_multipliers, mbqm
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    m = load_model(convert_int8(double_rounding_probe, "unit", aot_dirs["models"]))
    (op,) = m.main.operators
    inp, filt, bias, out = (m.main.tensors[i] for i in (*op.inputs, op.outputs[0]))
    assert bias.is_const
    w = filt.array().astype(np.int64)
    b = bias.array().astype(np.int64)
    mults, shifts = conv_multipliers(inp.quantization.scale[0], filt.quantization.scale, out.quantization.scale[0],
                                     w.shape[0])
    sets = random_inputs(m, 20, seed=3)
    ref = tflm_run(m, [s[0] for s in sets])
    mism = {False: 0, True: 0}
    for s, r in zip(sets, ref, strict=True):
        acc = w @ (s[0].reshape(-1).astype(np.int64) - inp.quantization.zero_point[0]) + b
        for single in (False, True):
            y = np.array([mbqm(acc[c], mults[c], shifts[c], single_rounding=single) for c in range(len(acc))])
            y = np.clip(y + out.quantization.zero_point[0], -128, 127)
            mism[single] += int((y != np.asarray(r[0]).reshape(-1)).sum())
    assert mism[False] == 0, f"double rounding disagrees with TFLM on {mism[False]} values"
    assert mism[True] > 0, "probe too weak: single rounding also matched"


@pytest.mark.parametrize("in_q,out_q", [((0.5, -100), (0.001, 20)), ((1e-3, 127), (0.25, -128)),
                                        ((0.02, 5), (0.02, 5)), ((3.0, -1), (40.0, 0))])
def test_standalone_relu_extreme_quantization(in_q: tuple, out_q: tuple, aot_dirs: dict[str, Path],
                                              tmp_path: Path) -> None:
    """RELU requantizes and RELU6 clamps; exact scales/zero points chosen beyond what the converter makes."""
    from tflite_single_op import T, multi_op_model

    x = T((1, 4, 5, 3), scale=in_q[0], zero_point=in_q[1])
    y = T((1, 4, 5, 3), scale=out_q[0], zero_point=out_q[1])
    x6 = T((2, 3, 7), scale=in_q[0], zero_point=in_q[1])
    y6 = T((2, 3, 7), scale=in_q[0], zero_point=in_q[1])
    model = multi_op_model([("RELU", [x], [y], {}), ("RELU6", [x6], [y6], {})])
    sets = [[np.arange(-128, 128, 256 / 60).astype(np.int8).reshape(1, 4, 5, 3),
             np.arange(-128, 128, 256 / 42).astype(np.int8).reshape(2, 3, 7)]]
    from edgekit.tflite_model import load_model

    sets += random_inputs(load_model(model), 2, seed=11)
    problems = aot_vs_tflm(model, tmp_path, inputs=sets, obj_cache=aot_dirs["objs"])
    assert problems == []


def test_expand_dims_and_reshape_chain_shares_memory(aot_dirs: dict[str, Path], tmp_path: Path) -> None:
    """EXPAND_DIMS -> RELU -> RESHAPE: shape ops cost nothing (aliased) and the values still match TFLM."""
    from tflite_single_op import T, multi_op_model

    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    x = T((3, 5), scale=0.2, zero_point=-7)
    axis = T((1,), dtype="int32", data=np.array([0], dtype=np.int32))
    y = T((1, 3, 5), scale=0.2, zero_point=-7)
    z = T((1, 3, 5), scale=0.1, zero_point=-128)
    shape = T((2,), dtype="int32", data=np.array([5, 3], dtype=np.int32))
    w = T((5, 3), scale=0.1, zero_point=-128)
    model = multi_op_model([("EXPAND_DIMS", [x, axis], [y], {}), ("RELU", [y], [z], {}),
                            ("RESHAPE", [z, shape], [w], {})])
    plan = generate_c(model, tmp_path / "gen").plan
    sg = load_model(model).main
    assert len({plan.tensor_offsets[t] for t in (sg.inputs[0], sg.outputs[0])}) == 1  # all three ops in place
    assert aot_vs_tflm(model, tmp_path / "host", sets=3, obj_cache=aot_dirs["objs"]) == []
