"""ONNX -> a ``torch.nn.Module`` that runs the same graph with torch ops, so ONNX models take the PyTorch route.

Why not onnx2tf or onnx2torch (measured, see docs/notes): onnx2tf 1.29 pins tensorflow 2.19 and
onnx 1.19, onnx2tf 2.x needs Python >= 3.12, and 1.28 imports ``tf_keras``, which drags in the
full ``tensorflow`` wheel beside ``tensorflow-cpu``; onnx2torch imports torchvision, which does not
import beside the CPU torch build. The ops below are what CNNs, MLPs and 1D-conv models exported
by ``torch.onnx.export`` use; anything else is refused up front with the op named
(:func:`check_onnx`), before any converter starts.

:func:`check_onnx` needs only ``onnx``; :func:`to_torch` needs ``torch`` too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import ModelError, ToolMissing, UnsupportedOpError

# ONNX op -> the TFLite op(s) it becomes on the PyTorch route (for `inspect`'s forecast)
SUPPORTED = {
    "Conv": "CONV_2D / DEPTHWISE_CONV_2D (+PAD for asymmetric padding)", "Gemm": "FULLY_CONNECTED",
    "MatMul": "FULLY_CONNECTED / BATCH_MATMUL", "Add": "ADD (or fused into the previous op's bias)",
    "Sub": "SUB", "Mul": "MUL", "Div": "MUL (by a constant) / DIV", "Relu": "fused activation / RELU",
    "Clip": "fused RELU6 / RELU_N1_TO_1 / MINIMUM+MAXIMUM", "Sigmoid": "LOGISTIC", "Tanh": "TANH",
    "HardSwish": "HARD_SWISH", "HardSigmoid": "HARD_SWISH parts (MUL/ADD/RELU6)", "LeakyRelu": "LEAKY_RELU",
    "BatchNormalization": "folded into the previous conv (else MUL+ADD)", "MaxPool": "MAX_POOL_2D",
    "AveragePool": "AVERAGE_POOL_2D", "GlobalAveragePool": "MEAN", "ReduceMean": "MEAN",
    "Flatten": "RESHAPE (or nothing)", "Reshape": "RESHAPE", "Softmax": "SOFTMAX", "Concat": "CONCATENATION",
    "Identity": "nothing", "Dropout": "nothing", "Constant": "a constant tensor", "Transpose": "TRANSPOSE",
    "Squeeze": "RESHAPE", "Unsqueeze": "RESHAPE", "Gelu": "MUL×4 + ADD + LOGISTIC (TFLM has no GELU)",
    "Erf": "MUL×4 + ADD + LOGISTIC + SUB (tanh approximation)",
}


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ToolMissing("reading .onnx models needs the 'onnx' package",
                          hint="pip install 'edgekit[onnx]'") from None
    return onnx


def load_onnx(path: str | os.PathLike) -> Any:
    """Parse and check an ``.onnx`` file; a damaged or truncated file is a :class:`ModelError`."""
    onnx = _import_onnx()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file", hint="pass an .onnx file exported with torch.onnx.export")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{path}: not a valid ONNX model (truncated or damaged?): {first}",
                         hint="export it again (torch.onnx.export) and check the copy is complete") from None
    if not model.graph.node:
        raise ModelError(f"{path}: the ONNX graph has no nodes")
    return model


def check_onnx(path: str | os.PathLike) -> Any:
    """:func:`load_onnx` plus refusal of ops this route cannot map (named, with their node names)."""
    model = load_onnx(path)
    bad: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED:
            bad.setdefault(node.op_type, []).append(node.name or node.output[0])
    if bad:
        listed = "; ".join(f"{op} (node {', '.join(names[:3])})" for op, names in sorted(bad.items()))
        raise UnsupportedOpError(f"{Path(path)}: ONNX op(s) with no TFLite equivalent on edgekit's route: {listed}",
                                 hint="replace those ops in the source model; supported: "
                                      + ", ".join(sorted(SUPPORTED)))
    inputs = graph_inputs(model)
    if len(inputs) != 1:
        raise ModelError(f"{Path(path)}: {len(inputs)} graph inputs; only single-input models are supported")
    return model


def graph_inputs(model: Any) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of the real inputs (initializers listed as inputs by old exporters are skipped).

    A symbolic or unknown dimension is read as 1 (batch of one).
    """
    init = {t.name for t in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in init:
            continue
        dims = vi.type.tensor_type.shape.dim
        out.append((vi.name, tuple(int(d.dim_value) if d.dim_value > 0 else 1 for d in dims)))
    return out


def to_torch(model: Any) -> Any:
    """A ``torch.nn.Module`` computing ``model`` (an ``onnx.ModelProto`` that passed :func:`check_onnx`)."""
    import torch
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(_attrs(node)["value"])

    class OnnxGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self._names = {}
            for k, (name, value) in enumerate(consts.items()):
                arr = np.array(value)
                self.register_buffer(f"c{k}", torch.from_numpy(arr.copy()))
                self._names[name] = f"c{k}"
            self._nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in model.graph.node
                           if n.op_type != "Constant"]
            self._input = graph_inputs(model)[0][0]
            self._outputs = [o.name for o in model.graph.output]

        def forward(self, x: Any) -> Any:
            env: dict[str, Any] = {self._input: x}
            for name, buf in self._names.items():
                env[name] = getattr(self, buf)
            for op, ins, outs, attrs in self._nodes:
                args = [env[i] if i else None for i in ins]
                env[outs[0]] = _run(op, args, attrs, consts, ins)
            res = [env[o] for o in self._outputs]
            return res[0] if len(res) == 1 else tuple(res)

    return OnnxGraph().eval()


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _const(consts: dict[str, np.ndarray], name: str | None) -> np.ndarray | None:
    return None if not name else consts.get(name)


def _run(op: str, a: list[Any], at: dict[str, Any], consts: dict[str, np.ndarray], names: list[str]) -> Any:
    """One ONNX node with torch ops (static shapes: shape-like inputs must be constants)."""
    import torch
    import torch.nn.functional as F

    if op in ("Identity", "Dropout"):
        return a[0]
    if op == "Conv":
        return _conv(a, at)
    if op == "Gemm":  # one F.linear (bias included) so the quantizer sees a single FULLY_CONNECTED
        x, w = a[0], a[1]
        x = x.t() if at.get("transA") else x
        w = w if at.get("transB") else w.t()
        alpha, beta = at.get("alpha", 1.0), at.get("beta", 1.0)
        b = a[2] if len(a) > 2 else None
        if b is not None and (beta != 1.0 or b.dim() != 1):
            b = (b * beta).reshape(-1) if b.numel() == w.shape[0] else None
            if b is None:
                raise UnsupportedOpError("Gemm with a bias that is not one value per output is not supported")
        return F.linear(x, w * alpha if alpha != 1.0 else w, b)
    binary = {"MatMul": torch.matmul, "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}
    if op in binary:
        x, y = a[0], a[1]
        if op != "MatMul":  # one-element constants at full rank: litert-torch's layout pass puts
            x, y = _full_rank(x, y), _full_rank(y, x)  # TRANSPOSEs around 4-D ops with 0-d operands (measured)
        return binary[op](x, y)
    unary = {"Relu": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "HardSwish": F.hardswish,
             "Erf": torch.erf}
    if op in unary:
        return unary[op](a[0])
    if op == "LeakyRelu":
        return F.leaky_relu(a[0], at.get("alpha", 0.01))
    if op == "Gelu":
        return F.gelu(a[0], approximate=at.get("approximate", b"none").decode() if isinstance(
            at.get("approximate"), bytes) else at.get("approximate", "none"))
    if op == "HardSigmoid":
        return torch.clamp(a[0] * at.get("alpha", 0.2) + at.get("beta", 0.5), 0.0, 1.0)
    if op == "Clip":
        lo = at.get("min", None if len(names) < 2 else _scalar(consts, names[1]))
        hi = at.get("max", None if len(names) < 3 else _scalar(consts, names[2]))
        if lo == 0.0 and hi == 6.0:
            return F.hardtanh(a[0], 0.0, 6.0)  # as nn.ReLU6 exports: the quantizer knows hardtanh, not relu6
        return torch.clamp(a[0], lo, hi)
    if op == "BatchNormalization":
        return F.batch_norm(a[0], a[3], a[4], a[1], a[2], False, 0.0, at.get("epsilon", 1e-5))
    if op in ("MaxPool", "AveragePool"):
        return _pool(op, a[0], at)
    if op == "GlobalAveragePool":  # adaptive pooling: the op litert-torch's int8 quantizer annotates
        pool = {3: F.adaptive_avg_pool1d, 4: F.adaptive_avg_pool2d}.get(a[0].dim())
        return pool(a[0], 1) if pool else a[0].mean(dim=tuple(range(2, a[0].dim())), keepdim=True)
    if op == "ReduceMean":
        axes = at.get("axes") or (_const(consts, names[1]).tolist() if len(names) > 1 else None)
        dims = tuple(axes) if axes is not None else tuple(range(a[0].dim()))
        return a[0].mean(dim=dims, keepdim=bool(at.get("keepdims", 1)))
    if op == "Flatten":
        axis = at.get("axis", 1) % max(a[0].dim(), 1)
        return a[0].reshape(*a[0].shape[:axis], -1) if axis else a[0].reshape(1, -1)
    if op == "Reshape":
        shape = [int(s) for s in _const(consts, names[1]).tolist()]
        shape = [a[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return a[0].reshape(shape)
    if op == "Softmax":
        return torch.softmax(a[0], dim=at.get("axis", -1))
    if op == "Concat":
        return torch.cat([t for t in a if t is not None], dim=at["axis"])
    if op == "Transpose":
        return a[0].permute(*at.get("perm", list(range(a[0].dim()))[::-1]))
    if op in ("Squeeze", "Unsqueeze"):
        axes = at.get("axes") or _const(consts, names[1]).tolist()
        x = a[0]
        if op == "Squeeze":
            return x.squeeze(tuple(ax % x.dim() for ax in axes))
        for ax in sorted(ax % (x.dim() + len(axes)) for ax in axes):
            x = x.unsqueeze(ax)
        return x
    raise UnsupportedOpError(f"ONNX op {op} is not supported")  # check_onnx refuses these first


def _full_rank(t: Any, other: Any) -> Any:
    """``t`` reshaped to ``other``'s rank when it is a one-element tensor of lower rank, else ``t``."""
    if t.numel() == 1 and t.dim() < other.dim():
        return t.reshape([1] * other.dim())
    return t


def _scalar(consts: dict[str, np.ndarray], name: str) -> float | None:
    v = _const(consts, name)
    return None if v is None else float(np.asarray(v).reshape(-1)[0])


def _pads(at: dict[str, Any], nd: int) -> tuple[list[int], bool]:
    """ONNX pads (begin..., end...) as F.pad order (last dim first), and whether they are symmetric."""
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        raise UnsupportedOpError(f"auto_pad={at['auto_pad']!r} is not supported",
                                 hint="export with explicit padding (torch.onnx.export does)")
    pads = list(at.get("pads", [0] * 2 * nd))
    begin, end = pads[:nd], pads[nd:]
    torch_order = [p for i in reversed(range(nd)) for p in (begin[i], end[i])]
    return torch_order, begin == end


def _conv(a: list[Any], at: dict[str, Any]) -> Any:
    import torch.nn.functional as F

    x, w = a[0], a[1]
    b = a[2] if len(a) > 2 else None
    nd = w.dim() - 2
    fn = {1: F.conv1d, 2: F.conv2d}.get(nd)
    if fn is None:
        raise UnsupportedOpError(f"Conv with {nd} spatial dimensions is not supported")
    pads, symmetric = _pads(at, nd)
    padding = pads[::2][::-1] if symmetric else 0
    if not symmetric:
        x = F.pad(x, pads)
    return fn(x, w, b, stride=at.get("strides", [1] * nd), padding=padding, dilation=at.get("dilations", [1] * nd),
              groups=at.get("group", 1))


def _pool(op: str, x: Any, at: dict[str, Any]) -> Any:
    import torch.nn.functional as F

    nd = x.dim() - 2
    k = at["kernel_shape"]
    pads, symmetric = _pads(at, nd)
    padding = pads[::2][::-1] if symmetric else 0
    if not symmetric:
        x = F.pad(x, pads, value=float("-inf") if op == "MaxPool" else 0.0)
    stride = at.get("strides", [1] * nd)
    ceil = bool(at.get("ceil_mode", 0))
    if op == "MaxPool":
        fn = {1: F.max_pool1d, 2: F.max_pool2d}[nd]
        return fn(x, k, stride, padding, ceil_mode=ceil)
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d}[nd]
    return fn(x, k, stride, padding, ceil_mode=ceil, count_include_pad=bool(at.get("count_include_pad", 0)))
