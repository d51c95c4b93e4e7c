"""How ``edgekit build`` builds each kind of generated project: the commands, what they need, where the image lands.

The project's ``edgekit_project.json`` says which build system it uses (``build_system``; AOT projects and
older files have none and are CMake). :func:`plan_build` turns it into the exact commands, run in the project
directory:

- cmake: ``cmake -S . -B build -DCMAKE_BUILD_TYPE=Release [-DEDGEKIT_TFLM_DIR=...]``, ``cmake --build build -j N``;
  images build/firmware.elf, .bin, .hex
- pico-sdk: the same two with ``-DPICO_SDK_PATH=$PICO_SDK_PATH``; build/firmware.elf, .uf2, .bin, .hex
- esp-idf: ``idf.py -C . -B build build`` (IDF_PATH and idf.py from ``export.sh``); build/<name>.elf, .bin
- zephyr: ``west build -b <board> -d build .`` (a west workspace or ZEPHYR_BASE); build/zephyr/zephyr.elf,
  .hex, .bin (.uf2 when the board's Zephyr config asks for one)
- platformio: ``pio run -d . -e <env> -j N``; .pio/build/<env>/firmware.elf, .hex, .bin

(paths relative to the project; the commands name them absolutely).
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import ToolMissing, UsageError

BUILD_DIR = "build"
SYSTEMS = ("cmake", "pico-sdk", "esp-idf", "zephyr", "platformio")

_APT_ARM = "sudo apt-get install cmake gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
# How to give a TFLM CMake project its TensorFlow Lite Micro sources (the one variable: EDGEKIT_TFLM_DIR).
TFLM_TREE_HINT = ("export EDGEKIT_TFLM_DIR=<a tensorflow/tflite-micro checkout> (or pass --tflm-dir) after running "
                  "'make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads' in it once, or pass "
                  "--tflm-fetch (EDGEKIT_TFLM_FETCH=1) to let CMake download the pinned revision (git + network)")
# What to install (and which environment variable to set) when a build system's tools are missing.
INSTALL_HINTS: dict[str, str] = {
    "cmake": _APT_ARM,
    "pico-sdk": (f"{_APT_ARM}; git clone https://github.com/raspberrypi/pico-sdk && git -C pico-sdk checkout "
                 "{pico_sdk_commit} && git -C pico-sdk submodule update --init; export PICO_SDK_PATH=$PWD/pico-sdk"),
    "esp-idf": ("install ESP-IDF (>= {esp_idf_min}: clone espressif/esp-idf with --recursive and run "
                "'./install.sh esp32s3' in it), then '. $IDF_PATH/export.sh' in this shell: it sets IDF_PATH and "
                "puts idf.py on PATH"),
    "zephyr": ("pip install west=={west}; in the project run 'west init -l . && west update' (or export ZEPHYR_BASE=<a "
               "zephyr checkout>), and install the Zephyr SDK (arm-zephyr-eabi toolchain)"),
    "platformio": "pip install platformio=={platformio} (the first build downloads the board's platform and toolchain)",
}


@dataclass(frozen=True)
class BuildStep:
    """One command of a build, run in the project directory."""

    what: str
    argv: tuple[str, ...]

    @property
    def cmdline(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class BuildPlan:
    """The commands that build a project, what this machine lacks to run them, and where the images land."""

    project_dir: Path
    build_system: str
    runtime: str
    steps: tuple[BuildStep, ...]
    elf: Path                        # the ELF the build produces
    images: tuple[Path, ...]         # every image file the build may produce (ELF first), where known
    missing: tuple[str, ...] = ()    # programs / settings this machine lacks (empty: ready)
    hint: str = ""                   # how to install what is missing
    env: dict[str, str] = field(default_factory=dict)  # settings the commands take from the environment

    def to_dict(self) -> dict[str, Any]:
        return {"project_dir": str(self.project_dir), "build_system": self.build_system, "runtime": self.runtime,
                "steps": [{"what": s.what, "argv": list(s.argv), "cmdline": s.cmdline} for s in self.steps],
                "elf": str(self.elf), "images": [str(p) for p in self.images], "missing": list(self.missing),
                "hint": self.hint, "env": dict(self.env)}

    def require_tools(self) -> None:
        """ToolMissing naming everything missing, the install step and the commands that will then run."""
        if self.missing:
            then = "; ".join(s.cmdline for s in self.steps)
            raise ToolMissing(f"{self.project_dir}: cannot build this {self.build_system} project, missing: "
                              f"{'; '.join(self.missing)}", hint=f"{self.hint}; then 'edgekit build' runs: {then}")


def plan_build(project_dir: str | os.PathLike[str], *, jobs: int = 2, tflm_dir: str | None = None,
               cmsis_nn: bool = False, tflm_fetch: bool | None = None) -> BuildPlan:
    """The exact commands that build the generated project in ``project_dir`` (nothing is run).

    Args:
        project_dir: a project made by ``edgekit generate``.
        jobs: parallel compile jobs (CMake, Pico SDK, PlatformIO; ESP-IDF and Zephyr use ninja's default).
        tflm_dir: TFLM CMake projects: the tflite-micro tree (default: the ``EDGEKIT_TFLM_DIR`` environment variable).
        cmsis_nn: TFLM CMake projects: build TFLM's CMSIS-NN kernels.
        tflm_fetch: TFLM CMake projects without a tree: let CMake download the pinned TFLM (default: the
            ``EDGEKIT_TFLM_FETCH`` environment variable). The TFLM library is built once per configuration and
            reused from :mod:`edgekit.buildsys.tflm_cache`.

    Raises:
        UsageError: not an edgekit project, or an unknown build system.
    """
    from edgekit.manifest import load_project

    root = Path(project_dir).expanduser().resolve()
    data = load_project(root)
    system = data.build_system
    runtime = data.runtime
    if system not in SYSTEMS:
        raise UsageError(f"{root}: unknown build system '{system}' in edgekit_project.json (known: "
                         f"{', '.join(SYSTEMS)})", hint="run 'edgekit generate' again")
    jobs = max(1, int(jobs))
    build = root / BUILD_DIR
    name = data.name
    elf = root / data.elf
    env: dict[str, str] = {}
    tflm = runtime == "tflm"
    if system in ("cmake", "pico-sdk"):
        configure = ["cmake", "-S", str(root), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"]
        if system == "cmake" and tflm:
            configure += _tflm_configure(root, env, tflm_dir, cmsis_nn, tflm_fetch)
        if system == "pico-sdk":
            for var in ("PICO_SDK_PATH", "PICO_TFLMICRO_PATH"):
                if os.environ.get(var):
                    configure.append(f"-D{var}={os.environ[var]}")
                    env[var] = os.environ[var]
        steps = [BuildStep("firmware configure", tuple(configure)),
                 BuildStep("firmware build", ("cmake", "--build", str(build), "-j", str(jobs)))]
        images = [elf, build / "firmware.bin", build / "firmware.hex"]
        if system == "pico-sdk":
            images.insert(1, build / "firmware.uf2")
    elif system == "esp-idf":
        if os.environ.get("IDF_PATH"):
            env["IDF_PATH"] = os.environ["IDF_PATH"]
        steps = [BuildStep("ESP-IDF build", ("idf.py", "-C", str(root), "-B", str(build), "build"))]
        images = [elf, build / f"{name}.bin"]
    elif system == "zephyr":
        board = data.zephyr_board or data.board
        if os.environ.get("ZEPHYR_BASE"):
            env["ZEPHYR_BASE"] = os.environ["ZEPHYR_BASE"]
        steps = [BuildStep("Zephyr build", ("west", "build", "-b", str(board), "-d", str(build), str(root)))]
        out = build / "zephyr"
        images = [elf, out / "zephyr.hex", out / "zephyr.bin", out / "zephyr.uf2"]
    else:  # platformio
        env_name = _pio_env(root, elf)
        pio = "pio" if shutil.which("pio") or not shutil.which("platformio") else "platformio"
        steps = [BuildStep("PlatformIO build", (pio, "run", "-d", str(root), "-e", env_name, "-j", str(jobs)))]
        images = [elf, elf.with_name("firmware.hex"), elf.with_name("firmware.bin")]
    missing = _missing(system, tflm, root, tflm_dir, _fetch(tflm_fetch))
    hint = _hint(system, tflm, missing)
    return BuildPlan(root, system, runtime, tuple(steps), elf, tuple(dict.fromkeys(images)), tuple(missing), hint,
                     env)


def find_images(plan: BuildPlan) -> list[Path]:
    """The image files a finished build left (those of ``plan.images`` that exist, the ELF first)."""
    return [p for p in plan.images if p.is_file()]


# ------------------------------------------------------------------------------------------------------

def _fetch(tflm_fetch: bool | None) -> bool:
    if tflm_fetch is not None:
        return tflm_fetch
    return os.environ.get("EDGEKIT_TFLM_FETCH", "").lower() in ("1", "on", "true", "yes")


def _tflm_configure(root: Path, env: dict[str, str], tflm_dir: str | None, cmsis_nn: bool,
                    tflm_fetch: bool | None) -> list[str]:
    """The CMake -D options of a TFLM project: the tree (or the fetch), the kernels, the library cache."""
    from edgekit.buildsys.tflm_cache import library_dir

    out = []
    tdir = tflm_dir or os.environ.get("EDGEKIT_TFLM_DIR")
    tree = Path(tdir).expanduser().resolve() if tdir else None
    if tree is not None:
        out.append(f"-DEDGEKIT_TFLM_DIR={tree}")
        env["EDGEKIT_TFLM_DIR"] = str(tdir)
    elif _fetch(tflm_fetch):
        out.append("-DEDGEKIT_TFLM_FETCH=ON")
    out.append(f"-DEDGEKIT_CMSIS_NN={'ON' if cmsis_nn else 'OFF'}")
    if (tree is not None and tree.is_dir()) or (tree is None and _fetch(tflm_fetch)):
        pins = " ".join(f"{k}={v}" for k, v in sorted(_pins().items()) if k.endswith("_commit"))
        out.append(f"-DEDGEKIT_TFLM_LIB_CACHE={library_dir(root, tflm_dir=tree, cmsis_nn=cmsis_nn, fetch_pins=pins)}")
    return out


def _hint(system: str, tflm: bool, missing: list[str]) -> str:
    """How to get what is missing, and only that (no install line for programs that are installed)."""
    if system != "cmake":
        return INSTALL_HINTS[system].format(**_pins())
    tree_missing = [m for m in missing if m.startswith("EDGEKIT_TFLM_DIR")]
    parts = [INSTALL_HINTS["cmake"]] if len(tree_missing) < len(missing) or not missing else []
    if tflm and tree_missing:
        parts.append(TFLM_TREE_HINT)
    return "; ".join(parts)


def _missing(system: str, tflm: bool, root: Path, tflm_dir: str | None, fetch: bool) -> list[str]:
    if tflm:
        from edgekit.codegen.tflm_project import missing_tools

        return missing_tools(root, tflm_dir=tflm_dir, tflm_fetch=fetch)
    return [f"{prog} ({INSTALL_HINTS['cmake']})" for prog in ("cmake", "arm-none-eabi-gcc")
            if shutil.which(prog) is None]


def _pio_env(root: Path, elf: Path) -> str:
    """The PlatformIO environment: from the ELF path .pio/build/<env>/firmware.elf, else platformio.ini."""
    parts = elf.relative_to(root).parts if elf.is_relative_to(root) else ()
    if len(parts) >= 3 and parts[:2] == (".pio", "build"):
        return parts[2]
    ini = root / "platformio.ini"
    if ini.is_file():
        for line in ini.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("default_envs"):
                return line.split("=", 1)[1].split(",")[0].strip()
    raise UsageError(f"{root}: cannot tell the PlatformIO environment (no .pio/build/<env> ELF path in "
                     "edgekit_project.json, no default_envs in platformio.ini)", hint="run 'edgekit generate' again")


def _pins() -> dict[str, str]:
    from edgekit.codegen.tflm_project import PINS

    return PINS
