"""The checks every section of edgekit's YAML data goes through: known keys, types, choices, positive numbers; each
error names the file and the dotted field."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgekit.boards.yamlfile import key_name, show
from edgekit.errors import BoardError

# field -> (type(s), required, default); nested sections have their own specs.
Spec = dict[str, tuple[Any, bool]]


# Common unit mistakes: a key with the wrong unit suffix gets a pointed message.
_UNIT_HINTS = {
    "clock": "clock_hz", "clock_mhz": "clock_hz", "clock_khz": "clock_hz", "flash": "flash_kb",
    "flash_mb": "flash_kb", "flash_bytes": "flash_kb", "ram": "ram_kb", "ram_mb": "ram_kb", "ram_bytes": "ram_kb",
    "active": "active_ma", "active_a": "active_ma", "active_ua": "active_ma", "idle": "idle_ma",
    "idle_ua": "idle_ma", "idle_a": "idle_ma", "supply": "supply_v", "supply_mv": "supply_v", "size": "size_kb",
    "size_bytes": "size_kb",
}


def type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " or ".join(type_name(x) for x in t if x is not type(None)) + (
            " or null" if type(None) in t else "")
    return {int: "integer", float: "number", str: "string", bool: "boolean", dict: "mapping",
            list: "list"}.get(t, t.__name__)


def check(section: Any, spec: Spec, where: str, src: Path) -> dict[str, Any]:
    """Validate one mapping against a spec; returns it. Errors name the file and the dotted field."""
    if not isinstance(section, dict):
        raise BoardError(f"{src}: {where or 'top level'}: expected a mapping, got {type(section).__name__}",
                         hint="see boards/qemu/qemu-cortex-m4.yaml for a complete example")
    prefix = f"{where}." if where else ""
    for key in section:
        if key not in spec:
            name = key_name(key)
            unit = _UNIT_HINTS.get(name)
            hint = (f"units go in key names: use '{unit}'" if unit
                    else f"known keys here: {', '.join(sorted(spec))}")
            raise BoardError(f"{src}: {prefix}{name}: unknown key", hint=hint)
    for key, (typ, required) in spec.items():
        if key not in section:
            if required:
                raise BoardError(f"{src}: {prefix}{key}: required key is missing",
                                 hint="see boards/qemu/qemu-cortex-m4.yaml for a complete example")
            continue
        value = section[key]
        types = typ if isinstance(typ, tuple) else (typ,)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            raise BoardError(f"{src}: {prefix}{key}: expected {type_name(typ)}, got {show(value)}",
                             hint="numbers carry their unit in the key name (e.g. clock_hz: 120_000_000)")
    return section


def choice(value: str, choices: Sequence[str], field_name: str, src: Path) -> str:
    if value not in choices:
        raise BoardError(f"{src}: {field_name}: {show(value)} is not one of: {', '.join(choices)}",
                         hint="fix the value or add support for it in edgekit")
    return value


def positive(value: float, field_name: str, src: Path, allow_zero: bool = False) -> None:
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        raise BoardError(f"{src}: {field_name}: must be a finite number of sensible size, got {show(value)}")
    if value < 0 or (value == 0 and not allow_zero):
        raise BoardError(f"{src}: {field_name}: must be {'>= 0' if allow_zero else '> 0'}, got {show(value)}")
