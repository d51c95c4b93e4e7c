"""Child process for :mod:`edgekit.tflm`: runs the TFLM host interpreter where an abort cannot hurt the caller.

Run as ``python _tflm_child.py WORKDIR`` (by path: it imports nothing from edgekit). WORKDIR holds
``request.json`` and ``model.tflite`` (and ``inputs.npz`` for ``run``); the child writes ``result.json``
(and ``outputs.npz``). Its C-level stderr goes to ``stderr.log`` so the parent can read it as bytes.

Requests: ``{"op": "arena"}`` -> reported arena usage and the smallest arena size that runs;
``{"op": "run", "arena_size": N|null, "samples": S, "n_inputs": I, "n_outputs": O}``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

START_ARENA = 1 << 20
MAX_ARENA = 1 << 30
ARENA_RE = re.compile(rb"Arena allocation (total|head|tail) (\d+) bytes")


def _interpreter(runtime, model: bytes, arena: int):
    return runtime.Interpreter.from_bytes(model, arena_size=arena)


def _grow(runtime, model: bytes, arena: int | None):
    """An interpreter with ``arena`` bytes, or (arena None) the first power-of-4 size that allocates."""
    if arena is not None:
        return _interpreter(runtime, model, arena), arena
    size = max(START_ARENA, 10 * len(model))
    while True:
        try:
            return _interpreter(runtime, model, size), size
        except RuntimeError:
            if size >= MAX_ARENA:
                raise
            size = min(size * 4, MAX_ARENA)


def _zero_inputs(it, n_inputs: int) -> None:
    import numpy as np

    for i in range(n_inputs):
        d = it.get_input_details(i)
        it.set_input(np.zeros(d["shape"], d["dtype"]), i)


def _runs(runtime, model: bytes, arena: int, n_inputs: int) -> bool:
    """Whether the model allocates and runs one inference (zero inputs) in ``arena`` bytes.

    The probe runs in a forked copy of this process: at some sizes just short of enough, TFLM aborts
    (SIGABRT, "All temp buffers must be freed before calling ResetTempAllocations()": a kernel's Prepare
    fails half-way) instead of returning an error. A probe that dies counts as "does not run".
    """
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the probe: report through the exit code only, never return into the caller's code
        code = 1
        try:
            it = _interpreter(runtime, model, arena)
            _zero_inputs(it, n_inputs)
            it.invoke()
            code = 0
        except BaseException:  # any failure means "does not run"
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _allocation_report(it) -> dict[str, int]:
    """Parse ``print_allocations()``, which writes to the C-level stderr (fd 2)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            it.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read()
    return {kind.decode(): int(n) for kind, n in ARENA_RE.findall(text)}


def _smallest(runtime, model: bytes, lo: int, hi: int, n_inputs: int) -> int:
    """Smallest arena in (lo, hi] that runs, given that ``hi`` runs and ``lo`` does not."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _runs(runtime, model, mid, n_inputs):
            hi = mid
        else:
            lo = mid
    return hi


def op_arena(runtime, model: bytes, req: dict) -> dict:
    n_inputs = req["n_inputs"]
    it, size = _grow(runtime, model, None)
    _zero_inputs(it, n_inputs)
    it.invoke()
    report = _allocation_report(it)
    del it
    if "total" not in report:
        return {"ok": False, "kind": "parse", "error": "no 'Arena allocation total' line from print_allocations()"}
    total = report["total"]
    result = {"ok": True, "reported": report, "tried_arena": size}
    if _runs(runtime, model, total, n_inputs):
        result["required"] = total
        if req.get("smallest"):
            result["smallest"] = _smallest(runtime, model, 0, total, n_inputs)
    else:
        result["required"] = result["smallest"] = _smallest(runtime, model, total, size, n_inputs)
    return result


def op_run(runtime, model: bytes, req: dict, workdir: Path) -> dict:
    import numpy as np

    it, size = _grow(runtime, model, req.get("arena_size"))
    with np.load(workdir / "inputs.npz") as inputs:
        outputs = {}
        for s in range(req["samples"]):
            for i in range(req["n_inputs"]):  # TFLM reuses input memory: set every input before each invoke
                it.set_input(inputs[f"s{s}_{i}"], i)
            it.invoke()
            for o in range(req["n_outputs"]):
                outputs[f"s{s}_{o}"] = np.array(it.get_output(o), copy=True)
    np.savez(workdir / "outputs.npz", **outputs)
    return {"ok": True, "arena_size": size}


def main(workdir: Path) -> int:
    log = os.open(workdir / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    os.close(log)
    req = json.loads((workdir / "request.json").read_text())
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        result = {"ok": False, "kind": "import", "error": str(exc)}
    else:
        model = (workdir / "model.tflite").read_bytes()
        try:
            result = op_arena(runtime, model, req) if req["op"] == "arena" else op_run(runtime, model, req, workdir)
        except (RuntimeError, ValueError) as exc:
            result = {"ok": False, "kind": "runtime", "error": str(exc)}
    (workdir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
