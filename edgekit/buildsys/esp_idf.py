"""ESP-IDF (ESP32-S3): ``idf.py -C . -B build build`` (IDF_PATH and idf.py from ``export.sh``); build/<name>.elf, .bin.

edgekit runtime: the AOT model is the IDF component ``components/edgekit_model``, required by ``main`` (the port:
USB-Serial-JTAG or UART0, CCOUNT timer); TFLM: Espressif's esp-tflite-micro component (ESP-NN kernels).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.buildsys.base import BuildStep, BuildSystem, Layout, env_settings, need, pins, register

if TYPE_CHECKING:
    from edgekit.manifest import ProjectManifest

_CORE = ("ek_port.h", "ek_protocol.c", "ek_protocol.h")
_PORTS = ("ek_port_esp.c", "ek_main_esp.c")
_SHARED = {"esp-idf/CMakeLists.txt.j2": "CMakeLists.txt", "esp-idf/main_CMakeLists.txt.j2": "main/CMakeLists.txt",
           "esp-idf/sdkconfig.defaults.j2": "sdkconfig.defaults"}


@register
class EspIdf(BuildSystem):
    name = "esp-idf"
    title = "ESP-IDF"
    elf_path = "build/{name}.elf"
    tflm_flavour = "esp-tflite-micro"
    tflm_version = "esp-tflite-micro {esp_tflite_micro}"

    def layout(self, runtime: str) -> Layout:
        if runtime == "tflm":
            return Layout("main", "main", "main", _CORE, _PORTS, {
                **_SHARED, "esp-idf/idf_component.yml.j2": "main/idf_component.yml",
                "tflm/esp-idf/README.md.j2": "README.md"})
        return Layout("main", "components/edgekit_model", "main", _CORE, _PORTS, {
            **_SHARED, "esp-idf/component_CMakeLists.txt.j2": "components/edgekit_model/CMakeLists.txt",
            "README.edgekit.md.j2": "README.md"})

    def plan(self, root: Path, project: ProjectManifest, *, jobs: int, tflm_dir: str | None,
             cmsis_nn: bool, tflm_fetch: bool = False) -> tuple[list[BuildStep], list[Path], dict[str, str]]:
        build = root / "build"
        name = project.name
        steps = [BuildStep("ESP-IDF build", ("idf.py", "-C", str(root), "-B", str(build), "build"))]
        return steps, [build / f"{name}.bin"], env_settings("IDF_PATH")

    def missing(self, root: Path, *, runtime: str, tflm_dir: str | None = None, tflm_fetch: bool = False) -> list[str]:
        missing: list[str] = []
        idf = os.environ.get("IDF_PATH")
        need(missing, "idf.py", f"IDF_PATH={idf} is set but export.sh was not run in this shell: run "
             "'. $IDF_PATH/export.sh'" if idf else
             f"ESP-IDF >= {pins()['esp_idf_min']}: install it and run '. $IDF_PATH/export.sh'")
        return missing

    def install_hint(self, runtime: str, missing: tuple[str, ...] | list[str] = ()) -> str:
        return (f"install ESP-IDF (>= {pins()['esp_idf_min']}: clone espressif/esp-idf with --recursive and run "
                "'./install.sh esp32s3' in it), then '. $IDF_PATH/export.sh' in this shell: it sets IDF_PATH and "
                "puts idf.py on PATH")
