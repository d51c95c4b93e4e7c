"""An emulated board a labgrid exporter can offer: QEMU behind a stable serial port, plus a firmware loader.

A real board in a labgrid place keeps its serial port while it is re-flashed. QEMU cannot: it takes its firmware
on its command line and its UART socket dies with it. ``python -m edgekit.labgrid.emulator --board ID`` is the
board's stand-in on the exporter host:

- a **serial port**: a TCP port that stays up (the place's ``NetworkSerialPort``, ``protocol: raw``); each client
  connection is joined to the UART of the QEMU currently running (QEMU's ``-serial tcp:...,server=on,wait=on``:
  the guest starts when the first client connects, and a client may disconnect and reconnect);
- a **loader**: a second TCP port (the place's ``NetworkService`` named ``edgekit-loader``) that takes an ELF --
  ``load <bytes>\\n`` then the bytes, answered ``ok <sha256>\\n`` or ``error <why>\\n`` -- and restarts QEMU with
  it, as flashing resets a board; ``info\\n`` answers ``firmware <sha256>|none <name>\\n``.

It prints ``ready serial=PORT loader=PORT`` once both listen. QEMU is killed when the server ends (SIGTERM, SIGINT,
or its parent dying). See ``docs/labgrid.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from edgekit.errors import DeviceError, EdgekitError

MAX_ELF_BYTES = 64 << 20
_CHUNK = 65536


def _listen(host: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)
    return s


def _pump(src: socket.socket, dst: socket.socket, done: threading.Event) -> None:
    """Copy bytes until either side closes, then mark the pair done."""
    try:
        while not done.is_set():
            data = src.recv(_CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        done.set()
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _connect_uart(qemu: Any, timeout: float = 10.0) -> socket.socket | None:
    """Connect to QEMU's UART socket, waiting while a just-started QEMU begins to listen (None if it died)."""
    deadline = time.monotonic() + timeout
    while qemu.poll() is None:
        try:
            return socket.create_connection(("127.0.0.1", qemu.port), timeout=timeout)
        except OSError:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
    return None


class EmulatedBoard:
    """QEMU running the last loaded ELF, reachable through a serial port that outlives it.

    Args:
        board: the board profile (must have a ``qemu`` section).
        host: the address both ports listen on.
        serial_port / loader_port: TCP ports (0: any free one; read :attr:`serial_port` afterwards).
        work_dir: where loaded ELFs and QEMU's logs go.
        elf: firmware to run from the start (None: no firmware until one is loaded).
    """

    def __init__(self, board: Any, *, host: str = "127.0.0.1", serial_port: int = 0, loader_port: int = 0,
                 work_dir: str | os.PathLike[str] | None = None, elf: str | os.PathLike[str] | None = None) -> None:
        if board.qemu is None:
            raise DeviceError(f"board '{board.id}' has no QEMU stand-in: the emulated board server runs qemu-* "
                              "boards", hint="'edgekit boards list' shows the emulated boards")
        self.board = board
        self.host = host
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="edgekit-emulated-board-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._serial = _listen(host, serial_port)
        self._loader = _listen(host, loader_port)
        self.serial_port = int(self._serial.getsockname()[1])
        self.loader_port = int(self._loader.getsockname()[1])
        self._lock = threading.RLock()  # close() may run in a signal handler while load() holds it
        self._qemu: Any = None
        self._sha = "none"
        self._name = ""
        self._client_done: threading.Event | None = None
        self._loads = 0
        self._stop = threading.Event()
        if elf is not None:
            self.load(Path(elf).read_bytes(), Path(elf).name)

    # ------------------------------------------------------------------ firmware

    def load(self, data: bytes, name: str = "firmware.elf") -> str:
        """Restart QEMU with ``data`` (an ELF); returns its sha256. The connected serial client is dropped."""
        if data[:4] != b"\x7fELF":
            raise DeviceError("not an ELF image")
        from edgekit.transport.qemu import QemuInstance

        with self._lock:
            self._stop_qemu()
            self._loads += 1
            elf = self.work_dir / f"{self._loads:03d}-{Path(name).name}"
            elf.write_bytes(data)
            qemu = QemuInstance.for_board(self.board, elf, log_path=elf.with_suffix(".qemu.log"))
            qemu.start()
            self._qemu, self._sha, self._name = qemu, hashlib.sha256(data).hexdigest(), elf.name
            return self._sha

    def _stop_qemu(self) -> None:
        if self._client_done is not None:
            self._client_done.set()
        if self._qemu is not None:
            self._qemu.stop()
            self._qemu = None

    def close(self) -> None:
        """Stop QEMU and both listeners."""
        self._stop.set()
        with self._lock:
            self._stop_qemu()
        for s in (self._serial, self._loader):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept() (close alone does not, on Linux)
            with contextlib.suppress(OSError):
                s.close()

    # ------------------------------------------------------------------ serving

    def serve_serial(self) -> None:
        """Accept serial clients one at a time and join each to QEMU's UART (runs until :meth:`close`)."""
        while not self._stop.is_set():
            try:
                client, _ = self._serial.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                qemu = self._qemu
                busy = self._client_done is not None and not self._client_done.is_set()
            if qemu is None or busy or qemu.poll() is not None:
                client.close()  # no firmware running (or the port is in use): the client sees the port close
                continue
            uart = _connect_uart(qemu)
            if uart is None:
                client.close()
                continue
            uart.settimeout(None)
            uart.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            done = threading.Event()
            with self._lock:
                self._client_done = done
            for a, b in ((client, uart), (uart, client)):
                threading.Thread(target=_pump, args=(a, b, done), daemon=True).start()

    def serve_loader(self) -> None:
        """Answer loader requests (runs in the calling thread until :meth:`close`; QEMU is started from it)."""
        while not self._stop.is_set():
            try:
                conn, _ = self._loader.accept()
            except OSError:
                return
            conn.settimeout(30.0)  # a stalled client must not hold the loader
            with conn, conn.makefile("rwb") as f:
                try:
                    reply = self._request(f)
                except (EdgekitError, OSError, ValueError) as exc:
                    reply = f"error {' '.join(str(exc).split())}"
                with contextlib.suppress(OSError):
                    f.write(reply.encode() + b"\n")
                    f.flush()

    def _request(self, f: Any) -> str:
        words = f.readline(256).decode("ascii", "replace").split()
        if words[:1] == ["info"]:
            return f"firmware {self._sha} {self._name or '-'}"
        if words[:1] != ["load"] or len(words) not in (2, 3):
            raise ValueError(f"unknown request {' '.join(words)[:40]!r} (expected 'load N [NAME]' or 'info')")
        size = int(words[1])
        if not 0 < size <= MAX_ELF_BYTES:
            raise ValueError(f"image size {size} out of range (1..{MAX_ELF_BYTES})")
        data = f.read(size)
        if len(data) != size:
            raise ValueError(f"image truncated: {len(data)} of {size} bytes arrived")
        return f"ok {self.load(data, words[2] if len(words) == 3 else 'firmware.elf')}"


def load_firmware(host: str, port: int, elf: str | os.PathLike[str], *, timeout: float = 30.0) -> str:
    """Send ``elf`` to an emulated board's loader; returns the sha256 it reports (DeviceError on refusal)."""
    data = Path(elf).read_bytes()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s, s.makefile("rwb") as f:
            f.write(f"load {len(data)} {Path(elf).name.replace(' ', '_')}\n".encode() + data)
            f.flush()
            reply = f.readline(512).decode("ascii", "replace").strip()
    except OSError as exc:
        raise DeviceError(f"emulated board loader {host}:{port}: {exc.strerror or exc}",
                          hint="is 'python -m edgekit.labgrid.emulator' running on the exporter host?") from None
    if not reply.startswith("ok "):
        raise DeviceError(f"emulated board loader {host}:{port} refused {Path(elf).name}: {reply or 'no answer'}")
    return reply[3:].strip()


def main(argv: list[str] | None = None) -> int:
    """``python -m edgekit.labgrid.emulator --board ID [--serial-port N] [--loader-port N] [--elf FW.elf]``."""
    ap = argparse.ArgumentParser(prog="python -m edgekit.labgrid.emulator", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="qemu-cortex-m4", help="an emulated board id (default: qemu-cortex-m4)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    ap.add_argument("--serial-port", type=int, default=0, help="TCP port of the serial line (0: any free)")
    ap.add_argument("--loader-port", type=int, default=0, help="TCP port of the firmware loader (0: any free)")
    ap.add_argument("--elf", help="firmware to run from the start")
    ap.add_argument("--work-dir", help="where loaded images and QEMU logs go (default: a temporary directory)")
    args = ap.parse_args(argv)
    from edgekit.boards import load_board

    try:
        board = EmulatedBoard(load_board(args.board), host=args.host, serial_port=args.serial_port,
                              loader_port=args.loader_port, work_dir=args.work_dir, elf=args.elf)
    except EdgekitError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1

    def _end(signum: int, frame: Any) -> None:
        board.close()

    signal.signal(signal.SIGTERM, _end)
    signal.signal(signal.SIGINT, _end)
    threading.Thread(target=board.serve_serial, daemon=True).start()
    print(f"ready serial={board.serial_port} loader={board.loader_port}", flush=True)
    try:
        board.serve_loader()
    finally:
        board.close()
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
