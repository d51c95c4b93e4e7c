"""Clock set-up to a board's full speed (firmware.clock, ek_clock_<family>.c): the profile schema and its PLL
arithmetic, the generated configuration, the modules run on the host against a simulated RCC/PWR/FLASH (every
step's timeout and the fallback to the reset clock), arm-none-eabi builds with -Wall -Wextra -Werror, the reported
clock parsed and used by the harness, and QEMU's netduinoplus2 (no RCC) timing out and reporting its reset clock."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import need_module, need_tool, shared_model

from edgekit.boards import BUILTIN_DIR, load_board, load_board_file
from edgekit.codegen.common import CLOCK_DRIVERS
from edgekit.errors import BoardError

HELLO = "tflm_examples/hello_world_int8.tflite"
STAND_IN = "qemu-stm32f405"
FULL_SPEED = {"nucleo-l4r5zi": ("stm32l4", 120_000_000, 4_000_000, 120_000_000),
              "nucleo-h7a3zi-q": ("stm32h7", 280_000_000, 64_000_000, 140_000_000),
              "nucleo-f446re": ("stm32f4", 180_000_000, 16_000_000, 45_000_000),
              STAND_IN: ("stm32f4", 168_000_000, 168_000_000, 84_000_000)}


def _variant(tmp_path: Path, base: str, **clock: Any) -> Path:
    """A copy of ``base`` whose firmware.clock is updated with ``clock`` (None deletes a key)."""
    raw = yaml.safe_load(next(BUILTIN_DIR.rglob(f"{base}.yaml")).read_text(encoding="utf-8"))
    raw["id"] = "variant"
    for key, value in clock.items():
        if value is None:
            raw["firmware"]["clock"].pop(key, None)
        else:
            raw["firmware"]["clock"][key] = value
    path = tmp_path / "acme" / "variant.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------ profiles ----------------------------

def test_boards_run_at_full_speed_and_keep_their_reset_clock_as_fallback() -> None:
    for board_id, (family, sysclk, reset, uart) in FULL_SPEED.items():
        b = load_board(board_id)
        clk = b.firmware.clock
        assert clk is not None and clk.family == family
        assert clk.sysclk_hz == clk.core_hz == b.clock_hz == sysclk  # the part's maximum
        assert b.firmware_clock_hz == reset  # the fallback: the clock the firmware runs at without the PLL
        assert clk.uart_hz == uart
        assert clk.vco_hz / clk.pll_div == sysclk
    assert load_board("nrf52840dk").firmware.clock is None


@pytest.mark.parametrize(("base", "clock", "field", "says"), [
    ("nucleo-l4r5zi", {"family": "stm32g4"}, "firmware.clock.family", "is not one of"),
    ("nucleo-l4r5zi", {"pll_n": 61}, "firmware.clock.sysclk_hz", "the PLL gives 122000000 Hz"),
    ("nucleo-l4r5zi", {"pll_m": 1, "pll_n": 15}, "firmware.clock.pll_m", "PLL input 16 MHz is outside 4-8 MHz"),
    ("nucleo-l4r5zi", {"pll_m": 2, "pll_n": 45, "pll_div": 6}, "firmware.clock.pll_n", "VCO 360 MHz is outside"),
    ("nucleo-l4r5zi", {"pll_div": 3}, "firmware.clock.pll_div", "is not a stm32l4 PLL output divider"),
    ("nucleo-l4r5zi", {"regulator": "range1"}, "firmware.clock.regulator", "at most 80 MHz"),
    ("nucleo-l4r5zi", {"flash_wait_states": 4}, "firmware.clock.flash_wait_states", "needs at least 5"),
    ("nucleo-l4r5zi", {"pll_source": "hse"}, "firmware.clock.pll_source", "is not one of: hsi, msi"),
    ("nucleo-l4r5zi", {"ahb_div": 32}, "firmware.clock.ahb_div", "is not one of"),
    ("nucleo-l4r5zi", {"source": " "}, "firmware.clock.source", "say where"),
    ("nucleo-l4r5zi", {"source": None}, "firmware.clock.source", "required key is missing"),
    ("nucleo-l4r5zi", {"pll_q": 7}, "firmware.clock.pll_q", "unknown key"),
    ("nucleo-l4r5zi", {"sysclk_mhz": 120}, "firmware.clock.sysclk_mhz", "unknown key"),
    ("nucleo-f446re", {"apb1_div": 2}, "firmware.clock.apb1_div", "APB1 would run at 90 MHz, above 45 MHz"),
    ("nucleo-f446re", {"regulator": "scale1"}, "firmware.clock.regulator", "use regulator: overdrive"),
    ("nucleo-f446re", {"pll_n": 192}, "firmware.clock.sysclk_hz", "the PLL gives 192000000 Hz"),
    ("nucleo-f446re", {"pll_n": 192, "sysclk_hz": 192_000_000}, "firmware.clock.sysclk_hz", "above clock_hz"),
    ("nucleo-h7a3zi-q", {"supply": None}, "firmware.clock.supply", "is not one of: direct-smps, ldo"),
    ("nucleo-h7a3zi-q", {"pll_div": 3}, "firmware.clock.pll_div", "even numbers 2..128"),
    ("nucleo-h7a3zi-q", {"pll_m": 64}, "firmware.clock.pll_m", "outside 1..63"),
    ("nucleo-h7a3zi-q", {"sysclk_hz": "280 MHz"}, "firmware.clock.sysclk_hz", "expected integer"),
])
def test_invalid_clock_fields_name_file_and_field(tmp_path: Path, base: str, clock: dict[str, Any], field: str,
                                                  says: str) -> None:
    path = _variant(tmp_path, base, **clock)
    with pytest.raises(BoardError) as err:
        load_board_file(path)
    assert err.value.message.startswith(f"{path}: {field}: "), err.value.message
    text = f"{err.value.message} (hint: {err.value.hint})"
    assert says in text, text


def test_a_clock_module_needs_an_stm32_uart(tmp_path: Path) -> None:
    raw = yaml.safe_load(next(BUILTIN_DIR.rglob(f"{STAND_IN}.yaml")).read_text(encoding="utf-8"))
    raw["id"] = "variant"
    raw["firmware"]["uart"] = "cmsdk"
    raw["firmware"].pop("uart_pins")
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(BoardError, match=r"variant.yaml: firmware.clock: a clock module needs an STM32 UART"):
        load_board_file(path)


# ------------------------------------------------------------------ generated configuration -------------

def _generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: Any) -> Path:
    """Generate a project without the AOT code generator; returns its src/ directory."""
    from edgekit.codegen.project import generate_aot

    def fake(m: Any, model_dir: Path, *_: Any, **__: Any) -> tuple[int, int, str]:
        (model_dir / "ek_model.c").write_text("/* model */\n")
        return 0, 0, "fake"

    out = tmp_path / "p"
    generate_aot(shared_model(HELLO), load_board(board), out_dir=out, model_sources=fake)
    return out / "src"


def test_generate_copies_one_clock_module_and_its_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _generate(tmp_path, monkeypatch, "nucleo-l4r5zi")
    assert sorted(p.name for p in src.glob("ek_clock*")) == ["ek_clock.c", "ek_clock.h", "ek_clock_stm32l4.c"]
    config = (src / "ek_config.h").read_text()
    for line in ("#define EK_CLOCK 1", "#define EK_CLOCK_CORE_HZ 120000000u", "#define EK_CLOCK_UART_HZ 120000000u",
                 "#define EK_CLOCK_PLL_M 4u", "#define EK_CLOCK_PLL_N 60u", "#define EK_CLOCK_PLL_DIV 2u",
                 "#define EK_CLOCK_FLASH_WS 5u", "#define EK_CLOCK_REG_BOOST 1", "#define EK_CLOCK_PLL_SRC_MSI 0",
                 "#define EK_CORE_CLOCK_HZ 4000000u", "#define EK_UART_CLOCK_HZ 4000000u"):
        assert line in config, line


def test_a_board_without_clock_module_gets_the_reset_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _generate(tmp_path, monkeypatch, "qemu-cortex-m4")
    assert sorted(p.name for p in src.glob("ek_clock*")) == ["ek_clock.c", "ek_clock.h", "ek_clock_reset.c"]
    config = (src / "ek_config.h").read_text()
    assert "#define EK_CLOCK 0" in config and "EK_CLOCK_CORE_HZ" not in config


# ------------------------------------------------------------------ the modules on a simulated chip -----

# Per family: reset values, and the rules by which the simulated chip answers: ("ready", ctrl addr, ctrl mask,
# status addr, status mask) sets the status bit while (ctrl & mask) == mask; ("copy", src, mask, shift, dst) mirrors
# a switch field into its status field (SW -> SWS). A rule can be broken to make its step time out.
_SIM = {
    "stm32f4": {"reset": {0x40023800: 0x81}, "rules": {
        "hsi": ("ready", 0x40023800, 1 << 0, 0x40023800, 1 << 1),
        "pll": ("ready", 0x40023800, 1 << 24, 0x40023800, 1 << 25),
        "vos": ("ready", 0x40023800, 1 << 24, 0x40007004, 1 << 14),
        "overdrive": ("ready", 0x40007000, 1 << 16, 0x40007004, 1 << 16),
        "overdrive-switch": ("ready", 0x40007000, 1 << 17, 0x40007004, 1 << 17),
        "switch": ("copy", 0x40023808, 0x3, 2, 0x40023808)},
        "cfgr": 0x40023808, "sw_mask": 0x3, "sw_pll": 0x2, "acr": 0x40023C00, "cr": 0x40023800, "pllon": 1 << 24},
    "stm32l4": {"reset": {0x40021000: 0x63, 0x40007000: 1 << 9, 0x40007080: 1 << 8}, "rules": {
        "osc": ("ready", 0x40021000, 1 << 8, 0x40021000, 1 << 10),
        "pll": ("ready", 0x40021000, 1 << 24, 0x40021000, 1 << 25),
        "switch": ("copy", 0x40021008, 0x3, 2, 0x40021008)},
        "cfgr": 0x40021008, "sw_mask": 0x3, "sw_pll": 0x3, "acr": 0x40022000, "cr": 0x40021000, "pllon": 1 << 24},
    "stm32h7": {"reset": {0x58024400: 0x1, 0x52002000: 0x13}, "rules": {
        "hsi": ("ready", 0x58024400, 1 << 0, 0x58024400, 1 << 2),
        "supply": ("ready", 0x5802480C, 1 << 2, 0x58024804, 1 << 13),
        "vos": ("ready", 0x58024818, 3 << 14, 0x58024818, 1 << 13),
        "pll": ("ready", 0x58024400, 1 << 24, 0x58024400, 1 << 25),
        "switch": ("copy", 0x58024410, 0x7, 3, 0x58024410)},
        "cfgr": 0x58024410, "sw_mask": 0x7, "sw_pll": 0x3, "acr": 0x52002000, "cr": 0x58024400, "pllon": 1 << 24},
}

_SHIM = """#ifndef EK_REGS_H
#define EK_REGS_H
#include <stdint.h>
volatile uint32_t *ek_fake_reg(uint32_t addr);
#define EK_REG32(addr) (*ek_fake_reg((uint32_t)(addr)))
#endif
"""

_HARNESS = """#include <stdint.h>
#include <stdio.h>
#include "ek_clock.h"
#define NREG 64
static uint32_t addr[NREG], val[NREG];
static int nreg;
struct rule { int copy; uint32_t a, mask, b, bits; };
static const struct rule rules[] = { RULES };
static uint32_t *slot(uint32_t a) {
    for (int i = 0; i < nreg; i++) {
        if (addr[i] == a) {
            return &val[i];
        }
    }
    addr[nreg] = a;
    val[nreg] = 0;
    return &val[nreg++];
}
volatile uint32_t *ek_fake_reg(uint32_t a) {
    for (unsigned i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *r = &rules[i];
        if (r->copy) { /* SWS = SW << shift (b = shift) */
            uint32_t *p = slot(r->a);
            *p = (*p & ~(r->mask << r->b)) | ((*p & r->mask) << r->b);
        } else if ((*slot(r->a) & r->mask) == r->mask) {
            *slot(r->b) |= r->bits;
        } else {
            *slot(r->b) &= ~r->bits;
        }
    }
    return slot(a);
}
int main(void) {
    RESET
    ek_clock_init();
    printf("%u %u %s", ek_clock_core_hz(), ek_clock_uart_hz(), ek_clock_state());
    for (int i = 0; i < nreg; i++) {
        printf(" %08x=%08x", addr[i], val[i]);
    }
    printf("\\n");
    return 0;
}
"""


def _simulate(tmp_path: Path, src: Path, family: str, broken: str | None) -> tuple[int, int, str, dict[int, int]]:
    """Build the board's clock module on the host against the simulated chip, run it, return what it reports."""
    cc = need_tool("gcc")
    sim = _SIM[family]
    work = tmp_path / f"sim-{broken}"
    work.mkdir()
    for name in ("ek_clock.c", "ek_clock.h", CLOCK_DRIVERS[family], "ek_hw.h", "ek_config.h"):
        shutil.copyfile(src / name, work / name)
    (work / "ek_regs.h").write_text(_SHIM)
    rules = []
    for step, (kind, a, mask, b, bits) in sim["rules"].items():
        if step != broken:
            rules.append(f"{{{int(kind == 'copy')}, {a:#x}u, {mask:#x}u, {b:#x}u, {bits:#x}u}}")
    reset = " ".join(f"*ek_fake_reg({a:#x}u) = {v:#x}u;" for a, v in sim["reset"].items())
    (work / "sim.c").write_text(_HARNESS.replace("RULES", ", ".join(rules)).replace("RESET", reset))
    exe = work / "sim"
    subprocess.run([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-I", str(work), str(work / "sim.c"),
                    str(work / "ek_clock.c"), str(work / CLOCK_DRIVERS[family]), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    regs = {int(a, 16): int(v, 16) for a, v in (x.split("=") for x in out[3:])}
    return int(out[0]), int(out[1]), out[2], regs


@pytest.mark.parametrize("board_id", ["nucleo-l4r5zi", "nucleo-h7a3zi-q", "nucleo-f446re"])
def test_clock_modules_switch_or_fall_back_at_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         board_id: str) -> None:
    board = load_board(board_id)
    clk = board.firmware.clock
    sim = _SIM[clk.family]
    src = _generate(tmp_path, monkeypatch, board_id)

    core, uart, state, regs = _simulate(tmp_path, src, clk.family, None)
    assert (core, uart, state) == (clk.core_hz, clk.uart_hz, "pll")
    assert regs[sim["cfgr"]] & sim["sw_mask"] == sim["sw_pll"]  # SYSCLK = PLL (F4 10, L4 11, H7 011)
    assert regs[sim["acr"]] & 0xF == clk.flash_wait_states
    if clk.family == "stm32l4":  # PLLM = M - 1 at 7:4, PLLN at 14:8, PLLR = R/2 - 1 at 26:25, HSI16 source
        assert (regs[0x4002100C] >> 4 & 0xF, regs[0x4002100C] >> 8 & 0x7F, regs[0x4002100C] & 3) == (3, 60, 2)
        assert regs[0x40021008] >> 4 & 0xF == 0, "the AHB /2 transition step is undone after the switch"
        assert regs[0x40007080] & (1 << 8) == 0, "Range 1 boost (R1MODE = 0)"
    elif clk.family == "stm32h7":  # DIVM1 at 9:4, N - 1 at 8:0, P - 1 at 15:9, PLL1RGE 2-4 MHz (01)
        assert regs[0x58024428] >> 4 & 0x3F == 32 and regs[0x58024430] & 0x1FF == 279
        assert regs[0x58024430] >> 9 & 0x7F == 1 and regs[0x5802442C] >> 2 & 3 == 1
        assert regs[0x5802480C] & 7 == 4 and regs[0x58024818] >> 14 == 3  # direct SMPS, VOS0
    else:  # PLLM 5:0, PLLN 14:6, PLLP 17:16 = P/2 - 1, over-drive enabled and switched
        assert (regs[0x40023804] & 0x3F, regs[0x40023804] >> 6 & 0x1FF, regs[0x40023804] >> 16 & 3) == (8, 180, 0)
        assert regs[0x40007000] >> 16 & 3 == 3
        assert regs[0x40023808] >> 10 & 7 == 5 and regs[0x40023808] >> 13 & 7 == 4  # APB1 /4, APB2 /2

    for step in sim["rules"]:
        core, uart, state, regs = _simulate(tmp_path, src, clk.family, step)
        assert (core, uart) == (board.firmware_clock_hz, board.firmware_clock_hz), step  # the reset clock again
        assert state == f"fallback-{step.removesuffix('-switch')}", step
        assert regs[sim["cfgr"]] & sim["sw_mask"] == 0, f"{step}: SYSCLK back on the reset oscillator"
        if step not in ("hsi", "osc", "supply"):  # steps after the PLL was touched undo it
            assert regs[sim["cr"]] & sim["pllon"] == 0, step
            assert regs[sim["acr"]] == sim["reset"].get(sim["acr"], 0), f"{step}: flash wait states restored"


# ------------------------------------------------------------------ arm-none-eabi builds ---------------

@pytest.mark.toolchain
@pytest.mark.parametrize(("board_id", "variant"), [
    ("nucleo-l4r5zi", {}), ("nucleo-l4r5zi", {"pll_source": "msi", "pll_m": 1, "regulator": "boost"}),
    ("nucleo-h7a3zi-q", {}), ("nucleo-h7a3zi-q", {"supply": "ldo"}),
    ("nucleo-f446re", {}), (STAND_IN, {}),
])
def test_clock_modules_compile_for_their_cores_without_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                board_id: str, variant: dict[str, Any]) -> None:
    gcc = need_tool("arm-none-eabi-gcc")
    base = load_board(board_id)
    board = load_board_file(_variant(tmp_path, board_id, **variant)) if variant else base
    src = _generate(tmp_path, monkeypatch, board)
    family = board.firmware.clock.family
    uart = "ek_uart_stm32f4.c" if family == "stm32f4" else "ek_uart_stm32.c"

    def nm(name: str) -> str:
        return subprocess.run([need_tool("arm-none-eabi-nm"), str(tmp_path / f"{name}.o")], check=True,
                              capture_output=True, text=True).stdout

    for name in ("ek_clock.c", CLOCK_DRIVERS[family], "ek_port_mcu.c", "ek_timer.c", uart):
        subprocess.run([gcc, *board.build.cpu_flags, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-c",
                        str(src / name), "-o", str(tmp_path / f"{name}.o")], check=True, capture_output=True,
                       text=True)
    assert re.search(r" T ek_clock_setup$", nm(CLOCK_DRIVERS[family]), re.MULTILINE)
    assert re.search(r" U ek_clock_uart_hz$", nm(uart), re.MULTILINE), "the UART divider follows the running clock"
    assert "__aeabi_uldivmod" not in nm(uart), "the run-time baud divider uses 32-bit division only"


# ------------------------------------------------------------------ the harness uses the reported clock --

def test_the_reported_clock_is_parsed_and_used_for_microseconds() -> None:
    from edgekit.benchmarking import _timing, counting_rule
    from edgekit.transport.protocol import parse_info

    info = parse_info(["m-ek-inputs-[4]", "m-ek-outputs-[2]", "m-ek-timer-[dwt 120000000]",
                       "m-ek-clock-[120000000 pll]", "m-ek-board-[nucleo-l4r5zi]"])
    assert (info.core_hz, info.clock_state) == (120_000_000, "pll")
    assert info.to_dict()["clock"] == {"core_hz": 120_000_000, "state": "pll"}
    old = parse_info(["m-ek-inputs-[4]", "m-ek-outputs-[2]", "m-ek-timer-[dwt 4000000]"])
    assert (old.core_hz, old.clock_state) == (None, "")  # firmware without the line: the profile's clock is used

    l4 = load_board("nucleo-l4r5zi")
    at_pll = _timing(l4, [1_200_000], 120_000_000, "dwt", info.core_hz)
    assert at_pll["core_hz"] == 120_000_000 and at_pll["latency_us"]["median"] == pytest.approx(10_000.0)
    assert at_pll["count"]["median"] == 1_200_000  # DWT ticks are cycles
    at_reset = _timing(l4, [40_000], 4_000_000, "dwt", old.core_hz)
    assert at_reset["core_hz"] == 4_000_000 and at_reset["latency_us"]["median"] == pytest.approx(10_000.0)
    assert counting_rule(l4, 120_000_000, 120_000_000)[1] == 1.0
    assert counting_rule(l4, 4_000_000)[1] == 1.0


@pytest.mark.parametrize(("clock", "core_hz", "note"), [
    ((120_000_000, "pll"), 120_000_000, "reports its core at 120000000 Hz (pll)"),
    ((4_000_000, "fallback-pll"), 4_000_000, "clock set-up timed out (fallback-pll)"),
    (None, 4_000_000, None),
])
def test_bench_on_a_serial_device_uses_the_clock_it_reports(tmp_path: Path, clock: tuple[int, str] | None,
                                                              core_hz: int, note: str | None) -> None:
    """The whole host path (Link, Device.info, bench) against a fake NUCLEO-L4R5ZI on a socket: DWT ticks at the
    reported clock are converted to microseconds with it; without the line, the profile's reset clock is used."""
    from fake_device import FakeConfig, FakeDevice
    from test_bench import write_elf

    from edgekit.benchmarking import bench

    elf = write_elf(tmp_path / "fw.elf", [(".text", 1, 0x6, 0x0800_0000, 100), (".bss", 8, 0x3, 0x2000_0000, 64)])
    cfg = FakeConfig(ticks=(core_hz // 100,), timer=("dwt", core_hz), board="nucleo-l4r5zi", clock=clock)
    with FakeDevice(cfg) as dev:
        res = bench(elf, board="nucleo-l4r5zi", port=dev.url, log_dir=tmp_path, timeout=5, runs=2,
                    warmup=0).to_dict()
    t = res["timing"]
    assert t["basis"] == "cycles" and t["core_hz"] == core_hz
    assert t["count"]["median"] == core_hz // 100 and t["latency_us"]["median"] == pytest.approx(10_000.0)
    assert res["device"]["clock"] == ({"core_hz": clock[0], "state": clock[1]} if clock
                                      else {"core_hz": None, "state": None})
    assert any(note in n for n in res["notes"]) if note else not any("clock" in n for n in res["notes"])


# ------------------------------------------------------------------ QEMU: the timeout path ---------------

@pytest.mark.qemu
@pytest.mark.toolchain
def test_stm32f405_stand_in_times_out_without_rcc_and_reports_its_reset_clock(tmp_path: Path) -> None:
    """QEMU's netduinoplus2 has no RCC model (reads return 0): the F4 module's first bounded wait (HSIRDY) runs to
    its limit, the firmware keeps the clock the profile states (QEMU's fixed 168 MHz) and says so; the UART divider
    computed at run time for that clock still carries the whole protocol."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate

    board = load_board(STAND_IN)
    assert board.firmware.clock is not None and board.firmware.clock.family == "stm32f4"
    generate(shared_model(HELLO), board=STAND_IN, out_dir=tmp_path / "p")
    assert "#define EK_CLOCK 1" in (tmp_path / "p" / "src" / "ek_config.h").read_text()
    build(tmp_path / "p")
    res = bench(tmp_path / "p", runs=2, warmup=1).to_dict()
    assert res["device"]["clock"] == {"core_hz": 168_000_000, "state": "fallback-hsi"}
    assert res["timing"]["core_hz"] == 168_000_000 and res["timing"]["timer"]["hz"] == 168_000_000
    assert any("fallback-hsi" in n for n in res["notes"])
    log = Path(res["transport"]["qemu_log"]).read_text(errors="replace")
    probes = len(re.findall(r"^RCC: unimplemented device read +\(size 4, offset 0x000\)", log, re.MULTILINE))
    assert probes >= 1024, f"the HSIRDY wait polled RCC_CR {probes} times, expected its full limit (2^10)"
    assert "offset 0x004" not in "\n".join(line for line in log.splitlines() if line.startswith("RCC: ") and
                                            "write" in line), "no PLL set-up is attempted after the probe fails"
