"""Tree model files: which they are, loading them (pickles only when trusted), and the library's own predictions.

- scikit-learn models pickled with ``joblib.dump`` / ``pickle.dump`` (``.joblib``, ``.pkl``, ``.pickle``): loading a
  pickle runs code from the file, so it is refused unless the caller says the file is trusted (``trust_pickle``,
  ``--trust-pickle``). A pickled ``XGBClassifier``/``LGBMClassifier`` (the libraries' scikit-learn wrappers) works
  too, through its booster.
- XGBoost ``.json`` / ``.ubj`` and LightGBM text models (``.txt``/``.model``, starting with ``tree``) are data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, ModelError, UsageError
from edgekit.trees.ensemble import TreeEnsemble

__all__ = ["PICKLE_SUFFIXES", "TreeModel", "is_tree_model", "load_tree_model"]

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
NATIVE_SUFFIXES = (".json", ".ubj", ".txt", ".model", ".lgb")
PICKLE_HINT = ("a pickle can run any code when it is loaded; pass --trust-pickle (trust_pickle=True) only for a "
               "file you made or trust, or save the model natively (XGBoost .json/.ubj, LightGBM text)")


@dataclass
class TreeModel:
    """A loaded tree model: its ensemble (what the C runs) and the library object (the reference)."""

    ensemble: TreeEnsemble
    path: Path | None
    sha256: str
    kind: str                # "sklearn", "xgboost" or "lightgbm": who computes the reference predictions
    source: Any = field(default=None, repr=False)  # the estimator / booster, or the file path for native files

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "trees"

    def reference(self, X: np.ndarray) -> list[np.ndarray]:
        """The library's own predictions for float32 rows ``X``, as the device's outputs: a classifier's class index
        (int32, N x 1) and scores (float32, N x columns); a regressor's values (float32, N x columns)."""
        from edgekit.trees.reference import reference_outputs

        return reference_outputs(self, np.ascontiguousarray(X, dtype=np.float32))


def _sniff(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    if suffix == ".ubj":
        return "xgboost"
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head.startswith(b"tree\n") or head.startswith(b"tree\r\n"):
        return "lightgbm"
    if suffix == ".json" and b'"learner"' in head:
        return "xgboost"
    return None


def is_tree_model(model: Any) -> bool:
    """Whether ``model`` is a tree model edgekit's tree path takes: a :class:`TreeModel` or
    :class:`TreeEnsemble`, a pickle file name, an XGBoost .json/.ubj or a LightGBM text file."""
    if isinstance(model, (TreeModel, TreeEnsemble)):
        return True
    if not isinstance(model, (str, os.PathLike)):
        return False
    p = Path(model)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        return True
    return p.is_file() and _sniff(p) is not None


def _from_estimator(obj: Any, where: str) -> tuple[TreeEnsemble, str, Any]:
    from edgekit.trees.sklearn_models import SKLEARN_KINDS, from_sklearn

    mod = type(obj).__module__.split(".")[0]
    if mod == "xgboost" and hasattr(obj, "get_booster"):
        import json

        from edgekit.trees.boosters import from_xgboost_json

        booster = obj.get_booster()
        return from_xgboost_json(json.loads(bytes(booster.save_raw(raw_format="json"))), where), "xgboost", booster
    if mod == "lightgbm" and hasattr(obj, "booster_"):
        from edgekit.trees.boosters import from_lightgbm_text

        return from_lightgbm_text(obj.booster_.model_to_string(), where), "lightgbm", obj.booster_
    if type(obj).__name__ in SKLEARN_KINDS:
        return from_sklearn(obj, where), "sklearn", obj
    raise ModelError(f"{where}: holds a {type(obj).__module__}.{type(obj).__name__}, not a tree model edgekit "
                     "compiles", hint="edgekit compiles scikit-learn DecisionTree/RandomForest/ExtraTrees/"
                                      "GradientBoosting/HistGradientBoosting, XGBoost and LightGBM models")


def load_tree_model(model: Any, *, trust_pickle: bool = False) -> TreeModel:
    """Load a tree model: a file (see the module docstring), a fitted estimator, or a :class:`TreeModel`.

    Raises:
        ModelError: a pickle without ``trust_pickle`` (the file is not usable as given: exit code 1); an
            unreadable or corrupt file, or a model edgekit does not compile (the message says why).
    """
    if isinstance(model, TreeModel):
        return model
    if isinstance(model, TreeEnsemble):
        return TreeModel(model, None, "0" * 64, "none")
    if not isinstance(model, (str, os.PathLike)):  # a fitted estimator in this process
        ens, kind, src = _from_estimator(model, type(model).__name__)
        return TreeModel(ens, None, hashlib.sha256(repr(model).encode()).hexdigest(), kind, src)
    path = Path(model)
    where = str(path)
    if not path.is_file():
        raise UsageError(f"{where}: no such file")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    kind = _sniff(path)
    if kind == "pickle":
        if not trust_pickle:
            raise ModelError(f"{where}: refusing to load a pickle: loading it would run code from the file",
                             hint=PICKLE_HINT)
        obj = _unpickle(path)
        ens, kind, src = _from_estimator(obj, where)
        return TreeModel(ens, path, sha, kind, src)
    if kind == "xgboost":
        from edgekit.trees.boosters import load_xgboost_file

        return TreeModel(load_xgboost_file(path), path, sha, "xgboost", path)
    if kind == "lightgbm":
        from edgekit.trees.boosters import from_lightgbm_text

        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelError(f"{where}: not a LightGBM text model (not UTF-8 text)") from None
        return TreeModel(from_lightgbm_text(text, where), path, sha, "lightgbm", path)
    raise ModelError(f"{where}: not a tree model edgekit reads",
                     hint="scikit-learn models pickled with joblib (.joblib/.pkl, with --trust-pickle), XGBoost "
                          ".json/.ubj, LightGBM text models")


def _unpickle(path: Path) -> Any:
    import pickle

    try:
        import joblib

        return joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, AttributeError, ImportError,
            ModuleNotFoundError, TypeError, OSError) as exc:
        raise ModelError(f"{path}: not a readable pickle ({type(exc).__name__}: {str(exc)[:200]})",
                         hint="the file is truncated or corrupt, or was saved by a library that is not installed; "
                              "save it again with joblib.dump") from None
    except EdgekitError:
        raise
