"""A fake edgekit device on a TCP socket that speaks docs/protocol.md, for host-side protocol tests.

It is a stand-in for the firmware, not a model of it: the "model" maps an input to output bytes with a
simple deterministic function, and inference "takes" a configurable number of timer ticks. Faults can be
switched on to test the host's error paths (lost commands at boot, hangs, reboots, no ``ek-bin``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field


def fake_model(data: bytes, out_bytes: int) -> bytes:
    """The fake model: output byte i = (sum of input bytes + 7 i) mod 256."""
    s = sum(data)
    return bytes((s + 7 * i) % 256 for i in range(out_bytes))


@dataclass
class FakeConfig:
    input_bytes: tuple[int, ...] = (64,)
    output_bytes: tuple[int, ...] = (10,)
    ticks: tuple[int, ...] = (1000, 1001, 1000, 1002)  # per-inference ticks, cycled
    timer: tuple[str, int] = ("systick", 25_000_000)
    arena: tuple[int, int] = (4000, 4096)
    stack: tuple[int, int] = (1200, 8192)
    line_max: int = 256
    board: str = "qemu-cortex-m4"
    boot_noise: bytes = b"\x00\xffk-ready\r\nm-boot-[edgekit]\r\nm-ready\r\n"
    boot_delay: float = 0.05
    ignore_first: int = 0          # commands silently dropped after each connect (device still booting)
    hang_after: int | None = None  # stop answering after this many commands
    reboot_on: str | None = None   # a command prefix that makes the device print its boot banner mid-reply
    support_bin: bool = True
    max_laps: int = 64
    chunk: int = 64                # bytes per m-ek-out line
    clock: tuple[int, str] | None = None  # m-ek-clock-[<hz> <state>] in ek-info (None: the line is absent)
    received: list[str] = field(default_factory=list)


class FakeDevice:
    """Serve the protocol on 127.0.0.1:<free port>; ``url`` is the ``socket://`` URL for a Link."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.cfg = config or FakeConfig()
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(1)
        self.port = self._srv.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        # device state (survives reconnects, like a real board)
        self.input = bytearray()
        self.expect = 0
        self.loaded = False
        self.outputs: list[bytes] = []
        self.laps: list[int] = []
        self.commands = 0

    def __enter__(self) -> FakeDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self.drop()
        with contextlib.suppress(OSError):
            self._srv.close()
        self._thread.join(timeout=5)

    def drop(self) -> None:
        """Close the current connection from the device side (a cable pulled, a crash)."""
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    # ------------------------------------------------------------------ server

    def _serve(self) -> None:
        self._srv.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._conn = conn
            with contextlib.suppress(OSError):
                self._session(conn)
            self._conn = None
            with contextlib.suppress(OSError):
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        if self.connections == 1 and self.cfg.boot_noise:
            time.sleep(self.cfg.boot_delay)  # the guest boots once the host is connected (QEMU wait=on)
            conn.sendall(self.cfg.boot_noise)
        ignore = self.cfg.ignore_first
        line = bytearray()
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            if not data:
                return
            i = 0
            while i < len(data):
                if self.expect and self.loaded is False and self._bin_mode:
                    take = min(self.expect - len(self.input), len(data) - i)
                    self.input += data[i:i + take]
                    i += take
                    if len(self.input) == self.expect:
                        self._bin_mode = False
                        self.loaded = True
                        self._send(conn, ["m-load-done", "m-ready"])
                    continue
                ch = data[i:i + 1]
                i += 1
                if ch in (b"\r", b"\n") or (ch == b" " and not line):
                    continue
                if ch != b"%":
                    line += ch
                    continue
                cmd = line.decode("ascii", "replace")
                line = bytearray()
                self.cfg.received.append(cmd)
                if ignore > 0:
                    ignore -= 1
                    continue
                self.commands += 1
                if self.cfg.hang_after is not None and self.commands > self.cfg.hang_after:
                    continue
                if len(cmd) > self.cfg.line_max:
                    self._send(conn, ["e-[line too long]", "m-ready"])
                    continue
                self._send(conn, self._handle(cmd))

    _bin_mode = False

    @staticmethod
    def _send(conn: socket.socket, lines: list[str]) -> None:
        if lines:
            conn.sendall("".join(f"{ln}\r\n" for ln in lines).encode("ascii"))

    # ------------------------------------------------------------------ commands

    def _handle(self, cmd: str) -> list[str]:
        cfg = self.cfg
        parts = cmd.split()
        verb = parts[0] if parts else ""
        if cfg.reboot_on and cmd.startswith(cfg.reboot_on):
            return ["m-boot-[edgekit]", "m-ready"]
        if verb == "name":
            return ["m-name-dut-[edgekit]", "m-ready"]
        if verb == "profile":
            return ["m-profile-[edgekit-0.1.0]", "m-model-[fake]", "m-ready"]
        if verb == "ek-info":
            return ["m-ek-runtime-[edgekit 0.1.0]", "m-ek-model-[fake_model 0123456789abcdef]",
                    f"m-ek-arena-[{cfg.arena[0]} {cfg.arena[1]}]",
                    "m-ek-inputs-[" + ",".join(map(str, cfg.input_bytes)) + "]",
                    "m-ek-outputs-[" + ",".join(map(str, cfg.output_bytes)) + "]",
                    f"m-ek-timer-[{cfg.timer[0]} {cfg.timer[1]}]",
                    *([f"m-ek-clock-[{cfg.clock[0]} {cfg.clock[1]}]"] if cfg.clock else []),
                    f"m-ek-line-max-[{cfg.line_max}]", f"m-ek-board-[{cfg.board}]", "m-ready"]
        if verb == "db" and len(parts) == 3 and parts[1] == "load":
            return self._load(parts[2], bin_mode=False)
        if verb == "db" and len(parts) == 2:
            return self._hex(parts[1])
        if verb == "ek-bin" and cfg.support_bin and len(parts) == 2:
            reply = self._load(parts[1], bin_mode=True)
            return reply
        if verb == "infer":
            return self._infer(parts[1:])
        if verb == "results":
            return [self._results(), "m-ready"]
        if verb == "ek-laps":
            return [f"m-ek-laps-n-[{len(self.laps)}]", "m-ek-laps-[" + ",".join(map(str, self.laps)) + "]", "m-ready"]
        if verb == "ek-stack":
            return [f"m-ek-stack-[{cfg.stack[0]} {cfg.stack[1]}]", "m-ready"]
        if verb == "ek-canary":
            return ["m-ek-canary-[ok]", "m-ready"]
        if verb == "ek-out":
            idx = int(parts[1]) if len(parts) > 1 else 0
            if idx >= len(cfg.output_bytes):
                return [f"e-[ek-out: no output {idx}]", "m-ready"]
            if not self.outputs:
                return ["e-[ek-out: no inference yet]", "m-ready"]
            out = self.outputs[idx]
            lines = [f"m-ek-out-{idx}-[{out[i:i + cfg.chunk].hex()}]" for i in range(0, len(out), cfg.chunk)]
            return [*lines, f"m-ek-out-{idx}-end", "m-ready"]
        return [f"e-[unknown command: {cmd}]", "m-ready"]

    def _load(self, n_text: str, *, bin_mode: bool) -> list[str]:
        n = int(n_text)
        total = sum(self.cfg.input_bytes)
        if n <= 0:
            return ["e-[db load: size must be > 0]", "m-ready"]
        if n > total:
            return [f"e-[db load: {n} bytes exceeds buffer of {total}]", "m-ready"]
        self.input = bytearray()
        self.expect = n
        self.loaded = False
        if bin_mode:
            self._bin_mode = True
            return [f"m-ek-bin-ready-{n}"]  # m-load-done and m-ready follow the raw bytes
        return [f"m-[Expecting {n} bytes]", "m-ready"]

    def _hex(self, text: str) -> list[str]:
        if not self.expect or self.loaded:
            return ["e-[db: no load in progress]", "m-ready"]
        try:
            data = bytes.fromhex(text)
        except ValueError:
            return ["e-[db: malformed hex]", "m-ready"]
        if len(self.input) + len(data) > self.expect:
            return ["e-[db: too many bytes]", "m-ready"]
        self.input += data
        if len(self.input) == self.expect:
            self.loaded = True
            return ["m-load-done", "m-ready"]
        return ["m-ready"]

    def _infer(self, args: list[str]) -> list[str]:
        n = int(args[0]) if args else 1
        w = int(args[1]) if len(args) > 1 else 0
        if not self.loaded:
            return ["e-[infer: no input loaded]", "m-ready"]
        self.outputs = [fake_model(bytes(self.input), nb) for nb in self.cfg.output_bytes]
        ticks = self.cfg.ticks
        self.laps = [ticks[k % len(ticks)] for k in range(min(n, self.cfg.max_laps))]
        t_end = sum(ticks[k % len(ticks)] for k in range(n)) // 25
        return [f"m-warmup-start-{w}", "m-warmup-done", f"m-infer-start-{n}", "m-lap-us-0", f"m-lap-us-{t_end}",
                "m-infer-done", self._results(), "m-ready"]

    def _results(self) -> str:
        out = self.outputs[0] if self.outputs else b""
        return "m-results-[" + ",".join(f"{(b - 256 if b > 127 else b) / 128:.3f}" for b in out) + "]"
