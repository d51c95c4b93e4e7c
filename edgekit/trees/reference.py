"""The reference for ``validate``: a tree model's predictions computed by its own library (scikit-learn, XGBoost,
LightGBM), shaped like the device's outputs.

- class index: the position of ``predict()`` in ``classes_`` (scikit-learn); XGBoost: ``p > 0.5`` for a binary
  logistic model, else the argmax of ``predict()``'s probabilities (``multi:softmax``: its class); LightGBM:
  ``argmax([1 - p, p])`` / the argmax of the class probabilities (as ``LGBMClassifier.predict``);
- scores: ``predict_proba`` (forests), ``decision_function`` (gradient boosting), ``output_margin=True``
  (XGBoost), ``raw_score=True`` (LightGBM; divided by the trees in rf mode), cast to float32; a regressor's
  ``predict()`` cast to float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit.errors import ModelError

if TYPE_CHECKING:
    from edgekit.trees.load import TreeModel

__all__ = ["reference_outputs"]


def _need(package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise ModelError(f"the reference predictions of this model need the {package} package",
                         hint="pip install 'edgekit[trees]'") from None


def reference_outputs(model: TreeModel, X: np.ndarray) -> list[np.ndarray]:
    """See the module docstring. ``X``: float32 rows."""
    ens = model.ensemble
    n = len(X)
    if model.kind == "sklearn":
        est = model.source
        if hasattr(est, "n_jobs"):
            est.n_jobs = 1  # forests sum their trees in order only on one thread
        if not ens.is_classifier:
            return [np.asarray(est.predict(X), dtype=np.float32).reshape(n, -1)]
        cls = np.searchsorted(est.classes_, est.predict(X)).astype(np.int32).reshape(n, 1)
        scores = est.predict_proba(X) if ens.scores == "proba" else est.decision_function(X)
        return [cls, np.asarray(scores, dtype=np.float32).reshape(n, -1)]
    if model.kind == "xgboost":
        xgb = _need("xgboost")
        booster = model.source if not isinstance(model.source, Path) else xgb.Booster(model_file=str(model.source))
        dm = xgb.DMatrix(X, missing=np.nan)
        margin = np.asarray(booster.predict(dm, output_margin=True), dtype=np.float32).reshape(n, -1)
        if not ens.is_classifier:
            return [np.asarray(booster.predict(dm), dtype=np.float32).reshape(n, -1)]
        pred = np.asarray(booster.predict(dm))
        if ens.n_columns == 1:
            cls = (pred.reshape(n) > 0.5).astype(np.int32)
        elif pred.ndim == 1:  # multi:softmax gives the class
            cls = pred.astype(np.int32)
        else:
            cls = np.argmax(pred, axis=1).astype(np.int32)
        return [cls.reshape(n, 1), margin]
    if model.kind == "lightgbm":
        lgb = _need("lightgbm")
        booster = (model.source if not isinstance(model.source, Path)
                   else lgb.Booster(model_file=str(model.source)))
        if not ens.is_classifier:  # predict(): raw_score=True does not average a random forest's trees
            return [np.asarray(booster.predict(X), dtype=np.float32).reshape(n, -1)]
        raw = np.asarray(booster.predict(X, raw_score=True), dtype=np.float64).reshape(n, -1)
        if ens.average:  # LightGBM's rf mode: the raw scores are sums; its predictions divide them
            raw = raw / ens.trees_per_column().astype(np.float64)
        p = np.asarray(booster.predict(X))
        proba = np.vstack((1.0 - p, p)).T if p.ndim == 1 else p
        return [np.argmax(proba, axis=1).astype(np.int32).reshape(n, 1), raw.astype(np.float32)]
    # an ensemble with no library behind it: its own arithmetic
    cls, scores = ens.predict(X)
    return [scores] if cls is None else [cls.reshape(n, 1), scores]
