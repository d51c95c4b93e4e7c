"""A small, defensive flatbuffer reader: every offset and vector length is bounds-checked.

Only what a schema-driven reader needs: tables (through their vtable), scalars, strings, scalar vectors and
vectors of tables. Any inconsistency raises :class:`FlatbufferError`; a work budget proportional to the file
size stops files whose shared sub-objects would otherwise multiply the work (offsets only point forward, so
there are no cycles to guard against).
"""

from __future__ import annotations

import struct
from typing import Any

_SCALARS = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8}


class FlatbufferError(Exception):
    """The buffer is not a well-formed flatbuffer (the message says where)."""


class Buffer:
    """Bounds-checked access to a flatbuffer held in ``data``."""

    def __init__(self, data: bytes, *, budget_factor: int = 8) -> None:
        self.data = data
        self.size = len(data)
        self._budget = budget_factor * self.size + 100_000
        self._bytes_memo: dict[int, bytes] = {}

    def spend(self, units: int, what: str) -> None:
        """Charge work units; fail when a file asks for far more work than its size justifies."""
        self._budget -= units
        if self._budget < 0:
            raise FlatbufferError(f"{what}: too many (shared) references for a file of {self.size} bytes")

    def check(self, pos: int, length: int, what: str) -> None:
        """Fail unless ``[pos, pos+length)`` lies inside the buffer."""
        if pos < 0 or length < 0 or pos + length > self.size:
            raise FlatbufferError(f"{what}: offset {pos} (+{length}) outside the file ({self.size} bytes)")

    def scalar(self, pos: int, fmt: str, what: str) -> Any:
        """Read one little-endian scalar of struct format ``fmt`` at ``pos``."""
        self.check(pos, _SCALARS[fmt], what)
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def deref(self, pos: int, what: str) -> int:
        """Follow the uoffset stored at ``pos``; return the absolute target position."""
        target = pos + self.scalar(pos, "I", what)
        self.check(target, 4, what)
        return target

    def table(self, pos: int, what: str) -> Table:
        """The table starting at ``pos`` (its vtable validated)."""
        self.spend(1, what)
        self.check(pos, 4, what)
        vtable = pos - self.scalar(pos, "i", what)
        self.check(vtable, 4, what + " vtable")
        vt_size, obj_size = struct.unpack_from("<HH", self.data, vtable)
        if vt_size < 4 or vt_size % 2:
            raise FlatbufferError(f"{what}: vtable size {vt_size} is invalid")
        self.check(vtable, vt_size, what + " vtable")
        if obj_size < 4:
            raise FlatbufferError(f"{what}: table size {obj_size} is invalid")
        self.check(pos, obj_size, what)
        return Table(self, pos, vtable, (vt_size - 4) // 2, obj_size, what)

    def vector(self, pos: int, elem_size: int, what: str, *, cost_per_elem: float = 1.0) -> tuple[int, int]:
        """(start, length) of the vector whose length word is at ``pos``; its work is charged to the budget."""
        length = self.scalar(pos, "I", what)
        start = pos + 4
        self.check(start, length * elem_size, what)
        self.spend(1 + int(length * cost_per_elem), what)
        return start, length

    def raw(self, start: int, length: int, what: str) -> bytes:
        """``length`` bytes at ``start`` (memoized, so shared data is copied once)."""
        self.check(start, length, what)
        got = self._bytes_memo.get(start)
        if got is None or len(got) != length:
            got = self.data[start:start + length]
            self._bytes_memo[start] = got
        return got


class Table:
    """One flatbuffer table; field ``i`` is the i-th field of its schema declaration."""

    def __init__(self, buf: Buffer, pos: int, vtable: int, nfields: int, obj_size: int, what: str) -> None:
        self.buf, self.pos, self.vtable, self.nfields, self.obj_size, self.what = (
            buf, pos, vtable, nfields, obj_size, what)

    def _field(self, i: int, size: int) -> int:
        """Absolute position of field ``i`` or 0 when absent."""
        if i >= self.nfields:
            return 0
        off = struct.unpack_from("<H", self.buf.data, self.vtable + 4 + 2 * i)[0]
        if off == 0:
            return 0
        if off < 4 or off + size > self.obj_size:
            raise FlatbufferError(f"{self.what}: field {i} offset {off} outside its table")
        return self.pos + off

    def has(self, i: int) -> bool:
        """Whether field ``i`` is present."""
        return self._field(i, 1) != 0

    def scalar(self, i: int, fmt: str, default: Any) -> Any:
        """Scalar field ``i`` (struct format ``fmt``) or ``default``."""
        p = self._field(i, _SCALARS[fmt])
        return default if p == 0 else self.buf.scalar(p, fmt, f"{self.what} field {i}")

    def _ref(self, i: int) -> int:
        p = self._field(i, 4)
        return 0 if p == 0 else self.buf.deref(p, f"{self.what} field {i}")

    def vector(self, i: int, fmt: str) -> tuple[Any, ...] | None:
        """Vector of scalars (``None`` when the field is absent)."""
        p = self._ref(i)
        if p == 0:
            return None
        size = _SCALARS[fmt]
        start, n = self.buf.vector(p, size, f"{self.what} field {i}")
        return struct.unpack_from(f"<{n}{fmt}", self.buf.data, start)

    def bytes(self, i: int) -> bytes | None:
        """Vector of ubyte as bytes (``None`` when absent)."""
        p = self._ref(i)
        if p == 0:
            return None
        start, n = self.buf.vector(p, 1, f"{self.what} field {i}", cost_per_elem=1 / 64)
        return self.buf.raw(start, n, f"{self.what} field {i}")

    def string(self, i: int, default: str = "") -> str:
        """String field (invalid UTF-8 replaced, never an error)."""
        raw = self.bytes(i)
        return default if raw is None else raw.decode("utf-8", errors="replace")

    def table(self, i: int, what: str) -> Table | None:
        """Sub-table field (``None`` when absent)."""
        p = self._ref(i)
        return None if p == 0 else self.buf.table(p, what)

    def tables(self, i: int, what: str) -> list[Table]:
        """Vector of tables (empty when absent); element k is named ``what[k]`` in errors."""
        p = self._ref(i)
        if p == 0:
            return []
        start, n = self.buf.vector(p, 4, what)
        return [self.buf.table(self.buf.deref(start + 4 * k, f"{what}[{k}]"), f"{what}[{k}]") for k in range(n)]
