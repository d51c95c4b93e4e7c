"""What a build system is to edgekit: one :class:`BuildSystem` subclass per build tool, registered by name.

Each class says, for each runtime (``edgekit``: the AOT C; ``tflm``: TensorFlow Lite Micro), where the pieces of a
generated project go (:class:`Layout`), where the build leaves its ELF, which commands build the project, what
this machine lacks to run them and how to install it. The modules next to this one (``cmake.py``,
``pico_sdk.py``, ``esp_idf.py``, ``zephyr.py``, ``platformio.py``, ``linux.py``) are the build systems;
:mod:`edgekit.buildsys.registry` imports them and answers by name. Pinned third-party revisions are data
(``pins.yaml``, :func:`pins`). Adding a build system is one module here plus its templates.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from edgekit.errors import UsageError

if TYPE_CHECKING:
    from edgekit.manifest import ProjectManifest

__all__ = ["APT_ARM", "BuildStep", "BuildSystem", "Layout", "pins", "register"]

PINS_FILE = Path(__file__).with_name("pins.yaml")
APT_ARM = "sudo apt-get install cmake gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
REGISTRY: dict[str, BuildSystem] = {}


@cache
def pins() -> dict[str, str]:
    """The pinned third-party revisions (``pins.yaml``): git commits, release tags and exact versions."""
    import yaml

    data = yaml.safe_load(PINS_FILE.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True)
class BuildStep:
    """One command of a build, run in the project directory."""

    what: str
    argv: tuple[str, ...]

    @property
    def cmdline(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Layout:
    """Where a generated project's pieces go (paths relative to the project).

    ``core_files``: the firmware-core files (``firmware_templates/common``) the port needs; ``None`` is the whole
    bare-metal core with the board's UART and clock drivers. ``ports``: files of ``firmware_templates/ports`` (the
    SDK glue) copied into ``ports_dir``. ``templates``: Jinja templates (paths under ``firmware_templates/``)
    -> project paths.
    """

    core_dir: str
    model_dir: str
    ports_dir: str
    core_files: tuple[str, ...] | None
    ports: tuple[str, ...] = ()
    templates: dict[str, str] = field(default_factory=dict)


class BuildSystem:
    """A build tool edgekit generates projects for. Subclasses set the class attributes and :meth:`layout`."""

    name: ClassVar[str]
    title: ClassVar[str]                      # how people write it: "ESP-IDF", "Pico SDK"
    firmware: ClassVar[bool] = True           # False: the board runs a bundle, not firmware (Linux)
    elf_path: ClassVar[str] = "build/firmware.elf"  # where the build leaves the ELF ({name}: project, {env}: env)
    tflm_flavour: ClassVar[str] = ""          # the TFLM copy this build system uses (op_resolver FLAVOURS)
    tflm_version: ClassVar[str] = ""          # its version string, formatted with pins()

    def layout(self, runtime: str) -> Layout:
        """Where the pieces of a project for ``runtime`` go."""
        raise UsageError(f"build system '{self.name}' has no {runtime} project layout")

    def elf(self, name: str = "firmware", env: str = "") -> str:
        """The ELF path of a project named ``name`` (PlatformIO: environment ``env``)."""
        return self.elf_path.format(name=name, env=env)

    def runtime_version(self) -> str:
        """The TFLM copy a TFLM project of this build system reports (``ek_runtime_version``)."""
        return self.tflm_version.format(**pins())

    def plan(self, root: Path, project: ProjectManifest, *, jobs: int, tflm_dir: str | None,
             cmsis_nn: bool, tflm_fetch: bool = False) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        """(the commands, the image files they may leave with the ELF first, the environment settings they use)."""
        raise UsageError(f"{root}: projects of build system '{self.name}' are not built with 'edgekit build'")

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None, tflm_fetch: bool = False) -> list[str]:
        """What the build needs and this machine lacks, each entry one program or setting and how to get it."""
        return []

    def install_hint(self, runtime: str, missing: tuple[str, ...] | list[str] = ()) -> str:
        """How to install everything :meth:`missing` can name."""
        return ""


def register(cls: type[BuildSystem]) -> type[BuildSystem]:
    """Class decorator: make ``cls`` the build system named ``cls.name``."""
    REGISTRY[cls.name] = cls()
    return cls


def need(missing: list[str], program: str, how: str) -> None:
    """Append ``"program (how)"`` to ``missing`` when ``program`` is not on PATH."""
    if shutil.which(program) is None:
        missing.append(f"{program} ({how})")


def env_settings(*names: str) -> dict[str, str]:
    """The environment variables among ``names`` that are set (what a build takes from the environment)."""
    import os

    return {n: os.environ[n] for n in names if os.environ.get(n)}
