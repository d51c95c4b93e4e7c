"""A labgrid lab on localhost for the tests: a real coordinator and exporter, emulated boards behind them.

``Lab`` starts ``labgrid-coordinator`` on a free port, one ``python -m edgekit.labgrid.emulator`` per board
(QEMU behind a stable serial port, with a firmware loader), and ``labgrid-exporter`` offering each board's serial
port as a ``NetworkSerialPort`` (and its loader as a ``NetworkService``); places are made with ``labgrid-client``.
``close()`` ends every process it started (SIGTERM, then SIGKILL of the process group) and checks that no QEMU of
the lab is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _program(name: str) -> str:
    exe = BIN / name
    return str(exe) if exe.exists() else name


class Lab:
    """Coordinator + exporter + emulated boards in ``work``; see the module docstring."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "LG_COORDINATOR": self.address,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self.boards: dict[str, tuple[int, int]] = {}
        self._start("coordinator", [_program("labgrid-coordinator"), "-l", self.address])
        self._wait_port(self.port, "labgrid-coordinator")

    def _start(self, name: str, argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        log = open(self.work / f"{name}.log", "wb")
        p = subprocess.Popen(argv, cwd=self.work, env=self.env, stdin=subprocess.DEVNULL, stdout=kw.pop("stdout", log),
                             stderr=log, start_new_session=True)
        self.procs.append(p)
        return p

    def _wait_port(self, port: int, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not listen on {port}; logs in {self.work}")

    def add_board(self, group: str, board: str = "qemu-cortex-m4", elf: Path | None = None) -> tuple[int, int]:
        """Start an emulated board (optionally running ``elf``); returns (serial port, loader port)."""
        argv = [sys.executable, "-m", "edgekit.labgrid.emulator", "--board", board, "--work-dir",
                str(self.work / group)]
        if elf is not None:
            argv += ["--elf", str(elf)]
        p = self._start(f"board-{group}", argv, stdout=subprocess.PIPE)
        line = p.stdout.readline().decode() if p.stdout else ""
        if not line.startswith("ready "):
            raise RuntimeError(f"emulated board {group} did not start: {line!r}; log {self.work}/board-{group}.log")
        fields = dict(kv.split("=") for kv in line.split()[1:])
        self.boards[group] = (int(fields["serial"]), int(fields["loader"]))
        return self.boards[group]

    def start_exporter(self, *, loaders: tuple[str, ...] = ()) -> None:
        """Export every board's serial port (and, for the groups in ``loaders``, its loader); wait until the
        coordinator lists them."""
        lines = []
        for group, (serial, loader) in self.boards.items():
            lines += [f"{group}:", "  NetworkSerialPort:", "    host: 127.0.0.1", f"    port: {serial}",
                      "    protocol: raw", "    speed: 115200"]
            if group in loaders:
                lines += ["  edgekit-loader:", "    cls: NetworkService", "    address: 127.0.0.1",
                          f"    port: {loader}", "    username: edgekit"]
        (self.work / "exporter.yaml").write_text("\n".join(lines) + "\n")
        self._start("exporter", [_program("labgrid-exporter"), "-c", self.address, "-n", "ek-exporter",
                                 "--hostname", "127.0.0.1", str(self.work / "exporter.yaml")])
        from edgekit.labgrid import Coordinator

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Coordinator(self.address) as c:
                groups = c.session.resources.get("ek-exporter", {})
                if all(g in groups for g in self.boards):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the exporter did not register its resources; logs in {self.work}")

    def client(self, *args: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``labgrid-client ARGS`` (as ``user`` = ``host/name`` when given)."""
        env = dict(self.env)
        if user:
            env["LG_HOSTNAME"], env["LG_USERNAME"] = user.split("/")
        r = subprocess.run([_program("labgrid-client"), "-x", self.address, *args], env=env, capture_output=True,
                           text=True, timeout=60)
        if check and r.returncode:
            raise RuntimeError(f"labgrid-client {' '.join(args)}: {r.stderr.strip()}")
        return r

    def add_place(self, name: str, group: str, board_tag: str | None = None) -> None:
        """Create place ``name`` matching every resource of ``group`` (the coordinator's requests, as
        ``labgrid-client create / add-match / set-tags`` send them: a subprocess each would cost ~1 s)."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        from edgekit.labgrid import Coordinator

        with Coordinator(self.address) as c:
            c.request("AddPlace", pb.AddPlaceRequest(name=name))
            c.request("AddPlaceMatch", pb.AddPlaceMatchRequest(placename=name, pattern=f"ek-exporter/{group}/*"))
            if board_tag:
                c.request("SetPlaceTags", pb.SetPlaceTagsRequest(placename=name, tags={"edgekit_board": board_tag}))
            c.sync()

    def owner(self, place: str) -> str | None:
        """Who holds ``place`` now, asked afresh from the coordinator."""
        from edgekit.labgrid import Coordinator

        with Coordinator(self.address) as c:
            return c.owner(place)

    def qemus(self) -> list[int]:
        """PIDs of QEMU processes running an image from this lab's directory."""
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    cmd = (d / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if cmd and cmd[0].endswith(b"qemu-system-arm") and any(str(self.work).encode() in a for a in cmd):
                    out.append(int(d.name))
        return out

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
            if p.stdout:
                p.stdout.close()
        deadline = time.monotonic() + 5
        while self.qemus() and time.monotonic() < deadline:
            time.sleep(0.05)
