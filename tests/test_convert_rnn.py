"""Recurrent models, 16x8 activations and the converter child process, with real TensorFlow and real TFLM.

The toy task: 3 gestures as 16-step sequences of 3 features (a rotation at one of three speeds, with
noise and a random phase); an LSTM or GRU learns it in a few epochs.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm

from edgekit.cli import run
from edgekit.tflite_model import load_model

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[1]
STEPS, FEATURES, CLASSES = 16, 3, 3
# Agreement bound of int8 (run by TFLM) with float: the float model is ~100% right on this task, so
# only samples near a decision boundary can flip; int8 noise (output SQNR > 25 dB here) flips at most
# a few of 80; 0.95 allows 4 flips and still fails a model whose recurrence is wrong (chance: 0.33).
MIN_AGREEMENT = 0.95
RECURRENT_OPS = {"UNPACK", "PACK", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "LOGISTIC", "TANH", "SOFTMAX",
                 "RESHAPE", "CONCATENATION", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


def gestures(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences (STEPS, FEATURES) float32 and their class ids."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    t = np.arange(STEPS)[None, :]
    w = np.array([0.25, 0.7, 1.4])[y][:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.stack([np.sin(w * t + phase), np.cos(w * t + phase), 0.3 * rng.normal(size=(n, STEPS))], axis=-1)
    return (x + 0.1 * rng.normal(size=x.shape)).astype(np.float32), y


@pytest.fixture(scope="module")
def data() -> dict:
    from edgekit import _isolate

    _isolate.warm_worker()  # the converter child imports TensorFlow while the models train
    x, y = gestures(400, 0)
    xv, yv = gestures(80, 1)
    return {"x": x, "y": y, "x_val": xv, "y_val": yv}


def _train(kind: str, data: dict, **layer_kw: object):
    import keras

    keras.utils.set_random_seed(0)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), layer(16, **layer_kw),
                              keras.layers.Dense(CLASSES, activation="softmax")], name=f"gesture_{kind}")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(data["x"], data["y"], epochs=8, batch_size=32, verbose=0)
    return model


def _quantize(x: np.ndarray, tflite: bytes) -> np.ndarray:
    sg = load_model(tflite).main
    q = sg.tensors[sg.inputs[0]].quantization
    info = np.iinfo(sg.tensors[sg.inputs[0]].dtype)  # int8 or int16 (16x8)
    return np.clip(np.round(x / q.scale[0] + q.zero_point[0]), info.min, info.max).astype(info.dtype)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_lstm_and_gru_convert_to_int8_that_tflm_runs(data, tmp_path, kind):
    from edgekit.conversion import convert
    from edgekit.tflm import tflm_run

    model = _train(kind, data)
    float_pred = model.predict(data["x_val"], verbose=0).argmax(1)
    assert np.mean(float_pred == data["y_val"]) >= 0.9  # the toy task is learnt, so agreement means something
    out = tmp_path / f"{kind}.tflite"
    activations = "compare" if kind == "gru" else "int8"  # the GRU also as 16x8
    result = convert(model, data["x"][:50], val=data["x_val"], val_labels=data["y_val"], output=out, progress=False,
                     activations=activations)
    report = result.comparison.reports["int8"] if result.comparison else result.report
    if result.comparison:
        out.write_bytes(result.alternatives["int8"])
        r16 = result.comparison.reports["int16"]
        assert r16.output_sqnr_db > report.output_sqnr_db and r16.top1_agreement >= MIN_AGREEMENT
        m16 = result.alternatives["int16"]
        pred16 = np.array([o[0].reshape(-1).argmax() for o in tflm_run(m16, _quantize(data["x_val"], m16))])
        assert np.mean(pred16 == float_pred) >= MIN_AGREEMENT
    assert report.recurrent == [kind.upper()] and not report.stateful and report.isolated
    assert set(report.ops) <= RECURRENT_OPS and report.ops["FULLY_CONNECTED"] >= STEPS
    sg = load_model(out).main
    assert {sg.tensors[o].dtype for op in sg.operators for o in op.outputs} == {"int8"}
    tflm_out = tflm_run(out, _quantize(data["x_val"], out.read_bytes()))
    tflm_pred = np.array([o[0].reshape(-1).argmax() for o in tflm_out])
    assert np.mean(tflm_pred == float_pred) >= MIN_AGREEMENT
    assert report.top1_agreement >= MIN_AGREEMENT  # TFLite's view, same bound
    # the default runtime takes the unrolled graph: edgekit's AOT C, byte for byte with TFLM on real sequences
    xs = _quantize(data["x_val"][:3], out.read_bytes())
    assert aot_vs_tflm(out, tmp_path / "aot", inputs=[[x] for x in xs]) == []


RNN_CASES = {
    "lstm backwards sequence": lambda L: [L.LSTM(6, return_sequences=True, go_backwards=True), L.Flatten()],
    "gru reset_after=False": lambda L: [L.GRU(6, reset_after=False)],
    "simple rnn relu": lambda L: [L.SimpleRNN(6, activation="relu")],
    "stacked lstm gru": lambda L: [L.LSTM(6, return_sequences=True), L.GRU(5)],
    "bidirectional sum": lambda L: [L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum"),
                                    L.Flatten()],
}


@pytest.mark.parametrize("case", sorted(RNN_CASES))
def test_unrolled_layers_compute_what_keras_computes(case):
    """The rebuilt (unrolled, per-gate) model equals the Keras one in float; biases made non-zero on purpose."""
    import keras

    from edgekit._tf_convert import load

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((5, FEATURES)), *RNN_CASES[case](keras.layers), keras.layers.Dense(2)])
    rng = np.random.default_rng(3)
    for layer in model.layers:
        layer.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.normal(size=(4, 5, FEATURES)).astype(np.float32)
    prep = load(model)
    assert prep.recurrent and not prep.loops
    ours = np.concatenate([np.asarray(prep.model(x[i:i + 1])) for i in range(len(x))])
    np.testing.assert_allclose(ours, model.predict(x, verbose=0), atol=1e-5)


def test_stateful_lstm_keeps_its_state_on_tflm(data, tmp_path):
    """A streaming (stateful) LSTM: state in int8 resource variables, carried across TFLM invokes like Keras."""
    import keras

    from edgekit.conversion import convert
    from edgekit.tflm import tflm_run

    trained = _train("lstm", data)
    keras.utils.set_random_seed(0)
    chunk = 4  # the stream arrives 4 steps at a time
    model = keras.Sequential([keras.Input((chunk, FEATURES), batch_size=1), keras.layers.LSTM(16, stateful=True),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.set_weights(trained.get_weights())
    stream = data["x_val"][:6].reshape(-1, chunk, FEATURES)  # 6 gestures, 4 chunks each
    result = convert(model, stream, progress=False, output=tmp_path / "s.tflite")
    assert result.report.stateful and {"VAR_HANDLE", "ASSIGN_VARIABLE"} <= set(result.report.ops)
    sg = load_model(result.tflite_bytes).main
    assert {sg.tensors[o].dtype for op in sg.operators for o in op.outputs} <= {"int8", "resource"}
    for layer in model.layers:
        if hasattr(layer, "reset_state"):
            layer.reset_state()
    keras_out = np.concatenate([model.predict(c[None], verbose=0) for c in stream])
    tflm_out = tflm_run(result.tflite_bytes, _quantize(stream, result.tflite_bytes))
    q = sg.tensors[sg.outputs[0]].quantization
    ours = np.stack([(o[0].reshape(-1).astype(np.float32) - q.zero_point[0]) * q.scale[0] for o in tflm_out])
    assert np.abs(ours - keras_out).max() < 0.1  # softmax outputs, int8 steps of 1/256
    fresh = tflm_run(result.tflite_bytes, _quantize(stream[5:6], result.tflite_bytes))[0][0]
    assert not np.array_equal(fresh, tflm_out[5][0])  # the same chunk without the history: the state mattered
    # edgekit's AOT runtime keeps the resource variables across inferences as TFLM does: the same 24 outputs
    qs = _quantize(stream, result.tflite_bytes)
    assert aot_vs_tflm(result.tflite_bytes, tmp_path / "aot", inputs=[[x] for x in qs]) == []


def test_16x8_conversion_and_comparison(digits_models, tmp_path, capsys):
    from edgekit.tflm import tflm_run

    m = digits_models
    np.save(tmp_path / "calib.npy", m["x_train"][:60])
    np.savez(tmp_path / "val.npz", x=m["x_test"][:150], y=m["y_test"][:150])
    out, rep = tmp_path / "m.tflite", tmp_path / "r.json"
    rc = run(["convert", str(m["keras_path"]), "--calib", str(tmp_path / "calib.npy"), "--val",
              str(tmp_path / "val.npz"), "--activations", "compare", "-o", str(out), "--json", "--report", str(rep)])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    comp = data["comparison"]
    r8, r16 = comp["reports"]["int8"], comp["reports"]["int16"]
    assert (r8["activations"], r16["activations"]) == ("int8", "int16")
    assert comp["recommended"] in ("int8", "int16") and comp["reason"]
    assert data["activations"] == comp["recommended"] and out.stat().st_size == data["int8_size"]
    # 8 more bits of activations; the int8 weights (the same in both) limit the gain (measured: +8.5 dB)
    assert r16["output_sqnr_db"] > r8["output_sqnr_db"] + 3
    assert min(lq["sqnr_db"] for lq in r16["layers"]) > min(lq["sqnr_db"] for lq in r8["layers"])
    assert r16["top1_agreement"] >= r8["top1_agreement"] - 0.01
    # the 16x8 model alone: int16 activations and I/O, int8 weights; TFLM runs it
    out16 = tmp_path / "m16.tflite"
    rc = run(["--debug", "convert", str(m["keras_path"]), "--calib", str(tmp_path / "calib.npy"), "--activations",
              "int16", "-o", str(out16), "--json"])
    printed = capsys.readouterr()
    assert rc == 0 and json.loads(printed.out)["activations"] == "int16"
    assert "Saved artifact at" in printed.err  # --debug shows what TensorFlow printed in the converter process
    sg = load_model(out16).main
    assert sg.tensors[sg.inputs[0]].dtype == "int16"
    assert {sg.tensors[op.inputs[1]].dtype for op in sg.operators if op.opcode == "CONV_2D"} == {"int8"}
    assert {sg.tensors[o].dtype for op in sg.operators for o in op.outputs} == {"int16"}
    x16 = _quantize(m["x_test"][:40], out16.read_bytes())
    pred = np.array([o[0].reshape(-1).argmax() for o in tflm_run(out16, x16)])
    assert np.mean(pred == m["y_test"][:40]) >= 0.9


def test_terminal_shows_progress_and_no_tensorflow_noise(digits_models, tmp_path):
    """Under a real terminal (a PTY) the user sees the progress bar's stages, never TensorFlow's own output."""
    np.save(tmp_path / "calib.npy", digits_models["x_train"][:40])
    leader, follower = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100", TERM="xterm")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", "convert", str(digits_models["keras_path"]),
                             "--calib", str(tmp_path / "calib.npy"), "-o", str(tmp_path / "o.tflite")],
                            stdin=follower, stdout=follower, stderr=follower, env=env, cwd=tmp_path)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = seen.decode(errors="replace")
    assert "calibrating int8" in text and "evaluating int8" in text  # real stages, not a bar stuck at 0
    for noise in ("Saved artifact", "oneDNN", "absl", "WARNING", "tensorflow"):
        assert noise not in text
    assert "wrote" in text and (tmp_path / "o.tflite").exists()


def test_converter_crash_is_one_line_and_writes_nothing(tmp_path, capfd):
    """A real TF 2.21 crash: int8 calibration of a recurrent loop (RNN(LSTMCell), which edgekit does not unroll)
    segfaults the converter. The CLI survives it: exit 1, one error line and a hint, no file written."""
    import keras

    from edgekit import _isolate

    model = keras.Sequential([keras.Input((6, FEATURES)), keras.layers.RNN(keras.layers.LSTMCell(8)),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "loop.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).normal(size=(10, 6, FEATURES)).astype(np.float32))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "model.tflite").write_bytes(b"previous")
    rc = run(["convert", str(tmp_path / "loop.keras"), "--calib", str(tmp_path / "calib.npy"),
              "-o", str(out_dir / "model.tflite")])
    err = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert rc == 1
    assert len(err) == 2, err
    assert err[0].startswith("error: TensorFlow crashed (SIGSEGV) while calibrating int8 (1/10)")
    assert err[1].startswith("hint: layer(s) 'rnn' (RNN) keep a recurrent loop") and "LSTM" in err[1]
    log = Path(err[1].rsplit("log: ", 1)[1])
    assert log.exists()
    log.unlink()
    assert [p.name for p in out_dir.iterdir()] == ["model.tflite"]
    assert (out_dir / "model.tflite").read_bytes() == b"previous"
    assert _isolate._warm is None  # the dead child is not reused; the next conversion starts a fresh one


def test_optimize_keeps_tensorflow_start_up_lines_off_stderr():
    """`edgekit optimize` trains in-process: TensorFlow's absl/oneDNN start-up lines must not reach the user."""
    code = ("from edgekit.optimize.finetune import import_keras; import numpy as np; keras = import_keras(); "
            "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]); m(np.zeros((1, 4))); print('trained')")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "trained"
    assert proc.stderr.strip() == ""
