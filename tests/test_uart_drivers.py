"""UART drivers of real chips (STM32 USART/LPUART, legacy STM32F1/F2/F4 USART, nRF UART): board-profile fields,
generated configuration, arm-none-eabi builds for the Nucleo and nRF52840 boards, and the legacy STM32 driver
proven end to end on QEMU's netduinoplus2 (STM32F405) through the same generate -> build -> bench/validate flow
as a real board."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import need_module, need_tool, shared_model

from edgekit.boards import BUILTIN_DIR, load_board, load_board_file
from edgekit.codegen.common import COMMON_DIR, UART_DRIVERS
from edgekit.errors import BoardError, UsageError

HELLO = "tflm_examples/hello_world_int8.tflite"
KWS = "mlperf_tiny/kws_ds_cnn_int8.tflite"
REAL = ("nucleo-l4r5zi", "nucleo-h7a3zi-q", "nrf52840dk", "nucleo-f446re")
STAND_IN = "qemu-stm32f405"


def _raw(board_id: str) -> dict[str, Any]:
    return yaml.safe_load(next(BUILTIN_DIR.rglob(f"{board_id}.yaml")).read_text(encoding="utf-8"))


def _load_variant(tmp_path: Path, base: str, **firmware: Any) -> Any:
    """Load a copy of ``base`` whose firmware section is updated with ``firmware`` (None deletes a key)."""
    raw = _raw(base)
    raw["id"] = "variant"
    for key, value in firmware.items():
        if value is None:
            raw["firmware"].pop(key, None)
        else:
            raw["firmware"][key] = value
    path = tmp_path / "acme" / "variant.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_board_file(path)


# ------------------------------------------------------------------ board profiles ----------------------

def test_real_boards_name_their_reset_clock_pins_and_clock_enables() -> None:
    l4, h7, nrf, f446, f405 = (load_board(b) for b in (*REAL, STAND_IN))
    # the reset clock (firmware_clock_hz): what the firmware runs at without (or when the set-up of) its clock module
    # (firmware.clock, tests/test_clock.py) fails; the timer and the baud divider follow the clock that runs
    assert (l4.firmware_clock_hz, l4.clock_hz) == (4_000_000, 120_000_000)
    assert (h7.firmware_clock_hz, h7.clock_hz) == (64_000_000, 280_000_000)
    assert (f446.firmware_clock_hz, f446.clock_hz) == (16_000_000, 180_000_000)
    assert nrf.firmware_clock_hz == nrf.clock_hz == 64_000_000
    assert f405.firmware_clock_hz == 168_000_000  # QEMU's fixed SYSCLK: no RCC to change it
    for b in (l4, h7, nrf, f446, f405):
        assert b.firmware.timer_hz == b.firmware_clock_hz
        assert b.firmware.uart in UART_DRIVERS and b.firmware.uart_pins is not None
    assert (l4.firmware.uart, h7.firmware.uart, nrf.firmware.uart, f446.firmware.uart, f405.firmware.uart) == (
        "stm32-lpuart", "stm32-usart", "nrf-uart", "stm32f4-usart", "stm32f4-usart")
    tx, rx = l4.firmware.uart_pins.tx, l4.firmware.uart_pins.rx
    assert (tx.gpio_base, tx.pin, tx.af, rx.pin) == (0x48001800, 7, 8, 8)  # PG7/PG8 AF8
    assert [e.what.split()[0] for e in l4.firmware.enable_bits] == [
        "RCC_APB1ENR1.PWREN", "PWR_CR2.IOSV", "RCC_AHB2ENR.GPIOGEN", "RCC_APB1ENR2.LPUART1EN"]
    assert (nrf.firmware.uart_pins.tx.pin, nrf.firmware.uart_pins.rx.pin) == (6, 8)
    assert f405.qemu is not None and f405.qemu.machine == "netduinoplus2" and f405.is_emulated


_PINS = {"tx": {"gpio_base": 0x40020000, "pin": 9, "af": 7}, "rx": {"gpio_base": 0x40020000, "pin": 10, "af": 7}}


@pytest.mark.parametrize(("firmware", "field", "says"), [
    ({"uart_pins": None}, "firmware.uart_pins", "required for firmware.uart 'stm32f4-usart'"),
    ({"uart_pins": {"tx": _PINS["tx"]}}, "firmware.uart_pins.rx", "required key is missing"),
    ({"uart_pins": {**_PINS, "tx": {"pin": 9, "af": 7}}}, "firmware.uart_pins.tx.gpio_base",
     "required for an STM32 UART pin"),
    ({"uart_pins": {**_PINS, "tx": {**_PINS["tx"], "pin": 16}}}, "firmware.uart_pins.tx.pin", "0-15"),
    ({"uart_pins": {**_PINS, "rx": {**_PINS["rx"], "af": 16}}}, "firmware.uart_pins.rx.af", "0-15"),
    ({"uart_pins": {**_PINS, "rx": {**_PINS["rx"], "gpio_base": 0x40020004}}}, "firmware.uart_pins.rx.gpio_base",
     "1 KB-aligned"),
    ({"uart_pins": {**_PINS, "tx": {**_PINS["tx"], "port": "A"}}}, "firmware.uart_pins.tx.port", "unknown key"),
    ({"enable_bits": [{"reg": 0x40023831, "bit": 0, "what": "x"}]}, "firmware.enable_bits[0].reg", "word-aligned"),
    ({"enable_bits": [{"reg": 0x40023830, "bit": 32, "what": "x"}]}, "firmware.enable_bits[0].bit", "0-31"),
    ({"enable_bits": [{"reg": 0x40023830, "bit": 1, "what": " "}]}, "firmware.enable_bits[0].what",
     "name the register"),
    ({"enable_bits": [{"reg": 0x40023830, "bit": 1}]}, "firmware.enable_bits[0].what", "required key is missing"),
    ({"enable_bits": {"reg": 1}}, "firmware.enable_bits", "expected list"),
    ({"core_clock_hz": 200_000_000}, "firmware.core_clock_hz", "above clock_hz"),
    ({"core_clock_hz": 0}, "firmware.core_clock_hz", "must be > 0"),
    ({"uart": "cmsdk"}, "firmware.uart_pins", "takes no pin configuration"),
    ({"uart": "stm32f5-usart"}, "firmware.uart", "is not one of"),
])
def test_invalid_uart_fields_name_file_and_field(tmp_path: Path, firmware: dict[str, Any], field: str,
                                                 says: str) -> None:
    with pytest.raises(BoardError) as err:
        _load_variant(tmp_path, STAND_IN, **firmware)
    assert err.value.message.startswith(f"{tmp_path / 'acme' / 'variant.yaml'}: {field}: ")
    assert says in err.value.message


@pytest.mark.parametrize(("pins", "field", "says"), [
    ({"tx": {"pin": 6, "af": 1}, "rx": {"pin": 8}}, "firmware.uart_pins.tx.af", "only a pin number"),
    ({"tx": {"pin": 6}, "rx": {"pin": 48}}, "firmware.uart_pins.rx.pin", "0-47"),
])
def test_nrf_pins_are_pin_numbers(tmp_path: Path, pins: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(BoardError, match=re.escape(f"{field}: ") + ".*" + re.escape(says)):
        _load_variant(tmp_path, "nrf52840dk", uart_pins=pins)
    assert _load_variant(tmp_path, "nrf52840dk", uart_pins={"tx": {"pin": 40}, "rx": {"pin": 8}}) \
        .firmware.uart_pins.tx.pin == 40  # P1.08


# ------------------------------------------------------------------ generated configuration -------------

def _fake_model_sources(m: Any, model_dir: Path, *_: Any, **__: Any) -> tuple[int, int, str]:
    """In place of the AOT code generator (``generate_aot(model_sources=)``): these tests look only at the firmware
    core and ek_config.h."""
    (model_dir / "ek_model.c").write_text("/* model */\n")
    return 0, 0, "fake"


@pytest.mark.parametrize(("board_id", "driver", "expect"), [
    ("nucleo-l4r5zi", "ek_uart_stm32.c", ["#define EK_CORE_CLOCK_HZ 4000000u", "#define EK_UART_LPUART 1",
                                          "#define EK_TIMER_HZ 4000000u", "#define EK_UART_TX_GPIO 0x48001800u",
                                          "#define EK_NUM_ENABLE_BITS 4",
                                          "{0x40021058u, 28u}, {0x40007004u, 9u}, {0x4002104Cu, 6u}"]),
    ("nucleo-h7a3zi-q", "ek_uart_stm32.c", ["#define EK_CORE_CLOCK_HZ 64000000u", "#define EK_UART_LPUART 0",
                                            "#define EK_UART_RX_PIN 9u", "#define EK_UART_RX_AF 7u"]),
    ("nrf52840dk", "ek_uart_nrf.c", ["#define EK_UART_BASE 0x40002000u", "#define EK_UART_TX_PIN 6u",
                                     "#define EK_NUM_ENABLE_BITS 0"]),
    (STAND_IN, "ek_uart_stm32f4.c", ["#define EK_CORE_CLOCK_HZ 168000000u", "#define EK_UART_BASE 0x40011000u",
                                     "#define EK_UART_TX_AF 7u", "#define EK_SEMIHOSTING 1"]),
])
def test_generate_picks_the_driver_and_writes_the_board_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              board_id: str, driver: str, expect: list[str]) -> None:
    from edgekit.codegen.project import generate_aot

    res = generate_aot(shared_model(HELLO), load_board(board_id), out_dir=tmp_path / "p",
                       model_sources=_fake_model_sources)
    uarts = sorted(f for f in res.files if Path(f).name.startswith("ek_uart_"))
    assert uarts == [f"src/{driver}"]
    config = (tmp_path / "p" / "src" / "ek_config.h").read_text()
    for line in expect:
        assert line in config, line
    assert "src/ek_hw.h" in res.files
    assert json.loads((tmp_path / "p" / "edgekit_project.json").read_text())["firmware"]["uart"] == \
        load_board(board_id).firmware.uart


def test_generate_refuses_a_uart_without_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.codegen.project import generate_aot

    board = _load_variant(tmp_path, "nrf52840dk", uart="nrf-uarte")
    with pytest.raises(UsageError, match=r"firmware.uart 'nrf-uarte' has no driver.*stm32f4-usart"):
        generate_aot(shared_model(HELLO), board, out_dir=tmp_path / "p", model_sources=_fake_model_sources)
    assert not (tmp_path / "p").exists()


def _macro(source: str, name: str) -> str:
    """The body of ``#define NAME ...`` or of the one-argument ``#define NAME(clk) ...`` (with ``clk`` -> CLK)."""
    m = re.search(rf"^#define {name}(\(clk\))? (.+)$", (COMMON_DIR / source).read_text(), re.MULTILINE)
    assert m, f"{source}: no #define {name}"
    return m.group(2).replace("(clk)", "(CLK)")


def test_baud_register_values_match_the_reference_manuals(tmp_path: Path) -> None:
    """The drivers' divider macros, compiled on the host: nRF BAUDRATE constants as Nordic lists them, the STM32
    dividers (computed at run time from the clock that runs, 32-bit arithmetic only) rounded to the nearest integer
    (LPUART: 256 x f_ck / baud), at reset clocks and at the clock modules' bus clocks (45, 84, 120, 140 MHz)."""
    cc = need_tool("gcc")
    prog = tmp_path / "baud.c"
    prog.write_text(
        "#include <stdint.h>\n#include <stdio.h>\n"
        "#define EK_UART_CLOCK_HZ CLK\n"
        f"#define NRF {_macro('ek_uart_nrf.c', 'BAUD_REG')}\n"
        "#define EK_UART_LPUART 1\n"
        f"#define LP {_macro('ek_uart_stm32.c', 'DIVIDER')}\n"
        f"#define F4 {_macro('ek_uart_stm32f4.c', 'DIVIDER')}\n"
        "int main(void) { printf(\"%08X %u %u\\n\", NRF, LP, F4); return 0; }\n")
    cases = {(9600, 16_000_000): "00275000", (115200, 16_000_000): "01D7E000", (1_000_000, 16_000_000): "10000000",
             (115200, 4_000_000): None, (115200, 168_000_000): None, (115200, 120_000_000): None,
             (115200, 140_000_000): None, (115200, 45_000_000): None, (115200, 84_000_000): None,
             (9600, 280_000_000): None, (3_000_000, 64_000_000): None}
    for (baud, clk), nrf in cases.items():
        exe = tmp_path / f"baud_{baud}_{clk}"
        subprocess.run([cc, "-std=c99", "-Wall", "-Werror", f"-DEK_UART_BAUD={baud}u", f"-DCLK={clk}u", str(prog),
                        "-o", str(exe)], check=True, capture_output=True)
        reg, lp, f4 = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
        if nrf is not None:
            assert reg == nrf
        assert int(lp) == round(256 * clk / baud)
        assert int(f4) == round(clk / baud)


# ------------------------------------------------------------------ real-board builds -------------------

def _loads_in_regions(elf: Path, board: Any) -> list[tuple[int, int, int]]:
    """Every PT_LOAD segment (paddr, vaddr, memsz), after checking that its load address is in a flash region and
    its run address in a flash or RAM region of ``board``."""
    from elftools.elf.elffile import ELFFile

    flash = [r for r in board.memory.regions if r.kind == "flash"]
    anywhere = list(board.memory.regions)

    def inside(addr: int, size: int, regions: list[Any]) -> bool:
        return any(r.origin <= addr and addr + size <= r.origin + r.size_kb * 1024 for r in regions)

    loads = []
    with elf.open("rb") as f:
        e = ELFFile(f)
        assert e["e_machine"] == "EM_ARM"
        assert inside(e["e_entry"] & ~1, 2, flash), f"entry {e['e_entry']:#x} outside flash"
        for seg in e.iter_segments():
            if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                continue
            paddr, vaddr, filesz, memsz = seg["p_paddr"], seg["p_vaddr"], seg["p_filesz"], seg["p_memsz"]
            if filesz:
                assert inside(paddr, filesz, flash), f"{elf.name}: load address {paddr:#x} outside flash"
            assert inside(vaddr, memsz, anywhere), f"{elf.name}: segment {vaddr:#x}+{memsz} outside the memory map"
            loads.append((paddr, vaddr, memsz))
    return loads


@pytest.mark.toolchain
@pytest.mark.parametrize("board_id", [*REAL, STAND_IN])
def test_real_boards_build_an_edgekit_runtime_elf(tmp_path: Path, board_id: str) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    from edgekit.buildsys import build
    from edgekit.generation import generate

    board = load_board(board_id)
    generate(shared_model(HELLO), board=board_id, out_dir=tmp_path / "p")
    cmake = (tmp_path / "p" / "CMakeLists.txt").read_text()
    assert "-Wall -Wextra -Werror" in cmake
    res = build(tmp_path / "p")
    assert res.fits and res.board == board_id
    loads = _loads_in_regions(res.elf, board)
    flash, ram = board.memory.region("flash"), board.memory.region("ram")
    assert any(p == flash.origin for p, _, _ in loads), "the vector table must sit at the start of flash"
    ram_end = ram.origin + ram.size_kb * 1024
    assert any(ram.origin <= v < ram_end for _, v, _ in loads), "stack, arena and .bss live in RAM"
    syms = subprocess.run([need_tool("arm-none-eabi-nm"), str(res.elf)], check=True, capture_output=True,
                          text=True).stdout
    assert re.search(r" T ek_uart_init$", syms, re.MULTILINE)


# ------------------------------------------------------------------ QEMU: the legacy STM32 driver --------

@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
def test_stm32f405_stand_in_runs_the_full_flow_bit_exact(tmp_path: Path) -> None:
    """generate -> build -> validate (outputs byte-identical with the TFLM host interpreter) -> bench, over the
    STM32F405's USART1 in QEMU; and the SysTick clock is what the profile says: the same model counts the same
    guest instructions here (168 MHz SysTick) as on mps2-an386 (25 MHz SysTick)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.benchmarking import bench
    from edgekit.cli import run
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    model = shared_model(KWS)
    project = tmp_path / "f405"
    assert run(["generate", str(model), "--board", STAND_IN, "-o", str(project)]) == 0
    assert run(["build", str(project)]) == 0
    m = load_model(model)
    inp = m.main.tensors[m.main.inputs[0]]
    xs = np.random.default_rng(405).integers(-128, 128, size=(3, *inp.shape), dtype=np.int8)
    res = validate(model, board=STAND_IN, inputs=xs, project_dir=project)
    assert res.inputs == 3 and res.byte_exact == 3 and res.max_abs_diff == 0 and res.ok, res.to_dict()
    assert res.to_dict()["transport"]["kind"] == "qemu"

    f405 = bench(project, runs=3, warmup=1).to_dict()
    assert f405["board"]["id"] == STAND_IN and f405["board"]["qemu"]["machine"] == "netduinoplus2"
    assert f405["timing"]["timer"] == {"kind": "systick", "hz": 168_000_000}
    assert f405["device"]["clock"] == {"core_hz": 168_000_000, "state": "fallback-hsi"}  # QEMU: no RCC
    assert len(set(f405["timing"]["ticks"])) == 1, "deterministic under -icount"

    from edgekit.buildsys import build
    from edgekit.generation import generate

    generate(model, board="qemu-cortex-m4", out_dir=tmp_path / "m4")
    build(tmp_path / "m4")
    m4 = bench(tmp_path / "m4", runs=2, warmup=1).to_dict()
    assert m4["output"]["hex"] == f405["output"]["hex"]
    per_tick = 1e9 / 168_000_000
    assert abs(f405["timing"]["count"]["median"] - m4["timing"]["count"]["median"]) <= 2 * per_tick + 40


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
def test_microbit_stand_in_proves_the_nrf_uart_driver(tmp_path: Path) -> None:
    """The nRF51's UART0 has the register map of the nRF52840's legacy UART: a Cortex-M0 with 16 KB of RAM runs a
    small model over it, outputs byte-identical with the TFLM host interpreter, timed by SysTick at 16 MHz."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    model = shared_model(HELLO)
    project = tmp_path / "mb"
    generate(model, board="qemu-microbit", out_dir=project)
    res = build(project)
    assert res.fits and res.ram_bytes <= 16 * 1024
    _loads_in_regions(res.elf, load_board("qemu-microbit"))
    m = load_model(model)
    inp = m.main.tensors[m.main.inputs[0]]
    xs = np.random.default_rng(51).integers(-128, 128, size=(4, *inp.shape), dtype=np.int8)
    val = validate(model, board="qemu-microbit", inputs=xs, project_dir=project)
    assert val.inputs == 4 and val.byte_exact == 4 and val.ok, val.to_dict()
    b = bench(project, runs=3, warmup=1).to_dict()
    assert b["timing"]["timer"] == {"kind": "systick", "hz": 16_000_000}
    assert len(set(b["timing"]["ticks"])) == 1 and b["timing"]["ticks"][0] > 0
