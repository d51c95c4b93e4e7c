"""``edgekit boards list|show``: the board profiles on the search path, as a table or as JSON."""

from __future__ import annotations

import sys
from typing import Any

import click

from edgekit.boards import KINDS, BoardProfile, list_boards, load_board
from edgekit.cli import echo_json


def _dirs(ctx: click.Context) -> list[str]:
    return list((ctx.obj or {}).get("boards_dirs", []))


def summary(board: BoardProfile) -> dict[str, Any]:
    """The one-line view of a board used by ``boards list`` (units in the key names)."""
    return {
        "id": board.id, "name": board.name, "kind": board.kind, "core": board.core, "clock_hz": board.clock_hz,
        "flash_kb": board.memory.flash_kb, "ram_kb": board.memory.ram_kb, "build": board.build.system,
        "flash_method": board.flash.method, "emulated": board.is_emulated,
        "path": str(board.path) if board.path else None,
    }


@click.group(name="boards")
def cmd() -> None:
    """List and show board profiles (built in, --boards-dir, EDGEKIT_BOARDS_PATH)."""


@cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--kind", type=click.Choice(KINDS), help="Only boards of this kind.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool, kind: str | None) -> None:
    """List the known boards."""
    boards = [b for b in list_boards(_dirs(ctx)) if kind is None or b.kind == kind]
    if as_json:
        echo_json([summary(b) for b in boards])
        return
    from rich.table import Table

    console = _console()
    with_name = console.width >= 110  # on a narrow terminal the name goes; 'boards show' has it
    table = Table(title=f"{len(boards)} board(s); flash and RAM in KB")
    table.add_column("id", overflow="fold")
    if with_name:
        table.add_column("name", overflow="fold")
    table.add_column("core", overflow="fold")
    for col in ("MHz", "flash", "RAM"):
        table.add_column(col, justify="right", no_wrap=True)
    for col in ("build", "flasher", "emulated"):
        table.add_column(col, overflow="fold")
    for b in boards:
        cells = [b.id, b.name, b.core] if with_name else [b.id, b.core]
        cells += [f"{b.clock_hz / 1e6:g}", str(b.memory.flash_kb), str(b.memory.ram_kb), b.build.system,
                  b.flash.method, "yes" if b.is_emulated else "no"]
        table.add_row(*cells)
    console.print(table)


@cmd.command("show")
@click.argument("board_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole profile as JSON.")
@click.pass_context
def show_cmd(ctx: click.Context, board_id: str, as_json: bool) -> None:
    """Show every field of one board, with where its numbers come from."""
    board = load_board(board_id, _dirs(ctx))
    if as_json:
        echo_json(board.to_dict())
        return
    from rich.table import Table

    table = Table(title=f"{board.id}: {board.name}", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for field, value in _rows(board):
        table.add_row(field, value)
    _console().print(table)


def _rows(b: BoardProfile) -> list[tuple[str, str]]:
    """(field, text) pairs for ``boards show``, sources right under the numbers they back."""
    m, bu, fw, fl, se, pw = b.memory, b.build, b.firmware, b.flash, b.serial, b.power
    rows = [
        ("kind / vendor", f"{b.kind} / {b.vendor}"),
        ("core / arch", f"{b.core} / {b.arch}"),
        ("clock", f"{b.clock_hz / 1e6:g} MHz"),
        ("  source", b.clock_source),
        ("memory", f"flash {m.flash_kb} KB, RAM {m.ram_kb} KB"),
    ]
    rows += [(f"  region {r.name}", f"{r.kind} at 0x{r.origin:08x}, {r.size_kb} KB") for r in m.regions]
    rows += [
        ("  source", m.source),
        ("build", " ".join(x for x in (bu.system, bu.toolchain, f"board={bu.board}" if bu.board else "") if x)),
        ("  cpu flags", " ".join(bu.cpu_flags) or "-"),
        ("  defines", " ".join(bu.defines) or "-"),
        ("firmware", f"uart {fw.uart}" + (f" @ 0x{fw.uart_base:08x}" if fw.uart_base else "")
         + f", timer {fw.timer}" + (f" @ {fw.timer_hz / 1e6:g} MHz" if fw.timer_hz else "")
         + (f", core at {fw.core_clock_hz / 1e6:g} MHz (reset clock)" if fw.core_clock_hz else "")
         + (f", PLL to {fw.clock.sysclk_hz / 1e6:g} MHz at boot ({fw.clock.family})" if fw.clock else "")
         + (", semihosting" if fw.semihosting else "")),
        ("flash", fl.method + (f" (target {fl.target})" if fl.target else "")),
    ]
    rows += [(f"  {k}", _fmt(v)) for k, v in fl.options.items()]
    usb = f", USB {se.usb_vid:04x}:{se.usb_pid:04x}" if se.usb_vid is not None and se.usb_pid is not None else ""
    rows += [
        ("serial", f"{se.baudrate} baud{usb}"),
        ("qemu", f"{b.qemu.machine} (cpu {b.qemu.cpu or '-'}, icount shift {b.qemu.icount_shift})" if b.qemu
         else "none (real hardware only)"),
        ("power", f"{pw.model}: {pw.supply_v:g} V, active {pw.active_ma:g} mA, idle {pw.idle_ma:g} mA"),
        ("  source", pw.source),
        ("perf", f"{b.perf.cycles_per_mac:g} cycles/MAC"),
        ("  source", b.perf.source),
    ]
    rows += [(k, v) for k, v in (("url", b.url), ("notes", b.notes), ("file", str(b.path or ""))) if v]
    return rows


def _console() -> Any:
    """A rich console; wide when piped so rows stay one line each in files and logs."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 200)


def _fmt(value: Any) -> str:
    return f"0x{value:08x}" if isinstance(value, int) and not isinstance(value, bool) and value > 0xFFFF else str(value)
