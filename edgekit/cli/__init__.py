"""The ``edgekit`` command: a thin click layer over the Python API.

Each verb lives in its own module (``edgekit/cli/<verb>.py``) exposing a click
command named ``cmd``; modules are imported only when their verb runs, so
``edgekit --help`` stays fast and never imports TensorFlow.

Exit codes: 0 ok, 1 error (an :class:`~edgekit.errors.EdgekitError`),
2 usage, 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from edgekit import __version__

# verb -> (module, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "boards": ("edgekit.cli.boards", "List and show board profiles."),
    "carray": ("edgekit.cli.carray", "Write a .tflite model as a 16-byte aligned C/C++ array (model_data.h/.cc)."),
    "convert": ("edgekit.cli.convert", "Convert Keras/SavedModel to int8 or 16x8 .tflite with a quality report."),
    "inspect": ("edgekit.cli.inspect", "Ops, params, MACs, flash, TFLM arena and board fit of a .tflite model."),
    "generate": ("edgekit.cli.generate", "Generate a firmware project for a model and a board."),
    "build": ("edgekit.cli.build", "Build a generated firmware project and report flash/RAM per section."),
    "bench": ("edgekit.cli.bench", "Benchmark firmware on a board (QEMU or serial): latency, memory, energy."),
    "validate": ("edgekit.cli.validate", "Run inputs on the device; compare outputs with the TFLM host interpreter."),
    "compare": ("edgekit.cli.compare", "Compare two benchmark JSON files."),
    "cost": ("edgekit.cli.cost", "Battery life and energy per 1 M inferences of bench results, side by side."),
    "optimize": ("edgekit.cli.optimize", "Compress a Keras model (prune, low-rank, distill, QAT); measure each step."),
    "select": ("edgekit.cli.select", "Measure candidate models on one board; Pareto front and a recommendation."),
    "devices": ("edgekit.cli.devices", "List connected boards, debug probes, UF2 drives and power monitors."),
    "flash": ("edgekit.cli.flash", "Flash a firmware image to a board (pyocd, esptool, uf2, openocd, ...)."),
    "deploy": ("edgekit.cli.deploy", "Model to measured board in one go: convert, generate, build, flash, bench."),
    "sweep": ("edgekit.cli.sweep", "Models x boards x options, each built and benched, locally or on Ray; Pareto."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        return module.cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekit")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option("--boards-dir", "boards_dirs", multiple=True, type=click.Path(file_okay=False),
              help="Extra directory of board profiles (repeatable; also EDGEKIT_BOARDS_PATH).")
@click.pass_context
def main(ctx: click.Context, debug: bool, boards_dirs: tuple[str, ...]) -> None:
    """edgekit: deploy a model to a microcontroller or SBC and measure what it costs there."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["boards_dirs"] = list(boards_dirs)


def run(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, map errors to exit codes, print tracebacks only with --debug."""
    from edgekit.errors import EdgekitError, UsageError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        rc = main.main(args=args, prog_name="edgekit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except EdgekitError as exc:
        if debug:
            raise
        click.echo(f"error: {one_line(exc.message)}", err=True)
        if exc.hint:
            click.echo(f"hint: {one_line(exc.hint)}", err=True)
        return 2 if isinstance(exc, UsageError) else 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return rc if isinstance(rc, int) else 0  # ctx.exit(N) comes back as N without standalone mode


def one_line(text: str) -> str:
    """``text`` with control characters (newlines included) escaped, so that an error naming a value the user
    typed stays on one line (and cannot forge further ``error:`` lines)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def entry() -> None:
    """console_scripts entry point."""
    sys.exit(run())


def echo_json(obj: Any) -> None:
    """Print an object as pretty JSON on stdout (the ``--json`` convention of every command)."""
    import json

    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=_json_default))


def _json_default(obj: Any) -> Any:
    import dataclasses

    import numpy as np

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)
