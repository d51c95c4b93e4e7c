"""What one sweep worker does, whatever runs it (a local process, a Ray task): prepare a model (convert, optimize),
run one cell (generate -> build -> bench -> validate), check that a node can run cells.

Everything here takes and returns plain data (bytes, dicts): a worker on another machine has no access to the
driver's files, so model bytes and input files travel with the task, and the project is built in a scratch folder
on the worker (kept under the sweep's output folder when the worker is local).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError

__all__ = ["check_node", "run_cell", "run_prep"]

PLACE_WAIT_S = 600.0  # how long a cell waits for its labgrid place while someone else holds it


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, EdgekitError):
        return {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    tail = traceback.format_exception(exc)[-3:]
    return {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__,
            "hint": "an unexpected error (an edgekit bug?): " + " ".join("".join(tail).split())[-600:]}


def worker_info() -> dict[str, Any]:
    """Where this runs: host name, process id and (under Ray) the node id."""
    import sys

    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    if "ray" in sys.modules:  # a Ray worker (never imported here otherwise)
        try:
            info["node_id"] = sys.modules["ray"].get_runtime_context().get_node_id()
        except Exception:  # (not inside a Ray worker after all)
            pass
    return info


def run_prep(prep: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
    """Convert (after the optimize recipe, if any) one model: ``{"ok", "tflite" (bytes), "error", "seconds"}``.

    ``prep``: ``quantization`` (``int8``/``int16``) and ``recipe`` (the recipe file's text and name, or None);
    ``files``: ``model``, ``calib`` and ``data`` as (file name, bytes).
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-sweep-prep-") as tmp:
        try:
            paths = _write_files(Path(tmp), files)
            model: Any = paths["model"]
            if prep.get("recipe"):
                from edgekit.boards.yamlfile import load_yaml
                from edgekit.data import load_array_file
                from edgekit.optimize.chain import optimize
                from edgekit.optimize.finetune import load_keras
                from edgekit.optimize.recipe import parse_recipe

                rpath = Path(tmp) / prep["recipe"]["name"]
                rpath.write_text(prep["recipe"]["text"], encoding="utf-8")
                recipe = parse_recipe(load_yaml(rpath, "recipe file"), prep["recipe"]["name"], rpath.parent)
                x, y = load_array_file(paths["data"], "data")
                model, _ = optimize(load_keras(model), x, y, recipe, board=None, measure_steps=False,
                                    progress=False)
            from edgekit.conversion import convert

            res = convert(model, str(paths["calib"]), activations=prep["quantization"], progress=False)
            return {"ok": True, "tflite": bytes(res.tflite), "error": None, "worker": worker_info(),
                    "seconds": round(time.perf_counter() - t0, 3)}
        except Exception as exc:  # (a failed preparation fails its cells, not the sweep)
            return {"ok": False, "tflite": None, "error": _error(exc), "worker": worker_info(),
                    "seconds": round(time.perf_counter() - t0, 3)}


def _write_files(folder: Path, files: dict[str, tuple[str, bytes]]) -> dict[str, Path]:
    out = {}
    for role, (name, data) in files.items():
        p = folder / role / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        out[role] = p
    return out


def _kill_once(cell_id: str, kill_once: tuple[str, str] | None) -> None:
    """Test hook: the first attempt of cell ``kill_once[0]`` creates the marker file ``kill_once[1]`` and kills its
    own worker process (SIGKILL), as a crash or an out-of-memory kill would; later attempts find the marker."""
    if kill_once is None or kill_once[0] != cell_id:
        return
    try:
        fd = os.open(kill_once[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def run_cell(cell: dict[str, Any], tflite: bytes, inputs: tuple[str, bytes] | None, work_dir: str | None,
             kill_once: tuple[str, str] | None = None) -> dict[str, Any]:
    """Generate, build and bench one cell (and validate it when asked): the cell's result row (without the
    bookkeeping the driver adds). A failure at any stage is a row with ``status: failed``, the stage and the error.

    Args:
        cell: ``id``, ``board``, ``options`` (runtime, sparse, runs, warmup, validate), ``model`` (name),
            ``boards_dirs`` (extra board folders, which must exist on the worker's machine); ``labgrid`` (a place)
            and ``coordinator``: measured on the board in that place (:func:`edgekit.labgrid.measure_on_place`).
        tflite: the prepared model's bytes.
        inputs: the model's input file (name, bytes), or None for bench's random input.
        work_dir: where the project goes (kept); None: a scratch folder, removed afterwards.
        kill_once: test hook (see :func:`_kill_once`).
    """
    _kill_once(cell["id"], kill_once)
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate

    opts, t_all = cell["options"], time.perf_counter()
    row: dict[str, Any] = {"status": "failed", "stage": None, "error": None, "worker": worker_info(),
                           "seconds": {}, "generate": None, "build": None, "bench": None, "validation": None}
    root = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="edgekit-sweep-"))
    if work_dir and root.exists():
        shutil.rmtree(root)  # an earlier, unfinished attempt
    root.mkdir(parents=True, exist_ok=True)
    stage = "generate"
    try:
        model = root / f"{cell['model']}.tflite"
        model.write_bytes(tflite)
        in_path = None
        if inputs is not None:
            in_path = _write_files(root, {"inputs": inputs})["inputs"]
        t0 = time.perf_counter()
        dirs = cell.get("boards_dirs")
        gen = generate(model, cell["board"], opts["runtime"], out_dir=root / "project", sparse=opts["sparse"],
                       boards_dirs=dirs)
        row["generate"] = {k: v for k, v in gen.to_dict().items() if k != "files"}
        stage, t1 = "build", time.perf_counter()
        built = build(gen.project_dir, jobs=1, boards_dirs=dirs)
        row["build"] = {k: v for k, v in built.to_dict().items() if k not in ("sections", "images")}
        stage, t2 = "bench", time.perf_counter()
        row["window"] = {"start": time.time()}
        if cell.get("labgrid"):  # the board in a labgrid place: acquire, flash, bench (and validate), release
            from edgekit.labgrid import measure_on_place

            res, checked = measure_on_place(cell["labgrid"], gen.project_dir, coordinator=cell.get("coordinator"),
                                            model=model if opts.get("validate") else None, inputs=in_path,
                                            runs=opts["runs"], warmup=opts["warmup"], wait=PLACE_WAIT_S,
                                            boards_dirs=dirs)
            row["validation"] = checked.to_dict() if checked is not None else None
        else:
            res = bench(gen.project_dir, board=cell["board"], runs=opts["runs"], warmup=opts["warmup"],
                        inputs=in_path, boards_dirs=dirs)
        row["bench"] = res.to_dict()
        t3 = time.perf_counter()
        row["seconds"] = {"generate": round(t1 - t0, 3), "build": round(t2 - t1, 3), "bench": round(t3 - t2, 3)}
        if opts.get("validate") and not cell.get("labgrid"):
            from edgekit.validation import validate

            stage = "validate"
            v = validate(model, board=cell["board"], inputs=in_path, project_dir=gen.project_dir, boards_dirs=dirs)
            row["validation"] = v.to_dict()
            row["seconds"]["validate"] = round(time.perf_counter() - t3, 3)
        row["status"], row["stage"] = "ok", None
    except Exception as exc:  # (one cell's failure is its row, the sweep goes on)
        row["stage"], row["error"] = stage, _error(exc)
    finally:
        row["seconds"]["total"] = round(time.perf_counter() - t_all, 3)
        if "window" in row:
            row["window"]["end"] = time.time()
        if not work_dir:
            shutil.rmtree(root, ignore_errors=True)
    return row


def check_node(boards: list[str], runtimes: list[str], version: str,
               boards_dirs: list[str] | None = None, labgrid: bool = False) -> dict[str, Any]:
    """What this machine lacks to run cells on ``boards`` with ``runtimes``: ``{"host", "missing": [...],
    "version"}`` (each entry names a program or setting and how to get it); run on every node before a sweep."""
    from edgekit import __version__
    from edgekit.boards import load_board
    from edgekit.buildsys.registry import get
    from edgekit.transport.qemu import PROGRAM

    missing: list[str] = []
    if version != __version__:
        missing.append(f"edgekit {version} (the node has {__version__}; install the driver's version)")
    for board in boards:
        try:
            prof = load_board(board, boards_dirs)
        except EdgekitError as exc:
            missing.append(f"board {board} ({exc.message})")
            continue
        for runtime in runtimes:
            for m in get(prof.build.system).missing(Path.cwd(), runtime="edgekit" if runtime == "auto" else runtime):
                if m not in missing:
                    missing.append(m)
        if prof.qemu is not None and shutil.which(PROGRAM) is None and not any(m.startswith(PROGRAM)
                                                                               for m in missing):
            missing.append(f"{PROGRAM} (sudo apt-get install qemu-system-arm)")
    if labgrid:
        import importlib.util

        if importlib.util.find_spec("labgrid") is None:
            missing.append("labgrid (pip install 'edgekit[labgrid]'): cells on labgrid places")
    return {**worker_info(), "missing": missing, "version": __version__}
