"""GELU, SiLU and erf rewritten into int8 ops that TFLM and edgekit's runtime both run.

litert-torch lowers ``aten.gelu`` to TFLite's GELU builtin, which TFLM has no kernel for (its
kernels/ tree has none), and leaves ``aten.silu`` float (its LOGISTIC needs the fixed 1/256 output
scale the quantizer only gives a plain ``sigmoid``). So before quantization the exported graph's

- ``silu(x)``                -> ``x * sigmoid(x)``                         (LOGISTIC, MUL; exact)
- ``gelu(x)`` (tanh or erf)  -> ``x * sigmoid(x * (K1 + K2 * x * x))``     (MUL, MUL, ADD, MUL, LOGISTIC, MUL)
- ``erf(z)`` (ONNX's GELU)   -> ``2 * sigmoid(z * (E1 + E2 * z * z)) - 1``

16x8 models take ``tanh_sum``, the same function as ``x * sigmoid(K2 * x^3 + K1 * x)`` (7 ops): TFLite's
int16 ADD refuses the broadcast constant of ``K1 + ...`` (measured: converter error). The GELU form is the
tanh approximation written with a sigmoid (``0.5 * (1 + tanh(u)) ==
sigmoid(2u)``): exact for ``approximate="tanh"``, within 5e-4 of the erf form (far below one int8
step). Measured against ``x * sigmoid(1.702 x)`` (3 ops, up to 0.02 off the erf form) on an MLP and a CNN
with erf GELUs and SiLU: output SQNR against PyTorch 35.3 vs 34.7 dB and 45.9 vs 44.0 dB, for 3 more int8
ops per GELU (``benchmarks/results/gelu_forms.json``, ``benchmarks/gelu_forms.py``); the tanh form is the
default, ``gelu_form="sigmoid1702"`` the cheaper one.
Runs in the converter's child process only (needs torch).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

K1 = 2.0 * math.sqrt(2.0 / math.pi)  # GELU(x) = x * sigmoid(K1 * x + K2 * x^3)
K2 = K1 * 0.044715
E1 = 2.0 * 2.0 / math.sqrt(math.pi)  # erf(z) = 2 * sigmoid(E1 * z + E2 * z^3) - 1 (the same approximation)
E2 = E1 * 0.044715 * 2.0
FORMS = ("tanh", "sigmoid1702", "tanh_sum")
# the TFLite ops each rewrite becomes (in graph order), for the report's list of expanded source ops
BECOMES = {
    "silu": ["LOGISTIC", "MUL"],
    "gelu": ["MUL", "MUL", "ADD", "MUL", "LOGISTIC", "MUL"],
    "gelu/sigmoid1702": ["MUL", "LOGISTIC", "MUL"],
    "gelu/tanh_sum": ["MUL", "MUL", "MUL", "MUL", "ADD", "LOGISTIC", "MUL"],
    "erf": ["MUL", "MUL", "ADD", "MUL", "LOGISTIC", "MUL", "SUB"],
}


def decompose(gm: Any, gelu_form: str = "tanh") -> tuple[Any, dict[str, int]]:
    """Rewrite GELU/SiLU/erf nodes of an FX graph module in place; return it and {rewrite: count}.

    The rewrite names are :data:`BECOMES`'s keys.
    """
    import torch

    aten = torch.ops.aten
    g = gm.graph
    done: Counter[str] = Counter()
    for node in list(g.nodes):
        if node.op != "call_function":
            continue
        if node.target in (aten.silu.default, aten.silu_.default):
            kind = "silu"
        elif node.target == aten.gelu.default:
            kind = "gelu"
        elif node.target == aten.erf.default:
            kind = "erf"
        else:
            continue
        with g.inserting_before(node):
            out = _emit(gm, kind, node.args[0], gelu_form)
        node.replace_all_uses_with(out)
        g.erase_node(node)
        done[kind + (f"/{gelu_form}" if kind == "gelu" and gelu_form != "tanh" else "")] += 1
    if done:
        g.lint()
        gm.recompile()
    return gm, dict(done)


def _emit(gm: Any, kind: str, x: Any, gelu_form: str) -> Any:
    """Insert the replacement of ``kind``(``x``) at the graph's insertion point; return its output node."""
    import torch

    aten = torch.ops.aten
    rank = x.meta["val"].dim() if "val" in x.meta else 0

    def op(fn: Any, *args: Any) -> Any:
        return gm.graph.call_function(fn, tuple(_const(gm, a, rank) for a in args))

    if kind == "silu":
        return op(aten.mul.Tensor, x, op(aten.sigmoid.default, x))
    if kind == "gelu" and gelu_form == "sigmoid1702":
        return op(aten.mul.Tensor, x, op(aten.sigmoid.default, op(aten.mul.Tensor, x, 1.702)))
    if kind == "gelu" and gelu_form == "tanh_sum":  # no ADD of a constant: TFLite's int16 ADD refuses one
        cube = op(aten.mul.Tensor, op(aten.mul.Tensor, op(aten.mul.Tensor, x, x), K2), x)
        s = op(aten.sigmoid.default, op(aten.add.Tensor, cube, op(aten.mul.Tensor, x, K1)))
        return op(aten.mul.Tensor, x, s)
    k1, k2 = (K1, K2) if kind == "gelu" else (E1, E2)
    poly = op(aten.add.Tensor, op(aten.mul.Tensor, op(aten.mul.Tensor, x, x), k2), k1)
    s = op(aten.sigmoid.default, op(aten.mul.Tensor, x, poly))
    return op(aten.mul.Tensor, x, s) if kind == "gelu" else op(aten.sub.Tensor, op(aten.mul.Tensor, s, 2.0), 1.0)


def _const(gm: Any, value: Any, rank: int) -> Any:
    """A Python float as a constant of the tensor's rank (a 0-d scalar makes litert-torch's layout pass put
    TRANSPOSEs around the op on 4-D tensors: measured); anything else as is."""
    if not isinstance(value, float):
        return value
    import torch

    name = f"_ek_const_{len([n for n, _ in gm.named_buffers() if n.startswith('_ek_const_')])}"
    gm.register_buffer(name, torch.full([1] * rank, value))
    return gm.graph.get_attr(name)


def rewrite_module(module: Any, sample: Any, gelu_form: str = "tanh") -> tuple[Any, dict[str, int]]:
    """Export ``module`` on ``sample``, decompose it, and re-export (fresh shape metadata for the quantizer)."""
    import torch

    gm = torch.export.export(module, (sample,)).module()
    gm, done = decompose(gm, gelu_form)
    if done:
        gm = torch.export.export(gm, (sample,)).module()
    return gm, done
