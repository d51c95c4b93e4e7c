"""One TFLM static library per (TFLM tree, CPU flags, kernel flavour, compiler), reused by every TFLM project.

Compiling TFLM takes minutes; the firmware around it takes seconds. ``edgekit build`` passes the generated CMake
project ``-DEDGEKIT_TFLM_LIB_CACHE=<dir>`` (see ``firmware_templates/tflm/cmake/tflm.cmake.j2``): when
``<dir>/libtflm.a`` exists the project links it as an imported library, else it compiles TFLM and stores the
library there. ``<dir>`` is named by :func:`library_key`, a hash of everything that changes the library's code:

- the TFLM sources: every ``.c``/``.cc``/``.h`` under the tree's ``tensorflow/``, ``signal/`` and ``third_party/``
  (relative path, size, modification time), or the pinned commits when CMake downloads them (``EDGEKIT_TFLM_FETCH``);
- how the project compiles them: the generated ``cmake/tflm.cmake`` and the flag settings of ``CMakeLists.txt``
  (CPU flags, optimisation flags; the board's), the kernel flavour (reference or CMSIS-NN);
- the compiler (``arm-none-eabi-g++ --version``).

The cache lives in ``$EDGEKIT_CACHE_DIR/tflm`` (default ``$XDG_CACHE_HOME/edgekit``, else ``~/.cache/edgekit``);
deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

__all__ = ["cache_root", "library_dir", "library_key", "tree_fingerprint"]

_SOURCE_DIRS = ("tensorflow", "signal", "third_party")
_SOURCE_SUFFIXES = (".c", ".cc", ".h")
_COMPILER = "arm-none-eabi-g++"


def cache_root() -> Path:
    """Where edgekit keeps built libraries: ``$EDGEKIT_CACHE_DIR``, ``$XDG_CACHE_HOME/edgekit``, ``~/.cache/edgekit``.
    """
    if os.environ.get("EDGEKIT_CACHE_DIR"):
        return Path(os.environ["EDGEKIT_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "edgekit"


def tree_fingerprint(tflm_dir: str | os.PathLike[str]) -> str:
    """A hash of the TFLM tree's C/C++ sources and headers (relative path, size, modification time)."""
    root = Path(tflm_dir).expanduser().resolve()
    h = hashlib.sha256()
    for top in _SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(_SOURCE_SUFFIXES):
                    path = Path(dirpath) / name
                    st = path.stat()
                    h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _flag_settings(cmakelists: str) -> str:
    """The lines of a generated CMakeLists.txt that set compile flags (those before the TFLM library), without
    comments and the ``project()`` line, which names the project and changes nothing in the library."""
    head = cmakelists.split("include(cmake/tflm.cmake)", 1)[0]
    keep = [ln.strip() for ln in head.splitlines()
            if ln.strip() and not ln.strip().startswith(("#", "project("))]
    return "\n".join(keep)


def compiler_identity(compiler: str = _COMPILER) -> str:
    """The compiler's first ``--version`` line ('' when it cannot be run)."""
    try:
        res = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return res.stdout.splitlines()[0].strip() if res.returncode == 0 and res.stdout else ""


def library_key(project_dir: str | os.PathLike[str], *, tflm_dir: str | os.PathLike[str] | None, cmsis_nn: bool,
                fetch_pins: str = "", compiler: str | None = None) -> str:
    """The cache key (24 hex digits) of the TFLM library a generated CMake project would build.

    Args:
        project_dir: the generated project (its ``cmake/tflm.cmake`` and ``CMakeLists.txt`` are read).
        tflm_dir: the TFLM tree; None when CMake downloads the pinned revision (then ``fetch_pins`` counts).
        cmsis_nn: the CMSIS-NN kernel flavour instead of the reference kernels.
        fetch_pins: the pinned commits CMake downloads (with ``tflm_dir`` None).
        compiler: the compiler identity (default: ``arm-none-eabi-g++ --version``).
    """
    proj = Path(project_dir)
    parts = [
        f"tree={tree_fingerprint(tflm_dir)}" if tflm_dir else f"fetch={fetch_pins}",
        f"cmsis_nn={bool(cmsis_nn)}",
        f"compiler={compiler_identity() if compiler is None else compiler}",
        "tflm.cmake=" + hashlib.sha256((proj / "cmake" / "tflm.cmake").read_bytes()).hexdigest(),
        "flags=" + _flag_settings((proj / "CMakeLists.txt").read_text(encoding="utf-8")),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def library_dir(project_dir: str | os.PathLike[str], *, tflm_dir: str | os.PathLike[str] | None, cmsis_nn: bool,
                fetch_pins: str = "") -> Path:
    """The cache directory for this project's TFLM library (it may not exist yet)."""
    key = library_key(project_dir, tflm_dir=tflm_dir, cmsis_nn=cmsis_nn, fetch_pins=fetch_pins)
    return cache_root() / "tflm" / key
