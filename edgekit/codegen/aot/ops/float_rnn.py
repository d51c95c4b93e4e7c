"""float32 UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF and BATCH_MATMUL (kernels in ``ek_float_rnn.c``).

LSTM: TFLM's float ``EvalLstm`` (lstm_eval.h). Per time step and batch row: forget, input, cell and output gates,
each ``FC(x, W, bias) + FC(h, R)`` (sums from 0 in index order, TFLM's unbounded activation clamp) through the
sigmoid (the cell gate: tanh, the fused activation; TFLM asserts on any other);
``cell = forget * cell + input * cell_gate``, clipped to ``cell_clip`` when it is > 0;
``hidden = tanh(cell) * output``, copied to the output sequence. Batch-major and time-major. Like TFLM, only the
standard LSTM: peephole, projection, layer-norm and CIFG variants are refused (TFLM's ``ValidateTensorStatus``
rejects them too), and so are integer weights under float activations. The hidden and cell states are variable
tensors (kept across invocations, reset by ``ek_model_init``).

SVDF: TFLM's ``EvalFloatSvdfReference`` (state shift, feature FC into the newest state column, time weights, bias and
the rank sum, the fused activation via ``ActivationValFloat``). BATCH_MATMUL: ``reference_ops::BatchMatMul`` with the
integer handler's geometry (adj_x / adj_y as strides, broadcast batch dimensions, a constant rhs transposed once).
"""

from __future__ import annotations

from edgekit.codegen.aot.ops.base import OpContext, c_struct
from edgekit.codegen.aot.ops.batch_matmul import geometry, transposed_rhs
from edgekit.codegen.aot.ops.dispatch import FloatOpHandler, register_float
from edgekit.codegen.aot.ops.float_common import c_float, require_f32
from edgekit.codegen.aot.ops.lstm import GATES, lstm_geometry, standard_lstm


def _block(ctype: str, fields: dict[str, object], call: str) -> str:
    return "\n".join(["{", *("    " + ln for ln in c_struct(ctype, "p", fields).splitlines()), f"    {call}", "}"])


def _lstm_params(ctx: OpContext) -> dict[str, object]:
    inp, hid, cell, out = standard_lstm(ctx)
    require_f32(ctx, (inp, "input"), (hid, "output state"), (cell, "cell state"), (out, "output"))
    batches, steps, n_input, n_state, time_major = lstm_geometry(ctx, inp, hid, cell, out)
    act = ctx.options.get("fused_activation_function", "TANH")
    ctx.require(act == "TANH", f"cell gate activation {act} is not supported (TANH: TFLM's float kernel asserts on "
                               "any other, and the schema cannot ask for its sigmoid)")
    for gate, (wi, wr, b) in GATES.items():
        for k, rows, cols, what in ((wi, n_state, n_input, "input weights"), (wr, n_state, n_state,
                                                                                "recurrent weights")):
            w = ctx.input(k)
            require_f32(ctx, (w, f"{gate} gate {what}"))  # int8 weights under float activations: hybrid, refused
            ctx.require(tuple(w.shape) == (rows, cols),
                        f"{gate} gate {what} have shape {list(w.shape)}, expected {[rows, cols]}")
        bias = ctx.input(b)
        require_f32(ctx, (bias, f"{gate} gate bias"))
        ctx.require(bias.size == n_state, f"{gate} gate bias must hold {n_state} values")
    clip = float(ctx.options.get("cell_clip", 0.0))
    return dict(batches=batches, steps=steps, n_input=n_input, n_state=n_state, time_major=int(time_major),
                cell_clip=c_float(clip if clip > 0 else 0.0))


@register_float
class FloatLstm(FloatOpHandler):
    """float32 UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM's float path), batch- or time-major, cell clip."""

    opcodes = ("UNIDIRECTIONAL_SEQUENCE_LSTM",)

    def check(self, ctx: OpContext) -> None:
        _lstm_params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _lstm_params(ctx)
        ins = ctx.op.inputs
        for field, slot, role in (("w_in", 0, "w_in"), ("w_rec", 1, "w_rec"), ("bias", 2, "bias")):
            p[field] = "{" + ", ".join(ctx.ptr(ins[GATES[g][slot]], "float", role=f"{role}_{g}")
                                       for g in GATES) + "}"
        call = (f"ek_f32_lstm(&p, {ctx.ptr(ins[0], 'float')}, {ctx.ptr(ins[18], 'float')}, "
                f"{ctx.ptr(ins[19], 'float')}, {ctx.ptr(ctx.op.outputs[0], 'float')}, (float *){ctx.scratch});")
        return _block("ek_f32_lstm_params", p, call)

    def scratch_bytes(self, ctx: OpContext) -> int:
        """The four gate vectors of one batch row."""
        return 4 * 4 * int(_lstm_params(ctx)["n_state"])


_SVDF_ACT = {"NONE": "EK_F32_SVDF_NONE", "RELU": "EK_F32_SVDF_RELU", "RELU_N1_TO_1": "EK_F32_SVDF_RELU_N1_TO_1",
             "RELU6": "EK_F32_SVDF_RELU6", "TANH": "EK_F32_SVDF_TANH", "SIGN_BIT": "EK_F32_SVDF_SIGN_BIT"}


def _svdf_params(ctx: OpContext) -> dict[str, object]:
    ctx.require(len(ctx.op.inputs) == 5, f"expected 5 inputs, got {len(ctx.op.inputs)}")
    inp, wf, wt, bias, state, out = (ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4),
                                     ctx.output(0))
    require_f32(ctx, (inp, "input"), (wf, "feature weights"), (wt, "time weights"), (state, "activation state"),
                (out, "output"))
    if bias is not None:
        require_f32(ctx, (bias, "bias"))
    ctx.require(state.is_variable, f"activation state '{state.name}' must be a variable tensor")
    ctx.require(len(inp.shape) == 2 and len(out.shape) == 2, "input and output must be 2-D")
    batches, n_input = inp.shape
    ctx.require(len(wf.shape) == 2 and wf.shape[1] == n_input, f"feature weights {list(wf.shape)} vs input")
    filters = wf.shape[0]
    rank = int(ctx.options.get("rank", 1))
    ctx.require(rank >= 1 and filters % rank == 0, f"rank {rank} does not divide {filters} filters")
    units = filters // rank
    ctx.require(len(wt.shape) == 2 and wt.shape[0] == filters, f"time weights {list(wt.shape)} vs {filters} filters")
    memory = wt.shape[1]
    ctx.require(tuple(out.shape) == (batches, units), f"output {list(out.shape)}, expected {[batches, units]}")
    ctx.require(state.size == batches * filters * memory, f"activation state must hold {batches * filters * memory}")
    ctx.require(bias is None or bias.size == units, f"bias must hold {units} values")
    act = ctx.options.get("fused_activation_function", "NONE")
    ctx.require(act in _SVDF_ACT, f"fused activation {act} is not supported ({', '.join(_SVDF_ACT)})")
    return dict(batches=batches, n_input=n_input, filters=filters, units=units, rank=rank, memory=memory,
                activation=_SVDF_ACT[act])


@register_float
class FloatSvdf(FloatOpHandler):
    """float32 SVDF (rank, batches, every fused activation TFLM's ActivationValFloat knows)."""

    opcodes = ("SVDF",)

    def check(self, ctx: OpContext) -> None:
        _svdf_params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = _svdf_params(ctx)
        ins = ctx.op.inputs
        bias = ctx.ptr(ins[3], "float", role="bias") if ctx.input(3) is not None else "NULL"
        call = (f"ek_f32_svdf(&p, {ctx.ptr(ins[0], 'float')}, {ctx.ptr(ins[1], 'float', role='w_feature')}, "
                f"{ctx.ptr(ins[2], 'float', role='w_time')}, {bias}, {ctx.ptr(ins[4], 'float')}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')}, (float *){ctx.scratch});")
        return _block("ek_f32_svdf_params", p, call)

    def scratch_bytes(self, ctx: OpContext) -> int:
        """One float per batch and filter (the time-weighted sums), as TFLM's scratch buffer."""
        p = _svdf_params(ctx)
        return 4 * int(p["batches"]) * int(p["filters"])


@register_float
class FloatBatchMatMul(FloatOpHandler):
    """float32 BATCH_MATMUL (adj_x / adj_y, broadcast batch dimensions, constant or variable operands)."""

    opcodes = ("BATCH_MATMUL",)

    def check(self, ctx: OpContext) -> None:
        lhs, rhs, out = ctx.input(0), ctx.input(1), ctx.output(0)
        require_f32(ctx, (lhs, "lhs"), (rhs, "rhs"), (out, "output"))
        geometry(ctx)

    def emit(self, ctx: OpContext) -> str:
        self.check(ctx)
        params, transpose = geometry(ctx)
        rhs = transposed_rhs(ctx, "float") if transpose else ctx.ptr(ctx.op.inputs[1], "float", role="rhs")
        call = (f"ek_f32_batch_matmul(&p, {ctx.ptr(ctx.op.inputs[0], 'float')}, {rhs}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'float')});")
        return _block("ek_f32_batch_matmul_params", params, call)
