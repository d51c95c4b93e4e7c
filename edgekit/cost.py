"""Cost report: battery life and energy per million inferences from a benchmark's energy and a duty cycle.

Model (per hour, energy throughout so that a battery given in Wh and a supply at another voltage mix correctly;
an ideal converter between them is assumed):

* active: ``rate x E_inf``, E_inf the bench's energy per inference (measured over the marked windows, or modelled
  as supply_v x active_ma x latency), taking ``rate x t_inf`` seconds (t_inf: measured window time per inference,
  else the median latency);
* sleep: ``supply_v x I_sleep x (3600 s - rate x t_inf)`` for the rest of the hour;
* average current = (active + sleep) / supply_v / 3600 s; battery life = battery energy x derate / energy per
  hour. The battery's energy is ``Wh x 3600``, or ``mAh x V`` with V the ``@V`` given, else the supply voltage.

``I_sleep`` is ``--sleep``, else the board profile's ``power.idle_ma``: that is the datasheet's idle/sleep-mode
figure (core stopped, peripherals and RAM on), not a deep-sleep/standby current, which is often 100x lower.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError, UsageError

SCHEMA = "edgekit.cost/1"
_NUM = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class Battery:
    """A battery: energy in joules, and the capacity / voltage it was given as."""

    text: str
    energy_j: float
    capacity_mah: float | None
    voltage_v: float | None


def parse_battery(text: str, supply_v: float | None = None) -> Battery:
    """``1000mAh``, ``2.4Ah``, ``1000mAh@3.0V`` or ``3.7Wh``; mAh/Ah without ``@V`` take ``supply_v``."""
    s = str(text).strip().replace(" ", "")
    m = re.fullmatch(_NUM + r"(mAh|Ah|mWh|Wh)(?:@" + _NUM + r"V)?", s, flags=re.IGNORECASE)
    if not m:
        raise UsageError(f"--battery {text!r}: not a capacity (mAh, Ah) or an energy (Wh)",
                         hint="e.g. --battery 1000mAh, --battery 1000mAh@3.0V, --battery 2.4Ah or --battery 3.7Wh")
    value, unit, volts = float(m.group(1)), m.group(2).lower(), m.group(3)
    if value <= 0 or (volts is not None and float(volts) <= 0):
        raise UsageError(f"--battery {text!r}: capacity and voltage must be greater than zero",
                         hint="e.g. --battery 1000mAh@3.0V")
    if unit in ("wh", "mwh"):
        wh = value / 1000.0 if unit == "mwh" else value
        return Battery(text, wh * 3600.0, None, float(volts) if volts else None)
    mah = value * 1000.0 if unit == "ah" else value
    v = float(volts) if volts is not None else supply_v
    if not v or v <= 0:
        raise UsageError(f"--battery {text!r}: a capacity in {m.group(2)} needs a voltage, and the board profile "
                         "gives no supply voltage", hint=f"say it: --battery {m.group(1)}{m.group(2)}@3.0V")
    return Battery(text, mah / 1000.0 * 3600.0 * v, mah, v)


_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hr": 3600.0,
            "hour": 3600.0, "d": 86400.0, "day": 86400.0}


def _period_s(unit: str) -> float | None:
    u = unit.lower()
    return _PERIODS.get(u) or _PERIODS.get(u[:-1] if u.endswith("s") else u)


def parse_rate(text: str) -> float:
    """Inferences per hour from ``60/h``, ``1/s``, ``1440/day``, ``every 5min``, ``every 2 s``."""
    s = str(text).strip().lower()
    hint = "e.g. --rate 60/h, --rate 1/s, --rate 1440/day or --rate 'every 5min'"
    m = re.fullmatch(r"every\s*" + _NUM + r"?\s*([a-z]+)", s)
    if m:
        n, unit = float(m.group(1) or 1.0), _period_s(m.group(2))
        if unit is None:
            raise UsageError(f"--rate {text!r}: unknown time unit {m.group(2)!r} (s, min, h, day)", hint=hint)
        if n <= 0:
            raise UsageError(f"--rate {text!r}: the period must be greater than zero", hint=hint)
        return 3600.0 / (n * unit)
    m = re.fullmatch(_NUM + r"\s*/\s*([a-z]+)", s)
    if not m:
        raise UsageError(f"--rate {text!r}: not a rate", hint=hint)
    n, unit = float(m.group(1)), _period_s(m.group(2))
    if unit is None:
        raise UsageError(f"--rate {text!r}: unknown time unit {m.group(2)!r} (s, min, h, day)", hint=hint)
    if n <= 0:
        raise UsageError(f"--rate {text!r}: the rate must be greater than zero", hint=hint)
    return n * 3600.0 / unit


def parse_current(text: str, option: str = "--sleep") -> float:
    """A current in mA from ``2.5uA`` (or ``µA``), ``1.1mA``, ``0.5nA``, ``0.01A``."""
    s = str(text).strip().replace(" ", "").replace("µ", "u").replace("μ", "u")
    m = re.fullmatch(_NUM + r"(nA|uA|mA|A)", s, flags=re.IGNORECASE)
    if not m:
        raise UsageError(f"{option} {text!r}: not a current (nA, uA, mA, A)", hint=f"e.g. {option} 2.5uA or "
                         f"{option} 1.1mA")
    value = float(m.group(1))
    if value <= 0:
        raise UsageError(f"{option} {text!r}: the current must be greater than zero", hint=f"e.g. {option} 2.5uA")
    return value * {"na": 1e-6, "ua": 1e-3, "ma": 1.0, "a": 1e3}[m.group(2).lower()]


def check_options(battery: str, rate: str, sleep: str | None = None, derate: float = 1.0) -> None:
    """Raise UsageError for a bad --battery / --rate / --sleep / --battery-derate before anything runs."""
    parse_battery(battery, 1.0)  # the voltage is not known yet: only the syntax and sign are checked
    parse_rate(rate)
    if sleep is not None and sleep.strip().lower() != "measured":
        parse_current(sleep)
    _check_derate(derate)


def _check_derate(derate: float) -> None:
    if not 0 < derate <= 1:
        raise UsageError(f"--battery-derate {derate!r}: must be in (0, 1]", hint="e.g. --battery-derate 0.8")


# ---------------------------------------------------------------- the report

@dataclass
class Cost:
    """One benchmark's cost at a duty cycle (``to_dict()`` is the ``cost`` section of a bench JSON)."""

    label: str
    energy_source: str
    energy_kind: str
    per_inference_uj: float
    active_s_per_inference: float
    active_basis: str
    supply_v: float
    sleep_ma: float
    sleep_source: str
    rate_per_h: float
    duty: float
    active_j_per_h: float
    sleep_j_per_h: float
    average_ma: float
    battery: str
    battery_j: float
    derate: float
    life_h: float
    life_days: float
    per_million_inferences_j: float
    per_million_with_sleep_j: float
    inferences_per_battery: float
    measured_idle_ma: float | None
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}


def describe(d: dict[str, Any]) -> str:
    """``model runtime dtype on board`` for a column heading, from a bench JSON."""
    dev, tgt = d.get("device") or {}, d.get("target") or {}
    name = dev.get("model") or (Path(tgt["model"]).stem if tgt.get("model") else None) or "firmware"
    runtime = (dev.get("runtime") or "").split(" ")[0] or "?"
    board = (d.get("board") or {}).get("id")
    return " ".join(x for x in (str(name), runtime, model_dtype(d) or "", f"on {board}" if board else "") if x)


def unique_labels(labels: list[str], files: list[str] | None = None) -> list[str]:
    """Column headings that tell results apart: a repeated label gets its file name (else its position)."""
    names = [Path(f).name for f in files] if files else None
    out = []
    for k, label in enumerate(labels):
        if labels.count(label) > 1:
            label += f" ({names[k]})" if names and names.count(names[k]) == 1 else f" (#{k + 1})"
        out.append(label)
    return out


def model_dtype(d: dict[str, Any]) -> str | None:
    """The model's input dtype (read from ``target.model`` when that .tflite is still there), else a guess from
    the input note, else None."""
    path = (d.get("target") or {}).get("model")
    if path and Path(path).is_file():
        try:
            from edgekit.tflite_model import load_model

            m = load_model(path)
            return str(m.main.tensors[m.main.inputs[0]].dtype)
        except Exception:  # a damaged or moved model only loses the label
            pass
    note = (d.get("input") or {}).get("note") or ""
    hit = re.search(r"to (u?int\d+)", note)
    return hit.group(1) if hit else None


def energy_source(d: dict[str, Any]) -> str:
    """Where the energy per inference comes from, in words; a run under QEMU is always 'modelled'."""
    e, board = d.get("energy") or {}, d.get("board") or {}
    qemu = "modelled (QEMU: an emulated board draws no current; board power model x latency)"
    if (d.get("transport") or {}).get("kind") == "qemu":
        return qemu
    if e.get("kind") == "measured":  # a monitor on a serial-port board, even one benched under an emulated profile
        mon = e.get("monitor")
        who = (mon.get("monitor") if isinstance(mon, dict) else None) or \
              ((e.get("sensor") or {}).get("name") if isinstance(e.get("sensor"), dict) else None) or "a monitor"
        return f"measured ({who})"
    if board.get("emulated"):
        return qemu
    model = e.get("power_model") or "board power model"
    return f"modelled ({model}: supply_v x active_ma x latency)"


def cost_report(d: dict[str, Any], *, battery: str, rate: str, sleep: str | None = None, derate: float = 1.0,
                boards_dirs: list[str] | None = None, where: str | None = None) -> Cost:
    """The cost of running the benchmarked model at ``rate`` on ``battery``; see the module docstring.

    Args:
        d: a bench JSON (``edgekit.bench/1``) as a dict.
        battery: ``1000mAh``, ``1000mAh@3.0V``, ``2.4Ah``, ``3.7Wh``.
        rate: ``60/h``, ``1/s``, ``1440/day``, ``every 5min``.
        sleep: current between inferences (``2.5uA``), or ``measured``: the bench's ``energy.idle_ma`` (board
            awake between inferences); default the board profile's ``power.idle_ma``.
        derate: usable fraction of the battery (0 < derate <= 1), e.g. 0.8 for self-discharge and cut-off.
        where: the file ``d`` came from, named in errors.

    Raises:
        UsageError: a bad value (naming the option), no energy figure, or a duty cycle over 100 %.
    """
    _check_derate(derate)
    e, t, notes = d.get("energy") or {}, d.get("timing") or {}, []
    who = f"{where} ({describe(d)})" if where else describe(d)
    profile = _profile(d, boards_dirs)
    uj = e.get("per_inference_uj")
    if uj is None or uj <= 0:
        raise UsageError(f"{who}: the benchmark has no energy per inference",
                         hint="benchmark on a board with a power model, or measure with --power")
    supply = float(e.get("supply_v") or (profile.power.supply_v if profile else 0.0) or 0.0)
    if supply <= 0:
        raise UsageError(f"{who}: no supply voltage (energy.supply_v, board power.supply_v)",
                         hint="add power.supply_v to the board profile")
    wins, n_inf = e.get("window_us"), e.get("inferences")
    if e.get("kind") == "measured" and wins and n_inf:
        t_inf, basis = wins / n_inf / 1e6, "measured window time per inference"
    else:
        t_inf, basis = float((t.get("latency_us") or {}).get("median") or e.get("latency_us") or 0) / 1e6, \
            "median latency"
    measured_idle = e.get("idle_ma") if e.get("kind") == "measured" else None
    if sleep is not None and sleep.strip().lower() == "measured":
        if not measured_idle:
            raise UsageError(f"--sleep measured: {who} has no measured current between inferences",
                             hint="measure with --power, or give a current: --sleep 2.5uA")
        sleep_ma, sleep_src = float(measured_idle), "the current measured between inferences (board awake, idle)"
    elif sleep is not None:
        sleep_ma, sleep_src = parse_current(sleep), f"--sleep {sleep}"
    elif profile is not None and profile.power.idle_ma > 0:
        sleep_ma = profile.power.idle_ma
        sleep_src = (f"board profile {profile.id} power.idle_ma: the datasheet idle/sleep-mode figure, "
                     "not deep sleep")
    else:
        raise UsageError(f"{who}: no sleep current (the board profile has no power.idle_ma)",
                         hint="give one: --sleep 2.5uA")
    if measured_idle is not None and sleep is None:
        notes.append(f"the bench measured {measured_idle:.4g} mA between inferences (board awake, idle); "
                     "pass --sleep measured to use it")
    bat = parse_battery(battery, supply)
    r = parse_rate(rate)
    active_s = r * t_inf
    if active_s > 3600.0:
        raise UsageError(f"--rate {rate}: {r:,.6g} inferences/h of {t_inf * 1e3:,.4g} ms each need "
                         f"{active_s / 36:,.4g} % of the time (over 100 %)",
                         hint=f"at most {3600.0 / t_inf:,.0f}/h with this latency, e.g. --rate "
                              f"{int(3600.0 / t_inf // 2) or 1}/h")
    active_j = r * uj * 1e-6
    sleep_j = supply * sleep_ma * 1e-3 * (3600.0 - active_s)
    per_h = active_j + sleep_j
    life_h = bat.energy_j * derate / per_h
    return Cost(label=describe(d), energy_source=energy_source(d), energy_kind=str(e.get("kind") or "modelled"),
                per_inference_uj=uj, active_s_per_inference=t_inf, active_basis=basis, supply_v=supply,
                sleep_ma=sleep_ma, sleep_source=sleep_src, rate_per_h=r, duty=active_s / 3600.0,
                active_j_per_h=active_j, sleep_j_per_h=sleep_j, average_ma=per_h / supply / 3600.0 * 1e3,
                battery=battery, battery_j=bat.energy_j, derate=derate, life_h=life_h, life_days=life_h / 24.0,
                per_million_inferences_j=uj, per_million_with_sleep_j=per_h / r * 1e6,
                inferences_per_battery=life_h * r, measured_idle_ma=measured_idle, notes=notes)


def _profile(d: dict[str, Any], boards_dirs: list[str] | None) -> Any:
    from edgekit.boards import load_board

    bid = (d.get("board") or {}).get("id")
    if not bid:
        return None
    try:
        return load_board(bid, boards_dirs)
    except EdgekitError:
        return None
