"""``edgekit devices``: serial ports (and the board their USB id suggests), debug probes, UF2 drives, power monitors."""

from __future__ import annotations

import click

from edgekit.cli import echo_json


@click.command(name="devices")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.pass_context
def cmd(ctx: click.Context, as_json: bool) -> None:
    """List connected boards, debug probes, UF2 bootloader drives and power monitors."""
    from edgekit.devices import discover

    rep = discover(boards_dirs=(ctx.obj or {}).get("boards_dirs"))
    if as_json:
        echo_json(rep.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title="serial ports")
    for col in ("port", "USB id", "serial", "description", "likely"):
        t.add_column(col)
    for p in rep.serial_ports:
        likely = ", ".join(p.boards) or (f"bootloader of {', '.join(p.bootloader_of)}" if p.bootloader_of else
                                         "PPK2 power monitor" if p.role == "power-monitor" else "")
        t.add_row(p.device, p.usb_id or "-", p.serial_number or "-", p.description, likely or "-")
    console.print(t if rep.serial_ports else "no serial ports")
    if rep.probes:
        t = Table(title="debug probes")
        for col in ("unique id", "description", "board", "target"):
            t.add_column(col)
        for pr in rep.probes:
            t.add_row(pr.unique_id, pr.description, pr.board or "-", pr.target or "-")
        console.print(t)
    for d in rep.uf2_drives:
        console.print(f"UF2 drive {d.path}: Board-ID {d.board_id or '?'}"
                      + (f" ({', '.join(d.boards)})" if d.boards else "") + (f", {d.model}" if d.model else ""))
    for m in rep.power_monitors:
        console.print(f"power monitor: {m.kind} at {m.where}" + (f" (serial {m.serial_number})" if m.serial_number
                                                                 else "") + (f" - {m.note}" if m.note else ""))
    for n in rep.notes:
        console.print(f"note: {n}")
