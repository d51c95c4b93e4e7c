"""Chip families as data: ``boards/families/<family>.yaml``.

A family file says which UARTs, timers and energy GPIOs a family of chips has, which firmware-core driver (if any)
runs each, how their pins are configured, and the limits of its clock tree (for ``firmware.clock``). Every set of
valid names the board schema and the firmware generator use comes from these files: adding a UART kind is a line
in a family file plus its driver in ``firmware_templates/common/``, never a tuple edited in several modules.

A UART or timer kind may appear in several families (STM32L4 and STM32H7 share their USART); its facts must then
agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from edgekit.boards.yamlfile import load_yaml, show
from edgekit.errors import BoardError
from edgekit.resources import boards_dir

__all__ = ["Family", "UartKind", "clock_family", "families", "gpio_family", "timer_kinds", "uart_kinds",
           "uarts_with_pins"]

FAMILY_DIR = "families"  # boards/families/*.yaml: not board profiles
PIN_STYLES = ("none", "stm32", "nrf")  # how firmware.uart_pins are written and configured
GPIO_KINDS = {"stm32": 1, "nrf": 2, "fpgaio": 3}  # EK_GPIO_KIND in ek_gpio.h; one ek_gpio_<kind>.c each
_CLOCK_KEYS = {"driver", "oscillators", "m", "n", "div", "pll_in", "vco", "apb1_max", "apb2_max", "hz_per_ws",
               "regulators", "supplies"}


@dataclass(frozen=True)
class UartKind:
    """A UART the boards may name in ``firmware.uart``: its firmware-core driver (None: SDK projects only)."""

    name: str
    driver: str | None
    pins: str = "none"


@dataclass(frozen=True)
class Family:
    """One ``boards/families/<family>.yaml``."""

    name: str
    title: str
    source: str
    uarts: dict[str, UartKind] = field(default_factory=dict)
    timers: dict[str, bool] = field(default_factory=dict)  # kind -> the firmware core can count with it
    gpio: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: dict[str, Any] | None = None
    path: Path | None = None


def _fail(src: Path, where: str, why: str) -> BoardError:
    return BoardError(f"{src}: {where}: {why}", hint=f"see the other files in boards/{FAMILY_DIR}/")


def _mapping(value: Any, src: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(src, where, f"expected a mapping, got {show(value)}")
    return value


def parse_family(raw: Any, src: Path) -> Family:
    """Validate one family file."""
    top = _mapping(raw, src, "top level")
    unknown = set(top) - {"schema", "family", "title", "source", "uarts", "timers", "gpio", "clock"}
    if unknown:
        raise _fail(src, sorted(unknown)[0], "unknown key")
    if top.get("schema") != 1:
        raise _fail(src, "schema", f"version {show(top.get('schema'))} is not supported (this edgekit reads 1)")
    name = top.get("family")
    if name != src.stem:
        raise _fail(src, "family", f"{show(name)} does not match the file name {src.stem!r}")
    for key in ("title", "source"):
        if not isinstance(top.get(key), str) or not top[key].strip():
            raise _fail(src, key, "required: a non-empty string")
    uarts = {}
    for kind, spec in _mapping(top.get("uarts", {}), src, "uarts").items():
        spec = _mapping(spec, src, f"uarts.{kind}")
        if set(spec) - {"driver", "pins"}:
            raise _fail(src, f"uarts.{kind}", f"unknown key {sorted(set(spec) - {'driver', 'pins'})[0]!r}")
        if spec.get("pins", "none") not in PIN_STYLES:
            raise _fail(src, f"uarts.{kind}.pins", f"{show(spec['pins'])} is not one of {', '.join(PIN_STYLES)}")
        uarts[kind] = UartKind(kind, spec.get("driver"), spec.get("pins", "none"))
    timers = {}
    for kind, spec in _mapping(top.get("timers", {}), src, "timers").items():
        timers[kind] = bool(_mapping(spec, src, f"timers.{kind}").get("firmware", False))
    gpio = {}
    for gfam, spec in _mapping(top.get("gpio", {}), src, "gpio").items():
        spec = _mapping(spec, src, f"gpio.{gfam}")
        if spec.get("kind") not in GPIO_KINDS:
            raise _fail(src, f"gpio.{gfam}.kind", f"{show(spec.get('kind'))} is not one of {', '.join(GPIO_KINDS)}")
        gpio[gfam] = dict(spec)
    clock = top.get("clock")
    if clock is not None:
        clock = dict(_mapping(clock, src, "clock"))
        missing = _CLOCK_KEYS - set(clock)
        if missing or set(clock) - _CLOCK_KEYS:
            raise _fail(src, "clock", f"keys must be {', '.join(sorted(_CLOCK_KEYS))}")
        div = clock["div"]
        if isinstance(div, dict):  # {even_from: 2, to: 128}
            clock["div"] = tuple(range(int(div["even_from"]), int(div["to"]) + 1, 2))
        clock.update({k: tuple(clock[k]) for k in ("m", "n", "div", "pll_in", "vco", "supplies")})
    return Family(name, top["title"], top["source"], uarts, timers, gpio, clock, src)


@cache
def families() -> dict[str, Family]:
    """Every chip family shipped with edgekit, by name (``boards/families/*.yaml``).

    Raises:
        BoardError: a family file is invalid, or two families disagree about a shared UART.
    """
    out: dict[str, Family] = {}
    for f in sorted((boards_dir() / FAMILY_DIR).glob("*.yaml")):
        out[f.stem] = parse_family(load_yaml(f, "chip family file"), f)
    seen: dict[str, tuple[UartKind, Path | None]] = {}
    for fam in out.values():
        for kind, uart in fam.uarts.items():
            if kind in seen and seen[kind][0] != uart:
                raise BoardError(f"{fam.path}: uarts.{kind}: disagrees with {seen[kind][1]}",
                                 hint="a UART shared by two families must have the same driver and pins")
            seen[kind] = (uart, fam.path)
    return out


def uart_kinds() -> dict[str, UartKind]:
    """Every UART kind of every family."""
    return {k: u for fam in families().values() for k, u in fam.uarts.items()}


def uarts_with_pins(style: str) -> tuple[str, ...]:
    """UART kinds whose pins are written in ``style`` (``stm32``: GPIO port base + alternate function; ``nrf``:
    PSEL pin numbers)."""
    return tuple(k for k, u in uart_kinds().items() if u.pins == style)


def timer_kinds() -> dict[str, bool]:
    """Every timer kind -> whether the firmware core counts with it."""
    return {k: v for fam in families().values() for k, v in fam.timers.items()}


def clock_family(name: str) -> Family:
    """The family whose clock tree ``firmware.clock.family: name`` sets up (KeyError when it has none)."""
    fam = families().get(name)
    if fam is None or fam.clock is None:
        raise KeyError(name)
    return fam


def gpio_family(name: str) -> dict[str, Any]:
    """The energy-GPIO facts of a ``gpio_energy_pin`` family (``stm32l4``, ``nrf52``, ``mps2-fpgaio``, ...)."""
    for fam in families().values():
        if name in fam.gpio:
            return fam.gpio[name]
    raise KeyError(name)
