"""Tree ensembles compiled to C: scikit-learn, XGBoost and LightGBM models on edgekit's runtime.

The flow is the neural models' (``edgekit generate`` / ``build`` / ``bench`` / ``validate``); this package is what
differs for trees:

- :mod:`~edgekit.trees.load`: which files are tree models, loading them (pickles only when trusted), the library's
  own predictions (:meth:`TreeModel.reference`);
- :mod:`~edgekit.trees.sklearn_models`, :mod:`~edgekit.trees.boosters`: each library's model -> one in-memory
  :class:`TreeEnsemble` (:mod:`~edgekit.trees.ensemble`) carrying the library's exact arithmetic;
- :mod:`~edgekit.trees.emit`: the ensemble as table-driven C behind ``ek_model.h``;
- :mod:`~edgekit.trees.project`, :mod:`~edgekit.trees.validate`, :mod:`~edgekit.trees.report`: the project, the
  device-vs-library check, ``inspect``; :mod:`~edgekit.trees.host`: host builds for tests.

Nothing here imports scikit-learn, XGBoost or LightGBM until a model needs them.

Example::

    from edgekit.trees import load_tree_model, inspect_trees
    m = load_tree_model("model.json")               # XGBoost; a .joblib needs trust_pickle=True
    print(inspect_trees(m).to_dict()["flash_estimate_bytes"])
    edgekit.generate(m, "qemu-cortex-m4", out_dir="build/trees")
"""

from __future__ import annotations

from edgekit.trees.ensemble import Tree, TreeEnsemble
from edgekit.trees.load import TreeModel, is_tree_model, load_tree_model
from edgekit.trees.report import TreeReport, inspect_trees

__all__ = ["Tree", "TreeEnsemble", "TreeModel", "TreeReport", "inspect_trees", "is_tree_model", "load_tree_model"]
