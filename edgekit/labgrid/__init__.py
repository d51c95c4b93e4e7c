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
from collections.abc import Iterator

from edgekit.labgrid.coordinator import Coordinator, Resource, coordinator_address
from edgekit.labgrid.place import BOARD_TAG, LOADER_NAME, LabgridPlace

__all__ = ["BOARD_TAG", "LOADER_NAME", "Coordinator", "LabgridPlace", "Resource", "acquire", "coordinator_address"]


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
                               boards_dirs=boards_dirs)
        except BaseException:
            with contextlib.suppress(Exception):  # the failure in flight is the one to report
                coord.release(place)
            raise
        coord.release(place)
