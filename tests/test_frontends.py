"""PyTorch and ONNX models in (issue #15): small models trained here in seconds, converted through the real
litert-torch route (in its child process), run by the real TFLM host interpreter, one of them on QEMU.

Three conversions in all (CI time): the CNN as an ``nn.Module`` (+ TFLM + QEMU byte-exact), the MLP as ``.onnx``
through the CLI, the 1D-conv model as ``.pt2``. Bad inputs fail before or inside the child, fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, need_module, need_tool

pytestmark = [pytest.mark.torch, pytest.mark.tflm]


def _need_torch() -> None:
    for mod in ("torch", "litert_torch", "onnx", "onnxruntime", "tflite_micro"):
        need_module(mod)


@pytest.fixture(scope="module")
def trained() -> dict:
    _need_torch()
    from edgekit.examples_torch import train

    return {kind: train(kind) for kind in ("cnn", "mlp", "conv1d")}


@pytest.fixture(scope="module")
def cnn_result(trained: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from edgekit import convert

    model, (x_train, _, x_test, y_test) = trained["cnn"]
    out = tmp_path_factory.mktemp("cnn") / "cnn_int8.tflite"
    res = convert(model, x_train[:100], sample=x_train[:1], val=x_test, val_labels=y_test, output=out)
    return {"result": res, "path": out, "x_test": x_test, "model": model}


def _top1_with_tflm(tflite: Path, x_nchw: np.ndarray) -> np.ndarray:
    from edgekit.frontends.layout import to_device_layout
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    sg = load_model(tflite).main
    q = sg.tensors[sg.inputs[0]].quantization
    x = to_device_layout(x_nchw)
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    return np.array([int(np.argmax(o[0])) for o in tflm_run(tflite, xq)])


def _torch_top1(model: object, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x)).argmax(-1).numpy()


def test_cnn_module_converts_with_no_transpose_and_agrees_with_pytorch_on_tflm(cnn_result: dict) -> None:
    rep = cnn_result["result"].report
    assert "TRANSPOSE" not in rep.ops
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "HARD_SWISH"} <= set(rep.ops)
    assert not {"BATCH_NORM", "MUL", "ADD"} & set(rep.ops)  # BatchNorm folded into the convs
    assert rep.framework == "PyTorch" and rep.source_layout == "NCHW" and rep.device_layout == "NHWC"
    assert rep.device_shape == [1, 8, 8, 1]
    assert rep.top1_agreement >= 0.95 and rep.num_val == len(cnn_result["x_test"])
    assert rep.source_ops["batch_norm"] == 3 and rep.source_ops["hardswish"] == 1
    assert rep.layers and all(np.isfinite(lq.sqnr_db) or lq.sqnr_db == float("inf") for lq in rep.layers)
    # the real TFLM interpreter runs the file and agrees with PyTorch's float outputs
    x = cnn_result["x_test"][:200]
    agree = np.mean(_top1_with_tflm(cnn_result["path"], x) == _torch_top1(cnn_result["model"], x))
    assert agree >= 0.95


@pytest.mark.qemu
@pytest.mark.toolchain
def test_cnn_from_pytorch_is_byte_exact_on_qemu_with_nchw_inputs(cnn_result: dict, tmp_path: Path) -> None:
    for tool in ("arm-none-eabi-gcc", "cmake", "qemu-system-arm"):
        need_tool(tool)
    from edgekit.validation import validate

    inputs = tmp_path / "x_nchw.npy"
    np.save(inputs, cnn_result["x_test"][:3])  # the PyTorch layout; --layout nchw moves it to NHWC
    res = validate(cnn_result["path"], board="qemu-cortex-m4", inputs=inputs, work_dir=tmp_path / "fw",
                   layout="nchw")
    assert res.inputs == 3 and res.byte_exact == 3 and res.ok, res.to_dict()["mismatches"]
    # bench takes the same NCHW file: its first output equals TFLM's on that sample moved to NHWC
    from edgekit.benchmarking import bench
    from edgekit.frontends.layout import to_device_layout
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    b = bench(res.project_dir, runs=1, warmup=0, inputs=inputs, layout="nchw")
    sg = load_model(cnn_result["path"]).main
    q = sg.tensors[sg.inputs[0]].quantization
    x0 = np.clip(np.round(to_device_layout(cnn_result["x_test"][:1]) / q.scale[0]) + q.zero_point[0], -128, 127)
    assert b.output["hex"] == tflm_run(cnn_result["path"], x0.astype(np.int8))[0][0].tobytes().hex()


def test_mlp_onnx_through_the_cli_agrees_with_onnxruntime(trained: dict, tmp_path: Path) -> None:
    import torch

    from edgekit.cli import run

    model, (x_train, _, x_test, y_test) = trained["mlp"]
    onnx_path = tmp_path / "mlp.onnx"
    torch.onnx.export(model, (torch.from_numpy(x_train[:1]),), str(onnx_path), dynamo=False)
    np.save(tmp_path / "calib.npy", x_train[:100])
    np.savez(tmp_path / "val.npz", x=x_test, y=y_test)
    out = tmp_path / "mlp_int8.tflite"
    assert run(["convert", str(onnx_path), "--calib", str(tmp_path / "calib.npy"), "--val", str(tmp_path / "val.npz"),
                "-o", str(out), "--report", str(tmp_path / "r.json")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["framework"] == "onnxruntime" and rep["ops"] == {"FULLY_CONNECTED": 3}
    assert rep["top1_agreement"] >= 0.95 and rep["int8_accuracy"] >= rep["float_accuracy"] - 0.03
    assert np.mean(_top1_with_tflm(out, x_test) == _torch_top1(model, x_test)) >= 0.95


def test_conv1d_pt2_has_no_input_transpose(trained: dict, tmp_path: Path) -> None:
    import torch

    from edgekit import convert
    from edgekit.tflite_model import load_model

    model, (x_train, _, x_test, y_test) = trained["conv1d"]
    pt2 = tmp_path / "conv1d.pt2"
    torch.export.save(torch.export.export(model, (torch.from_numpy(x_train[:1]),)), str(pt2))
    out = tmp_path / "conv1d_int8.tflite"
    res = convert(pt2, x_train[:100], val=x_test, val_labels=y_test, output=out)
    rep = res.report
    assert rep.source_layout == "NCL" and rep.device_layout == "N1LC" and rep.device_shape == [1, 1, 32, 3]
    assert rep.top1_agreement >= 0.95
    first = load_model(out).main.operators[0].opcode
    assert first == "CONV_2D"  # the NCL -> NLC permute folded; at most the pooling's TRANSPOSE remains
    assert rep.ops.get("TRANSPOSE", 0) <= 1
    assert np.mean(_top1_with_tflm(out, x_test) == _torch_top1(model, x_test)) >= 0.95


# ---------------------------------------------------------------- bad input: nothing is written


def test_truncated_onnx_is_a_clear_error(tmp_path: Path) -> None:
    need_module("onnx")
    import onnx
    from onnx import TensorProto, helper

    from edgekit import convert
    from edgekit.errors import ModelError

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    data = helper.make_model(graph).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert onnx.load_from_string(data)  # the whole file is fine
    out = tmp_path / "o.tflite"
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        convert(path, np.zeros((4, 4), np.float32), output=out)
    assert not out.exists()


def test_onnx_op_with_no_tflite_equivalent_is_named(tmp_path: Path) -> None:
    need_module("onnx")
    from onnx import TensorProto, helper

    from edgekit import convert
    from edgekit.errors import UnsupportedOpError
    from edgekit.frontends.forecast import forecast

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Det", ["r"], ["y"],
                                                                                       name="the_det")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "det.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    with pytest.raises(UnsupportedOpError, match=r"Det \(node the_det\)"):
        convert(path, np.zeros((4, 3, 3), np.float32), output=tmp_path / "o.tflite")
    assert not (tmp_path / "o.tflite").exists()
    assert forecast(path).unsupported == ["Det"]


def test_pt2_from_a_newer_torch_names_both_versions(trained: dict, tmp_path: Path) -> None:
    import torch

    from edgekit import convert
    from edgekit.errors import ModelError

    model, (x_train, *_) = trained["mlp"]
    good = tmp_path / "good.pt2"
    torch.export.save(torch.export.export(model, (torch.from_numpy(x_train[:1]),)), str(good))
    newer = tmp_path / "newer.pt2"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("models/model.json"):
                meta = json.loads(data)
                meta["schema_version"] = {"major": meta["schema_version"]["major"] + 1, "minor": 0}
                meta["torch_version"] = "2.99.0"
                data = json.dumps(meta).encode()
            dst.writestr(item, data)
    out = tmp_path / "o.tflite"
    with pytest.raises(ModelError, match=r"saved by torch 2\.99\.0.*this is torch 2\.") as err:
        convert(newer, x_train[:8], output=out)
    assert "export it again" in (err.value.hint or "")
    assert not out.exists()


def test_converter_crash_and_timeout_leave_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    need_module("onnx")
    from onnx import TensorProto, helper

    from edgekit import convert
    from edgekit.errors import ModelError, NativeCrash
    from edgekit.frontends import _child

    need_module("torch")
    need_module("litert_torch")
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "relu.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    out = tmp_path / "o.tflite"
    crash = "import os, signal, sys; print('converter: lowering conv', file=sys.stderr); os.kill(os.getpid(), 11)"
    monkeypatch.setattr(_child, "WORKER_ARGV", [sys.executable, "-c", crash])
    with pytest.raises(NativeCrash, match="crashed \\(SIGSEGV\\): converter: lowering conv"):
        convert(path, np.zeros((4, 4), np.float32), output=out)
    monkeypatch.setattr(_child, "WORKER_ARGV", [sys.executable, "-c", "import time; time.sleep(60)"])
    from edgekit.frontends.convert import convert_source

    with pytest.raises(ModelError, match="did not finish within 1 s"):
        convert_source(path, np.zeros((4, 4), np.float32), output=out, timeout=1.0)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relu.onnx"]


def test_missing_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from edgekit.errors import ToolMissing
    from edgekit.frontends import require

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "litert_torch" else real(name))
    with pytest.raises(ToolMissing, match="litert_torch") as err:
        require("pt2")
    assert err.value.hint == "pip install 'edgekit[torch]'"
    with pytest.raises(ToolMissing) as err:
        require("onnx")
    assert "edgekit[onnx]" in err.value.hint


def test_inspect_onnx_and_pt2_forecast(trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    from edgekit.cli import run

    model, (x_train, *_) = trained["cnn"]
    onnx_path, pt2 = tmp_path / "cnn.onnx", tmp_path / "cnn.pt2"
    torch.onnx.export(model, (torch.from_numpy(x_train[:1]),), str(onnx_path), dynamo=False)
    torch.export.save(torch.export.export(model, (torch.from_numpy(x_train[:1]),)), str(pt2))
    params = sum(p.numel() for p in model.parameters())
    # conv MACs by hand: 8x8 maps, then 4x4 -> 2x2 after the pool and the stride-2 conv
    macs = 64 * 16 * 9 + 64 * 16 * 9 + 64 * 32 * 16 + 4 * 32 * 32 * 9 + 32 * 10
    for path in (onnx_path, pt2):
        assert run(["inspect", str(path), "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["macs"] == macs and d["unsupported"] == [] and d["device_layout"] == "NHWC"
        assert d["input_shape"] == [1, 1, 8, 8]
        # BatchNorm: ONNX export folds it into the convs (-2C, +C bias); .pt2 counts its running statistics (+2C+1)
        bn = 16 + 16 + 32
        assert params - 2 * bn <= d["params"] <= params + 2 * bn + 3


def test_cli_help_and_inspect_tflite_do_not_import_torch() -> None:
    code = ("import sys, edgekit.cli.inspect, edgekit.cli.convert, edgekit.conversion, edgekit.frontends, "
            "edgekit.frontends.layout, edgekit.validation, edgekit.benchmarking, edgekit.cli.sweep, edgekit.sweeps; "
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnx', 'litert_torch', 'onnxruntime', "
            "'ray'}); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_layout_flag_moves_channels_first_data_to_the_device_layout(tmp_path: Path) -> None:
    from edgekit.errors import DataError, UsageError
    from edgekit.frontends.layout import apply_layout

    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # N, C, H, W
    np.save(tmp_path / "x.npy", x)
    y = apply_layout(tmp_path / "x.npy", "nchw")
    assert y.shape == (2, 4, 5, 3) and y[1, 2, 3, 0] == x[1, 0, 2, 3] and y[0, 1, 4, 2] == x[0, 2, 1, 4]
    seq = np.arange(2 * 3 * 7, dtype=np.float32).reshape(2, 3, 7)  # N, C, L -> N, 1, L, C
    z = apply_layout(seq, "nchw")
    assert z.shape == (2, 1, 7, 3) and z[1, 0, 6, 2] == seq[1, 2, 6]
    assert apply_layout("as-is.npy", "nhwc") == "as-is.npy" and apply_layout(x, None) is x
    with pytest.raises(DataError, match="expected a batch"):
        apply_layout(np.zeros((4, 64), np.float32), "nchw")
    with pytest.raises(UsageError):
        apply_layout(x, "chw")
