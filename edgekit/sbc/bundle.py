"""A self-contained bundle that runs a model on a Linux board (Raspberry Pi, this machine) without edgekit.

::

    <out_dir>/
      edgekit_bundle.json      manifest (schema edgekit.bundle/1): model, board, machine, runtime
      model/<name>.tflite
      edgekit_runner/          python -m edgekit_runner {info,bench,batch,serve}: the runtime + numpy only
      requirements.txt         the runtime wheel for the board's machine (aarch64/x86_64: ai-edge-litert;
                               armv7l: tflite-runtime 2.14 with numpy<2), paho-mqtt
      serve.json               settings of the MQTT service
      edgekit-<name>.service   systemd unit
      Dockerfile, .dockerignore
      README.md

Generation is atomic: the bundle is written into a temporary sibling directory that replaces ``out_dir``
only when complete.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import BoardError, ModelError, ToolMissing, UsageError
from edgekit.fsutil import load_manifest, replace_dir
from edgekit.sbc import templates
from edgekit.sbc.edgekit_runner.util import BUNDLE_SCHEMA, MANIFEST
from edgekit.sbc.edgekit_runner.wheels import NoWheel, RuntimeChoice, choose_runtime, normalize_machine

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.tflite_model import TFLiteModel

RUNNER_DIR = Path(__file__).resolve().parent / "edgekit_runner"
DEFAULT_SBC_PYTHON = (3, 11)  # Raspberry Pi OS 12 "bookworm"
SERVE_DEFAULTS = {"max_batch": 8, "max_wait_ms": 5.0, "queue_size": 32, "mqtt_version": 5}


@dataclass(frozen=True)
class BundleResult:
    """What :func:`generate_bundle` wrote."""

    bundle_dir: Path
    name: str
    board: str
    machine: str
    python: str
    runtime: RuntimeChoice
    model_file: str
    model_sha256: str
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"bundle_dir": str(self.bundle_dir), "name": self.name, "board": self.board, "machine": self.machine,
                "python": self.python, "runtime": self.runtime.to_dict(), "model_file": self.model_file,
                "model_sha256": self.model_sha256, "files": list(self.files)}


def target_machine(board: BoardProfile, machine: str | None = None) -> str:
    """The Linux machine name (``platform.machine()``) a board runs: from ``board.arch`` unless given.

    ``arch: native`` (the ``host`` board) is this machine; ARMv8/v9 boards are assumed to run a 64-bit OS.
    """
    if machine:
        return normalize_machine(machine)
    arch = board.arch.strip().lower()
    if board.kind == "host" or arch == "native":
        return normalize_machine(platform.machine())
    if arch.startswith(("armv8", "armv9", "aarch64", "arm64")):
        return "aarch64"
    if arch.startswith("armv7"):
        return "armv7l"
    if arch.startswith("armv6"):
        return "armv6l"
    if arch in ("x86-64", "x86_64", "amd64"):
        return "x86_64"
    raise BoardError(f"{board.path or board.id}: arch: {board.arch!r} is not a Linux machine edgekit knows",
                     hint="pass the machine explicitly (e.g. machine='aarch64' or 'armv7l')")


def runtime_for(board: BoardProfile, machine: str | None = None, python: str | tuple[int, int] | None = None,
                glibc: str | tuple[int, int] | None = None) -> RuntimeChoice:
    """The LiteRT runtime for a board (machine and Python version as given, else the board's defaults).

    Raises:
        ToolMissing: no runtime wheel exists for that machine/Python; the hint names the alternative.
    """
    m = target_machine(board, machine)
    py = _version_tuple(python) if python else (
        sys.version_info[:2] if board.kind == "host" and not machine else DEFAULT_SBC_PYTHON)
    try:
        return choose_runtime(m, py, _version_tuple(glibc) if glibc else None)
    except NoWheel as exc:
        raise ToolMissing(f"{board.id}: {exc.message}", hint=exc.hint) from None


def _version_tuple(v: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    m = re.match(r"^\s*(\d+)\.(\d+)", str(v))
    if not m:
        raise UsageError(f"version {v!r}: expected MAJOR.MINOR, e.g. 3.11")
    return int(m.group(1)), int(m.group(2))


def bundle_name(name: str | None, model_path: Path | None) -> str:
    """A name usable in file names, systemd unit names and MQTT topics."""
    if name is not None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise UsageError(f"bundle name {name!r}: use letters, digits, '_', '.', '-' (at most 64)")
        return name
    stem = model_path.stem if model_path is not None else "model"
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "model"
    return clean[:64]


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a bundle directory (it holds ``edgekit_bundle.json``)."""
    return (Path(path) / MANIFEST).is_file()


def load_bundle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a bundle directory.

    Raises:
        UsageError: not a bundle, or an unreadable manifest.
    """
    return load_manifest(path, MANIFEST, BUNDLE_SCHEMA, kind="bundle",
                         make_hint="make one with 'edgekit generate MODEL --board rpi4'",
                         redo_hint="regenerate the bundle")


def generate_bundle(model: TFLiteModel | str | os.PathLike[str] | bytes, board: BoardProfile | str,
                    out_dir: str | os.PathLike[str], *, name: str | None = None, machine: str | None = None,
                    python: str | tuple[int, int] | None = None, glibc: str | tuple[int, int] | None = None,
                    install_dir: str | None = None, serve: dict[str, Any] | None = None,
                    boards_dirs: Iterable[str | os.PathLike[str]] | None = None) -> BundleResult:
    """Write a bundle for ``model`` on an SBC (or the ``host`` board) into ``out_dir``.

    Args:
        model: a .tflite path, its bytes, or a loaded :class:`~edgekit.tflite_model.TFLiteModel`.
        board: a board profile (or id) of kind ``sbc`` or ``host``.
        out_dir: the bundle directory; replaced if it holds an earlier bundle, refused if it holds anything else.
        name: bundle name (default: from the model file name); used for the unit, topics and install dir.
        machine: ``aarch64``, ``armv7l`` or ``x86_64`` (default: from the board's arch; this machine for host).
        python: the board's Python as ``"3.11"`` (default 3.11 for an SBC, this interpreter for host).
        glibc: the board's glibc version, when known (checked against the wheels' manylinux tags).
        install_dir: where the README and the systemd unit install it (default ``/opt/edgekit/<name>``).
        serve: overrides of the MQTT service settings written to ``serve.json`` (host, port, prefix, ...).

    Raises:
        UsageError: a board that is not an SBC/host, a bad name or out_dir, unknown serve settings.
        ModelError: an unreadable model. ToolMissing: no runtime wheel for the target (hint: the alternative).
    """
    from edgekit import __version__
    from edgekit.boards import load_board
    from edgekit.sbc.edgekit_runner.serve import ServeConfig
    from edgekit.sbc.locks import UNHASHED_MACHINES, locked_packages
    from edgekit.tflite_model import TFLiteModel, load_model

    profile = load_board(board, boards_dirs)
    if profile.kind not in ("sbc", "host"):
        raise UsageError(f"board '{profile.id}' is a {profile.kind}: bundles are for Linux boards (kind sbc/host)",
                         hint="use 'edgekit generate' with the board to get a firmware project instead")
    m = model if isinstance(model, TFLiteModel) else load_model(model)
    bname = bundle_name(name, m.path)
    choice = runtime_for(profile, machine, python, glibc)
    out = _check_out_dir(Path(out_dir))
    install = install_dir or f"/opt/edgekit/{bname}"
    serve_cfg = {"host": "127.0.0.1", "port": 1883, "prefix": f"edgekit/{bname}",
                 "client_id": f"edgekit-runner-{bname}", **SERVE_DEFAULTS, "state_dir": "state", **(serve or {})}
    try:
        ServeConfig.from_dict(serve_cfg, "serve settings").check()
    except Exception as exc:  # RunnerError from the runner package: the same message as a UsageError
        raise UsageError(str(exc), hint=getattr(exc, "hint", None)) from None

    model_file = f"model/{bname}.tflite"
    unit = f"edgekit-{bname}.service"
    sg = m.main
    io = {"inputs": [_tensor(sg.tensors[i]) for i in sg.inputs],
          "outputs": [_tensor(sg.tensors[i]) for i in sg.outputs]}
    if not io["inputs"] or not io["outputs"]:
        raise ModelError(f"{m.path or 'model'}: the main subgraph has no inputs or no outputs")
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    p = profile.power
    board_info = {"id": profile.id, "name": profile.name, "kind": profile.kind, "core": profile.core,
                  "arch": profile.arch, "clock_hz": profile.clock_hz, "flash_kb": profile.memory.flash_kb,
                  "ram_kb": profile.memory.ram_kb,
                  "power": {"model": p.model, "supply_v": p.supply_v, "active_ma": p.active_ma, "idle_ma": p.idle_ma,
                            "source": p.source}}
    ctx = {"name": bname, "board": board_info, "machine": choice.machine, "python": f"{choice.python[0]}."
           f"{choice.python[1]}", "runtime": choice.to_dict(), "edgekit_version": __version__,
           "created_utc": created, "model_file": model_file, "model_bytes": m.size, "model_sha256": m.sha256,
           "install_dir": install, "unit": unit, "serve": serve_cfg, "bundle_dir_name": out.name,
           "platform": templates.DOCKER_PLATFORMS.get(choice.machine, "linux/" + choice.machine),
           "locked": locked_packages(choice), "hashed": choice.machine not in UNHASHED_MACHINES, **io}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        (tmp / "model").mkdir()
        (tmp / model_file).write_bytes(m.data)
        (tmp / "edgekit_runner").mkdir()
        for src in sorted(RUNNER_DIR.glob("*.py")):  # the runner is one flat package of .py files
            shutil.copyfile(src, tmp / "edgekit_runner" / src.name)
        (tmp / "requirements.txt").write_text(_requirements_txt(choice, ctx["python"], __version__), encoding="utf-8")
        (tmp / "serve.json").write_text(json.dumps(serve_cfg, indent=2) + "\n", encoding="utf-8")
        for template, name in templates.FILES.items():
            (tmp / (name or unit)).write_text(templates.render(template, ctx), encoding="utf-8")
        files = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file())
        manifest = {"schema": BUNDLE_SCHEMA, "name": bname, "edgekit_version": __version__, "created_utc": created,
                    "model": {"file": model_file, "name": m.path.stem if m.path else bname, "sha256": m.sha256,
                              "bytes": m.size, **io},
                    "board": board_info, "machine": choice.machine, "python": ctx["python"],
                    "runtime": choice.to_dict(), "install_dir": install, "systemd_unit": unit,
                    "files": [*files, MANIFEST]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BundleResult(out, bname, profile.id, choice.machine, ctx["python"], choice, model_file, m.sha256,
                        tuple(sorted([*files, MANIFEST])))


def _requirements_txt(choice: RuntimeChoice, python: str, version: str) -> str:
    """Every package of the runtime's closure pinned with == (and its files' SHA-256 where the lock has them)."""
    from edgekit.sbc.locks import UNHASHED_MACHINES, locked_requirements

    how = ("exact versions; no hashes: numpy comes from the extra index Raspberry Pi OS configures, whose file "
           "hashes are not known (see README.md)" if choice.machine in UNHASHED_MACHINES else
           "exact versions and the SHA-256 of every file PyPI serves for this machine: pip checks them "
           "(hash-checking mode)")
    head = [f"# {choice.package} for {choice.machine}, Python {python} (edgekit {version})",
            f"# {how}", *([f"# {choice.note}"] if choice.note else [])]
    return "\n".join([*head, *locked_requirements(choice)]) + "\n"


def _tensor(t: Any) -> dict[str, Any]:
    return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}


def _check_out_dir(out: Path) -> Path:
    out = out.expanduser().resolve()
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out}: exists and is not a directory", hint="choose another output directory (-o)")
        if any(out.iterdir()) and not (out / MANIFEST).exists():
            raise UsageError(f"{out}: directory is not empty and is not an edgekit bundle; refusing to replace it",
                             hint="choose a new or empty output directory (-o)")
    return out


