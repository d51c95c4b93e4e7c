"""The energy-window GPIO (issue #5): pin syntax and validation, ek_config.h, the firmware's edges.

- ``edgekit.gpio.parse_pin``: families, register addresses (checked against the reference-manual layout written
  out by hand here), errors; board files with a bad pin name the file and the field.
- The host port built with the pin logs each edge: one high/low pair per timed inference, none for warm-ups,
  no timer reading inside a window, protocol output unchanged.
- Each family's C implementation compiles for its core with -Werror; the STM32 one runs on QEMU's
  netduinoplus2 (STM32F405), whose unimplemented RCC/GPIO blocks log every write with ``-d unimp``.
- ``edgekit bench`` on qemu-cortex-m4 with real AOT firmware: QEMU's own FPGAIO trace shows exactly N rising
  edges for N timed inferences and the pin low at the end; outputs and ticks equal a build without the pin,
  whose timed loop has exactly two instructions less (one store per edge).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO, need_tool, shared_model

from edgekit.boards import load_board, load_board_file
from edgekit.errors import BoardError
from edgekit.gpio import FAMILIES, edges, energy_gpio_report, parse_pin, qemu_levels, qemu_trace_args

COMMON = REPO / "firmware_templates" / "common"
HOST = REPO / "firmware_templates" / "host"
FIXTURE = REPO / "tests" / "fixtures" / "firmware"
HELLO = "tflm_examples/hello_world_int8.tflite"


# ------------------------------------------------------------------------------ syntax ---------------

@pytest.mark.parametrize(("text", "high", "low", "init"), [
    # STM32L4: GPIOF = 0x48000000 + 5 * 0x400, BSRR at +0x18; clock enable RCC_AHB2ENR bit 5
    ("stm32l4:PF13", (0x48001418, 1 << 13), (0x48001418, 1 << 29),
     {"EK_GPIO_STM32_RCC_ENR": 0x4002104C, "EK_GPIO_STM32_RCC_BIT": 1 << 5}),
    # STM32H7: GPIOG = 0x58020000 + 6 * 0x400; RCC_AHB4ENR = 0x58024400 + 0xE0, bit 6
    ("stm32h7:PG12", (0x58021818, 1 << 12), (0x58021818, 1 << 28),
     {"EK_GPIO_STM32_RCC_ENR": 0x580244E0, "EK_GPIO_STM32_RCC_BIT": 1 << 6}),
    # STM32F4: GPIOA = 0x40020000; RCC_AHB1ENR = 0x40023830, bit 0
    ("stm32f4:PA5", (0x40020018, 1 << 5), (0x40020018, 1 << 21),
     {"EK_GPIO_STM32_RCC_ENR": 0x40023830, "EK_GPIO_STM32_RCC_BIT": 1}),
    # nRF52 P1 at 0x50000300: OUTSET +0x508, OUTCLR +0x50C, DIRSET +0x518
    ("nrf52:P1.08", (0x50000808, 1 << 8), (0x5000080C, 1 << 8), {"EK_GPIO_NRF_DIRSET": 0x50000818}),
    ("nrf52:P0.31", (0x50000508, 1 << 31), (0x5000050C, 1 << 31), {"EK_GPIO_NRF_DIRSET": 0x50000518}),
    ("mps2-fpgaio:LED1", (0x40028000, 2), (0x40028000, 0), {}),
    ("mps3-fpgaio:LED0", (0x59302000, 1), (0x59302000, 0), {}),
])
def test_pin_registers(text: str, high: tuple[int, int], low: tuple[int, int], init: dict[str, int]) -> None:
    pin = parse_pin(text)
    assert (pin.high_addr, pin.high_value) == high and (pin.low_addr, pin.low_value) == low
    defines = dict(pin.defines())
    assert defines["EK_GPIO_ENERGY"] == "1"
    for name, value in init.items():
        assert int(defines[name].rstrip("u"), 16) == value


def test_mlperf_convention() -> None:
    pin = parse_pin("stm32l4:PF13:mlperf")
    assert (pin.convention, pin.windows_by, pin.pin) == ("mlperf", "edges", 13)
    defines = dict(pin.defines())
    assert defines["EK_GPIO_TIMESTAMP"] == "1" and defines["EK_GPIO_PULSE_US"] == "100u"
    assert parse_pin("stm32l4:PF13").windows_by == "levels"
    assert dict(parse_pin("stm32l4:PF13").defines())["EK_GPIO_TIMESTAMP"] == "0"


@pytest.mark.parametrize(("text", "fragment"), [
    ("PA5", "has no family"),
    ("stm32:PA5", "not a known GPIO family"),
    ("stm32l4:PJ1", "port A-I"),
    ("stm32l4:PA16", "P<port><0-15>"),
    ("stm32h7:pa5", "P<port><0-15>"),
    ("nrf52:P1.16", "P1.<0-15>"),
    ("nrf52:P2.1", "P0.<0-31>"),
    ("nrf52:P0.32", "P0.<0-31>"),
    ("mps2-fpgaio:LED2", "LED0 or LED1"),
    ("mps2-fpgaio:", "LED0 or LED1"),
    ("stm32l4:PF13:edges", "not a pin convention"),
])
def test_bad_pins_say_what_is_expected(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_pin(text)


@pytest.mark.parametrize("pin", ["PA5", "stm32l4:PZ1", "nrf52:P1.99"])
def test_board_file_with_bad_pin_names_file_and_field(tmp_path: Path, pin: str) -> None:
    raw = yaml.safe_load((REPO / "boards" / "qemu" / "qemu-cortex-m4.yaml").read_text())
    raw["firmware"]["gpio_energy_pin"] = pin
    path = tmp_path / "qemu-cortex-m4.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(BoardError) as exc:
        load_board_file(path)
    assert str(exc.value).startswith(f"{path}: firmware.gpio_energy_pin: ")
    assert exc.value.hint and "docs/hardware.md" in exc.value.hint


def test_shipped_pins() -> None:
    expected = {"nucleo-l4r5zi": "stm32l4:PF13", "nucleo-h7a3zi-q": "stm32h7:PG12", "nrf52840dk": "nrf52:P1.08",
                "qemu-cortex-m3": "mps2-fpgaio:LED0", "qemu-cortex-m4": "mps2-fpgaio:LED0",
                "qemu-cortex-m7": "mps2-fpgaio:LED0", "qemu-cortex-m33": "mps2-an505-fpgaio:LED0",
                "qemu-cortex-m55": "mps3-fpgaio:LED0"}
    for board_id, pin in expected.items():
        b = load_board(board_id)
        assert b.firmware.gpio_energy_pin == pin and b.firmware.energy_pin.text == pin
        if not b.is_emulated:  # a real board's pin carries its source in the notes
            assert "Energy GPIO:" in b.notes and "D7" in b.notes
    assert set(FAMILIES) >= {p.split(":")[0] for p in expected.values()}


def test_qemu_trace_args_and_levels() -> None:
    assert qemu_trace_args(load_board("qemu-cortex-m4")) == ("-d", "trace:mps2_fpgaio_write")
    assert qemu_trace_args(load_board("nucleo-l4r5zi")) == ("-d", "unimp")  # as if it ran on netduinoplus2
    assert qemu_trace_args(load_board("nrf52840dk")) == ()
    log = ("mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x0 size 4\n"
           "mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x2 size 4\n"
           "mps2_fpgaio_write MPS2 FPGAIO write: offset 0x4 data 0x1 size 4\n"  # another register: ignored
           "mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x0 size 4\n")
    assert qemu_levels(log, parse_pin("mps2-fpgaio:LED1")) == [0, 1, 0]
    assert qemu_levels(log, parse_pin("mps2-fpgaio:LED0")) == [0, 0, 0]
    assert edges([0, 1, 0, 1, 1, 0]) == {"writes": 6, "rising_edges": 2, "falling_edges": 2, "level_at_end": 0}
    assert energy_gpio_report(load_board("rpi4")) is None


def test_config_header_carries_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.codegen.project import generate_aot

    def fake(m: object, model_dir: Path, *_: object, **__: object) -> tuple[int, int, str]:
        shutil.copyfile(FIXTURE / "ek_model.h", model_dir / "ek_model.h")
        shutil.copyfile(FIXTURE / "ek_model.c", model_dir / "ek_model.c")
        return 512, 0, "fixture"

    model = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    generate_aot(model, load_board("qemu-cortex-m4"), out_dir=tmp_path / "on", model_sources=fake)
    config = (tmp_path / "on" / "src" / "ek_config.h").read_text()
    assert "#define EK_GPIO_ENERGY 1\n" in config and "#define EK_GPIO_HIGH_ADDR 0x40028000u\n" in config
    boards = tmp_path / "boards"
    boards.mkdir()
    src = (REPO / "boards" / "qemu" / "qemu-cortex-m4.yaml").read_text()
    (boards / "qemu-cortex-m4.yaml").write_text("\n".join(ln for ln in src.splitlines() if "gpio_energy" not in ln))
    generate_aot(model, load_board("qemu-cortex-m4", [boards]), out_dir=tmp_path / "off", model_sources=fake)
    config = (tmp_path / "off" / "src" / "ek_config.h").read_text()
    assert "#define EK_GPIO_ENERGY 0\n" in config and "EK_GPIO_HIGH_ADDR" not in config


# ------------------------------------------------------------------------------ host port --------------

def _host(tmp_path: Path, name: str, *defines: str) -> Path:
    gcc = need_tool("gcc")
    exe = tmp_path / name
    argv = [gcc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all", *defines, f"-I{FIXTURE}", f"-I{COMMON}", str(COMMON / "ek_protocol.c"),
            str(HOST / "ek_port_host.c"), str(HOST / "ek_host_main.c"), str(FIXTURE / "ek_model.c"), "-o", str(exe)]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return exe


def test_host_port_logs_one_window_per_timed_inference(tmp_path: Path) -> None:
    stream = b"db load 4%db 01020304%infer 5 3%infer 2%ek-laps%"
    on = _host(tmp_path, "on", "-DEK_GPIO_ENERGY=1")
    with_pin = subprocess.run([str(on)], input=stream, capture_output=True, check=True, timeout=60,
                              env={**os.environ, "EK_GPIO_LOG": "1"})
    quiet = subprocess.run([str(on)], input=stream, capture_output=True, check=True, timeout=60,
                           env={k: v for k, v in os.environ.items() if k != "EK_GPIO_LOG"})
    without = subprocess.run([str(_host(tmp_path, "off"))], input=stream, capture_output=True, check=True,
                             timeout=60, env={**os.environ, "EK_GPIO_LOG": "1"})
    assert with_pin.stdout == without.stdout == quiet.stdout  # the protocol does not change
    assert without.stderr == b"" and quiet.stderr == b""  # logged only with a pin and EK_GPIO_LOG set
    log = with_pin.stderr.decode().splitlines()
    assert log[0] == "ek-gpio-energy-init ticks=0"
    events = [re.fullmatch(r"ek-gpio-energy-(high|low) ticks=(\d+)", ln) for ln in log[1:]]
    assert all(events)
    kinds = [m.group(1) for m in events if m]
    assert kinds == ["high", "low"] * 7  # 5 + 2 timed inferences; the 3 warm-ups are not marked
    ticks = [int(m.group(2)) for m in events if m]
    # the fake timer advances on every reading: equal ticks at both edges = no timer reading inside the window
    assert all(ticks[i] == ticks[i + 1] for i in range(0, len(ticks), 2))
    assert all(ticks[i] < ticks[i + 2] for i in range(0, len(ticks) - 2, 2))


def test_host_port_mlperf_timestamps(tmp_path: Path) -> None:
    exe = _host(tmp_path, "ts", "-DEK_GPIO_ENERGY=1", "-DEK_GPIO_TIMESTAMP=1")
    res = subprocess.run([str(exe)], input=b"db load 4%db 01020304%infer 5 3%infer 2%", capture_output=True,
                         check=True, timeout=60, env={**os.environ, "EK_GPIO_LOG": "1"})
    kinds = [ln.split()[0].removeprefix("ek-gpio-energy-") for ln in res.stderr.decode().splitlines()]
    # idle high; one falling-edge pulse before and one after each timed loop, nothing per inference
    assert kinds == ["init"] + ["low", "high", "low", "high"] * 2


# ------------------------------------------------------------------------------ MCU implementations ----

_CORES = {"stm32": "cortex-m4", "nrf": "cortex-m4", "fpgaio": "cortex-m3"}


@pytest.mark.toolchain
@pytest.mark.parametrize("text", ["stm32l4:PF13", "stm32h7:PG12", "stm32f4:PA5", "nrf52:P1.08", "mps2-fpgaio:LED0",
                                  "mps3-fpgaio:LED1"])
def test_family_sources_compile(tmp_path: Path, text: str) -> None:
    gcc = need_tool("arm-none-eabi-gcc")
    pin = parse_pin(text)
    (tmp_path / "ek_config.h").write_text("".join(f"#define {n} {v}\n" for n, v in pin.defines()))
    for src in sorted(COMMON.glob("ek_gpio_*.c")):
        res = subprocess.run([gcc, f"-mcpu={_CORES[pin.kind]}", "-mthumb", "-std=c99", "-O2", "-Wall", "-Wextra",
                              "-Werror", f"-I{tmp_path}", f"-I{COMMON}", "-c", str(src), "-o",
                              str(tmp_path / (src.stem + ".o"))], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stderr
        nm = subprocess.run([gcc.replace("gcc", "nm"), str(tmp_path / (src.stem + ".o"))], capture_output=True,
                            text=True, check=True).stdout
        assert ("ek_gpio_init" in nm) == (src.stem == f"ek_gpio_{pin.kind}")  # only the board's family is built


_STM32_MAIN = r"""
#include <stdint.h>
#include "ek_gpio.h"
extern uint32_t _estack;
static void semihost_exit(void) {
    static const uint32_t block[2] = {0x20026u, 0u};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register const uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}
void reset(void) {
    ek_gpio_init();
    for (int i = 0; i < 3; i++) {
        ek_gpio_energy_high();
        ek_gpio_energy_low();
    }
    semihost_exit();
    for (;;) {
    }
}
__attribute__((section(".vectors"), used)) static const void *vectors[2] = {(void *)0x20001000u, (void *)reset};
"""


@pytest.mark.toolchain
@pytest.mark.qemu
def test_stm32_driver_on_netduinoplus2(tmp_path: Path) -> None:
    gcc = need_tool("arm-none-eabi-gcc")
    qemu = need_tool("qemu-system-arm")
    pin = parse_pin("stm32f4:PC7")  # port C: clock bit 2, MODER bits 14-15
    (tmp_path / "ek_config.h").write_text("".join(f"#define {n} {v}\n" for n, v in pin.defines()))
    (tmp_path / "main.c").write_text(_STM32_MAIN)
    (tmp_path / "link.ld").write_text("SECTIONS { .text 0x08000000 : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } "
                                      ".data : { *(.data*) *(.bss*) } }\n")
    elf = tmp_path / "t.elf"
    subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-nostdlib", "-nostartfiles", f"-I{tmp_path}", f"-I{COMMON}", str(tmp_path / "main.c"),
                    str(COMMON / "ek_gpio_stm32.c"), "-T", str(tmp_path / "link.ld"), "-o", str(elf)], check=True)
    res = subprocess.run([qemu, "-M", "netduinoplus2", "-nographic", "-monitor", "none", "-serial", "null",
                          "-semihosting-config", "enable=on,target=native", "-d", "unimp", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=60, check=False)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log
    writes = re.findall(r"(\w+): unimplemented device write \(size 4, offset (0x[0-9a-f]+), value (0x[0-9a-f]+)\)",
                        log)
    assert ("RCC", "0x030", "0x00000004") in writes  # AHB1ENR.GPIOCEN (the read-back returns 0 under QEMU)
    gpioc = [(off, int(v, 16)) for dev, off, v in writes if dev == "GPIOC"]
    assert ("0x000", 1 << 14) in gpioc  # MODER: PC7 output (01)
    assert gpioc[0] == ("0x018", 1 << 23)  # driven low before it becomes an output
    assert [v for off, v in gpioc if off == "0x018"] == [1 << 23] + [1 << 7, 1 << 23] * 3
    assert edges(qemu_levels(log, pin)) == {"writes": 7, "rising_edges": 3, "falling_edges": 3, "level_at_end": 0}


# ------------------------------------------------------------------------------ bench in QEMU ----------

def _timed_loop(elf: Path) -> list[str]:
    """The instructions between the two timer readings around ek_model_invoke in the timed loop."""
    objdump = need_tool("arm-none-eabi-objdump")
    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(elf)], capture_output=True, text=True,
                          check=True).stdout
    lines = [ln.split("\t", 1)[1].strip() for ln in text.splitlines() if re.match(r"\s+[0-9a-f]+:\t", ln)]
    for i, ln in enumerate(lines):
        if "<ek_port_timer_rephase>" in ln and "<ek_port_ticks>" in lines[i + 1]:
            end = next(j for j in range(i + 2, len(lines)) if "<ek_port_ticks>" in lines[j])
            return lines[i + 2:end]
    raise AssertionError("timed loop not found")


@pytest.mark.toolchain
@pytest.mark.qemu
def test_bench_in_qemu_marks_each_timed_inference(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    from edgekit.cli import run

    model = str(shared_model(HELLO))
    nopin = tmp_path / "boards"
    nopin.mkdir()
    src = (REPO / "boards" / "qemu" / "qemu-cortex-m4.yaml").read_text()
    (nopin / "qemu-cortex-m4.yaml").write_text("\n".join(ln for ln in src.splitlines() if "gpio_energy" not in ln))
    runs, warmup = 9, 2
    results = {}
    for name, extra in (("on", []), ("off", ["--boards-dir", str(nopin)])):
        proj = tmp_path / name
        assert run([*extra, "generate", model, "--board", "qemu-cortex-m4", "-o", str(proj)]) == 0
        assert run([*extra, "build", str(proj)]) == 0
        out = tmp_path / f"{name}.json"
        assert run([*extra, "bench", str(proj), "--runs", str(runs), "--warmup", str(warmup), "--save",
                    str(out)]) == 0
        results[name] = json.loads(out.read_text())
    on, off = results["on"], results["off"]

    # QEMU's own log: one init write (low), then a high/low pair per timed inference (warm-ups unmarked)
    qlog = Path(on["transport"]["qemu_log"]).read_text()
    data = [int(v, 16) for v in re.findall(r"mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x([0-9a-f]+)",
                                           qlog)]
    assert data == [0] + [1, 0] * runs
    gpio = on["energy"]["gpio"]
    assert gpio["pin"] == "mps2-fpgaio:LED0" and on["energy"]["windows_from"] == "model"
    assert {k: gpio["observed"][k] for k in ("rising_edges", "falling_edges", "level_at_end")} == {
        "rising_edges": runs, "falling_edges": runs, "level_at_end": 0}
    assert off["energy"]["gpio"] is None
    assert "mps2_fpgaio_write" not in Path(off["transport"]["qemu_log"]).read_text()

    # same outputs; the two stores fit inside the 40-instruction SysTick granularity
    assert on["output"]["hex"] == off["output"]["hex"]
    assert all(abs(a - b) <= 1 for a, b in zip(on["timing"]["ticks"], off["timing"]["ticks"], strict=True))
    loop_on, loop_off = _timed_loop(Path(on["target"]["elf"])), _timed_loop(Path(off["target"]["elf"]))
    ops_on, ops_off = (Counter(ln.split()[0].split(".")[0] for ln in loop) for loop in (loop_on, loop_off))
    assert ops_on - ops_off == Counter({"str": 2}) and not ops_off - ops_on  # the overhead: one store per edge
    call = next(i for i, ln in enumerate(loop_on) if "<ek_model_invoke>" in ln)
    assert loop_on[0].startswith("str") and any(ln.startswith("str") for ln in loop_on[call + 1:])


@pytest.mark.toolchain
@pytest.mark.qemu
def test_bench_in_qemu_mlperf_timestamps(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    from edgekit.cli import run

    boards = tmp_path / "boards"
    boards.mkdir()
    src = (REPO / "boards" / "qemu" / "qemu-cortex-m4.yaml").read_text()
    (boards / "qemu-cortex-m4.yaml").write_text(src.replace('"mps2-fpgaio:LED0"', '"mps2-fpgaio:LED0:mlperf"'))
    proj, out = tmp_path / "p", tmp_path / "r.json"
    common = ["--boards-dir", str(boards)]
    assert run([*common, "generate", str(shared_model(HELLO)), "--board", "qemu-cortex-m4", "-o", str(proj)]) == 0
    assert run([*common, "build", str(proj)]) == 0
    assert run([*common, "bench", str(proj), "--runs", "70", "--warmup", "1", "--save", str(out)]) == 0
    res = json.loads(out.read_text())
    qlog = Path(res["transport"]["qemu_log"]).read_text()
    data = [int(v, 16) for v in re.findall(r"mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x([0-9a-f]+)",
                                           qlog)]
    # 70 runs = two infer commands (64 + 6): idle high, then a start and an end pulse around each timed loop
    assert data == [1] + [0, 1, 0, 1] * 2
    gpio = res["energy"]["gpio"]
    assert (gpio["convention"], gpio["windows_by"]) == ("mlperf", "edges")
    assert gpio["observed"]["falling_edges"] == 4 and gpio["observed"]["level_at_end"] == 1


@pytest.mark.toolchain
@pytest.mark.qemu
def test_bench_in_qemu_stm32_pin_on_netduinoplus2(tmp_path: Path) -> None:
    """The STM32 driver inside real firmware: QEMU's -d unimp log shows the BSRR writes of every window."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    from edgekit.cli import run

    board = load_board("qemu-stm32f405")
    assert board.firmware.gpio_energy_pin == "stm32f4:PA5"
    proj, out = tmp_path / "p", tmp_path / "r.json"
    common: list[str] = []
    assert run([*common, "generate", str(shared_model(HELLO)), "--board", "qemu-stm32f405", "-o", str(proj)]) == 0
    assert run([*common, "build", str(proj)]) == 0
    assert run([*common, "bench", str(proj), "--runs", "6", "--warmup", "2", "--save", str(out)]) == 0
    obs = json.loads(out.read_text())["energy"]["gpio"]["observed"]
    assert obs["source"] == "QEMU log (-d unimp)"
    assert {k: obs[k] for k in ("writes", "rising_edges", "falling_edges", "level_at_end")} == {
        "writes": 13, "rising_edges": 6, "falling_edges": 6, "level_at_end": 0}
