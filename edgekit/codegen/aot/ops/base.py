"""The op-handler interface of the AOT code generator.

One :class:`OpHandler` subclass per op family turns a TFLite operator into C statements for
``ek_model_invoke()``. Handlers register themselves with :func:`register`; the emitter looks
them up in :data:`REGISTRY` by opcode name. An :class:`OpContext` is what a handler sees of the
model while it is checked and emitted: its tensors, their C pointers in the static arena, a way to
add ``static const`` arrays, its scratch buffer, and :meth:`OpContext.fail` to reject it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from edgekit.cores import PORTABLE
from edgekit.errors import UnsupportedOpError

if TYPE_CHECKING:
    from edgekit.tflite_model import Operator, Subgraph, Tensor, TFLiteModel

TFLM_HINT = "use --runtime tflm to run this model with the TFLM interpreter instead of edgekit's AOT runtime"

CTYPES = {
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t", "float32": "float",
    "bool": "uint8_t",
}


def c_identifier(text: str, fallback: str = "t") -> str:
    """A lower-case C identifier made from arbitrary text (``'conv2d/Relu;x:0'`` -> ``'conv2d_relu_x_0'``)."""
    ident = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    if not ident:
        ident = fallback
    if ident[0].isdigit():
        ident = f"{fallback}_{ident}"
    return ident


def short_name(name: str, limit: int = 80) -> str:
    """First ';'-separated part of a (fused) TFLite tensor name, shortened to ``limit`` characters."""
    first = name.split(";")[0]
    return first if len(first) <= limit else "..." + first[-(limit - 3):]


def unsupported(op: Operator, output_name: str, why: str, supported: list[str]) -> UnsupportedOpError:
    """The one error for an operator (or a parameter of it) the AOT runtime cannot run."""
    return UnsupportedOpError(
        f"edgekit AOT runtime: operator {op.index} {op.opcode} (output '{output_name}'): {why}; "
        f"supported ops: {', '.join(supported)}",
        hint=TFLM_HINT,
    )


class ConstPool:
    """The ``static const`` arrays of one generated model (weights, biases, per-channel constants).

    Identical arrays are stored once; names are unique C identifiers derived from a hint.
    """

    def __init__(self, prefix: str = "ek") -> None:
        self.prefix = prefix
        self.arrays: list[tuple[str, str, np.ndarray]] = []  # (name, ctype, flat values)
        self._by_key: dict[tuple[str, bytes], str] = {}
        self._names: set[str] = set()

    def add(self, hint: str, values: np.ndarray, ctype: str) -> str:
        """Add an array (deduplicated) and return its C name."""
        flat = np.ascontiguousarray(np.asarray(values).reshape(-1))
        if flat.dtype == np.bool_:  # bool tensors are bytes 0 / 1 in C
            flat = flat.astype(np.uint8)
        key = (ctype, flat.dtype.str.encode() + flat.tobytes())
        if key in self._by_key:
            return self._by_key[key]
        base = f"{self.prefix}_{c_identifier(hint)}"[:60]
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        self._by_key[key] = name
        self.arrays.append((name, ctype, flat))
        return name

    @property
    def nbytes(self) -> int:
        """Total bytes of all arrays."""
        return sum(int(a.size) * _ctype_size(ct) for _, ct, a in self.arrays)


def _ctype_size(ctype: str) -> int:
    return {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
            "int64_t": 8, "uint64_t": 8, "float": 4}[ctype]


class OpContext:
    """What a handler sees of one operator being checked / emitted.

    Attributes:
        model, subgraph, op: the model and the operator.
        scratch: C expression (``uint8_t *``) of this op's scratch buffer ("" when it has none).
        pool: the model's :class:`ConstPool`.
        sparse: the sparse-weights mode ("auto", "off", "force") for CONV_2D / FULLY_CONNECTED.
        features: the target core's :class:`~edgekit.cores.CoreFeatures`; ``mve`` (derived): generate for the MVE
            kernels (integer Helium; portable C with the same results elsewhere).
        notes: lines the handler adds about its choices (collected into ``AotResult.notes``).
    """

    def __init__(self, model: TFLiteModel, subgraph: Subgraph, op: Operator, *,
                 pool: ConstPool | None = None, tensor_ptr: Callable[[int], str] | None = None,
                 scratch: str = "", supported: list[str] | None = None) -> None:
        self.model = model
        self.subgraph = subgraph
        self.op = op
        self.pool = pool if pool is not None else ConstPool()
        self.scratch = scratch
        self.sparse = "auto"  # generate_c(sparse=...): "auto" | "off" | "force" (edgekit/codegen/aot/sparse.py)
        self.features = PORTABLE  # generate_c(features=...): the target core's DSP / MVE / FPU
        self.wide_weights = False  # int16 weights for the DSP cores' *_w16 kernels (generate_c decides per op)
        self.w16_layer: Any = None  # set by emit when this op ran on a *_w16 kernel: its variants.Layer
        self.notes: list[str] = []  # what the handler chose, for AotResult.notes
        self.variables: Any = None  # the model's resource variables (edgekit/codegen/aot/variables.py)
        self.scratch_size: int | None = None  # a size of OpHandler.scratch_options the memory plan granted
        self._tensor_ptr = tensor_ptr
        self._supported = supported if supported is not None else sorted(REGISTRY)

    @property
    def mve(self) -> bool:
        """Generate for the MVE kernels (the target core has integer Helium)."""
        return self.features.mve

    def bind(self, tensor_ptr: Callable[[int], str], scratch: str = "") -> None:
        """Attach the memory plan: ``tensor_ptr(index)`` gives an arena address expression (used by emit)."""
        self._tensor_ptr = tensor_ptr
        self.scratch = scratch

    # -- tensors ------------------------------------------------------------------------------
    def input(self, k: int) -> Tensor | None:
        """The k-th input tensor, or None when the input is optional and absent (or out of range)."""
        if k >= len(self.op.inputs) or self.op.inputs[k] < 0:
            return None
        return self.subgraph.tensors[self.op.inputs[k]]

    def output(self, k: int) -> Tensor:
        """The k-th output tensor."""
        return self.subgraph.tensors[self.op.outputs[k]]

    @property
    def options(self) -> dict[str, Any]:
        """The operator's decoded builtin options."""
        return self.op.options

    @property
    def name(self) -> str:
        """Layer name used in comments and identifiers: the name of output 0."""
        return self.output(0).name if self.op.outputs else f"op{self.op.index}"

    @property
    def short_name(self) -> str:
        """The layer name for comments: the first part of a fused TFLite tensor name, at most 80 characters."""
        return short_name(self.name)

    @property
    def ident(self) -> str:
        """A short C identifier for this operator (``op<index>``)."""
        return f"op{self.op.index}"

    def ptr(self, tensor_index: int, ctype: str = "int8_t", *, role: str | None = None) -> str:
        """C expression for a tensor's data: a cast pointer into the arena, or a const array for constants.

        ``role`` (e.g. "filter", "bias") names the const array of a constant tensor (default: from its name).
        """
        tensor = self.subgraph.tensors[tensor_index]
        if tensor.is_const:
            short = role or re.split(r"[/;:]", tensor.name.rstrip("/;:"))[-1] or "const"
            name = self.const_array(f"{self.ident}_{short}", tensor.array(), CTYPES.get(tensor.dtype, ctype))
            return f"((const {ctype} *){name})"
        if self._tensor_ptr is None:
            return f"(({ctype} *)0)"
        return f"(({ctype} *){self._tensor_ptr(tensor_index)})"

    def arena_ptr(self, index: int, ctype: str = "uint8_t") -> str:
        """C expression for an arena buffer by its plan index: a tensor or a persistent slot (variables.py)."""
        if self._tensor_ptr is None:
            return f"(({ctype} *)0)"
        return f"(({ctype} *){self._tensor_ptr(index)})"

    def const_array(self, hint: str, values: np.ndarray, ctype: str) -> str:
        """Add a ``static const`` array to the generated model and return its C name."""
        return self.pool.add(hint, values, ctype)

    # -- errors -------------------------------------------------------------------------------
    def fail(self, why: str) -> NoReturn:
        """Reject this operator: UnsupportedOpError naming op, index, output tensor, supported ops, hint."""
        raise unsupported(self.op, self.name, why, self._supported)

    def require(self, condition: bool, why: str) -> None:
        """``ctx.fail(why)`` unless ``condition`` holds."""
        if not condition:
            self.fail(why)

    def require_dtype(self, tensor: Tensor | None, *dtypes: str, what: str = "tensor") -> None:
        """Fail unless ``tensor`` exists and has one of ``dtypes``."""
        if tensor is None:
            self.fail(f"{what} is missing")
        if tensor.dtype not in dtypes:
            self.fail(f"{what} '{tensor.name}' has dtype {tensor.dtype}; supported: {', '.join(dtypes)}")


class OpHandler:
    """Base class of op handlers: subclass, set ``opcodes``, implement check/emit, decorate with @register."""

    opcodes: tuple[str, ...] = ()

    def check(self, ctx: OpContext) -> None:
        """Raise via ``ctx.fail`` for unsupported parameters or dtypes. Default: accept."""

    def emit(self, ctx: OpContext) -> str:
        """C statements for ``ek_model_invoke()`` (return ``EK_ERR_*`` on failure)."""
        raise NotImplementedError

    def scratch_bytes(self, ctx: OpContext) -> int:
        """Bytes of arena scratch this op needs during its execution (default 0)."""
        return 0

    def scratch_options(self, ctx: OpContext) -> list[int]:
        """Larger scratch sizes this op runs faster with, best first (default none): the planner grants the first
        that does not grow the arena and sets ``ctx.scratch_size`` to it before ``scratch_bytes`` and ``emit``."""
        return []

    def inplace(self, ctx: OpContext) -> bool:
        """True when output 0 may share memory with input ``inplace_input`` (same bytes; default False)."""
        return False

    def inplace_input(self, ctx: OpContext) -> int:
        """Which input output 0 may share memory with when ``inplace`` (default 0)."""
        return 0


REGISTRY: dict[str, OpHandler] = {}


# custom ops the AOT runtime does not run, and what they are for (named in the error)
_CUSTOM_PURPOSE = {
    "ethos-u": "an Arm Ethos-U NPU command stream (the model was compiled by Vela); it runs only on a device with "
               "an Ethos-U NPU, through TFLM's ethos-u kernel",
    "TFLite_Detection_PostProcess": "SSD object-detection post-processing (box decoding and non-max suppression)",
    "TFL_Detection_PostProcess": "SSD object-detection post-processing (box decoding and non-max suppression)",
}


def custom_op_purpose(custom_code: str | None) -> str:
    """The unsupported-op reason for a CUSTOM operator: its code and, when known, what it is for."""
    if custom_code in _CUSTOM_PURPOSE:
        return f"custom op '{custom_code}' ({_CUSTOM_PURPOSE[custom_code]}) is not supported"
    if custom_code and custom_code.startswith("Signal"):
        return (f"custom op '{custom_code}' (TFLM's signal library, audio front-end) is not supported by edgekit's "
                "AOT runtime yet")
    return f"custom op '{custom_code}' is not supported (it needs a kernel registered under that name)"


def op_key(op: Operator) -> str:
    """The REGISTRY key of an operator: its builtin opcode name, or its custom_code for a CUSTOM op."""
    return (op.custom_code or "CUSTOM") if op.opcode == "CUSTOM" else op.opcode


def register(handler_cls: type[OpHandler]) -> type[OpHandler]:
    """Class decorator: add one instance of ``handler_cls`` to REGISTRY for each of its opcodes."""
    if not handler_cls.opcodes:
        raise TypeError(f"{handler_cls.__name__}.opcodes is empty")
    instance = handler_cls()
    for opcode in handler_cls.opcodes:
        current = REGISTRY.get(opcode)
        if getattr(current, "float_handler", None) is not None:  # a DtypeDispatch (dispatch.py): keep its float side
            current.default = instance
        else:
            REGISTRY[opcode] = instance
    return handler_cls


def c_struct(ctype: str, name: str, fields: dict[str, object]) -> str:
    """A block-scope ``static const`` struct definition with designated initializers.

    Values are ints, strings (emitted verbatim, e.g. an array name) or lists of ints (brace lists).
    """
    parts = []
    for key, value in fields.items():
        if isinstance(value, (list, tuple)):
            value = "{" + ", ".join(str(int(v)) for v in value) + "}"
        elif isinstance(value, bool):
            value = int(value)
        parts.append(f".{key} = {value}")
    lines, line = [], "    "
    for part in parts:
        if len(line) + len(part) > 110:
            lines.append(line.rstrip())
            line = "    "
        line += part + ", "
    lines.append(line.rstrip().rstrip(","))
    return f"static const {ctype} {name} = {{\n" + "\n".join(lines) + "\n};"


def scale_zp(ctx: OpContext, tensor: Tensor, what: str) -> tuple[float, int]:
    """Per-tensor (scale, zero_point) of ``tensor`` or ``ctx.fail``."""
    q = tensor.quantization
    if q is None or not q.scale:
        ctx.fail(f"{what} '{tensor.name}' is not quantized")
    if len(q.scale) != 1:
        ctx.fail(f"{what} '{tensor.name}' has per-channel quantization; only per-tensor is supported here")
    scale = float(q.scale[0])
    if not (math.isfinite(scale) and scale > 0):
        ctx.fail(f"{what} '{tensor.name}' has scale {scale!r}; it must be a positive finite number")
    return scale, int(q.zero_point[0]) if q.zero_point else 0


def fused_range(ctx: OpContext, out: Tensor, qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """Quantized clamp range of the op's fused activation (TFLite semantics) or ``ctx.fail``."""
    from edgekit.codegen.aot.quant import activation_range

    fused = ctx.options.get("fused_activation_function", "NONE")
    scale, zp = scale_zp(ctx, out, "output")
    if fused not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        ctx.fail(f"fused activation {fused} is not supported (NONE, RELU, RELU6, RELU_N1_TO_1)")
    clamps = {"NONE": (), "RELU": (0.0,), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}[fused]
    for f in clamps:
        if abs(f / scale) >= 2**31:
            ctx.fail(f"fused activation {fused}: output scale {scale:g} too small to represent the clamp")
    lo, hi = activation_range(fused, scale, zp, qmin, qmax)
    return lo, hi


def matmul_filter(weights: np.ndarray) -> np.ndarray:
    """The ek_matmul_s8 filter layout (ek_matmul.h) of int8 ``weights`` [rows][depth], flat.

    Depth is zero-padded to a multiple of 4; rows go in pairs as interleaved 4-byte groups
    (r0[0:4] r1[0:4] r0[4:8] r1[4:8] ...); an odd last row stays plain.
    """
    rows, depth = weights.shape
    depth4 = (depth + 3) & ~3
    w = np.zeros((rows, depth4), dtype=np.int8)
    w[:, :depth] = weights
    pairs = rows - rows % 2
    head = w[:pairs].reshape(pairs // 2, 2, depth4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([head, w[pairs:].reshape(-1)])


def matmul_filter_w16(weights: np.ndarray) -> np.ndarray:
    """The ek_matmul_s8w16 filter layout (ek_matmul.h) of int8 ``weights`` [rows][depth], flat int16.

    Depth zero-padded to a multiple of 4, each group of 4 values reordered [w0, w2, w1, w3] (the order
    ek_widen_s8_reordered gives the column); rows in pairs as interleaved groups (r0 g0, r1 g0, r0 g1, ...);
    an odd last row plain.
    """
    rows, depth = weights.shape
    depth4 = (depth + 3) & ~3
    w = np.zeros((rows, depth4), dtype=np.int16)
    w[:, :depth] = weights
    w = w.reshape(rows, depth4 // 4, 4)[:, :, [0, 2, 1, 3]]
    pairs = rows - rows % 2
    head = w[:pairs].reshape(pairs // 2, 2, depth4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([head, w[pairs:].reshape(-1)]).astype(np.int16)


def w16_shifts(mults: list[int] | np.ndarray, shifts: list[int] | np.ndarray) -> list[int] | None:
    """The shifts the *_w16 kernels' requantization words take (each <= -2), or None when a channel needs a larger
    one. A zero multiplier gives 0 for every shift (srdhm(x << s, 0) == 0), so its shift becomes -2."""
    m = np.broadcast_to(np.asarray(mults, np.int64).reshape(-1), np.asarray(shifts).reshape(-1).shape)
    out = [-2 if int(mv) == 0 else int(sv) for mv, sv in zip(m, np.asarray(shifts).reshape(-1), strict=True)]
    return out if all(v <= -2 for v in out) else None


def matmul_rq_w16(bias: np.ndarray | None, mults: list[int], shifts: list[int]) -> np.ndarray:
    """The ek_matmul_s8w16 requantization words (ek_matmul.h): per row pair [b0, b1, m0, m1, rnd0, rnd1, rs0, rs1],
    an odd last row [b, m, rnd, rs]; rs = -shift - 1, rnd = 2^(rs - 1). Every shift must be <= -2."""
    rows = len(mults)
    sh = np.asarray(shifts, dtype=np.int64).reshape(-1)
    if sh.size != rows or (sh > -2).any():
        raise ValueError("matmul_rq_w16 needs one shift <= -2 per row")
    rs = -sh - 1
    cols = [np.zeros(rows, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1),
            np.asarray(mults, np.int64), np.left_shift(1, rs - 1), rs]
    pairs = rows - rows % 2
    head = np.stack([c[:pairs].reshape(-1, 2) for c in cols], axis=1).reshape(-1)
    tail = np.array([c[pairs] for c in cols], np.int64) if rows % 2 else np.zeros(0, np.int64)
    return np.concatenate([head, tail]).astype(np.int32)


def fc_filter_w16(weights: np.ndarray) -> np.ndarray:
    """The ek_fully_connected_s8_w16 filter layout (ek_fully_connected.h) of int8 ``weights`` [rows][depth], flat
    int16: depth zero-padded to a multiple of 4, groups reordered [w0, w2, w1, w3], rows in blocks of 4 as interleaved
    groups (r0 g0, r1 g0, r2 g0, r3 g0, r0 g1, ...), the rows % 4 last rows plain."""
    rows, depth = weights.shape
    depth4 = (depth + 3) & ~3
    w = np.zeros((rows, depth4), dtype=np.int16)
    w[:, :depth] = weights
    w = w.reshape(rows, depth4 // 4, 4)[:, :, [0, 2, 1, 3]]
    r4 = rows - rows % 4
    head = w[:r4].reshape(r4 // 4, 4, depth4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([head, w[r4:].reshape(-1)]).astype(np.int16)


def fc_rq_w16(bias: np.ndarray, mults: list[int], shifts: list[int]) -> np.ndarray:
    """The ek_fully_connected_s8_w16 requantization words: per block of 4 rows [bias x4][mult x4][rnd x4][rs x4],
    each of the rows % 4 last rows [bias, mult, rnd, rs]; one multiplier / shift is broadcast to every row. Every
    shift must be <= -2."""
    rows = int(np.asarray(bias).size)
    sh = np.broadcast_to(np.asarray(shifts, dtype=np.int64).reshape(-1), (rows,))
    if (sh > -2).any():
        raise ValueError("fc_rq_w16 needs every shift <= -2")
    rs = -sh - 1
    cols = [np.asarray(bias, np.int64).reshape(-1),
            np.broadcast_to(np.asarray(mults, np.int64).reshape(-1), (rows,)), np.left_shift(1, rs - 1), rs]
    r4 = rows - rows % 4
    head = np.stack([c[:r4].reshape(-1, 4) for c in cols], axis=1).reshape(-1)
    tail = np.stack([c[r4:] for c in cols], axis=1).reshape(-1)
    return np.concatenate([head, tail]).astype(np.int32)


def mve_rows_filter(weights: np.ndarray, segments: int = 1) -> np.ndarray:
    """The ek_matmul_mve_s8 filter layout (ek_matmul.h) of int8 ``weights`` [rows][depth], flat.

    Rows in groups of 4 (the last padded with zero rows); each row is ``segments`` runs of depth / segments values
    (a conv's k_h filter rows), each run zero-padded to a multiple of 16; per group and run the chunks of 16 values
    go r0[0:16] r1[0:16] r2[0:16] r3[0:16] r0[16:32] ...
    """
    rows, depth = weights.shape
    run = depth // segments
    r4, run16 = -(-rows // 4) * 4, max(16, -(-run // 16) * 16)
    w = np.zeros((r4, segments, run16), dtype=np.int8)
    w[:rows, :, :run] = weights.reshape(rows, segments, run)
    return np.ascontiguousarray(w.reshape(r4 // 4, 4, segments, run16 // 16, 16).transpose(0, 2, 3, 1, 4)).reshape(-1)


def mve_rq_table(bias: np.ndarray, mults: list[int] | np.ndarray, shifts: list[int] | np.ndarray,
                 rows: int) -> np.ndarray:
    """The ek_matmul_mve_s8 / ek_depthwise_conv2d_s8_mve requantization words (EK_RQ_WORDS, ek_common.h): per group
    of 4 rows (channels) 10 int32, ``[bias x4][mult x4][max(shift, 0) as 4 int8][min(shift, 0) as 4 int8]``; one
    multiplier / shift (per-tensor) is repeated; padded rows get 0."""
    r4 = -(-rows // 4) * 4
    cols = []
    for values in (bias, mults, shifts):
        flat = np.asarray(values, dtype=np.int64).reshape(-1)
        padded = np.zeros(r4, dtype=np.int64)
        padded[:rows] = np.broadcast_to(flat, (rows,)) if flat.size == 1 else flat[:rows]
        cols.append(padded)
    b, m, s = cols
    def lanes(v: np.ndarray) -> np.ndarray:  # 4 int8 lanes per int32 word, little-endian
        return np.ascontiguousarray(v.astype(np.int8).reshape(-1, 4)).view("<i4").astype(np.int64).reshape(-1, 1)

    table = np.concatenate([b.reshape(-1, 4), m.reshape(-1, 4), lanes(np.maximum(s, 0)), lanes(np.minimum(s, 0))],
                           axis=1)
    return table.reshape(-1).astype(np.int32)


def mve_x2rq(shifts: list[int] | np.ndarray) -> str:
    """The MVE pair kernels' requantization (ek_mve_mm_t.x2rq, ek_matmul.h): ``ek_mve_x2_shl`` if any shift is > 0,
    else ``ek_mve_x2_nls`` (a model that names no ek_mve_x2_shl links no VSHL code)."""
    return "ek_mve_x2_shl" if (np.asarray(shifts, dtype=np.int64) > 0).any() else "ek_mve_x2_nls"


def mve_mm_struct(name: str, depth: int, rows: int, p: dict[str, object], filt: str, rq: str,
                  shifts: list[int] | np.ndarray, segments: int = 1, pairs: bool = True) -> list[str]:
    """A block-scope ``static const ek_mve_mm_t`` (ek_matmul.h) for the MVE matrix kernel: out_offset and the
    activation range from ``p``, filter and rq arrays by name, x2rq known here (:func:`mve_x2rq`; NULL unless the
    kernel pairs columns, ``pairs``)."""
    return c_struct("ek_mve_mm_t", name, dict(depth=depth, segments=segments, rows=rows, out_offset=p["out_offset"],
                                              act_min=p["act_min"], act_max=p["act_max"], filter=filt, rq=rq,
                                              x2rq=mve_x2rq(shifts) if pairs else "NULL")).splitlines()
