"""Benchmark tree ensembles compiled to C against the digits neural networks on qemu-cortex-m4.

Data: scikit-learn's digits (64 features scaled to [0, 1], the split of edgekit.examples_data), and breast cancer
(30 tabular features, standardised; 30% held out), where trees usually suit the data. Neural networks: a small MLP
(64-32-16-10; 30-16-8-2 for breast cancer) and the repository's digits CNN, int8 on edgekit's runtime, measured by
:func:`edgekit.optimize.measure` (int8 accuracy, flash, RAM, arena, instructions per inference). Trees: XGBoost,
LightGBM, scikit-learn HistGradientBoosting / GradientBoosting / RandomForest / DecisionTree, each generated, built,
validated on QEMU against its library (byte-identical class and scores on 100 test rows) and benchmarked on
``--rows`` test rows (a tree's instructions depend on the path a row takes: min / mean / max); the small ones also
as nested ifs (``--tree-code ifelse``). Accuracy is the
library's on the test set (the device's is identical: see the validation figures).

With ``--public DIR``, every LightGBM/XGBoost model file in DIR (third-party files, for a local check; never
committed) is also generated, validated on random 0/1/NaN rows and benchmarked.

    python benchmarks/trees.py [--rows 5] [--only xgboost,lightgbm,...] [--public DIR]

Writes benchmarks/results/trees.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "trees.json"
BOARD = "qemu-cortex-m4"
IFELSE_MAX_SPLITS = 1000  # digits ensembles this small are also measured as nested ifs (--tree-code ifelse)


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test); images (N, 8, 8, 1) in [0, 1]."""
    from edgekit.examples_data import load_digits_data

    return load_digits_data()


def tree_models(xt: np.ndarray, yt: np.ndarray, out: Path) -> dict[str, Path]:
    """Train the ensembles on flat features and save them as users do (native files, joblib pickles)."""
    import joblib
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn import ensemble, tree

    x = xt.reshape(len(xt), -1)
    files: dict[str, Path] = {}
    m = xgb.XGBClassifier(n_estimators=30, max_depth=4, learning_rate=0.3, n_jobs=2, random_state=0).fit(x, yt)
    files["xgboost 30x10 d4"] = out / "xgb.json"
    m.save_model(files["xgboost 30x10 d4"])
    m = xgb.XGBClassifier(n_estimators=10, max_depth=3, learning_rate=0.5, n_jobs=2, random_state=0).fit(x, yt)
    files["xgboost 10x10 d3"] = out / "xgb_small.json"
    m.save_model(files["xgboost 10x10 d3"])
    lm = lgb.LGBMClassifier(n_estimators=30, num_leaves=15, n_jobs=2, verbose=-1, random_state=0).fit(x, yt)
    files["lightgbm 30x10 l15"] = out / "lgb.txt"
    lm.booster_.save_model(str(files["lightgbm 30x10 l15"]))
    for name, est in (
            ("sklearn hist-gb 30x10", ensemble.HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15,
                                                                              random_state=0)),
            ("sklearn gb 30x10 d3", ensemble.GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)),
            ("sklearn random-forest 30 d10", ensemble.RandomForestClassifier(30, max_depth=10, random_state=0)),
            ("sklearn decision-tree d10", tree.DecisionTreeClassifier(max_depth=10, random_state=0))):
        est.fit(x, yt)
        files[name] = out / (name.replace(" ", "_") + ".joblib")
        joblib.dump(est, files[name])
    return files


def tabular() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Breast cancer (30 tabular features, binary), standardised with the training rows' mean and deviation."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    mu, sd = xt.mean(axis=0), xt.std(axis=0)
    return (((xt - mu) / sd).astype(np.float32), yt.astype(np.int32), ((xv - mu) / sd).astype(np.float32),
            yv.astype(np.int32))


def tabular_trees(xt: np.ndarray, yt: np.ndarray, out: Path) -> dict[str, Path]:
    import joblib
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn import ensemble

    files = {"cancer: xgboost 20 d3": out / "c_xgb.json", "cancer: lightgbm 20 l8": out / "c_lgb.txt",
             "cancer: sklearn gb 20 d3": out / "c_gb.joblib"}
    xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=2, random_state=0).fit(xt, yt).save_model(
        files["cancer: xgboost 20 d3"])
    lgb.LGBMClassifier(n_estimators=20, num_leaves=8, n_jobs=2, verbose=-1, random_state=0).fit(
        xt, yt).booster_.save_model(str(files["cancer: lightgbm 20 l8"]))
    joblib.dump(ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(xt, yt),
                files["cancer: sklearn gb 20 d3"])
    return files


def measure_tree(path: Path, rows: np.ndarray, val_rows: np.ndarray, work: Path, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, code: str = "table") -> dict[str, Any]:
    """Generate (``code``: table or ifelse), build, validate and bench one tree model on the board."""
    from edgekit import bench, build, generate, validate
    from edgekit.trees import load_tree_model

    m = load_tree_model(path, trust_pickle=path.suffix == ".joblib")
    out: dict[str, Any] = {"file": path.name, "code": code, **m.ensemble.summary()}
    out.pop("classes", None)
    if x_test is not None and y_test is not None and m.ensemble.is_classifier:
        cls = m.reference(x_test)[0][:, 0]
        out["accuracy"] = round(float(np.mean(np.asarray(m.ensemble.classes)[cls] == y_test)), 4)
    gen = generate(m, BOARD, out_dir=work / "proj", name="trees", tree_code=code)
    built = build(gen.project_dir)
    val = validate(m, board=BOARD, inputs=val_rows, project_dir=gen.project_dir)
    counts, cycles = [], []
    for r in rows:
        b = bench(gen.project_dir, runs=2, inputs=r[None, :])
        counts.append(b.timing["count"]["median"])
        if b.cycles:
            cycles.append(b.cycles["estimated_cycles"])
        stack = b.memory["stack_used_bytes"]
    out.update({
        "validate": {"inputs": val.inputs, "byte_exact": val.byte_exact, "ok": val.ok},
        "flash_bytes": built.flash_bytes, "model_flash_bytes": built.weights_bytes,
        "table_bytes_estimate": gen.summary["trees"]["table_bytes"], "ram_bytes": built.ram_bytes,
        "arena_bytes": built.arena_bytes, "stack_used_bytes": stack,
        "instructions": {"rows": len(counts), "min": min(counts), "mean": round(float(np.mean(counts)), 1),
                         "max": max(counts)},
        "estimated_cycles_mean": round(float(np.mean(cycles)), 1) if cycles else None})
    return out


def measure_nn(name: str, model: Any, xt: np.ndarray, xv: np.ndarray, yv: np.ndarray) -> dict[str, Any]:
    from edgekit.optimize.report import measure

    mm = measure(model, xt[:100], val=xv, val_labels=yv, board=BOARD)
    b = mm.board
    return {"name": name, "kind": "int8 neural network (edgekit runtime)", "params": mm.params, "macs": mm.macs,
            "accuracy": mm.int8_accuracy, "flash_bytes": b.flash_bytes if b else None,
            "ram_bytes": b.ram_bytes if b else None, "arena_bytes": b.arena_bytes if b else None,
            "instructions": {"mean": b.per_inference if b else None}, "error": (b.error if b else mm.error)}


def mlp() -> Any:
    from edgekit.conversion import import_tensorflow

    import_tensorflow()
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(32, activation="relu"),
                             L.Dense(16, activation="relu"), L.Dense(10, activation="softmax")], name="digits_mlp")


def tab_mlp() -> Any:
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((30,)), L.Dense(16, activation="relu"), L.Dense(8, activation="relu"),
                             L.Dense(2, activation="softmax")], name="cancer_mlp")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5, help="test rows benchmarked per tree model")
    parser.add_argument("--only", help="comma-separated substrings of the model names to run")
    parser.add_argument("--no-nn", action="store_true", help="skip the neural networks (no TensorFlow)")
    parser.add_argument("--public", type=Path, help="a directory of third-party model files for a local check")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from edgekit import __version__

    t0 = time.perf_counter()
    xt, yt, xv, yv = digits()
    flat_v = xv.reshape(len(xv), -1).astype(np.float32)
    results: list[dict[str, Any]] = []
    wanted = [w.strip() for w in args.only.split(",")] if args.only else None
    with tempfile.TemporaryDirectory(prefix="edgekit-trees-bench-") as tmp:
        work = Path(tmp)
        for name, path in tree_models(xt, yt, work).items():
            if wanted and not any(w in name for w in wanted):
                continue
            r = {"name": name, "kind": "tree ensemble (edgekit runtime, table C)",
                 **measure_tree(path, flat_v[:args.rows], flat_v[:100], work / name.replace(" ", "_"), flat_v, yv)}
            results.append(r)
            if r["internal_nodes"] <= IFELSE_MAX_SPLITS:
                results.append({"name": f"{name} [ifelse]", "kind": "tree ensemble (edgekit runtime, nested-if C)",
                                **measure_tree(path, flat_v[:args.rows], flat_v[:100], work / "ifelse", flat_v, yv,
                                               code="ifelse")})
            print(f"{name:30s} acc {r.get('accuracy')}  flash {r['flash_bytes']:>8,}  "
                  f"model {r['model_flash_bytes']:>8,}  RAM {r['ram_bytes']:>6,}  "
                  f"instr {r['instructions']['mean']:>10,.0f}  "
                  f"validate {r['validate']['byte_exact']}/{r['validate']['inputs']}", flush=True)
        ct, cyt, cv, cyv = tabular()
        for name, path in tabular_trees(ct, cyt, work).items():
            if wanted and not any(w in name for w in wanted):
                continue
            r = {"name": name, "kind": "tree ensemble (edgekit runtime, table C)",
                 **measure_tree(path, cv[:args.rows], cv[:100], work / name.replace(" ", "_").replace(":", ""), cv,
                                cyv)}
            results.append(r)
            results.append({"name": f"{name} [ifelse]", "kind": "tree ensemble (edgekit runtime, nested-if C)",
                            **measure_tree(path, cv[:args.rows], cv[:100], work / "ifelse", cv, cyv, code="ifelse")})
            print(f"{name:30s} acc {r.get('accuracy')}  flash {r['flash_bytes']:>8,}  "
                  f"instr {r['instructions']['mean']:>10,.0f}", flush=True)
        if not args.no_nn:
            from edgekit.examples_data import train_digits_cnn

            net = mlp()
            net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            net.fit(xt, yt, epochs=30, batch_size=32, verbose=0)
            cnn = train_digits_cnn(xt, yt)
            tab = tab_mlp()
            tab.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            tab.fit(ct, cyt, epochs=60, batch_size=32, verbose=0)
            for name, model, data in (("digits MLP 64-32-16-10", net, (xt, xv, yv)),
                                      ("digits CNN (examples_data)", cnn, (xt, xv, yv)),
                                      ("cancer: MLP 30-16-8-2", tab, (ct, cv, cyv))):
                r = measure_nn(name, model, *data)
                results.append(r)
                print(f"{name:30s} acc {r['accuracy']}  flash {r['flash_bytes']}  RAM {r['ram_bytes']}  "
                      f"instr {r['instructions']['mean']}", flush=True)
        public = []
        if args.public:
            rng = np.random.default_rng(0)
            for path in sorted(args.public.glob("*")):
                from edgekit.trees import is_tree_model, load_tree_model

                if path.suffix not in (".txt", ".json", ".ubj") or not is_tree_model(path):
                    continue
                n = load_tree_model(path).ensemble.n_features
                rows = (rng.random((100, n)) < 0.3).astype(np.float32)
                rows[rng.random(rows.shape) < 0.05] = np.nan
                r = {"name": f"public: {path.name}", **measure_tree(path, rows[:args.rows], rows,
                                                                    work / f"public_{path.stem}")}
                public.append(r)
                print(f"public {path.name:23s} flash {r['flash_bytes']:>8,}  instr {r['instructions']['mean']:>8,.0f}"
                      f"  validate {r['validate']['byte_exact']}/{r['validate']['inputs']}", flush=True)
    out = {"benchmark": "trees", "edgekit_version": __version__,
           "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "environment": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                           "board": BOARD,
                           "data": "scikit-learn digits (64 features in [0, 1], test split 25%); breast cancer (30 "
                                   "standardised features, test split 30%)"},
           "seconds": round(time.perf_counter() - t0, 1), "results": results,
           "public_models": public}
    if not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    else:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
