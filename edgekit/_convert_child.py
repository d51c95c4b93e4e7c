"""The converter child process: ``python -m edgekit._convert_child LOG``.

It imports TensorFlow once (while the parent checks its inputs) and then serves conversion jobs,
one at a time, read as JSON lines from stdin. Everything TensorFlow prints — Python prints such
as "Saved artifact at …", absl/oneDNN lines, converter logs on fd 1 and 2 — goes to the LOG file;
the child speaks to the parent only through its original stdout, one JSON message per line:

``{"event": "shape", ...}`` (the model is loaded: its sample shape; the parent answers on stdin
with ``{"go": true}`` after writing ``data.npz``, or ``{"go": false}`` when the data do not fit),
``{"event": "progress", "stage": ..., "done": ..., "total": ...}``, then ``{"event": "done"}`` or
``{"event": "error", "kind": ..., "message": ..., "hint": ...}``. A native crash is the child
dying: the parent sees end-of-file and reports the signal. Job directories hold ``job.json`` in,
``data.npz`` in, ``result.json`` and one ``<name>.tflite`` per model out.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

import numpy as np


def serve(job_dir: Path, send: Any, stdin: TextIO) -> None:
    """Run one job (see the module docstring); every outcome is reported through ``send``."""
    from edgekit import _tf_convert
    from edgekit._quant_eval import encode
    from edgekit.errors import EdgekitError

    job = json.loads((job_dir / "job.json").read_text())
    try:
        prep = _tf_convert.load(job["model"], job.get("name"))
        send(event="shape", shape=list(prep.sample_shape), name=prep.name, recurrent=prep.recurrent,
             stateful=prep.stateful, loops=prep.loops)
        answer = json.loads(stdin.readline() or "{}")
        if not answer.get("go"):
            send(event="cancelled")
            return
        with np.load(job_dir / "data.npz", allow_pickle=False) as data:
            job.update({k: data[k] for k in data.files})

        def step(stage: str, done: int | None = None, total: int | None = None) -> None:
            send(event="progress", stage=stage, done=done, total=total)

        out = _tf_convert.run(prep, job, step)
        (job_dir / "float.tflite").write_bytes(out["float"])
        for act, data_bytes in out["models"].items():
            (job_dir / f"{act}.tflite").write_bytes(data_bytes)
        (job_dir / "result.json").write_text(encode({"ops": out["ops"], "evals": out["evals"],
                                                     "seconds": out["seconds"]}))
        send(event="done")
    except EdgekitError as exc:
        send(event="error", kind=type(exc).__name__, message=exc.message, hint=exc.hint)
    except Exception as exc:  # a bug or a TF error we did not foresee: the traceback goes to the log
        traceback.print_exc()
        send(event="error", kind="ModelError", message=f"conversion failed: {type(exc).__name__}: "
             f"{_tf_convert.first_line(exc)}", hint="rerun with --debug to see the converter's log")


def main(argv: list[str]) -> int:
    """Child entry point: route fd 1/2 to the log, warm up TensorFlow, serve jobs until stdin closes."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    log = os.open(argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def send(**message: Any) -> None:
        proto.write(json.dumps(message) + "\n")

    from edgekit import _tf_convert
    from edgekit._isolate import JOB_MARK

    _tf_convert.LOG_TO_FDS = True
    _tf_convert.import_tensorflow()  # the slow part, done while the parent reads the user's data
    send(event="ready")
    for line in iter(sys.stdin.readline, ""):  # EOF (the parent closed our stdin or died): exit
        if line.strip():
            print(f"{JOB_MARK}{line.strip()}", flush=True)
            serve(Path(json.loads(line)["dir"]), send, sys.stdin)
            sys.stdout.flush()
            sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
