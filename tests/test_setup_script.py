"""scripts/setup.sh as a new user meets it: it says what it installs and why, shows progress, leaves no broker
service behind, and the README lists the same packages.

The script runs for real in a scratch copy of the repository, with stand-ins for dpkg-query, apt-get, systemctl
and the venv's python on PATH that record their arguments (nothing is installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from conftest import REPO, need_tool

SETUP = REPO / "scripts" / "setup.sh"

FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "$EK_SETUP_LOG"
case "$(basename "$0")" in
  dpkg-query) exit 1 ;;
  arm-none-eabi-gcc) echo "arm-none-eabi-gcc 12.2" ;;
  qemu-system-arm) echo "QEMU emulator version 7.2" ;;
  python) echo "Python 3.11" ;;
esac
exit 0
"""


def _packages() -> dict[str, str]:
    """APT_PACKAGES of setup.sh: package -> why."""
    body = re.search(r"APT_PACKAGES=\((.*?)\n\)", SETUP.read_text(), re.S)
    assert body, "APT_PACKAGES=( ... ) not found in setup.sh"
    entries = re.findall(r'"([^"|]+)\|([^"]+)"', body.group(1))
    return dict(entries)


def test_every_package_has_a_reason_and_is_in_the_readme() -> None:
    pkgs = _packages()
    assert {"gcc-arm-none-eabi", "qemu-system-arm", "cmake", "mosquitto", "clang"} <= set(pkgs)
    readme = (REPO / "README.md").read_text()
    for name, why in pkgs.items():
        assert len(why.split()) >= 3, f"{name}: say why it is installed"
        assert f"`{name}`" in readme, f"README.md does not list apt package {name}"


def test_setup_lists_installs_with_progress_and_disables_the_broker_service(tmp_path: Path) -> None:
    bash = need_tool("bash")
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(SETUP, repo / "scripts" / "setup.sh")
    (repo / "pyproject.toml").write_text("")
    venv_bin = repo / ".venv" / "bin"
    fakes = tmp_path / "bin"
    for d, names in ((fakes, ("dpkg-query", "apt-get", "systemctl", "sudo", "arm-none-eabi-gcc", "qemu-system-arm")),
                     (venv_bin, ("python",))):
        d.mkdir(parents=True)
        for name in names:
            (d / name).write_text(FAKE)
            (d / name).chmod(0o755)
    log = tmp_path / "calls.log"
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}", "EK_SETUP_LOG": str(log)}
    res = subprocess.run([bash, str(repo / "scripts" / "setup.sh")], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    calls = log.read_text().splitlines()
    out = res.stdout
    for name, why in _packages().items():
        assert re.search(rf"^  {re.escape(name)}\s+{re.escape(why)}$", out, re.M), f"{name} not listed with why"
    install = next(c for c in calls if c.startswith("apt-get install"))
    assert "-qq" not in install and "mosquitto" in install
    assert any(c == "systemctl disable --now mosquitto.service" for c in calls), calls
    assert "disabled the mosquitto system service" in out
    pip = [c for c in calls if c.startswith("python -m pip install") and "-e" in c.split()]
    assert pip and " -q" not in pip[0], "pip's progress is shown for the long install"
    assert ".venv/bin/activate" in out
