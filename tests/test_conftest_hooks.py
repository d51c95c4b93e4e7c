"""The test suite's own hooks (tests/conftest.py): what a failure report shows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_failing_edgekit_error_shows_its_hint(tmp_path: Path) -> None:
    """A QEMU exit's DeviceError says what happened in its message and the tail of QEMU's log in its hint: a
    failing test's report carries both, so a CI log alone explains a lockup after the temporary files are gone."""
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_inner.py").write_text(
        "from edgekit.errors import DeviceError\n\n\n"
        "def test_qemu_died() -> None:\n"
        "    raise DeviceError('QEMU aborted (SIGABRT)', hint='last QEMU output: qemu: fatal: Lockup')\n\n\n"
        "def test_plain_failure() -> None:\n"
        "    assert 1 == 2\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "2 failed" in proc.stdout, proc.stdout[-2000:]
    assert proc.stdout.count("edgekit hint") == 1  # the DeviceError's, not the plain assertion's
    assert "last QEMU output: qemu: fatal: Lockup" in proc.stdout
