"""edgekit.inspection and ``edgekit inspect``: MACs, TFLM compatibility flags, arena, board fit, CLI behaviour."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tflite_edit
from conftest import REPO, need_module, shared_model

from edgekit.cli import run
from edgekit.inspection import inspect

# Published MAC counts of the MLPerf Tiny v1.0 reference models (shared/NOTES.md).
MLPERF_MACS = {
    "mlperf_tiny/kws_ds_cnn_int8.tflite": 2_656_768,
    "mlperf_tiny/ic_resnet8_int8.tflite": 12_501_632,
    "mlperf_tiny/vww_mobilenet_int8.tflite": 7_489_664,
    "mlperf_tiny/ad_fc_autoencoder_int8.tflite": 264_192,
}


@pytest.mark.parametrize("rel", sorted(MLPERF_MACS))
def test_mlperf_tiny_macs(rel):
    report = inspect(shared_model(rel), arena=False)
    assert report.macs == MLPERF_MACS[rel]
    assert report.macs == sum(layer.macs for layer in report.layers) == sum(op.macs for op in report.ops)
    assert report.full_int8
    assert report.tflm_ok, report.issues
    assert all(op.tflm for op in report.ops)


def _keras_macs(model) -> int:
    """MACs from the Keras layer configuration (independent of the .tflite graph)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            total += h * w * c * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output.shape
            in_c = layer.input.shape[-1]
            total += h * w * c * layer.kernel_size[0] * layer.kernel_size[1] * in_c // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            rows = math.prod(d for d in layer.input.shape[1:-1])
            total += rows * layer.units * layer.input.shape[-1]
    return total


@pytest.mark.tf
def test_digits_macs_match_keras(digits_models):
    expected = _keras_macs(digits_models["keras"])
    assert expected > 0
    for key in ("int8_tflite", "float_tflite"):
        assert inspect(digits_models[key], arena=False).macs == expected
    int8 = inspect(digits_models["int8_tflite"], arena=False)
    assert int8.full_int8
    float_report = inspect(digits_models["float_tflite"], arena=False)
    assert not float_report.full_int8
    assert any(i.severity == "info" and "float32" in i.message for i in float_report.issues)


@pytest.mark.tflm
def test_arena_matches_tflm(digits_models):
    need_module("tflite_micro")
    from edgekit.tflm import tflm_arena_bytes

    for path in (digits_models["int8_tflite"], shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")):
        report = inspect(path)
        assert report.arena_bytes == tflm_arena_bytes(path)
        assert report.arena["required"] == report.arena_bytes
        assert report.arena_bytes >= report.activation_peak_bytes > 0


def test_arena_skipped_without_tflm(monkeypatch):
    import edgekit.tflm as tflm

    monkeypatch.setattr(tflm.importlib.util, "find_spec", lambda name: None)
    report = inspect(shared_model("tflm_examples/hello_world_int8.tflite"))
    assert report.arena_bytes is None
    assert "pip install 'edgekit[convert]'" in report.arena_note
    assert report.tflm_ok


@pytest.mark.tflm
def test_crash_in_tflm_becomes_an_issue():
    data = shared_model("mlperf_tiny/ic_resnet8_int8.tflite").read_bytes()
    report = inspect(tflite_edit.negative_scale(data, op_index=3))
    assert report.arena_bytes is None
    messages = " | ".join(i.message for i in report.issues if i.severity == "error")
    assert "SIGABRT" in messages and "quantization scale" in messages


def test_flags_unsupported_ops_custom_ops_and_dtypes():
    data = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite").read_bytes()
    report = inspect(tflite_edit.replace_opcode(data, "RESHAPE", "TOPK_V2"), arena=False)
    assert any(i.severity == "error" and "TOPK_V2" in i.message for i in report.issues)
    assert not next(op for op in report.ops if op.opcode == "TOPK_V2").tflm
    report = inspect(tflite_edit.replace_opcode(data, "RESHAPE", "CUSTOM", "MyReshape"), arena=False)
    assert any(i.severity == "error" and "MyReshape" in i.message for i in report.issues)
    report = inspect(tflite_edit.replace_opcode(data, "RESHAPE", "CUSTOM", "CIRCULAR_BUFFER"), arena=False)
    assert [i.severity for i in report.issues if "CIRCULAR_BUFFER" in i.message] == ["warning"]

    def float64_input(model, s):
        model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].type = s.TensorType.FLOAT64

    report = inspect(tflite_edit.edit(data, float64_input), arena=False)
    assert any(i.severity == "error" and "float64" in i.message for i in report.issues)
    assert not report.full_int8 and not report.tflm_ok


def test_flags_hybrid_ops():
    data = shared_model("tflm_examples/hello_world_float.tflite").read_bytes()

    def int8_weights(model, s):
        sg = model.subgraphs[0]
        op = sg.operators[0]
        w = sg.tensors[op.inputs[1]]
        n = int(np.prod(w.shape))
        w.type = s.TensorType.INT8
        model.buffers[w.buffer].data = np.ones(n, np.uint8)
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint = [0.01], [0]
        w.quantization = q

    report = inspect(tflite_edit.edit(data, int8_weights), arena=False)
    hybrid = [i for i in report.issues if "hybrid" in i.message]
    assert len(hybrid) == 1 and hybrid[0].severity == "error" and "FULLY_CONNECTED" in hybrid[0].message
    plain = inspect(data, arena=False)
    assert not any("hybrid" in i.message for i in plain.issues)


def test_board_fit_and_latency(tmp_path):
    from edgekit.boards import load_board

    m4 = load_board("qemu-cortex-m4")
    report = inspect(shared_model("mlperf_tiny/vww_mobilenet_int8.tflite"), board=m4, arena=False)
    fit = report.fit
    assert fit.latency_ms == pytest.approx(7_489_664 * m4.cycles_per_mac / m4.clock_hz * 1e3)
    assert m4.cycles_per_mac_source in fit.latency_source
    assert fit.flash_needed == report.size_bytes + report.runtime_code_bytes[1]
    assert fit.flash_free == m4.memory.flash_kb * 1024 - fit.flash_needed
    assert fit.ram_needed is None and fit.fits is None  # no arena measured: RAM unknown
    # a board with 16 KB of RAM cannot hold the VWW arena (about 100 KB)
    text = (REPO / "boards" / "qemu" / "qemu-cortex-m4.yaml").read_text()
    text = text.replace("id: qemu-cortex-m4", "id: tiny-m4").replace("ram_kb: 4096", "ram_kb: 16")
    text = text.replace("{name: RAM, origin: 0x20000000, size_kb: 4096", "{name: RAM, origin: 0x20000000, size_kb: 16")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "tiny-m4.yaml").write_text(text)
    tiny = load_board("tiny-m4", [tmp_path])
    assert tiny.memory.ram_kb == 16
    from edgekit import inspection as inspect_module

    fake = inspect_module.InspectReport(**{**report.__dict__, "arena_bytes": 100_000, "fit": None})
    verdict = inspect_module._fit(fake, tiny)
    assert verdict.fits is False and verdict.ram_free == 16 * 1024 - 100_000
    assert verdict.ram_pct == pytest.approx(100 * 100_000 / (16 * 1024))


@pytest.mark.tflm
def test_board_fit_with_measured_arena():
    need_module("tflite_micro")
    report = inspect(shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite"), board="nucleo-l4r5zi")
    assert report.fit.fits is True
    assert report.fit.ram_needed == report.arena_bytes
    assert report.fit.ram_pct == pytest.approx(100 * report.arena_bytes / (640 * 1024))


# ---- CLI -------------------------------------------------------------------------------------------------------

def _one_line_error(capsys, argv) -> str:
    rc = run(argv)
    captured = capsys.readouterr()
    assert rc == 1
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith("error: ") and "Traceback" not in captured.err
    assert all(ln.startswith(("error: ", "hint: ")) for ln in lines) and len(lines) <= 2
    return lines[0]


def test_cli_errors(tmp_path, capsys):
    data = shared_model("tflm_examples/hello_world_int8.tflite").read_bytes()
    (tmp_path / "cut.tflite").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.tflite").write_text("not a model at all\n")
    assert "truncated" in _one_line_error(capsys, ["inspect", str(tmp_path / "cut.tflite")])
    assert "not a TFLite model" in _one_line_error(capsys, ["inspect", str(tmp_path / "text.tflite")])
    assert "no such file" in _one_line_error(capsys, ["inspect", str(tmp_path / "missing.tflite")])
    assert "unknown board" in _one_line_error(capsys, ["inspect", "--no-arena", "--board", "nope",
                                                       str(shared_model("tflm_examples/hello_world_int8.tflite"))])


def test_cli_json_and_tables(capsys):
    path = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    assert run(["inspect", str(path), "--json", "--no-arena", "--board", "qemu-cortex-m4"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["macs"] == 2_656_768 and d["fit"]["board"] == "qemu-cortex-m4" and d["arena_bytes"] is None
    assert len(d["layers"]) == 13 and d["ops"][0]["opcode"] == "AVERAGE_POOL_2D"
    assert run(["inspect", str(path), "--no-arena", "--board", "qemu-cortex-m4"]) == 0
    out = capsys.readouterr().out
    for text in ("2,656,768", "DEPTHWISE_CONV_2D", "qemu-cortex-m4", "estimated latency"):
        assert text in out


def test_cli_and_api_do_not_import_tensorflow():
    code = ("import sys, edgekit.cli.inspect, edgekit.inspection, edgekit.tflite_model, edgekit.tflm; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tflite_micro')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(REPO))


def test_inspect_shows_the_default_runtimes_exact_figures_beside_tflms(tmp_path: Path) -> None:
    """Issue #17 item 7: inspect's figures are those of the runtime 'generate' builds (edgekit's arena and constants,
    exact from its plan), with TFLM's beside them, each labelled; the CLI shows both columns."""
    need_module("tflite_micro")
    from click.testing import CliRunner
    from tflite_single_op import T, single_op_model

    from edgekit.cli import main
    from edgekit.generation import generate
    from edgekit.inspection import inspect

    w = T((16, 32), "int8", 0.02, data=np.arange(512, dtype=np.int8).reshape(16, 32))
    path = tmp_path / "fc.tflite"
    path.write_bytes(single_op_model("FULLY_CONNECTED", [T((1, 32), "int8", 0.1), w], [T((1, 16), "int8", 0.2)]))
    rep = inspect(path, board="qemu-cortex-m4", arena=False)
    ek, tflm = rep.runtimes
    assert (ek.runtime, tflm.runtime) == ("edgekit", "tflm") and ek.supported
    header = (Path(generate(path, "qemu-cortex-m4", out_dir=tmp_path / "fw").project_dir) / "model" / "ek_model.h")
    arena = int(re.search(r"EK_ARENA_SIZE\s+(\d+)u", header.read_text()).group(1))
    assert ek.arena_bytes == arena or (ek.arena_bytes < 16 and arena == 16), "not the arena generate writes"
    assert "exact" in ek.arena_source and ek.flash_bytes[0] < ek.flash_bytes[1] < tflm.flash_bytes[0]
    assert ek.latency_ms is not None and "instructions/MAC" in ek.latency_source
    assert tflm.latency_ms == rep.fit.latency_ms
    out = CliRunner().invoke(main, ["inspect", str(path), "--board", "qemu-cortex-m4", "--no-arena"],
                             terminal_width=200).output
    assert "edgekit runtime (generate's choice)" in out and "TFLM" in out
    assert f"{ek.arena_bytes:,} B" in out


def test_measured_edgekit_figures_match_the_benchmark_file() -> None:
    from edgekit.runtime_figures import MEASURED, median_from_results

    rows = json.loads((REPO / "benchmarks" / "results" / "runtime.json").read_text())["results"]
    for board, figures in MEASURED.items():
        assert median_from_results(rows, board) == figures, f"{board}: re-read benchmarks/results/runtime.json"


def test_inspect_says_per_op_which_runtime_runs_it(tmp_path: Path) -> None:
    """Issue #14 item 5: per operator type, whether edgekit's AOT runtime runs it (and why not) beside TFLM."""
    need_module("tflite_micro")
    from tflite_single_op import T, multi_op_model

    w = np.ones((4, 8), dtype=np.int8)
    fc = ("FULLY_CONNECTED", [T((1, 8), scale=0.1), T((4, 8), scale=[0.1] * 4, data=w)], [T((1, 4), scale=0.2)], {})
    neg = ("NEG", [T((1, 4), scale=0.2)], [T((1, 4), scale=0.2)], {})  # TFLM and edgekit: float kernels only
    report = inspect(multi_op_model([fc, neg]))
    by_op = {o.opcode: o for o in report.ops}
    assert by_op["FULLY_CONNECTED"].edgekit is None
    assert by_op["NEG"].edgekit and "int8" in by_op["NEG"].edgekit and "float32" in by_op["NEG"].edgekit
