"""Compile and link a generated edgekit-runtime project the way its build system would, without the SDK.

Sources come from the project's own layout (the build system's :class:`~edgekit.buildsys.base.Layout`); the SDK's
headers are the stand-ins of ``tests/fixtures/sdk_stubs/<build system>`` (declarations and empty ``static inline``
bodies written for these tests); the SDK configuration headers are made from the project's own configuration
files (Zephyr's ``autoconf.h`` from ``prj.conf``, ESP-IDF's ``sdkconfig.h`` from ``sdkconfig.defaults``). Arm
boards compile with arm-none-eabi-gcc and the board's ``build.cpu_flags``, ESP32-S3 with the host gcc. Everything
with ``-Wall -Wextra -Werror``; the link proves that every function the protocol calls is defined.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

STUBS = Path(__file__).parent / "fixtures" / "sdk_stubs"
WARN = ("-Wall", "-Wextra", "-Werror")
ENTRY = {"platformio": "arduino_main.cpp", "esp-idf": "esp_main.c"}  # the SDK's entry point, a stand-in


@dataclass
class Linked:
    """The result: the image and the objects of the model library (by file name)."""

    image: Path
    model_objects: dict[str, Path]


def _run(argv: list[str]) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"{' '.join(argv)}\n{res.stdout}\n{res.stderr}"


def _config_header(conf: Path, out: Path) -> Path:
    """``CONFIG_X=y`` / ``=n`` / ``=123`` / ``="s"`` lines as the #defines Kconfig would generate."""
    lines = []
    for line in conf.read_text().splitlines():
        m = re.fullmatch(r"(CONFIG_\w+)=(.*)", line.strip())
        if m and m.group(2) != "n":
            lines.append(f"#define {m.group(1)} {1 if m.group(2) == 'y' else m.group(2)}")
    out.write_text("\n".join(lines) + "\n")
    return out


def compile_project(project: Path, board, work: Path, cache: Path) -> Linked:
    """Compile every source of the project (core, port, model library) and link them with the SDK stand-ins."""
    import json

    from edgekit.buildsys.registry import get

    data = json.loads((project / "edgekit_project.json").read_text())
    system = data["build_system"]
    layout = get(system).layout("edgekit")
    core, model = project / layout.core_dir, project / layout.model_dir
    work.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    host = system == "esp-idf"
    cc, cxx = ("gcc", "g++") if host else ("arm-none-eabi-gcc", "arm-none-eabi-g++")
    cpu = [] if host else list(board.build.cpu_flags)
    defines = [f"-D{d}" for d in board.build.defines]
    incs = [f"-I{core}", f"-I{model}"]
    if system != "cmake":
        incs += ["-isystem", str(STUBS / system), "-isystem", str(work)]
    if system == "zephyr":
        incs += ["-imacros", str(_config_header(project / "prj.conf", work / "autoconf.h"))]
    if system == "esp-idf":
        _config_header(project / "sdkconfig.defaults", work / "sdkconfig.h")
        text = (project / "main" / "CMakeLists.txt").read_text()
        defines += [f"-D{d}" for d in re.findall(r"target_compile_definitions\(\S+ PRIVATE ([\w=]+)\)", text)]
    common = [*cpu, "-O2", *WARN, "-ffunction-sections", "-fdata-sections", *defines]
    core_std = "-std=c99" if system == "cmake" else "-std=gnu11"

    jobs: list[tuple[list[str], Path]] = []
    model_objects: dict[str, Path] = {}
    model_headers = b"".join(p.read_bytes() for p in sorted(model.glob("*.h")))
    for src in sorted(model.glob("*.c")):
        argv = [cc, *common, "-std=c99", f"-I{model}", "-c", str(src)]
        key = hashlib.sha256(" ".join(argv[:-1]).encode() + src.read_bytes() + model_headers).hexdigest()[:20]
        obj = cache / f"{src.stem}-{key}.o"
        model_objects[src.name] = obj
        if not obj.exists():
            jobs.append(([*argv, "-o", str(obj)], obj))
    objs = list(model_objects.values())
    core_srcs = [p for p in sorted(core.iterdir()) if p.suffix in (".c", ".cpp") and p.parent != model]
    if system in ENTRY:
        core_srcs.append(STUBS / system / ENTRY[system])
    for src in core_srcs:
        obj = work / f"core-{src.stem}.o"
        lang = [cxx, "-std=gnu++14", "-fno-rtti", "-fno-exceptions"] if src.suffix == ".cpp" else [cc, core_std]
        jobs.append(([lang[0], *common, *lang[1:], *incs, "-c", str(src), "-o", str(obj)], obj))
        objs.append(obj)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: _run(job[0]), jobs))

    image = work / "firmware.elf"
    linker = cxx if system == "platformio" else cc
    if host:
        _run([linker, *objs, "-o", str(image), "-lm"])
    elif system == "cmake":
        _run([linker, *cpu, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", f"-T{project / 'linker.ld'}",
              "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments", *objs, "-o", str(image), "-lm"])
    else:  # the SDK's own start-up and linker script are not here: newlib's crt0 and the default map stand in
        _run([linker, *cpu, "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
              "-Wl,--no-warn-rwx-segments", *objs, "-o", str(image), "-lm"])
    return Linked(image, model_objects)


def build_file_sources(project: Path, system: str) -> dict[str, set[str]]:
    """The source files each build file of an SDK project names (build file -> file names)."""
    files = {"pico-sdk": ["CMakeLists.txt", "edgekit_model/CMakeLists.txt"],
             "esp-idf": ["main/CMakeLists.txt", "components/edgekit_model/CMakeLists.txt"],
             "zephyr": ["CMakeLists.txt", "modules/edgekit_model/CMakeLists.txt"], "platformio": []}[system]
    return {f: {Path(m).name for m in re.findall(r"[\w/]+\.(?:c|cc|cpp)\b", (project / f).read_text())}
            for f in files}


def disassemble(obj: Path) -> str:
    """``arm-none-eabi-objdump -d`` of an object file."""
    return subprocess.run([shutil.which("arm-none-eabi-objdump") or "arm-none-eabi-objdump", "-d", str(obj)],
                          capture_output=True, text=True, check=True).stdout
