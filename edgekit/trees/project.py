"""A tree model in an edgekit firmware project: the same project as a neural model on edgekit's runtime
(:func:`edgekit.codegen.project.generate_aot`: firmware core, protocol, build system, manifest), with the
ensemble's C (:mod:`edgekit.trees.emit`) as its model. The manifest's ``trees`` key records the ensemble's facts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.codegen.common import OUT0_DTYPES
from edgekit.cores import CoreFeatures
from edgekit.trees.load import TreeModel

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.codegen.project import GenerateResult

__all__ = ["generate_trees", "tree_io"]


def tree_io(model: TreeModel) -> dict[str, Any]:
    """The input/output facts ``ek_config.h`` and the manifest need: float32 features in; output 0 the class index
    (int32) of a classifier or the value (float32) of a regressor."""
    ens = model.ensemble
    dtype = "int32" if ens.is_classifier else "float32"
    shape = [1, 1] if ens.is_classifier else [1, ens.n_columns]
    return {
        "input_bytes": 4 * ens.n_features,
        "input_desc": f"float32[1, {ens.n_features}]",
        "out0_dtype": OUT0_DTYPES[dtype][0],
        "out0_desc": f"{dtype}{shape} ({'class index' if ens.is_classifier else 'value'})",
        "out0_scale": f"{1.0:.9e}",
        "out0_zero_point": 0,
        "out0": {"dtype": dtype, "scale": 1.0, "zero_point": 0},
    }


def generate_trees(model: TreeModel, board: BoardProfile, *, out_dir: str | os.PathLike[str],
                   name: str | None = None, stack_bytes: int = 8192,
                   build_system: str | None = None, code: str = "table") -> tuple[GenerateResult, dict[str, Any]]:
    """Render a firmware project running ``model`` on ``board`` into ``out_dir``; returns the project and the
    ensemble's facts (``trees`` in the manifest: trees, nodes, depth, table bytes, outputs). ``code``: the C style,
    ``"table"`` or ``"ifelse"`` (:func:`edgekit.trees.emit.write_c`).

    Raises:
        UsageError: a board edgekit cannot generate for, a bad name or out_dir.
        ModelError: an ensemble the C format cannot hold.
    """
    from edgekit.codegen.project import generate_aot
    from edgekit.trees.emit import write_c

    facts: dict[str, Any] = {}

    def sources(_m: Any, model_dir: Path, _sparse: str, _features: CoreFeatures) -> tuple[int, int, str]:
        res = write_c(model.ensemble, model_dir, name=model.name, sha256=model.sha256, code=code)
        facts.update(model.ensemble.summary())
        facts.update({"code": code, "table_bytes": res.const_bytes, "flash_estimate_bytes": res.flash_estimate,
                      "distinct_leaves": res.unique_leaves, "child_bytes": res.child_bytes,
                      "io_bytes": res.ram_bytes, "sums_stack_bytes": res.stack_bytes,
                      "outputs": (["class_index int32[1]", f"scores float32[{model.ensemble.n_columns}]"]
                                  if model.ensemble.is_classifier
                                  else [f"value float32[{model.ensemble.n_columns}]"]),
                      "reference": model.kind})
        return res.ram_bytes, res.const_bytes, model.name

    # the facts are filled while the project is rendered, before the manifest is written
    result = generate_aot(model, board, out_dir=out_dir, name=name, stack_bytes=stack_bytes,
                          build_system=build_system, model_sources=sources, io=tree_io(model),
                          manifest_extra={"trees": facts})
    return result, facts
