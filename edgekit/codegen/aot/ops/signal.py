"""TFLM's signal library (audio front-end) as custom ops: SignalWindow, SignalFftAutoScale, SignalRfft and
SignalIrfft (int16 and int32), SignalEnergy, SignalFilterBank, SignalFilterBankSquareRoot,
SignalFilterBankSpectralSubtraction, SignalPCAN, SignalFilterBankLog (all but Irfft are the ops of micro_speech's
audio preprocessor; the streaming ops are in signal_stream.py).

Their parameters are a flexbuffer map in the operator's ``custom_options``; the C (``ek_signal.c``) follows the
integer math of TFLM's ``signal/src`` kernels. The RFFT's twiddles (``floor(0.5 + 32767 * cos/sin(phase))``, the
values kiss_fft's fixed-point build computes at init) are generated here as constant arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgekit.codegen.aot.ops.base import OpContext, OpHandler, c_struct, register

_INT16, _INT32 = 7, 2  # TensorType INT16 / INT32 in an Rfft's "T" option


def signal_options(ctx: OpContext) -> dict[str, Any]:
    """The operator's flexbuffer ``custom_options`` as a dict (``ctx.fail`` when absent or unreadable)."""
    raw = ctx.op.custom_options
    if not raw:
        ctx.fail("custom_options (a flexbuffer map of the op's parameters) are missing")
    from flatbuffers import flexbuffers

    try:
        opts = flexbuffers.Loads(bytes(raw))
    except Exception as exc:  # any decoding failure is a malformed model
        ctx.fail(f"custom_options are not a readable flexbuffer ({exc})")
    if not isinstance(opts, dict):
        ctx.fail("custom_options are not a flexbuffer map")
    return opts


def _int_option(ctx: OpContext, opts: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = opts.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        ctx.fail(f"option '{key}' is {value!r}; expected an integer in {lo}..{hi}")
    return int(value)


def _dtypes(ctx: OpContext, ins: list[str], outs: list[str]) -> None:
    ctx.require(len(ctx.op.inputs) == len(ins) and len(ctx.op.outputs) == len(outs),
                f"expected {len(ins)} inputs and {len(outs)} outputs")
    for k, dt in enumerate(ins):
        ctx.require_dtype(ctx.input(k), dt, what=f"input {k}")
    for k, dt in enumerate(outs):
        ctx.require_dtype(ctx.output(k), dt, what=f"output {k}")


def _block(*lines: str) -> str:
    return "\n".join(["{", *("    " + line for part in lines for line in part.splitlines()), "}"])


def stateful(ctx: OpContext, decls: list[str], reset: list[str]) -> list[str]:
    """C lines of an op's state kept across invocations: ``static`` declarations, and ``reset`` statements run on
    the first invocation after each ``model_init`` (the state TFLM's Prepare / Reset leave)."""
    return [*decls, "static uint32_t seen_inits;",
            f"if (seen_inits != {ctx.pool.prefix}_inits) {{",
            *("    " + r for r in reset),
            f"    seen_inits = {ctx.pool.prefix}_inits;",
            "}"]


@register
class Window(OpHandler):
    """SignalWindow: int16 frame times an int16 window (repeated over the input), shifted right, saturated."""

    opcodes = ("SignalWindow",)

    def check(self, ctx: OpContext) -> None:
        _dtypes(ctx, ["int16", "int16"], ["int16"])
        _int_option(ctx, signal_options(ctx), "shift", 0, 31)
        w = ctx.input(1).size
        ctx.require(w > 0 and ctx.input(0).size % w == 0, f"input size {ctx.input(0).size} is not a multiple "
                    f"of the window size {w}")
        ctx.require(ctx.output(0).size == ctx.input(0).size, "output size differs from the input size")

    def emit(self, ctx: OpContext) -> str:
        shift = _int_option(ctx, signal_options(ctx), "shift", 0, 31)
        i = ctx.op.inputs
        return (f"ek_signal_window({ctx.ptr(i[0], 'int16_t')}, {ctx.ptr(i[1], 'int16_t', role='window')}, "
                f"{ctx.input(0).size}, {ctx.input(1).size}, {shift}, {ctx.ptr(ctx.op.outputs[0], 'int16_t')});")

    def inplace(self, ctx: OpContext) -> bool:
        return True


@register
class FftAutoScale(OpHandler):
    """SignalFftAutoScale: scale an int16 frame up to use 15 bits; output 1 is the shift (int32 scalar)."""

    opcodes = ("SignalFftAutoScale",)

    def check(self, ctx: OpContext) -> None:
        _dtypes(ctx, ["int16"], ["int16", "int32"])
        ctx.require(ctx.output(0).size == ctx.input(0).size, "output size differs from the input size")

    def emit(self, ctx: OpContext) -> str:
        o = ctx.op.outputs
        return (f"*{ctx.ptr(o[1], 'int32_t')} = ek_signal_fft_auto_scale({ctx.ptr(ctx.op.inputs[0], 'int16_t')}, "
                f"{ctx.output(0).size}, {ctx.ptr(o[0], 'int16_t')});")


def kiss_factors(n: int) -> list[int]:
    """(radix, remaining) pairs of an n-point complex FFT: fours first, then twos, then odd primes."""
    out, p, floor_sqrt = [], 4, math.floor(math.sqrt(n))
    while True:
        while n % p:
            p = {4: 2, 2: 3}.get(p, p + 2)
            if p > floor_sqrt:
                p = n
        n //= p
        out += [p, n]
        if n <= 1:
            return out


def _q(phase: float, one: int) -> tuple[int, int]:
    return math.floor(0.5 + one * math.cos(phase)), math.floor(0.5 + one * math.sin(phase))


def rfft_twiddles(fft_length: int, inverse: bool = False, bits: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Q15 (``bits`` 16) or Q31 (32) twiddles of the n = fft_length / 2 point complex FFT and of the real-split step
    (n / 2 values); the inverse transform's have the opposite phase."""
    n, sign, one = fft_length // 2, (1 if inverse else -1), (1 << (bits - 1)) - 1
    tw = [_q(sign * 2 * math.pi * i / n, one) for i in range(n)]
    sup = [_q(sign * math.pi * ((i + 1) / n + 0.5), one) for i in range(n // 2)]
    dt = np.int16 if bits == 16 else np.int32
    return np.array(tw, dtype=dt).reshape(-1), np.array(sup, dtype=dt).reshape(-1)


@register
class Rfft(OpHandler):
    """SignalRfft (int16, or int32 = Q31): each frame of the last dimension zero-padded to fft_length,
    fft_length / 2 + 1 bins."""

    opcodes = ("SignalRfft",)

    def _params(self, ctx: OpContext) -> tuple[int, int, int, int, str]:
        opts = signal_options(ctx)
        dtype = {_INT16: "int16", _INT32: "int32"}.get(opts.get("T"))
        ctx.require(dtype is not None, f"option T = {opts.get('T')!r}; supported: int16 (7), int32 (2)")
        _dtypes(ctx, [dtype], [dtype])
        n_fft = _int_option(ctx, opts, "fft_length", 2, 1 << 14)
        ctx.require(n_fft & (n_fft - 1) == 0 and n_fft >= 4, f"fft_length {n_fft} is not a power of two >= 4")
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require(len(inp.shape) >= 1 and len(out.shape) >= 1, "input and output need a last dimension")
        length, out_len = inp.shape[-1], out.shape[-1]
        ctx.require(0 < length <= n_fft, f"frame length {length} exceeds fft_length {n_fft}")
        ctx.require(out_len == n_fft + 2, f"output last dimension {out_len}, expected {n_fft + 2}")
        frames = inp.size // length
        ctx.require(out.size == frames * out_len, "output holds a different number of frames than the input")
        return n_fft, length, frames, out_len, dtype

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        n_fft, length, frames, out_len, dtype = self._params(ctx)
        q31 = dtype == "int32"
        ct, size, fn = ("int32_t", 4, "ek_signal_rfft_s32") if q31 else ("int16_t", 2, "ek_signal_rfft_s16")
        x, y = ctx.ptr(ctx.op.inputs[0], ct), ctx.ptr(ctx.op.outputs[0], ct)
        return _block(
            _fft_struct(ctx, n_fft, False, 32 if q31 else 16),
            f"{ct} *frame = ({ct} *){ctx.scratch};",
            f"for (int32_t f = 0; f < {frames}; ++f) {{",
            f"    memcpy(frame, {x} + f * {length}, {size * length});",
            f"    memset(frame + {length}, 0, {size * (n_fft - length)});" if n_fft > length else "",
            f"    {fn}(&p, frame, {y} + f * {out_len}, frame + {n_fft});",
            "}")

    def scratch_bytes(self, ctx: OpContext) -> int:
        """The zero-padded frame and the complex FFT's output: 2 * fft_length values."""
        n_fft, _, _, _, dtype = self._params(ctx)
        return 2 * n_fft * (4 if dtype == "int32" else 2)


def _fft_struct(ctx: OpContext, n_fft: int, inverse: bool, bits: int = 16) -> str:
    tw, sup = rfft_twiddles(n_fft, inverse, bits)
    kind = ("irfft" if inverse else "rfft") + ("_q31" if bits == 32 else "")
    ct = "int32_t" if bits == 32 else "int16_t"
    p = {"n": n_fft // 2, "n_factors": len(kiss_factors(n_fft // 2)) // 2, "factors": kiss_factors(n_fft // 2),
         "twiddles": ctx.const_array(f"{kind}{n_fft}_twiddles", tw, ct),
         "super_twiddles": ctx.const_array(f"{kind}{n_fft}_super_twiddles", sup, ct)}
    p["inverse"] = int(inverse)
    return c_struct("ek_rfft_s32_t" if bits == 32 else "ek_rfft_s16_t", "p", p)


@register
class Irfft(OpHandler):
    """SignalIrfft (int16, or int32 = Q31): fft_length / 2 + 1 complex bins per frame back to fft_length samples."""

    opcodes = ("SignalIrfft",)

    def _params(self, ctx: OpContext) -> tuple[int, int, int, str]:
        opts = signal_options(ctx)
        dtype = {_INT16: "int16", _INT32: "int32"}.get(opts.get("T"))
        ctx.require(dtype is not None, f"option T = {opts.get('T')!r}; supported: int16 (7), int32 (2)")
        _dtypes(ctx, [dtype], [dtype])
        n_fft = _int_option(ctx, opts, "fft_length", 2, 1 << 14)
        ctx.require(n_fft & (n_fft - 1) == 0 and n_fft >= 4, f"fft_length {n_fft} is not a power of two >= 4")
        inp, out = ctx.input(0), ctx.output(0)
        ctx.require(len(inp.shape) >= 1 and inp.shape[-1] == n_fft + 2,
                    f"input last dimension must be {n_fft + 2} (complex bins)")
        ctx.require(len(out.shape) >= 1 and out.shape[-1] == n_fft, f"output last dimension must be {n_fft}")
        frames = inp.size // (n_fft + 2)
        ctx.require(out.size == frames * n_fft, "output holds a different number of frames than the input")
        return n_fft, frames, n_fft + 2, dtype

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        n_fft, frames, in_len, dtype = self._params(ctx)
        q31 = dtype == "int32"
        ct, fn = ("int32_t", "ek_signal_irfft_s32") if q31 else ("int16_t", "ek_signal_irfft_s16")
        x, y = ctx.ptr(ctx.op.inputs[0], ct), ctx.ptr(ctx.op.outputs[0], ct)
        return _block(_fft_struct(ctx, n_fft, True, 32 if q31 else 16),
                      f"for (int32_t f = 0; f < {frames}; ++f) {{",
                      f"    {fn}(&p, {x} + f * {in_len}, {y} + f * {n_fft}, ({ct} *){ctx.scratch});",
                      "}")

    def scratch_bytes(self, ctx: OpContext) -> int:
        """The complex FFT's input: fft_length values."""
        n_fft, _, _, dtype = self._params(ctx)
        return n_fft * (4 if dtype == "int32" else 2)


@register
class Energy(OpHandler):
    """SignalEnergy: |X[k]|^2 as uint32 for start_index <= k < end_index (other outputs are zero here)."""

    opcodes = ("SignalEnergy",)

    def _params(self, ctx: OpContext) -> tuple[int, int]:
        _dtypes(ctx, ["int16"], ["uint32"])
        opts = signal_options(ctx)
        bins = ctx.output(0).size
        ctx.require(ctx.input(0).size == 2 * bins, f"input holds {ctx.input(0).size} int16, expected {2 * bins}")
        start = _int_option(ctx, opts, "start_index", 0, bins)
        end = _int_option(ctx, opts, "end_index", start, bins)
        return start, end

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        start, end = self._params(ctx)
        y = ctx.ptr(ctx.op.outputs[0], "uint32_t")
        return (f"memset({y}, 0, {4 * ctx.output(0).size});\n"
                f"ek_signal_energy({ctx.ptr(ctx.op.inputs[0], 'int16_t')}, {start}, {end}, {y});")


@register
class FilterBank(OpHandler):
    """SignalFilterBank: uint32 energies into num_channels uint64 triangular-filter sums (constant tables)."""

    opcodes = ("SignalFilterBank",)

    def _channels(self, ctx: OpContext) -> int:
        _dtypes(ctx, ["uint32", "int16", "int16", "int16", "int16", "int16"], ["uint64"])
        channels = _int_option(ctx, signal_options(ctx), "num_channels", 1, 1 << 15)
        for k in range(1, 6):
            ctx.require(ctx.input(k).is_const, f"input {k} (a filter-bank table) must be a constant")
        for k in (3, 4, 5):
            ctx.require(ctx.input(k).size >= channels + 1, f"input {k} holds fewer than {channels + 1} values")
        ctx.require(ctx.output(0).size == channels, f"output holds {ctx.output(0).size} values, not {channels}")
        starts, wstarts, widths = (ctx.input(k).array().astype(np.int64) for k in (3, 4, 5))
        for c in range(channels + 1):
            w = max(int(widths[c]), 0)
            ctx.require(w == 0 or (0 <= starts[c] and starts[c] + w <= ctx.input(0).size and 0 <= wstarts[c]
                                   and wstarts[c] + w <= min(ctx.input(1).size, ctx.input(2).size)),
                        f"channel {c} reads outside the input or the weights")
        return channels

    def check(self, ctx: OpContext) -> None:
        self._channels(ctx)

    def emit(self, ctx: OpContext) -> str:
        channels = self._channels(ctx)
        i = ctx.op.inputs
        roles = ["", "weights", "unweights", "freq_starts", "weight_starts", "widths"]
        p = {"num_channels": channels, **{roles[k]: ctx.ptr(i[k], "int16_t", role=roles[k]) for k in range(1, 6)}}
        return _block(c_struct("ek_filter_bank_t", "p", p),
                      f"ek_signal_filter_bank(&p, {ctx.ptr(i[0], 'uint32_t')}, (uint64_t *){ctx.scratch}, "
                      f"{ctx.ptr(ctx.op.outputs[0], 'uint64_t')});")

    def scratch_bytes(self, ctx: OpContext) -> int:
        """num_channels + 1 uint64 accumulators."""
        return 8 * (self._channels(ctx) + 1)


@register
class FilterBankSquareRoot(OpHandler):
    """SignalFilterBankSquareRoot: rounded integer sqrt of uint64 channels, shifted right by input 1 (int32)."""

    opcodes = ("SignalFilterBankSquareRoot",)

    def check(self, ctx: OpContext) -> None:
        _dtypes(ctx, ["uint64", "int32"], ["uint32"])
        ctx.require(ctx.output(0).size == ctx.input(0).size, "output size differs from the input size")

    def emit(self, ctx: OpContext) -> str:
        i = ctx.op.inputs
        return (f"ek_signal_filter_bank_sqrt({ctx.ptr(i[0], 'uint64_t')}, {ctx.input(0).size}, "
                f"*{ctx.ptr(i[1], 'int32_t', role='scale_bits')}, {ctx.ptr(ctx.op.outputs[0], 'uint32_t')});")


_SS_KEYS = ("smoothing", "one_minus_smoothing", "alternate_smoothing", "alternate_one_minus_smoothing",
            "min_signal_remaining")


@register
class SpectralSubtraction(OpHandler):
    """SignalFilterBankSpectralSubtraction: noise estimate (kept across invocations) subtracted with a floor.

    Output 1 is a copy of the noise estimate; the estimate itself lives in a static array of the generated
    function, zeroed after each model_init (like TFLM's state after Prepare).
    """

    opcodes = ("SignalFilterBankSpectralSubtraction",)

    def _params(self, ctx: OpContext) -> dict[str, object]:
        _dtypes(ctx, ["uint32"], ["uint32", "uint32"])
        opts = signal_options(ctx)
        channels = _int_option(ctx, opts, "num_channels", 1, 1 << 20)
        ctx.require(ctx.input(0).size == channels and ctx.output(0).size == channels
                    and ctx.output(1).size == channels, f"tensors must hold num_channels = {channels} values")
        p: dict[str, object] = {"num_channels": channels}
        p.update({k: _int_option(ctx, opts, k, 0, 2**31 - 1) for k in _SS_KEYS})
        p["smoothing_bits"] = _int_option(ctx, opts, "smoothing_bits", 0, 31)
        p["spectral_subtraction_bits"] = _int_option(ctx, opts, "spectral_subtraction_bits", 0, 63)
        p["clamping"] = int(bool(opts.get("clamping", False)))
        return p

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        p = self._params(ctx)
        o = ctx.op.outputs
        return _block(c_struct("ek_spectral_subtraction_t", "p", p),
                      *stateful(ctx, [f"static uint32_t noise[{p['num_channels']}];"],
                                ["memset(noise, 0, sizeof noise);"]),
                      f"ek_signal_spectral_subtraction(&p, {ctx.ptr(ctx.op.inputs[0], 'uint32_t')}, "
                      f"{ctx.ptr(o[0], 'uint32_t')}, noise, {ctx.ptr(o[1], 'uint32_t')});")


@register
class Pcan(OpHandler):
    """SignalPCAN: per-channel automatic gain control (input, noise estimate, int16 gain table)."""

    opcodes = ("SignalPCAN",)

    def check(self, ctx: OpContext) -> None:
        _dtypes(ctx, ["uint32", "uint32", "int16"], ["uint32"])
        _int_option(ctx, signal_options(ctx), "snr_shift", 0, 63)
        n = ctx.input(0).size
        ctx.require(ctx.input(1).size == n and ctx.output(0).size == n, "input, noise and output sizes differ")
        ctx.require(ctx.input(2).size >= 4 * 32 - 3, f"gain table holds {ctx.input(2).size} values, needs 125")

    def emit(self, ctx: OpContext) -> str:
        shift = _int_option(ctx, signal_options(ctx), "snr_shift", 0, 63)
        i = ctx.op.inputs
        return (f"ek_signal_pcan({ctx.ptr(i[0], 'uint32_t')}, {ctx.ptr(i[1], 'uint32_t')}, "
                f"{ctx.ptr(i[2], 'int16_t', role='gain_lut')}, {shift}, {ctx.input(0).size}, "
                f"{ctx.ptr(ctx.op.outputs[0], 'uint32_t')});")


@register
class FilterBankLog(OpHandler):
    """SignalFilterBankLog: fixed-point ln(x << input_correction_bits) * output_scale, int16."""

    opcodes = ("SignalFilterBankLog",)

    def _params(self, ctx: OpContext) -> tuple[int, int]:
        _dtypes(ctx, ["uint32"], ["int16"])
        opts = signal_options(ctx)
        ctx.require(ctx.output(0).size == ctx.input(0).size, "output size differs from the input size")
        return (_int_option(ctx, opts, "output_scale", 0, 2**31 - 1),
                _int_option(ctx, opts, "input_correction_bits", 0, 31))

    def check(self, ctx: OpContext) -> None:
        self._params(ctx)

    def emit(self, ctx: OpContext) -> str:
        scale, bits = self._params(ctx)
        return (f"ek_signal_filter_bank_log({ctx.ptr(ctx.op.inputs[0], 'uint32_t')}, {ctx.input(0).size}, "
                f"{scale}, {bits}, {ctx.ptr(ctx.op.outputs[0], 'int16_t')});")
