"""scikit-learn tree models -> :class:`~edgekit.trees.ensemble.TreeEnsemble`, with scikit-learn's own arithmetic.

- ``DecisionTree*``, ``RandomForest*``, ``ExtraTrees*``: ``float32(x) <= threshold(float64)``, NaN the node's
  ``missing_go_to_left`` way; a classifier's tree gives its leaf's class fractions normalised by their sum (as
  ``predict_proba``), a forest sums the trees in order in float64 and divides by their number; the class is the
  first maximal probability.
- ``GradientBoosting*``: the init estimator's constant raw prediction plus ``learning_rate * leaf`` per stage, in
  float64; binary class: ``raw >= 0``, else the first maximal column.
- ``HistGradientBoosting*``: the baseline plus the leaves (``num_threshold``, float64, ``<=``; NaN by
  ``missing_go_to_left``); binary class: ``raw > 0``. Categorical splits are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.errors import ModelError
from edgekit.trees.ensemble import Tree, TreeEnsemble, from_node_arrays, le_threshold_f64

__all__ = ["SKLEARN_KINDS", "from_sklearn"]

# class name -> family
SKLEARN_KINDS = {
    "DecisionTreeClassifier": "sklearn-decision-tree", "DecisionTreeRegressor": "sklearn-decision-tree",
    "ExtraTreeClassifier": "sklearn-decision-tree", "ExtraTreeRegressor": "sklearn-decision-tree",
    "RandomForestClassifier": "sklearn-random-forest", "RandomForestRegressor": "sklearn-random-forest",
    "ExtraTreesClassifier": "sklearn-extra-trees", "ExtraTreesRegressor": "sklearn-extra-trees",
    "GradientBoostingClassifier": "sklearn-gradient-boosting", "GradientBoostingRegressor": "sklearn-gradient-boosting",
    "HistGradientBoostingClassifier": "sklearn-hist-gradient-boosting",
    "HistGradientBoostingRegressor": "sklearn-hist-gradient-boosting",
}


def _refuse(where: str, why: str) -> ModelError:
    return ModelError(f"{where}: {why}", hint="edgekit compiles single-output scikit-learn tree models on numeric "
                                               "features (DecisionTree, RandomForest, ExtraTrees, "
                                               "GradientBoosting, HistGradientBoosting)")


def _sk_tree(tree: Any, values: np.ndarray, column: int = 0) -> Tree:
    t = tree.tree_
    is_leaf = t.children_left < 0
    return from_node_arrays(t.children_left, t.children_right, is_leaf, np.maximum(t.feature, 0),
                            le_threshold_f64(t.threshold), t.missing_go_to_left.astype(bool), values, column=column)


def _leaf_proba(tree: Any, n_classes: int) -> np.ndarray:
    """A classifier tree's per-node class probabilities as ``DecisionTreeClassifier.predict_proba`` computes them."""
    proba = tree.tree_.value[:, 0, :n_classes]
    normalizer = proba.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    return proba / normalizer


def from_sklearn(model: Any, where: str = "model") -> TreeEnsemble:
    """The ensemble of a fitted scikit-learn tree model.

    Raises:
        ModelError: another kind of estimator, not fitted, several outputs, categorical splits, a non-identity
            link (Poisson/Gamma regressors) or a custom init estimator.
    """
    kind = type(model).__name__
    family = SKLEARN_KINDS.get(kind)
    if family is None:
        raise _refuse(where, f"a {type(model).__module__}.{kind} is not a tree model edgekit compiles")
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise _refuse(where, f"the {kind} is not fitted")
    if getattr(model, "n_outputs_", 1) != 1:
        raise _refuse(where, f"the {kind} has {model.n_outputs_} outputs; edgekit compiles single-output models")
    classifier = kind.endswith("Classifier")
    task = "classification" if classifier else "regression"
    classes = list(model.classes_) if classifier else []
    if family == "sklearn-hist-gradient-boosting":
        return _hist(model, where, kind, classes)
    if family == "sklearn-gradient-boosting":
        return _gb(model, where, kind, classes)
    estimators = [model] if family == "sklearn-decision-tree" else list(model.estimators_)
    if classifier:
        k = len(classes)
        trees = [_sk_tree(e, _leaf_proba(e, k), column=-1) for e in estimators]
        ens = TreeEnsemble(family, task, int(n_features), k, trees, np.zeros(k), average=len(trees) > 1,
                           classes=classes, scores="proba")
        if family == "sklearn-decision-tree":  # its predict() takes the argmax of the leaf values, not normalised
            raw = model.tree_.value[:, 0, :k]
            if (np.argmax(raw, axis=1) != np.argmax(_leaf_proba(model, k), axis=1)).any():
                ens.notes.append("a leaf's class fractions tie only after normalisation: the device's class (the "
                                 "first maximal probability) can differ from predict() there")
        return ens
    trees = [_sk_tree(e, e.tree_.value[:, 0, 0]) for e in estimators]
    return TreeEnsemble(family, task, int(n_features), 1, trees, np.zeros(1), average=len(trees) > 1,
                        class_rule="none", scores="value")


def _gb(model: Any, where: str, kind: str, classes: list[Any]) -> TreeEnsemble:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if not (isinstance(model.init_, str) and model.init_ == "zero") and \
            not isinstance(model.init_, (DummyClassifier, DummyRegressor)):
        raise _refuse(where, f"the {kind}'s init estimator is a {type(model.init_).__name__}; edgekit compiles the "
                             "default (prior) or 'zero' init only")
    probe = np.zeros((1, model.n_features_in_), dtype=np.float32)
    base = np.asarray(model._raw_predict_init(probe), dtype=np.float64)[0]
    k = base.shape[0]
    lr = float(model.learning_rate)
    trees = []
    for stage in model.estimators_:
        for col, est in enumerate(stage):
            trees.append(_sk_tree(est, lr * est.tree_.value[:, 0, 0], column=col))
    if classes:
        rule, thr = ("ge", 0.0) if k == 1 else ("argmax", 0.0)
        return TreeEnsemble("sklearn-gradient-boosting", "classification", int(model.n_features_in_), k, trees, base,
                            class_rule=rule, class_threshold=thr, classes=classes)
    return TreeEnsemble("sklearn-gradient-boosting", "regression", int(model.n_features_in_), k, trees, base,
                        class_rule="none", scores="value")


def _hist(model: Any, where: str, kind: str, classes: list[Any]) -> TreeEnsemble:
    if not classes and type(model._loss.link).__name__ != "IdentityLink":
        raise _refuse(where, f"the {kind}'s loss '{model.loss}' predicts through a non-identity link; edgekit "
                             "compiles identity-link regressors (squared_error, absolute_error, quantile)")
    base = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
    k = base.shape[0]
    trees = []
    for iteration in model._predictors:
        for col, pred in enumerate(iteration):
            nodes = pred.nodes
            if nodes["is_categorical"].any():
                raise _refuse(where, f"the {kind} has categorical splits; edgekit compiles numeric splits only")
            trees.append(from_node_arrays(nodes["left"], nodes["right"], nodes["is_leaf"].astype(bool),
                                          nodes["feature_idx"], le_threshold_f64(nodes["num_threshold"]),
                                          nodes["missing_go_to_left"].astype(bool), nodes["value"], column=col))
    if classes:
        rule = "gt" if k == 1 else "argmax"
        return TreeEnsemble("sklearn-hist-gradient-boosting", "classification", int(model.n_features_in_), k, trees,
                            base, class_rule=rule, class_threshold=0.0, classes=classes)
    return TreeEnsemble("sklearn-hist-gradient-boosting", "regression", int(model.n_features_in_), k, trees, base,
                        class_rule="none", scores="value")
