"""What a model costs on each runtime, side by side, before anything is built: the figures ``edgekit inspect`` shows.

- **edgekit** (the runtime ``edgekit generate`` picks when it runs every op of the model): the arena and the
  constant data are *exact*, from the same AOT memory plan ``generate`` writes (the C is generated into a scratch
  directory, nothing is compiled); the firmware code around them and the latency are estimates from edgekit's own
  measurements on the emulated boards (:data:`MEASURED`, from ``benchmarks/results/runtime.json``).
- **TFLM**: the arena measured by the TFLM host interpreter, the model file plus TFLM's code size range, and the
  board profile's cycles/MAC (TFLM + CMSIS-NN figures) — what :func:`edgekit.inspection.inspect` has always said.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from typing import Any

from edgekit.errors import EdgekitError

__all__ = ["MEASURED", "RuntimeFigures", "edgekit_figures"]

# edgekit runtime on the emulated boards (benchmarks/results/runtime.json, 2026-11-28; M55 rows 2026-12-08 after the
# round-3 MVE kernels; sparse=auto, 8 models:
# digits, the MLPerf Tiny four, hello_world, micro_speech, person_detect): firmware flash besides the model's
# constants (code, runtime, libc, firmware core; min..max over the models) and guest instructions per MAC
# (median). A test checks these against the JSON file.
MEASURED: dict[str, dict[str, Any]] = {
    "qemu-cortex-m4": {"code_bytes": (9076, 19216), "instructions_per_mac": 1.45},
    "qemu-cortex-m7": {"code_bytes": (9076, 19260), "instructions_per_mac": 1.4525},
    "qemu-cortex-m33": {"code_bytes": (9024, 19176), "instructions_per_mac": 1.4535},
    "qemu-cortex-m55": {"code_bytes": (8604, 16380), "instructions_per_mac": 0.3255},
}
MEASURED_SOURCE = "benchmarks/results/runtime.json (edgekit on QEMU, 8 models)"
# Which measured board stands for a core (same kernels: DSP for M4/M7/M33, MVE for M55/M85; others: plain C,
# closest in code size is the M4 build).
_BY_CORE = {"cortex-m4f": "qemu-cortex-m4", "cortex-m4": "qemu-cortex-m4", "cortex-m7": "qemu-cortex-m7",
            "cortex-m33": "qemu-cortex-m33", "cortex-m55": "qemu-cortex-m55", "cortex-m85": "qemu-cortex-m55"}


@dataclass(frozen=True)
class RuntimeFigures:
    """One runtime's figures for one model (and board). ``None``: not known (``notes`` say why)."""

    runtime: str                       # "edgekit" or "tflm"
    supported: bool
    arena_bytes: int | None
    arena_source: str
    flash_bytes: tuple[int, int] | None  # low..high estimate (equal when exact)
    flash_source: str
    latency_ms: float | None
    latency_source: str
    notes: tuple[str, ...] = ()


def measured_board(board: Any) -> str:
    """The emulated board whose edgekit measurements stand for ``board`` (a profile or None)."""
    if board is not None and board.id in MEASURED:
        return str(board.id)
    return _BY_CORE.get(getattr(board, "core", ""), "qemu-cortex-m4")


def edgekit_figures(model: Any, board: Any = None, macs: int = 0) -> RuntimeFigures:
    """The edgekit runtime's figures for a parsed model: exact arena and constants from the AOT plan.

    ``board``: a :class:`~edgekit.boards.BoardProfile` (its core features pick the kernels and layouts, as in
    ``generate``; its core the measured board; its clock the latency) or None.
    """
    from edgekit.codegen.aot import check_supported, generate_c

    if board is not None and getattr(board, "kind", "mcu") == "mcu":
        from edgekit.generation import edgekit_blocker

        blocker = edgekit_blocker(model, board)  # the same test 'generate --runtime auto' makes
    else:
        try:
            check_supported(model)
            blocker = None
        except EdgekitError as exc:
            blocker = exc.message
    if blocker is not None:
        return RuntimeFigures("edgekit", False, None, "", None, "", None, "",
                              (f"edgekit's runtime cannot run it: {blocker}",))
    from edgekit.cores import PORTABLE

    features = board.features if board is not None and hasattr(board, "features") else PORTABLE
    with tempfile.TemporaryDirectory(prefix="edgekit-plan-") as tmp:
        res = generate_c(model, tmp, features=features)  # as 'generate' does for this board's core
    ref = measured_board(board)
    low, high = MEASURED[ref]["code_bytes"]
    weights = res.weights_bytes
    latency, latency_source = None, "no board given"
    clock = getattr(board, "clock_hz", 0)
    if board is not None and clock and getattr(board, "kind", "mcu") == "mcu" and macs:
        ipm = MEASURED[ref]["instructions_per_mac"]
        latency = macs * ipm / clock * 1000.0
        latency_source = (f"MACs x {ipm} instructions/MAC (median measured on {ref}, {MEASURED_SOURCE}) / "
                          f"{clock / 1e6:g} MHz; instructions, not cycles: flash wait states come on top")
    return RuntimeFigures(
        "edgekit", True, res.arena_bytes,
        f"exact: the static memory plan 'generate' writes (plan strategy '{res.plan.strategy}')",
        (weights + low, weights + high),
        f"constants {weights:,} B exact (the plan's flash arrays) + firmware code {low:,}-{high:,} B (measured "
        f"range on {ref}, {MEASURED_SOURCE})",
        latency, latency_source,
        tuple(res.notes))


def median_from_results(rows: list[dict[str, Any]], board: str) -> dict[str, Any]:
    """The :data:`MEASURED` entry for ``board`` recomputed from runtime.json rows (used by the tests)."""
    mine = [r for r in rows if r["board"] == board and r.get("sparse", "auto") == "auto"]
    code = [r["flash_bytes"] - r["weights_bytes"] for r in mine]
    return {"code_bytes": (min(code), max(code)),
            "instructions_per_mac": round(statistics.median(r["instructions_per_mac"] for r in mine), 4)}
