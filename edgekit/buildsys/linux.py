"""Linux boards (Raspberry Pi 4/5, the host): no firmware; they run a LiteRT bundle (:mod:`edgekit.sbc.bundle`)."""

from __future__ import annotations

from edgekit.buildsys.base import BuildSystem, register


@register
class Linux(BuildSystem):
    name = "linux"
    title = "Linux"
    firmware = False
