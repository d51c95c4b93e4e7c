"""Which int8 form of GELU to emit for PyTorch/ONNX models (TFLM has no GELU kernel): measured, not asserted.

A small MLP and CNN with GELU (erf form, PyTorch's default) and SiLU, random weights, inputs N(0, 1):
converted through edgekit's PyTorch route with each GELU form of ``edgekit.frontends._decompose``
(``tanh``: ``x * sigmoid(x * (K1 + K2 x^2))``, 6 int8 ops; ``sigmoid1702``: ``x * sigmoid(1.702 x)``, 3 ops).
Per form: the int8 model's output SQNR and top-1 agreement against PyTorch's float outputs, its op counts,
and the form's own float error against exact GELU on [-6, 6]. Writes benchmarks/results/gelu_forms.json.

    python benchmarks/gelu_forms.py
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "gelu_forms.json"


def _models() -> dict:
    import torch

    torch.manual_seed(0)
    F = torch.nn.functional

    class Mlp(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = torch.nn.Linear(32, 64), torch.nn.Linear(64, 64), torch.nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.c(F.silu(self.b(F.gelu(self.a(x)))))

    class Cnn(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.Conv2d(16, 16, 3, padding=1)
            self.fc = torch.nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.silu(self.c2(F.gelu(self.c1(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    rng = np.random.default_rng(0)
    return {"mlp": (Mlp().eval(), rng.normal(size=(300, 32)).astype(np.float32)),
            "cnn": (Cnn().eval(), rng.normal(size=(300, 3, 12, 12)).astype(np.float32))}


def _float_error(form: str) -> float:
    from edgekit.frontends._decompose import K1, K2

    x = np.linspace(-6, 6, 12001)
    exact = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    z = x * (K1 + K2 * x * x) if form == "tanh" else 1.702 * x
    return float(np.max(np.abs(x / (1 + np.exp(-z)) - exact)))


def main() -> None:
    from edgekit.frontends.convert import convert_source

    rows = []
    for name, (model, x) in _models().items():
        for form in ("tanh", "sigmoid1702"):
            t0 = time.perf_counter()
            rep = convert_source(model, x[:100], sample=x[:1], val=x[100:], gelu_form=form).report
            rows.append({"model": name, "gelu_form": form, "output_sqnr_db": rep.output_sqnr_db,
                         "top1_agreement": rep.top1_agreement, "ops": rep.ops,
                         "int8_ops": sum(rep.ops.values()), "float_max_abs_error_vs_erf_gelu": _float_error(form),
                         "convert_seconds": round(time.perf_counter() - t0, 1)})
            print(f"{name:4s} {form:12s} SQNR {rep.output_sqnr_db:6.2f} dB  agreement {rep.top1_agreement:.3f}  "
                  f"ops {sum(rep.ops.values())}")
    RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
