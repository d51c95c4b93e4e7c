"""Where a sweep's jobs run: on this machine's cores (a process pool, no service) or as Ray tasks on a Ray cluster
(:mod:`edgekit.sweeps.ray_executor`). Both take the same jobs and report each one once, with the attempts a dead
worker cost; a job's own errors are in its result (the worker functions catch them), so only a worker that dies
is retried.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgekit.errors import ToolMissing

__all__ = ["Done", "Job", "LocalExecutor", "next_job"]


@dataclass
class Job:
    """One function call to run on a worker: a cell or a model preparation."""

    id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    retries: list[dict[str, Any]] = field(default_factory=list)  # the attempts that died, with why
    group: str | None = None  # jobs of one group (a labgrid place) run one after another


def next_job(queue: list[Job], busy: set[str]) -> Job | None:
    """Take the first queued job whose group is not running (None: every queued job waits for its group)."""
    for i, job in enumerate(queue):
        if job.group is None or job.group not in busy:
            return queue.pop(i)
    return None


# called once per job: (job, the function's result or None when every attempt died, the last error or None)
Done = Callable[[Job, Any, "str | None"], None]


class LocalExecutor:
    """Jobs in a process pool on this machine (``jobs`` workers, default: the CPU count)."""

    local = True

    def __init__(self, jobs: int | None = None, max_retries: int = 2) -> None:
        self.workers = max(1, jobs or os.cpu_count() or 1)
        self.max_retries = max_retries

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "workers": self.workers, "max_retries": self.max_retries}

    def check(self, boards: list[str], runtimes: list[str], boards_dirs: list[str] | None = None,
              labgrid: bool = False) -> list[dict[str, Any]]:
        """This machine has what the cells need, else ToolMissing naming each missing piece."""
        from edgekit import __version__
        from edgekit.sweeps.cell import check_node

        info = check_node(boards, runtimes, __version__, boards_dirs, labgrid)
        if info["missing"]:
            raise ToolMissing(f"this machine cannot run the sweep's cells: it lacks {'; '.join(info['missing'])}",
                              hint="install them (scripts/setup.sh installs the toolchain and QEMU)")
        return [info]

    def run(self, jobs: list[Job], done: Done) -> None:
        """Run every job, at most ``workers`` at once; a worker process that dies breaks the pool: the jobs in
        flight are retried on a new pool (each up to ``max_retries`` times) and the others go on."""
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        queue = list(jobs)
        ctx = multiprocessing.get_context("spawn")  # no fork of a driver that may hold threads
        while queue:
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
                inflight: dict[Any, Job] = {}
                broken: list[Job] = []
                refused = False  # the pool broke before a submit: wait for what is in flight, then a new pool
                while (queue or inflight) and not broken:
                    while queue and len(inflight) < self.workers and not refused:
                        job = next_job(queue, {j.group for j in inflight.values() if j.group})
                        if job is None:
                            break
                        try:
                            inflight[pool.submit(job.fn, *job.args)] = job
                        except BrokenProcessPool:  # a worker died since the last wait: this job never started
                            queue.insert(0, job)
                            refused = True
                    if not inflight:
                        break
                    finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        job = inflight.pop(fut)
                        try:
                            value = fut.result()
                        except BrokenProcessPool:
                            broken.append(job)
                            continue
                        except Exception as exc:  # (e.g. a result that would not pickle)
                            done(job, None, f"{type(exc).__name__}: {exc}")
                            continue
                        done(job, value, None)
                if broken:  # every job still in flight died with the pool
                    broken += list(inflight.values())
                    inflight.clear()
            for job in broken:
                why = "a local worker process died (this job's or one running beside it; the pool broke)"
                job.retries.append({"attempt": len(job.retries) + 1, "error": why})
                if len(job.retries) > self.max_retries:
                    done(job, None, why)
                else:
                    queue.insert(0, job)
