"""XGBoost (.json / .ubj) and LightGBM (text) model files -> :class:`~edgekit.trees.ensemble.TreeEnsemble`.

The files are read as data (no code runs): XGBoost's JSON directly (its UBJSON through ``xgboost`` into JSON),
LightGBM's text format directly.

- XGBoost: ``x < split`` on float32, NaN the ``default_left`` way, leaves summed in float32 from the base margin in
  tree order; binary logistic class: ``sigmoid(margin) > 0.5`` as XGBoost computes it, folded into a margin
  threshold; otherwise the first maximal margin.
- LightGBM: ``double(x) <= threshold``; ``missing_type`` NaN / Zero / None and ``default_left`` per node (None reads
  NaN as 0); ``|x| <= 1e-35`` reads as 0; leaves summed in float64 in tree order (``average_output`` divides);
  binary class: ``argmax([1 - p, p])`` of LightGBM's sigmoid, folded into a raw-score threshold.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import ModelError
from edgekit.trees.ensemble import TreeEnsemble, from_node_arrays, le_threshold_f64, lt_threshold_f32

__all__ = ["from_lightgbm_text", "from_xgboost_json", "load_xgboost_file"]

_XGB_CLASSIFY = ("binary:logistic", "binary:logitraw", "binary:hinge", "multi:softprob", "multi:softmax")
_XGB_IDENTITY = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:quantileerror",
                 "binary:logitraw")


def _bad(where: str, why: str, hint: str = "") -> ModelError:
    return ModelError(f"{where}: {why}", hint=hint or "save the model again with its library's save_model()")


def load_xgboost_file(path: Path) -> TreeEnsemble:
    """An XGBoost model file: ``.json`` read directly, ``.ubj`` through ``xgboost`` (to JSON)."""
    where = str(path)
    if path.suffix.lower() == ".ubj":
        try:
            import xgboost
        except ImportError:
            raise _bad(where, "reading an XGBoost .ubj model needs the xgboost package",
                       hint="pip install 'edgekit[trees]' (or save the model as .json)") from None
        try:
            booster = xgboost.Booster(model_file=str(path))
        except xgboost.core.XGBoostError as exc:
            raise _bad(where, f"xgboost cannot read it ({str(exc).splitlines()[0][:200]})") from None
        doc = json.loads(bytes(booster.save_raw(raw_format="json")))
    else:
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(where, f"not valid JSON ({exc})") from None
    return from_xgboost_json(doc, where)


def _floats(text: Any) -> list[float]:
    if isinstance(text, (int, float)):
        return [float(text)]
    return [float(v) for v in str(text).strip("[]").split(",") if v.strip()]


def _xgb_sigmoid_gt_half(m: np.float32) -> bool:
    """XGBoost's ``Sigmoid(m) > 0.5`` in float32 (common/math.h: 1 / (exp(-m) + 1 + 1e-16))."""
    e = np.float32(math.exp(float(np.float32(min(-float(m), 88.7)))))  # expf, correctly rounded (numpy's is not)
    y = np.float32(1) / (e + np.float32(1) + np.float32(1e-16))
    return bool(y > np.float32(0.5))


def _f32_threshold(rule: Any) -> float:
    """The largest float32 ``t`` with ``rule(t)`` false, for a rule monotone in its float32 argument (bisection
    over the ordered float32 bit patterns between -1 and 1)."""
    lo, hi = np.float32(-1).view(np.int32), np.float32(1).view(np.int32)

    def key(i: int) -> np.float32:  # ordered int -> float32
        return np.int32(i).view(np.float32) if i >= 0 else np.int32(-(2 ** 31) - i).view(np.float32)

    a, b = -int(np.int32(lo) & 0x7FFFFFFF), int(hi)  # ordered keys of -1 and 1
    assert not rule(key(a)) and rule(key(b))
    while b - a > 1:
        mid = (a + b) // 2
        if rule(key(mid)):
            b = mid
        else:
            a = mid
    return float(key(a))


_DAMAGE = (KeyError, ValueError, TypeError, IndexError, OverflowError, AttributeError, ZeroDivisionError)
MAX_COLUMNS = 1024  # classes / trees per iteration the generated C sums on its stack


def from_xgboost_json(doc: Any, where: str = "model") -> TreeEnsemble:
    """The ensemble of an XGBoost model in its JSON form (``Booster.save_model('m.json')``).

    Raises:
        ModelError: not an XGBoost model, a damaged one, or one edgekit does not compile (the message says why).
    """
    try:
        return _from_xgboost_json(doc, where)
    except _DAMAGE as exc:
        raise _bad(where, f"a damaged XGBoost model ({type(exc).__name__}: {str(exc)[:160]})") from None


def _from_xgboost_json(doc: Any, where: str) -> TreeEnsemble:
    try:
        learner = doc["learner"]
        booster = learner["gradient_booster"]
        objective = learner["objective"]["name"]
        param = learner["learner_model_param"]
    except (KeyError, TypeError):
        raise _bad(where, "not an XGBoost model (no learner.gradient_booster / objective)") from None
    if booster.get("name") != "gbtree":
        raise _bad(where, f"booster '{booster.get('name')}': edgekit compiles gbtree models (not dart or gblinear)",
                   hint="train with booster='gbtree'")
    model = booster["model"]
    n_features = int(param.get("num_feature", 0))
    n_class = int(param.get("num_class", 0) or 0)
    if int(param.get("num_target", 1) or 1) != 1:
        raise _bad(where, "a multi-target model: edgekit compiles single-target models")
    if objective not in _XGB_CLASSIFY and objective not in _XGB_IDENTITY:
        raise _bad(where, f"objective '{objective}' predicts through a transformation edgekit does not compile",
                   hint=f"supported: {', '.join(sorted(set(_XGB_CLASSIFY + _XGB_IDENTITY)))}")
    k = max(n_class, 1)
    if k > MAX_COLUMNS:
        raise _bad(where, f"num_class={n_class}: edgekit compiles up to {MAX_COLUMNS} classes")
    base = np.asarray(_floats(param.get("base_score", "0.5")), dtype=np.float32)
    if base.size == 1 and k > 1:
        base = np.repeat(base, k)
    if objective == "binary:logistic":  # the base score is a probability: XGBoost's ProbToMargin, -logf(1/p - 1)
        # math.log rounded to float32 is the C library's logf here; numpy's float32 log differs in the last bit
        base = np.array([-math.log(float(np.float32(1) / b - np.float32(1))) for b in base], dtype=np.float32)
    trees = []
    info = model.get("tree_info") or [0] * len(model["trees"])
    if len(info) != len(model["trees"]):
        raise _bad(where, f"tree_info names {len(info)} trees, the model holds {len(model['trees'])}")
    for t, group in zip(model["trees"], info, strict=True):
        if not isinstance(t, dict):
            raise _bad(where, f"tree {len(trees)} is not an object")
        if any(int(s) != 0 for s in t.get("split_type", [])):
            raise _bad(where, "the model has categorical splits; edgekit compiles numeric splits only")
        left = np.asarray(t["left_children"], dtype=np.int64)
        right = np.asarray(t["right_children"], dtype=np.int64)
        cond = np.asarray(t["split_conditions"], dtype=np.float32)
        is_leaf = left < 0
        try:
            trees.append(from_node_arrays(left, right, is_leaf, np.asarray(t["split_indices"], dtype=np.int64),
                                          lt_threshold_f32(cond), np.asarray(t["default_left"], dtype=bool), cond,
                                          column=int(group)))
        except _DAMAGE as exc:
            raise _bad(where, f"tree {len(trees)} is malformed ({exc})") from None
        if not 0 <= int(group) < k:
            raise _bad(where, f"tree {len(trees) - 1} adds to class {group}; the model has {k}")
    classify = objective in _XGB_CLASSIFY and objective != "binary:logitraw"
    if not classify:
        return TreeEnsemble("xgboost", "regression", n_features, k, trees, base, acc_dtype="float32",
                            class_rule="none", scores="value" if objective != "binary:logitraw" else "raw")
    if k == 1:
        thr = _f32_threshold(_xgb_sigmoid_gt_half) if objective == "binary:logistic" else 0.0
        return TreeEnsemble("xgboost", "classification", n_features, 1, trees, base, acc_dtype="float32",
                            class_rule="gt", class_threshold=thr, classes=[0, 1])
    return TreeEnsemble("xgboost", "classification", n_features, k, trees, base, acc_dtype="float32",
                        classes=list(range(k)))


# ---------------------------------------------------------------------------------------------- LightGBM
def _lgb_blocks(text: str, where: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    if not text.startswith("tree\n"):
        raise _bad(where, "not a LightGBM text model (it does not start with 'tree')")
    body = text.split("end of trees", 1)[0]
    parts = re.split(r"^Tree=\d+\s*$", body, flags=re.M)

    def kv(block: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in block.splitlines() if "=" in line)

    return kv(parts[0]), [kv(p) for p in parts[1:]]


def _lgb_binary_threshold(sigmoid: float) -> float:
    """The largest float64 raw score LightGBM's LGBMClassifier calls class 0 (argmax([1 - p, p]))."""
    def class1(r: float) -> bool:
        p = 1.0 / (1.0 + math.exp(-sigmoid * r))
        return p > 1.0 - p

    def key(i: int) -> float:
        return float(np.int64(i).view(np.float64)) if i >= 0 else float(np.int64(-(2 ** 63) - i).view(np.float64))

    a = -int(np.float64(1).view(np.int64))
    b = int(np.float64(1).view(np.int64))
    while b - a > 1:
        mid = (a + b) // 2
        if class1(key(mid)):
            b = mid
        else:
            a = mid
    return key(a)


def from_lightgbm_text(text: str, where: str = "model") -> TreeEnsemble:
    """The ensemble of a LightGBM text model (``Booster.save_model('m.txt')``).

    Raises:
        ModelError: not a LightGBM model, a damaged one, or one edgekit does not compile (the message says why).
    """
    try:
        return _from_lightgbm_text(text, where)
    except _DAMAGE as exc:
        raise _bad(where, f"a damaged LightGBM model ({type(exc).__name__}: {str(exc)[:160]})") from None


def _from_lightgbm_text(text: str, where: str) -> TreeEnsemble:
    head, blocks = _lgb_blocks(text, where)
    try:
        n_features = int(head["max_feature_idx"]) + 1
        k = int(head.get("num_tree_per_iteration", "1"))
        objective = head.get("objective", "regression").split()
    except (KeyError, ValueError):
        raise _bad(where, "the LightGBM header lacks max_feature_idx / num_tree_per_iteration") from None
    name = objective[0] if objective else "regression"
    if not 1 <= k <= MAX_COLUMNS:
        raise _bad(where, f"num_tree_per_iteration={k}: edgekit compiles 1..{MAX_COLUMNS}")
    trees = []
    for i, b in enumerate(blocks):
        try:
            trees.append(_lgb_tree(b, i % k))
        except _DAMAGE as exc:
            raise _bad(where, f"tree {i} is malformed ({exc})") from None
        if b.get("is_linear", "0") != "0":
            raise _bad(where, "linear trees (linear_tree=true) are not compiled by edgekit")
        if int(b.get("num_cat", "0")) > 0:
            raise _bad(where, f"tree {i} has categorical splits; edgekit compiles numeric splits only")
    average = "average_output" in text.split("end of trees", 1)[0].splitlines()[:40]
    args = dict(acc_dtype="float64", average=average, flush_tiny=True)
    if name == "binary":
        sig = float(next((o.split(":")[1] for o in objective if o.startswith("sigmoid:")), "1"))
        return TreeEnsemble("lightgbm", "classification", n_features, 1, trees, np.zeros(1), class_rule="gt",
                            class_threshold=_lgb_binary_threshold(sig), classes=[0, 1], **args)
    if name in ("multiclass", "multiclassova", "softmax", "multiclass_ova", "ova", "ovr"):
        return TreeEnsemble("lightgbm", "classification", n_features, k, trees, np.zeros(k), classes=list(range(k)),
                            **args)
    if name in ("regression", "regression_l2", "regression_l1", "huber", "fair", "quantile", "mape", "l1", "l2",
                "mean_squared_error", "mse", "mae", "rmse"):
        return TreeEnsemble("lightgbm", "regression", n_features, k, trees, np.zeros(k), class_rule="none",
                            scores="value", **args)
    raise _bad(where, f"objective '{name}' predicts through a transformation edgekit does not compile",
               hint="supported: binary, multiclass, regression (identity-link) objectives")


def _lgb_tree(b: dict[str, str], column: int) -> Any:
    def arr(key: str, dtype: Any) -> np.ndarray:
        return np.array(b[key].split(), dtype=dtype) if b.get(key, "").strip() else np.zeros(0, dtype=dtype)

    leaf_value = arr("leaf_value", np.float64)
    n_leaves = int(b["num_leaves"])
    if n_leaves < 1 or len(leaf_value) != n_leaves:
        raise ValueError(f"num_leaves={n_leaves} but {len(leaf_value)} leaf values")
    if n_leaves == 1:  # a constant tree: one leaf, no split
        return from_node_arrays(np.array([-1]), np.array([-1]), np.array([True]), np.zeros(1), np.zeros(1),
                                np.zeros(1, bool), leaf_value[:1], column=column)
    feat, thr = arr("split_feature", np.int64), arr("threshold", np.float64)
    dtype, lc, rc = arr("decision_type", np.int64), arr("left_child", np.int64), arr("right_child", np.int64)
    if (dtype & 1).any():
        raise ValueError("categorical split")
    n_int = len(feat)
    if n_int != n_leaves - 1 or any(len(a) != n_int for a in (thr, dtype, lc, rc)):
        raise ValueError(f"{n_leaves} leaves need {n_leaves - 1} splits in every split array")
    if ((lc >= n_int) | (lc < -n_leaves) | (rc >= n_int) | (rc < -n_leaves)).any():
        raise ValueError("a child index is out of range")
    # one node table: internal nodes 0..n_int-1, then leaves n_int + j (LightGBM writes leaf j as ~j)
    def child(c: np.ndarray) -> np.ndarray:
        return np.where(c >= 0, c, n_int + ~c)

    total = n_int + n_leaves
    left = np.concatenate([child(lc), np.full(n_leaves, -1)])
    right = np.concatenate([child(rc), np.full(n_leaves, -1)])
    is_leaf = np.arange(total) >= n_int
    missing = (dtype >> 2) & 3
    default_left = (dtype & 2) != 0
    nan_left = np.where(missing == 0, thr >= 0.0, default_left)  # None: NaN reads as 0.0 and is compared
    zero_missing = missing == 1
    values = np.concatenate([np.zeros(n_int), leaf_value])
    pad = np.zeros(n_leaves)
    return from_node_arrays(left, right, is_leaf, np.concatenate([feat, pad.astype(np.int64)]),
                            np.concatenate([le_threshold_f64(thr), pad.astype(np.float32)]),
                            np.concatenate([nan_left, np.zeros(n_leaves, bool)]), values, column=column,
                            zero_missing=np.concatenate([zero_missing, np.zeros(n_leaves, bool)]))
