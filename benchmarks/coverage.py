"""Op and model coverage of edgekit's AOT runtime against TensorFlow Lite Micro.

For every operator TFLM registers (its ``MicroMutableOpResolver::Add*`` methods): whether edgekit's AOT generator
has a handler, and which test files exercise it. For every ``.tflite`` model found (``../shared/models`` and, with
``--tflm-dir``, TFLM's own examples, models and integration tests): whether the default runtime (``--runtime
auto``) would pick edgekit's runtime for it, or why not.

    python benchmarks/coverage.py [--tflm-dir TFLITE_MICRO_CHECKOUT] [-o benchmarks/results/coverage.json]

Figures, not assertions: the tests are where bit-exactness is checked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# TFLM's MicroMutableOpResolver::Add* methods (tensorflow/lite/micro/micro_mutable_op_resolver.h at tflite-micro
# 90b983c2b, 2026-11); --tflm-dir reads the list from the checkout instead.
TFLM_OPS = """Abs Add AddN ArgMax ArgMin AssignVariable AveragePool2D BatchMatMul BatchToSpaceNd BroadcastArgs
BroadcastTo CallOnce Cast Ceil CircularBuffer Concatenation Conv2D Cos CumSum Decode Delay
DepthToSpace DepthwiseConv2D Dequantize DetectionPostprocess Div DynamicUpdateSlice EmbeddingLookup
Energy Elu Equal EthosU Exp ExpandDims FftAutoScale Fill FilterBank FilterBankLog
FilterBankSquareRoot FilterBankSpectralSubtraction Floor FloorDiv FloorMod Framer FullyConnected
Gather GatherNd Greater GreaterEqual HardSwish If Irfft L2Normalization L2Pool2D LeakyRelu Less
LessEqual Log LogicalAnd LogicalNot LogicalOr Logistic LogSoftmax Maximum MaxPool2D MirrorPad Mean
Minimum Mul Neg NotEqual OverlapAdd Pack Pad PadV2 PCAN Prelu Quantize ReadVariable ReduceAll
ReduceMax ReduceMin Relu Relu6 Reshape ResizeBilinear ResizeNearestNeighbor ReverseV2 Rfft Round
Rsqrt SelectV2 Shape Sin Slice Softmax SpaceToBatchNd SpaceToDepth Split SplitV Squeeze Sqrt Square
SquaredDifference StridedSlice Stacker Sub Sum Svdf Tanh TransposeConv Transpose Unpack
UnidirectionalSequenceLSTM VarHandle While Window ZerosLike""".split()
# the TFLM signal library's audio front-end (custom ops) and what needs an NPU or runs subgraphs
SIGNAL = {"Delay", "Energy", "FftAutoScale", "FilterBank", "FilterBankLog", "FilterBankSquareRoot",
          "FilterBankSpectralSubtraction", "Framer", "Irfft", "OverlapAdd", "PCAN", "Rfft", "Stacker", "Window"}
KIND = {**dict.fromkeys(SIGNAL, "signal (custom)"), "EthosU": "NPU (custom)", "If": "control flow",
        "While": "control flow", "CircularBuffer": "custom", "DetectionPostprocess": "custom", "Decode": "custom"}
# resolver names whose builtin differs beyond case and underscores
ALIASES = {"Svdf": "SVDF", "L2Pool2D": "L2_POOL_2D", "PCAN": "PCAN"}


def tflm_ops(tflm_dir: Path | None) -> list[str]:
    """TFLM's op names: from the checkout's resolver header when given, else the list above."""
    if tflm_dir is None:
        return TFLM_OPS
    header = (tflm_dir / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    return sorted(set(re.findall(r"TfLiteStatus Add(\w+)\(", header)) - {"Custom", "Builtin"})


def builtin_name(op: str, known: set[str]) -> str | None:
    """The BuiltinOperator name of a resolver method (``AveragePool2D`` -> ``AVERAGE_POOL_2D``)."""
    if op in ALIASES:
        return ALIASES[op]
    key = op.lower()
    return next((b for b in known if b.replace("_", "").lower() == key), None)


def op_rows(ops: list[str]) -> list[dict[str, object]]:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    from edgekit.codegen.aot.ops import REGISTRY
    from edgekit.codegen.aot.ops.dispatch import FLOAT_REGISTRY

    known = {n for n in dir(s.BuiltinOperator) if n.isupper()}
    tests = {p.name: p.read_text() for p in sorted((REPO / "tests").glob("test_*.py"))}
    float_tests = {f: t for f, t in tests.items() if f.startswith("test_aot_float")}
    rows = []
    for op in ops:
        if op in SIGNAL:  # custom ops: edgekit registers them by custom_code (Signal + the resolver name)
            name = f"Signal{op}"
        else:
            name = builtin_name(op, known) if op not in KIND or "custom" not in KIND[op] else None
        tested = sorted(f for f, text in tests.items() if name and re.search(rf"\b{name}\b", text))
        in_float_tests = bool(name and any(re.search(rf'"{name}"', t) for t in float_tests.values()))
        rows.append({"tflm": op, "builtin": name, "kind": KIND.get(op, "builtin"),
                     "edgekit": bool(name and name in REGISTRY), "tests": tested,
                     "float32": _float32(name, REGISTRY, FLOAT_REGISTRY, in_float_tests)})
    return rows


def _float32(name: str | None, registry: dict, float_registry: dict, in_float_tests: bool) -> str:
    """How edgekit runs the op in float32: "kernel" (a float32 handler, ops/float_*.py), "dtype-generic" (its one
    handler moves float32 bytes; checked in the float tests' models), "bool only", or "-"."""
    if not name or name not in registry:
        return "-"
    if name in float_registry:
        return "kernel"
    if name.startswith("LOGICAL_"):
        return "bool only"  # no float32 variant in TFLM either
    return "dtype-generic" if in_float_tests else "-"


def model_rows(paths: list[Path]) -> list[dict[str, object]]:
    from edgekit.boards import load_board
    from edgekit.generation import edgekit_blocker
    from edgekit.tflite_model import load_model

    board = load_board("qemu-cortex-m4")
    rows = []
    for p in paths:
        try:
            blocker = edgekit_blocker(load_model(p), board)
        except Exception as exc:  # a file that is not a model we can read
            blocker = f"unreadable: {exc}"
        rows.append({"model": str(p), "edgekit": blocker is None, "blocker": blocker})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tflm-dir", type=Path, default=None, help="a tflite-micro checkout (its op list and models)")
    ap.add_argument("-o", "--output", type=Path, default=REPO / "benchmarks/results/coverage.json")
    args = ap.parse_args()
    ops = op_rows(tflm_ops(args.tflm_dir))
    models = sorted((REPO.parent / "shared/models").rglob("*.tflite"))
    if args.tflm_dir is not None:
        for sub in ("examples", "models", "integration_tests"):
            models += sorted((args.tflm_dir / "tensorflow/lite/micro" / sub).rglob("*.tflite"))
    mrows = model_rows(models)
    builtin = [r for r in ops if r["kind"] == "builtin"]
    summary = {"tflm_ops": len(ops), "tflm_builtin_ops": len(builtin),
               "edgekit_builtin_ops": sum(bool(r["edgekit"]) for r in builtin),
               "edgekit_ops_with_tests": sum(bool(r["edgekit"] and r["tests"]) for r in builtin),
               "edgekit_float32_ops": sum(r["float32"] in ("kernel", "dtype-generic") for r in builtin),
               "edgekit_float32_kernels": sum(r["float32"] == "kernel" for r in builtin),
               "tflm_signal_ops": len(SIGNAL), "edgekit_signal_ops": sum(bool(r["edgekit"]) for r in ops
                                                                          if r["tflm"] in SIGNAL),
               "models": len(mrows), "models_on_edgekit": sum(bool(r["edgekit"]) for r in mrows)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"summary": summary, "ops": ops, "models": mrows}, indent=2) + "\n")
    print("| TFLM op | kind | edgekit AOT | float32 | test files |\n|---|---|---|---|---|")
    for r in ops:
        print(f"| {r['tflm']} | {r['kind']} | {'yes' if r['edgekit'] else '-'} | {r['float32']} | "
              f"{', '.join(r['tests']) or '-'} |")
    print(f"\nmodels: {summary['models_on_edgekit']} of {summary['models']} run on edgekit's runtime")
    for r in mrows:
        if not r["edgekit"]:
            print(f"  {Path(str(r['model'])).name}: {str(r['blocker'])[:140]}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
