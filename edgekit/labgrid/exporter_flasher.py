"""Flash a real board in a labgrid place with edgekit's own flasher, run on the exporter host that holds its USB.

labgrid exports a board's probe / DFU device / UF2 drive as a ``NetworkUSB...`` resource: the device stays on the
exporter host, and labgrid's own drivers run their tools there over SSH. edgekit does the same with itself: the
image is copied with ``scp`` and ``ssh HOST edgekit flash FILE --board ID --json`` writes it with the flasher the
board's profile names (``flash.method``), which finds the device by the board's USB id on that host (or by the
probe unique id the place's ``edgekit_probe`` tag names, passed as ``--probe``). Needs SSH
access (keys, ``BatchMode``) and edgekit (with the flash extra) on the exporter host.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from edgekit import proc
from edgekit.errors import DeviceError
from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import Image

TIMEOUT_S = 600.0
# the exported resources that mean "the board's flashing interface is on the exporter host"
USB_CLASSES = ("NetworkUSBDebugger", "NetworkUSBMassStorage", "NetworkDFUDevice", "NetworkUSBFlashableDevice")
SSH_OPTIONS = ("-o", "BatchMode=yes")


class ExporterFlasher(Flasher):
    """Writes an image through ``edgekit flash`` on the exporter host ``port`` (set ``via`` for messages)."""

    name = "labgrid-exporter"
    via = ""
    _remote: dict[str, Any] | None = None

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"elf", "hex", "bin", "uf2"}), verify=True, reset=True, port=True,
                            program="ssh", install_hint="sudo apt-get install openssh-client")

    def remote_path(self, image: Image) -> str:
        """Where the image goes on the exporter host (named by its content: a re-flash reuses nothing stale)."""
        digest = hashlib.sha256(image.path.read_bytes()).hexdigest()[:16]
        return f"/tmp/edgekit-flash-{digest}{image.path.suffix}"

    def argvs(self, image: Image) -> list[list[str]]:
        """The exact commands: copy, then flash with the board's own flasher on the exporter host."""
        host, remote = str(self.port), self.remote_path(image)
        return [["scp", "-q", *SSH_OPTIONS, str(image.path), f"{host}:{remote}"],
                ["ssh", *SSH_OPTIONS, host, "edgekit", "flash", remote, "--board", self.board.id,
                 *(["--probe", self.probe] if self.probe else []), "--json"]]

    def write(self, image: Image) -> None:
        copy, remote_flash = self.argvs(image)
        import shlex

        for argv in (copy, remote_flash):
            self.step(shlex.join(argv) + (f"  # {self.via}" if self.via and argv is copy else ""))
        proc.run(copy, timeout=TIMEOUT_S, dry_run=self.dry_run, what=f"scp to {self.port}")
        res = proc.run(remote_flash, timeout=TIMEOUT_S, dry_run=self.dry_run, what=f"edgekit flash on {self.port}")
        if not self.dry_run:
            try:
                self._remote = json.loads(res.stdout)
            except ValueError:
                raise DeviceError(f"'edgekit flash' on {self.port} did not answer with its JSON result",
                                  hint=f"its output: {res.stdout.strip()[-300:] or '(none)'}") from None
            self.warnings += [f"{self.port}: {w}" for w in self._remote.get("warnings", [])]

    def verify(self, image: Image) -> bool | None:
        return None if self._remote is None else self._remote.get("verified")

    def reset(self) -> bool:
        return bool(self._remote and self._remote.get("reset"))
