"""What a .tflite model costs on a microcontroller: ops, parameters, MACs, TFLM arena, flash, board fit.

>>> report = inspect("model.tflite", board="nucleo-l4r5zi")   # doctest: +SKIP
>>> report.macs, report.arena_bytes, report.fit.fits           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edgekit import _tflm_facts as F
from edgekit.errors import EdgekitError, NativeCrash, ToolMissing
from edgekit.macs import MACS_NOTE, op_macs, op_other_ops
from edgekit.runtime_figures import RuntimeFigures, edgekit_figures
from edgekit.tflite_model import Subgraph, Tensor, TFLiteModel, load_model

__all__ = ["BoardFit", "InspectReport", "Issue", "LayerInfo", "OpSummary", "TensorInfo", "inspect"]

_UNSUPPORTED_DTYPES = {"float64": "float64", "complex64": "complex", "complex128": "complex", "string": "string",
                       "float16": "float16", "bfloat16": "bfloat16", "float8_e4m3fn": "float8",
                       "float8_e5m2": "float8", "uint64": "uint64", "uint32": "uint32"}


@dataclass(frozen=True)
class TensorInfo:
    """A tensor as shown by inspect; ``kind`` is input, output, constant, variable or activation."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    kind: str
    nbytes: int
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0


@dataclass(frozen=True)
class LayerInfo:
    """One operator: its output shape, MACs, other ops and the constant parameters it reads."""

    index: int
    opcode: str
    version: int
    output_shape: tuple[int, ...]
    macs: int
    other_ops: int
    params: int


@dataclass(frozen=True)
class OpSummary:
    """Count, versions and MACs of one operator type; ``tflm`` says whether TFLM has a kernel for it."""

    opcode: str
    count: int
    versions: tuple[int, ...]
    macs: int
    tflm: bool
    edgekit: str | None = None  # None: edgekit's AOT runtime runs every operator of this type; else why not


@dataclass(frozen=True)
class Issue:
    """Something that stops (error) or may hinder (warning) the model on TFLM, or a remark (info)."""

    severity: str
    message: str


@dataclass(frozen=True)
class BoardFit:
    """Flash/RAM fit and a first latency estimate on one board."""

    board: str
    board_name: str
    flash_bytes: int | None
    ram_bytes: int
    flash_needed: int | None
    ram_needed: int | None
    flash_free: int | None
    ram_free: int | None
    flash_pct: float | None
    ram_pct: float | None
    fits: bool | None
    latency_ms: float | None
    cycles_per_mac: float
    clock_hz: int
    latency_source: str
    notes: tuple[str, ...] = ()


@dataclass
class InspectReport:
    """Everything :func:`inspect` found; ``to_dict()`` gives a JSON-friendly form."""

    path: str | None
    sha256: str
    size_bytes: int
    schema_version: int
    description: str
    subgraphs: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    ops: list[OpSummary]
    layers: list[LayerInfo]
    tensors: list[TensorInfo]
    params: int
    weight_bytes: int
    macs: int
    other_ops: int
    macs_note: str
    full_int8: bool
    activation_dtypes: dict[str, int]
    weight_dtypes: dict[str, int]
    activation_peak_bytes: int
    issues: list[Issue] = field(default_factory=list)
    arena_bytes: int | None = None
    arena: dict[str, int | None] | None = None
    arena_note: str = ""
    runtime_code_bytes: tuple[int, int] = (0, 0)
    flash_estimate_bytes: int = 0
    flash_note: str = ""
    fit: BoardFit | None = None
    runtimes: list[RuntimeFigures] = field(default_factory=list)  # edgekit (what 'generate' uses) first, then TFLM

    @property
    def tflm_ok(self) -> bool:
        """No error-level issue."""
        return not any(i.severity == "error" for i in self.issues)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["tflm_ok"] = self.tflm_ok
        return d


def inspect(model: str | os.PathLike[str] | bytes | TFLiteModel, *, board: Any = None, arena: bool = True,
            kernels: str | None = None) -> InspectReport:
    """Inspect a .tflite model.

    Args:
        model: a path, the file's bytes, or a parsed model.
        board: a board id or :class:`~edgekit.boards.BoardProfile` for a fit verdict and latency estimate.
        arena: measure the TFLM arena with the host interpreter (in a subprocess); skipped with a note when
            tflite-micro is absent; a crash there becomes an error-level issue, never an exception.
        kernels: "reference" or "cmsis-nn" for the runtime code estimate; default: cmsis-nn on Arm boards,
            reference otherwise.

    Raises:
        ModelError: the file cannot be read as a TFLite model.
        BoardError: unknown board id.
    """
    m = model if isinstance(model, TFLiteModel) else load_model(model)
    profile = _board(board)
    sg = m.main
    rep = _graph_report(m, sg)
    rep.issues.extend(_issues(m, sg))
    if arena:
        _measure_arena(m, rep)
    else:
        rep.arena_note = "not measured (--no-arena)"
    kind = kernels or ("cmsis-nn" if profile is not None and profile.arch.startswith("armv") else "reference")
    rep.runtime_code_bytes = F.RUNTIME_CODE_BYTES[kind]
    rep.flash_estimate_bytes = m.size + rep.runtime_code_bytes[1]
    rep.flash_note = f"model {m.size} B + TFLM runtime ({kind}) {F.RUNTIME_CODE_SOURCE}"
    if profile is not None:
        rep.fit = _fit(rep, profile)
    rep.runtimes = [edgekit_figures(m, profile, rep.macs), _tflm_figures(rep)]
    return rep


def _tflm_figures(rep: InspectReport) -> RuntimeFigures:
    low, high = rep.runtime_code_bytes
    fit = rep.fit
    return RuntimeFigures(
        "tflm", rep.tflm_ok, rep.arena_bytes, rep.arena_note, (rep.size_bytes + low, rep.size_bytes + high),
        rep.flash_note, fit.latency_ms if fit else None, fit.latency_source if fit else "no board given")


def _board(board: Any) -> Any:
    if board is None:
        return None
    from edgekit.boards import load_board

    return load_board(board)


def _tensor_info(t: Tensor, kind: str) -> TensorInfo:
    q = t.quantization
    return TensorInfo(index=t.index, name=t.name, shape=t.shape, dtype=t.dtype, kind=kind, nbytes=t.nbytes,
                      scale=q.scale if q else (), zero_point=q.zero_point if q else (),
                      quantized_dimension=q.quantized_dimension if q else 0)


def _kind(t: Tensor, sg: Subgraph) -> str:
    if t.index in sg.inputs:
        return "input"
    if t.index in sg.outputs:
        return "output"
    if t.is_variable:
        return "variable"
    return "constant" if t.is_const else "activation"


def _graph_report(m: TFLiteModel, sg: Subgraph) -> InspectReport:
    tensors = [_tensor_info(t, _kind(t, sg)) for t in sg.tensors]
    layers, by_op = [], {}
    for op in sg.operators:
        const_in = {i for i in op.inputs if i >= 0 and sg.tensors[i].is_const}
        layer = LayerInfo(index=op.index, opcode=op.opcode, version=op.version,
                          output_shape=sg.tensors[op.outputs[0]].shape if op.outputs and op.outputs[0] >= 0 else (),
                          macs=op_macs(sg, op), other_ops=op_other_ops(sg, op),
                          params=sum(sg.tensors[i].size for i in const_in))
        layers.append(layer)
        count, versions, macs = by_op.get(op.opcode, (0, set(), 0))
        by_op[op.opcode] = (count + 1, versions | {op.version}, macs + layer.macs)
    from edgekit.codegen.aot.generate import op_support

    support = op_support(m)
    refused: dict[str, str] = {}
    for op in sg.operators:
        if support.get(op.index) is not None:
            refused.setdefault(op.opcode, str(support[op.index]))
    ops = [OpSummary(opcode=k, count=c, versions=tuple(sorted(v)), macs=mc, tflm=_tflm_has(k, sg, m),
                     edgekit=refused.get(k)) for k, (c, v, mc) in sorted(by_op.items())]
    consts = {}
    for t in sg.tensors:
        if t.is_const:
            consts.setdefault(t.buffer, t)
    activations = Counter(t.dtype for t in sg.tensors if not t.is_const)
    weights = Counter(t.dtype for t in consts.values())
    return InspectReport(
        path=str(m.path) if m.path else None, sha256=m.sha256, size_bytes=m.size, schema_version=m.version,
        description=m.description, subgraphs=len(m.subgraphs),
        inputs=[tensors[i] for i in sg.inputs], outputs=[tensors[i] for i in sg.outputs], ops=ops, layers=layers,
        tensors=tensors, params=sum(t.size for t in consts.values()),
        weight_bytes=sum(len(t.data or b"") for t in consts.values()),
        macs=sum(x.macs for x in layers), other_ops=sum(x.other_ops for x in layers), macs_note=MACS_NOTE,
        full_int8=_full_int8(sg), activation_dtypes=dict(activations), weight_dtypes=dict(weights),
        activation_peak_bytes=_activation_peak(sg))


def _tflm_has(opcode: str, sg: Subgraph, m: TFLiteModel) -> bool:
    if opcode == "CUSTOM":
        codes = {op.custom_code for op in sg.operators if op.opcode == "CUSTOM"}
        return all(c in F.TFLM_CUSTOM_OPS for c in codes)
    return opcode in F.TFLM_BUILTIN_OPS


def _full_int8(sg: Subgraph) -> bool:
    """int8 inputs, outputs and quantized activations, int8 weights (int32 only for biases and index data)."""
    for t in sg.tensors:
        if t.dtype.startswith(("float", "bfloat")):
            return False
        if not t.is_const and t.dtype != "int8" and not (t.dtype == "int32" and t.quantization is None):
            return False
        if t.is_const and t.dtype not in ("int8", "int32"):
            return False
    return all(sg.tensors[i].dtype == "int8" for i in (*sg.inputs, *sg.outputs))


def _activation_peak(sg: Subgraph) -> int:
    """Peak bytes of simultaneously live activations (a lower bound for TFLM's non-persistent arena)."""
    last_use: dict[int, int] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                last_use[i] = op.index
    for i in sg.outputs:
        last_use[i] = len(sg.operators)
    live = {i for i in sg.inputs}
    peak = sum(sg.tensors[i].nbytes for i in live)

    def size(idx: int) -> int:
        t = sg.tensors[idx]
        return 0 if t.is_const or t.is_variable else t.nbytes

    for op in sg.operators:
        live |= {i for i in op.outputs if i >= 0}
        peak = max(peak, sum(size(i) for i in live))
        live = {i for i in live if last_use.get(i, -1) > op.index}
    return peak


def _issues(m: TFLiteModel, sg: Subgraph) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[str] = set()

    def add(severity: str, message: str) -> None:
        if message not in seen:
            seen.add(message)
            issues.append(Issue(severity, message))

    for op in sg.operators:
        if op.opcode == "CUSTOM":
            if op.custom_code in F.TFLM_CUSTOM_OPS:
                add("warning", f"custom op '{op.custom_code}' has a TFLM kernel but must be added to the op resolver")
            else:
                add("error", f"custom op '{op.custom_code}' has no TFLM kernel; the firmware must provide one")
        elif op.opcode not in F.TFLM_BUILTIN_OPS:
            add("error", f"TFLM has no kernel for {op.opcode}")
        w_idx = F.WEIGHTED_OPS.get(op.opcode)
        if w_idx is not None and len(op.inputs) > w_idx and op.inputs[0] >= 0 and op.inputs[w_idx] >= 0:
            x, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[w_idx]]
            if x.dtype == "float32" and w.dtype in ("int8", "uint8", "int4"):
                add("error", f"{op.opcode} (operator {op.index}) is hybrid: float32 activations with {w.dtype} "
                             "weights; TFLM runs no hybrid ops (quantize activations too: full-int8 conversion)")
    for t in sg.tensors:
        where = f"tensor {t.index} '{t.name}'"
        if t.dtype in _UNSUPPORTED_DTYPES:
            add("error", f"{_UNSUPPORTED_DTYPES[t.dtype]} tensors (e.g. {where}): TFLM kernels do not take them")
        elif t.dtype in ("resource", "variant"):
            add("warning", f"{t.dtype} tensors (e.g. {where}): TFLM supports them only for resource variables")
        elif t.dtype == "int64" and not t.is_const:
            add("warning", f"int64 activations (e.g. {where}): only a few TFLM kernels accept int64")
        elif t.dtype == "uint8" and t.quantization and not t.is_const:
            add("warning", f"uint8-quantized activations (e.g. {where}): TFLM kernels expect int8")
        if t.is_sparse:
            add("error", f"sparse tensor {where}: TFLM does not densify sparse weights")
        if t.quantization and any(not (s > 0 and math.isfinite(s)) for s in t.quantization.scale):
            add("error", f"{where} has a zero, negative or non-finite quantization scale; TFLM may abort")
    hybrid = any("is hybrid" in i.message for i in issues)
    if not hybrid and any(t.dtype == "float32" and not t.is_const for t in sg.tensors):
        add("info", "float32 activations: TFLM runs them with reference kernels only (no CMSIS-NN); an int8 model "
                    "is ~4x smaller and faster")
    if len(m.subgraphs) > 1:
        add("info", f"{len(m.subgraphs)} subgraphs (control flow): TFLM supports IF/WHILE/CALL_ONCE only")
    if any(t.shape_signature and any(d < 0 for d in t.shape_signature[1:]) for t in sg.tensors):
        add("warning", "dynamic shapes (shape_signature has -1 beyond the batch): TFLM uses the stored shapes")
    return issues


def _measure_arena(m: TFLiteModel, rep: InspectReport) -> None:
    from edgekit.tflm import tflm_arena_usage

    try:
        usage = tflm_arena_usage(m)
    except ToolMissing as exc:
        rep.arena_note = f"not measured: {exc.message} ({exc.hint})"
        return
    except NativeCrash as exc:
        rep.arena_note = "not measured: the TFLM host interpreter crashed"
        rep.issues.append(Issue("error", f"{exc.message}; {exc.hint}" if exc.hint else exc.message))
        return
    except EdgekitError as exc:
        rep.arena_note = "not measured: TFLM refused the model"
        rep.issues.append(Issue("error", exc.message))
        return
    rep.arena_bytes = usage.required
    rep.arena = {"total": usage.total, "head": usage.head, "tail": usage.tail, "required": usage.required}
    rep.arena_note = ("TFLM host interpreter (x86-64; a 32-bit MCU needs slightly less, its pointers are smaller)"
                      + ("" if usage.required == usage.total else
                         f"; the printed total ({usage.total} B) is too small to allocate, {usage.required} B is "
                         "the smallest that runs"))


def _fit(rep: InspectReport, board: Any) -> BoardFit:
    notes = []
    flash_total = board.memory.flash_kb * 1024 if board.memory.flash_kb else None
    ram_total = board.memory.ram_kb * 1024
    mcu = board.kind == "mcu"
    flash_needed = rep.flash_estimate_bytes if mcu and flash_total else None
    if not mcu or not flash_total:
        notes.append("flash: not applicable (the model is a file on this system)")
    ram_needed = rep.arena_bytes
    if ram_needed is None:
        notes.append(f"RAM: arena unknown ({rep.arena_note}); live activations alone need "
                     f"{rep.activation_peak_bytes} B")
    else:
        notes.append("RAM: TFLM arena only; stack and the firmware's own data come on top")
    if not rep.full_int8:
        notes.append("latency: the cycles/MAC figure is for int8 kernels; a model that is not full-int8 runs slower")
    flash_ok = None if flash_needed is None or flash_total is None else flash_needed <= flash_total
    ram_ok = None if ram_needed is None else ram_needed <= ram_total
    checks = [ram_ok, flash_ok] if flash_needed is not None else [ram_ok]
    fits = False if False in checks else (None if None in checks else True)
    latency = None
    if board.cycles_per_mac > 0 and board.clock_hz > 0:
        latency = rep.macs * board.cycles_per_mac / board.clock_hz * 1000.0
    return BoardFit(
        board=board.id, board_name=board.name, flash_bytes=flash_total, ram_bytes=ram_total,
        flash_needed=flash_needed, ram_needed=ram_needed,
        flash_free=None if flash_needed is None or flash_total is None else flash_total - flash_needed,
        ram_free=None if ram_needed is None else ram_total - ram_needed,
        flash_pct=None if flash_needed is None or not flash_total else 100.0 * flash_needed / flash_total,
        ram_pct=None if ram_needed is None or not ram_total else 100.0 * ram_needed / ram_total,
        fits=fits, latency_ms=latency, cycles_per_mac=board.cycles_per_mac, clock_hz=board.clock_hz,
        latency_source=f"MACs x {board.cycles_per_mac} cycles/MAC / {board.clock_hz / 1e6:g} MHz; cycles/MAC: "
                       f"{board.cycles_per_mac_source}",
        notes=tuple(notes))
