"""The board file's schema: what each section may hold, checked with errors that name the file and the field.

Sets of valid names come from data: UART and timer kinds and clock families from the chip family files
(:mod:`edgekit.boards.families`), flashers from the flasher registry (plugins included).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgekit.boards.checks import Spec, check, choice, positive
from edgekit.boards.clock import clock_setup
from edgekit.boards.families import timer_kinds, uart_kinds, uarts_with_pins
from edgekit.boards.profile import (
    BoardProfile,
    Build,
    EnableBit,
    Firmware,
    Flash,
    Memory,
    MemoryRegion,
    Perf,
    Pin,
    Power,
    Qemu,
    Serial,
    UartPins,
)
from edgekit.boards.yamlfile import show
from edgekit.errors import BoardError

SCHEMA_VERSION = 1
KINDS = ("mcu", "sbc", "host")
NOT_FLASHED = ("ssh", "none")  # flash.method of boards edgekit does not flash (Linux boards); flashers: registry
POWER_MODELS = ("datasheet", "measured", "none")



_TOP: Spec = {
    "schema": (int, True), "id": (str, True), "name": (str, True), "vendor": (str, True),
    "kind": (str, True), "core": (str, True), "arch": (str, True), "clock_hz": (int, True),
    "clock_source": (str, True), "memory": (dict, True), "build": (dict, True), "firmware": (dict, False),
    "flash": (dict, True), "serial": (dict, False), "qemu": ((dict, type(None)), False),
    "power": (dict, True), "perf": (dict, True), "url": (str, False), "notes": (str, False),
}
_MEMORY: Spec = {"flash_kb": (int, True), "ram_kb": (int, True), "regions": (list, False), "source": (str, True)}
_REGION: Spec = {"name": (str, True), "origin": (int, True), "size_kb": (int, True), "kind": (str, True)}
_BUILD: Spec = {"system": (str, True), "toolchain": (str, False), "cpu_flags": (list, False),
                 "defines": (list, False), "board": (str, False)}
_FIRMWARE: Spec = {"uart": (str, False), "uart_base": (int, False), "timer": (str, False),
                    "timer_hz": (int, False), "semihosting": (bool, False), "gpio_energy_pin": (str, False),
                    "core_clock_hz": (int, False), "enable_bits": (list, False), "uart_pins": (dict, False),
                    "clock": (dict, False)}
_ENABLE_BIT: Spec = {"reg": (int, True), "bit": (int, True), "what": (str, True)}
_UART_PINS: Spec = {"tx": (dict, True), "rx": (dict, True)}
_PIN: Spec = {"pin": (int, True), "gpio_base": (int, False), "af": (int, False)}
_FLASH: Spec = {"method": (str, True), "target": (str, False), "options": (dict, False)}
_SERIAL: Spec = {"baudrate": (int, False), "usb": ((dict, type(None)), False)}
_USB: Spec = {"vid": (int, True), "pid": (int, True)}
_QEMU: Spec = {"machine": (str, True), "cpu": (str, False), "icount_shift": (int, False)}
_POWER: Spec = {"model": (str, True), "supply_v": ((int, float), False), "active_ma": ((int, float), False),
                 "idle_ma": ((int, float), False), "source": (str, True)}
_PERF: Spec = {"cycles_per_mac": ((int, float), True), "source": (str, True)}

def _flash_method(value: str, src: Path) -> None:
    """A built-in flasher, or one a plugin registers in the ``edgekit.flashers`` entry-point group (names only: no
    plugin is imported while a board file is read); ``ssh`` and ``none`` for boards edgekit does not flash."""
    from edgekit.flashers.base import BUILTIN, registry

    if value in NOT_FLASHED or value in BUILTIN:
        return
    plugins = sorted(set(registry()) - set(BUILTIN))
    if value not in plugins:
        known = ", ".join((*BUILTIN, *NOT_FLASHED)) + (f"; plugins: {', '.join(plugins)}" if plugins else "")
        raise BoardError(f"{src}: flash.method: {show(value)} is neither a built-in flasher nor a plugin ({known})",
                         hint="fix the value, or install the package whose 'edgekit.flashers' entry point provides it")


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
        positive(fw["core_clock_hz"], "firmware.core_clock_hz", src)
        if fw["core_clock_hz"] > clock_hz:
            raise BoardError(f"{src}: firmware.core_clock_hz: {fw['core_clock_hz']} is above clock_hz ({clock_hz})",
                             hint="core_clock_hz is the clock the firmware core runs at (the reset clock)")
    bits = []
    for i, item in enumerate(fw.get("enable_bits", [])):
        where = f"firmware.enable_bits[{i}]"
        e = check(item, _ENABLE_BIT, where, src)
        if not (0 < e["reg"] <= 0xFFFFFFFC and e["reg"] % 4 == 0):
            raise BoardError(f"{src}: {where}.reg: {show(e['reg'])} is not a word-aligned 32-bit address",
                             hint="write the register address in hex, e.g. reg: 0x40023830")
        if not 0 <= e["bit"] <= 31:
            raise BoardError(f"{src}: {where}.bit: {show(e['bit'])} is not a bit number 0-31")
        if not e["what"].strip():
            raise BoardError(f"{src}: {where}.what: name the register and bit (e.g. 'RCC_AHB1ENR.GPIOAEN')")
        bits.append(EnableBit(e["reg"], e["bit"], e["what"]))
    out["enable_bits"] = tuple(bits)
    if "uart_pins" in fw:
        kind = fw.get("uart", "cmsdk")
        pinned = (*uarts_with_pins("stm32"), *uarts_with_pins("nrf"))
        if kind not in pinned:
            raise BoardError(f"{src}: firmware.uart_pins: firmware.uart '{kind}' takes no pin configuration",
                             hint=f"uart_pins applies to: {', '.join(pinned)}")
        pins = check(fw["uart_pins"], _UART_PINS, "firmware.uart_pins", src)
        out["uart_pins"] = UartPins(*(_uart_pin(pins[k], kind, f"firmware.uart_pins.{k}", src) for k in ("tx", "rx")))
    elif fw.get("uart") in uarts_with_pins("stm32") or fw.get("uart") in uarts_with_pins("nrf"):
        raise BoardError(f"{src}: firmware.uart_pins: required for firmware.uart '{fw['uart']}' (a real chip's "
                         "TX/RX pins must be routed to the UART)",
                         hint="add uart_pins: {tx: {gpio_base: 0x40020000, pin: 9, af: 7}, rx: {...}} (STM32) "
                              "or {tx: {pin: 6}, rx: {pin: 8}} (nRF)")
    if "clock" in fw:
        out["clock"] = clock_setup(fw, clock_hz, src)
    return out


def _uart_pin(raw: Any, kind: str, where: str, src: Path) -> Pin:
    p = check(raw, _PIN, where, src)
    if kind in uarts_with_pins("stm32"):
        for key in ("gpio_base", "af"):
            if key not in p:
                raise BoardError(f"{src}: {where}.{key}: required for an STM32 UART pin",
                                 hint="gpio_base: the GPIO port's base address; af: the alternate function 0-15")
        if not 0 <= p["pin"] <= 15:
            raise BoardError(f"{src}: {where}.pin: {show(p['pin'])} is not an STM32 pin number 0-15")
        if not 0 <= p["af"] <= 15:
            raise BoardError(f"{src}: {where}.af: {show(p['af'])} is not an alternate function 0-15")
        if not (0 < p["gpio_base"] <= 0xFFFFFC00 and p["gpio_base"] % 0x400 == 0):
            raise BoardError(f"{src}: {where}.gpio_base: {show(p['gpio_base'])} is not a GPIO port base "
                             "(a 1 KB-aligned address)", hint="e.g. GPIOA of STM32F4 is 0x40020000")
        return Pin(p["pin"], p["gpio_base"], p["af"])
    for key in ("gpio_base", "af"):
        if key in p:
            raise BoardError(f"{src}: {where}.{key}: an nRF pin is only a pin number (port * 32 + pin)",
                             hint="write e.g. tx: {pin: 6} for P0.06, {pin: 40} for P1.08")
    if not 0 <= p["pin"] <= 47:
        raise BoardError(f"{src}: {where}.pin: {show(p['pin'])} is not an nRF pin number 0-47 (port * 32 + pin)")
    return Pin(p["pin"])


def parse_board(raw: Any, src: Path) -> BoardProfile:
    """Validate a parsed YAML document and build a :class:`BoardProfile`."""
    top = check(raw, _TOP, "", src)
    if top["schema"] != SCHEMA_VERSION:
        raise BoardError(f"{src}: schema: version {show(top['schema'])} is not supported (this edgekit reads "
                         f"{SCHEMA_VERSION})", hint="upgrade edgekit or convert the file")
    if top["id"] != src.stem:
        raise BoardError(f"{src}: id: {show(top['id'])} does not match the file name {src.stem!r}",
                         hint=f"rename the file to {top['id']}.yaml or fix the id")
    choice(top["kind"], KINDS, "kind", src)
    positive(top["clock_hz"], "clock_hz", src)

    mem = check(top["memory"], _MEMORY, "memory", src)
    positive(mem["flash_kb"], "memory.flash_kb", src, allow_zero=top["kind"] != "mcu")
    positive(mem["ram_kb"], "memory.ram_kb", src)
    regions = []
    for i, reg in enumerate(mem.get("regions", [])):
        r = check(reg, _REGION, f"memory.regions[{i}]", src)
        choice(r["kind"], ("flash", "ram"), f"memory.regions[{i}].kind", src)
        positive(r["size_kb"], f"memory.regions[{i}].size_kb", src)
        positive(r["origin"], f"memory.regions[{i}].origin", src, allow_zero=True)
        regions.append(MemoryRegion(r["name"], r["origin"], r["size_kb"], r["kind"]))
    _check_overlaps(regions, src)
    memory = Memory(mem["flash_kb"], mem["ram_kb"], tuple(regions), mem["source"])

    b = check(top["build"], _BUILD, "build", src)
    from edgekit.buildsys.registry import names as build_systems

    choice(b["system"], build_systems(), "build.system", src)
    for key in ("cpu_flags", "defines"):
        if not all(isinstance(x, str) for x in b.get(key, [])):
            raise BoardError(f"{src}: build.{key}: expected a list of strings")
    build = Build(b["system"], b.get("toolchain", ""), tuple(b.get("cpu_flags", [])), tuple(b.get("defines", [])),
                  b.get("board", ""))

    fw = check(top.get("firmware", {}), _FIRMWARE, "firmware", src)
    if "uart" in fw:
        choice(fw["uart"], tuple(uart_kinds()), "firmware.uart", src)
    if "timer" in fw:
        choice(fw["timer"], tuple(timer_kinds()), "firmware.timer", src)
    for key in ("uart_base", "timer_hz"):
        if key in fw:
            positive(fw[key], f"firmware.{key}", src, allow_zero=True)
    if fw.get("gpio_energy_pin"):
        from edgekit.gpio import parse_pin

        try:
            parse_pin(fw["gpio_energy_pin"])
        except ValueError as exc:
            raise BoardError(f"{src}: firmware.gpio_energy_pin: {exc}",
                             hint="see docs/hardware.md (energy GPIO) for the pin syntax") from None
    fw = {**fw, **_firmware_setup(fw, top["clock_hz"], src)}
    firmware = Firmware(**fw)

    fl = check(top["flash"], _FLASH, "flash", src)
    _flash_method(fl["method"], src)
    flash = Flash(fl["method"], fl.get("target", ""), dict(fl.get("options", {})))

    se = check(top.get("serial", {}), _SERIAL, "serial", src)
    usb = se.get("usb")
    if usb is not None:
        check(usb, _USB, "serial.usb", src)
        for key in ("vid", "pid"):
            if not 0 <= usb[key] <= 0xFFFF:
                raise BoardError(f"{src}: serial.usb.{key}: {show(usb[key])} is not a 16-bit USB id",
                                 hint="write it in hex, e.g. vid: 0x0483")
    if "baudrate" in se:
        positive(se["baudrate"], "serial.baudrate", src)
    serial = Serial(se.get("baudrate", 115200), usb["vid"] if usb else None, usb["pid"] if usb else None)

    qemu = None
    if top.get("qemu") is not None:
        q = check(top["qemu"], _QEMU, "qemu", src)
        qemu = Qemu(q["machine"], q.get("cpu", ""), q.get("icount_shift", 0))
    if fl["method"] == "qemu" and qemu is None:
        raise BoardError(f"{src}: qemu: flash.method is 'qemu' but no qemu machine is given",
                         hint="add qemu: {machine: mps2-an386}")

    pw = check(top["power"], _POWER, "power", src)
    choice(pw["model"], POWER_MODELS, "power.model", src)
    for key in ("supply_v", "active_ma", "idle_ma"):
        if key in pw:
            positive(pw[key], f"power.{key}", src, allow_zero=True)
    power = Power(pw["model"], float(pw.get("supply_v", 0.0)), float(pw.get("active_ma", 0.0)),
                  float(pw.get("idle_ma", 0.0)), pw["source"])

    pf = check(top["perf"], _PERF, "perf", src)
    positive(pf["cycles_per_mac"], "perf.cycles_per_mac", src)
    perf = Perf(float(pf["cycles_per_mac"]), pf["source"])

    return BoardProfile(
        id=top["id"], name=top["name"], vendor=top["vendor"], kind=top["kind"], core=top["core"],
        arch=top["arch"], clock_hz=top["clock_hz"], clock_source=top["clock_source"], memory=memory, build=build,
        firmware=firmware, flash=flash, serial=serial, qemu=qemu, power=power, perf=perf,
        url=top.get("url", ""), notes=top.get("notes", ""), path=src,
    )
