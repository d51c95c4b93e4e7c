"""edgekit.conversion with real TensorFlow: quality of the int8 digits CNN, I/O types, report, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.cli import run
from edgekit.tflite_model import load_model

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[1]


def _activations(path_or_bytes) -> list:
    """Tensors the interpreter computes: graph inputs and every op output."""
    sg = load_model(path_or_bytes).main
    idx = set(sg.inputs) | {o for op in sg.operators for o in op.outputs}
    return [sg.tensors[i] for i in sorted(idx)]


# ------------------------------------------------------------------ quality of the fixture model


def test_int8_keeps_float_accuracy_at_a_third_of_the_size(digits_models):
    report = digits_models["report"]
    float_size = digits_models["float_tflite"].stat().st_size
    int8_size = digits_models["int8_tflite"].stat().st_size
    assert report.top1_agreement >= 0.98
    assert int8_size <= 0.35 * float_size
    assert (report.float_size, report.int8_size) == (float_size, int8_size)
    assert report.int8_accuracy >= report.float_accuracy - 0.02
    assert report.num_val == len(digits_models["x_test"])


def test_every_activation_is_int8_weights_per_channel_biases_int32(digits_models):
    sg = load_model(digits_models["int8_tflite"]).main
    assert {t.dtype for t in _activations(digits_models["int8_tflite"])} == {"int8"}
    assert not [t.name for t in sg.tensors if t.dtype.startswith("float")]
    convs = [op for op in sg.operators if op.opcode == "CONV_2D"]
    assert convs
    for op in convs:
        weights, bias = sg.tensors[op.inputs[1]], sg.tensors[op.inputs[2]]
        assert weights.dtype == "int8" and len(weights.quantization.scale) == weights.shape[0] > 1
        assert bias.dtype == "int32"


def test_report_has_per_layer_sqnr_worst_first(digits_models):
    report = digits_models["report"]
    sqnr = [layer.sqnr_db for layer in report.layers]
    assert sqnr == sorted(sqnr)
    assert report.worst_layer is report.layers[0]
    assert not report.unmatched_tensors
    # one entry per computed int8 tensor, i.e. per op output plus the input
    assert len(report.layers) == len(_activations(digits_models["int8_tflite"]))
    assert {layer.op for layer in report.layers} >= {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert 20 < report.layers[0].sqnr_db < report.layers[-1].sqnr_db
    data = json.loads(json.dumps(report.to_dict()))
    assert data["layers"][0]["name"] == report.layers[0].name
    assert data["size_ratio"] == pytest.approx(report.int8_size / report.float_size)


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("io_dtype", ["uint8", "float32"])
def test_io_dtype_options(digits_models, io_dtype):
    from edgekit.conversion import convert

    m = digits_models
    result = convert(m["keras"], m["x_train"], num_calib=50, val=m["x_test"][:200], val_labels=m["y_test"][:200],
                     io_dtype=io_dtype, progress=False, isolate=io_dtype == "uint8")
    sg = load_model(result.tflite_bytes).main
    assert sg.tensors[sg.inputs[0]].dtype == io_dtype
    assert sg.tensors[sg.outputs[0]].dtype == io_dtype
    inner = [t for t in _activations(result.tflite_bytes) if t.index not in (*sg.inputs, *sg.outputs)]
    assert {t.dtype for t in inner} == {"int8"}
    report = result.report
    assert report.io_dtype == io_dtype and report.num_calib == 50 and report.isolated == (io_dtype == "uint8")
    assert report.top1_agreement >= 0.98
    assert not report.unmatched_tensors


def test_calibration_from_generator_and_tf_data(digits_models):
    import tensorflow as tf

    from edgekit.conversion import convert

    m = digits_models
    x = m["x_train"]
    gen = (x[i] for i in range(40))  # single samples, no batch dimension
    from_gen = convert(m["keras"], gen, progress=False, isolate=False)
    ds = tf.data.Dataset.from_tensor_slices((x[:64], m["y_train"][:64])).batch(16)
    from_ds = convert(m["keras"], ds, num_calib=40, progress=False, isolate=False)
    assert from_gen.report.num_calib == from_ds.report.num_calib == 40
    assert from_gen.tflite_bytes == from_ds.tflite_bytes  # same 40 samples, same calibration
    assert from_gen.report.num_val == 0 and from_gen.report.layer_data == "calibration data"


def test_regression_report(tmp_path):
    import keras

    from edgekit.conversion import convert

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    x = np.random.default_rng(0).normal(size=(80, 6)).astype(np.float32)
    y = model.predict(x, verbose=0)[:, 0] + 0.1
    report = convert(model, x[:40], val=x[40:], val_labels=y[40:], progress=False, isolate=False).report
    assert report.task == "regression" and report.top1_agreement is None
    assert report.float_mae == pytest.approx(0.1, abs=1e-4)
    assert 0 < report.mae_vs_float < 0.1
    assert report.int8_rmse is not None


def test_cli_json_and_report_file(digits_models, tmp_path, capsys):
    m = digits_models
    np.save(tmp_path / "calib.npy", m["x_train"][:60])
    np.savez(tmp_path / "val.npz", x=m["x_test"][:100], y=m["y_test"][:100])
    out, rep = tmp_path / "out.tflite", tmp_path / "report.json"
    rc = run(["convert", str(m["keras_path"]), "--calib", str(tmp_path / "calib.npy"), "--val",
              str(tmp_path / "val.npz"), "-o", str(out), "--json", "--report", str(rep), "--keep-float"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(rep.read_text())
    assert printed["num_calib"] == 60 and printed["num_val"] == 100 and printed["isolated"] is True
    assert printed["int8_accuracy"] is not None and printed["top1_agreement"] >= 0.98
    assert out.stat().st_size == printed["int8_size"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calib.npy", "out.tflite", "out_float.tflite",
                                                          "report.json", "val.npz"]
    # --keep-float: the float model the report compared with, which edgekit's runtime runs too (test_aot_float.py)
    from edgekit.codegen.aot import check_supported
    from edgekit.tflite_model import load_model

    kept = load_model(tmp_path / "out_float.tflite")
    assert printed["float_output"] == str(tmp_path / "out_float.tflite") and kept.size == printed["float_size"]
    assert kept.main.tensors[kept.main.inputs[0]].dtype == "float32"
    check_supported(kept)


def test_savedmodel_directory(digits_models, tmp_path, capsys):
    m = digits_models
    m["keras"].export(tmp_path / "sm", verbose=False)
    np.save(tmp_path / "calib.npy", m["x_train"][:30])
    out = tmp_path / "o.tflite"
    rc = run(["convert", str(tmp_path / "sm"), "--calib", str(tmp_path / "calib.npy"), "-o", str(out)])
    assert rc == 0
    assert "per-layer SQNR" in capsys.readouterr().out
    assert {t.dtype for t in _activations(out)} == {"int8"}


def test_hybrid_model_is_refused(digits_models):
    """Dynamic-range quantization (int8 weights, float activations) must never pass as full int8."""
    import tensorflow as tf

    from edgekit._tf_convert import _batch1
    from edgekit.conversion import verify_full_int8
    from edgekit.errors import ModelError

    converter = tf.lite.TFLiteConverter.from_keras_model(_batch1(digits_models["keras"])[0])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no calibration data: hybrid
    hybrid = converter.convert()
    with pytest.raises(ModelError, match=r"float/hybrid ops: .*CONV_2D.*FULLY_CONNECTED"):
        verify_full_int8(hybrid)
    assert verify_full_int8(digits_models["int8_tflite"].read_bytes())["CONV_2D"] == 2


# ------------------------------------------------------------------ bad input: one clear line, no file left


def _bad_inputs(m: dict, d: Path) -> dict[str, tuple[list[str], str]]:
    x = m["x_train"][:20]
    np.save(d / "good.npy", x)
    np.save(d / "shape.npy", x[..., 0])
    np.save(d / "dtype.npy", (x * 255).astype(np.uint8))
    np.save(d / "empty.npy", x[:0])
    nan = x.copy()
    nan[3, 2, 2, 0] = np.nan
    np.save(d / "nan.npy", nan)
    (d / "notes.txt").write_text("not a model")
    (d / "fake.keras").write_bytes(b"garbage, not a zip archive")
    good = str(d / "good.npy")
    keras_path = str(m["keras_path"])
    return {
        "missing": (["nope.keras", "--calib", good], "no such file"),
        "text file": ([str(d / "notes.txt"), "--calib", good], "not a Keras"),
        "fake keras": ([str(d / "fake.keras"), "--calib", good], "not a Keras model"),
        "int8 tflite": ([str(m["int8_tflite"]), "--calib", good], "already converted"),
        "calib shape": ([keras_path, "--calib", str(d / "shape.npy")], "expected samples of shape (8, 8, 1)"),
        "calib dtype": ([keras_path, "--calib", str(d / "dtype.npy")], "expected float32 values, got uint8"),
        "calib empty": ([keras_path, "--calib", str(d / "empty.npy")], "calibration data is empty"),
        "calib nan": ([keras_path, "--calib", str(d / "nan.npy")], "NaN or inf"),
        "val labels count": ([keras_path, "--calib", good, "--val", good, "--val-labels", str(d / "empty.npy")],
                             "0 labels for 20 validation samples"),
    }


CASES = ["missing", "text file", "fake keras", "int8 tflite", "calib shape", "calib dtype", "calib empty",
         "calib nan", "val labels count"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_error(digits_models, tmp_path, capfd, case):
    data = tmp_path / "data"
    data.mkdir()
    argv, expected = _bad_inputs(digits_models, data)[case]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "model.tflite").write_bytes(b"previous")  # must survive a failed conversion untouched
    rc = run(["convert", *argv, "-o", str(out_dir / "model.tflite")])
    err = capfd.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[0].startswith("error: ") and expected in err[0]
    assert len(err) == 2 and err[1].startswith("hint: ")
    assert [p.name for p in out_dir.iterdir()] == ["model.tflite"]
    assert (out_dir / "model.tflite").read_bytes() == b"previous"
    if case == "int8 tflite":
        assert "edgekit inspect" in err[1]
    if case in ("calib shape", "calib dtype"):
        assert "got" in err[0]


def test_native_abort_in_evaluation_is_contained(digits_models, tmp_path, monkeypatch):
    """A child that aborts (SIGABRT) becomes NativeCrash; we survive and write nothing. (A real converter
    crash: tests/test_convert_rnn.py.)"""
    from edgekit import _isolate
    from edgekit.conversion import convert
    from edgekit.errors import NativeCrash

    _isolate.discard_worker()  # the warm worker would not use the patched command
    monkeypatch.setattr(_isolate, "WORKER_ARGV",
                        [sys.executable, "-c", "import os, sys; sys.stdin.readline(); os.abort()"])
    out = tmp_path / "m.tflite"
    with pytest.raises(NativeCrash, match="SIGABRT") as info:
        convert(digits_models["keras"], digits_models["x_train"][:10], output=out, progress=False)
    log = Path(info.value.hint.rsplit("log: ", 1)[1])
    assert log.exists()  # kept for the user, named in the hint
    log.unlink()
    assert list(tmp_path.iterdir()) == []
    assert _isolate._warm is None  # the dead worker is not reused


def test_importing_convert_does_not_import_tensorflow():
    code = ("import sys, edgekit.conversion, edgekit.cli.convert, edgekit.report, edgekit.data, edgekit._isolate; "
            "sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
