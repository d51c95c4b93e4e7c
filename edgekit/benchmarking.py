"""Benchmark a firmware on a board, emulated (QEMU) or real (serial port): latency, memory, modelled energy.

The same code path drives both: start QEMU or open the port, ``name%`` sync, ``ek-info%``, upload the input,
``infer N W%``, ``ek-laps%`` (timer ticks per inference), ``ek-stack%``, ``ek-out 0%``. The result follows the
``edgekit.bench/1`` JSON schema documented in ``docs/bench-schema.md``.

Counting rule under QEMU: with ``-icount shift=S`` one guest instruction takes 2**S ns of virtual time, so a
timer at ``timer_hz`` advances once per ``1e9 / timer_hz / 2**S`` instructions (40 at 25 MHz, shift 0; checked
with a calibrated loop). On hardware the DWT counts core cycles.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import statistics
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit.boards import DEFAULT_BOARD, BoardProfile, load_board
from edgekit.errors import DeviceError, UsageError
from edgekit.results import SCHEMA, save_json
from edgekit.target import Target, resolve_target

MAX_LAPS = 64  # EK_MAX_LAPS: an infer command reports at most this many per-inference laps


def check_board_matches(tgt: Target, board_id: str) -> None:
    """Refuse to run a project's firmware as another board's: its memory map and UART are the project board's, so
    on another board (or its QEMU machine) it locks up or talks to nothing."""
    if tgt.board_id and tgt.board_id != board_id:
        where = tgt.project_dir or tgt.elf
        raise UsageError(f"{where}: the project was generated for {tgt.board_id}, not {board_id}",
                         hint=f"bench it without --board (it runs as {tgt.board_id}; a real board also needs --port, "
                              f"see 'edgekit devices'), or generate a project for {board_id}: 'edgekit generate "
                              f"MODEL --board {board_id} -o DIR'")


def _build_memory(target: Target, board: BoardProfile) -> tuple[int, int, str]:
    """Flash/RAM of the image benchmarked, accounted per section against the board's memory regions."""
    from edgekit.buildsys import analyze_elf

    res = analyze_elf(target.elf, board)
    return res.flash_bytes, res.ram_bytes, f"sections of {target.elf.name} (edgekit.buildsys.analyze_elf)"


# ---------------------------------------------------------------- statistics

def stats(values: list[float] | list[int]) -> dict[str, float | int]:
    """n, min, median, mean, p90 (linear interpolation), max, stdev (sample, 0 for one value)."""
    if not values:
        raise ValueError("no values")
    arr = np.asarray(values, dtype=np.float64)
    return {"n": len(values), "min": float(arr.min()), "median": float(np.median(arr)), "mean": float(arr.mean()),
            "p90": float(np.percentile(arr, 90)), "max": float(arr.max()),
            "stdev": float(statistics.stdev(arr.tolist())) if len(values) > 1 else 0.0}


def counting_rule(board: BoardProfile, timer_hz: int, core_hz: int | None = None) -> tuple[str, float, str]:
    """(basis, units per timer tick, rule in words) for converting ticks to instructions or cycles.

    ``core_hz``: the CPU clock the firmware reported (``ek-info%``, ``m-ek-clock-``); None: the profile's
    :attr:`~edgekit.boards.BoardProfile.firmware_clock_hz`.
    """
    if board.qemu is not None and board.flash.method == "qemu":
        shift = board.qemu.icount_shift
        per_tick = 1e9 / timer_hz / (2 ** shift)
        return "instructions", per_tick, (f"QEMU -icount shift={shift}: one guest instruction = {2 ** shift} ns "
                                          f"of virtual time; instructions = ticks x 1e9 / {timer_hz} / 2^{shift}")
    clock = core_hz or board.firmware_clock_hz  # the clock the firmware runs at: reported, else the profile's
    per_tick = clock / timer_hz
    return "cycles", per_tick, f"cycles = ticks x core clock / timer_hz = ticks x {clock} / {timer_hz}"


# ---------------------------------------------------------------- result

@dataclass
class BenchResult:
    """One benchmark: everything ``docs/bench-schema.md`` documents. ``to_dict()`` gives the JSON form."""

    board: dict[str, Any]
    target: dict[str, Any]
    device: dict[str, Any]
    transport: dict[str, Any]
    input: dict[str, Any]
    runs: int
    warmup: int
    timing: dict[str, Any]
    memory: dict[str, Any]
    energy: dict[str, Any]
    output: dict[str, Any]
    canary: str | None
    notes: list[str] = field(default_factory=list)
    cycles: dict[str, Any] | None = None
    per_layer: dict[str, Any] | None = None
    created_utc: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc)
                             .isoformat(timespec="seconds").replace("+00:00", "Z"))
    extra: dict[str, Any] = field(default_factory=dict)  # sections beyond the MCU ones (Linux boards: docs/sbc.md)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        """A result from its JSON form (e.g. a Linux board's run); keys it does not name go to ``extra``."""
        names = {f.name for f in fields(cls)} - {"extra"}
        core = {k: d.get(k) for k in names if k in d or k != "created_utc"}
        core["notes"] = list(d.get("notes") or [])
        return cls(**core, extra={k: v for k, v in d.items() if k not in names and k not in ("schema",
                                                                                             "edgekit_version")})

    @property
    def basis(self) -> str:
        return str(self.timing["basis"])

    @property
    def median_count(self) -> float:
        """Median instructions (QEMU) or cycles (hardware) per inference."""
        return float(self.timing["count"]["median"])

    @property
    def median_latency_us(self) -> float:
        return float(self.timing["latency_us"]["median"])

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "edgekit_version": __version__, "created_utc": self.created_utc,
                "board": self.board, "target": self.target, "device": self.device, "transport": self.transport,
                "input": self.input, "runs": self.runs, "warmup": self.warmup, "timing": self.timing,
                "memory": self.memory, "energy": self.energy, "output": self.output, "canary": self.canary,
                "notes": list(self.notes), "cycles": self.cycles, "per_layer": self.per_layer, **self.extra}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically (a temporary file in the same directory, then rename)."""
        return save_json(self.to_dict(), path)


# ---------------------------------------------------------------- the benchmark

def is_linux_target(target: str | os.PathLike[str], board: str | BoardProfile | None, host: str | None,
                    boards_dirs: list[str] | None = None) -> bool:
    """True when ``target`` runs on Linux with LiteRT: a host is given, the board is an SBC or the host, or the
    target is a bundle directory or a ``.tflite``."""
    from edgekit.sbc.bundle import is_bundle

    if host is not None or str(target).endswith(".tflite"):
        return True
    if board is not None and load_board(board, boards_dirs).kind in ("sbc", "host"):
        return True
    return is_bundle(Path(target))


def bench(target: str | os.PathLike[str], *, board: str | BoardProfile | None = None, runs: int = 10,
          warmup: int = 1, inputs: Any = None, port: str | None = None, save: str | os.PathLike[str] | None = None,
          boards_dirs: list[str] | None = None, timeout: float = 10.0, infer_timeout: float = 300.0,
          log_dir: str | os.PathLike[str] | None = None, power: Any = None, baudrate: int | None = None,
          energy_mode: str | None = None, host: str | None = None, threads: int | None = None,
          xnnpack: bool = True, layout: str | None = None, cycles: bool | None = None,
          per_layer: bool = False) -> BenchResult:
    """Benchmark a generated project (or an ELF) on a board; or a model or bundle on a Linux board.

    Args:
        target: project directory (``edgekit_project.json``, ``build/*.elf``) or an ELF file; for a Linux board
            (``--host``, an SBC/host board, a bundle directory or a ``.tflite``) the run goes through
            :func:`edgekit.sbc.bench_sbc` and its result comes back as a :class:`BenchResult` too.
        board: board id or profile; default: the project's board, else ``qemu-cortex-m4``.
        runs / warmup: timed and untimed inferences.
        inputs: the input (see :mod:`edgekit.samples`; the first sample is used); default: random bytes, seed 0.
        port: a serial port/URL of a real board already running the firmware; None runs QEMU.
        save: write the JSON result there (atomically).
        timeout: seconds allowed for each ordinary command; infer_timeout: for one ``infer`` command.
        log_dir: where the link and QEMU logs go (default: the project's build/ directory, or next to the ELF).
        power: measure energy with a power monitor: a ``--power`` spec (``ppk2[:PORT][,key=value...]``, see
            :mod:`edgekit.power`) or a :class:`~edgekit.power.PowerMonitor`; bench opens and closes it. The
            firmware must raise its energy GPIO around the timed inferences. Without it energy is modelled.
        baudrate: override the board's serial speed (MLPerf Tiny energy mode runs the DUT link at 9600 baud).
        host / threads / xnnpack: Linux boards: where to run (``"local"`` or ``[user@]host``) and LiteRT's settings.
        energy_mode: ``levels`` (GPIO high during the timed inferences) or ``edges`` (MLPerf Tiny
            timestamp pulses); also settable in the spec as ``windows=edges``. Default: what the board's
            ``firmware.gpio_energy_pin`` produces (``edges`` for a ``:mlperf`` pin, else ``levels``).
        layout: ``"nchw"`` when ``inputs`` are channels-first (a PyTorch/ONNX model's own layout; moved to the
            converted model's NHWC / N1LC); ``"nhwc"``/None: as the device expects.
        cycles: on QEMU, count the instruction mix with edgekit's TCG plugin and estimate cycles from the core's
            timing table (:mod:`edgekit.cycles`); None: when the core has a table and gcc is there, False: never.
        per_layer: also count per operator (QEMU; AOT runtime and TFLM projects; implies ``cycles``).

    Raises:
        DeviceError: the device crashed, hung, rebooted or answered an error (message and log path included).
    """
    from edgekit.frontends.layout import apply_layout
    from edgekit.samples import load_device_inputs, random_inputs
    from edgekit.transport.session import open_session

    if inputs is not None:
        inputs = apply_layout(inputs, layout)
    if runs < 1 or warmup < 0:
        raise UsageError(f"runs must be >= 1 and warmup >= 0 (got runs={runs}, warmup={warmup})")
    if is_linux_target(target, board, host, boards_dirs):
        from edgekit.sbc import bench_sbc

        return BenchResult.from_dict(bench_sbc(
            target, board or "host", host or "local", runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack,
            inputs=inputs, save=save, boards_dirs=boards_dirs))
    tgt = resolve_target(target)
    prof = load_board(board or tgt.board_id or DEFAULT_BOARD, boards_dirs)
    if baudrate is not None:
        import dataclasses

        prof = dataclasses.replace(prof, serial=dataclasses.replace(prof.serial, baudrate=baudrate))
    notes: list[str] = []
    check_board_matches(tgt, prof.id)
    logs = Path(log_dir) if log_dir else tgt.elf.parent

    pin = prof.firmware.energy_pin  # its convention gives the default: levels, or edges for MLPerf timestamps
    default_mode = pin.windows_by if pin is not None else "levels"
    monitor, mode, captures = _power_monitor(power, prof, energy_mode), energy_mode or default_mode, []
    if isinstance(power, str):
        from edgekit.power import parse_spec

        mode = energy_mode or parse_spec(power).options.get("windows", default_mode)
    mix_run = None
    if (port is None and prof.qemu is not None and cycles is not False) or per_layer:
        from edgekit.cycles.profile import bench_setup

        mix_run = bench_setup(prof, tgt.elf, port=port, log_dir=logs, cycles=cycles, per_layer=per_layer,
                              notes=notes)
    with (monitor if monitor is not None else _NoMonitor()), \
            open_session(prof, elf=tgt.elf, port=port, log_dir=logs, timeout=timeout, infer_timeout=infer_timeout,
                         qemu_args=mix_run.qemu_args if mix_run else ()) as sess:
        dev = sess.device
        info = dev.info()
        if inputs is None:
            sample = random_inputs(info.input_bytes)
        else:
            model = _load_model(tgt.model_path, tgt.project)
            sample = load_device_inputs(inputs, model, input_bytes=info.input_bytes, limit=1)
        payload = sample.payload(0)
        if len(payload) != sum(info.input_bytes):
            raise DeviceError(f"the input has {len(payload)} bytes, the firmware expects {sum(info.input_bytes)}",
                              hint="is the firmware built for this model?")
        upload = dev.upload(payload)
        ticks: list[int] = []
        done_runs, first = 0, True
        while done_runs < runs:
            n = min(MAX_LAPS, runs - done_runs)
            if monitor is not None:
                monitor.start()
            dev.infer(n, warmup if first else 0)
            if monitor is not None:
                captures.append((monitor.stop(), n))
            laps = dev.laps()
            if len(laps) != n:
                raise DeviceError(f"'ek-laps%' gave {len(laps)} laps after 'infer {n}', expected {n}",
                                  hint=f"full log: {sess.link.log_path}")
            ticks += laps
            done_runs += n
            first = False  # the firmware copies the loaded input into the model before every inference
        stack_used, stack_reserved = dev.stack()
        out = dev.output(0)
        try:
            canary: str | None = dev.canary()
        except DeviceError:
            canary = None
        transport = {"kind": sess.kind, "url": sess.url, "upload": upload, "log": str(sess.link.log_path),
                     "qemu_log": str(sess.qemu.log_path) if sess.qemu else None}

    timer_hz = info.timer_hz or prof.firmware.timer_hz or prof.firmware_clock_hz
    timer_follows_clock = info.core_hz is not None and info.timer_hz == info.core_hz  # DWT/SysTick at the PLL
    if info.timer_hz and prof.firmware.timer_hz and info.timer_hz != prof.firmware.timer_hz and not timer_follows_clock:
        notes.append(f"the device's timer runs at {info.timer_hz} Hz, the board profile says "
                     f"{prof.firmware.timer_hz} Hz; the device's figure is used")
    if canary and canary != "ok":
        notes.append(f"memory guard words report: {canary}")
    core_hz = info.core_hz or prof.firmware_clock_hz
    if info.core_hz and info.core_hz != prof.firmware_clock_hz:
        notes.append(f"the firmware reports its core at {info.core_hz} Hz ({info.clock_state or 'no state'}), the "
                     f"board profile's reset clock is {prof.firmware_clock_hz} Hz; the reported clock is used")
    if info.clock_state.startswith("fallback"):
        notes.append(f"the firmware's clock set-up timed out ({info.clock_state}): it runs at its reset clock, "
                     f"{core_hz} Hz, not at firmware.clock.sysclk_hz")
    timing = _timing(prof, ticks, timer_hz, info.timer_kind, core_hz)
    flash, ram, mem_source = _build_memory(tgt, prof)
    memory = {"flash_bytes": flash, "ram_bytes": ram, "source": mem_source,
              "flash_budget_bytes": prof.memory.flash_bytes, "ram_budget_bytes": prof.memory.ram_bytes,
              "arena_used_bytes": info.arena_used, "arena_reserved_bytes": info.arena_reserved,
              "stack_used_bytes": stack_used, "stack_reserved_bytes": stack_reserved}
    result = BenchResult(
        board={"id": prof.id, "name": prof.name, "core": prof.core, "clock_hz": prof.clock_hz,
               "emulated": prof.is_emulated,
               "qemu": ({"machine": prof.qemu.machine, "cpu": prof.qemu.cpu, "icount_shift": prof.qemu.icount_shift}
                        if prof.qemu is not None and prof.is_emulated else None)},
        target={"elf": str(tgt.elf), "elf_sha256": _sha256(tgt.elf),
                "project_dir": str(tgt.project_dir) if tgt.project_dir else None,
                "model": str(tgt.model_path) if tgt.model_path else None},
        device=info.to_dict(), transport=transport,
        input={"source": sample.source, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
               "note": sample.note},
        runs=runs, warmup=warmup, timing=timing, memory=memory,
        energy=_energy_section(prof, timing, captures, monitor, mode, notes, transport["qemu_log"]), output={
            "index": 0, "bytes": len(out), "hex": out.hex()}, canary=canary, notes=notes)
    if mix_run is not None:
        from edgekit.cycles.profile import bench_finish

        result.cycles, result.per_layer = bench_finish(mix_run, prof, timed=runs, timing=timing, notes=notes,
                                                       model_path=tgt.model_path, cycles=cycles, per_layer=per_layer)
    if save is not None:
        result.save(save)
    return result


def _timing(prof: BoardProfile, ticks: list[int], timer_hz: int, timer_kind: str,
            core_hz: int | None = None) -> dict[str, Any]:
    """Ticks -> counts -> µs. ``core_hz``: the CPU clock the firmware reported (else the profile's)."""
    clock = core_hz or prof.firmware_clock_hz
    basis, per_tick, rule = counting_rule(prof, timer_hz, clock)
    counts = [t * per_tick for t in ticks]
    if basis == "instructions":
        lat_basis = (f"instructions at one per cycle at the board clock ({clock} Hz): "
                     "an estimate, QEMU does not model cycles")
    else:
        lat_basis = f"cycles at the clock the firmware runs at ({clock} Hz)"
    return {"timer": {"kind": timer_kind, "hz": timer_hz}, "basis": basis, "per_tick": per_tick, "rule": rule,
            "core_hz": clock, "ticks": ticks, "ticks_stats": stats(ticks), "count": stats(counts),
            "latency_us": stats([c / clock * 1e6 for c in counts]), "latency_basis": lat_basis}


def _energy_section(prof: BoardProfile, timing: dict[str, Any], captures: list[Any], monitor: Any, mode: str,
                    notes: list[str], qemu_log: str | None) -> dict[str, Any]:
    """Modelled or measured energy, plus where its windows came from (``windows_from``, ``gpio``)."""
    from edgekit.gpio import energy_gpio_report

    if monitor is None:
        energy = {**_energy(prof, timing), "windows_from": "model"}
    else:
        energy = {**_measured_energy(prof, timing, captures, monitor, mode, notes), "windows_from": "gpio"}
    energy["gpio"] = energy_gpio_report(prof, qemu_log)
    return energy


def _energy(prof: BoardProfile, timing: dict[str, Any]) -> dict[str, Any]:
    from edgekit.power.model import modelled_energy

    return modelled_energy(prof, float(timing["latency_us"]["median"]))


class _NoMonitor:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _power_monitor(power: Any, prof: BoardProfile, energy_mode: str | None) -> Any:
    """An unopened PowerMonitor from a spec (the board's supply voltage as default), or the one given."""
    if power is None:
        return None
    if energy_mode not in (None, "levels", "edges"):
        raise UsageError(f"energy_mode must be 'levels' or 'edges', not {energy_mode!r}")
    if isinstance(power, str):
        from edgekit.power import open_monitor

        return open_monitor(power, supply_v=prof.power.supply_v or 3.3)
    return power


def _measured_energy(prof: BoardProfile, timing: dict[str, Any], captures: list[Any], monitor: Any, mode: str,
                     notes: list[str]) -> dict[str, Any]:
    """The ``energy`` section from power-monitor captures (one per ``infer`` command); see docs/bench-schema.md."""
    from edgekit.power.energy import energy_per_inference
    from edgekit.power.model import modelled_uj
    from edgekit.power.trace import compact_trace

    if mode not in ("levels", "edges"):
        raise UsageError(f"power windows must be 'levels' or 'edges', not {mode!r}")
    results = [energy_per_inference(cap, inferences=n, channel=monitor.channel, mode=mode) for cap, n in captures]
    for r in results:
        notes += [n for n in r.notes if n not in notes]
    good = [r for r in results if r.per_inference_uj is not None]
    n_inf = sum(r.inferences for r in good)
    win_us = sum(r.window_us or 0.0 for r in good)
    idle = [r.idle_ma for r in good if r.idle_ma is not None]
    lat = float(timing["latency_us"]["median"])
    return {
        "kind": "measured",
        "per_inference_uj": sum(r.total_uj or 0.0 for r in good) / n_inf if n_inf else None,
        "mean_ma": sum((r.mean_ma or 0.0) * (r.window_us or 0.0) for r in good) / win_us if win_us else None,
        "peak_ma": max((r.peak_ma or 0.0) for r in good) if good else None,
        "idle_ma": sum(idle) / len(idle) if idle else None,
        "windows": sum(len(r.windows) for r in results), "inferences": sum(r.inferences for r in results),
        "window_us": win_us if good else None, "latency_us": lat,
        "supply_v": results[0].supply_v if results else None,
        "samples": sum(r.samples for r in results), "sample_rate_hz": results[0].sample_rate_hz if results else None,
        "channel": monitor.channel, "windows_by": mode, "gpio_energy_pin": prof.firmware.gpio_energy_pin or None,
        "monitor": monitor.describe(), "modelled_uj": modelled_uj(prof, lat),
        "formula": (f"E = sum(I x V x dt) over the samples inside the windows marked on digital input "
                    f"{monitor.channel} ({mode}), divided by the inferences"),
        "trace": compact_trace(captures[0][0], [(w.start, w.stop) for w in results[0].windows]) if captures else None,
    }


def _load_model(path: Path | None, project: Any = None) -> Any:
    trees = project.extra.get("trees") if project is not None else None
    if trees:  # a tree model's project: float32 features in (no need to load, or trust, the model file)
        from edgekit.trees.validate import input_spec

        return input_spec(int(trees["n_features"]))
    if path is None:
        return None
    from edgekit.tflite_model import load_model

    return load_model(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
