"""Static memory plan: every activation tensor and scratch buffer gets a fixed offset in one arena.

Lifetimes come from the operator order (a tensor lives from the op that writes it to the last op
that reads it; model inputs from the start, model outputs to the end). Tensors an op may compute
in place (RESHAPE, element-wise ops) share their input's buffer. Buffers are then placed greedily,
largest first, at the lowest 16-byte-aligned offset that does not overlap any already placed buffer
whose lifetime intersects; a few orderings are tried and the smallest arena wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

ALIGN = 16


def align_up(n: int, a: int = ALIGN) -> int:
    """Round ``n`` up to a multiple of ``a``."""
    return (n + a - 1) // a * a


@dataclass
class Buffer:
    """One region of the arena: a tensor (with any tensors aliased to it) or an op's scratch."""

    id: int
    size: int
    first: int  # first op index at which it is live (-1: before the first op, i.e. a model input)
    last: int  # last op index at which it is live
    tensors: list[int] = field(default_factory=list)
    scratch_op: int | None = None
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        """True when both buffers are live during a common op."""
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    """Result of planning: offsets of tensors and scratch buffers, and the arena size."""

    arena_bytes: int
    tensor_offsets: dict[int, int]
    scratch_offsets: dict[int, int]
    scratch_sizes: dict[int, int]
    buffers: list[Buffer]
    aliases: dict[int, int]  # output tensor index -> input tensor index it shares memory with
    strategy: str = ""

    def describe(self) -> list[str]:
        """Human-readable lines, one per buffer, ordered by offset."""
        lines = []
        for b in sorted(self.buffers, key=lambda b: (b.offset, b.first)):
            what = f"scratch of op {b.scratch_op}" if b.scratch_op is not None else f"tensors {b.tensors}"
            lines.append(f"@{b.offset:>8} {b.size:>8} B  ops {b.first}..{b.last}  {what}")
        return lines


@dataclass(frozen=True)
class PlanOp:
    """What the planner needs to know about one operator."""

    inputs: Sequence[int]  # non-constant tensor indices read (-1 / constants filtered by the caller)
    outputs: Sequence[int]
    scratch_bytes: int = 0
    inplace: bool = False  # output 0 may share input 0's buffer


def plan_memory(ops: Sequence[PlanOp], sizes: dict[int, int], graph_inputs: Sequence[int],
                graph_outputs: Sequence[int], persistent: Sequence[int] = ()) -> MemoryPlan:
    """Plan the arena for ``ops`` (in execution order).

    Args:
        ops: one PlanOp per operator.
        sizes: bytes of every non-constant tensor the plan must hold.
        graph_inputs / graph_outputs: model input and output tensor indices.
        persistent: tensors whose contents must survive between invocations (variable tensors such as LSTM and
            SVDF states): live from before the first op to after the last, never shared, never aliased.
    """
    n = len(ops)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in graph_inputs:
        first[t] = -1
        last[t] = -1
    for i, op in enumerate(ops):
        for t in op.inputs:
            last[t] = max(last.get(t, i), i)
            first.setdefault(t, i)
        for t in op.outputs:
            first.setdefault(t, i)
            last[t] = max(last.get(t, i), i)
    for t in graph_outputs:
        first.setdefault(t, -1)
        last[t] = n
    keep = set(persistent)
    for t in keep:
        first[t] = -1
        last[t] = n

    # group tensors into buffers, following in-place aliases
    owner: dict[int, Buffer] = {}
    buffers: list[Buffer] = []
    aliases: dict[int, int] = {}
    outputs_set = set(graph_outputs)

    def new_buffer(t: int) -> Buffer:
        b = Buffer(id=len(buffers), size=sizes[t], first=first[t], last=last[t], tensors=[t])
        buffers.append(b)
        owner[t] = b
        return b

    for t in (*graph_inputs, *persistent):
        if t in sizes and t not in owner:
            new_buffer(t)
    for i, op in enumerate(ops):
        for t in op.inputs:
            if t not in owner and t in sizes:
                new_buffer(t)  # read before written: a model input we were not told about, or a dangling tensor
        for k, t in enumerate(op.outputs):
            if t in owner or t not in sizes:
                continue
            src = op.inputs[0] if op.inputs else None
            if (k == 0 and op.inplace and src is not None and src in owner and src not in outputs_set
                    and src not in keep and t not in keep and last[src] == i and sizes[t] <= owner[src].size):
                b = owner[src]
                b.tensors.append(t)
                b.last = max(b.last, last[t])
                owner[t] = b
                aliases[t] = src
            else:
                new_buffer(t)
        if op.scratch_bytes > 0:
            buffers.append(Buffer(id=len(buffers), size=op.scratch_bytes, first=i, last=i, scratch_op=i))

    best: list[tuple[int, str, dict[int, int]]] = []
    for name, key in _ORDERINGS:
        offsets = _place(sorted(buffers, key=key))
        total = max((offsets[b.id] + align_up(b.size) for b in buffers), default=0)
        best.append((total, name, offsets))
    total, strategy, offsets = min(best, key=lambda x: x[0])
    for b in buffers:
        b.offset = offsets[b.id]
    tensor_offsets = {t: b.offset for t, b in owner.items()}
    scratch = {b.scratch_op: b.offset for b in buffers if b.scratch_op is not None}
    scratch_sizes = {b.scratch_op: b.size for b in buffers if b.scratch_op is not None}
    return MemoryPlan(arena_bytes=total, tensor_offsets=tensor_offsets, scratch_offsets=scratch,  # type: ignore[arg-type]
                      scratch_sizes=scratch_sizes, buffers=buffers, aliases=aliases, strategy=strategy)  # type: ignore[arg-type]


_ORDERINGS: list[tuple[str, Callable[[Buffer], tuple]]] = [
    ("size", lambda b: (-b.size, b.first, b.id)),
    ("size*lifetime", lambda b: (-b.size * (b.last - b.first + 1), -b.size, b.id)),
    ("first-use", lambda b: (b.first, -b.size, b.id)),
    ("lifetime", lambda b: (-(b.last - b.first), -b.size, b.id)),
]


def _place(order: Sequence[Buffer]) -> dict[int, int]:
    """First-fit placement: each buffer at the lowest aligned offset free during its lifetime."""
    placed: list[tuple[int, int, Buffer]] = []  # (offset, end, buffer)
    offsets: dict[int, int] = {}
    for b in order:
        busy = sorted((off, end) for off, end, other in placed if b.overlaps_in_time(other))
        size = align_up(b.size)
        offset = 0
        for off, end in busy:
            if offset + size <= off:
                break
            offset = max(offset, align_up(end))
        offsets[b.id] = offset
        placed.append((offset, offset + size, b))
    return offsets
