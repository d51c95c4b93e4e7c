"""``--labgrid PLACE`` / ``--coordinator HOST:PORT``: the options of the verbs that can act on a board in a labgrid
place (flash, bench, validate, deploy), and the acquire around the verb."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import click


def labgrid_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--labgrid`` and ``--coordinator`` (parameters ``labgrid_place``, ``coordinator``)."""
    f = click.option("--coordinator", default=None, metavar="HOST:PORT",
                     help="labgrid coordinator (default: $LG_COORDINATOR, else 127.0.0.1:20408).")(f)
    return click.option("--labgrid", "labgrid_place", default=None, metavar="PLACE",
                        help="Use the board in this labgrid place: acquired for the command, released after it.")(f)


@contextlib.contextmanager
def place_or_none(place: str | None, coordinator: str | None, *, port: str | None = None,
                  boards_dirs: list[str] | None = None) -> Iterator[Any]:
    """The acquired place (released on exit), or None without ``--labgrid``."""
    from edgekit.errors import UsageError

    if place is None:
        if coordinator is not None:
            raise UsageError("--coordinator needs --labgrid PLACE")
        yield None
        return
    if port is not None:
        raise UsageError("--labgrid and --port both name the board's serial port: pass one",
                         hint="with --labgrid, edgekit uses the place's NetworkSerialPort")
    from edgekit.labgrid import acquire

    old = None
    if threading.current_thread() is threading.main_thread():  # SIGTERM (kill, a CI runner) ends like Ctrl-C:
        old = signal.signal(signal.SIGTERM, _interrupt)         # the place is released on the way out
    try:
        with acquire(place, coordinator=coordinator, boards_dirs=boards_dirs) as p:
            yield p
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
