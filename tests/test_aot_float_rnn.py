"""float32 UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF and BATCH_MATMUL in edgekit's AOT runtime against TFLM's float kernels.

One hand-written model holds the parameter space of the three ops side by side, with EMBEDDING_LOOKUP (float32,
int8, int8 -> float32) and a float resource variable (one ASan/UBSan host build), run over several inferences in a
row so the LSTM / SVDF / variable states carry over: on the host both sides use the same C
library, so every output must equal TFLM's bit for bit. A Keras LSTM classifier (converted by the TF converter, the
fused UNIDIRECTIONAL_SEQUENCE_LSTM TFLM's mnist_lstm example carries) end to end on the emulated Cortex-M4 (FPU)
and an LSTM + SVDF model on the Cortex-M3 (soft-float): within the bound float_common.py derives for them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model

pytestmark = [pytest.mark.tflm]

RNN_FLOAT = frozenset({"UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF", "BATCH_MATMUL"})  # the float handlers tested here


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime kernels compiled once for the module's host builds."""
    return tmp_path_factory.mktemp("ek_objs")


def _f(*shape: int, data: np.ndarray | None = None, variable: bool = False) -> T:
    return T(shape, "float32", data=data, variable=variable)


def _w(rng: np.random.Generator, *shape: int, scale: float) -> T:
    return _f(*shape, data=(rng.standard_normal(shape) * scale).astype(np.float32))


def lstm_f32(rng: np.random.Generator, x: T, n_state: int, *, time_major: bool = False, cell_clip: float = 0.0,
             act: str = "TANH", scale: float = 0.4) -> tuple[tuple, T]:
    """A float UNIDIRECTIONAL_SEQUENCE_LSTM over ``x`` in the converter's 24-input layout; returns (op, output)."""
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_in = x.shape[2]
    hid, cell = _f(batches, n_state, variable=True), _f(batches, n_state, variable=True)
    w_in = [_w(rng, n_state, n_in, scale=scale) for _ in range(4)]  # input, forget, cell, output gates
    w_rec = [_w(rng, n_state, n_state, scale=scale) for _ in range(4)]
    biases = [_w(rng, n_state, scale=0.5) for _ in range(4)]
    out = _f(*((steps, batches, n_state) if time_major else (batches, steps, n_state)))
    inputs = [x, *w_in, *w_rec, None, None, None, *biases, None, None, hid, cell, None, None, None, None]
    return ("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [out], dict(activation=act, cell_clip=cell_clip,
                                                                 time_major=time_major)), out


def svdf_f32(rng: np.random.Generator, x: T, units: int, *, rank: int = 1, memory: int = 4, act: str = "NONE",
             bias: bool = True) -> tuple[tuple, T]:
    """A float SVDF over ``x`` [batches][n_input] with its variable activation state; returns (op, output)."""
    batches, n_in = x.shape
    filters = units * rank
    state = _f(batches, filters * memory, variable=True)
    out = _f(batches, units)
    ins = [x, _w(rng, filters, n_in, scale=0.5), _w(rng, filters, memory, scale=0.5),
           _w(rng, units, scale=0.3) if bias else None, state]
    return ("SVDF", ins, [out], dict(rank=rank, activation=act)), out


def bmm_f32(rng: np.random.Generator, lhs: tuple[int, ...], rhs: tuple[int, ...], out: tuple[int, ...], *,
            adj_x: bool = False, adj_y: bool = False, const_rhs: bool = False) -> tuple:
    r = _w(rng, *rhs, scale=1.0) if const_rhs else _f(*rhs)
    return ("BATCH_MATMUL", [_f(*lhs), r], [_f(*out)], dict(adj_x=adj_x, adj_y=adj_y))


def rnn_ops(rng: np.random.Generator) -> list:
    """The parameter space: each op its own inputs and output (one model, one host build)."""
    ops = [lstm_f32(rng, _f(1, 5, 7), 6)[0],
           lstm_f32(rng, _f(3, 4, 9), 5, cell_clip=0.8)[0],                       # several batches, cell clip
           lstm_f32(rng, _f(4, 2, 6), 4, time_major=True, cell_clip=2.0)[0],       # time-major, all batches a step
           lstm_f32(rng, _f(1, 3, 4), 3, scale=6.0)[0]]                            # saturated gates (cutoffs)
    first, y = lstm_f32(rng, _f(1, 6, 8), 8, cell_clip=3.0)
    ops += [first, lstm_f32(rng, y, 3)[0]]                                         # stacked
    for act in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH", "SIGN_BIT"):
        ops.append(svdf_f32(rng, _f(2, 6), 4, rank=2 if act in ("RELU", "TANH") else 1,
                            memory=3 if act == "NONE" else 5, act=act)[0])
    ops.append(svdf_f32(rng, _f(1, 10), 5, rank=3, memory=1)[0])                  # memory 1
    ops += [bmm_f32(rng, (3, 4), (4, 5), (3, 5)),
            bmm_f32(rng, (2, 3, 4), (2, 4, 5), (2, 3, 5)),
            bmm_f32(rng, (2, 4, 3), (2, 4, 5), (2, 3, 5), adj_x=True),
            bmm_f32(rng, (2, 3, 4), (2, 5, 4), (2, 3, 5), adj_y=True),
            bmm_f32(rng, (1, 4, 3), (2, 5, 4), (2, 3, 5), adj_x=True, adj_y=True),   # lhs batch broadcast
            bmm_f32(rng, (2, 1, 3, 4), (1, 3, 4, 2), (2, 3, 3, 2)),                 # both broadcast
            bmm_f32(rng, (2, 3, 6), (6, 4), (2, 3, 4), const_rhs=True),             # constant rhs, lower rank
            bmm_f32(rng, (1, 2, 2, 3, 4), (1, 2, 1, 5, 4), (1, 2, 2, 3, 5), adj_y=True, const_rhs=True)]
    return ops


def state_ops(rng: np.random.Generator) -> tuple[list, list]:
    """EMBEDDING_LOOKUP (float32, int8, int8 -> float32) by run-time ids, and a float resource variable that
    accumulates its input (CALL_ONCE init subgraph): (main ops, init subgraph)."""
    ids = T((4,), "int32")
    table = _w(rng, 7, 3, 2, scale=1.0)
    q = T((6, 5), "int8", scale=0.037, data=rng.integers(-128, 128, (6, 5)).astype(np.int8))
    ops = [("EMBEDDING_LOOKUP", [ids, table], [_f(4, 3, 2)], {}),
           ("EMBEDDING_LOOKUP", [ids, q], [_f(4, 5)], {}),
           ("EMBEDDING_LOOKUP", [ids, q], [T((4, 5), "int8", scale=0.037)], {})]
    x, acc, total = _f(1, 8), _f(1, 8), T((1, 8), "float32", graph_output=True)
    r = [T((), "resource") for _ in range(2)]
    ops += [("CALL_ONCE", [], [], dict(init_subgraph_index=1)),
            ("VAR_HANDLE", [], [r[0]], dict(shared_name="acc")), ("READ_VARIABLE", [r[0]], [acc], {}),
            ("ADD", [x, acc], [total], {}), ("VAR_HANDLE", [], [r[1]], dict(shared_name="acc")),
            ("ASSIGN_VARIABLE", [r[1], total], [], {})]
    handle = T((), "resource")
    init = [("VAR_HANDLE", [], [handle], dict(shared_name="acc")),
            ("ASSIGN_VARIABLE", [handle, _w(rng, 1, 8, scale=1.0)], [], {})]
    return ops, init


def rnn_model() -> bytes:
    rng = np.random.default_rng(2126)
    ops, init = state_ops(rng)
    return multi_op_model(rnn_ops(rng) + ops, [init])


def float_sets(model: bytes, n: int, seed: int, scale: float = 1.5) -> list[list[np.ndarray]]:
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    rng = np.random.default_rng(seed)
    return [[(rng.standard_normal(sg.tensors[i].shape) * scale).astype(np.float32)
             if sg.tensors[i].dtype == "float32" else rng.integers(0, 6, sg.tensors[i].shape).astype(np.int32)
             for i in sg.inputs] for _ in range(n)]


def test_float_rnn_ops_bit_exact_with_tflm_over_consecutive_inferences(tmp_path: Path, objs: Path) -> None:
    """Host (ASan/UBSan) vs the TFLM host interpreter, same C library: every output byte for byte, four inferences
    in a row (the states carry over; the last input repeats the first and must give other LSTM / SVDF outputs)."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    model = rnn_model()
    parsed = load_model(model)
    sets = float_sets(model, 3, 7)
    sets.append(sets[0])
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), sets)
    ref = tflm_run(parsed, sets)
    sg = parsed.main
    producer = {t: op for op in sg.operators for t in op.outputs}
    bad = [f"set {k} output {j} ({producer[sg.outputs[j]].opcode})"
           for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True))
           for j, (a, b) in enumerate(zip(mine, theirs, strict=True))
           if a.tobytes() != np.asarray(b, a.dtype).tobytes()]
    assert bad == [], bad
    for j, t in enumerate(sg.outputs):
        values = np.concatenate([s[j].reshape(-1) for s in ours])
        assert np.unique(values).size >= 2 and not np.isnan(values).any(), j
        op = producer[t]
        memory_1 = op.opcode == "SVDF" and sg.tensors[op.inputs[2]].shape[1] == 1  # keeps only the current input
        if op.opcode in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF") and not memory_1:  # the carried state shows
            assert ours[0][j].tobytes() != ours[3][j].tobytes(), (j, op.opcode)


def test_every_float_rnn_handler_is_exercised() -> None:
    from edgekit.codegen.aot.ops.dispatch import FLOAT_REGISTRY
    from edgekit.codegen.aot.ops.float_rnn import FloatBatchMatMul, FloatLstm, FloatSvdf
    from edgekit.tflite_model import load_model

    tested = {op.opcode for op in load_model(rnn_model()).main.operators}
    mine = {op for cls in (FloatLstm, FloatSvdf, FloatBatchMatMul) for op in cls.opcodes}
    assert mine == RNN_FLOAT and mine <= tested and mine <= set(FLOAT_REGISTRY) and "EMBEDDING_LOOKUP" in tested


def test_float_lstm_variants_tflm_rejects_are_refused() -> None:
    """Peephole / CIFG / int8 weights under float activations / a RELU cell gate: refused with the reason."""
    from edgekit.codegen.aot.generate import check_supported
    from edgekit.errors import UnsupportedOpError
    from edgekit.tflite_model import load_model

    rng = np.random.default_rng(3)
    op, _ = lstm_f32(rng, _f(1, 3, 4), 2)
    peephole = list(op[1])
    peephole[9] = _w(rng, 2, scale=0.1)
    cifg = list(op[1])
    cifg[1], cifg[5] = None, None
    hybrid = list(op[1])
    hybrid[2] = T((2, 4), "int8", scale=0.1, data=np.ones((2, 4), np.int8))
    cases = [(peephole, {}, "peephole"), (cifg, {}, "CIFG"), (hybrid, {}, "dtype int8"),
             (list(op[1]), {"activation": "RELU"}, "activation RELU")]
    for ins, opts, why in cases:
        m = multi_op_model([(op[0], ins, op[2], {**op[3], **opts})])
        with pytest.raises(UnsupportedOpError, match=why):
            check_supported(load_model(m))


KERAS_SHAPE = (1, 12, 6)  # batch, steps, features


def keras_lstm_tflite(cache: Path) -> bytes:
    """A Keras LSTM sequence classifier (LSTM(16, return_sequences) -> Flatten -> Dense(5) -> Softmax, fixed-seed
    weights) as the fused UNIDIRECTIONAL_SEQUENCE_LSTM model TFLM's mnist_lstm example carries. TF 2.21 converts a
    Keras 3 LSTM into a WHILE loop (NOTES.md), so the Keras weights are written into the converter's 24-input layout
    here (gates i, f, c, o split from Keras' kernels, transposed); cached on disk with the Keras outputs."""
    import hashlib
    import inspect

    key = hashlib.sha256(inspect.getsource(keras_lstm_tflite).encode()).hexdigest()[:16]
    path = cache / f"keras_lstm_{key}.tflite"
    if path.exists():
        return path.read_bytes()
    import keras

    keras.utils.set_random_seed(21)
    model = keras.Sequential([keras.Input(KERAS_SHAPE[1:], batch_size=1), keras.layers.LSTM(16, return_sequences=True),
                              keras.layers.Flatten(), keras.layers.Dense(5), keras.layers.Softmax()])
    kernel, recurrent, bias = (np.asarray(w, np.float32) for w in model.layers[0].get_weights())
    dense_w, dense_b = (np.asarray(w, np.float32) for w in model.layers[2].get_weights())
    n = recurrent.shape[0]
    gates = [slice(k * n, (k + 1) * n) for k in range(4)]  # Keras: input, forget, cell, output
    x = _f(*KERAS_SHAPE)
    seq = _f(1, KERAS_SHAPE[1], n)
    lstm_in = [x, *(_f(n, KERAS_SHAPE[2], data=np.ascontiguousarray(kernel[:, g].T)) for g in gates),
               *(_f(n, n, data=np.ascontiguousarray(recurrent[:, g].T)) for g in gates), None, None, None,
               *(_f(n, data=bias[g].copy()) for g in gates), None, None, _f(1, n, variable=True),
               _f(1, n, variable=True), None, None, None, None]
    flat, logits = _f(1, KERAS_SHAPE[1] * n), _f(1, 5)
    data = multi_op_model([
        ("UNIDIRECTIONAL_SEQUENCE_LSTM", lstm_in, [seq], dict(activation="TANH", time_major=False)),
        ("RESHAPE", [seq, T((2,), "int32", data=np.array([1, KERAS_SHAPE[1] * n], np.int32))], [flat], {}),
        ("FULLY_CONNECTED", [flat, _f(5, flat.shape[1], data=np.ascontiguousarray(dense_w.T)),
                             _f(5, data=dense_b)], [logits], {}),
        ("SOFTMAX", [logits], [_f(1, 5)], {"beta": 1.0})])
    xs = keras_inputs()
    np.save(cache / f"keras_lstm_{key}.npy", np.asarray(model.predict(xs.reshape(-1, *KERAS_SHAPE[1:]), verbose=0)))
    path.write_bytes(data)
    return data


def keras_inputs() -> np.ndarray:
    return np.random.default_rng(12).standard_normal((4, *KERAS_SHAPE)).astype(np.float32)


@pytest.fixture(scope="module")
def keras_lstm(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, np.ndarray]:
    """(the Keras LSTM model's .tflite, Keras' own outputs for keras_inputs())."""
    need_module("keras")
    cache = tmp_path_factory.mktemp("keras_lstm")
    data = keras_lstm_tflite(cache)
    return data, np.load(next(cache.glob("keras_lstm_*.npy")))


def test_keras_lstm_model_bit_exact_with_tflm_on_host(keras_lstm: tuple[bytes, np.ndarray], tmp_path: Path,
                                                       objs: Path) -> None:
    """The fused op computes Keras' LSTM (TFLM within float noise of keras.predict from a zero state) and edgekit's
    host build equals TFLM bit for bit over four inferences in a row."""
    need_module("tflite_micro")
    need_tool("gcc")
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    data, keras_out = keras_lstm
    parsed = load_model(data)
    xs = keras_inputs()
    ref = tflm_run(parsed, [[x] for x in xs])  # one interpreter: the LSTM state carries over, as on the device
    fresh = tflm_run(parsed, [[xs[1]]])[0][0]  # Keras starts every sequence from a zero state
    np.testing.assert_allclose(np.stack([ref[0][0], fresh]).reshape(2, -1), keras_out[:2], atol=1e-5)
    assert not np.allclose(ref[1][0], fresh, atol=1e-5)  # the carried state matters
    ours = run_host_sets(build_host(parsed, tmp_path, obj_cache=objs), [[x] for x in xs])
    assert [o[0].tobytes() for o in ours] == [np.asarray(r[0]).tobytes() for r in ref]


@pytest.mark.qemu
@pytest.mark.toolchain
def test_keras_lstm_model_on_qemu_cortex_m4(keras_lstm: tuple[bytes, np.ndarray], tmp_path: Path) -> None:
    """End to end on the emulated Cortex-M4F: same classes as TFLM, outputs within float_common.py's reported
    envelope for an LSTM (newlib's expf / tanhf against glibc's, fed back through the recurrence)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    path = tmp_path / "keras_lstm.tflite"
    path.write_bytes(keras_lstm[0])
    xs = keras_inputs()
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.top1_agree == len(xs) and res.float_outputs == 1 and res.float_unjudged == 1, res.to_dict()
    assert res.max_rel_diff <= 1e-4, res.to_dict()
    assert list(Path(res.project_dir).rglob("ek_float_rnn.c")), "not built with edgekit's AOT runtime"


@pytest.mark.qemu
@pytest.mark.toolchain
def test_float_lstm_and_svdf_on_soft_float_cortex_m3(tmp_path: Path) -> None:
    """An LSTM, an SVDF and a BATCH_MATMUL on a core without an FPU (IEEE soft-float), three inferences in a row:
    SVDF and BATCH_MATMUL byte for byte, the LSTM within the reported envelope."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    rng = np.random.default_rng(33)
    ops = [lstm_f32(rng, _f(2, 5, 6), 8, cell_clip=1.5)[0], svdf_f32(rng, _f(1, 12), 6, rank=2, act="RELU")[0],
           bmm_f32(rng, (2, 3, 6), (6, 4), (2, 3, 4), const_rhs=True)]
    model = multi_op_model(ops)
    path = tmp_path / "rnn_m3.tflite"
    path.write_bytes(model)
    sets = float_sets(model, 3, 4)
    per_input = [np.stack([s[i] for s in sets]) for i in range(len(sets[0]))]
    res = validate(path, board="qemu-cortex-m3", inputs=per_input, work_dir=tmp_path / "fw")
    sg = load_model(model).main
    lstm_outputs = {sg.outputs.index(sg.operators[0].outputs[0])}
    assert all(m.output in lstm_outputs for m in res.mismatches), res.to_dict()["mismatches"]
    assert res.max_rel_diff <= 1e-4 and res.float_outputs == 3, res.to_dict()


@pytest.mark.toolchain
@pytest.mark.parametrize("flags", [["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
                                   ["-mcpu=cortex-m3", "-mfloat-abi=soft"],
                                   ["-mcpu=cortex-m55", "-mfloat-abi=hard"]])
def test_float_rnn_kernels_compile_for_cortex_m_without_warnings(flags: list[str], tmp_path: Path) -> None:
    """ISO C (edgekit's CMake) and GNU C (the SDK build systems' default, where GCC may fuse a * b + c): warning
    free, and on the FPU cores no fused multiply-add in the object code (TFLM rounds product and sum apart)."""
    import shutil
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    src = REPO / "firmware_templates" / "runtime" / "edgekit" / "ek_float_rnn.c"
    for std in ("-std=c99", "-std=gnu11"):
        obj = tmp_path / "k.o"
        res = subprocess.run([gcc, std, *flags, "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion",
                              "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        assert res.returncode == 0, f"{std} {flags}: {res.stderr}"
        objdump = shutil.which("arm-none-eabi-objdump")
        assert objdump, "arm-none-eabi-objdump comes with arm-none-eabi-gcc"
        text = subprocess.run([objdump, "-d", str(obj)], check=True, capture_output=True, text=True).stdout
        assert not [ln for ln in text.splitlines() if "vfma" in ln or "vfms" in ln or "vfnm" in ln], (std, flags)
        if "-mfloat-abi=hard" in flags:
            assert "vmul.f32" in text  # the check looks at FPU code
