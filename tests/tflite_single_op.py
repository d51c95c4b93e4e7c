"""Build tiny one-operator .tflite models with exact quantization parameters (test helper).

The TFLite converter picks scales and zero points itself; to sweep extreme or asymmetric
quantization we write the flatbuffer directly with the schema's object API (needs only
``flatbuffers`` and the schema module shipped inside ``tflite_micro``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_DTYPES = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int16": 7, "int8": 9,
           "resource": 13, "uint64": 12, "uint32": 15}
# ops whose options table has no fields the tests set
_EMPTY_OPTIONS = {"ABS": "AbsOptions", "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
                  "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "EQUAL": "EqualOptions",
                  "NOT_EQUAL": "NotEqualOptions", "LESS": "LessOptions", "LESS_EQUAL": "LessEqualOptions",
                  "GREATER": "GreaterOptions", "GREATER_EQUAL": "GreaterEqualOptions",
                  "LOGICAL_AND": "LogicalAndOptions", "LOGICAL_OR": "LogicalOrOptions",
                  "LOGICAL_NOT": "LogicalNotOptions", "SELECT_V2": "SelectV2Options", "SELECT": "SelectOptions",
                  "LOG_SOFTMAX": "LogSoftmaxOptions"}


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    return s


@dataclass
class T:
    """A tensor: shape, dtype name, per-tensor quantization, optional constant data."""

    shape: tuple[int, ...]
    dtype: str = "int8"
    scale: float | list[float] | None = None  # a list: per-channel scales along quantized_dimension
    zero_point: int = 0
    data: np.ndarray | None = field(default=None, repr=False)
    quantized_dimension: int = 0
    variable: bool = False  # a variable tensor (LSTM / SVDF state): no data, kept across invocations
    graph_output: bool = False  # a model output even when another operator reads it too


def _options(s, op: str, opts: dict):
    """(builtin_options_type, options object) for the operators the tests use."""
    bo = s.BuiltinOptions
    act = getattr(s.ActivationFunctionType, opts.get("activation", "NONE"))
    if op == "SOFTMAX":
        o = s.SoftmaxOptionsT()
        o.beta = float(opts.get("beta", 1.0))
        return bo.SoftmaxOptions, o
    if op in ("ADD", "SUB", "MUL", "DIV"):
        o = {"ADD": s.AddOptionsT, "SUB": s.SubOptionsT, "MUL": s.MulOptionsT, "DIV": s.DivOptionsT}[op]()
        o.fusedActivationFunction = act
        return getattr(bo, op.capitalize() + "Options"), o
    if op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"):
        o = s.ReducerOptionsT()
        o.keepDims = bool(opts.get("keep_dims", False))
        return bo.ReducerOptions, o
    if op == "LEAKY_RELU":
        o = s.LeakyReluOptionsT()
        o.alpha = float(opts.get("alpha", 0.2))
        return bo.LeakyReluOptions, o
    if op == "CONV_2D":
        o = s.Conv2DOptionsT()
        o.padding = getattr(s.Padding, opts.get("padding", "SAME"))
        o.strideH, o.strideW = opts.get("strides", (1, 1))
        o.dilationHFactor, o.dilationWFactor = opts.get("dilation", (1, 1))
        o.fusedActivationFunction = act
        return bo.Conv2DOptions, o
    if op == "DEPTHWISE_CONV_2D":
        o = s.DepthwiseConv2DOptionsT()
        o.padding = getattr(s.Padding, opts.get("padding", "SAME"))
        o.strideH, o.strideW = opts.get("strides", (1, 1))
        o.dilationHFactor, o.dilationWFactor = opts.get("dilation", (1, 1))
        o.depthMultiplier = int(opts.get("depth_multiplier", 1))
        o.fusedActivationFunction = act
        return bo.DepthwiseConv2DOptions, o
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        o = s.Pool2DOptionsT()
        o.padding = getattr(s.Padding, opts.get("padding", "SAME"))
        o.strideH, o.strideW = opts.get("strides", (1, 1))
        o.filterHeight, o.filterWidth = opts.get("filter", (2, 2))
        o.fusedActivationFunction = act
        return bo.Pool2DOptions, o
    if op == "FULLY_CONNECTED":
        o = s.FullyConnectedOptionsT()
        o.fusedActivationFunction = act
        o.keepNumDims = bool(opts.get("keep_num_dims", False))
        return bo.FullyConnectedOptions, o
    if op == "HARD_SWISH":
        return bo.HardSwishOptions, s.HardSwishOptionsT()
    if op == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        o = s.UnidirectionalSequenceLSTMOptionsT()
        o.fusedActivationFunction = getattr(s.ActivationFunctionType, opts.get("activation", "TANH"))
        o.cellClip = float(opts.get("cell_clip", 0.0))
        o.projClip = 0.0
        o.timeMajor = bool(opts.get("time_major", False))
        return bo.UnidirectionalSequenceLSTMOptions, o
    if op == "SVDF":
        o = s.SVDFOptionsT()
        o.rank = int(opts.get("rank", 1))
        o.fusedActivationFunction = act
        return bo.SVDFOptions, o
    if op == "TRANSPOSE_CONV":
        o = s.TransposeConvOptionsT()
        o.padding = getattr(s.Padding, opts.get("padding", "SAME"))
        o.strideH, o.strideW = opts.get("strides", (1, 1))
        o.fusedActivationFunction = act
        return bo.TransposeConvOptions, o
    if op == "VAR_HANDLE":
        o = s.VarHandleOptionsT()
        o.container = opts.get("container", "")
        o.sharedName = opts["shared_name"]
        return bo.VarHandleOptions, o
    if op == "READ_VARIABLE":
        return bo.ReadVariableOptions, s.ReadVariableOptionsT()
    if op == "ASSIGN_VARIABLE":
        return bo.AssignVariableOptions, s.AssignVariableOptionsT()
    if op == "CALL_ONCE":
        o = s.CallOnceOptionsT()
        o.initSubgraphIndex = int(opts.get("init_subgraph_index", 1))
        return bo.CallOnceOptions, o
    if op == "QUANTIZE":
        return bo.QuantizeOptions, s.QuantizeOptionsT()
    if op == "DEQUANTIZE":
        return bo.DequantizeOptions, s.DequantizeOptionsT()
    if op in ("ARG_MAX", "ARG_MIN"):
        o = s.ArgMaxOptionsT() if op == "ARG_MAX" else s.ArgMinOptionsT()
        o.outputType = _DTYPES[opts.get("output_type", "int32")]
        return (bo.ArgMaxOptions if op == "ARG_MAX" else bo.ArgMinOptions), o
    if op == "CUMSUM":
        o = s.CumsumOptionsT()
        o.exclusive, o.reverse = bool(opts.get("exclusive", False)), bool(opts.get("reverse", False))
        return bo.CumsumOptions, o
    if op == "BATCH_MATMUL":
        o = s.BatchMatMulOptionsT()
        o.adjX, o.adjY = bool(opts.get("adj_x", False)), bool(opts.get("adj_y", False))
        return bo.BatchMatMulOptions, o
    if op == "L2_NORMALIZATION":
        o = s.L2NormOptionsT()
        o.fusedActivationFunction = act
        return bo.L2NormOptions, o
    if op in _EMPTY_OPTIONS:
        return getattr(bo, _EMPTY_OPTIONS[op]), getattr(s, _EMPTY_OPTIONS[op] + "T")()
    if op in _SHAPE_OPTIONS:  # data-movement ops: options table name, {test keyword: schema field}
        table, fields = _SHAPE_OPTIONS[op]
        o = getattr(s, table + "T")()
        for key, attr in fields.items():
            if key in opts:
                value = opts[key]
                setattr(o, attr, getattr(s.MirrorPadMode, value) if key == "mode" else value)
        return getattr(bo, table), o
    return 0, None


_SHAPE_OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "TRANSPOSE": ("TransposeOptions", {}),
    "STRIDED_SLICE": ("StridedSliceOptions", {"begin_mask": "beginMask", "end_mask": "endMask",
                                              "ellipsis_mask": "ellipsisMask", "new_axis_mask": "newAxisMask",
                                              "shrink_axis_mask": "shrinkAxisMask", "offset": "offset"}),
    "SLICE": ("SliceOptions", {}),
    "SPLIT": ("SplitOptions", {"num_splits": "numSplits"}),
    "SPLIT_V": ("SplitVOptions", {"num_splits": "numSplits"}),
    "PACK": ("PackOptions", {"values_count": "valuesCount", "axis": "axis"}),
    "UNPACK": ("UnpackOptions", {"num": "num", "axis": "axis"}),
    "GATHER": ("GatherOptions", {"axis": "axis", "batch_dims": "batchDims"}),
    "GATHER_ND": ("GatherNdOptions", {}),
    "DEPTH_TO_SPACE": ("DepthToSpaceOptions", {"block_size": "blockSize"}),
    "SPACE_TO_DEPTH": ("SpaceToDepthOptions", {"block_size": "blockSize"}),
    "BATCH_TO_SPACE_ND": ("BatchToSpaceNDOptions", {}),
    "SPACE_TO_BATCH_ND": ("SpaceToBatchNDOptions", {}),
    "MIRROR_PAD": ("MirrorPadOptions", {"mode": "mode"}),
    "REVERSE_V2": ("ReverseV2Options", {}),
    "BROADCAST_TO": ("BroadcastToOptions", {}),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions", {"align_corners": "alignCorners",
                                                                 "half_pixel_centers": "halfPixelCenters"}),
    "RESIZE_BILINEAR": ("ResizeBilinearOptions", {"align_corners": "alignCorners",
                                                  "half_pixel_centers": "halfPixelCenters"}),
    "ZEROS_LIKE": ("ZerosLikeOptions", {}),
    "FILL": ("FillOptions", {}),
    "CONCATENATION": ("ConcatenationOptions", {"axis": "axis"}),
}


def single_op_model(op: str, inputs: list[T], outputs: list[T], **opts) -> bytes:
    """Serialize a model with one operator ``op``; inputs with ``data`` become constants."""
    return multi_op_model([(op, inputs, outputs, opts)])


def multi_op_model(ops: list[tuple[str, list[T], list[T], dict]],
                   more_subgraphs: list[list[tuple[str, list[T], list[T], dict]]] = ()) -> bytes:
    """Serialize a model of several operators ``(opcode, inputs, outputs, options)``.

    ``more_subgraphs``: the operators of subgraphs 1, 2, ... (e.g. a CALL_ONCE init subgraph), written the same way.

    A :class:`T` object used in several places is one tensor (that is how ops are chained).
    Model inputs: tensors without data that no operator produces and that are not variables; outputs: tensors no
    operator consumes. ``None`` in an operator's inputs is an absent optional input (-1).
    """
    import flatbuffers

    s = _schema()
    model = s.ModelT()
    model.version = 3
    model.description = "edgekit test model"
    model.buffers = [s.BufferT()]
    codes: dict[str, int] = {}
    model.operatorCodes = []
    model.subgraphs = [_subgraph(s, model, codes, sub_ops) for sub_ops in [ops, *more_subgraphs]]

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _subgraph(s, model, codes: dict[str, int], ops: list[tuple[str, list[T], list[T], dict]]):
    """One SubGraphT of ``ops``; buffers and operator codes are added to ``model`` / ``codes``."""
    sub = s.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = [], [], [], []
    index: dict[int, int] = {}

    def tensor(t: T | None) -> int:
        if t is None:
            return -1
        if id(t) in index:
            return index[id(t)]
        tt = s.TensorT()
        tt.name = f"t{len(sub.tensors)}"
        tt.shape = list(t.shape)
        tt.type = _DTYPES[t.dtype]
        tt.isVariable = bool(t.variable)
        buf = s.BufferT()
        if t.data is not None:
            buf.data = np.ascontiguousarray(t.data, dtype=t.dtype).tobytes()
        model.buffers.append(buf)
        tt.buffer = len(model.buffers) - 1
        if t.scale is not None:
            q = s.QuantizationParametersT()
            scales = [float(v) for v in np.atleast_1d(t.scale)]
            q.scale = scales
            q.zeroPoint = [int(t.zero_point)] * len(scales)
            q.quantizedDimension = int(t.quantized_dimension)
            tt.quantization = q
        sub.tensors.append(tt)
        index[id(t)] = len(sub.tensors) - 1
        return index[id(t)]

    produced, consumed, forced = [], set(), set()
    for opcode, ins, outs, opts in ops:
        custom = not hasattr(s.BuiltinOperator, opcode)  # any other name: a CUSTOM op with that custom_code
        if opcode not in codes:
            code = s.OperatorCodeT()
            code.builtinCode = s.BuiltinOperator.CUSTOM if custom else getattr(s.BuiltinOperator, opcode)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            if custom:
                code.customCode = opcode
            code.version = 1
            codes[opcode] = len(model.operatorCodes)
            model.operatorCodes.append(code)
        o = s.OperatorT()
        o.opcodeIndex = codes[opcode]
        o.inputs = [tensor(t) for t in ins]
        o.outputs = [tensor(t) for t in outs]
        forced.update(index[id(t)] for t in outs if t.graph_output)
        if custom:  # the options as a flexbuffer map in custom_options (TFLM's signal ops read them so)
            from flatbuffers import flexbuffers

            o.customOptions = list(flexbuffers.Dumps(dict(opts)))
        else:
            o.builtinOptionsType, o.builtinOptions = _options(s, opcode, opts)
        sub.operators.append(o)
        consumed.update(o.inputs)
        produced.extend(o.outputs)
    all_inputs = [i for op in sub.operators for i in op.inputs]
    seen = set()
    for i in all_inputs:
        if (i < 0 or i in seen or i in produced or model.buffers[sub.tensors[i].buffer].data is not None
                or sub.tensors[i].isVariable):
            continue
        seen.add(i)
        sub.inputs.append(i)
    sub.outputs = [i for i in produced if i not in consumed or i in forced]
    return sub
