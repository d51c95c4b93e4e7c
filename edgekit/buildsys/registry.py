"""The build systems by name: every module of :mod:`edgekit.buildsys` that defines one registers it on import."""

from __future__ import annotations

from edgekit.buildsys import cmake, esp_idf, linux, pico_sdk, platformio, zephyr  # noqa: F401  (they register)
from edgekit.buildsys.base import REGISTRY, BuildSystem
from edgekit.errors import UsageError

__all__ = ["firmware_systems", "get", "names"]


def names() -> tuple[str, ...]:
    """Every build system a board file may name (``build.system``)."""
    return tuple(REGISTRY)


def firmware_systems() -> tuple[str, ...]:
    """The build systems that build firmware (all but Linux)."""
    return tuple(n for n, s in REGISTRY.items() if s.firmware)


def get(name: str) -> BuildSystem:
    """The build system ``name``; UsageError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown build system '{name}' (known: {', '.join(REGISTRY)})") from None
