"""Benchmark a bundle on a board over SSH: probe it, copy the bundle, install a venv, run, fetch the JSON.

Every ``ssh``/``scp`` call goes through :func:`edgekit.proc.run` with ``BatchMode=yes`` (no password
prompts: key-based login is required) and a connect timeout. Remote paths are relative to the login's
home directory::

    ~/edgekit-bundles/<bundle>-<sha12>/        the bundle (replaced on every run)
    ~/edgekit-bundles/venvs/<requirements16>/   the venv, shared by bundles with the same requirements
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit import proc
from edgekit.errors import DeviceError, UsageError

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10")
REMOTE_ROOT = "edgekit-bundles"
PROBE = ('import json, platform, sys; print(json.dumps({"machine": platform.machine(), '
         '"python": list(sys.version_info[:2]), "glibc": platform.libc_ver()[1]}))')

# (text in ssh's stderr, cause, hint)
_SSH_CAUSES = (
    ("Permission denied", "authentication failed",
     "set up key-based login ('ssh-copy-id {host}'); edgekit runs ssh with BatchMode=yes, so it cannot ask for "
     "a password"),
    ("Could not resolve hostname", "unknown host name", "check the name, or use the board's IP address"),
    ("Connection refused", "connection refused",
     "is the SSH server running on the board? (Raspberry Pi OS: sudo raspi-config, Interface Options, SSH)"),
    ("timed out", "connection timed out", "is the board powered, booted and on this network?"),
    ("No route to host", "no route to host", "is the board powered, booted and on this network?"),
    ("Host key verification failed", "host key not trusted",
     "connect once with 'ssh {host}' to check and accept the board's host key"),
)


@dataclass(frozen=True)
class BoardFacts:
    """What the probe found on the board."""

    machine: str
    python: tuple[int, int]
    glibc: str


def _ssh_error(host: str, what: str, res: subprocess.CompletedProcess[str]) -> DeviceError:
    err = (res.stderr or res.stdout or "").strip()
    last = err.splitlines()[-1] if err else f"exit status {res.returncode}"
    if res.returncode == 255:  # ssh's own failure: the command never ran
        for needle, cause, hint in _SSH_CAUSES:
            if needle.lower() in err.lower():
                return DeviceError(f"ssh {host}: {cause} ({what}): {last}", hint=hint.format(host=host))
        return DeviceError(f"ssh {host}: {what} failed: {last}", hint=f"try 'ssh {host}' by hand")
    hint = None
    if "ensurepip is not available" in err or "No module named venv" in err:
        hint = "install the venv module on the board: sudo apt-get install python3-venv"
    elif "python3: command not found" in err or "python3: not found" in err:
        hint = "install Python 3 on the board: sudo apt-get install python3 python3-venv"
    elif "No matching distribution" in err or "Could not find a version" in err:
        hint = "no runtime wheel for the board's platform: see the bundle's README.md (runtime section)"
    return DeviceError(f"{what} on {host} failed (exit {res.returncode}): {last}", hint=hint)


def ssh(host: str, command: str, *, what: str, timeout: float | None = 120.0) -> subprocess.CompletedProcess[str]:
    """Run a shell command on the board; DeviceError naming the host and the cause on failure."""
    res = proc.run(["ssh", *SSH_OPTIONS, host, command], check=False, timeout=timeout, what=f"{what} on {host}")
    if res.returncode != 0:
        raise _ssh_error(host, what, res)
    return res


def scp(host: str, src: str, dst: str, *, what: str, recursive: bool = False,
        timeout: float | None = 600.0) -> None:
    """Copy with scp (``host:path`` on either side); DeviceError naming the host and the cause on failure."""
    argv = ["scp", "-q", *SSH_OPTIONS, *(["-r"] if recursive else []), src, dst]
    res = proc.run(argv, check=False, timeout=timeout, what=f"{what} ({host})")
    if res.returncode != 0:
        raise _ssh_error(host, what, res)


def probe(host: str) -> BoardFacts:
    """Machine, Python version and glibc of the board."""
    res = ssh(host, "python3 -c " + shlex.quote(PROBE), what="probing the board", timeout=60)
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
        return BoardFacts(str(data["machine"]), (int(data["python"][0]), int(data["python"][1])),
                          str(data.get("glibc") or ""))
    except (ValueError, KeyError, IndexError, TypeError):
        raise DeviceError(f"ssh {host}: unexpected answer to the probe: {res.stdout.strip()[:200]!r}",
                          hint="is python3 on the board a CPython 3?") from None


def remote_dirs(manifest: dict[str, Any], req_key: str) -> tuple[str, str]:
    """(bundle dir, venv dir) on the board, relative to the login's home."""
    name = f"{manifest['name']}-{manifest['model']['sha256'][:12]}"
    return f"{REMOTE_ROOT}/{name}", f"{REMOTE_ROOT}/venvs/{req_key}"


def run_bench_remote(host: str, bundle_dir: str | Path, out_json: str | Path, *, runs: int = 50, warmup: int = 5,
                     threads: int | None = None, xnnpack: bool = True, input_path: str | None = None,
                     install_timeout: float = 1800.0, bench_timeout: float | None = 3600.0) -> dict[str, Any]:
    """Copy the bundle to ``host``, install its requirements in a venv there, run ``bench``, fetch the JSON."""
    from edgekit.sbc.bundle import load_bundle
    from edgekit.sbc.local import READY_MARK, requirements_key, runner_argv

    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise UsageError(f"--host {host!r}: expected [user@]hostname")
    bundle = Path(bundle_dir).resolve()
    manifest = load_bundle(bundle)
    rdir, rvenv = remote_dirs(manifest, requirements_key(bundle))
    q = shlex.quote
    ssh(host, f"mkdir -p {q(REMOTE_ROOT)}/venvs && rm -rf {q(rdir)}", what="preparing the bundle directory")
    scp(host, str(bundle), f"{host}:{rdir}", what="copying the bundle", recursive=True)
    install = (f"test -f {q(rvenv)}/{READY_MARK} || {{ python3 -m venv --clear {q(rvenv)} && "
               f"{q(rvenv)}/bin/python -m pip install --disable-pip-version-check -q -r {q(rdir)}/requirements.txt"
               f" && touch {q(rvenv)}/{READY_MARK}; }}")
    ssh(host, install, what="installing the runtime", timeout=install_timeout)
    remote_input = None
    if input_path:
        remote_input = f"input{Path(input_path).suffix}"
        scp(host, str(input_path), f"{host}:{rdir}/{remote_input}", what="copying the input")
    argv = runner_argv(f"../venvs/{rvenv.rsplit('/', 1)[-1]}/bin/python", "bench",
                       {"runs": runs, "warmup": warmup, "threads": threads, "xnnpack": "on" if xnnpack else "off",
                        "input": remote_input, "out": "result.json"})
    ssh(host, f"cd {q(rdir)} && " + shlex.join(argv), what="running the benchmark", timeout=bench_timeout)
    out = Path(out_json)
    out.parent.mkdir(parents=True, exist_ok=True)
    scp(host, f"{host}:{rdir}/result.json", str(out), what="fetching the result")
    try:
        return json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeviceError(f"ssh {host}: the benchmark's result.json is not readable JSON ({exc})") from None
