"""A TFLM ``MicroMutableOpResolver<N>`` with exactly the operators a model uses.

Facts from TFLM's ``tensorflow/lite/micro/micro_mutable_op_resolver.h`` (tensorflow/tflite-micro at commit
90b983c2b3f1, 2026-08-20): which ``AddXxx()`` method registers each BuiltinOperator (and each custom op TFLM
ships), and which kernels have an int8-only registration (``Register_CONV_2D_INT8()``...). An int8-only
registration links only the int8 path of a kernel (smaller code) and, with CMSIS-NN, picks its int8 kernel
directly; it is used when *every* instance of the op in the model has int8 activations (and int8 weights).

Each build system ships its own TFLM copy, so the op set and the int8 registrations depend on the
:data:`FLAVOURS` entry (what the pinned copy offers, read from its headers).

>>> r = OpResolver((OpRegistration("CONV_2D", "AddConv2D", "tflite::Register_CONV_2D_INT8()", 2),), "tflm")
>>> r.cpp_type
'tflite::MicroMutableOpResolver<1>'
>>> r.cpp_calls("res")
['res.AddConv2D(tflite::Register_CONV_2D_INT8())']
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgekit.errors import UnsupportedOpError, UsageError

if TYPE_CHECKING:
    from edgekit.tflite_model import Operator, Subgraph, TFLiteModel

__all__ = ["BUILTIN_METHODS", "CUSTOM_METHODS", "FLAVOURS", "REGISTRATION_HEADERS", "Flavour", "OpRegistration",
           "OpResolver", "render_resolver_header", "resolver_for", "supported_ops"]

# BuiltinOperator name -> MicroMutableOpResolver method (upstream TFLM, 2026-08-20).
BUILTIN_METHODS: dict[str, str] = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs", "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast", "CEIL": "AddCeil", "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D",
    "COS": "AddCos", "CUMSUM": "AddCumSum", "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice", "EMBEDDING_LOOKUP": "AddEmbeddingLookup", "ELU": "AddElu",
    "EQUAL": "AddEqual", "EXP": "AddExp", "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv", "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather", "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual", "HARD_SWISH": "AddHardSwish", "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot", "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax", "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D",
    "MIRROR_PAD": "AddMirrorPad", "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MUL": "AddMul", "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize", "READ_VARIABLE": "AddReadVariable", "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "REVERSE_V2": "AddReverseV2", "ROUND": "AddRound",
    "RSQRT": "AddRsqrt", "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQUEEZE": "AddSqueeze", "SQRT": "AddSqrt",
    "SQUARE": "AddSquare", "SQUARED_DIFFERENCE": "AddSquaredDifference", "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE_CONV": "AddTransposeConv",
    "TRANSPOSE": "AddTranspose", "UNPACK": "AddUnpack",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}

# Custom-op name (the model's custom_code) -> method, for the custom ops TFLM itself provides.
CUSTOM_METHODS: dict[str, str] = {
    "CIRCULAR_BUFFER": "AddCircularBuffer", "TFLM_DECODE": "AddDecode",
    "TFLite_Detection_PostProcess": "AddDetectionPostprocess", "ethos-u": "AddEthosU",
    "SignalDelay": "AddDelay", "SignalEnergy": "AddEnergy", "SignalFftAutoScale": "AddFftAutoScale",
    "SignalFilterBank": "AddFilterBank", "SignalFilterBankLog": "AddFilterBankLog",
    "SignalFilterBankSquareRoot": "AddFilterBankSquareRoot",
    "SignalFilterBankSpectralSubtraction": "AddFilterBankSpectralSubtraction", "SignalFramer": "AddFramer",
    "SignalIrfft": "AddIrfft", "SignalOverlapAdd": "AddOverlapAdd", "SignalPCAN": "AddPCAN",
    "SignalRfft": "AddRfft", "SignalStacker": "AddStacker", "SignalWindow": "AddWindow",
}

# The int8-only registrations of upstream TFLM (kernels/*.h): op -> registration function.
_INT8_ALL: dict[str, str] = {
    "ADD": "Register_ADD_INT8", "AVERAGE_POOL_2D": "Register_AVERAGE_POOL_2D_INT8",
    "BATCH_MATMUL": "Register_BATCH_MATMUL_INT8", "CONV_2D": "Register_CONV_2D_INT8",
    "DEPTHWISE_CONV_2D": "Register_DEPTHWISE_CONV_2D_INT8", "FULLY_CONNECTED": "Register_FULLY_CONNECTED_INT8",
    "MAXIMUM": "Register_MAXIMUM_INT8", "MAX_POOL_2D": "Register_MAX_POOL_2D_INT8",
    "MINIMUM": "Register_MINIMUM_INT8", "MUL": "Register_MUL_INT8", "PAD": "Register_PAD_INT8",
    "SOFTMAX": "Register_SOFTMAX_INT8", "SVDF": "Register_SVDF_INT8",
    "TRANSPOSE_CONV": "Register_TRANSPOSE_CONV_INT8", "TRANSPOSE": "Register_TRANSPOSE_INT8",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "Register_UNIDIRECTIONAL_SEQUENCE_LSTM_INT8",
}
_SOFTMAX_INT8_INT16 = "Register_SOFTMAX_INT8_INT16"
# The header that declares each int8-only registration (tensorflow/lite/micro/kernels/, TFLM 90b983c2b3f1). Not all
# of them come with micro_mutable_op_resolver.h: pad.h and transpose.h do not, so the generated header includes
# the declaring header of every registration it calls.
_KERNELS = "tensorflow/lite/micro/kernels/"
REGISTRATION_HEADERS: dict[str, str] = {
    "Register_ADD_INT8": "add.h", "Register_AVERAGE_POOL_2D_INT8": "pooling.h",
    "Register_BATCH_MATMUL_INT8": "batch_matmul.h", "Register_CONV_2D_INT8": "conv.h",
    "Register_DEPTHWISE_CONV_2D_INT8": "depthwise_conv.h", "Register_FULLY_CONNECTED_INT8": "fully_connected.h",
    "Register_MAXIMUM_INT8": "maximum_minimum.h", "Register_MAX_POOL_2D_INT8": "pooling.h",
    "Register_MINIMUM_INT8": "maximum_minimum.h", "Register_MUL_INT8": "mul.h", "Register_PAD_INT8": "pad.h",
    "Register_SOFTMAX_INT8": "softmax.h", _SOFTMAX_INT8_INT16: "softmax.h", "Register_SVDF_INT8": "svdf.h",
    "Register_TRANSPOSE_CONV_INT8": "transpose_conv.h", "Register_TRANSPOSE_INT8": "transpose.h",
    "Register_UNIDIRECTIONAL_SEQUENCE_LSTM_INT8": "unidirectional_sequence_lstm.h",
}
# Those available since 2022 (in every TFLM copy we pin, with CMSIS-NN kernels where they exist).
_INT8_2022 = ("ADD", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MUL",
              "SOFTMAX", "SVDF")

# Which operand is the activation / the weights, for the int8-only check (default: input 0, no weights).
_ACTIVATION_INPUT = {"TRANSPOSE_CONV": 2}
_WEIGHTS_INPUT = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1,
                  "BATCH_MATMUL": 1}


@dataclass(frozen=True)
class Flavour:
    """One pinned TFLM copy: what its op resolver offers."""

    name: str
    source: str                            # where the facts come from (repository and commit / version)
    missing: frozenset[str] = frozenset()  # upstream Add methods this copy lacks
    int8: tuple[str, ...] = tuple(_INT8_ALL)

    def has_method(self, method: str) -> bool:
        return method not in self.missing


FLAVOURS: dict[str, Flavour] = {f.name: f for f in (
    Flavour("tflm", "tensorflow/tflite-micro 90b983c2b3f1 (2026-08-20)"),
    Flavour("esp-tflite-micro", "espressif/esp-tflite-micro v1.3.8 (2026-08-13)"),
    Flavour("pico-tflmicro", "raspberrypi/pico-tflmicro dfea53b977f1 (2024-12-26)",
            frozenset({"AddDecode", "AddDynamicUpdateSlice", "AddReduceAll", "AddReduceMin", "AddReverseV2"}),
            tuple(k for k in _INT8_ALL if k not in ("MAXIMUM", "MINIMUM", "PAD", "TRANSPOSE"))),
    Flavour("arduino", "tensorflow/tflite-micro-arduino-examples 7948b85e0204 (2023-12-21)",
            frozenset({"AddBatchMatMul", "AddDecode", "AddDynamicUpdateSlice", "AddEmbeddingLookup",
                       "AddReduceAll", "AddReduceMin", "AddReverseV2"}
                      | {m for c, m in CUSTOM_METHODS.items() if c.startswith("Signal")}),
            _INT8_2022),
    # Zephyr's tflite-micro module: its CMake list picks CMSIS-NN kernel files per op and, in some releases,
    # not transpose_conv: keep to the registrations every release defines.
    Flavour("zephyr", "zephyrproject-rtos/tflite-micro (Zephyr v4.2.0 optional manifest)",
            frozenset({"AddDecode"}), _INT8_2022),
)}


@dataclass(frozen=True)
class OpRegistration:
    """One ``resolver.AddXxx(...)`` call."""

    op: str                    # BuiltinOperator name, or the custom code of a custom op
    method: str                # e.g. "AddConv2D"
    registration: str | None   # argument, e.g. "tflite::Register_CONV_2D_INT8()"; None: the default kernel
    count: int                 # operators of this kind in the model (all subgraphs)


@dataclass(frozen=True)
class OpResolver:
    """The resolver for one model: one registration per distinct op, in first-use order."""

    ops: tuple[OpRegistration, ...]
    flavour: str

    @property
    def n(self) -> int:
        """The ``N`` of ``MicroMutableOpResolver<N>``: one slot per registration."""
        return len(self.ops)

    @property
    def headers(self) -> list[str]:
        """The TFLM headers the registrations need besides ``micro_mutable_op_resolver.h``, sorted."""
        regs = {r.registration.removeprefix("tflite::").removesuffix("()") for r in self.ops if r.registration}
        return sorted({_KERNELS + REGISTRATION_HEADERS[reg] for reg in regs})

    @property
    def cpp_type(self) -> str:
        return f"tflite::MicroMutableOpResolver<{max(self.n, 1)}>"

    def cpp_calls(self, var: str = "resolver") -> list[str]:
        """The C++ expressions that register every op (each returns a TfLiteStatus)."""
        return [f"{var}.{r.method}({r.registration or ''})" for r in self.ops]


def supported_ops(flavour: str = "tflm") -> list[str]:
    """Builtin op names (and custom codes) the given TFLM copy can run, sorted."""
    fl = _flavour(flavour)
    names = [op for op, m in BUILTIN_METHODS.items() if fl.has_method(m)]
    names += [op for op, m in CUSTOM_METHODS.items() if fl.has_method(m)]
    return sorted(names)


def resolver_for(model: TFLiteModel | str | os.PathLike[str] | bytes, *, flavour: str = "tflm",
                 int8_kernels: bool = True) -> OpResolver:
    """The op resolver for every operator of every subgraph of ``model``.

    Args:
        model: a loaded model, a .tflite path or its bytes.
        flavour: the TFLM copy the project builds against (a key of :data:`FLAVOURS`).
        int8_kernels: use int8-only registrations where the copy has them and the model allows.

    Raises:
        UnsupportedOpError: an op (or custom op) the chosen TFLM copy does not provide, naming the op, the
            operator index and its output tensor.
    """
    from edgekit.tflite_model import TFLiteModel, load_model

    fl = _flavour(flavour)
    m = model if isinstance(model, TFLiteModel) else load_model(model)
    order: list[str] = []
    counts: Counter[str] = Counter()
    instances: dict[str, list[tuple[Subgraph, Operator]]] = {}
    methods: dict[str, str] = {}
    for sg_index, sg in enumerate(m.subgraphs):
        for op in sg.operators:
            key, methods[key] = _method_for(op, sg, sg_index, fl, m)
            if key not in counts:
                order.append(key)
            counts[key] += 1
            instances.setdefault(key, []).append((sg, op))
    regs = []
    for key in order:
        custom = instances[key][0][1].opcode == "CUSTOM"
        reg = _int8_registration(key, instances[key], fl) if int8_kernels and not custom else None
        regs.append(OpRegistration(key, methods[key], f"tflite::{reg}()" if reg else None, counts[key]))
    return OpResolver(tuple(regs), fl.name)


def render_resolver_header(resolver: OpResolver, *, guard: str = "EK_OP_RESOLVER_H") -> str:
    """A C++ header defining ``EkOpResolver`` and ``ek_register_ops(EkOpResolver&)`` for the wrapper."""
    lines = [
        f"/* TFLM op resolver: the {resolver.n} op(s) of the model ({resolver.flavour} flavour). "
        "Generated by edgekit; do not edit. */",
        f"#ifndef {guard}", f"#define {guard}", "",
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        *[f'#include "{h}"  /* declares an int8-only registration used below */' for h in resolver.headers], "",
        f"typedef {resolver.cpp_type} EkOpResolver;", "",
        "/* Registers every op the model uses; kTfLiteError if the resolver refused one. */",
        "static inline TfLiteStatus ek_register_ops(EkOpResolver &resolver) {",
    ]
    for r, call in zip(resolver.ops, resolver.cpp_calls("resolver"), strict=True):
        lines.append(f"    if ({call} != kTfLiteOk) {{  /* {r.op} x{r.count} */")
        lines.append("        return kTfLiteError;")
        lines.append("    }")
    if not resolver.ops:
        lines.append("    (void)resolver;")
    lines += ["    return kTfLiteOk;", "}", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------

def _flavour(name: str) -> Flavour:
    try:
        return FLAVOURS[name]
    except KeyError:
        raise UsageError(f"unknown TFLM flavour '{name}' (choices: {', '.join(FLAVOURS)})") from None


def _method_for(op: Operator, sg: Subgraph, sg_index: int, fl: Flavour, m: TFLiteModel) -> tuple[str, str]:
    """(registration key, Add method) for one operator; UnsupportedOpError if the TFLM copy lacks it."""
    if op.opcode == "CUSTOM":
        key = op.custom_code or ""
        method = CUSTOM_METHODS.get(key)
        what = f"custom op '{key}'"
    else:
        key = op.opcode
        method = BUILTIN_METHODS.get(key)
        what = f"op {key}"
    if method is None or not fl.has_method(method):
        out = sg.tensors[op.outputs[0]].name if op.outputs and op.outputs[0] >= 0 else "?"
        where = f"{m.path or 'model'}: subgraph {sg_index} operator {op.index}"
        lacks = "TFLM has no kernel for it" if method is None else f"the TFLM copy used here ({fl.source}) lacks it"
        hint = ("register your own kernel, or change the model to avoid this op" if method is None
                else "use a board whose build system ships a newer TFLM, or the CMake project with a newer "
                     "EDGEKIT_TFLM_DIR")
        raise UnsupportedOpError(f"{where} ({what}, output '{out}'): {lacks}", hint=hint)
    return key, method


def _dtype(sg: Subgraph, op: Operator, k: int) -> str | None:
    if k >= len(op.inputs) or op.inputs[k] < 0:
        return None
    return sg.tensors[op.inputs[k]].dtype


def _int8_registration(key: str, instances: list[tuple[Subgraph, Operator]], fl: Flavour) -> str | None:
    """The int8-only registration if the flavour has one and every instance is int8 (else None)."""
    if key not in fl.int8:
        return None
    out_dtypes = set()
    for sg, op in instances:
        act = _dtype(sg, op, _ACTIVATION_INPUT.get(key, 0))
        if act != "int8":
            return None
        if key in _WEIGHTS_INPUT and _dtype(sg, op, _WEIGHTS_INPUT[key]) != "int8":
            return None
        out_dtypes.add(sg.tensors[op.outputs[0]].dtype if op.outputs and op.outputs[0] >= 0 else None)
    if key == "SOFTMAX":
        if out_dtypes == {"int8"}:
            return _INT8_ALL[key]
        return _SOFTMAX_INT8_INT16 if out_dtypes == {"int16"} else None
    if key in ("SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM", "BATCH_MATMUL"):
        return _INT8_ALL[key] if out_dtypes <= {"int8"} else None
    return _INT8_ALL[key] if out_dtypes == {"int8"} else None
