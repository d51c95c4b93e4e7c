"""Strided views: the data-movement ops as nested copy loops for ``ek_strided_copy`` (ek_strided.h).

An op whose output is a fixed rearrangement of its input (transpose, slice, reverse, broadcast,
depth/space shuffles, split) is described as a :class:`Copy`: a loop nest over ``shape`` whose
element ``i`` moves from ``src_offset + i . src`` to ``dst_offset + i . dst`` (in elements). The
generator drops size-1 loops and merges loops that walk memory contiguously on both sides, so a
slice of whole rows becomes a few long memmoves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgekit.codegen.aot.ops.base import c_struct

MAX_DIMS = 6  # EK_COPY_DIMS


def row_major(shape: list[int] | tuple[int, ...]) -> list[int]:
    """Element strides of a contiguous (row-major) tensor of ``shape``."""
    strides, acc = [], 1
    for d in reversed(list(shape)):
        strides.append(acc)
        acc *= int(d)
    return strides[::-1]


@dataclass
class Copy:
    """A loop nest over ``shape`` (outermost first); strides and offsets in elements."""

    shape: list[int]
    src: list[int]
    dst: list[int] = field(default_factory=list)  # default: the destination is contiguous
    src_offset: int = 0
    dst_offset: int = 0

    def __post_init__(self) -> None:
        self.shape = [int(d) for d in self.shape]
        self.src = [int(s) for s in self.src]
        self.dst = [int(s) for s in self.dst] if self.dst else row_major(self.shape)

    @property
    def count(self) -> int:
        """Number of elements copied."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    def simplified(self) -> Copy:
        """The same copy with size-1 loops dropped and contiguous neighbours merged (outermost first)."""
        dims = [(n, s, d) for n, s, d in zip(self.shape, self.src, self.dst, strict=True) if n != 1]
        merged: list[tuple[int, int, int]] = []
        for n, s, d in dims:
            if merged:
                pn, ps, pd = merged[-1]
                if ps == s * n and pd == d * n:  # the outer loop steps exactly over the inner one
                    merged[-1] = (pn * n, s, d)
                    continue
            merged.append((n, s, d))
        if not merged:
            merged = [(1, 1, 1)]
        return Copy([m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged],
                     self.src_offset, self.dst_offset)

    def monotone(self) -> bool:
        """True when, visited in loop order, every element's destination is at or before its source and both
        advance (positive strides): the copy may then run in place (destination buffer == source buffer)."""
        c = self.simplified()
        if any(s <= 0 or d <= 0 for s, d in zip(c.src, c.dst, strict=True)):
            return c.count <= 1 and c.dst_offset <= c.src_offset
        # a row-major destination with positive source strides that never fall behind it
        return c.dst_offset <= c.src_offset and all(s >= d for s, d in zip(c.src, c.dst, strict=True))


def emit_copy(copy: Copy, src: str, dst: str, elem_size: int, name: str = "cp") -> list[str]:
    """C lines (a block-scope params struct and the call) performing ``copy`` from ``src`` to ``dst``."""
    c = copy.simplified()
    if c.count == 0:
        return []
    if len(c.shape) > MAX_DIMS:
        raise ValueError(f"copy needs {len(c.shape)} loops, the kernel has {MAX_DIMS}")
    if len(c.shape) == 1 and c.src[0] == 1 and c.dst[0] == 1:
        s = f"(const uint8_t *){src} + {c.src_offset * elem_size}" if c.src_offset else src
        d = f"(uint8_t *){dst} + {c.dst_offset * elem_size}" if c.dst_offset else dst
        return [f"memmove({d}, {s}, {c.shape[0] * elem_size}u);"]
    lead = MAX_DIMS - len(c.shape)
    fields = dict(shape=[1] * lead + c.shape, src_stride=[0] * lead + [s * elem_size for s in c.src],
                  dst_stride=[0] * lead + [d * elem_size for d in c.dst], src_offset=c.src_offset * elem_size,
                  dst_offset=c.dst_offset * elem_size, elem_size=elem_size)
    return ["{", *("    " + line for line in c_struct("ek_copy_params_t", name, fields).splitlines()),
            f"    ek_strided_copy(&{name}, {src}, {dst});", "}"]
