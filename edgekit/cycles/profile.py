"""Estimated cycles and the per-layer profile of a firmware benchmarked in QEMU (the ``cycles`` and ``per_layer``
sections of ``edgekit.bench/1``).

Markers: the entry of ``ek_model_invoke`` and the return address of each call to it bound one inference; the
AOT runtime's zero-instruction labels ``ek_prof_op_<N>`` (emitted before each operator of the generated
``ek_model_invoke``) split it into layers. TFLM projects call ``ek_prof_layer()`` before every operator (a
``MicroProfilerInterface`` given to the interpreter). The plugin snapshots its counters at every marker, so the
layers of one inference add up to that inference exactly (the prologue/epilogue of ``ek_model_invoke`` is its own row).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from edgekit.cycles.model import Estimate, board_flash_wait_states, estimate, estimate_range, timing_for
from edgekit.cycles.plugin import Mix, MixRun, Snapshot, prepare
from edgekit.errors import DeviceError

INVOKE = "ek_model_invoke"
OP_LABEL = re.compile(r"^ek_prof_op_(\d+)$")  # AOT runtime: a label before operator N in ek_model_invoke()
LAYER_CALL = "ek_prof_layer"  # TFLM projects: called before every operator (the profiler's BeginEvent)
BASIS = ("estimate from a model: the instruction mix counted by edgekit's QEMU plugin (ek_insn_mix) in the "
         "timed inference, priced by the core's timing table (edgekit/cycles/cores); not a measurement")


def setup(board: Any, elf: str | Path, work_dir: str | Path) -> MixRun | None:
    """Prepare the plugin for ``elf`` on ``board``; None when the core has no timing table."""
    if timing_for(board.core) is None:
        return None
    region = board.memory.region("flash")
    flash = (region.origin, region.origin + region.size_kb * 1024 - 1) if region is not None else None
    return prepare(elf, work_dir, mark_symbols=(INVOKE, LAYER_CALL), mark_pattern=OP_LABEL.pattern,
                   mark_returns_of=(INVOKE,), flash=flash)


def inference_windows(run: MixRun) -> list[list[Snapshot]]:
    """The snapshots of every inference: [start, op labels..., end]."""
    start = run.symbols.get(INVOKE)
    layer_call = run.symbols.get(LAYER_CALL)
    ends = {a for a in run.marks if a not in (start, layer_call) and not _op_of(run, a)}
    out: list[list[Snapshot]] = []
    cur: list[Snapshot] | None = None
    for s in run.snapshots():
        if s.addr == start:
            cur = [s]
        elif cur is not None and s.addr in ends:
            out.append([*cur, s])
            cur = None
        elif cur is not None:
            cur.append(s)
    return out


def _op_of(run: MixRun, addr: int) -> list[int]:
    return sorted(int(m.group(1)) for name, a in run.symbols.items() if a == addr and (m := OP_LABEL.match(name)))


def cycles_section(run: MixRun, board: Any, *, timed: int, icount_instructions: float | None,
                   macs: int | None, clock_hz: int) -> tuple[dict[str, Any], list[Snapshot]]:
    """The ``cycles`` section for the last timed inference, and that inference's snapshots."""
    wins = inference_windows(run)
    if not wins:
        raise DeviceError(f"the instruction-mix plugin saw no complete call of {INVOKE}() in {run.elf.name}",
                          hint=f"its output: {run.out_path}")
    timed_wins = wins[-timed:]
    totals = sorted({(w[-1].mix - w[0].mix).total for w in timed_wins})
    win = timed_wins[-1]
    mix = win[-1].mix - win[0].mix
    timing = timing_for(board.core)
    assert timing is not None
    est = estimate(mix, timing, flash_wait_states=board_flash_wait_states(board))
    d: dict[str, Any] = {"kind": "estimate", "basis": BASIS, **est.to_dict(macs, clock_hz),
                         "estimated_cycles_range": [round(c) for c in estimate_range(
                             mix, timing, flash_wait_states=board_flash_wait_states(board))],
                         "window": f"{INVOKE}() of the last timed inference",
                         "timed_inferences_counted": len(timed_wins),
                         "instructions_range": [totals[0], totals[-1]], "mix": mix.to_dict(),
                         "icount_instructions": icount_instructions,
                         "core_timing": {"core": timing.core, "source": timing.source,
                                         "assumptions": list(timing.assumptions),
                                         "file": timing.path.name if timing.path else None}}
    if icount_instructions:
        d["plugin_vs_icount"] = mix.total / icount_instructions - 1.0
    return d, win


def per_layer_section(run: MixRun, board: Any, win: list[Snapshot], model: Any,
                      clock_hz: int) -> dict[str, Any]:
    """Per-layer instructions, estimated cycles, MACs, cycles/MAC (worst first) and their sum vs the inference."""
    from edgekit.macs import op_macs

    timing = timing_for(board.core)
    assert timing is not None
    ws = board_flash_wait_states(board)
    total = win[-1].mix - win[0].mix
    sg = model.main if model is not None else None
    rows: list[dict[str, Any]] = []
    inner = win[1:-1]
    if not inner:
        raise DeviceError(f"{run.elf.name} has no per-operator marks (ek_prof_op_<N> labels, ek_prof_layer calls)",
                          hint="regenerate the project with this edgekit version (edgekit generate), then build")
    overhead: Mix = inner[0].mix - win[0].mix  # the prologue before the first label
    bounds = [*inner, win[-1]]
    layer_call = run.symbols.get(LAYER_CALL)
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        ops = [k] if a.addr == layer_call else _op_of(run, a.addr)
        mix = b.mix - a.mix
        est: Estimate = estimate(mix, timing, flash_wait_states=ws)
        op_index = ops[-1] if ops else -1
        op = sg.operators[op_index] if sg is not None and 0 <= op_index < len(sg.operators) else None
        macs = sum(op_macs(sg, sg.operators[i]) for i in ops) if sg is not None else None
        opcodes = [sg.operators[i].opcode for i in ops if 0 <= i < len(sg.operators)] if sg is not None else []
        rows.append({"op": op_index, "ops": ops, "opcode": op.opcode if op is not None else None,
                     "opcodes": opcodes,
                     "instructions": mix.total, "estimated_cycles": round(est.cycles), "macs": macs,
                     "flash_data_loads": mix.flash_loads,
                     "cycles_per_mac": est.cycles / macs if macs else None,
                     "latency_us": est.cycles / clock_hz * 1e6})
    tail_est = estimate(overhead, timing, flash_wait_states=ws)
    rows.sort(key=lambda r: -r["estimated_cycles"])
    layer_sum = sum(r["instructions"] for r in rows)
    total_est = estimate(total, timing, flash_wait_states=ws)
    cyc_sum = sum(r["estimated_cycles"] for r in rows)
    return {"basis": "instructions counted by the QEMU plugin between per-operator labels; cycles " + BASIS,
            "layers": rows, "sum_instructions": layer_sum, "total_instructions": total.total,
            "sum_vs_total": layer_sum / total.total if total.total else None,
            "sum_estimated_cycles": cyc_sum, "total_estimated_cycles": round(total_est.cycles),
            "outside_layers": {"instructions": overhead.total, "estimated_cycles": round(tail_est.cycles),
                               "what": f"{INVOKE}() before its first operator"}}


def bench_sections(run: MixRun, board: Any, *, timed: int, timing: dict[str, Any], model_path: Path | None,
                   per_layer: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``cycles`` and ``per_layer`` sections of a QEMU benchmark (``per_layer`` None unless asked for)."""
    model = None
    if model_path is not None:
        from edgekit.tflite_model import load_model
        from edgekit.trees.load import is_tree_model

        model = None if is_tree_model(model_path) else load_model(model_path)  # a tree model has no layers or MACs
    macs = None
    if model is not None:
        from edgekit.macs import op_macs

        macs = sum(op_macs(model.main, op) for op in model.main.operators) or None
    clock = int(timing["core_hz"])
    icount = float(timing["count"]["median"]) if timing.get("basis") == "instructions" else None
    cyc, win = cycles_section(run, board, timed=timed, icount_instructions=icount, macs=macs, clock_hz=clock)
    layers = per_layer_section(run, board, win, model, clock) if per_layer else None
    return cyc, layers


def bench_setup(board: Any, elf: Path, *, port: str | None, log_dir: Path, cycles: bool | None, per_layer: bool,
                notes: list[str]) -> MixRun | None:
    """The plugin set up for a benchmark (QEMU only), or None. Asked for (``cycles`` or ``per_layer``): errors
    raise; by default a missing tool or timing table only adds a note."""
    from edgekit.errors import EdgekitError, UsageError

    if port is not None or board.qemu is None:
        if per_layer:
            raise UsageError("--per-layer needs QEMU for now (per-layer timer cycles on hardware are not built yet)")
        return None
    try:
        run = setup(board, elf, Path(log_dir) / "cycles")
        if run is None:
            raise UsageError(f"no cycle timing table for core '{board.core}'", hint="tables: edgekit/cycles/cores/")
    except EdgekitError as exc:
        if cycles or per_layer:
            raise
        notes.append(f"no estimated cycles: {exc.message}")
        return None
    return run


def bench_finish(run: MixRun, board: Any, *, timed: int, timing: dict[str, Any], notes: list[str],
                 model_path: Path | None, cycles: bool | None,
                 per_layer: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """:func:`bench_sections`, or (None, None) and a note when it fails and nobody asked for cycles."""
    from edgekit.errors import EdgekitError

    try:
        return bench_sections(run, board, timed=timed, timing=timing, model_path=model_path, per_layer=per_layer)
    except EdgekitError as exc:
        if cycles or per_layer:
            raise
        notes.append(f"no estimated cycles: {exc.message}")
        return None, None
