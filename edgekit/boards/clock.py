"""``firmware.clock``: the PLL set-up a board asks the firmware core to run at boot, checked against its chip family's
clock tree (``boards/families/<family>.yaml``: oscillators, divider ranges, PLL input and VCO windows, bus maxima,
MHz per flash wait state, regulator modes)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edgekit.boards.checks import Spec, check, choice
from edgekit.boards.families import clock_family, families, uarts_with_pins
from edgekit.boards.profile import ClockSetup
from edgekit.boards.yamlfile import show
from edgekit.errors import BoardError

# STM32 RCC prescalers (the same on the F4, L4 and H7 families)
AHB_DIVS = (1, 2, 4, 8, 16, 64, 128, 256, 512)
APB_DIVS = (1, 2, 4, 8, 16)

_CLOCK: Spec = {"family": (str, True), "sysclk_hz": (int, True), "pll_source": (str, True), "pll_m": (int, True),
                 "pll_n": (int, True), "pll_div": (int, True), "flash_wait_states": (int, True),
                 "regulator": (str, True), "uart_bus": (str, True), "ahb_div": (int, False),
                 "apb1_div": (int, False), "apb2_div": (int, False), "supply": (str, False), "source": (str, True)}


def clock_families() -> list[str]:
    """Families whose clock tree the firmware core can set up (``ek_clock_<family>.c``)."""
    return [name for name, fam in families().items() if fam.clock is not None]


def clock_setup(fw: dict[str, Any], clock_hz: int, src: Path) -> ClockSetup:
    """Validate firmware.clock: the PLL arithmetic, the family's divider/VCO/bus limits, wait states, regulator."""
    c = check(fw["clock"], _CLOCK, "firmware.clock", src)
    w = "firmware.clock"
    fam = choice(c["family"], tuple(clock_families()), f"{w}.family", src)
    lim = clock_family(fam).clock
    if fw.get("uart") not in uarts_with_pins("stm32"):
        raise BoardError(f"{src}: {w}: a clock module needs an STM32 UART (firmware.uart is "
                         f"{show(fw.get('uart', 'cmsdk'))}): its divider follows the clock at run time",
                         hint="firmware.uart: one of " + ", ".join(uarts_with_pins("stm32")))
    choice(c["pll_source"], tuple(lim["oscillators"]), f"{w}.pll_source", src)
    choice(c["regulator"], tuple(lim["regulators"]), f"{w}.regulator", src)
    choice(c["uart_bus"], ("apb1", "apb2"), f"{w}.uart_bus", src)
    choice(c.get("supply", ""), lim["supplies"], f"{w}.supply", src)
    for key, (lo, hi) in (("pll_m", lim["m"]), ("pll_n", lim["n"])):
        if not lo <= c[key] <= hi:
            raise BoardError(f"{src}: {w}.{key}: {show(c[key])} is outside {lo}..{hi} for {fam}")
    if c["pll_div"] not in lim["div"]:
        shown = ", ".join(map(str, lim["div"])) if len(lim["div"]) < 8 else "even numbers 2..128"
        raise BoardError(f"{src}: {w}.pll_div: {show(c['pll_div'])} is not a {fam} PLL output divider ({shown})")
    for key, choices in (("ahb_div", AHB_DIVS), ("apb1_div", APB_DIVS), ("apb2_div", APB_DIVS)):
        if c.get(key, 1) not in choices:
            raise BoardError(f"{src}: {w}.{key}: {show(c[key])} is not one of {', '.join(map(str, choices))}")
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
        raise BoardError(f"{src}: {w}.sysclk_hz: {show(c['sysclk_hz'])} but the PLL gives {made:.0f} Hz "
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
        raise BoardError(f"{src}: {w}.flash_wait_states: {show(clk.flash_wait_states)} is not in {need_ws}..15 "
                         f"(HCLK {clk.hclk_hz / 1e6:g} MHz needs at least {need_ws} on {fam})")
    if not clk.source.strip():
        raise BoardError(f"{src}: {w}.source: say where the PLL and wait-state figures come from")
    return clk
