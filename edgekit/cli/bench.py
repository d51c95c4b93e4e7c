"""``edgekit bench``: run a firmware on a board (QEMU or a serial port) and print latency, memory and energy."""

from __future__ import annotations

from typing import Any

import click

from edgekit.cli import echo_json
from edgekit.cli.cost import BATTERY_HELP, DERATE_HELP, RATE_HELP, SLEEP_HELP, render_costs
from edgekit.cli.labgrid_opts import labgrid_options, place_or_none


@click.command(name="bench")
@click.argument("target", type=click.Path(exists=True))
@click.option("--board", "board", default=None, help="Board id (default: the project's board, else qemu-cortex-m4).")
@click.option("--runs", type=click.IntRange(min=1), default=10, show_default=True, help="Timed inferences.")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True, help="Untimed inferences first.")
@click.option("--input", "--inputs", "input_file", type=click.Path(exists=True, dir_okay=False),
              help="Input sample: .npy (int8, or float32 quantized with the input's scale), .npz or raw .bin; "
                   "with several samples the first is used (--inputs is the same option, as in validate).")
@click.option("--layout", type=click.Choice(["nhwc", "nchw"]), default="nhwc", show_default=True,
              help="Layout of --input: nchw for a PyTorch/ONNX model's own channels-first data.")
@click.option("--port", help="Serial port (or pyserial URL) of a real board already running the firmware.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds allowed per command.")
@click.option("--json", "as_json", is_flag=True, help="Print the edgekit.bench/1 JSON instead of a table.")
@click.option("--save", type=click.Path(dir_okay=False), help="Also write the JSON result to this file.")
@click.option("--power", default=None, metavar="MONITOR[:PORT][,k=v]",
              help="Measure energy with a power monitor: ppk2, joulescope, lpm01a, ina (e.g. ppk2:/dev/ttyACM1).")
@click.option("--baud", type=click.IntRange(min=1), default=None,
              help="Override the board's serial speed (MLPerf Tiny energy mode: 9600).")
@click.option("--host", default=None, metavar="local|[user@]HOST",
              help="SBC boards: run the LiteRT bundle on this machine (local) or on a board over SSH.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="SBC boards: LiteRT threads.")
@click.option("--no-xnnpack", is_flag=True, help="SBC boards: disable the XNNPACK delegate.")
@click.option("--battery", default=None, help=BATTERY_HELP + " With --rate: a cost report.")
@click.option("--rate", default=None, help=RATE_HELP + " With --battery: a cost report.")
@click.option("--sleep", default=None, help=SLEEP_HELP)
@click.option("--battery-derate", "derate", type=float, default=1.0, show_default=True, help=DERATE_HELP)
@click.option("--plot", default=None, type=click.Path(dir_okay=False),
              help="Write an HTML plot: current trace with inference windows, latency histogram.")
@click.option("--per-layer", is_flag=True,
              help="Per-layer instructions, estimated cycles, MACs and cycles/MAC, worst first (QEMU; AOT or TFLM).")
@click.option("--cycles/--no-cycles", "cycles", default=None,
              help="Estimate cycles from the instruction mix (QEMU; default: when the core has a timing table).")
@labgrid_options
@click.pass_context
def cmd(ctx: click.Context, target: str, board: str | None, runs: int, warmup: int, input_file: str | None,
        layout: str, port: str | None, timeout: float, as_json: bool, save: str | None, power: str | None,
        baud: int | None, host: str | None, threads: int | None, no_xnnpack: bool, battery: str | None,
        rate: str | None, sleep: str | None, derate: float, plot: str | None, per_layer: bool,
        cycles: bool | None, labgrid_place: str | None, coordinator: str | None) -> None:
    """Benchmark TARGET on a board: a generated project directory or firmware ELF (MCU boards), or a
    .tflite / bundle directory (SBC boards and the host, with --host)."""
    from edgekit.benchmarking import bench

    boards_dirs = (ctx.obj or {}).get("boards_dirs")
    if (battery is None) != (rate is None):
        from edgekit.errors import UsageError

        raise UsageError("--battery and --rate go together", hint="e.g. --battery 1000mAh --rate 60/h")
    if battery is not None and rate is not None:  # bad units fail before a long benchmark, not after it
        from edgekit.cost import check_options

        check_options(battery, rate, sleep, derate)
    extras = {"battery": battery, "rate": rate, "sleep": sleep, "derate": derate, "plot": plot,
              "boards_dirs": boards_dirs, "save": save}
    if labgrid_place is not None and host is not None:
        from edgekit.errors import UsageError

        raise UsageError("--labgrid and --host name two different boards: pass one")
    common = {"runs": runs, "warmup": warmup, "inputs": input_file, "save": save, "timeout": timeout,
              "power": power, "baudrate": baud, "layout": layout}
    with place_or_none(labgrid_place, coordinator, port=port, boards_dirs=boards_dirs) as place:
        if place is not None:
            result = place.bench(target, board=board, per_layer=per_layer, **common)
        else:
            result = bench(target, board=board, port=port, boards_dirs=boards_dirs, host=host, threads=threads,
                           xnnpack=not no_xnnpack, cycles=cycles, per_layer=per_layer, **common)
    _finish(result.to_dict(), as_json, **extras)


def _finish(d: dict[str, Any], as_json: bool, *, battery: str | None, rate: str | None, sleep: str | None,
            derate: float, plot: str | None, boards_dirs: Any, save: str | None) -> None:
    """Add the ``cost`` section (and re-save), write the plot, print."""
    if battery is not None and rate is not None:
        from edgekit.cost import cost_report
        from edgekit.results import save_json

        d["cost"] = cost_report(d, battery=battery, rate=rate, sleep=sleep, derate=derate,
                                boards_dirs=boards_dirs).to_dict()
        if save:
            save_json(d, save)
    if plot:
        from edgekit.plot import write_plot

        write_plot(plot, [d], [d.get("cost")])
    if as_json:
        echo_json(d)
        return
    render(d, saved=save)
    if d.get("cost"):
        render_costs([d["cost"]], plot=plot)
    elif plot:
        click.echo(f"plot: {plot}")


def _n(x: Any, digits: int = 0) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def render(d: dict[str, Any], saved: str | None = None) -> None:
    """Print a benchmark result dict as a rich table."""
    from rich.console import Console
    from rich.table import Table

    t, m, e = d["timing"], d["memory"], d["energy"]
    basis = t["basis"]
    title = f"{d['device'].get('model') or 'firmware'} on {d['board']['id']} ({d['transport']['kind']})"
    table = Table(title=title, show_header=True)
    table.add_column("figure", style="bold")
    for col in ("min", "median", "mean", "p90", "max", "stdev"):
        table.add_column(col, justify="right")
    for label, s, digits in ((f"{basis} / inference", t.get("count"), 0), ("latency (µs)", t["latency_us"], 1),
                             (f"{(t.get('timer') or {}).get('kind', 'timer')} ticks", t.get("ticks_stats"), 1)):
        if not s:
            continue
        table.add_row(label, *(_n(s[k], digits) for k in ("min", "median", "mean", "p90", "max", "stdev")))
    cyc = d.get("cycles")
    if cyc:
        for label, value, digits in (("instructions (plugin, invoke only)", cyc["instructions"], 0),
                                     ("estimated cycles (model)", cyc["estimated_cycles"], 0),
                                     ("  cycles / MAC (model)", cyc.get("cycles_per_mac"), 3),
                                     ("  latency µs (model)", cyc.get("latency_us"), 1)):
            table.add_row(label, "", _n(value, digits), "", "", "", "")
    console = Console()
    console.print(table)
    if cyc:
        console.print(f"estimated cycles: a model, not a measurement: the instruction mix (QEMU plugin) x the "
                      f"{cyc['core_table']} timing table ({cyc['flash_wait_states']} flash wait states); "
                      f"{cyc['cycles_per_instruction']:.3f} cycles/instruction" + (
                          " (range {:,}-{:,} over the table's ranges)".format(*cyc["estimated_cycles_range"])
                          if cyc.get("estimated_cycles_range") else ""))
    if d.get("per_layer"):
        render_layers(d["per_layer"], console)

    mem = Table(show_header=False, title="memory and energy")
    mem.add_column("figure", style="bold")
    mem.add_column("value", justify="right")
    mem.add_column("note")
    mem.add_row("flash", f"{_n(m['flash_bytes'])} B", f"of {_n(m['flash_budget_bytes'])} B ({m['source']})")
    mem.add_row("RAM (static)", f"{_n(m['ram_bytes'])} B", f"of {_n(m['ram_budget_bytes'])} B")
    for what in ("arena", "stack"):
        if m.get(f"{what}_used_bytes") is not None:
            mem.add_row(f"{what} used", f"{_n(m[f'{what}_used_bytes'])} B",
                        f"of {_n(m.get(f'{what}_reserved_bytes'))} B reserved")
    energy = "-" if e["per_inference_uj"] is None else f"{e['per_inference_uj']:,.2f} µJ"
    if e["kind"] == "measured":
        mem.add_row("energy / inference", energy,
                    f"measured ({e['monitor']['monitor']}, {e['windows']} windows, {e['supply_v'] or 0:g} V)")
        for label, key in (("current, inferring", "mean_ma"), ("current, peak", "peak_ma"),
                           ("current, idle", "idle_ma")):
            mem.add_row(label, "-" if e[key] is None else f"{e[key]:,.3f} mA", "")
    elif e["per_inference_uj"] is None:
        mem.add_row("energy / inference", energy, "no power model for this board")
    else:
        mem.add_row("energy / inference", energy,
                    f"modelled: {e['supply_v']:g} V x {e['active_ma']:g} mA x median latency")
    console.print(mem)
    console.print(f"runs {d['runs']} (+{d['warmup']} warm-up); {t['rule']}; latency: {t['latency_basis']}")
    for note in [d["input"].get("note"), *d.get("notes", [])]:
        if note:
            console.print(f"note: {note}")
    log = (d.get("transport") or {}).get("log")
    console.print((f"log: {log}" if log else "") + (f"; saved: {saved}" if saved else ""))


def render_layers(p: dict[str, Any], console: Any) -> None:
    """The per-layer table (worst first) and the check of its sum against the whole inference."""
    from rich.table import Table

    table = Table(title="per layer (worst first; cycles estimated by the model)")
    for col in ("op", "opcode", "instructions", "est. cycles", "%", "MACs", "cycles/MAC"):
        table.add_column(col, justify="left" if col == "opcode" else "right")
    total = p["sum_estimated_cycles"] or 1
    for r in p["layers"]:
        table.add_row("+".join(str(i) for i in r["ops"]) or "-", "+".join(r.get("opcodes") or []) or "-",
                      _n(r["instructions"]),
                      _n(r["estimated_cycles"]), f"{100 * r['estimated_cycles'] / total:.1f}", _n(r["macs"]),
                      _n(r["cycles_per_mac"], 2))
    console.print(table)
    console.print(f"layers sum {p['sum_instructions']:,} instructions = {100 * (p['sum_vs_total'] or 0):.2f}% of the "
                  f"inference ({p['total_instructions']:,}); outside layers: {p['outside_layers']['instructions']:,}")
