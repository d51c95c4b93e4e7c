"""``bench``: single-stream latency of ``Interpreter.invoke()`` on this machine, as ``edgekit.bench/1`` JSON.

The result has the fields of edgekit's MCU benchmark (docs/bench-schema.md); a field that does not apply
to a Linux board is null (arena, stack, canary, instruction counts). SBC additions: ``device.machine``,
``device.python``, ``device.threads``, ``device.xnnpack``; ``energy.kind`` is ``"measured"`` when an INA2xx
hwmon sensor is present (then ``energy.sensor`` and ``energy.idle_power_uw``), else ``"modelled"``.
"""

from __future__ import annotations

import hashlib
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import hwmon
from .runtime import Model, as_samples, load_arrays, random_sample
from .util import SCHEMA_BENCH, stats, utc_now


def run_bench(model: Model, manifest: dict[str, Any], *, runs: int = 50, warmup: int = 5,
              input_path: str | None = None, hwmon_root: str | None = None, power_interval: float = 0.02,
              idle_s: float = 0.5) -> dict[str, Any]:
    """Time ``runs`` invocations after ``warmup`` untimed ones and return the result dict."""
    notes: list[str] = []
    qnotes: list[str] = []
    if input_path:
        raw = load_arrays(input_path, model)
        full = [as_samples(a, s, f"{input_path}: input {i}", quantize=True, notes=qnotes)
                for i, (a, s) in enumerate(zip(raw, model.inputs))]
        arrays = [a[:1] for a in full]
        source = str(input_path)
        if len(full[0]) > 1:
            notes.append(f"{input_path} holds {len(full[0])} samples; the first one is used")
    else:
        arrays, source = random_sample(model)
    model.set_batch(1)
    payload = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)

    for _ in range(warmup):
        model.run(arrays)

    sensors = hwmon.find_ina_sensors(hwmon_root)
    sensor = sensors[0] if sensors else None
    idle = hwmon.PowerSampler.mean(hwmon.sample_for(sensor, idle_s, power_interval)) if sensor and idle_s > 0 \
        else None
    sampler = hwmon.PowerSampler(sensor, power_interval).start() if sensor else None
    ticks = []
    for _ in range(runs):
        model.set_inputs(arrays)  # runtimes may overwrite inputs during invoke: re-send before each run
        t0 = time.perf_counter_ns()
        model.invoke()
        ticks.append(time.perf_counter_ns() - t0)
    samples = sampler.stop() if sampler else []
    out = model.get_outputs()[0]

    latency = stats([t / 1000.0 for t in ticks])
    board = manifest.get("board") or {}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    timing = {
        "timer": {"kind": "perf_counter_ns", "hz": 1_000_000_000}, "basis": "wall-clock", "per_tick": None,
        "rule": "ticks are nanoseconds of time.perf_counter_ns() around Interpreter.invoke(); "
                "latency_us = ticks / 1000",
        "ticks": ticks, "ticks_stats": stats(ticks), "count": None, "latency_us": latency,
        "latency_basis": "wall-clock time of Interpreter.invoke() on the board (input copy not included)",
    }
    if sensor is not None and idle is None and idle_s > 0:
        notes.append("no idle power reading")
    result = {
        "schema": SCHEMA_BENCH,
        "edgekit_version": manifest.get("edgekit_version"),
        "created_utc": utc_now(),
        "board": {"id": board.get("id", "host"), "name": board.get("name", platform.node()),
                  "core": board.get("core", platform.processor() or platform.machine()),
                  "clock_hz": board.get("clock_hz"), "emulated": False, "qemu": None},
        "target": {"elf": None, "elf_sha256": None, "project_dir": str(Path(manifest["_root"]))
                   if manifest.get("_root") else None, "model": str(model.path), "model_sha256": model.sha256},
        "device": {
            "runtime": f"{model.runtime} {model.runtime_version}",
            "model": (manifest.get("model") or {}).get("name") or model.path.stem,
            "model_sha256_16": model.sha256[:16],
            "arena_used_bytes": None, "arena_reserved_bytes": None,
            "input_bytes": [s.nbytes for s in model.inputs], "output_bytes": [s.nbytes for s in model.outputs],
            "timer": {"kind": "perf_counter_ns", "hz": 1_000_000_000}, "line_max": None,
            "board": board.get("id"), "machine": platform.machine(),
            "python": platform.python_version(), "os": platform.platform(), "threads": model.threads,
            "xnnpack": model.xnnpack,
        },
        "transport": {"kind": "local", "url": None, "upload": None, "log": None, "qemu_log": None},
        "input": {"source": source, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
                  "note": "; ".join(qnotes)},
        "runs": runs, "warmup": warmup, "timing": timing,
        "memory": {
            "flash_bytes": len(model.data), "ram_bytes": rss,
            "source": "flash: the model file (stored on disk); RAM: peak resident set size of the runner "
                      "process (ru_maxrss: Python, numpy, the runtime and the model)",
            "flash_budget_bytes": (board.get("flash_kb") or 0) * 1024 or None,
            "ram_budget_bytes": (board.get("ram_kb") or 0) * 1024 or None,
            "arena_used_bytes": None, "arena_reserved_bytes": None,
            "stack_used_bytes": None, "stack_reserved_bytes": None,
        },
        "energy": _energy(board.get("power") or {}, latency["median"], sensor, samples, idle),
        "output": {"index": 0, "bytes": int(out.nbytes), "hex": np.ascontiguousarray(out).tobytes().hex()},
        "canary": None,
        "notes": notes,
    }
    if board.get("id") and manifest.get("machine") and manifest["machine"] != platform.machine():
        result["notes"].append(f"the bundle was made for {manifest['machine']}, this machine is "
                               f"{platform.machine()}")
    return result


def _energy(power: dict[str, Any], lat_us: float, sensor: hwmon.InaSensor | None,
            samples: list[hwmon.Reading], idle: hwmon.Reading | None) -> dict[str, Any]:
    """Measured (INA2xx mean power during the timed runs x median latency) or modelled from the profile."""
    supply_v = float(power.get("supply_v") or 0.0)
    active_ma = float(power.get("active_ma") or 0.0)
    base = {"latency_us": lat_us, "supply_v": supply_v, "active_ma": active_ma,
            "power_model": power.get("model", "none"), "source": power.get("source", "")}
    mean = hwmon.PowerSampler.mean(samples)
    if sensor is not None and mean is not None:
        uj = mean.power_uw * lat_us / 1e6  # µW x µs = pJ; / 1e6 = µJ
        above = (mean.power_uw - idle.power_uw) * lat_us / 1e6 if idle is not None else None
        return {**base, "kind": "measured", "per_inference_uj": uj, "per_inference_above_idle_uj": above,
                "mean_power_uw": mean.power_uw, "mean_current_ma": mean.current_ma,
                "mean_voltage_mv": mean.voltage_mv, "idle_power_uw": idle.power_uw if idle else None,
                "samples": len(samples), "sensor": sensor.to_dict(),
                "source": f"INA2xx '{sensor.name}' via hwmon ({sensor.path})",
                "formula": "E = mean power of the sensor during the timed runs x median latency "
                           "(whole supply rail, idle included)"}
    usable = base["power_model"] != "none" and supply_v > 0 and active_ma > 0
    uj = supply_v * active_ma * lat_us / 1000.0 if usable else None  # V x mA x µs = nJ; / 1000 = µJ
    return {**base, "kind": "modelled", "per_inference_uj": uj,
            "formula": "E = supply_v x active_ma x median latency (no INA2xx hwmon sensor found)"}
