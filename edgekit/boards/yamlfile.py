"""Reading edgekit's YAML data (board profiles, chip families, optimize recipes): safe, with duplicate keys refused
and errors that name the file, the line and the problem on one line."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from edgekit.errors import BoardError

__all__ = ["key_name", "load_yaml", "one_line", "show", "unique_key_loader"]


def show(value: Any, limit: int = 60) -> str:
    """repr() for error messages: short, and safe for ints too long to print."""
    try:
        text = repr(value)
    except ValueError:  # int beyond sys.get_int_max_str_digits()
        return f"<int of {value.bit_length()} bits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def key_name(key: Any) -> str:
    """A mapping key as it appears in messages: plain if it is a plain word, else its short repr."""
    plain = isinstance(key, str) and key.isprintable() and key.strip() == key and key != ""
    return key if plain else show(key)


def one_line(what: Any) -> str:
    """An exception's text on one line (PyYAML's messages span several)."""
    return " ".join(str(what).split())



class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"duplicate key {key!r} (line {line})")
        self.key = key
        self.line = line


@lru_cache(maxsize=1)
def unique_key_loader() -> type:
    """A yaml.SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last silently)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark.line + 1)
                    seen.add(key)
                except TypeError:  # unhashable key: let SafeLoader report it as a YAMLError
                    break
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader



def load_yaml(path: str | os.PathLike[str], what: str = "board file") -> Any:
    """Parse one YAML file (``what`` names it in messages).

    Raises:
        BoardError: the file is missing or unreadable, not valid YAML, or has a key twice in one mapping.
    """
    import yaml

    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BoardError(f"{src}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"{src}: cannot read {what}: {one_line(exc)}") from None
    try:
        return yaml.load(text, Loader=unique_key_loader())  # a SafeLoader subclass
    except _DuplicateKey as exc:
        raise BoardError(f"{src}: {key_name(exc.key)}: duplicate key (line {exc.line})",
                         hint="each key may appear once per mapping; delete one of them") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or exc
        raise BoardError(f"{src}: not valid YAML{where}: {one_line(problem)}",
                         hint="check indentation and quoting") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # PyYAML lets these escape for bad scalars (e.g. 'date: 2024-13-01', '!!int x') or deep nesting
        raise BoardError(f"{src}: not valid YAML: {type(exc).__name__}: {one_line(exc)}",
                         hint="check the values' syntax (dates, explicit !! tags, nesting)") from None
