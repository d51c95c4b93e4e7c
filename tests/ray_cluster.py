"""A local Ray cluster for the tests and benchmarks/sweep.py: a head and worker nodes, each its own
``ray start --block`` (its own raylet, GCS on the head) in its own session, so stopping one takes down exactly the
processes it started (no ``ray stop``, which would kill every Ray process of the machine)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

OBJECT_STORE = str(80 * 1024 * 1024)


class ClusterError(RuntimeError):
    """A node did not come up (the message ends with its log)."""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RayNode:
    """One ``ray start --block`` (a head or a worker node: its own raylet) in its own session; stopping it (SIGTERM,
    then SIGKILL of its process group) takes down every process it started."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        ray_bin = Path(sys.executable).with_name("ray")
        self.log = log
        with open(log, "wb") as f:
            self.proc = subprocess.Popen([str(ray_bin), "start", *args, "--block", "--disable-usage-stats"],
                                         stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_started(self, timeout: float = 120.0) -> bool:
        """True once the node is up; False (the node stopped) when ``ray start`` gave up or took too long."""
        deadline = time.monotonic() + timeout
        while "Ray runtime started" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                return False
            time.sleep(0.3)
        return True

    def session_pids(self) -> list[int]:
        """The processes still running in this node's session."""
        out = []
        for p in Path("/proc").iterdir():
            try:
                if p.name.isdigit() and os.getsid(int(p.name)) == self.proc.pid:
                    out.append(int(p.name))
            except OSError:
                continue
        return out

    def stop(self) -> None:
        """SIGTERM (Ray drains and stops its processes), then SIGKILL to the session's group if any is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while self.session_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.session_pids():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


class Cluster:
    """Nodes on localhost: ``start("head", head=True)`` first (no CPUs: the work goes to the workers), then workers
    with one CPU each; every node gets an 80 MB object store."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.nodes, self.port = root, env, [], free_port()
        self.address = f"127.0.0.1:{self.port}"

    def start(self, name: str, *, head: bool = False, env: dict[str, str] | None = None) -> RayNode:
        """Add a node and wait for it; once more if it did not come up (Ray gives a raylet 30 s to register with
        the head, which a loaded 2-core machine can miss)."""
        for _ in range(2):
            node = self.add(name, head=head, env=env)
            if node.wait_started():
                return node
        raise ClusterError(f"ray start failed twice: {node.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> list[int]:
        """Stop every node, last first; the pids still alive afterwards (none, normally)."""
        for node in reversed(self.nodes):
            node.stop()
        return [pid for node in self.nodes for pid in node.session_pids()]

    def add(self, name: str, *, head: bool = False, env: dict[str, str] | None = None) -> RayNode:
        common = ["--node-ip-address", "127.0.0.1", "--object-store-memory", OBJECT_STORE, "--node-name", name]
        if head:  # no CPUs: the cells go to the worker nodes
            args = ["--head", "--port", str(self.port), "--num-cpus", "0", "--include-dashboard", "false",
                    "--dashboard-port", str(free_port()), "--ray-client-server-port", str(free_port()),
                    "--temp-dir", str(self.root)]
        else:
            args = ["--address", self.address, "--num-cpus", "1"]
        node = RayNode(args + common, self.root.parent / f"{name}.log", env or self.env)
        self.nodes.append(node)
        return node


