"""edgekit's AOT runtime in float32 (issue 21) against TFLM's float reference kernels (the host interpreter).

Every float op side by side in one hand-written model (one ASan/UBSan host build): bit-exact where the kernel is
+ - * / sqrt in TFLM's order, within the derived ulp bound where it calls the C library (float_common.py). The same
model on the emulated Cortex-M4 (FPU, -mfloat-abi=hard) and Cortex-M3 (soft-float); TFLM's float examples
(hello_world, magic_wand) end to end; a mixed float/int8 model; float16 weights refused with a reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool, shared_model
from tflite_single_op import T, multi_op_model

pytestmark = [pytest.mark.tflm]

RNG = np.random.default_rng(21)


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime kernels compiled once for the module's host builds."""
    return tmp_path_factory.mktemp("ek_objs")


def _w(*shape: int, scale: float = 0.5) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _f(*shape: int, data: np.ndarray | None = None) -> T:
    return T(shape, "float32", data=data)


UNARY = ("ABS", "NEG", "EXP", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "LOGISTIC", "TANH", "RELU", "RELU6",
         "ELU", "HARD_SWISH", "LEAKY_RELU")
POSITIVE = ("LOG", "SQRT", "RSQRT")
BINARY = ("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")


def float_ops_model() -> bytes:
    """Every float32 op edgekit runs, each a graph output (inputs: x, y, b, u, p, d)."""
    return multi_op_model(float_ops())


def float_ops() -> list:
    """The operators of float_ops_model."""
    x, y, b = _f(1, 6, 6, 3), _f(1, 6, 6, 3), _f(1, 1, 6, 3)
    u, p, d = _f(2, 50), _f(2, 50), _f(1, 6, 6, 3)  # u: any value; p: positive; d: divisors away from 0
    for t, role in ((x, "x"), (y, "y"), (b, "b"), (u, "u"), (p, "p"), (d, "d")):
        t.role = role  # float_inputs reads it back through float_input_roles
    ops = [
        ("CONV_2D", [x, _f(4, 3, 3, 3, data=_w(4, 3, 3, 3)), _f(4, data=_w(4))], [_f(1, 6, 6, 4)],
         {"activation": "RELU"}),
        ("CONV_2D", [x, _f(5, 2, 2, 3, data=_w(5, 2, 2, 3)), None], [_f(1, 3, 3, 5)],
         {"padding": "VALID", "strides": (2, 2)}),
        ("CONV_2D", [x, _f(6, 3, 3, 1, data=_w(6, 3, 3, 1)), _f(6, data=_w(6))], [_f(1, 6, 6, 6)],
         {"dilation": (2, 2)}),  # 3 groups of one input channel, dilated
        ("DEPTHWISE_CONV_2D", [x, _f(1, 3, 3, 6, data=_w(1, 3, 3, 6)), _f(6, data=_w(6))], [_f(1, 3, 3, 6)],
         {"strides": (2, 2), "depth_multiplier": 2, "activation": "RELU6"}),
        ("DEPTHWISE_CONV_2D", [x, _f(1, 2, 2, 3, data=_w(1, 2, 2, 3)), _f(3, data=_w(3))], [_f(1, 4, 4, 3)],
         {"padding": "VALID", "dilation": (2, 2)}),  # (TFLM's float kernel crashes without a bias)
        ("FULLY_CONNECTED", [u, _f(7, 50, data=_w(7, 50, scale=0.2)), _f(7, data=_w(7))], [_f(2, 7)], {}),
        ("FULLY_CONNECTED", [x, _f(5, 108, data=_w(5, 108, scale=0.1)), None], [_f(1, 5)],
         {"activation": "RELU_N1_TO_1"}),
        ("AVERAGE_POOL_2D", [x], [_f(1, 3, 3, 3)], {"filter": (3, 3), "strides": (2, 2)}),
        ("MAX_POOL_2D", [x], [_f(1, 3, 3, 3)], {"filter": (2, 2), "strides": (2, 2), "padding": "VALID"}),
        ("L2_POOL_2D", [x], [_f(1, 6, 6, 3)], {"filter": (3, 2)}),
        ("SOFTMAX", [u], [_f(2, 50)], {"beta": 0.7}),
        ("LOG_SOFTMAX", [u], [_f(2, 50)], {}),
        *((op, [x, y], [_f(1, 6, 6, 3)], {"activation": "RELU6"} if op == "ADD" else {}) for op in BINARY),
        *((op, [x, b], [_f(1, 6, 6, 3)], {}) for op in BINARY),  # broadcast
        ("MUL", [x, _f(3, data=_w(3))], [_f(1, 6, 6, 3)], {"activation": "RELU"}),
        ("MAXIMUM", [x, _f(3, data=np.array([-np.inf, 0.5, np.inf], np.float32))], [_f(1, 6, 6, 3)], {}),  # inf consts
        ("DIV", [x, d], [_f(1, 6, 6, 3)], {}),
        ("FLOOR_DIV", [x, d], [_f(1, 6, 6, 3)], {}),
        ("FLOOR_MOD", [x, d], [_f(1, 6, 6, 3)], {}),
        ("PRELU", [x, _f(1, 1, 3, data=_w(1, 1, 3))], [_f(1, 6, 6, 3)], {}),
        *((op, [u], [_f(2, 50)], {"alpha": 0.3} if op == "LEAKY_RELU" else {}) for op in UNARY),
        *((op, [p], [_f(2, 50)], {}) for op in POSITIVE),
        ("ADD_N", [x, y, d], [_f(1, 6, 6, 3)], {}),
        ("MEAN", [x, T((2,), "int32", data=np.array([1, 2], np.int32))], [_f(1, 1, 1, 3)], {"keep_dims": True}),
        ("MEAN", [x, T((2,), "int32", data=np.array([3, 1], np.int32))], [_f(1, 6)], {}),
        ("SUM", [x, T((1,), "int32", data=np.array([-1], np.int32))], [_f(1, 6, 6)], {}),
        ("REDUCE_MAX", [x, T((1,), "int32", data=np.array([1], np.int32))], [_f(1, 6, 3)], {}),
        ("REDUCE_MIN", [x, T((2,), "int32", data=np.array([0, 2], np.int32))], [_f(6, 3)], {}),
        # dtype-generic handlers in float32
        ("PAD", [x, T((4, 2), "int32", data=np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32))],
         [_f(1, 9, 7, 3)], {}),
        ("CONCATENATION", [x, y], [_f(1, 6, 6, 6)], {"axis": 3}),
    ]
    return ops


def float_input_roles() -> list[str]:
    """The roles of float_ops_model's inputs, in the model's input order (multi_op_model: first use)."""
    roles: list[str] = []
    for _, ins, _, _ in float_ops():
        for t in ins:
            role = getattr(t, "role", None)
            if role is not None and role not in roles:
                roles.append(role)
    return roles


def float_inputs(model: bytes, n: int, seed: int) -> list[list[np.ndarray]]:
    """Input sets for float_ops_model: normal values (some sets on a grid of halves, for ROUND / FLOOR), positive
    ``p``, divisors ``d`` with |d| >= 0.25, large magnitudes in the last set."""
    from edgekit.tflite_model import load_model

    rng = np.random.default_rng(seed)
    sg = load_model(model).main
    sets = []
    for k in range(n):
        one = []
        for name, t in zip(float_input_roles(), (sg.tensors[i] for i in sg.inputs), strict=True):
            a = rng.standard_normal(t.shape) * (3.0 if k % 2 else 1.0)
            if k == 2:
                a = np.round(a * 2) / 2  # exact halves: ROUND's ties
            if k == n - 1:
                a = a * 40.0
            if name == "p":
                a = np.abs(a) + 1e-3
            if name == "d":
                a = np.where(a < 0, a - 0.25, a + 0.25)
            one.append(a.astype(np.float32))
        sets.append(one)
    return sets


def float_mismatches(model: bytes, ours: list[list[np.ndarray]], ref: list[list[np.ndarray]]) -> list[str]:
    """Outputs outside the documented agreement: bytes for the exact ops, the ulp bound for the libm ops."""
    from edgekit.codegen.aot.ops.float_common import tolerance
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    producer = {t: op for op in sg.operators for t in op.outputs}
    problems = []
    for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            op = producer[sg.outputs[j]]
            b = np.asarray(b).reshape(a.shape)
            both_nan = np.isnan(a) & np.isnan(b)
            if a.dtype != b.dtype:
                problems.append(f"set {k} op {op.index} {op.opcode}: dtype {a.dtype} != {b.dtype}")
                continue
            tol = tolerance(op.opcode, b)
            if np.any(tol):
                with np.errstate(invalid="ignore"):  # inf - inf
                    bad = ~both_nan & ~(np.abs(a.astype(np.float64) - b.astype(np.float64)) <= tol) & (a != b)
            else:
                bad = ~both_nan & (a.view(np.uint32) != b.view(np.uint32))
            if bad.any():
                problems.append(f"set {k} op {op.index} {op.opcode}: {int(bad.sum())} of {a.size} outside the bound")
    return problems


def test_float_ops_match_tflm_reference(tmp_path: Path, objs: Path) -> None:
    """One host build (ASan/UBSan) of every float op; each output is not constant over the sets."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    model = float_ops_model()
    sets = float_inputs(model, 5, 1)
    parsed = load_model(model)
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    assert float_mismatches(model, ours, ref) == []
    exact = sum(a.tobytes() == np.asarray(b).tobytes() for mine, theirs in zip(ours, ref, strict=True)
                for a, b in zip(mine, theirs, strict=True))
    assert exact >= 0.9 * sum(len(s) for s in ours), exact  # the ulp bound is the exception, not the rule
    for j in range(len(ours[0])):
        values = np.concatenate([s[j].reshape(-1) for s in ours])
        assert np.unique(values).size >= 2 and not np.isnan(values).any(), j


def test_every_float_handler_is_in_the_test_model() -> None:
    from test_aot_float_ops import NEW_FLOAT  # comparisons, SELECT_V2, TRANSPOSE_CONV, ...: tested there
    from test_aot_float_rnn import RNN_FLOAT  # LSTM, SVDF, BATCH_MATMUL: tested there

    from edgekit.codegen.aot.ops.dispatch import FLOAT_REGISTRY
    from edgekit.tflite_model import load_model

    tested = {op.opcode for op in load_model(float_ops_model()).main.operators}
    expected = set(FLOAT_REGISTRY) - {"DEQUANTIZE"} - NEW_FLOAT - RNN_FLOAT
    assert expected == tested - {"PAD", "CONCATENATION"}, expected ^ tested


def test_integer_ops_keep_their_handlers_and_float_only_ops_refuse_int8() -> None:
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.codegen.aot.ops import REGISTRY
    from edgekit.codegen.aot.ops.dispatch import DtypeDispatch
    from edgekit.errors import UnsupportedOpError
    from edgekit.tflite_model import load_model

    assert isinstance(REGISTRY["CONV_2D"], DtypeDispatch) and REGISTRY["CONV_2D"].default is not None
    assert hasattr(REGISTRY["CONV_2D"], "kernel_call")  # fusion's integer helper still reachable
    m = multi_op_model([("EXP", [T((4,), "int8", 0.1, 0)], [T((4,), "int8", 0.1, 0)], {})])
    with pytest.raises(UnsupportedOpError, match="supported: float32"):
        check_supported(load_model(m))


def test_float16_weights_are_folded_into_float32_constants(tmp_path: Path, objs: Path) -> None:
    """A float16 constant DEQUANTIZEd to float32 (the converter's float16 mode) is folded into a float32 constant.
    TFLM itself refuses a float16 DEQUANTIZE, so the reference is the float32 model with the widened weights; a
    float16 activation is refused with the reason."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.codegen.aot.host import build_host, host_meta, run_host_sets
    from edgekit.errors import UnsupportedOpError
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    w16 = _w(4, 12).astype(np.float16)
    wf = _f(4, 12)
    model = multi_op_model([("DEQUANTIZE", [T((4, 12), "float16", data=w16)], [wf], {}),
                            ("FULLY_CONNECTED", [_f(3, 12), wf, None], [_f(3, 4)], {})])
    parsed = load_model(model)
    sets = [[np.random.default_rng(k).standard_normal((3, 12)).astype(np.float32)] for k in range(3)]
    exe = build_host(parsed, tmp_path, obj_cache=objs)
    assert host_meta(exe)["arena_bytes"] == (3 * 12 + 3 * 4) * 4  # the weights are not in the arena
    ours = run_host_sets(exe, sets)
    widened = multi_op_model([("FULLY_CONNECTED", [_f(3, 12), _f(4, 12, data=w16.astype(np.float32)), None],
                               [_f(3, 4)], {})])
    ref = tflm_run(widened, sets)
    assert [o[0].tobytes() for o in ours] == [np.asarray(r[0]).tobytes() for r in ref]
    act16 = multi_op_model([("DEQUANTIZE", [T((4,), "float16")], [_f(4)], {})])
    with pytest.raises(UnsupportedOpError, match="float16 activations are not supported"):
        check_supported(load_model(act16))


def test_mixed_float_int8_model_matches_tflm(tmp_path: Path, objs: Path) -> None:
    """float input -> QUANTIZE -> int8 FULLY_CONNECTED -> DEQUANTIZE -> float SOFTMAX and TANH."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    xq, h, hf = T((1, 16), "int8", 0.05, 3), T((1, 6), "int8", 0.1, -2), _f(1, 6)
    w = T((6, 16), "int8", 0.01, 0, data=RNG.integers(-127, 128, (6, 16)).astype(np.int8))
    bias = T((6,), "int32", 0.0005, 0, data=RNG.integers(-2000, 2000, 6).astype(np.int32))
    model = multi_op_model([("QUANTIZE", [_f(1, 16)], [xq], {}), ("FULLY_CONNECTED", [xq, w, bias], [h], {}),
                            ("DEQUANTIZE", [h], [hf], {}), ("SOFTMAX", [hf], [_f(1, 6)], {}),
                            ("TANH", [hf], [_f(1, 6)], {})])
    parsed = load_model(model)
    sets = [[np.random.default_rng(k).standard_normal((1, 16)).astype(np.float32) * 3] for k in range(4)]
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    assert float_mismatches(model, ours, ref) == []


@pytest.mark.parametrize("name", ["hello_world_float", "magic_wand_float"])
def test_tflm_float_examples_bit_exact_on_host(name: str, tmp_path: Path, objs: Path) -> None:
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    parsed = load_model(shared_model(f"tflm_examples/{name}.tflite"))
    shape = parsed.main.tensors[parsed.main.inputs[0]].shape
    rng = np.random.default_rng(5)
    sets = [[(rng.standard_normal(shape) * s).astype(np.float32)] for s in (0.5, 1.0, 2.0, 4.0)]
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    assert [o[0].tobytes() for o in ours] == [np.asarray(r[0]).tobytes() for r in ref]


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.parametrize("board", ["qemu-cortex-m4", "qemu-cortex-m3"])
def test_float_ops_on_qemu_fpu_and_soft_float(board: str, tmp_path: Path) -> None:
    """The float op model on the emulated Cortex-M4 (FPU) and Cortex-M3 (soft-float); its weights and the
    arena fit both boards."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = tmp_path / "float_ops.tflite"
    model = float_ops_model()
    path.write_bytes(model)
    sets = float_inputs(model, 3, 2)
    per_input = [np.stack([s[i] for s in sets]) for i in range(len(sets[0]))]
    res = validate(path, board=board, inputs=per_input, work_dir=tmp_path / "fw")
    assert res.within_bound == len(sets), res.to_dict()["mismatches"]
    assert res.float_outputs == len(float_ops_model_outputs(model)) and res.ok
    assert list(Path(res.project_dir).rglob("ek_float_nn.c")), "not built with edgekit's AOT runtime"


def float_ops_model_outputs(model: bytes) -> list[int]:
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    return [t for t in sg.outputs if sg.tensors[t].dtype == "float32"]


@pytest.mark.qemu
@pytest.mark.toolchain
def test_magic_wand_float_on_qemu_cortex_m4(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = shared_model("tflm_examples/magic_wand_float.tflite")
    xs = np.random.default_rng(3).standard_normal((4, 1, 128, 3, 1)).astype(np.float32)
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()
    assert res.ok and res.max_rel_diff == 0.0


@pytest.mark.toolchain
@pytest.mark.parametrize("flags", [["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
                                   ["-mcpu=cortex-m3", "-mfloat-abi=soft"],
                                   ["-mcpu=cortex-m55", "-mfloat-abi=hard"]])
def test_float_kernels_compile_for_cortex_m_without_warnings(flags: list[str], tmp_path: Path) -> None:
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    runtime = REPO / "firmware_templates" / "runtime" / "edgekit"
    for name in ("ek_float", "ek_float_nn", "ek_float_ops"):
        res = subprocess.run([gcc, "-std=c99", *flags, "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror",
                              "-Wdouble-promotion", "-c", str(runtime / f"{name}.c"), "-o", str(tmp_path / "k.o")],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{flags} {name}: {res.stderr}"


def test_payoff_inputs_hold_the_same_values_for_float32_and_int8() -> None:
    """matched_inputs: the int8 sample is what bench would quantize the data to, and the float32 sample is exactly
    those int8 values dequantized with the int8 model's input scale and zero point."""
    from edgekit.payoff import matched_inputs
    from edgekit.samples import load_device_inputs
    from edgekit.tflite_model import load_model

    fl, q = (shared_model(f"tflm_examples/hello_world_{k}.tflite") for k in ("float", "int8"))
    base = [np.array([[[5.3]]], np.float32)]
    m = matched_inputs(fl, q, base)
    t = load_model(q).main.tensors[load_model(q).main.inputs[0]]
    scale, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
    assert m.int8[0].dtype == np.int8 and m.float32[0].dtype == np.float32
    bench_q = load_device_inputs(base, load_model(q), limit=1).samples[0][0]
    assert np.array_equal(m.int8[0].reshape(-1), bench_q.reshape(-1))  # the quantization bench itself applies
    assert np.array_equal(m.float32[0], ((m.int8[0].astype(np.float64) - zp) * scale).astype(np.float32))
    assert m.float32[0].item() != 5.3 and abs(m.float32[0].item() - 5.3) <= scale / 2 + 1e-7
    assert f"scale {scale:.6g}, zero point {zp}" in m.note


@pytest.mark.qemu
@pytest.mark.toolchain
def test_quantization_payoff_float_vs_int8_on_qemu(tmp_path: Path) -> None:
    """TFLM's hello_world float32 and int8 models built and benchmarked side by side (edgekit.payoff); the float
    firmware then validated against TFLM."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    from edgekit.payoff import measure_payoff

    fl, q = (shared_model(f"tflm_examples/hello_world_{k}.tflite") for k in ("float", "int8"))
    payoff = measure_payoff(fl, q, board="qemu-cortex-m4", work_dir=tmp_path, runs=1, cycles=False)
    rows = {r.key: r for r in payoff.comparison.rows}
    # same plan, 4-byte elements: the float arena holds 4x the int8 one's activations (16-byte aligned slots)
    assert rows["arena_used_bytes"].a >= 3 * rows["arena_used_bytes"].b, rows["arena_used_bytes"]
    assert rows["count"].a > 0 and rows["count"].b > 0 and rows["count"].ratio is not None
    assert rows["estimated_cycles"].a is None  # cycles=False: no instruction-mix run
    assert rows["energy_uj"].ratio is not None and rows["flash_bytes"].ratio is not None
    float_fw = tmp_path / "payoff_float32"
    assert list(float_fw.rglob("ek_float_nn.c")) and payoff.to_dict()["rows"][0]["ratio"] is not None
    # both ran on the same values: the int8 upload is the sample quantized, the float one those values dequantized
    assert not any(n.startswith("different inputs") for n in payoff.comparison.notes), payoff.comparison.notes
    assert any(n.startswith("same input values on both") and "zero point" in n for n in payoff.comparison.notes)
    from edgekit.payoff import MatchedInputs, matched_inputs

    m = matched_inputs(fl, q)
    assert payoff.results["float32"]["input"]["sha256"] == MatchedInputs.sha256(m.float32)
    assert payoff.results["int8"]["input"]["sha256"] == MatchedInputs.sha256(m.int8)
    need_module("tflite_micro")  # the float firmware built for the payoff, validated: hello_world float end to end
    from edgekit.validation import validate

    xs = np.linspace(-1.0, 7.0, 6, dtype=np.float32).reshape(6, 1, 1)
    res = validate(fl, board="qemu-cortex-m4", inputs=xs, project_dir=float_fw)
    assert res.byte_exact == len(xs) and res.ok, res.to_dict()


@pytest.mark.qemu
@pytest.mark.toolchain
def test_float_digits_cnn_on_qemu(digits_models: dict, tmp_path: Path) -> None:
    """The float32 digits CNN (the converter's float model) on the emulated Cortex-M4 within its bound, top-1 as
    TFLM's on real digits."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    xs = digits_models["x_test"][:6].astype(np.float32)
    res = validate(digits_models["float_tflite"], board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.ok and res.top1_agree == len(xs), res.to_dict()
    assert res.float_outputs == 1


def test_compare_rows_carry_ratio_and_estimated_cycles() -> None:
    from edgekit.compare import compare_results

    a = {"timing": {"basis": "instructions", "count": {"median": 900}}, "cycles": {"estimated_cycles": 1200},
         "memory": {"flash_bytes": 4000, "arena_used_bytes": 0}}
    b = {"timing": {"basis": "instructions", "count": {"median": 300}}, "cycles": {"estimated_cycles": 400},
         "memory": {"flash_bytes": 1000, "arena_used_bytes": 0}}
    c = compare_results(a, b, name_a="float32", name_b="int8")
    assert c.row("count").ratio == 3.0 and c.row("estimated_cycles").ratio == 3.0
    assert c.row("flash_bytes").ratio == 4.0 and c.row("arena_used_bytes").ratio is None  # b == 0
    assert c.row("energy_uj").ratio is None and c.to_dict()["rows"][1]["ratio"] == 3.0


def test_float_output_bounds_follow_the_producing_op() -> None:
    """Exact ops: 0; a C-library op at the output: its ulp bound; one upstream: not judged (None)."""
    from edgekit.codegen.aot.ops.float_common import output_bound
    from edgekit.tflite_model import load_model

    x, h, e = _f(1, 8), _f(1, 8), _f(1, 8)
    sg = load_model(multi_op_model([("ADD", [x, x], [h], {}), ("EXP", [h], [e], {}),
                                    ("SOFTMAX", [e], [_f(1, 8)], {}), ("RELU", [h], [_f(1, 8)], {})])).main
    producer = {op.opcode: op.outputs[0] for op in sg.operators}
    ref = np.array([1.0, 2.0], np.float32)
    assert output_bound(sg, producer["RELU"])(ref).tolist() == [0.0, 0.0]
    assert output_bound(sg, producer["SOFTMAX"]) is None
    bound = output_bound(sg, producer["EXP"])(ref)
    assert bound.tolist() == [4 * float(np.spacing(np.float32(1.0))), 4 * float(np.spacing(np.float32(2.0)))]
