"""``python -m edgekit``."""

from edgekit.cli import entry

entry()
