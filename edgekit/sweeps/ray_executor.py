"""A sweep's jobs as Ray tasks on a Ray cluster (``edgekit sweep --ray auto|ADDRESS``); Ray is imported here only.

Before anything is scheduled, a check runs on every alive node with CPUs (pinned to it): edgekit's version, the
boards, the toolchain and QEMU; a node that lacks one is named in the error. Each job is a task with one CPU.

Retries: Ray re-runs a task whose worker died on its own (``max_retries``), but tells neither the task nor the
driver that it did without the state API (``ray[default]``'s dashboard). So the tasks are submitted with
``max_retries=0`` and edgekit resubmits a job whose worker or node died (``WorkerCrashedError``,
``NodeDiedError``, a lost object...), up to ``max_retries`` times, recording each lost attempt in the job's row.
"""

from __future__ import annotations

from typing import Any

from edgekit.errors import ToolMissing, UsageError
from edgekit.sweeps.executors import Done, Job, next_job

__all__ = ["RayExecutor"]

CHECK_TIMEOUT_S = 120.0
_BIG = 64 * 1024  # byte arguments above this go to the object store once and travel by reference


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ToolMissing("--ray needs the 'ray' package", hint="pip install 'edgekit[ray]' (or pip install "
                                                                "ray==2.60.0) on the driver and every node") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast when nothing listens at ``HOST:PORT`` (``ray.init`` would retry for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(f"--ray {address}: no Ray cluster there ({exc.strerror or exc})",
                         hint="start one with 'ray start --head --port PORT' or give the head's GCS address "
                              "(HOST:PORT, as 'ray start' prints it)") from None


class RayExecutor:
    """Jobs as Ray tasks on the cluster at ``address`` (``auto``: the one ``ray start`` left on this machine, or
    ``RAY_ADDRESS``)."""

    local = False

    def __init__(self, address: str = "auto", max_retries: int = 2) -> None:
        self.address = address
        self.max_retries = max_retries
        self.ray = _import_ray()
        self._owned = False
        self.nodes: list[dict[str, Any]] = []

    def describe(self) -> dict[str, Any]:
        return {"kind": "ray", "address": self.address, "workers": int(sum(n["cpus"] for n in self.nodes)),
                "nodes": self.nodes, "max_retries": self.max_retries, "ray_version": self.ray.__version__}

    def __enter__(self) -> RayExecutor:
        ray = self.ray
        if not ray.is_initialized():
            _probe(self.address)
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level="warning")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UsageError(f"--ray {self.address}: no Ray cluster reachable ({' '.join(str(exc).split())[:300]})",
                                 hint="start one with 'ray start --head' (then --ray auto) or give the head's "
                                      "address, e.g. --ray 10.0.0.5:6379") from None
            self._owned = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            self.ray.shutdown()
            self._owned = False

    def _alive(self) -> list[dict[str, Any]]:
        return [n for n in self.ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]

    def check(self, boards: list[str], runtimes: list[str], boards_dirs: list[str] | None = None,
              labgrid: bool = False) -> list[dict[str, Any]]:
        """Run :func:`edgekit.sweeps.cell.check_node` on every node with CPUs; ToolMissing naming each node that lacks
        something (and what), or that does not answer."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from edgekit import __version__
        from edgekit.sweeps.cell import check_node

        ray = self.ray
        nodes = self._alive()
        if not nodes:
            raise UsageError(f"the Ray cluster at {self.address} has no alive node with CPUs",
                             hint="add workers with 'ray start --address HEAD:PORT'")
        remote = ray.remote(num_cpus=0, max_retries=0)(check_node)
        refs = {remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(boards, runtimes, __version__, boards_dirs, labgrid): n for n in nodes}
        _, late = ray.wait(list(refs), num_returns=len(refs), timeout=CHECK_TIMEOUT_S)
        problems, infos = [], []
        for ref in refs:
            n = refs[ref]
            name = f"ray node {n.get('NodeName') or n.get('NodeManagerAddress')} (id {n['NodeID'][:12]})"
            if ref in late:
                problems.append(f"{name}: no answer to the check within {CHECK_TIMEOUT_S:.0f} s")
                continue
            try:
                info = ray.get(ref)
            except Exception as exc:  # (e.g. edgekit not importable there)
                problems.append(f"{name}: the check failed: {' '.join(str(exc).split())[:300]}")
                continue
            infos.append({"node_id": n["NodeID"], "address": n.get("NodeManagerAddress"),
                          "cpus": n["Resources"].get("CPU", 0), "host": info["host"]})
            if info["missing"]:
                problems.append(f"{name} on {info['host']} lacks {'; '.join(info['missing'])}")
        for ref in late:
            ray.cancel(ref, force=True)
        if problems:
            raise ToolMissing("the Ray cluster cannot run the sweep's cells: " + " | ".join(problems),
                              hint="install what is missing on those nodes (scripts/setup.sh: toolchain and QEMU; "
                                   "pip install edgekit[ray]) or take them out of the cluster")
        self.nodes = infos
        return infos

    def run(self, jobs: list[Job], done: Done) -> None:
        """Submit every job; report each as it finishes; resubmit one whose worker or node died."""
        ray = self.ray

        puts: dict[int, Any] = {}

        def ref_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
            out = []
            for a in args:
                if isinstance(a, bytes) and len(a) > _BIG:
                    if id(a) not in puts:
                        puts[id(a)] = ray.put(a)
                    a = puts[id(a)]
                out.append(a)
            return tuple(out)

        remotes: dict[Any, Any] = {}

        def submit(job: Job) -> Any:
            if job.fn not in remotes:
                remotes[job.fn] = ray.remote(num_cpus=1, max_retries=0)(job.fn)
            return remotes[job.fn].remote(*ref_args(job.args))

        queue, pending = list(jobs), {}

        def submit_ready() -> None:  # every queued job whose group (labgrid place) has nothing in flight
            while (job := next_job(queue, {j.group for j in pending.values() if j.group})) is not None:
                pending[submit(job)] = job

        submit_ready()
        try:
            self._collect(pending, queue, submit_ready, done)
        finally:  # interrupted (Ctrl-C) or failed: the cluster does not go on with the rest
            for ref in pending:
                ray.cancel(ref, force=True)

    def _collect(self, pending: dict[Any, Job], queue: list[Job], submit_ready: Any, done: Done) -> None:
        """Until nothing is in flight: report each finished task; a job whose worker or node died goes back to the
        front of the queue (or fails after ``max_retries``); then submit what may run now."""
        ray = self.ray
        from ray import exceptions as rex

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    value = ray.get(ref)
                except rex.RayTaskError as exc:  # the function itself raised: not a worker's death
                    done(job, None, " ".join(str(exc).split())[-500:])
                    continue
                except rex.RayError as exc:  # the worker, its node or the object is gone
                    why = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                    job.retries.append({"attempt": len(job.retries) + 1, "error": why})
                    if len(job.retries) > self.max_retries:
                        done(job, None, why)
                    else:
                        queue.insert(0, job)
                    continue
                done(job, value, None)
            submit_ready()
