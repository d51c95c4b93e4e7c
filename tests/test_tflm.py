"""edgekit.tflm: the TFLM host interpreter in a subprocess (arena, batched runs, crash containment)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import tflite_edit
from conftest import need_module, shared_model

from edgekit.errors import DataError, EdgekitError, NativeCrash, ToolMissing, UnsupportedOpError, UsageError
from edgekit.tflite_model import load_model

pytestmark = pytest.mark.tflm

ARENA_MODELS = [
    "mlperf_tiny/kws_ds_cnn_int8.tflite", "mlperf_tiny/ic_resnet8_int8.tflite",
    "mlperf_tiny/vww_mobilenet_int8.tflite", "mlperf_tiny/ad_fc_autoencoder_int8.tflite",
    "tflm_examples/hello_world_int8.tflite", "tflm_examples/micro_speech_quantized_int8.tflite",
    "tflm_examples/magic_wand_float.tflite",
]

# An independent reading of what TFLM prints: our own few lines, not edgekit's child process.
_PRINT_TOTAL = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=1 << 24)
for i in range(int(sys.argv[2])):
    d = it.get_input_details(i)
    it.set_input(np.zeros(d['shape'], d['dtype']), i)
it.invoke()
it.print_allocations()
"""


def _printed_total(path, n_inputs: int) -> int:
    res = subprocess.run([sys.executable, "-I", "-c", _PRINT_TOTAL, str(path), str(n_inputs)],
                         capture_output=True, check=True)
    return int(re.search(rb"Arena allocation total (\d+) bytes", res.stderr).group(1))


def _zeros(path) -> list[np.ndarray]:
    sg = load_model(path).main
    return [np.zeros(sg.tensors[i].shape, sg.tensors[i].dtype) for i in sg.inputs]


def _check_arena(path) -> None:
    from edgekit.tflm import tflm_arena_bytes, tflm_arena_usage

    usage = tflm_arena_usage(path, smallest=True)
    assert usage.total == _printed_total(path, len(_zeros(path)))
    assert usage.head + usage.tail == usage.total
    assert tflm_arena_bytes(path) == usage.required
    if usage.required == usage.total:
        assert 0 <= usage.total - usage.smallest <= 16  # alignment slack only
    else:  # the memory planner needs temporary room beyond the final total
        assert usage.required == usage.smallest > usage.total
    _check_runs_exactly_at(path, usage.smallest)


def _check_runs_exactly_at(path, smallest: int) -> None:
    from edgekit.tflm import tflm_run

    sample = _zeros(path)
    assert len(tflm_run(path, [sample], arena_size=smallest)) == 1
    with pytest.raises(UsageError, match="allocate"):
        tflm_run(path, [sample], arena_size=smallest - 1)


@pytest.mark.parametrize("rel", ARENA_MODELS)
def test_arena_matches_tflm_print_and_smallest_size(rel):
    need_module("tflite_micro")
    _check_arena(shared_model(rel))


def test_arena_digits(digits_models):
    need_module("tflite_micro")
    _check_arena(digits_models["int8_tflite"])


def test_run_batch_is_deterministic_and_resets_inputs():
    need_module("tflite_micro")
    from edgekit.tflm import tflm_run

    path = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    sample = np.frombuffer(shared_model("mlperf_tiny/kws_input_sample_int8.bin").read_bytes(), np.int8)
    other = np.full((1, 49, 10, 1), 83, np.int8)  # the input zero point: silence
    out = tflm_run(path, [sample, other, sample.reshape(1, 49, 10, 1), other])
    assert len(out) == 4 and all(len(o) == 1 for o in out)
    assert out[0][0].shape == (1, 12) and out[0][0].dtype == np.int8
    assert np.array_equal(out[0][0], out[2][0]) and np.array_equal(out[1][0], out[3][0])
    assert not np.array_equal(out[0][0], out[1][0])
    again = tflm_run(path, np.stack([sample.reshape(1, 49, 10, 1), other]))
    assert np.array_equal(again[0][0], out[0][0]) and np.array_equal(again[1][0], out[1][0])


def test_run_float_model_and_int_casting():
    need_module("tflite_micro")
    from edgekit.tflm import tflm_run

    path = shared_model("tflm_examples/hello_world_float.tflite")
    xs = np.linspace(0, 6.28, 5, dtype=np.float32).reshape(5, 1)
    ys = np.array([o[0].item() for o in tflm_run(path, xs)])
    assert np.max(np.abs(ys - np.sin(xs[:, 0]))) < 0.2  # the example model approximates sin(x)
    int8 = shared_model("tflm_examples/hello_world_int8.tflite")
    a = tflm_run(int8, [np.array([[5]], np.int64)])  # an integer array whose values fit int8 is accepted
    b = tflm_run(int8, [np.array([[5]], np.int8)])
    assert np.array_equal(a[0][0], b[0][0])


def test_input_validation():
    need_module("tflite_micro")
    from edgekit.tflm import tflm_run

    path = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    with pytest.raises(DataError, match="490 values"):
        tflm_run(path, [np.zeros(10, np.int8)])
    with pytest.raises(DataError, match="float32") as exc:
        tflm_run(path, [np.zeros(490, np.float32)])
    assert "quantize" in (exc.value.hint or "")
    with pytest.raises(DataError):
        tflm_run(path, [np.full(490, 300, np.int32)])  # does not fit int8
    with pytest.raises(DataError, match="2 arrays"):
        tflm_run(path, [[np.zeros(490, np.int8), np.zeros(490, np.int8)]])
    with pytest.raises(UsageError):
        tflm_run(path, [np.zeros(490, np.int8)], arena_size=0)


def test_hostile_model_is_contained_as_native_crash(tmp_path):
    from edgekit.tflm import tflm_arena_bytes, tflm_run

    data = shared_model("mlperf_tiny/ic_resnet8_int8.tflite").read_bytes()
    hostile = tflite_edit.negative_scale(data, op_index=3)  # an ADD input
    load_model(hostile)  # our reader is fine with it: the numbers are just numbers
    with pytest.raises(NativeCrash, match="SIGABRT") as exc:
        tflm_run(hostile, [np.zeros((1, 32, 32, 3), np.int8)])
    assert exc.value.hint
    path = tmp_path / "hostile.tflite"
    path.write_bytes(hostile)
    with pytest.raises(NativeCrash, match=r"SIGABRT .*hostile\.tflite"):
        tflm_arena_bytes(path)


def test_unsupported_op_is_reported():
    from edgekit.tflm import tflm_run

    data = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite").read_bytes()
    bad = tflite_edit.replace_opcode(data, "RESHAPE", "TOPK_V2")
    with pytest.raises(UnsupportedOpError, match="TOPK_V2"):
        tflm_run(bad, [np.zeros(490, np.int8)])


def test_timeout_is_an_edgekit_error():
    need_module("tflite_micro")
    from edgekit.tflm import tflm_run

    path = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    with pytest.raises(EdgekitError, match="timed out"):
        tflm_run(path, [np.zeros(490, np.int8)], timeout=0.001)


def test_tool_missing_names_the_extra(monkeypatch):
    import edgekit.tflm as tflm

    monkeypatch.setattr(tflm.importlib.util, "find_spec", lambda name: None)
    assert not tflm.tflm_available()
    with pytest.raises(ToolMissing) as exc:
        tflm.tflm_arena_bytes(b"whatever")
    assert "pip install 'edgekit[convert]'" in exc.value.hint


@pytest.mark.tf
def test_run_scalar_input_model(tmp_path):
    """A model whose input has shape () runs (np.ascontiguousarray once turned it into shape (1,))."""
    need_module("tflite_micro")
    import tensorflow as tf

    from edgekit.tflm import tflm_run

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
    def f(x):
        return tf.nn.relu(x * 2.0 + 1.0)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.array(v, np.float32)] for v in np.linspace(-3, 3, 20))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    path = tmp_path / "scalar.tflite"
    path.write_bytes(conv.convert())
    model = load_model(path)
    t_in = model.main.tensors[model.main.inputs[0]]
    assert t_in.shape == ()
    outs = tflm_run(path, [np.array(q, np.int8) for q in (-128, -1, 5, 127)])
    (s_in,), (z_in,) = t_in.quantization.scale, t_in.quantization.zero_point
    t_out = model.main.tensors[model.main.outputs[0]]
    (s_out,), (z_out,) = t_out.quantization.scale, t_out.quantization.zero_point
    for q, (y,) in zip((-128, -1, 5, 127), outs, strict=True):
        assert y.shape == ()
        want = max(0.0, (q - z_in) * s_in * 2 + 1)
        assert abs((int(y) - z_out) * s_out - want) <= 2 * s_out


def test_dense_mlp_arena_is_measured_despite_tflm_aborting_just_below_it(tmp_path):
    """A plain Keras Dense(32)->Dense(10) MLP: TFLM aborts (SIGABRT) at arena sizes a few bytes short of enough.

    The measurement must survive those sizes (each probe is contained) and hand back a size that runs,
    with every smaller size failing softly (UsageError) or by abort, never a lost measurement.
    """
    need_module("tensorflow")
    import keras

    from edgekit import convert
    from edgekit.errors import UsageError
    from edgekit.tflm import tflm_arena_usage, tflm_run

    keras.utils.set_random_seed(0)
    dense = {"bias_initializer": "random_normal"}  # non-zero biases, as after training (zero ones are dropped)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu", **dense),
                              keras.layers.Dense(10, activation="softmax", **dense)])
    x = np.random.default_rng(0).normal(size=(64, 16)).astype(np.float32)
    path = tmp_path / "tiny_int8.tflite"
    convert(model, x, output=path, progress=False)
    usage = tflm_arena_usage(path, smallest=True)
    assert usage.total < usage.required == usage.smallest < 1 << 20
    sample = [np.zeros(16, np.int8)]
    assert len(tflm_run(path, sample, arena_size=usage.required)[0]) == 1
    with pytest.raises((UsageError, NativeCrash)):
        tflm_run(path, sample, arena_size=usage.required - 8)
