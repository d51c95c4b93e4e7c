"""Every external program edgekit runs goes through :func:`run`: logged, quoted, with clear errors."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from edgekit.errors import EdgekitError, ToolMissing

log = logging.getLogger("edgekit.proc")

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # the folder holding the edgekit package

# program -> how to install it on Debian/Ubuntu
INSTALL_HINTS = {
    "arm-none-eabi-gcc": ("sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                          "libstdc++-arm-none-eabi-newlib"),
    "qemu-system-arm": "sudo apt-get install qemu-system-arm",
    "cmake": "sudo apt-get install cmake",
    "gcc": "sudo apt-get install gcc",
    "openocd": "sudo apt-get install openocd",
    "dfu-util": "sudo apt-get install dfu-util",
}


def which(program: str) -> str:
    """Return the full path of ``program`` or raise :class:`ToolMissing` with an install hint."""
    path = shutil.which(program)
    if path is None:
        raise ToolMissing(f"'{program}' is not installed or not on PATH",
                          hint=INSTALL_HINTS.get(program, f"install '{program}' and make sure it is on PATH"))
    return path


def run(argv: Sequence[str | Path], *, cwd: str | Path | None = None, timeout: float | None = None,
        dry_run: bool = False, check: bool = True, what: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a program, capturing output.

    Args:
        argv: the command; ``argv[0]`` is looked up on PATH (ToolMissing if absent).
        cwd: working directory.
        timeout: seconds before the program is killed (an EdgekitError then).
        dry_run: only log and return an empty successful result.
        check: raise EdgekitError with the tail of stderr on a non-zero exit.
        what: a short description for error messages (e.g. "firmware build").
    """
    args = [str(a) for a in argv]
    cmdline = shlex.join(args)
    log.info("$ %s", cmdline)
    if dry_run:
        return subprocess.CompletedProcess(args, 0, "", "")
    args[0] = which(args[0])
    try:
        res = subprocess.run(args, cwd=cwd, timeout=timeout, capture_output=True, text=True, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EdgekitError(f"{what or args[0]} timed out after {timeout:g} s", hint=f"command: {cmdline}") from exc
    if check and res.returncode != 0:
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-15:])
        raise EdgekitError(f"{what or Path(args[0]).name} failed (exit {res.returncode}): {tail}",
                           hint=f"command: {cmdline}")
    return res


def python_child_env(**defaults: str) -> dict[str, str]:
    """The environment of a ``python -m edgekit....`` child: this process's, ``defaults`` only where the caller's
    environment does not set them, and edgekit's own folder first on ``PYTHONPATH`` (so the child imports this
    edgekit, also from a source checkout)."""
    env = dict(os.environ)
    for key, value in defaults.items():
        env.setdefault(key, value)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env
