"""The validated board profile: frozen dataclasses, one per section of a board file (``boards/<vendor>/<id>.yaml``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.boards.families import clock_family
from edgekit.cores import CoreFeatures


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
        return clock_family(self.family).clock["oscillators"][self.pll_source] / self.pll_m

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
