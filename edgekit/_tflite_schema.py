"""Facts from TFLite's ``schema.fbs`` that our reader needs: enum names and builtin-option table layouts.

Everything here is data. Enum tuples are indexed by the enum value; option layouts list the table's
fields in declaration order, which is the flatbuffer field id (deprecated fields keep their slot and are
written as ``None``). Field kinds:

``i32 u32 i64 f32 bool`` scalars; ``pad`` Padding; ``act`` ActivationFunctionType; ``type`` TensorType
(decoded to its schema name, e.g. ``'INT32'``); ``wfmt`` FullyConnectedOptionsWeightsFormat; ``lstm``
LSTMKernelType; ``comb`` CombinerType; ``lsh`` LSHProjectionType; ``mirror`` MirrorPadMode; ``str``
string; ``[i32] [f32] [u8]`` vectors.
"""

from __future__ import annotations

TENSOR_TYPES: tuple[str, ...] = tuple(
    "FLOAT32 FLOAT16 INT32 UINT8 INT64 STRING BOOL INT16 COMPLEX64 INT8 FLOAT64 COMPLEX128 UINT64 RESOURCE VARIANT "
    "UINT32 UINT16 INT4 BFLOAT16 INT2 UINT4 FLOAT8_E4M3FN FLOAT8_E5M2".split())

# TensorType -> the dtype name we report (numpy's name where numpy has the type).
DTYPE_NAMES: tuple[str, ...] = tuple(
    "float32 float16 int32 uint8 int64 string bool int16 complex64 int8 float64 complex128 uint64 resource variant "
    "uint32 uint16 int4 bfloat16 int2 uint4 float8_e4m3fn float8_e5m2".split())

BUILTIN_OPERATORS: tuple[str, ...] = tuple("""
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP FLOOR
FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC
LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH
SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER
BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM
ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE
TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK
LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL
FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL
REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND
HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM
BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS
HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE
ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU
DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD STABLEHLO_DIVIDE
STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP STABLEHLO_CONCATENATE
STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE
STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG
STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT
STABLEHLO_SELECT STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT
STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA STABLEHLO_DOT_GENERAL
STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE
STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE
""".split())

# Values outside the contiguous range above.
EXTRA_BUILTIN_OPERATORS: dict[int, str] = {225: "TEMP_STREAMING_CONV_2D"}

# Members of the BuiltinOptions union; index = union type value (0 = NONE).
BUILTIN_OPTIONS: tuple[str, ...] = tuple("""
NONE Conv2DOptions DepthwiseConv2DOptions ConcatEmbeddingsOptions LSHProjectionOptions Pool2DOptions SVDFOptions
RNNOptions FullyConnectedOptions SoftmaxOptions ConcatenationOptions AddOptions L2NormOptions
LocalResponseNormalizationOptions LSTMOptions ResizeBilinearOptions CallOptions ReshapeOptions SkipGramOptions
SpaceToDepthOptions EmbeddingLookupSparseOptions MulOptions PadOptions GatherOptions BatchToSpaceNDOptions
SpaceToBatchNDOptions TransposeOptions ReducerOptions SubOptions DivOptions SqueezeOptions SequenceRNNOptions
StridedSliceOptions ExpOptions TopKV2Options SplitOptions LogSoftmaxOptions CastOptions DequantizeOptions
MaximumMinimumOptions ArgMaxOptions LessOptions NegOptions PadV2Options GreaterOptions GreaterEqualOptions
LessEqualOptions SelectOptions SliceOptions TransposeConvOptions SparseToDenseOptions TileOptions
ExpandDimsOptions EqualOptions NotEqualOptions ShapeOptions PowOptions ArgMinOptions FakeQuantOptions
PackOptions LogicalOrOptions OneHotOptions LogicalAndOptions LogicalNotOptions UnpackOptions FloorDivOptions
SquareOptions ZerosLikeOptions FillOptions BidirectionalSequenceLSTMOptions BidirectionalSequenceRNNOptions
UnidirectionalSequenceLSTMOptions FloorModOptions RangeOptions ResizeNearestNeighborOptions LeakyReluOptions
SquaredDifferenceOptions MirrorPadOptions AbsOptions SplitVOptions UniqueOptions ReverseV2Options AddNOptions
GatherNdOptions CosOptions WhereOptions RankOptions ReverseSequenceOptions MatrixDiagOptions QuantizeOptions
MatrixSetDiagOptions HardSwishOptions IfOptions WhileOptions DepthToSpaceOptions NonMaxSuppressionV4Options
NonMaxSuppressionV5Options ScatterNdOptions SelectV2Options DensifyOptions SegmentSumOptions BatchMatMulOptions
CumsumOptions CallOnceOptions BroadcastToOptions Rfft2dOptions Conv3DOptions HashtableOptions
HashtableFindOptions HashtableImportOptions HashtableSizeOptions VarHandleOptions ReadVariableOptions
AssignVariableOptions RandomOptions BucketizeOptions GeluOptions DynamicUpdateSliceOptions
UnsortedSegmentProdOptions UnsortedSegmentMaxOptions UnsortedSegmentMinOptions UnsortedSegmentSumOptions
ATan2Options SignOptions BitcastOptions BitwiseXorOptions RightShiftOptions
""".split())

# Members of the BuiltinOptions2 union (index = type value). We name them but do not decode them.
BUILTIN_OPTIONS_2: tuple[str, ...] = tuple("""
NONE StablehloConcatenateOptions StablehloBroadcastInDimOptions StablehloSliceOptions
StablehloConvolutionOptions StablehloCustomCallOptions StablehloReduceOptions StablehloScatterOptions
StablehloCompareOptions StablehloDynamicSliceOptions StablehloPadOptions StablehloIotaOptions
StablehloDotGeneralOptions StablehloReduceWindowOptions StablehloSortOptions StablehloWhileOptions
StablehloGatherOptions StablehloTransposeOptions DilateOptions StablehloRngBitGeneratorOptions
ReduceWindowOptions StableHLOCompositeOptions StablehloShiftLeftOptions StablehloCaseOptions
""".split())

PADDING = ("SAME", "VALID")
ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
WEIGHTS_FORMATS = ("DEFAULT", "SHUFFLED4x16INT8")
LSTM_KERNEL_TYPES = ("FULL", "BASIC")
COMBINER_TYPES = ("SUM", "MEAN", "SQRTN")
LSH_PROJECTION_TYPES = ("UNKNOWN", "SPARSE", "DENSE")
MIRROR_PAD_MODES = ("REFLECT", "SYMMETRIC")

ENUM_KINDS: dict[str, tuple[str, ...]] = {
    "pad": PADDING, "act": ACTIVATIONS, "type": TENSOR_TYPES, "wfmt": WEIGHTS_FORMATS,
    "lstm": LSTM_KERNEL_TYPES, "comb": COMBINER_TYPES, "lsh": LSH_PROJECTION_TYPES, "mirror": MIRROR_PAD_MODES,
}

# A field: (name, kind, default); None marks a deprecated slot.
Field = tuple[str, str, object] | None

_ACT: Field = ("fused_activation_function", "act", "NONE")
_ASYM: Field = ("asymmetric_quantize_inputs", "bool", False)


def _ints(*names: str) -> list[Field]:
    return [(n, "i32", 0) for n in names]


OPTION_TABLES: dict[str, list[Field]] = {
    "Conv2DOptions": [("padding", "pad", "SAME"), *_ints("stride_w", "stride_h"), _ACT,
                      ("dilation_w_factor", "i32", 1), ("dilation_h_factor", "i32", 1),
                      ("quantized_bias_type", "type", "FLOAT32")],
    "Conv3DOptions": [("padding", "pad", "SAME"), *_ints("stride_d", "stride_w", "stride_h"), _ACT,
                      ("dilation_d_factor", "i32", 1), ("dilation_w_factor", "i32", 1),
                      ("dilation_h_factor", "i32", 1)],
    "Pool2DOptions": [("padding", "pad", "SAME"), *_ints("stride_w", "stride_h", "filter_width", "filter_height"),
                      _ACT],
    "DepthwiseConv2DOptions": [("padding", "pad", "SAME"), *_ints("stride_w", "stride_h", "depth_multiplier"), _ACT,
                               ("dilation_w_factor", "i32", 1), ("dilation_h_factor", "i32", 1)],
    "ConcatEmbeddingsOptions": [("num_channels", "i32", 0), ("num_columns_per_channel", "[i32]", ()),
                                ("embedding_dim_per_channel", "[i32]", ())],
    "LSHProjectionOptions": [("type", "lsh", "UNKNOWN")],
    "SVDFOptions": [("rank", "i32", 0), _ACT, _ASYM],
    "RNNOptions": [_ACT, _ASYM],
    "SequenceRNNOptions": [("time_major", "bool", False), _ACT, _ASYM],
    "BidirectionalSequenceRNNOptions": [("time_major", "bool", False), _ACT, ("merge_outputs", "bool", False),
                                        _ASYM],
    "FullyConnectedOptions": [_ACT, ("weights_format", "wfmt", "DEFAULT"), ("keep_num_dims", "bool", False), _ASYM,
                              ("quantized_bias_type", "type", "FLOAT32"), ("quant_spec", "[u8]", ())],
    "SoftmaxOptions": [("beta", "f32", 0.0)],
    "ConcatenationOptions": [("axis", "i32", 0), _ACT],
    "AddOptions": [_ACT, ("pot_scale_int16", "bool", True)],
    "MulOptions": [_ACT],
    "L2NormOptions": [_ACT],
    "LocalResponseNormalizationOptions": [("radius", "i32", 0), ("bias", "f32", 0.0), ("alpha", "f32", 0.0),
                                          ("beta", "f32", 0.0)],
    "LSTMOptions": [_ACT, ("cell_clip", "f32", 0.0), ("proj_clip", "f32", 0.0), ("kernel_type", "lstm", "FULL"),
                    _ASYM],
    "UnidirectionalSequenceLSTMOptions": [_ACT, ("cell_clip", "f32", 0.0), ("proj_clip", "f32", 0.0),
                                          ("time_major", "bool", False), _ASYM,
                                          ("diagonal_recurrent_tensors", "bool", False)],
    "BidirectionalSequenceLSTMOptions": [_ACT, ("cell_clip", "f32", 0.0), ("proj_clip", "f32", 0.0),
                                         ("merge_outputs", "bool", False), ("time_major", "bool", True), _ASYM],
    "ResizeBilinearOptions": [None, None, ("align_corners", "bool", False), ("half_pixel_centers", "bool", False)],
    "ResizeNearestNeighborOptions": [("align_corners", "bool", False), ("half_pixel_centers", "bool", False)],
    "CallOptions": [("subgraph", "u32", 0)],
    "ReshapeOptions": [("new_shape", "[i32]", ())],
    "SkipGramOptions": [*_ints("ngram_size", "max_skip_size"), ("include_all_ngrams", "bool", False)],
    "SpaceToDepthOptions": _ints("block_size"),
    "DepthToSpaceOptions": _ints("block_size"),
    "SubOptions": [_ACT, ("pot_scale_int16", "bool", True)],
    "DivOptions": [_ACT],
    "EmbeddingLookupSparseOptions": [("combiner", "comb", "SUM")],
    "GatherOptions": _ints("axis", "batch_dims"),
    "ReducerOptions": [("keep_dims", "bool", False)],
    "SqueezeOptions": [("squeeze_dims", "[i32]", ())],
    "SplitOptions": _ints("num_splits"),
    "SplitVOptions": _ints("num_splits"),
    "StridedSliceOptions": [*_ints("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"),
                            ("offset", "bool", False)],
    "CastOptions": [("in_data_type", "type", "FLOAT32"), ("out_data_type", "type", "FLOAT32")],
    "ArgMaxOptions": [("output_type", "type", "FLOAT32")],
    "ArgMinOptions": [("output_type", "type", "FLOAT32")],
    "TransposeConvOptions": [("padding", "pad", "SAME"), *_ints("stride_w", "stride_h"), _ACT,
                             ("quantized_bias_type", "type", "FLOAT32")],
    "SparseToDenseOptions": [("validate_indices", "bool", False)],
    "ShapeOptions": [("out_type", "type", "FLOAT32")],
    "FakeQuantOptions": [("min", "f32", 0.0), ("max", "f32", 0.0), ("num_bits", "i32", 0),
                         ("narrow_range", "bool", False)],
    "PackOptions": _ints("values_count", "axis"),
    "OneHotOptions": _ints("axis"),
    "UnpackOptions": _ints("num", "axis"),
    "LeakyReluOptions": [("alpha", "f32", 0.0)],
    "MirrorPadOptions": [("mode", "mirror", "REFLECT")],
    "UniqueOptions": [("idx_out_type", "type", "INT32")],
    "ReverseSequenceOptions": _ints("seq_dim", "batch_dim"),
    "IfOptions": _ints("then_subgraph_index", "else_subgraph_index"),
    "CallOnceOptions": _ints("init_subgraph_index"),
    "WhileOptions": _ints("cond_subgraph_index", "body_subgraph_index"),
    "BatchMatMulOptions": [("adj_x", "bool", False), ("adj_y", "bool", False), _ASYM],
    "CumsumOptions": [("exclusive", "bool", False), ("reverse", "bool", False)],
    "HashtableOptions": [("table_id", "i32", 0), ("key_dtype", "type", "FLOAT32"),
                         ("value_dtype", "type", "FLOAT32")],
    "VarHandleOptions": [("container", "str", ""), ("shared_name", "str", "")],
    "RandomOptions": [("seed", "i64", 0), ("seed2", "i64", 0)],
    "BucketizeOptions": [("boundaries", "[f32]", ())],
    "GeluOptions": [("approximate", "bool", False)],
}

# Option tables with no fields at all (decoded as {}).
EMPTY_OPTION_TABLES: frozenset[str] = frozenset("""
PadOptions PadV2Options BatchToSpaceNDOptions SpaceToBatchNDOptions TopKV2Options TransposeOptions ExpOptions
CosOptions LogSoftmaxOptions DequantizeOptions MaximumMinimumOptions TileOptions GreaterOptions GreaterEqualOptions
LessOptions LessEqualOptions NegOptions SelectOptions SliceOptions ExpandDimsOptions EqualOptions NotEqualOptions
RankOptions PowOptions LogicalOrOptions AbsOptions HardSwishOptions LogicalAndOptions LogicalNotOptions
FloorDivOptions SquareOptions ZerosLikeOptions FillOptions FloorModOptions RangeOptions SquaredDifferenceOptions
ReverseV2Options AddNOptions GatherNdOptions WhereOptions MatrixDiagOptions QuantizeOptions MatrixSetDiagOptions
NonMaxSuppressionV4Options NonMaxSuppressionV5Options ScatterNdOptions SelectV2Options DensifyOptions
SegmentSumOptions BroadcastToOptions Rfft2dOptions HashtableFindOptions HashtableImportOptions HashtableSizeOptions
ReadVariableOptions AssignVariableOptions DynamicUpdateSliceOptions UnsortedSegmentProdOptions
UnsortedSegmentMaxOptions UnsortedSegmentMinOptions UnsortedSegmentSumOptions ATan2Options SignOptions
BitcastOptions BitwiseXorOptions RightShiftOptions
""".split())
