"""Multiply-accumulates and other arithmetic per operator of a TFLite graph.

``macs`` counts the multiply-accumulates of the layers that have weights: CONV_2D
``out_h*out_w*out_c*k_h*k_w*in_c/groups`` (the filter's last dimension is ``in_c/groups``), DEPTHWISE_CONV_2D
``out_h*out_w*out_c*k_h*k_w``, FULLY_CONNECTED ``rows*units*in``, TRANSPOSE_CONV, BATCH_MATMUL, CONV_3D, SVDF and
UNIDIRECTIONAL_SEQUENCE_LSTM; bias additions are not counted (the convention behind the MLPerf Tiny figures).
``other_ops`` counts the rest: one operation per output element for arithmetic, activation and
(de)quantization ops, the window size per output element for pooling, one per input element for reductions
and softmax; reshapes and copies count zero.
"""

from __future__ import annotations

import math

from edgekit.tflite_model import Operator, Subgraph

MACS_NOTE = ("MACs: multiply-accumulates of conv/depthwise/fully-connected/transpose-conv/batch-matmul/SVDF/LSTM "
             "layers, bias excluded. Other ops: one per output element for elementwise, activation and quantize "
             "ops, window size per output for pooling, one per input element for reductions and softmax; "
             "reshapes and copies count 0")

_ELEMENTWISE = frozenset("""
ADD SUB MUL DIV SQUARED_DIFFERENCE MAXIMUM MINIMUM POW FLOOR_DIV FLOOR_MOD ADD_N RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1
LEAKY_RELU PRELU ELU HARD_SWISH LOGISTIC TANH GELU EXP LOG SQRT RSQRT SQUARE ABS NEG SIN COS FLOOR CEIL ROUND SIGN
QUANTIZE DEQUANTIZE CAST LESS LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL LOGICAL_AND LOGICAL_OR LOGICAL_NOT
SELECT SELECT_V2 RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR L2_NORMALIZATION
""".split())
_REDUCTIONS = frozenset("MEAN SUM REDUCE_MAX REDUCE_MIN REDUCE_PROD REDUCE_ANY REDUCE_ALL SOFTMAX LOG_SOFTMAX "
                        "ARG_MAX ARG_MIN CUMSUM".split())
_POOLS = frozenset(("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"))


def _shape(sg: Subgraph, idx: int) -> tuple[int, ...]:
    return sg.tensors[idx].shape if 0 <= idx < len(sg.tensors) else ()


def _elems(shape: tuple[int, ...]) -> int:
    return math.prod(max(d, 1) for d in shape)


def _input(op: Operator, k: int) -> int:
    return op.inputs[k] if k < len(op.inputs) else -1


def op_macs(sg: Subgraph, op: Operator) -> int:
    """Multiply-accumulates of one operator (0 for ops without weights or with unexpected shapes)."""
    out = _shape(sg, op.outputs[0]) if op.outputs else ()
    w = _shape(sg, _input(op, 1))
    name = op.opcode
    if name == "CONV_2D" and len(w) == 4:
        return _elems(out) * w[1] * w[2] * w[3]
    if name == "DEPTHWISE_CONV_2D" and len(w) == 4:
        return _elems(out) * w[1] * w[2]
    if name == "FULLY_CONNECTED" and len(w) == 2:  # output [rows, units], weights [units, in]
        return _elems(out) * w[1]
    if name == "TRANSPOSE_CONV" and len(w) == 4:  # inputs: output_shape, weights [oc, kh, kw, ic], input
        return _elems(_shape(sg, _input(op, 2))) * w[0] * w[1] * w[2]
    if name == "CONV_3D" and len(w) == 5:  # filter [kd, kh, kw, ic, oc]
        return _elems(out) * w[0] * w[1] * w[2] * w[3]
    if name == "BATCH_MATMUL":
        lhs = _shape(sg, _input(op, 0))
        if len(lhs) >= 2:
            return _elems(out) * (lhs[-2] if op.options.get("adj_x") else lhs[-1])
    if name == "SVDF":  # weights_feature [filters, input], weights_time [filters, memory]
        wt = _shape(sg, _input(op, 2))
        batch = _shape(sg, _input(op, 0))[:1] or (1,)
        if len(w) == 2 and len(wt) == 2:
            return batch[0] * (w[0] * w[1] + wt[0] * wt[1])
    if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":  # inputs 1-8: input and recurrent weights of the four gates
        steps = _elems(_shape(sg, _input(op, 0))[:-1])
        return steps * sum(_elems(_shape(sg, _input(op, k))) for k in range(1, 9) if _input(op, k) >= 0)
    return 0


def op_other_ops(sg: Subgraph, op: Operator) -> int:
    """Non-MAC arithmetic of one operator (see the module docstring for the rules)."""
    name = op.opcode
    out = _elems(_shape(sg, op.outputs[0])) if op.outputs else 0
    if name in _ELEMENTWISE:
        return out
    if name in _POOLS:
        return out * max(op.options.get("filter_width", 1), 1) * max(op.options.get("filter_height", 1), 1)
    if name in _REDUCTIONS and op.inputs:
        return _elems(_shape(sg, op.inputs[0]))
    return 0
