"""Tree models trained in seconds for the tree tests: every family, saved the way users save them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Saved:
    """A model file, rows to predict, and whether it is a pickle."""

    name: str
    path: Path
    X: np.ndarray
    pickle: bool


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """digits (600 rows, 10 classes), breast cancer with NaNs and zeros (binary), diabetes (regression)."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

    xd, yd = load_digits(return_X_y=True)
    xb, yb = load_breast_cancer(return_X_y=True)
    xr, yr = load_diabetes(return_X_y=True)
    xn = xb.astype(np.float32)
    rng = np.random.default_rng(0)
    xn[rng.random(xn.shape) < 0.08] = np.nan
    xn[rng.random(xn.shape) < 0.05] = 0.0
    return {"digits": (xd[:600].astype(np.float32), yd[:600]), "cancer": (xn, yb),
            "diabetes": (xr.astype(np.float32), yr)}


def train_all(out: Path) -> list[Saved]:
    """One model per family and task, small enough to train in a few seconds on two cores."""
    import joblib
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn import ensemble as E
    from sklearn import tree

    d = datasets()
    xd, yd = d["digits"]
    xn, yn = d["cancer"]
    xr, yr = d["diabetes"]
    xc = np.nan_to_num(xn)  # the estimators that refuse NaN get the same rows without them
    saved: list[Saved] = []

    def pickle(name: str, est: object, x: np.ndarray, y: np.ndarray) -> None:
        est.fit(x, y)  # type: ignore[attr-defined]
        path = out / f"{name}.joblib"
        joblib.dump(est, path)
        saved.append(Saved(name, path, x, True))

    pickle("dt_digits", tree.DecisionTreeClassifier(max_depth=7, random_state=0), xd, yd)
    pickle("rf_cancer_nan", E.RandomForestClassifier(8, max_depth=6, random_state=0, n_jobs=1), xn, yn)
    pickle("et_digits", E.ExtraTreesClassifier(8, max_depth=6, random_state=0, n_jobs=1), xd, yd)
    pickle("gb_cancer", E.GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0), xc, yn)
    pickle("gb_digits", E.GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0), xd, yd)
    pickle("hgb_cancer_nan", E.HistGradientBoostingClassifier(max_iter=15, max_leaf_nodes=8, random_state=0), xn, yn)
    pickle("hgb_digits", E.HistGradientBoostingClassifier(max_iter=3, max_leaf_nodes=6, random_state=0), xd, yd)
    pickle("dt_reg", tree.DecisionTreeRegressor(max_depth=6, random_state=0), xr, yr)
    pickle("rf_reg", E.RandomForestRegressor(8, max_depth=5, random_state=0, n_jobs=1), xr, yr)
    pickle("et_reg", E.ExtraTreesRegressor(8, max_depth=5, random_state=0, n_jobs=1), xr, yr)
    pickle("gb_reg", E.GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0), xr, yr)
    pickle("hgb_reg", E.HistGradientBoostingRegressor(max_iter=15, random_state=0), xr, yr)
    pickle("xgb_wrapper", xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1), xn, yn)

    def native(name: str, est: object, x: np.ndarray, y: np.ndarray, suffix: str) -> None:
        est.fit(x, y)  # type: ignore[attr-defined]
        path = out / f"{name}{suffix}"
        if suffix == ".txt":
            est.booster_.save_model(str(path))  # type: ignore[attr-defined]
        else:
            est.save_model(str(path))  # type: ignore[attr-defined]
        saved.append(Saved(name, path, x, False))

    native("xgb_cancer_nan", xgb.XGBClassifier(n_estimators=20, max_depth=4, n_jobs=1), xn, yn, ".json")
    native("xgb_digits", xgb.XGBClassifier(n_estimators=6, max_depth=3, n_jobs=1), xd, yd, ".ubj")
    native("xgb_reg", xgb.XGBRegressor(n_estimators=20, max_depth=4, n_jobs=1), xr, yr, ".json")
    lgb_args = {"num_leaves": 8, "verbose": -1, "n_jobs": 1}
    native("lgb_cancer_nan", lgb.LGBMClassifier(n_estimators=20, **lgb_args), xn, yn, ".txt")
    native("lgb_zero_missing", lgb.LGBMClassifier(n_estimators=10, zero_as_missing=True, **lgb_args), xn, yn, ".txt")
    native("lgb_digits", lgb.LGBMClassifier(n_estimators=5, min_child_samples=5, **lgb_args), xd, yd, ".txt")
    native("lgb_reg", lgb.LGBMRegressor(n_estimators=20, **lgb_args), xr, yr, ".txt")
    native("lgb_rf_reg", lgb.LGBMRegressor(boosting_type="rf", n_estimators=6, bagging_freq=1, bagging_fraction=0.6,
                                           **lgb_args), xr, yr, ".txt")
    return saved
