"""Links to a device running edgekit firmware: a serial port or QEMU's UART on a TCP socket.

Both are reached through ``serial.serial_for_url`` (``/dev/ttyACM0``, ``COM3`` or ``socket://127.0.0.1:PORT``),
so the benchmark and the validator run the same code path on an emulated and on a real board.
The wire protocol is described in ``docs/protocol.md``.
"""

from __future__ import annotations

from edgekit.transport.protocol import Device, DeviceInfo, InferReply
from edgekit.transport.qemu import QemuInstance
from edgekit.transport.serial import Link
from edgekit.transport.session import Session, open_session

__all__ = ["Device", "DeviceInfo", "InferReply", "Link", "QemuInstance", "Session", "open_session"]
