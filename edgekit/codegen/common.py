"""What both project generators share (:mod:`edgekit.codegen.project` for the AOT runtime and
:mod:`edgekit.codegen.tflm_project` for TFLM): template paths, board checks, the model's I/O facts for
``ek_config.h``, the output-directory guard, the firmware-core copy and Jinja rendering.
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.boards.families import families, timer_kinds, uart_kinds
from edgekit.errors import BoardError, ModelError, UsageError
from edgekit.manifest import PROJECT_FILE, PROJECT_SCHEMA
from edgekit.resources import templates_dir

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.buildsys.base import Layout
    from edgekit.tflite_model import TFLiteModel

__all__ = ["CLOCK_DRIVERS", "CLOCK_RESET", "COMMON_DIR", "DEFAULT_LINE_MAX", "DEFAULT_STACK_BYTES", "NUM_IRQS",
           "OUT0_DTYPES", "PROJECT_FILE", "PROJECT_SCHEMA", "TEMPLATES", "TIMERS", "UART_DRIVERS", "check_board",
           "check_out_dir", "copy_core", "firmware_facts", "model_io", "project_name", "render", "render_layout"]

TEMPLATES = templates_dir()
COMMON_DIR = TEMPLATES / "common"
PORTS_DIR = TEMPLATES / "ports"  # the SDK glue (ek_port.h for Pico SDK, ESP-IDF, Zephyr, Arduino), for both runtimes
SOURCE_SUFFIXES = (".c", ".cc", ".cpp")

# From the chip family files (boards/families/*.yaml):
# firmware.uart -> driver source in firmware_templates/common (one ek_uart.h implementation each)
UART_DRIVERS = {kind: u.driver for kind, u in uart_kinds().items() if u.driver}
# firmware.clock.family -> clock module (ek_clock.h); boards without firmware.clock get ek_clock_reset.c
CLOCK_DRIVERS = {name: fam.clock["driver"] for name, fam in families().items() if fam.clock}
CLOCK_RESET = "ek_clock_reset.c"
TIMERS = tuple(kind for kind, firmware in timer_kinds().items() if firmware)  # the firmware core counts with these
DEFAULT_STACK_BYTES = 8192
DEFAULT_LINE_MAX = 256
NUM_IRQS = 32

# tflite dtype -> (EK_OUT0_DTYPE code in ek_protocol.c, bytes per element)
OUT0_DTYPES = {"float32": (0, 4), "int8": (1, 1), "uint8": (2, 1), "int16": (3, 2), "int32": (4, 4)}


def check_board(board: BoardProfile) -> tuple[Any, Any]:
    """The flash and RAM regions of a board edgekit can generate a bare-metal CMake project for.

    Raises:
        UsageError: the board does not build with cmake, is not an MCU, or its UART/timer has no driver.
        BoardError: the board file lacks what the linker script needs.
    """
    where = board.path or board.id
    # The bare-metal core is its own CMake + arm-none-eabi-gcc project whatever build.system says (that names the
    # SDK that TFLM projects use, e.g. Zephyr for nrf52840dk): what it needs is an Arm Cortex-M core.
    if board.kind == "mcu" and not board.arch.startswith(("armv6-m", "armv7-m", "armv7e-m", "armv8-m", "armv8.1-m")):
        raise UsageError(f"board '{board.id}' is {board.arch}, not an Arm Cortex-M: the edgekit firmware core "
                         f"(bare-metal CMake, arm-none-eabi-gcc) cannot run on it",
                         hint="use --runtime tflm for a project in the board's own build system "
                              f"({board.build.system})")
    if board.kind != "mcu":
        raise UsageError(f"board '{board.id}' is a {board.kind}, not a microcontroller: there is no firmware to "
                         f"generate", hint="run models on it with 'edgekit bench --board ...' instead")
    if board.firmware.uart not in UART_DRIVERS:
        raise UsageError(f"board '{board.id}': firmware.uart '{board.firmware.uart}' has no driver in the "
                         f"firmware core (supported: {', '.join(UART_DRIVERS)})",
                         hint="add firmware_templates/common/ek_uart_<kind>.c implementing ek_uart.h")
    if board.firmware.timer not in TIMERS:
        raise UsageError(f"board '{board.id}': firmware.timer '{board.firmware.timer}' is not supported by the "
                         f"firmware core (supported: {', '.join(TIMERS)})")
    if board.firmware.uart_base == 0:
        raise BoardError(f"{where}: firmware.uart_base: required to generate firmware")
    flash, ram = board.memory.region("flash"), board.memory.region("ram")
    if flash is None or ram is None:
        raise BoardError(f"{where}: memory.regions: needs a flash and a ram region to render the linker script",
                         hint="see boards/qemu/qemu-cortex-m4.yaml")
    return flash, ram


def project_name(name: str | None, m: TFLiteModel) -> str:
    """``name`` checked as a C identifier, or one made from the model file name."""
    if name is None:
        from edgekit.codegen.aot.ops.base import c_identifier

        stem = m.path.stem if m.path is not None else "model"
        return c_identifier(stem, fallback="model")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        raise UsageError(f"project name '{name}': use letters, digits and '_' (a C identifier, at most 64)")
    return name


def firmware_facts(board: BoardProfile) -> dict[str, Any]:
    """The firmware-core facts a project manifest records (UART driver, timer, semihosting)."""
    return {"uart": board.firmware.uart, "timer": board.firmware.timer, "semihosting": board.firmware.semihosting}


def model_io(m: TFLiteModel) -> dict[str, Any]:
    """What the firmware core must know of the model's inputs and output 0 (ek_config.h)."""
    sg = m.main
    ins = [sg.tensors[i] for i in sg.inputs]
    outs = [sg.tensors[i] for i in sg.outputs]
    if not ins or not outs:
        raise ModelError(f"{m.path or 'model'}: the main subgraph has no {'inputs' if not ins else 'outputs'}")
    out0 = outs[0]
    if out0.dtype not in OUT0_DTYPES:
        raise ModelError(f"{m.path or 'model'}: output 0 '{out0.name}' has dtype {out0.dtype}; the firmware "
                         f"reports outputs of type {', '.join(OUT0_DTYPES)}")
    q = out0.quantization
    quantized = out0.dtype != "float32" and q is not None and len(q.scale) > 0
    scale = float(q.scale[0]) if quantized else 1.0
    zero_point = int(q.zero_point[0]) if quantized and q.zero_point else 0
    return {
        "input_bytes": sum(t.nbytes for t in ins),
        "input_desc": ", ".join(f"{t.dtype}{list(t.shape)}" for t in ins),
        "out0_dtype": OUT0_DTYPES[out0.dtype][0],
        "out0_desc": f"{out0.dtype}{list(out0.shape)} scale={scale:.9g} zero_point={zero_point}",
        "out0_scale": f"{scale:.9e}",
        "out0_zero_point": zero_point,
        "out0": {"dtype": out0.dtype, "scale": scale, "zero_point": zero_point},
    }


def check_out_dir(out: Path) -> Path:
    """The resolved output directory; UsageError if it holds something that is not an edgekit project."""
    out = out.expanduser().resolve()
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out}: exists and is not a directory", hint="choose another output directory (-o)")
        if any(out.iterdir()) and not (out / PROJECT_FILE).exists():
            raise UsageError(f"{out}: directory is not empty and is not an edgekit project; refusing to replace it",
                             hint="choose a new or empty output directory (-o)")
    return out


def copy_core(board: BoardProfile, dst: Path) -> list[str]:
    """Copy the firmware core: every .c/.h of firmware_templates/common, with only this board's UART driver and
    clock module (``ek_clock_reset.c`` when the board has no ``firmware.clock``)."""
    dst.mkdir(parents=True)
    uart = UART_DRIVERS[board.firmware.uart]
    clk = board.firmware.clock
    clock = CLOCK_DRIVERS[clk.family] if clk is not None else CLOCK_RESET
    names = []
    for src in sorted(COMMON_DIR.iterdir()):
        if src.suffix not in (".c", ".h"):
            continue
        if src.name.startswith("ek_uart_") and src.name != uart:
            continue
        if src.name.startswith("ek_clock_") and src.name != clock:
            continue
        shutil.copyfile(src, dst / src.name)
        names.append(src.name)
    return names


@functools.lru_cache(maxsize=1)
def _env() -> Any:
    """One jinja2 environment per process: it caches the compiled templates (and reloads one whose file changed);
    a new environment per render compiled every template again, ~20 ms each."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, autoescape=False)


def render(template: str, ctx: dict[str, Any], dst: Path) -> None:
    """Render ``template`` (a path under firmware_templates/) with ``ctx`` into ``dst`` (StrictUndefined)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(_env().get_template(template).render(**ctx), encoding="utf-8")


def render_layout(layout: Layout, ctx: dict[str, Any], board: BoardProfile, root: Path) -> None:
    """Fill a project in ``root`` as its build system's ``layout`` says: the firmware core, ``ek_config.h``, the
    port files, then the build system's templates, which get ``core_sources`` / ``model_sources`` (file names in
    ``layout.core_dir`` / ``layout.model_dir``) in ``ctx``. The model's own sources must already be in
    ``layout.model_dir``."""
    core_dir, ports_dir, model_dir = root / layout.core_dir, root / layout.ports_dir, root / layout.model_dir
    if layout.core_files is None:
        core_names = copy_core(board, core_dir)
    else:
        core_dir.mkdir(parents=True, exist_ok=True)
        core_names = list(layout.core_files)
        for fname in core_names:
            shutil.copyfile(COMMON_DIR / fname, core_dir / fname)
    render("common/ek_config.h.j2", ctx, core_dir / "ek_config.h")
    ports_dir.mkdir(parents=True, exist_ok=True)
    for port in layout.ports:
        shutil.copyfile(PORTS_DIR / port, ports_dir / port)
    if ports_dir == core_dir:
        core_names += layout.ports
    ctx["core_sources"] = sorted(f for f in core_names if f.endswith(SOURCE_SUFFIXES))
    ctx["model_sources"] = sorted(p.name for p in model_dir.iterdir() if p.suffix in SOURCE_SUFFIXES
                                  and (model_dir != core_dir or p.name not in core_names))
    ctx["core_dir"], ctx["model_dir"] = layout.core_dir, layout.model_dir
    for template, dst in layout.templates.items():
        render(template, ctx, root / dst)
