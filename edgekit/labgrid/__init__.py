"""Boards in labgrid places as edgekit targets: acquire a place, flash, bench and validate through it, release it.

::

    from edgekit.labgrid import acquire

    with acquire("lab-m4-1", coordinator="lab-server:20408") as place:
        place.flash("proj")                 # through the place's loader (emulated boards, see docs/labgrid.md)
        result = place.bench("proj", runs=20)

The place is released when the block exits, whatever the reason (errors, a failing bench, Ctrl-C). The board in
the place is the profile named by the place's ``edgekit_board`` tag (else ``board=`` / the project's board); edgekit
talks to it over the place's ``NetworkSerialPort``. labgrid is imported only here (``pip install 'edgekit[labgrid]'``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from edgekit.labgrid.coordinator import Coordinator, Resource, coordinator_address
from edgekit.labgrid.place import BOARD_TAG, LOADER_NAME, PROBE_TAG, LabgridPlace

__all__ = ["BOARD_TAG", "LOADER_NAME", "PROBE_TAG", "Coordinator", "LabgridPlace", "Resource", "acquire",
           "coordinator_address", "measure_on_place", "place_board"]


@contextlib.contextmanager
def acquire(place: str, *, coordinator: str | None = None, boards_dirs: list[str] | None = None,
            timeout: float = 10.0, wait: float = 0.0) -> Iterator[LabgridPlace]:
    """Acquire labgrid place ``place`` and yield it as a :class:`LabgridPlace`; release it on every exit path.

    Args:
        place: the place's name (or alias).
        coordinator: ``HOST[:PORT]`` of the labgrid coordinator; default ``$LG_COORDINATOR``, else
            ``127.0.0.1:20408``.
        boards_dirs: extra board-profile directories (as ``--boards-dir``).
        timeout: seconds to wait for the coordinator.
        wait: seconds to wait for the place while someone else holds it (0: fail at once, naming the owner).

    Raises:
        ToolMissing: labgrid is not installed.
        DeviceError: no coordinator answers; the place is acquired by someone else (named in the message).
        UsageError: no such place.
    """
    with Coordinator(coordinator, timeout=timeout) as coord:
        coord.acquire(place, wait=wait)
        try:
            rec = coord.place(place)
            yield LabgridPlace(name=rec.name, coordinator=coord.address, owner=coord.identity,
                               board_id=rec.tags.get(BOARD_TAG) or None, resources=coord.resources(rec.name),
                               boards_dirs=boards_dirs, tags=dict(rec.tags))
        except BaseException:
            with contextlib.suppress(Exception):  # the failure in flight is the one to report
                coord.release(place)
            raise
        coord.release(place)


def place_board(place: str, *, coordinator: str | None = None) -> str | None:
    """The board id a place's ``edgekit_board`` tag names (None without the tag), without acquiring the place: what
    a sweep needs to generate a cell's firmware before the place is free."""
    with Coordinator(coordinator) as coord:
        return coord.place(place).tags.get(BOARD_TAG) or None


def measure_on_place(place: str, project_dir: str | os.PathLike[str], *, coordinator: str | None = None,
                     model: Any = None, inputs: Any = None, runs: int = 10, warmup: int = 1, wait: float = 0.0,
                     flash: bool = True, boards_dirs: list[str] | None = None) -> tuple[Any, Any]:
    """One sweep cell on a place: acquire (waiting up to ``wait`` s while it is busy), flash ``project_dir`` when
    the place can load firmware and ``flash``, bench, validate against ``model`` (when given), release.

    Cells on the same place therefore run one after another whatever the caller's parallelism (the coordinator
    serialises them); cells on different places run side by side.

    Returns:
        (BenchResult, ValidationResult or None).
    """
    with acquire(place, coordinator=coordinator, boards_dirs=boards_dirs, wait=wait) as p:
        if flash and p.can_flash:
            p.flash(project_dir)
        result = p.bench(project_dir, runs=runs, warmup=warmup, inputs=inputs)
        checked = p.validate(model, project_dir=project_dir, inputs=inputs) if model is not None else None
    return result, checked
