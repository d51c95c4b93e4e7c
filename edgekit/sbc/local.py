"""Run a bundle on this machine: a venv for its requirements (cached by their hash), then the runner.

Every program runs through :func:`edgekit.proc.run`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from edgekit import proc
from edgekit.errors import DeviceError, EdgekitError

READY_MARK = ".edgekit-ready"  # written once the venv's pip install has succeeded


def requirements_key(bundle_dir: Path) -> str:
    """First 16 hex digits of the SHA-256 of the bundle's requirements.txt: bundles that need the same
    packages share a venv."""
    return hashlib.sha256((bundle_dir / "requirements.txt").read_bytes()).hexdigest()[:16]


def default_venv_root() -> Path:
    """``$XDG_CACHE_HOME/edgekit/venvs`` (``~/.cache/edgekit/venvs``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgekit" / "venvs"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(bundle_dir: str | os.PathLike[str], venv_dir: str | os.PathLike[str] | None = None,
                *, python: str | None = None, timeout: float = 1800.0) -> Path:
    """A venv with the bundle's requirements installed; returns its python.

    ``venv_dir`` defaults to a cache directory keyed by the requirements' hash; an existing venv is reused when
    it finished installing (``.edgekit-ready``), otherwise it is created again.

    Raises:
        DeviceError: venv creation or ``pip install`` failed (the message carries pip's last lines).
    """
    bundle = Path(bundle_dir)
    venv = Path(venv_dir) if venv_dir else default_venv_root() / requirements_key(bundle)
    mark = venv / READY_MARK
    want = (bundle / "requirements.txt").read_bytes()
    if mark.is_file() and mark.read_bytes() == want and venv_python(venv).exists():
        return venv_python(venv)
    base = python or getattr(sys, "_base_executable", None) or sys.executable
    try:
        proc.run([base, "-m", "venv", "--clear", str(venv)], timeout=300, what="creating the bundle's venv")
        proc.run([venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r",
                  bundle / "requirements.txt"], timeout=timeout, what="installing the bundle's requirements")
    except EdgekitError as exc:
        raise DeviceError(f"{venv}: {exc.message}", hint=exc.hint or "check the network and pip's output") from None
    mark.write_bytes(want)
    return venv_python(venv)


def runner_argv(python: str | os.PathLike[str], mode: str, options: dict[str, Any]) -> list[str]:
    """``python -m edgekit_runner MODE --opt value ...`` (None values left out, True as a bare flag)."""
    argv = [str(python), "-m", "edgekit_runner", mode]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def run_bench_local(bundle_dir: str | os.PathLike[str], out_json: str | os.PathLike[str], *,
                    venv_dir: str | os.PathLike[str] | None = None, runs: int = 50, warmup: int = 5,
                    threads: int | None = None, xnnpack: bool = True, input_path: str | None = None,
                    hwmon_root: str | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Install (or reuse) the bundle's venv, run ``bench`` in it and return the JSON."""
    bundle = Path(bundle_dir).resolve()
    py = ensure_venv(bundle, venv_dir)
    out = Path(out_json).resolve()
    argv = runner_argv(py, "bench", {"runs": runs, "warmup": warmup, "threads": threads,
                                     "xnnpack": "on" if xnnpack else "off",
                                     "input": str(Path(input_path).resolve()) if input_path else None,
                                     "hwmon_root": hwmon_root, "out": str(out)})
    proc.run(argv, cwd=bundle, timeout=timeout, what="the bundle's benchmark")
    return json.loads(out.read_text(encoding="utf-8"))
