"""One synchronised conversation with a device: QEMU started for an emulated board, or a real port opened."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edgekit.boards import BoardProfile
from edgekit.errors import UsageError
from edgekit.transport.protocol import Device
from edgekit.transport.qemu import QemuInstance
from edgekit.transport.serial import Link


@dataclass
class Session:
    """What :func:`open_session` hands out."""

    device: Device
    link: Link
    kind: str  # "qemu" or "serial"
    qemu: QemuInstance | None = None

    @property
    def url(self) -> str:
        return self.link.url


@contextlib.contextmanager
def open_session(board: BoardProfile, *, elf: str | os.PathLike[str] | None = None, port: str | None = None,
                 log_dir: str | os.PathLike[str] | None = None, timeout: float = 10.0,
                 infer_timeout: float = 120.0, qemu_args: tuple[str, ...] = ()) -> Iterator[Session]:
    """Start QEMU with ``elf`` (no ``port`` given) or open ``port``, sync, and yield a :class:`Session`.

    QEMU is killed when the block exits, whatever the reason (errors, timeouts, KeyboardInterrupt).
    A real board must already run the firmware: the port is opened as it is. ``qemu_args``: more QEMU arguments
    (e.g. a ``-plugin``), merged with the board's trace arguments (one ``-d`` list).
    """
    logs = Path(log_dir) if log_dir else None
    if port is None:
        if board.qemu is None:
            raise UsageError(f"board '{board.id}' is not emulated: pass --port with the board's serial port",
                             hint="'edgekit devices' lists the boards and serial ports attached to this machine")
        if elf is None:
            raise UsageError("no firmware ELF to run in QEMU")
        qlog = logs / f"{Path(elf).stem}.qemu.log" if logs else None
        from edgekit.gpio import qemu_trace_args

        extra = merge_qemu_args(qemu_trace_args(board), qemu_args)
        with QemuInstance.for_board(board, elf, log_path=qlog, extra_args=extra) as qemu:
            link_log = logs / f"{Path(elf).stem}.serial.log" if logs else None
            with qemu.link(timeout=timeout, log_path=link_log, baudrate=board.serial.baudrate) as link:
                link.sync()
                yield Session(Device(link, infer_timeout=infer_timeout), link, "qemu", qemu)
        return
    link_log = logs / "serial.log" if logs else None
    with Link(port, baudrate=board.serial.baudrate, timeout=timeout, log_path=link_log) as link:
        link.sync()
        yield Session(Device(link, infer_timeout=infer_timeout), link, "serial", None)


def merge_qemu_args(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Concatenate QEMU argument lists, joining every ``-d X`` into one ``-d X,Y`` (QEMU keeps only the last ``-d``).

    >>> merge_qemu_args(("-d", "trace:a"), ("-plugin", "p.so", "-d", "plugin"))
    ('-plugin', 'p.so', '-d', 'trace:a,plugin')
    """
    out: list[str] = []
    logs: list[str] = []
    for g in groups:
        it = iter(g)
        for a in it:
            if a == "-d":
                logs.append(next(it))
            else:
                out.append(a)
    return (*out, "-d", ",".join(logs)) if logs else tuple(out)
