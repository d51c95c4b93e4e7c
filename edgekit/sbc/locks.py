"""The exact packages an SBC bundle installs: the runtime's whole dependency closure, each pinned with ``==`` and
(where PyPI serves every file pip may pick) the SHA-256 of each file, for pip's hash-checking mode.

The hashes come from PyPI's JSON API (``scripts/lock_sbc_requirements.py`` writes :mod:`edgekit.sbc.lock_hashes`).
armv7l is the exception: numpy has no armv7l wheel on PyPI, so pip takes it from the extra index that Raspberry Pi
OS configures (piwheels), whose hashes are not known here; pip's hash mode is all-or-nothing, so an armv7l
``requirements.txt`` pins exact versions without hashes (the bundle README says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgekit.errors import ToolMissing
from edgekit.sbc.lock_hashes import HASHES

if TYPE_CHECKING:
    from edgekit.sbc.edgekit_runner.wheels import RuntimeChoice

PAHO = "paho-mqtt==2.2.0"
LITERT_CLOSURE = ("ai-edge-litert==2.3.0", "ml-dtypes==0.6.0", "protobuf==7.36.2", "flatbuffers==25.12.19",
                  "tqdm==4.70.1", "typing-extensions==4.16.0", "backports-strenum==1.2.8")
TFLITE_RUNTIME_CLOSURE = ("tflite-runtime==2.14.0",)
UNHASHED_MACHINES = ("armv7l",)


def locked_packages(choice: RuntimeChoice) -> list[str]:
    """``name==version`` of every package ``choice`` installs on its machine and Python (closure included)."""
    py = choice.python
    if choice.package == "ai-edge-litert":
        numpy = "numpy==2.2.6" if py < (3, 11) else "numpy==2.3.5"  # ml-dtypes 0.6 needs numpy 2 (2.3 on 3.14)
        return [LITERT_CLOSURE[0], numpy, *LITERT_CLOSURE[1:], PAHO]
    if choice.package == "tflite-runtime":
        numpy = "numpy==1.24.4" if py < (3, 9) else "numpy==1.26.4"  # tflite-runtime breaks with numpy 2
        return [*TFLITE_RUNTIME_CLOSURE, numpy, PAHO]
    raise ToolMissing(f"no lock for runtime package '{choice.package}'",
                      hint="add it to scripts/lock_sbc_requirements.py and edgekit/sbc/locks.py")


def locked_requirements(choice: RuntimeChoice) -> list[str]:
    """The ``requirements.txt`` lines for ``choice``: ``name==version --hash=sha256:... ...`` (one per package).

    Raises:
        ToolMissing: a pinned package has no file PyPI serves for the machine (the lock needs updating).
    """
    lines = []
    for req in locked_packages(choice):
        hashes = HASHES.get(req, {}).get(choice.machine, ())
        if choice.machine in UNHASHED_MACHINES:
            lines.append(req)
            continue
        if not hashes:
            raise ToolMissing(f"{req}: no file on PyPI for {choice.machine} in the lock",
                              hint="run scripts/lock_sbc_requirements.py (and check the package has such wheels)")
        lines.append(" ".join([req, *(f"--hash=sha256:{h}" for h in hashes)]))
    return lines
