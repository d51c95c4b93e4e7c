"""One registry for the things edgekit lets other packages add: flashers and power monitors (and whatever comes next).

A registry maps short names to ``module:Class`` targets: the built-ins first, then the entry points of its group
(``[project.entry-points."edgekit.flashers"] NAME = "pkg.mod:Class"``). A plugin may not replace a built-in. A plugin
that fails to load is warned about and left out of listings; asked for by name, it is a :class:`UsageError` that says
so. A built-in that fails to load is our bug and raises as it is.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Generic, TypeVar

from edgekit.errors import UsageError

__all__ = ["PluginRegistry"]

T = TypeVar("T")


class PluginRegistry(Generic[T]):
    """Named plugin classes of one kind (subclasses of ``base``), built in or from an entry-point group."""

    def __init__(self, kind: str, group: str, base: type[T], builtin: dict[str, str], *,
                 unknown_hint: str = "") -> None:
        self.kind = kind            # "flasher", "power monitor": used in messages
        self.group = group          # the entry-point group
        self.base = base
        self.builtin = dict(builtin)
        self.unknown_hint = unknown_hint or f"install a plugin that registers it in the '{group}' entry-point group"

    def entry_points(self) -> dict[str, str]:
        """The group's entry points: name -> ``module:Class`` (a broken distribution's metadata warns)."""
        from importlib.metadata import entry_points

        try:
            eps = entry_points(group=self.group)
        except Exception as exc:  # a broken distribution must not take edgekit down
            warnings.warn(f"edgekit: could not read '{self.group}' entry points: {exc}", stacklevel=3)
            return {}
        return {ep.name: ep.value for ep in eps}

    def names(self) -> dict[str, str]:
        """Every known name and its target: built-ins, then plugins (a plugin may not replace a built-in)."""
        out = dict(self.builtin)
        for name, value in self.entry_points().items():
            if name in out:
                warnings.warn(f"edgekit: {self.kind} plugin '{name}' ({value}) ignored: a built-in {self.kind} has "
                              "that name", stacklevel=3)
                continue
            out[name] = value
        return out

    def load(self, name: str, target: str) -> type[T]:
        """Import ``target`` and check it is a subclass of the registry's base class."""
        module, _, attrs = target.partition(":")
        cls = importlib.import_module(module)
        for attr in attrs.split("."):  # entry points may name a nested attribute: "pkg.mod:Outer.Inner"
            cls = getattr(cls, attr)
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{target} is not a {self.base.__name__} subclass")
        return cls

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``.

        Raises:
            UsageError: no such name, or its plugin failed to load (warned first).
        """
        reg = self.names()
        target = reg.get(name)
        if target is None:
            raise UsageError(f"unknown {self.kind} '{name}' (known: {', '.join(sorted(reg))})", hint=self.unknown_hint)
        try:
            return self.load(name, target)
        except Exception as exc:
            if name in self.builtin:
                raise
            warnings.warn(f"edgekit: {self.kind} plugin '{name}' ({target}) failed to load: {exc}", stacklevel=2)
            raise UsageError(f"the {self.kind} plugin '{name}' failed to load: {exc}",
                             hint="reinstall or fix the plugin package") from None

    def available(self) -> dict[str, type[T]]:
        """Every loadable class by name; plugins that fail to load are warned about and left out."""
        out: dict[str, type[T]] = {}
        for name, target in self.names().items():
            try:
                out[name] = self.load(name, target)
            except Exception as exc:  # a listing never fails: what cannot load is named and left out
                warnings.warn(f"edgekit: {self.kind} '{name}' ({target}) failed to load: {exc}", stacklevel=2)
        return out
