"""One candidate on the board: generate -> build -> bench (QEMU) -> accuracy on the validation set -> cost.

Every figure comes from edgekit's own path: flash and RAM from the built image's sections
(:func:`edgekit.buildsys.build`), instructions, estimated cycles and latency from :func:`edgekit.benchmarking.bench`
(QEMU with edgekit's instruction-mix plugin), accuracy from the device's own outputs through
:func:`edgekit.validation.validate` (or the TFLM host interpreter with ``accuracy_on="host"``), energy and battery
life from :func:`edgekit.cost.cost_report` at the duty cycle asked for. A failing stage is recorded with its reason;
the figures measured before it stay.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.selection.candidates import Prepared


@dataclass
class Measured:
    """One candidate's figures on the board (``None`` where not measured; ``error`` and ``stage`` say why)."""

    name: str
    source: str
    kind: str
    variant: str | None = None
    model: str | None = None
    runtime: str | None = None
    status: str = "ok"  # "ok" or "failed"
    stage: str | None = None  # the stage that failed: load, optimize, convert, generate, build, bench, accuracy
    error: str | None = None
    accuracy: float | None = None
    accuracy_on: str | None = None
    samples: int = 0
    byte_exact: int | None = None  # samples whose device outputs equal the TFLM host interpreter's, byte for byte
    float_accuracy: float | None = None  # the Keras float model on the same validation set (conversion report)
    flash_bytes: int | None = None
    ram_bytes: int | None = None  # every RAM section of the image: static data, arena, reserved stack
    arena_bytes: int | None = None
    stack_reserved_bytes: int | None = None
    stack_used_bytes: int | None = None
    static_ram_bytes: int | None = None  # ram_bytes - arena - reserved stack
    weights_bytes: int | None = None
    instructions: float | None = None
    estimated_cycles: float | None = None
    latency_ms: float | None = None
    latency_basis: str | None = None
    energy_uj: float | None = None
    energy_basis: str | None = None
    average_ma: float | None = None
    battery_days: float | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rank: int | None = None
    pareto: bool = False
    chosen: bool = False
    why_not: str | None = None
    int8_counterpart: str | None = None  # a float32 variant: the int8 candidate it is the float model of

    def fail(self, stage: str, message: str) -> None:
        """Mark the candidate failed at ``stage``."""
        self.status, self.stage, self.error = "failed", stage, message


@dataclass(frozen=True)
class Settings:
    """What every candidate is measured with."""

    board: Any  # a BoardProfile
    x_val: np.ndarray
    y_val: np.ndarray
    runtime: str = "auto"
    runs: int = 3
    accuracy_on: str = "device"
    battery: str = "1000mAh"
    rate: str = "60/h"
    sleep: str | None = None
    boards_dirs: list[str] | None = None
    trust_pickle: bool = False


def _trust(s: Settings) -> dict[str, bool]:
    """``trust_pickle=True`` for generate/validate only when asked (loading a pickled model runs its code)."""
    return {"trust_pickle": True} if s.trust_pickle else {}


def _msg(exc: BaseException) -> str:
    if isinstance(exc, EdgekitError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"


def evaluate(item: Prepared, s: Settings) -> Measured:
    """Measure one prepared candidate in its own temporary directory (removed afterwards, whatever happens)."""
    m = Measured(item.name, item.source, item.kind, item.variant, float_accuracy=item.float_accuracy,
                 notes=list(item.notes), int8_counterpart=item.int8_counterpart)
    if item.error is not None or item.model_path is None:
        m.fail(item.stage or "load", item.error or "no model")
        return m
    m.model = str(item.model_path)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-select-") as tmp:
        stage = "generate"
        try:
            project = _build(item.model_path, Path(tmp) / "firmware", s, m)
            stage = "bench"
            _bench(project, s, m)
            stage = "accuracy"
            _accuracy(item.model_path, project, s, m)
        except Exception as exc:  # other modules' failures are this candidate's, never the whole selection's
            m.fail(m.stage or stage, _msg(exc))
    m.seconds = round(time.perf_counter() - t0, 2)
    return m


def _build(model: Path, project: Path, s: Settings, m: Measured) -> Path:
    from edgekit.buildsys import build
    from edgekit.generation import generate

    gen = generate(model, s.board, s.runtime, out_dir=project, boards_dirs=s.boards_dirs, **_trust(s))
    m.runtime = gen.runtime
    m.stage = "build"
    built = build(gen.project_dir, boards_dirs=s.boards_dirs)  # raises "does not fit" past the board's memory
    m.stage = None
    m.flash_bytes, m.ram_bytes = int(built.flash_bytes), int(built.ram_bytes)
    m.weights_bytes, m.arena_bytes = int(built.weights_bytes), int(built.arena_bytes)
    m.stack_reserved_bytes = int(built.stack_bytes)
    m.static_ram_bytes = max(0, m.ram_bytes - m.arena_bytes - m.stack_reserved_bytes)
    return Path(gen.project_dir)


def _bench(project: Path, s: Settings, m: Measured) -> None:
    from edgekit.benchmarking import bench

    res = bench(project, board=s.board, runs=s.runs, warmup=1, boards_dirs=s.boards_dirs)
    d = res.to_dict()
    mem = d.get("memory") or {}
    m.stack_used_bytes = mem.get("stack_used_bytes")
    if res.basis == "instructions":
        m.instructions = res.median_count
    else:
        m.estimated_cycles = res.median_count
    cyc = d.get("cycles") or {}
    if cyc.get("estimated_cycles") and cyc.get("latency_us"):
        m.estimated_cycles = float(cyc["estimated_cycles"])
        m.latency_ms = float(cyc["latency_us"]) / 1e3
        m.latency_basis = (f"estimated cycles ({cyc.get('core_table')} timing table x QEMU instruction mix) at "
                           f"{cyc.get('clock_hz')} Hz")
    else:
        m.latency_ms = res.median_latency_us / 1e3
        m.latency_basis = str((d.get("timing") or {}).get("latency_basis") or res.basis)
    m.notes += [f"bench: {n}" for n in d.get("notes") or []]
    _cost(d, s, m)


def _cost(d: dict[str, Any], s: Settings, m: Measured) -> None:
    """Energy per inference and battery life (:func:`edgekit.cost.cost_report`). A modelled energy is the board's
    power model x latency: with estimated cycles, the latency in the table, not bench's one instruction per cycle."""
    from edgekit.cost import cost_report

    e = dict(d.get("energy") or {})
    lat_us = ((d.get("timing") or {}).get("latency_us") or {}).get("median")
    extra = ""
    if e.get("kind") == "modelled" and e.get("per_inference_uj") and lat_us and m.latency_ms and \
            m.estimated_cycles and (d.get("cycles") or {}).get("latency_us"):
        scale = m.latency_ms * 1e3 / float(lat_us)
        e["per_inference_uj"] = float(e["per_inference_uj"]) * scale
        timing = {**d["timing"], "latency_us": {**d["timing"]["latency_us"], "median": m.latency_ms * 1e3}}
        d = {**d, "energy": e, "timing": timing}
        extra = "; latency from the estimated cycles"
    m.energy_uj = e.get("per_inference_uj")
    try:
        c = cost_report(d, battery=s.battery, rate=s.rate, sleep=s.sleep, boards_dirs=s.boards_dirs)
    except EdgekitError as exc:
        m.notes.append(f"no battery life: {exc.message}")
        return
    m.energy_basis = c.energy_source + extra
    m.average_ma, m.battery_days = c.average_ma, c.life_days


def _accuracy(model: Path, project: Path, s: Settings, m: Measured) -> None:
    """Top-1 accuracy on the validation set: the device's outputs (edgekit validate), or TFLM on the host."""
    labels = s.y_val
    tflite = model.suffix.lower() == ".tflite"
    if s.accuracy_on == "host" and not tflite:
        m.notes.append("accuracy not measured: the host interpreter (TFLM) runs .tflite models only; use the device")
        return
    if s.accuracy_on == "host":
        pred = _host_top1(model, s.x_val)
        m.accuracy_on = "host (TFLM interpreter, tflite-micro)"
    else:
        from edgekit.validation import validate

        v = validate(model, board=s.board, inputs=s.x_val, project_dir=project, boards_dirs=s.boards_dirs,
                     **_trust(s))
        pred = np.asarray(v.device_top1)
        m.byte_exact = v.byte_exact
        m.accuracy_on = f"device ({'QEMU ' if s.board.is_emulated else ''}{s.board.id}, edgekit validate)"
        if not v.ok:
            ref = getattr(v, "reference", "TFLM")
            m.notes.append(f"{v.inputs - v.byte_exact} of {v.inputs} samples differ from the reference ({ref})")
    m.samples = len(pred)
    m.accuracy = float(np.mean(pred == labels[: len(pred)]))


def _host_top1(model: Path, x: np.ndarray) -> np.ndarray:
    from edgekit.samples import load_device_inputs
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    parsed = load_model(model)
    samples = load_device_inputs(x, parsed)
    outs = tflm_run(parsed, [t[0] if len(t) == 1 else list(t) for t in samples.samples])
    return np.asarray([int(np.argmax(o[0])) for o in outs])
