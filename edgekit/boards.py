"""Board profiles: YAML data in ``boards/``, validated against one schema into frozen dataclasses.

Search path (first match of an id wins): directories given explicitly (``--boards-dir``), then
``EDGEKIT_BOARDS_PATH`` (os.pathsep-separated), then the ``boards/`` directory shipped with edgekit.
Every file is ``boards/<vendor>/<id>.yaml``; the file name must equal its ``id``.

Units live in key names (``_hz``, ``_kb``, ``_ma``, ``_v``); unknown keys, missing keys and wrong
types are errors that name the file and the field.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgekit.cores import CoreFeatures
from edgekit.errors import BoardError
from edgekit.resources import boards_dir

SCHEMA_VERSION = 1
BUILTIN_DIR = boards_dir()

KINDS = ("mcu", "sbc", "host")
# bossac: SAM-BA over USB CDC after a 1200-baud touch (the Arduino Nano 33 BLE bootloader).
FLASH_METHODS = ("qemu", "pyocd", "esptool", "uf2", "bossac", "openocd", "dfu-util", "ssh", "none")
# stm32-lpuart: the LPUART of STM32L4/H7 (USART-like registers, BRR = 256 * f_ck / baud).
# stm32f4-usart: the older USART of STM32F1/F2/F4 (SR/DR/BRR/CR1 at 0x00/0x04/0x08/0x0C).
# nrf-uart: the nRF51/nRF52 UART without EasyDMA (one byte per register access; nrf-uarte is the DMA variant).
UART_KINDS = ("cmsdk", "stm32-usart", "stm32-lpuart", "stm32f4-usart", "nrf-uart", "nrf-uarte", "rp2040-uart",
              "esp-usb-serial", "usb-cdc", "linux")
STM32_UARTS = ("stm32-usart", "stm32-lpuart", "stm32f4-usart")  # pins: STM32 GPIO port base + alternate function
NRF_UARTS = ("nrf-uart", "nrf-uarte")                            # pins: PSEL pin numbers (port * 32 + pin)
# ccount: the Xtensa CCOUNT special register (ESP32-S3), one tick per CPU cycle.
TIMER_KINDS = ("dwt", "systick", "cmsdk-timer", "ccount", "linux")
# firmware.clock.family -> firmware_templates/common/ek_clock_<family>.c (PLL set-up from an internal oscillator)
CLOCK_FAMILIES = ("stm32l4", "stm32h7", "stm32f4")
POWER_MODELS = ("datasheet", "measured", "none")


@dataclass(frozen=True)
class MemoryRegion:
    """One region of the memory map (used to render linker scripts)."""

    name: str
    origin: int
    size_kb: int
    kind: str  # "flash" | "ram"


@dataclass(frozen=True)
class Memory:
    """Flash and RAM budget of the board (what a firmware image may use)."""

    flash_kb: int
    ram_kb: int
    regions: tuple[MemoryRegion, ...] = ()
    source: str = ""

    @property
    def flash_bytes(self) -> int:
        return self.flash_kb * 1024

    @property
    def ram_bytes(self) -> int:
        return self.ram_kb * 1024

    def region(self, kind: str) -> MemoryRegion | None:
        """The first region of a kind ("flash" or "ram"), or None."""
        return next((r for r in self.regions if r.kind == kind), None)


@dataclass(frozen=True)
class Build:
    """How firmware for this board is built."""

    system: str
    toolchain: str = ""
    cpu_flags: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    board: str = ""  # the board/target name in the build system's own namespace (Zephyr, pico-sdk, IDF, PlatformIO)


@dataclass(frozen=True)
class EnableBit:
    """One register bit the firmware core sets at boot (a peripheral clock enable, a supply switch)."""

    reg: int
    bit: int
    what: str


@dataclass(frozen=True)
class Pin:
    """A UART pin: STM32: GPIO port base address, pin 0-15 and alternate function; nRF: pin number only."""

    pin: int
    gpio_base: int = 0
    af: int = 0


@dataclass(frozen=True)
class UartPins:
    """The UART's TX and RX pins, put in their alternate function (STM32) or selected (nRF) at boot."""

    tx: Pin
    rx: Pin


@dataclass(frozen=True)
class ClockSetup:
    """``firmware.clock``: the PLL set-up the firmware core runs at boot (``ek_clock_<family>.c``).

    SYSCLK = oscillator(``pll_source``) / ``pll_m`` x ``pll_n`` / ``pll_div`` (``pll_div`` is the output that
    feeds SYSCLK: PLLP on STM32F4, PLLR on STM32L4, DIVP1 on STM32H7). If any step times out the firmware stays at
    (or returns to) the reset clock, ``firmware.core_clock_hz``, and reports which over ``ek-info%``.
    """

    family: str
    sysclk_hz: int
    pll_source: str
    pll_m: int
    pll_n: int
    pll_div: int
    flash_wait_states: int
    regulator: str
    uart_bus: str
    ahb_div: int = 1
    apb1_div: int = 1
    apb2_div: int = 1
    supply: str = ""
    source: str = ""

    @property
    def pll_in_hz(self) -> float:
        """The PLL's reference (input) frequency after the M divider."""
        return CLOCK_LIMITS[self.family]["oscillators"][self.pll_source] / self.pll_m

    @property
    def vco_hz(self) -> float:
        return self.pll_in_hz * self.pll_n

    @property
    def hclk_hz(self) -> int:
        return self.sysclk_hz // self.ahb_div

    @property
    def core_hz(self) -> int:
        """The CPU clock once the PLL runs: HCLK on STM32F4/L4; SYSCLK on STM32H7 (CDCPRE /1, HPRE feeds the buses)."""
        return self.sysclk_hz if self.family == "stm32h7" else self.hclk_hz

    @property
    def uart_hz(self) -> int:
        """The UART's kernel clock once the PLL runs: the clock of the APB bus it sits on."""
        return self.hclk_hz // (self.apb1_div if self.uart_bus == "apb1" else self.apb2_div)

    @property
    def pll_q(self) -> int:
        """STM32F4 PLLQ (48 MHz domain, unused here but must be 2..15): the smallest keeping it <= 48 MHz."""
        return max(2, min(15, math.ceil(self.vco_hz / 48_000_000)))


# Per family: oscillators the PLL may use (internal only: a Nucleo's HSE comes from the ST-LINK's MCO, which
# edgekit does not rely on), divider ranges, the PLL input and VCO windows, bus maxima, MHz per flash wait state
# and the regulator modes. Sources: see docs/hardware.md ("Clock set-up") and the comments of ek_clock_<family>.c.
CLOCK_LIMITS: dict[str, dict[str, Any]] = {
    # RM0090/RM0390 (as in CMSIS stm32f4xx.h, RCC_PLLCFGR fields): M 2..63, N 50..432, P 2/4/6/8; PLL input 1-2 MHz,
    # VCO 100-432 MHz. APB1 <= 45 MHz, APB2 <= 90 MHz (STM32F446; F405: 42/84). Flash at 2.7-3.6 V: one wait
    # state per 30 MHz of HCLK. "overdrive" (PWR_CR.ODEN/ODSWEN) is needed above 168 MHz (F42x/F446 only).
    "stm32f4": {"oscillators": {"hsi": 16_000_000}, "m": (2, 63), "n": (50, 432), "div": (2, 4, 6, 8),
                "pll_in": (1_000_000, 2_000_000), "vco": (100_000_000, 432_000_000),
                "apb1_max": 45_000_000, "apb2_max": 90_000_000, "hz_per_ws": 30_000_000,
                "regulators": {"scale1": 168_000_000, "overdrive": 180_000_000}, "supplies": ("",)},
    # RM0432 (STM32L4+; CMSIS stm32l4r5xx.h RCC_PLLCFGR: PLLM 4 bits, PLLN 7 bits, PLLR 2 bits = 2/4/6/8).
    # PLL input kept at 4-8 MHz (inside both the L4's 4-16 and the L4+'s 2.66-8 MHz windows), VCO 64-344 MHz.
    # Range 1 boost (PWR_CR5.R1MODE = 0) for more than 80 MHz; flash: one wait state per 20 MHz in boost mode.
    "stm32l4": {"oscillators": {"hsi": 16_000_000, "msi": 4_000_000}, "m": (1, 16), "n": (8, 127),
                "div": (2, 4, 6, 8), "pll_in": (4_000_000, 8_000_000), "vco": (64_000_000, 344_000_000),
                "apb1_max": 120_000_000, "apb2_max": 120_000_000, "hz_per_ws": 20_000_000,
                "regulators": {"range1": 80_000_000, "boost": 120_000_000}, "supplies": ("",)},
    # RM0455 (STM32H7A3/B3; CMSIS stm32h7a3xxq.h RCC_PLLCKSELR.DIVM1 6 bits, RCC_PLL1DIVR N 9 bits / P 7 bits, P
    # even). PLL input 1-16 MHz (PLL1RGE picks the range), wide VCO 128-560 MHz. APB <= 140 MHz. VOS0 for 280 MHz
    # with 6 flash wait states (ST's 280 MHz STM32H7A3 SystemClock_Config: VOS0, FLASH_LATENCY_6, APB /2).
    "stm32h7": {"oscillators": {"hsi": 64_000_000}, "m": (1, 63), "n": (4, 512), "div": tuple(range(2, 129, 2)),
                "pll_in": (1_000_000, 16_000_000), "vco": (128_000_000, 560_000_000),
                "apb1_max": 140_000_000, "apb2_max": 140_000_000, "hz_per_ws": 42_000_000,
                "regulators": {"vos0": 280_000_000}, "supplies": ("direct-smps", "ldo")},
}
AHB_DIVS = (1, 2, 4, 8, 16, 64, 128, 256, 512)
APB_DIVS = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class Firmware:
    """Facts the firmware core needs: UART, timer, exit mechanism, extra config.

    ``core_clock_hz`` is the clock the edgekit firmware core runs at without a clock module (0: ``clock_hz``): on a
    real chip the reset clock (e.g. 4 MHz MSI on STM32L4). With ``clock`` (:class:`ClockSetup`) the firmware sets
    up the PLL at boot and falls back to ``core_clock_hz`` if a step times out; it reports the clock it really
    runs at over ``ek-info%``, and the UART divider is computed at run time from it. ``enable_bits`` are set in
    order before the UART is touched; ``uart_pins`` are configured after them.
    """

    uart: str = "cmsdk"
    uart_base: int = 0
    timer: str = "dwt"
    timer_hz: int = 0
    semihosting: bool = False
    gpio_energy_pin: str = ""  # "<family>:<pin>", see edgekit/gpio.py; "" = no energy GPIO
    core_clock_hz: int = 0
    enable_bits: tuple[EnableBit, ...] = ()
    uart_pins: UartPins | None = None
    clock: ClockSetup | None = None

    @property
    def energy_pin(self) -> Any:
        """The parsed :class:`edgekit.gpio.GpioPin` of ``gpio_energy_pin``, or None when there is none."""
        from edgekit.gpio import parse_pin

        return parse_pin(self.gpio_energy_pin) if self.gpio_energy_pin else None


@dataclass(frozen=True)
class Flash:
    """How an image reaches the board."""

    method: str
    target: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Serial:
    """Serial link settings and USB identity (for port discovery)."""

    baudrate: int = 115200
    usb_vid: int | None = None
    usb_pid: int | None = None


@dataclass(frozen=True)
class Qemu:
    """The QEMU machine that stands in for this board."""

    machine: str
    cpu: str = ""
    icount_shift: int = 0


@dataclass(frozen=True)
class Power:
    """Power model: supply voltage and currents, with where the numbers come from."""

    model: str = "none"
    supply_v: float = 0.0
    active_ma: float = 0.0
    idle_ma: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class Perf:
    """A first latency estimate: cycles per int8 MAC for this core, with its origin."""

    cycles_per_mac: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class BoardProfile:
    """A validated board profile."""

    id: str
    name: str
    vendor: str
    kind: str
    core: str
    arch: str
    clock_hz: int
    clock_source: str
    memory: Memory
    build: Build
    firmware: Firmware
    flash: Flash
    serial: Serial
    qemu: Qemu | None
    power: Power
    perf: Perf
    url: str = ""
    notes: str = ""
    path: Path | None = None

    @property
    def cycles_per_mac(self) -> float:
        return self.perf.cycles_per_mac

    @property
    def cycles_per_mac_source(self) -> str:
        return self.perf.source

    @property
    def firmware_clock_hz(self) -> int:
        """The clock the edgekit firmware core runs at: ``firmware.core_clock_hz``, else ``clock_hz``."""
        return self.firmware.core_clock_hz or self.clock_hz

    @property
    def is_emulated(self) -> bool:
        return self.flash.method == "qemu"

    @property
    def features(self) -> CoreFeatures:
        """What the core offers the kernels (DSP, MVE, FPU), read from ``build.cpu_flags``."""
        return CoreFeatures.from_flags(self.build.cpu_flags)

    @property
    def has_mve(self) -> bool:
        """Whether the build flags target integer MVE (Helium): the edgekit runtime then generates its MVE
        kernels."""
        return self.features.mve

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of the profile."""
        import dataclasses

        d = dataclasses.asdict(self)
        d["path"] = str(self.path) if self.path else None
        return d


# ---------------------------------------------------------------- schema ---------------------------------

# field -> (type(s), required, default); nested sections have their own specs.
_Spec = dict[str, tuple[Any, bool]]

_TOP: _Spec = {
    "schema": (int, True), "id": (str, True), "name": (str, True), "vendor": (str, True),
    "kind": (str, True), "core": (str, True), "arch": (str, True), "clock_hz": (int, True),
    "clock_source": (str, True), "memory": (dict, True), "build": (dict, True), "firmware": (dict, False),
    "flash": (dict, True), "serial": (dict, False), "qemu": ((dict, type(None)), False),
    "power": (dict, True), "perf": (dict, True), "url": (str, False), "notes": (str, False),
}
_MEMORY: _Spec = {"flash_kb": (int, True), "ram_kb": (int, True), "regions": (list, False), "source": (str, True)}
_REGION: _Spec = {"name": (str, True), "origin": (int, True), "size_kb": (int, True), "kind": (str, True)}
_BUILD: _Spec = {"system": (str, True), "toolchain": (str, False), "cpu_flags": (list, False),
                 "defines": (list, False), "board": (str, False)}
_FIRMWARE: _Spec = {"uart": (str, False), "uart_base": (int, False), "timer": (str, False),
                    "timer_hz": (int, False), "semihosting": (bool, False), "gpio_energy_pin": (str, False),
                    "core_clock_hz": (int, False), "enable_bits": (list, False), "uart_pins": (dict, False),
                    "clock": (dict, False)}
_CLOCK: _Spec = {"family": (str, True), "sysclk_hz": (int, True), "pll_source": (str, True), "pll_m": (int, True),
                 "pll_n": (int, True), "pll_div": (int, True), "flash_wait_states": (int, True),
                 "regulator": (str, True), "uart_bus": (str, True), "ahb_div": (int, False),
                 "apb1_div": (int, False), "apb2_div": (int, False), "supply": (str, False), "source": (str, True)}
_ENABLE_BIT: _Spec = {"reg": (int, True), "bit": (int, True), "what": (str, True)}
_UART_PINS: _Spec = {"tx": (dict, True), "rx": (dict, True)}
_PIN: _Spec = {"pin": (int, True), "gpio_base": (int, False), "af": (int, False)}
_FLASH: _Spec = {"method": (str, True), "target": (str, False), "options": (dict, False)}
_SERIAL: _Spec = {"baudrate": (int, False), "usb": ((dict, type(None)), False)}
_USB: _Spec = {"vid": (int, True), "pid": (int, True)}
_QEMU: _Spec = {"machine": (str, True), "cpu": (str, False), "icount_shift": (int, False)}
_POWER: _Spec = {"model": (str, True), "supply_v": ((int, float), False), "active_ma": ((int, float), False),
                 "idle_ma": ((int, float), False), "source": (str, True)}
_PERF: _Spec = {"cycles_per_mac": ((int, float), True), "source": (str, True)}

# Common unit mistakes: a key with the wrong unit suffix gets a pointed message.
_UNIT_HINTS = {
    "clock": "clock_hz", "clock_mhz": "clock_hz", "clock_khz": "clock_hz", "flash": "flash_kb",
    "flash_mb": "flash_kb", "flash_bytes": "flash_kb", "ram": "ram_kb", "ram_mb": "ram_kb", "ram_bytes": "ram_kb",
    "active": "active_ma", "active_a": "active_ma", "active_ua": "active_ma", "idle": "idle_ma",
    "idle_ua": "idle_ma", "idle_a": "idle_ma", "supply": "supply_v", "supply_mv": "supply_v", "size": "size_kb",
    "size_bytes": "size_kb",
}


def _show(value: Any, limit: int = 60) -> str:
    """repr() for error messages: short, and safe for ints too long to print."""
    try:
        text = repr(value)
    except ValueError:  # int beyond sys.get_int_max_str_digits()
        return f"<int of {value.bit_length()} bits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key_name(key: Any) -> str:
    """A mapping key as it appears in messages: plain if it is a plain word, else its short repr."""
    plain = isinstance(key, str) and key.isprintable() and key.strip() == key and key != ""
    return key if plain else _show(key)


def _one_line(what: Any) -> str:
    """An exception's text on one line (PyYAML's messages span several)."""
    return " ".join(str(what).split())


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t if x is not type(None)) + (
            " or null" if type(None) in t else "")
    return {int: "integer", float: "number", str: "string", bool: "boolean", dict: "mapping",
            list: "list"}.get(t, t.__name__)


def _check(section: Any, spec: _Spec, where: str, src: Path) -> dict[str, Any]:
    """Validate one mapping against a spec; returns it. Errors name the file and the dotted field."""
    if not isinstance(section, dict):
        raise BoardError(f"{src}: {where or 'top level'}: expected a mapping, got {type(section).__name__}",
                         hint="see boards/qemu/qemu-cortex-m4.yaml for a complete example")
    prefix = f"{where}." if where else ""
    for key in section:
        if key not in spec:
            name = _key_name(key)
            unit = _UNIT_HINTS.get(name)
            hint = (f"units go in key names: use '{unit}'" if unit
                    else f"known keys here: {', '.join(sorted(spec))}")
            raise BoardError(f"{src}: {prefix}{name}: unknown key", hint=hint)
    for key, (typ, required) in spec.items():
        if key not in section:
            if required:
                raise BoardError(f"{src}: {prefix}{key}: required key is missing",
                                 hint="see boards/qemu/qemu-cortex-m4.yaml for a complete example")
            continue
        value = section[key]
        types = typ if isinstance(typ, tuple) else (typ,)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            raise BoardError(f"{src}: {prefix}{key}: expected {_type_name(typ)}, got {_show(value)}",
                             hint="numbers carry their unit in the key name (e.g. clock_hz: 120_000_000)")
    return section


def _choice(value: str, choices: Sequence[str], field_name: str, src: Path) -> str:
    if value not in choices:
        raise BoardError(f"{src}: {field_name}: {_show(value)} is not one of: {', '.join(choices)}",
                         hint="fix the value or add support for it in edgekit")
    return value


def _flash_method(value: str, src: Path) -> None:
    """A built-in flasher, or one a plugin registers in the ``edgekit.flashers`` entry-point group."""
    if value in FLASH_METHODS:
        return
    from importlib.metadata import entry_points

    try:  # names only: no plugin is imported while a board file is read
        plugins = sorted({ep.name for ep in entry_points(group="edgekit.flashers")} - set(FLASH_METHODS))
    except Exception:  # broken metadata of some distribution: fall back to the built-ins
        plugins = []
    if value not in plugins:
        known = ", ".join(FLASH_METHODS) + (f"; plugins: {', '.join(plugins)}" if plugins else "")
        raise BoardError(f"{src}: flash.method: {_show(value)} is neither a built-in flasher nor a plugin ({known})",
                         hint="fix the value, or install the package whose 'edgekit.flashers' entry point provides it")


def _positive(value: float, field_name: str, src: Path, allow_zero: bool = False) -> None:
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        raise BoardError(f"{src}: {field_name}: must be a finite number of sensible size, got {_show(value)}")
    if value < 0 or (value == 0 and not allow_zero):
        raise BoardError(f"{src}: {field_name}: must be {'>= 0' if allow_zero else '> 0'}, got {_show(value)}")


def _check_overlaps(regions: Sequence[MemoryRegion], src: Path) -> None:
    spans = sorted((r.origin, r.origin + r.size_kb * 1024, r.name) for r in regions)
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        if start < end:
            raise BoardError(f"{src}: memory.regions: {name!r} and {other!r} overlap",
                             hint="check origin and size_kb of both regions")


def _firmware_setup(fw: dict[str, Any], clock_hz: int, src: Path) -> dict[str, Any]:
    """Validate firmware.core_clock_hz, enable_bits and uart_pins; returns them as dataclass values."""
    out: dict[str, Any] = {}
    if "core_clock_hz" in fw:
        _positive(fw["core_clock_hz"], "firmware.core_clock_hz", src)
        if fw["core_clock_hz"] > clock_hz:
            raise BoardError(f"{src}: firmware.core_clock_hz: {fw['core_clock_hz']} is above clock_hz ({clock_hz})",
                             hint="core_clock_hz is the clock the firmware core runs at (the reset clock)")
    bits = []
    for i, item in enumerate(fw.get("enable_bits", [])):
        where = f"firmware.enable_bits[{i}]"
        e = _check(item, _ENABLE_BIT, where, src)
        if not (0 < e["reg"] <= 0xFFFFFFFC and e["reg"] % 4 == 0):
            raise BoardError(f"{src}: {where}.reg: {_show(e['reg'])} is not a word-aligned 32-bit address",
                             hint="write the register address in hex, e.g. reg: 0x40023830")
        if not 0 <= e["bit"] <= 31:
            raise BoardError(f"{src}: {where}.bit: {_show(e['bit'])} is not a bit number 0-31")
        if not e["what"].strip():
            raise BoardError(f"{src}: {where}.what: name the register and bit (e.g. 'RCC_AHB1ENR.GPIOAEN')")
        bits.append(EnableBit(e["reg"], e["bit"], e["what"]))
    out["enable_bits"] = tuple(bits)
    if "uart_pins" in fw:
        kind = fw.get("uart", "cmsdk")
        if kind not in (*STM32_UARTS, *NRF_UARTS):
            raise BoardError(f"{src}: firmware.uart_pins: firmware.uart '{kind}' takes no pin configuration",
                             hint=f"uart_pins applies to: {', '.join((*STM32_UARTS, *NRF_UARTS))}")
        pins = _check(fw["uart_pins"], _UART_PINS, "firmware.uart_pins", src)
        out["uart_pins"] = UartPins(*(_uart_pin(pins[k], kind, f"firmware.uart_pins.{k}", src) for k in ("tx", "rx")))
    elif fw.get("uart") in STM32_UARTS or fw.get("uart") in NRF_UARTS:
        raise BoardError(f"{src}: firmware.uart_pins: required for firmware.uart '{fw['uart']}' (a real chip's "
                         "TX/RX pins must be routed to the UART)",
                         hint="add uart_pins: {tx: {gpio_base: 0x40020000, pin: 9, af: 7}, rx: {...}} (STM32) "
                              "or {tx: {pin: 6}, rx: {pin: 8}} (nRF)")
    if "clock" in fw:
        out["clock"] = _clock_setup(fw, clock_hz, src)
    return out


def _clock_setup(fw: dict[str, Any], clock_hz: int, src: Path) -> ClockSetup:
    """Validate firmware.clock: the PLL arithmetic, the family's divider/VCO/bus limits, wait states, regulator."""
    c = _check(fw["clock"], _CLOCK, "firmware.clock", src)
    w = "firmware.clock"
    fam = _choice(c["family"], CLOCK_FAMILIES, f"{w}.family", src)
    lim = CLOCK_LIMITS[fam]
    if fw.get("uart") not in STM32_UARTS:
        raise BoardError(f"{src}: {w}: a clock module needs an STM32 UART (firmware.uart is "
                         f"{_show(fw.get('uart', 'cmsdk'))}): its divider follows the clock at run time",
                         hint=f"firmware.uart: one of {', '.join(STM32_UARTS)}")
    _choice(c["pll_source"], tuple(lim["oscillators"]), f"{w}.pll_source", src)
    _choice(c["regulator"], tuple(lim["regulators"]), f"{w}.regulator", src)
    _choice(c["uart_bus"], ("apb1", "apb2"), f"{w}.uart_bus", src)
    _choice(c.get("supply", ""), lim["supplies"], f"{w}.supply", src)
    for key, (lo, hi) in (("pll_m", lim["m"]), ("pll_n", lim["n"])):
        if not lo <= c[key] <= hi:
            raise BoardError(f"{src}: {w}.{key}: {_show(c[key])} is outside {lo}..{hi} for {fam}")
    if c["pll_div"] not in lim["div"]:
        shown = ", ".join(map(str, lim["div"])) if len(lim["div"]) < 8 else "even numbers 2..128"
        raise BoardError(f"{src}: {w}.pll_div: {_show(c['pll_div'])} is not a {fam} PLL output divider ({shown})")
    for key, choices in (("ahb_div", AHB_DIVS), ("apb1_div", APB_DIVS), ("apb2_div", APB_DIVS)):
        if c.get(key, 1) not in choices:
            raise BoardError(f"{src}: {w}.{key}: {_show(c[key])} is not one of {', '.join(map(str, choices))}")
    clk = ClockSetup(family=fam, sysclk_hz=c["sysclk_hz"], pll_source=c["pll_source"], pll_m=c["pll_m"],
                     pll_n=c["pll_n"], pll_div=c["pll_div"], flash_wait_states=c["flash_wait_states"],
                     regulator=c["regulator"], uart_bus=c["uart_bus"], ahb_div=c.get("ahb_div", 1),
                     apb1_div=c.get("apb1_div", 1), apb2_div=c.get("apb2_div", 1), supply=c.get("supply", ""),
                     source=c["source"])
    if not lim["pll_in"][0] <= clk.pll_in_hz <= lim["pll_in"][1]:
        raise BoardError(f"{src}: {w}.pll_m: PLL input {clk.pll_in_hz / 1e6:g} MHz is outside "
                         f"{lim['pll_in'][0] / 1e6:g}-{lim['pll_in'][1] / 1e6:g} MHz for {fam}")
    if not lim["vco"][0] <= clk.vco_hz <= lim["vco"][1]:
        raise BoardError(f"{src}: {w}.pll_n: VCO {clk.vco_hz / 1e6:g} MHz is outside "
                         f"{lim['vco'][0] / 1e6:g}-{lim['vco'][1] / 1e6:g} MHz for {fam}")
    made = clk.vco_hz / clk.pll_div
    if made != c["sysclk_hz"]:
        raise BoardError(f"{src}: {w}.sysclk_hz: {_show(c['sysclk_hz'])} but the PLL gives {made:.0f} Hz "
                         f"({c['pll_source']} / {clk.pll_m} x {clk.pll_n} / {clk.pll_div})",
                         hint="make sysclk_hz equal to oscillator / pll_m x pll_n / pll_div")
    if c["sysclk_hz"] > clock_hz:
        raise BoardError(f"{src}: {w}.sysclk_hz: {c['sysclk_hz']} is above clock_hz ({clock_hz}), the part's maximum")
    if c["sysclk_hz"] > lim["regulators"][clk.regulator]:
        need = next(r for r, top in lim["regulators"].items() if top >= c["sysclk_hz"]) \
            if max(lim["regulators"].values()) >= c["sysclk_hz"] else None
        raise BoardError(f"{src}: {w}.regulator: '{clk.regulator}' allows at most "
                         f"{lim['regulators'][clk.regulator] / 1e6:g} MHz, sysclk_hz is {c['sysclk_hz'] / 1e6:g} MHz",
                         hint=f"use regulator: {need}" if need else None)
    for bus in ("apb1", "apb2"):
        hz = clk.hclk_hz // getattr(clk, f"{bus}_div")
        if hz > lim[f"{bus}_max"]:
            raise BoardError(f"{src}: {w}.{bus}_div: {bus.upper()} would run at {hz / 1e6:g} MHz, above "
                             f"{lim[f'{bus}_max'] / 1e6:g} MHz for {fam}")
    need_ws = max(0, math.ceil(clk.hclk_hz / lim["hz_per_ws"]) - 1)
    if not need_ws <= clk.flash_wait_states <= 15:
        raise BoardError(f"{src}: {w}.flash_wait_states: {_show(clk.flash_wait_states)} is not in {need_ws}..15 "
                         f"(HCLK {clk.hclk_hz / 1e6:g} MHz needs at least {need_ws} on {fam})")
    if not clk.source.strip():
        raise BoardError(f"{src}: {w}.source: say where the PLL and wait-state figures come from")
    return clk


def _uart_pin(raw: Any, kind: str, where: str, src: Path) -> Pin:
    p = _check(raw, _PIN, where, src)
    if kind in STM32_UARTS:
        for key in ("gpio_base", "af"):
            if key not in p:
                raise BoardError(f"{src}: {where}.{key}: required for an STM32 UART pin",
                                 hint="gpio_base: the GPIO port's base address; af: the alternate function 0-15")
        if not 0 <= p["pin"] <= 15:
            raise BoardError(f"{src}: {where}.pin: {_show(p['pin'])} is not an STM32 pin number 0-15")
        if not 0 <= p["af"] <= 15:
            raise BoardError(f"{src}: {where}.af: {_show(p['af'])} is not an alternate function 0-15")
        if not (0 < p["gpio_base"] <= 0xFFFFFC00 and p["gpio_base"] % 0x400 == 0):
            raise BoardError(f"{src}: {where}.gpio_base: {_show(p['gpio_base'])} is not a GPIO port base "
                             "(a 1 KB-aligned address)", hint="e.g. GPIOA of STM32F4 is 0x40020000")
        return Pin(p["pin"], p["gpio_base"], p["af"])
    for key in ("gpio_base", "af"):
        if key in p:
            raise BoardError(f"{src}: {where}.{key}: an nRF pin is only a pin number (port * 32 + pin)",
                             hint="write e.g. tx: {pin: 6} for P0.06, {pin: 40} for P1.08")
    if not 0 <= p["pin"] <= 47:
        raise BoardError(f"{src}: {where}.pin: {_show(p['pin'])} is not an nRF pin number 0-47 (port * 32 + pin)")
    return Pin(p["pin"])


def parse_board(raw: Any, src: Path) -> BoardProfile:
    """Validate a parsed YAML document and build a :class:`BoardProfile`."""
    top = _check(raw, _TOP, "", src)
    if top["schema"] != SCHEMA_VERSION:
        raise BoardError(f"{src}: schema: version {_show(top['schema'])} is not supported (this edgekit reads "
                         f"{SCHEMA_VERSION})", hint="upgrade edgekit or convert the file")
    if top["id"] != src.stem:
        raise BoardError(f"{src}: id: {_show(top['id'])} does not match the file name {src.stem!r}",
                         hint=f"rename the file to {top['id']}.yaml or fix the id")
    _choice(top["kind"], KINDS, "kind", src)
    _positive(top["clock_hz"], "clock_hz", src)

    mem = _check(top["memory"], _MEMORY, "memory", src)
    _positive(mem["flash_kb"], "memory.flash_kb", src, allow_zero=top["kind"] != "mcu")
    _positive(mem["ram_kb"], "memory.ram_kb", src)
    regions = []
    for i, reg in enumerate(mem.get("regions", [])):
        r = _check(reg, _REGION, f"memory.regions[{i}]", src)
        _choice(r["kind"], ("flash", "ram"), f"memory.regions[{i}].kind", src)
        _positive(r["size_kb"], f"memory.regions[{i}].size_kb", src)
        _positive(r["origin"], f"memory.regions[{i}].origin", src, allow_zero=True)
        regions.append(MemoryRegion(r["name"], r["origin"], r["size_kb"], r["kind"]))
    _check_overlaps(regions, src)
    memory = Memory(mem["flash_kb"], mem["ram_kb"], tuple(regions), mem["source"])

    b = _check(top["build"], _BUILD, "build", src)
    from edgekit.buildsys.registry import names as build_systems

    _choice(b["system"], build_systems(), "build.system", src)
    for key in ("cpu_flags", "defines"):
        if not all(isinstance(x, str) for x in b.get(key, [])):
            raise BoardError(f"{src}: build.{key}: expected a list of strings")
    build = Build(b["system"], b.get("toolchain", ""), tuple(b.get("cpu_flags", [])), tuple(b.get("defines", [])),
                  b.get("board", ""))

    fw = _check(top.get("firmware", {}), _FIRMWARE, "firmware", src)
    if "uart" in fw:
        _choice(fw["uart"], UART_KINDS, "firmware.uart", src)
    if "timer" in fw:
        _choice(fw["timer"], TIMER_KINDS, "firmware.timer", src)
    for key in ("uart_base", "timer_hz"):
        if key in fw:
            _positive(fw[key], f"firmware.{key}", src, allow_zero=True)
    if fw.get("gpio_energy_pin"):
        from edgekit.gpio import parse_pin

        try:
            parse_pin(fw["gpio_energy_pin"])
        except ValueError as exc:
            raise BoardError(f"{src}: firmware.gpio_energy_pin: {exc}",
                             hint="see docs/hardware.md (energy GPIO) for the pin syntax") from None
    fw = {**fw, **_firmware_setup(fw, top["clock_hz"], src)}
    firmware = Firmware(**fw)

    fl = _check(top["flash"], _FLASH, "flash", src)
    _flash_method(fl["method"], src)
    flash = Flash(fl["method"], fl.get("target", ""), dict(fl.get("options", {})))

    se = _check(top.get("serial", {}), _SERIAL, "serial", src)
    usb = se.get("usb")
    if usb is not None:
        _check(usb, _USB, "serial.usb", src)
        for key in ("vid", "pid"):
            if not 0 <= usb[key] <= 0xFFFF:
                raise BoardError(f"{src}: serial.usb.{key}: {_show(usb[key])} is not a 16-bit USB id",
                                 hint="write it in hex, e.g. vid: 0x0483")
    if "baudrate" in se:
        _positive(se["baudrate"], "serial.baudrate", src)
    serial = Serial(se.get("baudrate", 115200), usb["vid"] if usb else None, usb["pid"] if usb else None)

    qemu = None
    if top.get("qemu") is not None:
        q = _check(top["qemu"], _QEMU, "qemu", src)
        qemu = Qemu(q["machine"], q.get("cpu", ""), q.get("icount_shift", 0))
    if fl["method"] == "qemu" and qemu is None:
        raise BoardError(f"{src}: qemu: flash.method is 'qemu' but no qemu machine is given",
                         hint="add qemu: {machine: mps2-an386}")

    pw = _check(top["power"], _POWER, "power", src)
    _choice(pw["model"], POWER_MODELS, "power.model", src)
    for key in ("supply_v", "active_ma", "idle_ma"):
        if key in pw:
            _positive(pw[key], f"power.{key}", src, allow_zero=True)
    power = Power(pw["model"], float(pw.get("supply_v", 0.0)), float(pw.get("active_ma", 0.0)),
                  float(pw.get("idle_ma", 0.0)), pw["source"])

    pf = _check(top["perf"], _PERF, "perf", src)
    _positive(pf["cycles_per_mac"], "perf.cycles_per_mac", src)
    perf = Perf(float(pf["cycles_per_mac"]), pf["source"])

    return BoardProfile(
        id=top["id"], name=top["name"], vendor=top["vendor"], kind=top["kind"], core=top["core"],
        arch=top["arch"], clock_hz=top["clock_hz"], clock_source=top["clock_source"], memory=memory, build=build,
        firmware=firmware, flash=flash, serial=serial, qemu=qemu, power=power, perf=perf,
        url=top.get("url", ""), notes=top.get("notes", ""), path=src,
    )


def load_board_file(path: str | os.PathLike[str]) -> BoardProfile:
    """Load and validate one board file."""
    import yaml

    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BoardError(f"{src}: no such board file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"{src}: cannot read board file: {_one_line(exc)}") from None
    try:
        raw = yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader subclass
    except _DuplicateKey as exc:
        raise BoardError(f"{src}: {_key_name(exc.key)}: duplicate key (line {exc.line})",
                         hint="each key may appear once per mapping; delete one of them") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or exc
        raise BoardError(f"{src}: not valid YAML{where}: {_one_line(problem)}",
                         hint="check indentation and quoting") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # PyYAML lets these escape for bad scalars (e.g. 'date: 2024-13-01', '!!int x') or deep nesting
        raise BoardError(f"{src}: not valid YAML: {type(exc).__name__}: {_one_line(exc)}",
                         hint="check the values' syntax (dates, explicit !! tags, nesting)") from None
    return parse_board(raw, src)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"duplicate key {key!r} (line {line})")
        self.key = key
        self.line = line


@lru_cache(maxsize=1)
def _unique_key_loader() -> type:
    """A yaml.SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last silently)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark.line + 1)
                    seen.add(key)
                except TypeError:  # unhashable key: let SafeLoader report it as a YAMLError
                    break
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def search_dirs(extra_dirs: Iterable[str | os.PathLike[str]] | None = None) -> list[Path]:
    """The board directories, in search order."""
    dirs = [Path(d) for d in (extra_dirs or [])]
    env = os.environ.get("EDGEKIT_BOARDS_PATH", "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs.append(BUILTIN_DIR)
    for d in dirs:
        if not d.is_dir():
            raise BoardError(f"{d}: board directory does not exist",
                             hint="check --boards-dir / EDGEKIT_BOARDS_PATH")
    return dirs


def _board_files(dirs: Sequence[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:
        for f in sorted(d.rglob("*.yaml")) + sorted(d.rglob("*.yml")):
            found.setdefault(f.stem, f)
    return found


@lru_cache(maxsize=64)
def _load_cached(path: Path, mtime: float) -> BoardProfile:
    return load_board_file(path)


def load_board(board: str | BoardProfile, extra_dirs: Iterable[str | os.PathLike[str]] | None = None) -> BoardProfile:
    """Load a board profile by id (or pass a BoardProfile through).

    Raises:
        BoardError: unknown id (with the list of known ids) or an invalid file.
    """
    if isinstance(board, BoardProfile):
        return board
    files = _board_files(search_dirs(extra_dirs))
    path = files.get(board)
    if path is None:
        import difflib

        close = difflib.get_close_matches(board, list(files), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "run 'edgekit boards list' to see the known boards"
        raise BoardError(f"unknown board '{board}'", hint=hint)
    return _load_cached(path, path.stat().st_mtime)


def list_boards(extra_dirs: Iterable[str | os.PathLike[str]] | None = None) -> list[BoardProfile]:
    """All board profiles on the search path, validated, sorted by id."""
    files = _board_files(search_dirs(extra_dirs))
    return sorted((_load_cached(p, p.stat().st_mtime) for p in files.values()), key=lambda b: b.id)


DEFAULT_BOARD = "qemu-cortex-m4"
