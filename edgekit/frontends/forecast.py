"""``edgekit inspect model.onnx|.pt2``: the source model's parameters and MACs, and what conversion will do.

Nothing is converted here: the ONNX graph is read with ``onnx`` (shape inference for the MACs); a
``.pt2`` is loaded with ``torch.export.load`` (shapes from the exported graph). Each source op is
listed with the TFLite op(s) it becomes on edgekit's route, or "no TFLite equivalent".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# aten op (torch.export, after edgekit's channels-last wrapper) -> TFLite op(s) on the litert-torch route
ATEN = {
    "conv2d": "CONV_2D / DEPTHWISE_CONV_2D", "conv1d": "CONV_2D (1-D as 1×L)", "linear": "FULLY_CONNECTED",
    "batch_norm": "folded into the previous conv", "_native_batch_norm_legit_no_training": "folded into the conv",
    "relu": "fused activation / RELU", "hardtanh": "fused RELU6", "relu6": "RELU6 (float: use nn.ReLU6)",
    "hardswish": "HARD_SWISH", "hardsigmoid": "HARD_SWISH parts", "sigmoid": "LOGISTIC", "tanh": "TANH",
    "silu": "LOGISTIC + MUL (rewritten)",
    "gelu": "MUL×4 + ADD + LOGISTIC (rewritten: TFLM has no GELU)",
    "max_pool2d": "MAX_POOL_2D", "avg_pool2d": "AVERAGE_POOL_2D",
    "adaptive_avg_pool2d": "MEAN", "adaptive_avg_pool1d": "TRANSPOSE + MEAN", "mean": "MEAN",
    "flatten": "RESHAPE (or nothing)", "view": "RESHAPE", "reshape": "RESHAPE", "add": "ADD", "mul": "MUL",
    "cat": "CONCATENATION", "softmax": "SOFTMAX", "permute": "TRANSPOSE", "dropout": "nothing",
    "squeeze": "RESHAPE", "unsqueeze": "RESHAPE", "pad": "PAD", "clamp": "MINIMUM/MAXIMUM",
}


@dataclass
class SourceOp:
    """One kind of source op: how many, and what it becomes."""

    op: str
    count: int
    maps_to: str | None  # None: no TFLite equivalent on this route


@dataclass
class SourceForecast:
    """What ``edgekit inspect`` says about an ``.onnx`` or ``.pt2`` model before conversion."""

    path: str
    framework: str
    input_shape: list[int]
    layout: str
    device_layout: str
    params: int
    macs: int
    ops: list[SourceOp] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unsupported(self) -> list[str]:
        """Source ops with no TFLite equivalent (conversion will refuse them)."""
        return [o.op for o in self.ops if o.maps_to is None]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["unsupported"] = self.unsupported
        return d


def forecast(path: str | Path) -> SourceForecast:
    """Read an ``.onnx`` or ``.pt2`` model and forecast its conversion (raises ModelError / ToolMissing)."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return _onnx(path)
    return _pt2(path)


def _layouts(shape: list[int]) -> tuple[str, str]:
    return {4: ("NCHW", "NHWC"), 3: ("NCL", "N1LC"), 2: ("NC", "NC")}.get(len(shape), ("as exported", "as exported"))


def _onnx(path: Path) -> SourceForecast:
    import onnx

    from edgekit.frontends.onnx_graph import SUPPORTED, graph_inputs, load_onnx

    model = load_onnx(path)
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {vi.name: [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
              for vi in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]}
    init = {t.name: list(t.dims) for t in model.graph.initializer}
    params = sum(math.prod(d) for d in init.values())
    macs = 0
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
        out = shapes.get(node.output[0])
        w = init.get(node.input[1]) if len(node.input) > 1 else None
        if out and w and node.op_type == "Conv":
            macs += math.prod(out) * math.prod(w[1:])
        elif out and w and node.op_type in ("Gemm", "MatMul"):
            macs += math.prod(out) * (w[0] if node.op_type == "MatMul" or not _attr(node, "transB") else w[1])
    shape = list(graph_inputs(model)[0][1]) if graph_inputs(model) else []
    ops = [SourceOp(op, n, SUPPORTED.get(op)) for op, n in sorted(counts.items())]
    lay, dev = _layouts(shape)
    return SourceForecast(str(path), "ONNX (reference: onnxruntime)", shape, lay, dev, params, macs, ops,
                          ["route: ONNX -> torch graph -> litert-torch (PT2E int8); channels-last input"])


def _attr(node: Any, name: str) -> Any:
    return next((a.i for a in node.attribute if a.name == name), 0)


def _pt2(path: Path) -> SourceForecast:
    from edgekit.frontends import require

    require("pt2")
    import torch

    from edgekit.errors import ModelError

    try:
        program = torch.export.load(str(path))
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{path}: torch.export.load failed (torch {torch.__version__}): {text}",
                         hint="export it again with this torch (torch.export.save)") from None
    params = sum(int(t.numel()) for t in program.state_dict.values())
    params += sum(int(t.numel()) for t in program.constants.values() if isinstance(t, torch.Tensor))
    counts: dict[str, int] = {}
    macs = 0
    shape: list[int] = []
    for node in program.graph.nodes:
        if node.op == "placeholder" and not shape and node.name in program.graph_signature.user_inputs:
            shape = list(node.meta["val"].shape)
        if node.op != "call_function":
            continue
        name = str(node.target).split(".")[1] if str(node.target).startswith("aten.") else str(node.target)
        counts[name] = counts.get(name, 0) + 1
        out = node.meta.get("val")
        if name in ("conv1d", "conv2d", "linear") and out is not None:
            w = node.args[1].meta["val"].shape
            macs += math.prod(out.shape) * (math.prod(w[1:]) if name != "linear" else w[1])
    ops = [SourceOp(op, n, ATEN.get(op)) for op, n in sorted(counts.items())]
    lay, dev = _layouts(shape)
    return SourceForecast(str(path), f"PyTorch {torch.__version__} (torch.export)", shape, lay, dev, params, macs,
                          ops, ["route: litert-torch (PT2E int8); channels-last input"])


def render(f: SourceForecast, console: Any) -> None:
    """Print a forecast as a rich table."""
    from rich.table import Table

    console.print(f"{f.path}: {f.framework}, input {f.input_shape} ({f.layout}; the device takes {f.device_layout})")
    console.print(f"parameters {f.params:,}, MACs {f.macs:,}")
    table = Table(title="source ops -> TFLite")
    for col in ("op", "count", "becomes"):
        table.add_column(col)
    for o in f.ops:
        table.add_row(o.op, str(o.count), o.maps_to or "[bold red]no TFLite equivalent[/]")
    console.print(table)
    for n in f.notes:
        console.print(f"[dim]{n}[/]")
    if f.unsupported:
        console.print(f"[bold red]conversion will refuse:[/] {', '.join(f.unsupported)}")
