"""Single-board computers (and this machine): bundles that run a model with LiteRT, and benchmarks of them.

- :func:`edgekit.sbc.bundle.generate_bundle` writes a self-contained bundle (model, runner, requirements for the
  board's machine, systemd unit, Dockerfile, README).
- :func:`bench_sbc` benchmarks a model or a bundle on this machine (``host="local"``) or on a board over SSH
  (``host="user@pi"``) and returns ``edgekit.bench/1`` JSON.
"""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from edgekit.errors import UsageError

__all__ = ["bench_sbc", "find_ina_sensors", "generate_bundle", "is_bundle", "load_bundle"]


def __getattr__(name: str) -> Any:  # lazy re-exports: importing edgekit.sbc stays cheap
    if name in ("generate_bundle", "is_bundle", "load_bundle"):
        from edgekit.sbc import bundle

        return getattr(bundle, name)
    if name == "find_ina_sensors":
        from edgekit.sbc.edgekit_runner.hwmon import find_ina_sensors

        return find_ina_sensors
    raise AttributeError(name)


def bench_sbc(model_or_bundle: str | os.PathLike[str], board: Any = "host", host: str = "local", *,
              runs: int = 50, warmup: int = 5, threads: int | None = None, xnnpack: bool = True,
              inputs: str | os.PathLike[str] | None = None, save: str | os.PathLike[str] | None = None,
              boards_dirs: list[str] | None = None, work_dir: str | os.PathLike[str] | None = None,
              venv_dir: str | os.PathLike[str] | None = None, hwmon_root: str | None = None,
              machine: str | None = None) -> dict[str, Any]:
    """Benchmark a .tflite model (a bundle is generated for it) or an existing bundle directory on a Linux board.

    Args:
        model_or_bundle: a ``.tflite`` file or a bundle directory (``edgekit_bundle.json``).
        board: board id or profile, kind ``sbc`` or ``host`` (ignored for a bundle: its own board is used).
        host: ``"local"`` runs on this machine in a venv made for the bundle; ``"[user@]name"`` copies the bundle
            over SSH, installs it in a venv on the board and runs it there.
        runs / warmup: timed and untimed inferences. threads / xnnpack: interpreter settings.
        inputs: an input sample (.npy, .npz or raw .bin); default: random (seed 0).
        save: also write the JSON result there (atomically).
        work_dir: where the generated bundle and the result go (default: a temporary directory).
        venv_dir: local runs: the venv to use or create (default: cached by requirements hash).
        hwmon_root: local runs: hwmon sysfs root for INA219/INA226 power readings (tests use a fake tree).
        machine: local runs on an SBC board profile: the machine to assume (default: the board's).

    Returns:
        The ``edgekit.bench/1`` result dict (docs/bench-schema.md; SBC fields in docs/sbc.md).

    Raises:
        UsageError: bad arguments (e.g. ``host="local"`` with a board this machine is not).
        ToolMissing: no runtime wheel for the board (the hint names the alternative).
        DeviceError: SSH, venv, pip or the runner failed (the message names the host and the cause).
    """
    from edgekit.boards import load_board
    from edgekit.results import save_json
    from edgekit.sbc.bundle import generate_bundle, is_bundle, load_bundle, target_machine

    if runs < 1 or warmup < 0:
        raise UsageError(f"runs must be >= 1 and warmup >= 0 (got runs={runs}, warmup={warmup})")
    src = Path(model_or_bundle)
    if not src.exists():
        raise UsageError(f"{src}: no such model or bundle")
    local = host in ("local", "localhost", "")
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="edgekit-sbc-")
        work = Path(tmp.name)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    try:
        if is_bundle(src):
            bundle = src
            manifest = load_bundle(src)
            wanted = load_board(board, boards_dirs).id if board not in (None, "host") else None
            if wanted and wanted != manifest["board"]["id"]:
                notes.append(f"the bundle was made for board '{manifest['board']['id']}'; '{wanted}' was asked for")
            if local and manifest["machine"] != platform.machine():
                raise UsageError(f"{src}: the bundle is for {manifest['machine']}, this machine is "
                                 f"{platform.machine()}", hint="generate a bundle for board 'host'")
        else:
            profile = load_board(board, boards_dirs)
            if profile.kind not in ("sbc", "host"):
                raise UsageError(f"board '{profile.id}' is a {profile.kind}: bench_sbc runs Linux boards",
                                 hint="benchmark a firmware project with 'edgekit bench PROJECT --board ...'")
            if local:
                target = target_machine(profile, machine)
                if target != platform.machine():
                    raise UsageError(f"--host local: board '{profile.id}' runs {target}, this machine is "
                                     f"{platform.machine()}",
                                     hint="use --board host to benchmark this machine, or --host user@board")
                bundle = generate_bundle(src, profile, work / "bundle", machine=machine).bundle_dir
            else:
                from edgekit.sbc.remote import probe

                facts = probe(host)
                bundle = generate_bundle(src, profile, work / "bundle", machine=facts.machine,
                                         python=facts.python, glibc=facts.glibc or None).bundle_dir
        result = _run(bundle, host, local, work, runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack,
                      inputs=inputs, venv_dir=venv_dir, hwmon_root=hwmon_root)
        target = result.setdefault("target", {})
        if not is_bundle(src):
            target["model"] = str(src)
        target["project_dir"] = None if tmp is not None else str(bundle)
    finally:
        if tmp is not None:
            tmp.cleanup()
    result.setdefault("notes", []).extend(notes)
    if save is not None:
        save_json(result, save)
    return result


def _run(bundle: Path, host: str, local: bool, work: Path, **kw: Any) -> dict[str, Any]:
    inputs = kw.pop("inputs")
    inputs = str(inputs) if inputs is not None else None
    if local:
        from edgekit.sbc.local import run_bench_local

        result = run_bench_local(bundle, work / "result.json", input_path=inputs, **kw)
        result["transport"] = {"kind": "local", "url": None, "upload": None, "log": None, "qemu_log": None}
        return result
    from edgekit.sbc.remote import run_bench_remote

    kw.pop("venv_dir", None)
    kw.pop("hwmon_root", None)
    result = run_bench_remote(host, bundle, work / "result.json", input_path=inputs, **kw)
    result["transport"] = {"kind": "ssh", "url": f"ssh://{host}", "upload": "scp", "log": None, "qemu_log": None}
    return result
