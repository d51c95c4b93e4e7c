"""Flash with OpenOCD (``openocd -f ... -c "program FILE verify reset exit"``), through :func:`edgekit.proc.run`.

Options: ``config`` (list of OpenOCD config files, e.g. ``[interface/stlink.cfg, target/stm32l4x.cfg]``; default
``board/<flash.target>.cfg`` when ``flash.target`` is set). ``--probe`` selects the adapter by serial number
(``adapter serial``). OpenOCD's ``program`` command writes, verifies (``verify``) and resets (``reset``) in one run;
a ``.bin`` gets the address of the board's first flash region.
"""

from __future__ import annotations

from typing import Any

from edgekit import proc
from edgekit.errors import BoardError
from edgekit.flashers.base import Capabilities, Flasher
from edgekit.flashers.image import Image

TIMEOUT_S = 300.0


class OpenocdFlasher(Flasher):
    """``flash.method: openocd``."""

    name = "openocd"

    @classmethod
    def capabilities(cls) -> Capabilities:
        return Capabilities(frozenset({"elf", "hex", "bin"}), verify=True, reset=True, probe=True, program="openocd",
                            install_hint="sudo apt-get install openocd")

    def configs(self) -> list[str]:
        cfg: Any = self.board.flash.options.get("config")
        if isinstance(cfg, str):
            return [cfg]
        if isinstance(cfg, list) and cfg and all(isinstance(c, str) for c in cfg):
            return list(cfg)
        if self.board.flash.target:
            return [f"board/{self.board.flash.target}.cfg"]
        raise BoardError(f"board '{self.board.id}': flash.options.config is required for openocd",
                         hint="e.g. config: [interface/stlink.cfg, target/stm32l4x.cfg]")

    def argv(self, image: Image) -> list[str]:
        """The exact OpenOCD command line."""
        argv = ["openocd"]
        for cfg in self.configs():
            argv += ["-f", cfg]
        if self.probe:
            argv += ["-c", f"adapter serial {self.probe}"]
        where = ""
        if image.format == "bin":
            region = self.board.memory.region("flash")
            if region is None:
                raise BoardError(f"board '{self.board.id}' has no flash region: cannot place a raw .bin")
            where = f" 0x{region.origin:08x}"
        argv += ["-c", f"program {{{image.path}}}{where} verify reset exit"]  # Tcl braces: paths with spaces
        return argv

    def write(self, image: Image) -> None:
        argv = self.argv(image)
        self.step(" ".join(_quote(a) for a in argv))
        proc.run(argv, timeout=TIMEOUT_S, dry_run=self.dry_run, what="openocd")

    def verify(self, image: Image) -> bool | None:
        return True  # 'verify' in the program command: OpenOCD fails the run on a mismatch

    def reset(self) -> bool:
        return True  # 'reset' in the program command


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
