"""``edgekit inspect MODEL.tflite [--board ID] [--json] [--no-arena]``: what a model costs on a board."""

from __future__ import annotations

import sys
from typing import Any

import click

from edgekit.cli import echo_json


@click.command(name="inspect")
@click.argument("model")
@click.option("--board", "board_id", metavar="ID", help="Board profile for a fit verdict and a latency estimate.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-arena", is_flag=True, help="Do not run the TFLM host interpreter to measure the arena.")
@click.option("--layers/--no-layers", default=True, show_default=True, help="Show the per-layer table.")
@click.option("--trust-pickle", is_flag=True,
              help="Tree models: load a pickled scikit-learn model (loading a pickle runs code from the file).")
@click.pass_context
def cmd(ctx: click.Context, model: str, board_id: str | None, as_json: bool, no_arena: bool, layers: bool,
        trust_pickle: bool) -> None:
    """Ops, tensors, parameters, MACs, TFLM arena, flash estimate and board fit of a .tflite MODEL.

    For an .onnx or .pt2 MODEL: its parameters, MACs and which ops conversion maps (and which it refuses).
    For a tree model (scikit-learn pickle, XGBoost .json/.ubj, LightGBM text): trees, nodes, depth, flash and RAM.
    """
    from edgekit.trees.load import is_tree_model

    if is_tree_model(model):
        _trees(ctx, model, board_id, as_json, trust_pickle)
        return
    if model.lower().endswith((".onnx", ".pt2")):
        from rich.console import Console

        from edgekit.frontends.forecast import forecast, render

        fc = forecast(model)
        if as_json:
            echo_json(fc.to_dict())
        else:
            render(fc, Console(width=None if sys.stdout.isatty() else 160))
        return
    from edgekit.inspection import inspect

    board = None
    if board_id:
        from edgekit.boards import load_board

        board = load_board(board_id, list((ctx.obj or {}).get("boards_dirs", [])))
    report = inspect(model, board=board, arena=not no_arena)
    variants = _kernel_variants(model, board)
    if as_json:
        echo_json({**report.to_dict(), **({"kernel_variants": variants} if variants else {})})
        return
    _print(report, layers)
    if variants:
        click.echo("kernel variants on this board (edgekit runtime, generate --weights auto):")
        for v in variants:
            click.echo(f"  op {v['op']} {v['opcode']}: {v['variant']} weights ({v['kernel']}): {v['reason']}")


def _kernel_variants(model: str, board: Any) -> list[dict[str, Any]]:
    """The per-layer weight widths edgekit's generator would choose on ``board`` (empty: no choice to make there,
    or a model its runtime does not run)."""
    if board is None or getattr(board, "kind", "mcu") != "mcu":
        return []
    from edgekit.codegen.aot.variants import board_choice
    from edgekit.errors import EdgekitError

    try:
        return board_choice(model, board)
    except EdgekitError:
        return []


def _trees(ctx: click.Context, model: str, board_id: str | None, as_json: bool, trust_pickle: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from edgekit.trees.load import load_tree_model
    from edgekit.trees.report import inspect_trees

    board = None
    if board_id:
        from edgekit.boards import load_board

        board = load_board(board_id, list((ctx.obj or {}).get("boards_dirs", [])))
    r = inspect_trees(load_tree_model(model, trust_pickle=trust_pickle), board)
    if as_json:
        echo_json(r.to_dict())
        return
    s = r.summary
    t = Table(title=f"{r.path or 'model'}", show_header=False)
    t.add_column("field", style="bold", no_wrap=True)
    t.add_column("value", overflow="fold")
    outs = f"class of {len(s['classes'])} + {s['n_columns']} score column(s)" if s["task"] == "classification" \
        else f"{s['n_columns']} value(s)"
    for k, v in (("model", f"{s['family']} {s['task']}, sha256 {r.sha256[:16]}…"),
                 ("inputs / outputs", f"float32[{s['n_features']}] -> {outs}"),
                 ("trees", f"{s['n_trees']:,} trees, {s['internal_nodes']:,} splits, {s['leaves']:,} leaves "
                           f"({r.distinct_leaves:,} distinct), max depth {s['max_depth']}"),
                 ("arithmetic", f"sums in {s['accumulator']}"
                                + (f", class rule {s['class_rule']}" if s["class_rule"] else "")),
                 ("flash", f"{r.table_bytes:,} B of tables, ~{r.flash_estimate_bytes:,} B with the code"),
                 ("RAM", f"{r.ram_bytes:,} B of buffers + {r.stack_bytes:,} B of sums on the stack")):
        t.add_row(k, v)
    if r.fit:
        t.add_row("fit", f"{'fits' if r.fit['fits'] else 'does not fit'} {r.fit['board']} "
                         f"({100 * (r.fit['flash_share'] or 0):.1f}% of its flash)")
    if r.notes:
        t.add_row("notes", "\n".join(r.notes))
    Console(width=None if sys.stdout.isatty() else 160).print(t)


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:,.1f} KB"


def _print(r: Any, layers: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    summary = Table(title=f"{r.path or 'model'}", show_header=False)
    summary.add_column("field", style="bold", no_wrap=True)
    summary.add_column("value", overflow="fold")
    io = [f"in  {t.name} {t.dtype}{list(t.shape)}" + (f" scale={t.scale[0]:.6g} zp={t.zero_point[0]}"
                                                         if t.scale else "") for t in r.inputs]
    io += [f"out {t.name} {t.dtype}{list(t.shape)}" + (f" scale={t.scale[0]:.6g} zp={t.zero_point[0]}"
                                                          if t.scale else "") for t in r.outputs]
    rows = [
        ("file", f"{r.size_bytes:,} B, sha256 {r.sha256[:16]}…, schema v{r.schema_version}, {r.description!r}"),
        ("graph", f"{sum(o.count for o in r.ops)} ops ({len(r.ops)} kinds), {len(r.tensors)} tensors, "
                  f"{r.subgraphs} subgraph(s)"),
        ("inputs / outputs", "\n".join(io)),
        ("parameters", f"{r.params:,} ({r.weight_bytes:,} B of constant data)"),
        ("MACs", f"{r.macs:,}  (+{r.other_ops:,} other ops)"),
        ("full int8", "yes" if r.full_int8 else "no"),
        ("dtypes", "activations " + _counts(r.activation_dtypes) + "; constants " + _counts(r.weight_dtypes)),
    ]
    for k, v in rows:
        summary.add_row(k, v)
    console.print(summary)
    _print_runtimes(console, r)

    if r.issues:
        issues = Table(title="TFLM compatibility")
        issues.add_column("severity", no_wrap=True)
        issues.add_column("issue", overflow="fold")
        style = {"error": "bold red", "warning": "yellow", "info": "dim"}
        for i in r.issues:
            issues.add_row(f"[{style.get(i.severity, '')}]{i.severity}[/]", i.message)
        console.print(issues)

    ops = Table(title="Operators: which runtime runs them")
    for col, just in (("op", "left"), ("count", "right"), ("versions", "left"), ("MACs", "right"),
                      ("TFLM kernel", "left"), ("edgekit AOT", "left")):
        ops.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for o in r.ops:
        ours = "yes" if o.edgekit is None else f"[yellow]no[/]: {o.edgekit}"
        ops.add_row(o.opcode, str(o.count), ",".join(map(str, o.versions)), f"{o.macs:,}",
                    "yes" if o.tflm else "[bold red]no[/]", ours)
    console.print(ops)

    if layers:
        table = Table(title="Layers")
        for col, just in (("#", "right"), ("op", "left"), ("output", "left"), ("MACs", "right"), ("%", "right"),
                          ("other ops", "right"), ("params", "right")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for x in r.layers:
            pct = f"{100.0 * x.macs / r.macs:.1f}" if r.macs else "-"
            table.add_row(str(x.index), x.opcode, str(list(x.output_shape)), f"{x.macs:,}", pct,
                          f"{x.other_ops:,}", f"{x.params:,}")
        console.print(table)
        console.print(f"[dim]{r.macs_note}[/]")

    if r.fit is not None:
        _print_fit(console, r.fit)


def _print_runtimes(console: Any, r: Any) -> None:
    """edgekit's runtime (what 'generate' builds) beside TFLM: arena, flash, latency, each with its source."""
    from rich.table import Table

    figs = {f.runtime: f for f in r.runtimes}
    if not figs:
        return
    chosen = "edgekit" if figs.get("edgekit") is not None and figs["edgekit"].supported else "tflm"
    titles = {"edgekit": "edgekit runtime", "tflm": "TFLM"}
    titles[chosen] += " (generate's choice)"
    table = Table(title="Cost per runtime" + (f" on {r.fit.board}" if r.fit else ""))
    table.add_column("")
    for name in figs:
        table.add_column(titles.get(name, name), justify="right")
    board = r.fit

    def cells(fn: Any) -> list[str]:
        return [fn(f) if f.supported or f.runtime == "tflm" else "cannot run it" for f in figs.values()]

    def flash(f: Any) -> str:
        if f.flash_bytes is None:
            return "-"
        lo, hi = f.flash_bytes
        return _kb(lo) if lo == hi else f"{_kb(lo)} – {_kb(hi)}"

    def fits(f: Any) -> str:
        if f.arena_bytes is None or board is None:
            return "-"
        ok = f.arena_bytes <= board.ram_bytes and (board.flash_bytes is None or f.flash_bytes is None
                                                   or f.flash_bytes[1] <= board.flash_bytes)
        return "[green]yes[/]" if ok else "[red]no[/]"

    table.add_row("arena (RAM)", *cells(lambda f: "-" if f.arena_bytes is None else f"{f.arena_bytes:,} B"))
    table.add_row("flash (model + code)", *cells(flash))
    table.add_row("latency (estimate)", *cells(lambda f: "-" if f.latency_ms is None else f"{f.latency_ms:,.1f} ms"))
    if board is not None:
        table.add_row(f"fits {board.board}", *cells(fits))
    console.print(table)
    for f in figs.values():
        name = titles.get(f.runtime, f.runtime).split(" (")[0]
        if not f.supported and f.notes:
            console.print(f"[dim]{name}: {f.notes[0]}[/]")
            continue
        console.print(f"[dim]{name}: arena {f.arena_source}; flash {f.flash_source}; latency {f.latency_source}[/]")


def _print_fit(console: Any, f: Any) -> None:
    from rich.table import Table

    verdict = {True: "[bold green]fits[/]", False: "[bold red]does not fit[/]", None: "[yellow]unknown[/]"}[f.fits]
    table = Table(title=f"{f.board} ({f.board_name}) with TFLM: {verdict}", show_header=True)
    for col in ("", "needed", "available", "free", "used"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("flash", _kb(f.flash_needed), _kb(f.flash_bytes), _kb(f.flash_free),
                  "-" if f.flash_pct is None else f"{f.flash_pct:.1f} %")
    table.add_row("RAM", _kb(f.ram_needed), _kb(f.ram_bytes), _kb(f.ram_free),
                  "-" if f.ram_pct is None else f"{f.ram_pct:.1f} %")
    console.print(table)
    if f.latency_ms is not None:
        console.print(f"estimated latency: [bold]{f.latency_ms:,.2f} ms[/] ({f.latency_source})")
    for note in f.notes:
        console.print(f"[dim]{note}[/]")


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(d.items())) or "-"
