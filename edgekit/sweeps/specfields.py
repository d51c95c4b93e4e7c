"""Reading a sweep spec's fields: where each field is in the file (its line, from the YAML node tree) and checks
that fail with the file, the line, the field and a hint (:class:`SpecError`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError

__all__ = ["Checker", "SpecError", "Where", "sha256_of", "show"]


class SpecError(EdgekitError):
    """A sweep spec that cannot be run: the message names the file, the line and the field."""


class Where:
    """Field path -> line in the spec file, from the YAML node tree, so errors point at the line."""

    def __init__(self, text: str) -> None:
        import yaml

        from edgekit.boards.yamlfile import unique_key_loader

        self.lines: dict[str, int] = {}
        try:
            root = yaml.compose(text, Loader=unique_key_loader())
        except Exception:  # (load_yaml has already reported a broken file)
            root = None
        if root is not None:
            self._walk(root, "")

    def _walk(self, node: Any, path: str) -> None:
        self.lines[path] = node.start_mark.line + 1
        if hasattr(node, "value") and isinstance(node.value, list):
            for i, item in enumerate(node.value):
                if isinstance(item, tuple):
                    key, val = item
                    sub = f"{path}.{key.value}" if path else str(key.value)
                    self.lines.setdefault(sub, key.start_mark.line + 1)
                    self._walk(val, sub)
                else:
                    self._walk(item, f"{path}[{i}]")

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit("[", 1)[0] if path.endswith("]") else path.rpartition(".")[0]
        return None


class Checker:
    def __init__(self, src: Path, where: Where) -> None:
        self.src, self.where = src, where

    def fail(self, path: str, message: str, hint: str | None = None) -> SpecError:
        line = self.where.line(path)
        at = f" (line {line})" if line else ""
        return SpecError(f"{self.src}{at}: {path}: {message}",
                         hint=hint or "every field of a sweep spec: docs/sweep.md")

    def mapping(self, value: Any, path: str, keys: set[str], example: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {show(value)}", hint=f"e.g. {example}")
        for k in value:
            if k not in keys:
                raise self.fail(f"{path}.{k}" if path else str(k), "unknown key",
                                hint=f"known keys here: {', '.join(sorted(keys))}")
        return value

    def file(self, value: Any, path: str, what: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a path to {what}, got {show(value)}")
        p = Path(value).expanduser()
        p = p if p.is_absolute() else self.src.parent / p
        if not p.exists():
            raise self.fail(path, f"{value}: no such file", hint=f"paths are relative to {self.src.parent}")
        return p

    def as_list(self, value: Any, path: str) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(path, "the list is empty")
        return items

    def integer(self, value: Any, path: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"expected an integer >= {minimum}, got {show(value)}")
        return value


def show(value: Any) -> str:
    """A value as an error message shows it (short repr)."""
    from edgekit.boards.yamlfile import show as short

    return short(value)


def sha256_of(path: Path) -> str:
    """The sha256 of a file (or of a directory's files with their relative names)."""
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(path)).encode() + b"\0" + p.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()
