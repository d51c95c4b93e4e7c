"""The one in-memory form of a tree ensemble that every loader produces and the C emitter reads.

Each loader (:mod:`edgekit.trees.sklearn_models`, :mod:`edgekit.trees.boosters`) turns its library's model into a
:class:`TreeEnsemble` whose arithmetic is the library's own, step for step:

- a split sends a float32 feature ``x`` left iff ``x <= threshold`` with a float32 ``threshold``; each loader turns
  its library's comparison into that form exactly (scikit-learn and LightGBM compare ``x`` with a float64 threshold,
  XGBoost uses ``x < split`` on float32; see :func:`le_threshold_f64` and :func:`lt_threshold_f32`);
- a NaN feature goes the node's ``nan_left`` way; LightGBM's zero-as-missing nodes send ``x == 0`` that way too, and
  LightGBM reads ``|x| <= 1e-35`` as 0 (``flush_tiny``);
- leaves add their values to score columns in the library's order, in the library's precision (``acc_dtype``),
  starting from ``base``; forests then divide by the number of trees (``average``);
- the class is the first maximal column (``argmax``, as ``np.argmax``), or for one-column binary models
  ``score > threshold`` / ``score >= threshold`` (the library's rule, its sigmoid folded into the threshold).

:meth:`TreeEnsemble.predict` runs exactly that arithmetic in numpy (the same the generated C does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MAX_FEATURES", "Tree", "TreeEnsemble", "from_node_arrays", "le_threshold_f64", "lt_threshold_f32"]

MAX_FEATURES = 1 << 14  # the C keeps the feature index in 14 bits of a uint16 (two flag bits above it)
TINY = np.float32(1e-35)  # LightGBM's kZeroThreshold


def le_threshold_f64(t: np.ndarray) -> np.ndarray:
    """float32 thresholds ``t32`` with ``x <= t32`` iff ``float64(x) <= t`` for every float32 ``x``: ``t`` rounded
    down to float32 (scikit-learn, HistGradientBoosting, LightGBM)."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    down = f.astype(np.float64) > t
    f[down] = np.nextafter(f[down], np.float32(-np.inf))
    return f


def lt_threshold_f32(s: np.ndarray) -> np.ndarray:
    """float32 thresholds ``t32`` with ``x <= t32`` iff ``x < s`` (XGBoost's float32 split test)."""
    s = np.asarray(s, dtype=np.float32)
    return np.nextafter(s, np.float32(-np.inf))


@dataclass
class Tree:
    """One tree; internal nodes are numbered from 0 (the root, when there is one) in pre-order.

    Children are ``>= 0`` for an internal node of this tree and ``< 0`` for leaf ``~child``. ``leaf_values`` is
    (leaves, values per leaf): one value added to column ``column``, or one per column when ``column`` is -1.
    """

    feature: np.ndarray      # int32 (internal,)
    threshold: np.ndarray    # float32 (internal,): left iff x <= threshold
    left: np.ndarray         # int32 (internal,)
    right: np.ndarray        # int32 (internal,)
    nan_left: np.ndarray     # bool (internal,)
    zero_missing: np.ndarray  # bool (internal,): x == 0 goes the nan_left way too (LightGBM missing_type Zero)
    leaf_values: np.ndarray  # float64 (leaves, values)
    column: int = 0
    root: int = 0            # 0, or ~0 for a tree that is a single leaf

    @property
    def internal(self) -> int:
        return len(self.feature)

    @property
    def leaves(self) -> int:
        return len(self.leaf_values)

    def depth(self) -> int:
        """Splits on the longest path from the root to a leaf."""
        if self.root < 0:
            return 0
        best, stack = 0, [(0, 1)]
        while stack:
            n, d = stack.pop()
            best = max(best, d)
            for c in (int(self.left[n]), int(self.right[n])):
                if c >= 0:
                    stack.append((c, d + 1))
        return best


@dataclass
class TreeEnsemble:
    """A tree ensemble as the generated C runs it (see the module docstring)."""

    family: str              # "sklearn-random-forest", "xgboost", "lightgbm", ...
    task: str                # "classification" or "regression"
    n_features: int
    n_columns: int           # score columns
    trees: list[Tree]
    base: np.ndarray         # (n_columns,) start of the sums
    acc_dtype: str = "float64"
    average: bool = False    # divide each column by its number of trees at the end
    class_rule: str = "argmax"  # "argmax", "gt" (score > class_threshold) or "ge"; regression: "none"
    class_threshold: float = 0.0
    classes: list[Any] = field(default_factory=list)
    flush_tiny: bool = False  # |x| <= 1e-35 reads as 0 (LightGBM)
    scores: str = "raw"      # what the score columns are: "proba" (forests) or "raw" (boosting margins)
    notes: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- facts
    @property
    def n_trees(self) -> int:
        return len(self.trees)

    @property
    def internal_nodes(self) -> int:
        return sum(t.internal for t in self.trees)

    @property
    def leaves(self) -> int:
        return sum(t.leaves for t in self.trees)

    @property
    def max_depth(self) -> int:
        return max((t.depth() for t in self.trees), default=0)

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    def trees_per_column(self) -> np.ndarray:
        """How many trees add to each column (the divisor of ``average``)."""
        counts = np.zeros(self.n_columns, dtype=np.int64)
        for t in self.trees:
            if t.column < 0:
                counts += 1
            else:
                counts[t.column] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """Trees, nodes, depth and the shape of the outputs (for ``inspect`` and the project manifest)."""
        return {"family": self.family, "task": self.task, "n_features": self.n_features, "n_trees": self.n_trees,
                "internal_nodes": self.internal_nodes, "leaves": self.leaves, "max_depth": self.max_depth,
                "n_columns": self.n_columns, "scores": self.scores, "accumulator": self.acc_dtype,
                "class_rule": self.class_rule if self.is_classifier else None,
                "classes": [c.item() if hasattr(c, "item") else c for c in self.classes]}

    # ---------------------------------------------------------------- the arithmetic, in numpy
    def _leaves(self, tree: Tree, x: np.ndarray) -> np.ndarray:
        n = np.full(len(x), tree.root, dtype=np.int64)
        rows = np.arange(len(x))
        active = n >= 0
        while active.any():
            idx = n[active]
            v = x[rows[active], tree.feature[idx]]
            nan = np.isnan(v)
            go_left = np.where(nan | (tree.zero_missing[idx] & (v == 0)), tree.nan_left[idx],
                               v <= tree.threshold[idx])
            n[active] = np.where(go_left, tree.left[idx], tree.right[idx])
            active = n >= 0
        return ~n

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        """The score columns (in ``acc_dtype``) for float32 feature rows ``X``, as the C computes them."""
        x = np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), -1)
        if self.flush_tiny:
            x = np.where(np.abs(x) <= TINY, np.float32(0), x)
        dt = np.dtype(self.acc_dtype)
        acc = np.repeat(self.base.astype(dt)[None, :], len(x), axis=0)
        for tree in self.trees:
            vals = tree.leaf_values.astype(dt)[self._leaves(tree, x)]
            if tree.column < 0:
                acc += vals
            else:
                acc[:, tree.column] += vals[:, 0]
        if self.average:
            acc /= self.trees_per_column().astype(dt)
        return acc

    def decide(self, acc: np.ndarray) -> np.ndarray:
        """Class indices (into ``classes``) from score columns."""
        if self.class_rule == "gt":
            return (acc[:, 0] > self.class_threshold).astype(np.int32)
        if self.class_rule == "ge":
            return (acc[:, 0] >= self.class_threshold).astype(np.int32)
        return np.argmax(acc, axis=1).astype(np.int32)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(class indices or None for a regressor, float32 score columns): what the device outputs."""
        acc = self.raw_scores(X)
        return (self.decide(acc) if self.is_classifier else None), acc.astype(np.float32)


def from_node_arrays(left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray, feature: np.ndarray,
                     threshold: np.ndarray, nan_left: np.ndarray, values: np.ndarray, *, column: int = 0,
                     zero_missing: np.ndarray | None = None) -> Tree:
    """A :class:`Tree` from a library's node table (node 0 the root; ``left``/``right`` index the same table;
    ``values`` one row per node, read at leaves). Internal nodes and leaves are renumbered in pre-order.

    Raises:
        ValueError: the arrays differ in length, or the children do not form a tree (a damaged file).
    """
    n_nodes = len(left)
    arrays = (right, is_leaf, feature, threshold, nan_left, values) + (() if zero_missing is None else (zero_missing,))
    if n_nodes == 0 or any(len(a) != n_nodes for a in arrays):
        raise ValueError(f"node arrays of different lengths ({n_nodes} nodes: {[len(a) for a in arrays]})")
    zm = np.zeros(len(left), dtype=bool) if zero_missing is None else zero_missing
    internal: list[int] = []
    leaves: list[int] = []
    ids: dict[int, int] = {}
    stack = [0]
    total = len(left)
    while stack:  # pre-order: the root, its left subtree, its right subtree
        n = stack.pop()
        if not 0 <= n < total or n in ids:
            raise ValueError(f"node {n} is out of range or reached twice (the tree is not a tree)")
        if is_leaf[n]:
            ids[n] = ~len(leaves)
            leaves.append(n)
            continue
        ids[n] = len(internal)
        internal.append(n)
        stack.extend((int(right[n]), int(left[n])))
    idx = np.asarray(internal, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)[np.asarray(leaves, dtype=np.int64)]
    return Tree(feature=np.asarray(feature, dtype=np.int32)[idx] if len(idx) else np.zeros(0, np.int32),
                threshold=np.asarray(threshold, dtype=np.float32)[idx] if len(idx) else np.zeros(0, np.float32),
                left=np.array([ids[int(left[n])] for n in internal], dtype=np.int32),
                right=np.array([ids[int(right[n])] for n in internal], dtype=np.int32),
                nan_left=np.asarray(nan_left, dtype=bool)[idx] if len(idx) else np.zeros(0, bool),
                zero_missing=np.asarray(zm, dtype=bool)[idx] if len(idx) else np.zeros(0, bool),
                leaf_values=vals.reshape(len(leaves), -1), column=column, root=ids[0])
