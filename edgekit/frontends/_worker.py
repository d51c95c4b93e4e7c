"""The child process of the PyTorch/ONNX route: ``python -m edgekit.frontends._worker JOB_DIR``.

Route (chosen by measurement, see benchmarks/convert.py): the source becomes a torch module
(``.pt2`` via ``torch.export.load``, ONNX via :mod:`edgekit.frontends.onnx_graph`), is wrapped so
its input is channels-last (the NCHW -> NHWC permute then folds away in litert-torch's layout
passes: no TRANSPOSE at the input), quantized with PT2E (litert-torch's quantizer: int8
per-channel weights, int8 activations calibrated with histograms) and lowered by litert-torch to
a full-int8 TFLite with int8 I/O. The float TFLite of the same wrapper is the per-layer reference.

The child also computes the report's figures: the source framework's float outputs (PyTorch,
or onnxruntime for ONNX) and the int8 model's outputs (LiteRT builtin kernels without delegates,
which match TFLM) on the validation data, and per-layer SQNR int8 vs float TFLite where the two
graphs have the same op sequence. Errors go to ``result.json`` as ``{"error", "hint", "kind"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.frontends.layout import to_device_layout

LAYER_SAMPLES = 50


class JobError(Exception):
    """An error worth reporting as is (kind ``unsupported`` maps to UnsupportedOpError in the parent)."""

    def __init__(self, message: str, hint: str | None = None, kind: str = "model") -> None:
        super().__init__(message)
        self.hint, self.kind = hint, kind


def _channels_last(module: Any, rank: int) -> Any:
    """Wrap ``module`` so it takes the device layout (a permute that litert-torch folds away)."""
    import torch

    class ChannelsLast(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            if rank == 4:  # NHWC -> NCHW
                return self.inner(x.permute(0, 3, 1, 2))
            # N1LC -> NCL: kept 4-D so the 1D convs lower to CONV_2D with no transposes around them
            return self.inner(x.permute(0, 3, 1, 2).squeeze(2))

    if rank not in (3, 4):
        return module
    wrapper = ChannelsLast(module)
    wrapper.training = False  # not .eval(): a torch.export program's module() refuses train()/eval()
    return wrapper


def _source_module(job: dict[str, Any]) -> tuple[Any, Any]:
    """(torch module in the source layout, reference function batch -> float outputs)."""
    import torch

    path = job["model_path"]
    if job["kind"] == "onnx":
        from edgekit.frontends.onnx_graph import check_onnx, to_torch

        onnx_model = check_onnx(path)
        import onnxruntime as ort

        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return to_torch(onnx_model), lambda x: sess.run(None, {name: x})[0]
    try:
        program = torch.export.load(path)
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        saved_by = saved_with(path)
        raise JobError(f"{path}: torch.export.load failed ({saved_by}; this is torch {torch.__version__}): {text}",
                       hint="a .pt2 must come from torch.export.save with the same or an older torch; "
                            "export it again with this torch, or pass the nn.Module from Python") from None
    module = program.module()

    def reference(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.from_numpy(x))
        return (out[0] if isinstance(out, (tuple, list)) else out).numpy()

    return module, reference


def saved_with(path: str) -> str:
    """"saved by torch X (schema M.m)" from a .pt2 archive's models/model.json, or "saved by an unknown torch"."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith("models/model.json"))
            meta = json.loads(z.read(name))
        schema = meta.get("schema_version") or {}
        return f"saved by torch {meta.get('torch_version', '?')} (schema {schema.get('major')}.{schema.get('minor')})"
    except Exception:
        return "saved by an unknown torch"


def _source_ops(module: Any, sample: Any) -> dict[str, int]:
    """aten op counts of the exported source graph (for the report and the extra-op comparison)."""
    import torch

    graph = torch.export.export(module, (sample,)).graph
    return dict(Counter(str(n.target).split(".")[1] if str(n.target).startswith("aten.") else str(n.target)
                        for n in graph.nodes if n.op == "call_function"))


def convert_job(job: dict[str, Any], arrays: dict[str, np.ndarray], out_dir: Path) -> dict[str, Any]:
    """Do the conversion and evaluation; write ``int8.tflite``/``float.tflite``; return the result dict."""
    import torch

    torch.set_num_threads(1)
    calib = arrays["calib"]
    rank = calib.ndim
    src, reference = _source_module(job)  # before importing litert-torch: a bad .pt2 fails in seconds
    import litert_torch
    from litert_torch.quantize import quant_config as qc
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from edgekit.frontends._decompose import rewrite_module
    from edgekit.frontends._quantizer import make_quantizer

    dev_calib = to_device_layout(calib)
    if not job.get("channels_last", True):  # measured alternative (benchmarks): the NCHW input kept as is
        dev_calib, rank = calib, 0
    model = _channels_last(src, rank)
    sample = torch.from_numpy(dev_calib[:1])
    t0 = time.perf_counter()
    try:
        source_ops = _source_ops(src, torch.from_numpy(calib[:1]))
        acts = job.get("activations", "int8")
        gelu_form = job.get("gelu_form", "tanh")
        model, rewrites = rewrite_module(model, sample, "tanh_sum" if acts == "int16" and gelu_form == "tanh"
                                         else gelu_form)
        quantizer = make_quantizer(acts)
        prepared = prepare_pt2e(torch.export.export(model, (sample,)).module(), quantizer)
        with torch.no_grad():
            for i in range(len(dev_calib)):
                prepared(torch.from_numpy(dev_calib[i : i + 1]))
        quantized = convert_pt2e(prepared, fold_quantize=False)
        int8 = litert_torch.convert(quantized, (sample,), quant_config=qc.QuantConfig(pt2e_quantizer=quantizer))
        int8_bytes = bytes(int8.model_content())
        if acts == "int16":
            from edgekit.frontends._bias64 import widen_bias

            int8_bytes, _ = widen_bias(int8_bytes)
        t1 = time.perf_counter()
        float_bytes = bytes(litert_torch.convert(model, (sample,)).model_content())
    except JobError:
        raise
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise JobError(f"litert-torch could not convert the model: {type(exc).__name__}: {text}",
                       hint=("16x8: TFLite's int16 ADD/MUL refuse some constant operands (e.g. ONNX's "
                             "spelled-out GELU, opset < 20: export with opset 20+ or convert with int8); "
                             if job.get("activations") == "int16" else "")
                       + "the PyTorch route handles torch.export-able models of standard layers; "
                         "see the converter's message") from None
    t2 = time.perf_counter()
    (out_dir / "int8.tflite").write_bytes(int8_bytes)
    (out_dir / "float.tflite").write_bytes(float_bytes)
    result: dict[str, Any] = {"convert_seconds": t1 - t0, "float_convert_seconds": t2 - t1,
                              "source_ops": source_ops, "torch": torch.__version__, "rewrites": rewrites,
                              "device_layout": {4: "NHWC", 3: "N1LC", 2: "NC"}.get(rank, "as source"),
                              "device_shape": [1, *dev_calib.shape[1:]]}
    val = arrays.get("val")
    data = val if val is not None else calib
    t3 = time.perf_counter()
    ref = np.concatenate([np.asarray(reference(data[i : i + 1]), np.float32).reshape(1, -1)
                          for i in range(len(data))])
    q_out, layers = _evaluate(int8_bytes, float_bytes, to_device_layout(data) if rank else data)
    np.save(out_dir / "source_out.npy", ref)
    np.save(out_dir / "int8_out.npy", q_out)
    result.update(layers=layers, eval_seconds=time.perf_counter() - t3,
                  eval_data="validation data" if val is not None else "calibration data")
    return result


def _evaluate(int8_bytes: bytes, float_bytes: bytes, x: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Dequantized int8 outputs for ``x`` (device layout), and per-layer SQNR int8 vs float TFLite."""
    from edgekit._quant_eval import make_interpreter

    q = make_interpreter(int8_bytes)
    q.allocate_tensors()
    qi, qo = q.get_input_details()[0], q.get_output_details()[0]
    s_in, z_in = qi["quantization"]
    s_out, z_out = qo["quantization"]
    lo, hi = np.iinfo(qi["dtype"]).min, np.iinfo(qi["dtype"]).max
    outs = []
    for i in range(len(x)):
        xq = np.clip(np.round(x[i : i + 1] / s_in) + z_in, lo, hi).astype(qi["dtype"])
        q.set_tensor(qi["index"], xq.reshape(qi["shape"]))
        q.invoke()
        outs.append((q.get_tensor(qo["index"]).astype(np.float32).reshape(1, -1) - z_out) * s_out)
    return np.concatenate(outs), _layer_sqnr(int8_bytes, float_bytes, x[:LAYER_SAMPLES])


def _layer_sqnr(int8_bytes: bytes, float_bytes: bytes, x: np.ndarray) -> list[dict[str, Any]]:
    """Per-op-output SQNR int8 vs float TFLite, ops matched by position.

    Both graphs come from the same wrapper, so their compute ops come in the same order; the int8 graph
    may add requantizing QUANTIZE ops and either may have RESHAPEs the other folded; those are skipped.
    When the remaining sequences still differ, no layer is matched (empty list).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    def interp(buf: bytes) -> Any:
        it = Interpreter(model_content=buf, experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        return it

    q, f = interp(int8_bytes), interp(float_bytes)
    skip = ("QUANTIZE", "DEQUANTIZE", "RESHAPE")
    q_ops = [o for o in q._get_ops_details() if o["op_name"] not in skip]
    f_ops = [o for o in f._get_ops_details() if o["op_name"] not in skip]
    if [o["op_name"] for o in q_ops] != [o["op_name"] for o in f_ops]:
        return []
    qi, fi = q.get_input_details()[0], f.get_input_details()[0]
    s_in, z_in = qi["quantization"]
    sig, noise, worst = (np.zeros(len(q_ops)) for _ in range(3))
    for k in range(len(x)):
        lo, hi = np.iinfo(qi["dtype"]).min, np.iinfo(qi["dtype"]).max
        q.set_tensor(qi["index"], np.clip(np.round(x[k : k + 1] / s_in) + z_in, lo, hi).astype(qi["dtype"]))
        f.set_tensor(fi["index"], x[k : k + 1].astype(np.float32))
        q.invoke()
        f.invoke()
        for j, (qo, fo) in enumerate(zip(q_ops, f_ops, strict=True)):
            qt = q._get_tensor_details(qo["outputs"][0], 0)
            scale, zp = qt["quantization"]
            deq = (q.get_tensor(qt["index"]).astype(np.float32) - zp) * (scale or 1.0)
            ref = f.get_tensor(fo["outputs"][0]).astype(np.float32)
            if deq.size != ref.size:
                continue
            err = deq.reshape(ref.shape) - ref
            sig[j] += float(np.sum(ref**2))
            noise[j] += float(np.sum(err**2))
            worst[j] = max(worst[j], float(np.max(np.abs(err))))
    layers = []
    for j, qo in enumerate(q_ops):
        qt = q._get_tensor_details(qo["outputs"][0], 0)
        sqnr = float("inf") if noise[j] == 0 else float(10 * np.log10(max(sig[j], 1e-30) / noise[j]))
        layers.append({"name": f"op #{qo['index']} output", "op": qo["op_name"],
                       "shape": [int(s) for s in qt["shape"]], "dtype": np.dtype(qt["dtype"]).name,
                       "scale": float(qt["quantization"][0]), "zero_point": int(qt["quantization"][1]),
                       "sqnr_db": sqnr, "max_abs_error": float(worst[j])})
    return layers


def main() -> int:
    """Run the job in ``sys.argv[1]``; always writes ``result.json`` unless the process itself dies."""
    job_dir = Path(sys.argv[1])
    result: dict[str, Any]
    try:
        job = json.loads((job_dir / "job.json").read_text())
        with np.load(job_dir / "job.npz") as z:
            arrays = {k: z[k] for k in z.files}
        result = convert_job(job, arrays, job_dir)
    except JobError as exc:
        result = {"error": str(exc), "hint": exc.hint, "kind": exc.kind}
    except Exception as exc:
        from edgekit.errors import EdgekitError, UnsupportedOpError

        kind = "unsupported" if isinstance(exc, UnsupportedOpError) else "model"
        hint = exc.hint if isinstance(exc, EdgekitError) else "rerun with EDGEKIT_KEEP_JOB=1 and read child.log"
        result = {"error": f"{type(exc).__name__}: {exc}", "hint": hint, "kind": kind,
                  "traceback": traceback.format_exc()}
        print(result["traceback"], file=sys.stderr)
    (job_dir / "result.json").write_text(json.dumps(result, default=float))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (TF/litert native atexit handlers have crashed there)


if __name__ == "__main__":
    main()
