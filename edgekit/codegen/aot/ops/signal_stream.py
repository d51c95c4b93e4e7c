"""TFLM's signal library, the streaming ops: SignalDelay, SignalFramer, SignalStacker (int16 sample FIFOs kept
across invocations) and SignalOverlapAdd (int16 saturating or float32). The state is static arrays of the generated
invoke function, reset after each model_init to what TFLM's Prepare leaves (Delay: delay_length zeros; Framer with
prefill: frame_size - frame_step zeros; Stacker: empty; OverlapAdd: zeros).
"""

from __future__ import annotations

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register
from edgekit.codegen.aot.ops.signal import _block, _dtypes, _int_option, signal_options, stateful


def _rows_frame(ctx: OpContext) -> tuple[int, int]:
    shape = ctx.input(0).shape
    ctx.require(len(shape) >= 1 and shape[-1] > 0, "input needs a non-empty last dimension")
    return ctx.input(0).size // shape[-1], shape[-1]


@register
class Delay(OpHandler):
    """SignalDelay: each row of the last dimension delayed by delay_length samples."""

    opcodes = ("SignalDelay",)

    def _params(self, ctx: OpContext) -> tuple[int, int, int]:
        _dtypes(ctx, ["int16"], ["int16"])
        delay = _int_option(ctx, signal_options(ctx), "delay_length", 0, 1 << 20)
        ctx.require(ctx.output(0).size == ctx.input(0).size, "output size differs from the input size")
        rows, frame = _rows_frame(ctx)
        return rows, frame, delay

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        rows, frame, delay = self._params(ctx)
        return _block(*stateful(ctx, [f"static int16_t state[{rows * (delay + frame)}];"],
                                ["memset(state, 0, sizeof state);"]),
                      f"ek_signal_delay({ctx.ptr(ctx.op.inputs[0], 'int16_t')}, "
                      f"{ctx.ptr(ctx.op.outputs[0], 'int16_t')}, {rows}, {frame}, {delay}, state);")


@register
class Framer(OpHandler):
    """SignalFramer: frames of frame_size every frame_step samples; output 1 (bool) says all frames are full."""

    opcodes = ("SignalFramer",)

    def _params(self, ctx: OpContext) -> tuple[dict[str, object], bool]:
        _dtypes(ctx, ["int16"], ["int16", "bool"])
        opts = signal_options(ctx)
        size = _int_option(ctx, opts, "frame_size", 1, 1 << 20)
        step = _int_option(ctx, opts, "frame_step", 1, size)
        rows, length = _rows_frame(ctx)
        ctx.require(length % step == 0, f"input length {length} is not a multiple of frame_step {step}")
        n_frames = length // step
        ctx.require(ctx.output(0).size == rows * n_frames * size,
                    f"output holds {ctx.output(0).size} values, expected {rows * n_frames * size}")
        ctx.require(ctx.output(1).size == 1, "output 1 (valid) must hold one bool")
        return ({"rows": rows, "n_frames": n_frames, "frame_size": size, "frame_step": step,
                 "fifo_size": size + step}, bool(opts.get("prefill", False)))

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p, prefill = self._params(ctx)
        rows = int(p["rows"])
        start = int(p["frame_size"]) - int(p["frame_step"]) if prefill else 0
        o = ctx.op.outputs
        return _block(c_struct("ek_framer_t", "p", p),
                      *stateful(ctx, [f"static int16_t fifo[{rows * int(p['fifo_size'])}];",
                                      f"static int32_t counts[{rows}];"],
                                ["memset(fifo, 0, sizeof fifo);",
                                 f"for (int32_t r = 0; r < {rows}; ++r) counts[r] = {start};"]),
                      f"ek_signal_framer(&p, {ctx.ptr(ctx.op.inputs[0], 'int16_t')}, {ctx.ptr(o[0], 'int16_t')}, "
                      f"{ctx.ptr(o[1], 'uint8_t')}, fifo, counts);")


@register
class Stacker(OpHandler):
    """SignalStacker: stacks left context + frame + right context frames of num_channels, every stacker_step."""

    opcodes = ("SignalStacker",)

    def _params(self, ctx: OpContext) -> dict[str, object]:
        _dtypes(ctx, ["int16"], ["int16", "bool"])
        opts = signal_options(ctx)
        ch = _int_option(ctx, opts, "num_channels", 1, 1 << 16)
        left = _int_option(ctx, opts, "stacker_left_context", 0, 1 << 10)
        right = _int_option(ctx, opts, "stacker_right_context", 0, 1 << 10)
        step = _int_option(ctx, opts, "stacker_step", 1, left + right + 1)
        ctx.require(ctx.input(0).size == ch, f"input holds {ctx.input(0).size} values, not num_channels = {ch}")
        size = ch * (left + right + 1)
        ctx.require(ctx.output(0).size == size, f"output holds {ctx.output(0).size} values, expected {size}")
        ctx.require(ctx.output(1).size == 1, "output 1 (valid) must hold one bool")
        return {"channels": ch, "left_context": left, "buffer_size": size, "step_size": ch * step}

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = self._params(ctx)
        fifo = int(p["buffer_size"]) + int(p["channels"]) * (int(p["left_context"]) + 1)
        o = ctx.op.outputs
        return _block(c_struct("ek_stacker_t", "p", p),
                      *stateful(ctx, [f"static int16_t fifo[{fifo}];", "static int32_t count, started;"],
                                ["count = 0;", "started = 0;"]),
                      f"ek_signal_stacker(&p, {ctx.ptr(ctx.op.inputs[0], 'int16_t')}, {ctx.ptr(o[0], 'int16_t')}, "
                      f"{ctx.ptr(o[1], 'uint8_t')}, fifo, &count, &started);")


@register
class OverlapAdd(OpHandler):
    """SignalOverlapAdd: frames [..., n_frames, frame_size] added into a running buffer, frame_step samples out."""

    opcodes = ("SignalOverlapAdd",)

    def _params(self, ctx: OpContext) -> tuple[str, int, int, int, int]:
        opts = signal_options(ctx)
        dtype = {7: "int16", 0: "float32"}.get(opts.get("T"))
        ctx.require(dtype is not None, f"option T = {opts.get('T')!r}; supported: int16 (7), float32 (0)")
        _dtypes(ctx, [dtype], [dtype])
        step = _int_option(ctx, opts, "frame_step", 1, 1 << 20)
        shape = ctx.input(0).shape
        ctx.require(len(shape) >= 2, "input must be [..., n_frames, frame_size]")
        n_frames, size = shape[-2], shape[-1]
        ctx.require(step <= size, f"frame_step {step} exceeds frame_size {size}")
        rows = ctx.input(0).size // max(n_frames * size, 1)
        ctx.require(ctx.output(0).size == rows * n_frames * step,
                    f"output holds {ctx.output(0).size} values, expected {rows * n_frames * step}")
        return dtype, rows, n_frames, size, step

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        dtype, rows, n_frames, size, step = self._params(ctx)
        ct, fn = (("int16_t", "ek_signal_overlap_add_s16") if dtype == "int16"
                  else ("float", "ek_signal_overlap_add_f32"))
        return _block(*stateful(ctx, [f"static {ct} state[{rows * size}];"], ["memset(state, 0, sizeof state);"]),
                      f"{fn}({ctx.ptr(ctx.op.inputs[0], ct)}, {ctx.ptr(ctx.op.outputs[0], ct)}, {rows}, {n_frames}, "
                      f"{size}, {step}, state);")
