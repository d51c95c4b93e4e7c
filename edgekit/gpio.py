"""The energy-window GPIO of a board profile (``firmware.gpio_energy_pin``): syntax, families, C defines.

The firmware raises this pin immediately before each timed inference and lowers it right after, so a power
monitor's digital input (PPK2 D0-D7, LPM01A, Joulescope GPI) marks exactly the windows to integrate over.
A pin is written ``<family>:<pin>[:mlperf]``; the family fixes the register layout and the base addresses, the
optional ``:mlperf`` switches from edgekit's levels (idle low, high during each timed inference) to MLPerf Tiny's
energy-mode timestamps (idle high, a falling-edge pulse of PULSE_US at the start and at the end of the timed
loop; ``edgekit bench --power ...,windows=edges`` reads them):

* ``stm32l4:PF13`` (ports A-I), ``stm32h7:PG12`` (A-K), ``stm32f4:PA5`` (A-I): GPIOx_BSRR, one store per edge;
  init enables the port clock in RCC and sets GPIOx_MODER to output.
* ``nrf52:P1.08`` (P0.0-P0.31, P1.0-P1.15): OUTSET/OUTCLR, one store per edge; init sets DIRSET.
* ``mps2-fpgaio:LED0`` (mps2-an385/an386/an500, 0x40028000), ``mps2-an505-fpgaio:LED0`` (0x50302000, Secure
  alias), ``mps3-fpgaio:LED0`` (mps3-an547, 0x59302000, Secure alias), LED0 or LED1: the FPGAIO LED register,
  written whole (the other LED goes off). QEMU shows these writes with ``-d trace:mps2_fpgaio_write``.

STM32 addresses: the GPIO/RCC nodes of Zephyr's STM32 SoC devicetrees and the bus-enable offsets of
``include/zephyr/dt-bindings/clock/stm32{l4,h7,f4}_clock.h`` (AHB2 0x04C, AHB4 0x0E0, AHB1 0x030; GPIOx enable
bit = port index). nRF52: GPIO P0/P1 at 0x50000000/0x50000300, OUTSET 0x508, OUTCLR 0x50C, DIRSET 0x518
(nRF52840 product specification, GPIO chapter). MPS2 FPGAIO: QEMU 7.2 ``hw/misc/mps2-fpgaio.c`` (LED0 register at
offset 0, one bit per LED), checked by running a guest with ``-d trace:mps2_fpgaio_write``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards.families import GPIO_KINDS, families

# The GPIO families and their addresses are chip facts: the ``gpio:`` sections of boards/families/*.yaml.
_GPIO = {name: spec for fam in families().values() for name, spec in fam.gpio.items()}
# family -> (GPIOA base, RCC bus-enable register, port letters)
_STM32: dict[str, tuple[int, int, str]] = {
    name: (s["gpioa_base"], s["enable_reg"], s["ports"]) for name, s in _GPIO.items() if s["kind"] == "stm32"}
# family -> {port: (base, pins)}
_NRF: dict[str, dict[int, tuple[int, int]]] = {
    name: dict(enumerate((int(b), int(n)) for b, n in s["ports"])) for name, s in _GPIO.items() if s["kind"] == "nrf"}
_FPGAIO = {name: s["base"] for name, s in _GPIO.items() if s["kind"] == "fpgaio"}

FAMILIES = tuple(_GPIO)
KINDS = GPIO_KINDS  # EK_GPIO_KIND in ek_gpio.h; one ek_gpio_<kind>.c each
CONVENTIONS = ("levels", "mlperf")
PULSE_US = 100  # MLPerf timestamp pulse: 10 samples of a 100 kS/s monitor (PPK2, LPM01A)


@dataclass(frozen=True)
class GpioPin:
    """A parsed energy pin: the registers the firmware writes to drive it.

    ``high_addr``/``high_value`` and ``low_addr``/``low_value`` are the single 32-bit stores that raise and lower
    the pin (set/reset registers where the hardware has them); ``init`` holds what the init code needs.
    """

    text: str
    family: str
    kind: str
    port: int
    pin: int
    high_addr: int
    high_value: int
    low_addr: int
    low_value: int
    init: tuple[tuple[str, int], ...] = ()
    convention: str = "levels"  # or "mlperf" (timestamp pulses)

    @property
    def windows_by(self) -> str:
        """How a power monitor finds the windows this pin marks: ``levels`` or ``edges`` (edgekit.power.energy)."""
        return "edges" if self.convention == "mlperf" else "levels"

    def defines(self) -> list[tuple[str, str]]:
        """(macro, value) pairs for ek_config.h."""
        out = [("EK_GPIO_ENERGY", "1"), ("EK_GPIO_KIND", f"{KINDS[self.kind]}"),
               ("EK_GPIO_PIN", f"{self.pin}u"),
               ("EK_GPIO_HIGH_ADDR", f"0x{self.high_addr:08X}u"), ("EK_GPIO_HIGH_VALUE", f"0x{self.high_value:08X}u"),
               ("EK_GPIO_LOW_ADDR", f"0x{self.low_addr:08X}u"), ("EK_GPIO_LOW_VALUE", f"0x{self.low_value:08X}u")]
        out += [(name, f"0x{value:08X}u") for name, value in self.init]
        out += [("EK_GPIO_TIMESTAMP", "1" if self.convention == "mlperf" else "0")]
        if self.convention == "mlperf":
            out += [("EK_GPIO_PULSE_US", f"{PULSE_US}u")]
        return out


_STM32_PIN = re.compile(r"P([A-K])(\d{1,2})")
_NRF_PIN = re.compile(r"P(\d)\.(\d{1,2})")
_LED_PIN = re.compile(r"LED(\d)")


def parse_pin(text: str) -> GpioPin:
    """Parse ``<family>:<pin>[:mlperf]`` (e.g. ``stm32l4:PF13``, ``nrf52:P1.08``, ``mps2-fpgaio:LED0:mlperf``).

    Raises:
        ValueError: a message saying what is wrong and what would be right (the caller adds file and field).
    """
    family, sep, pin = text.partition(":")
    pin, _, convention = pin.partition(":")
    if convention not in ("", "mlperf"):
        raise ValueError(f"{convention!r} is not a pin convention: append ':mlperf' for MLPerf Tiny timestamp "
                         f"pulses, or nothing for edgekit's levels")
    parsed = _parse(text, family, sep, pin)
    return dataclasses.replace(parsed, convention=convention or "levels")


def _parse(text: str, family: str, sep: str, pin: str) -> GpioPin:
    if not sep:
        raise ValueError(f"{text!r} has no family: write <family>:<pin>, e.g. 'stm32l4:PF13', 'nrf52:P1.08', "
                         f"'mps2-fpgaio:LED0' (families: {', '.join(FAMILIES)})")
    if family not in FAMILIES:
        raise ValueError(f"{family!r} is not a known GPIO family (choices: {', '.join(FAMILIES)})")
    if family in _STM32:
        return _stm32(text, family, pin)
    if family in _NRF:
        return _nrf(text, family, pin)
    return _fpgaio(text, family, pin)


def _stm32(text: str, family: str, pin: str) -> GpioPin:
    gpio_base, rcc_enr, ports = _STM32[family]
    m = _STM32_PIN.fullmatch(pin)
    if not m or m.group(1) not in ports or int(m.group(2)) > 15:
        raise ValueError(f"{pin!r} is not an {family} pin: write P<port><0-15> with port {ports[0]}-{ports[-1]}, "
                         f"e.g. {family}:PF13")
    port, n = ports.index(m.group(1)), int(m.group(2))
    base = gpio_base + 0x400 * port
    bsrr = base + 0x18  # BSRR: bits 0-15 set, bits 16-31 reset
    return GpioPin(text, family, "stm32", port, n, bsrr, 1 << n, bsrr, 1 << (n + 16),
                   (("EK_GPIO_STM32_BASE", base), ("EK_GPIO_STM32_RCC_ENR", rcc_enr),
                    ("EK_GPIO_STM32_RCC_BIT", 1 << port)))


def _nrf(text: str, family: str, pin: str) -> GpioPin:
    ports = _NRF[family]
    m = _NRF_PIN.fullmatch(pin)
    if not m or int(m.group(1)) not in ports or int(m.group(2)) >= ports[int(m.group(1))][1]:
        raise ValueError(f"{pin!r} is not an {family} pin: write P0.<0-31> or P1.<0-15>, e.g. {family}:P1.08")
    port, n = int(m.group(1)), int(m.group(2))
    base = ports[port][0]
    return GpioPin(text, family, "nrf", port, n, base + 0x508, 1 << n, base + 0x50C, 1 << n,
                   (("EK_GPIO_NRF_DIRSET", base + 0x518),))


def _fpgaio(text: str, family: str, pin: str) -> GpioPin:
    m = _LED_PIN.fullmatch(pin)
    if not m or int(m.group(1)) > 1:
        raise ValueError(f"{pin!r} is not an FPGAIO LED: write LED0 or LED1, e.g. {family}:LED0")
    n = int(m.group(1))
    reg = _FPGAIO[family]  # the whole LED register: the other LED is driven off while this pin is in use
    return GpioPin(text, family, "fpgaio", 0, n, reg, 1 << n, reg, 0)


# ---------------------------------------------------------------- observing the pin under QEMU

# How QEMU 7.2 shows the pin's writes in its log: the mps2 FPGAIO has a trace event; the STM32F405 of
# netduinoplus2 models its GPIO ports as unimplemented devices, which -d unimp logs. (nRF51 GPIO trace events are
# not in Debian's build.)
QEMU_TRACE = {"fpgaio": ("-d", "trace:mps2_fpgaio_write"), "stm32": ("-d", "unimp")}
_FPGAIO_WRITE = re.compile(r"mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x([0-9a-fA-F]+)")
_UNIMP_WRITE = re.compile(r"GPIO([A-K]): unimplemented device write \(size 4, offset 0x018, value 0x([0-9a-fA-F]+)\)")


def qemu_trace_args(board: object) -> tuple[str, ...]:
    """Extra QEMU arguments that make the board's energy pin visible in QEMU's log (empty if it cannot be)."""
    pin = getattr(getattr(board, "firmware", None), "energy_pin", None)
    return QEMU_TRACE.get(pin.kind, ()) if isinstance(pin, GpioPin) else ()


def qemu_levels(log_text: str, pin: GpioPin) -> list[int]:
    """The pin's level after each write that drives it, in order, from a QEMU log made with QEMU_TRACE."""
    if pin.kind == "fpgaio":
        return [int(m.group(1), 16) >> pin.pin & 1 for m in _FPGAIO_WRITE.finditer(log_text)]
    if pin.kind == "stm32":
        port = "ABCDEFGHIJK"[pin.port]
        levels = []
        for m in _UNIMP_WRITE.finditer(log_text):
            value = int(m.group(2), 16)
            if m.group(1) == port and value & (0x10001 << pin.pin):
                levels.append(1 if value >> pin.pin & 1 else 0)  # BSRR: set wins over reset
        return levels
    return []


def edges(levels: list[int], start: int = 0) -> dict[str, int]:
    """Writes, rising and falling edges, and the final level of a sequence of pin levels (starting at ``start``)."""
    rising = falling = 0
    level = start
    for lv in levels:
        rising += level == 0 and lv == 1
        falling += level == 1 and lv == 0
        level = lv
    return {"writes": len(levels), "rising_edges": rising, "falling_edges": falling, "level_at_end": level}


def energy_gpio_report(board: object, qemu_log: str | None = None) -> dict[str, object] | None:
    """The ``energy.gpio`` section of a bench result: the pin, and what QEMU saw of it (emulated FPGAIO pins)."""
    pin = getattr(getattr(board, "firmware", None), "energy_pin", None)
    if not isinstance(pin, GpioPin):
        return None
    observed = None
    if qemu_log is not None and pin.kind in QEMU_TRACE:
        try:
            text: str | None = Path(qemu_log).read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = None
        if text is not None:
            observed = {"source": f"QEMU log ({' '.join(QEMU_TRACE[pin.kind])})", "log": qemu_log,
                        **edges(qemu_levels(text, pin))}
    return {"pin": pin.text, "family": pin.family, "convention": pin.convention, "windows_by": pin.windows_by,
            "observed": observed}
