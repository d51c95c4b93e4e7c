"""Facts about TensorFlow Lite Micro that :mod:`edgekit.inspection` checks models against.

Sources are stated next to each figure; re-check them when the pinned tflite-micro version changes.
"""

from __future__ import annotations

# Builtin operators with a TFLM kernel: the ``tflite::Register_<OP>()`` symbols exported by the host
# interpreter of PyPI tflite-micro 0.dev20261023182759 (``nm -C _runtime.so``), which registers every kernel.
TFLM_BUILTIN_OPS: frozenset[str] = frozenset("""
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND BROADCAST_ARGS
BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV
DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED
GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG
LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG
NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_ALL REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE
RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND
SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE
TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE
""".split())

# Custom operators TFLM ships kernels for (names as strings in the same _runtime.so): they must be added to
# the op resolver explicitly.
TFLM_CUSTOM_OPS: frozenset[str] = frozenset("""
TFLite_Detection_PostProcess CIRCULAR_BUFFER ethos-u SignalDelay SignalEnergy SignalFftAutoScale SignalFilterBank
SignalFilterBankLog SignalFilterBankSpectralSubtraction SignalFilterBankSquareRoot SignalFramer SignalIrfft
SignalOverlapAdd SignalPCAN SignalRfft SignalStacker SignalWindow
""".split())

# Ops whose weights are a constant tensor; a float activation input with integer weights is a "hybrid"
# (dynamic-range quantized) op, which TFLM does not implement.
WEIGHTED_OPS: dict[str, int] = {  # op -> index of the weights input
    "CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1, "BATCH_MATMUL": 1,
    "SVDF": 1, "UNIDIRECTIONAL_SEQUENCE_LSTM": 2, "CONV_3D": 1,
}

# TFLM code + read-only data without the model, Cortex-M4 (gcc 12.2 -O2), from shared/NOTES.md.
RUNTIME_CODE_BYTES = {
    "reference": (36 * 1024, 64 * 1024),
    "cmsis-nn": (49 * 1024, 106 * 1024),
}
RUNTIME_CODE_SOURCE = ("TFLM code+rodata without the model measured for Cortex-M4 with gcc 12.2 -O2 "
                       "(edgekit shared/NOTES.md): 36-64 KB with reference kernels, 49-106 KB with CMSIS-NN and "
                       "the default op registrations; the high end is used for the fit, a resolver with only the "
                       "model's ops lands nearer the low end")
