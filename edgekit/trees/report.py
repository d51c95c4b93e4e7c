"""``edgekit inspect`` for a tree model: trees, nodes, depth, and what the generated C costs in flash and RAM."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.trees.load import TreeModel

__all__ = ["TreeReport", "inspect_trees"]


@dataclass(frozen=True)
class TreeReport:
    """The facts of a tree model as edgekit would compile it."""

    path: str | None
    sha256: str
    summary: dict[str, Any]
    table_bytes: int          # node, leaf and tree tables (flash)
    flash_estimate_bytes: int  # tables + the walk's code
    ram_bytes: int            # input/output buffers
    stack_bytes: int          # the sums on the stack
    distinct_leaves: int
    fit: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "edgekit.inspect-trees/1", "path": self.path, "sha256": self.sha256, **self.summary,
                "table_bytes": self.table_bytes, "flash_estimate_bytes": self.flash_estimate_bytes,
                "ram_bytes": self.ram_bytes, "sums_stack_bytes": self.stack_bytes,
                "distinct_leaves": self.distinct_leaves, "fit": self.fit, "notes": self.notes}


def inspect_trees(model: TreeModel, board: BoardProfile | None = None) -> TreeReport:
    """Emit the model's C into a scratch directory and report its tables; with ``board``, whether it fits."""
    import tempfile
    from pathlib import Path

    from edgekit.trees.emit import write_c

    with tempfile.TemporaryDirectory(prefix="edgekit-trees-") as tmp:
        res = write_c(model.ensemble, Path(tmp), name=model.name, sha256=model.sha256)
    fit = None
    if board is not None:
        flash, ram = board.memory.flash_bytes, board.memory.ram_bytes
        fit = {"board": board.id, "flash_budget_bytes": flash, "ram_budget_bytes": ram,
               "fits": res.flash_estimate <= flash and res.ram_bytes + res.stack_bytes <= ram,
               "flash_share": round(res.flash_estimate / flash, 4) if flash else None}
    return TreeReport(str(model.path) if model.path else None, model.sha256, model.ensemble.summary(),
                      res.const_bytes, res.flash_estimate, res.ram_bytes, res.stack_bytes, res.unique_leaves, fit,
                      [*model.ensemble.notes,
                       "flash estimate: the tables, ~450 B of code and, for double sums, ~3 KB of soft-float "
                       "double routines (Cortex-M4F); the firmware core adds its own (~8 KB)"])
