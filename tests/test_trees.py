"""Tree models to C (edgekit.trees): every family's C, built on the host under ASan/UBSan in one executable, gives
the library's own predictions byte for byte, rows on the split thresholds included; pickles are refused unless
trusted; corrupt and unsupported files are refused clearly; ``inspect`` reports trees, nodes, depth and flash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import need_module, need_tool

REPO = Path(__file__).resolve().parents[1]
N_DAMAGED = int(os.environ.get("EDGEKIT_TREES_DAMAGED", "150"))  # damaged files per run (3,000 checked locally)
IFELSE = ("dt_digits", "rf_cancer_nan", "gb_cancer", "hgb_cancer_nan", "xgb_cancer_nan", "lgb_zero_missing",
          "et_reg")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> list:
    for mod in ("sklearn", "xgboost", "lightgbm", "joblib"):
        need_module(mod)
    from tests.trees_util import train_all

    return train_all(tmp_path_factory.mktemp("trees"))


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``edgekit ARGS`` as the console script runs it (errors mapped to exit codes and printed)."""
    from edgekit.cli import run

    capsys.readouterr()
    rc = run(args)
    out = capsys.readouterr()
    return rc, out.out + out.err


def _by_name(saved: list, name: str):
    return next(s for s in saved if s.name == name)


def probe_rows(model, X: np.ndarray, per_tree: int = 6) -> np.ndarray:
    """Rows of ``X`` with one feature set exactly on a split threshold, and one float32 step above it (where the
    libraries' comparisons differ: ``<=`` on float64, ``<`` on float32), plus all-NaN rows when X has NaNs."""
    rows = []
    for t_i, tree in enumerate(model.ensemble.trees[:8]):
        for i in range(min(per_tree, tree.internal)):
            f, thr = int(tree.feature[i]), np.float32(tree.threshold[i])
            for v in (thr, np.nextafter(thr, np.float32(np.inf))):
                r = X[(t_i * 7 + i) % len(X)].copy()
                r[f] = v
                rows.append(r)
    if np.isnan(X).any():
        rows += [np.full(X.shape[1], np.nan, np.float32), np.zeros(X.shape[1], np.float32)]
    return np.asarray(rows, dtype=np.float32).reshape(-1, X.shape[1])


def test_every_family_predicts_identically_on_the_host(saved: list, tmp_path: Path) -> None:
    need_tool("gcc")
    from edgekit.trees import load_tree_model
    from edgekit.trees.host import build_host

    models = [load_tree_model(s.path, trust_pickle=s.pickle) for s in saved]
    families = {m.ensemble.family for m in models}
    assert families == {"sklearn-decision-tree", "sklearn-random-forest", "sklearn-extra-trees",
                        "sklearn-gradient-boosting", "sklearn-hist-gradient-boosting", "xgboost", "lightgbm"}
    # one executable, ASan + UBSan, -Wall -Wextra -Werror -Wconversion: every model as tables, and one per family
    # (NaN and zero-as-missing included) as nested ifs
    ifelse = [i for i, s in enumerate(saved) if s.name in IFELSE]
    host = build_host(models + [models[i] for i in ifelse], tmp_path,
                      codes=["table"] * len(models) + ["ifelse"] * len(ifelse))
    for i, (s, m) in enumerate(zip(saved + [saved[i] for i in ifelse], models + [models[i] for i in ifelse],
                                   strict=True)):
        X = np.concatenate([s.X, probe_rows(m, s.X)])
        got, want = host.run(i, X), m.reference(X)
        assert len(got) == len(want) == (2 if m.ensemble.is_classifier else 1), s.name
        for g, w, what in zip(got, want, ("output 0", "output 1"), strict=False):
            assert g.shape == w.shape, (s.name, what)
            bad = np.flatnonzero(np.any(g.view(np.uint32) != w.view(np.uint32), axis=1))
            assert bad.size == 0, f"{s.name} {what}: rows {bad[:5]} differ: {g[bad[:3]]} vs {w[bad[:3]]}"
        # the numpy form of the C arithmetic agrees too (what `edgekit select` can use without a board)
        cls, scores = m.ensemble.predict(X)
        assert scores.tobytes() == got[-1].tobytes(), s.name
        if cls is not None:
            assert (cls == got[0][:, 0]).all(), s.name


def test_a_pickle_is_refused_without_the_trust_flag(saved: list, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.errors import ModelError
    from edgekit.trees import load_tree_model

    s = _by_name(saved, "gb_cancer")
    rc, out = cli(["generate", str(s.path), "--board", "qemu-cortex-m4", "-o", str(tmp_path / "p")], capsys)
    assert rc == 1, out
    assert "refusing to load a pickle" in out and "run code" in out
    assert "hint:" in out and "--trust-pickle" in out  # the hint says how, and that it is for trusted files only
    assert not (tmp_path / "p").exists()
    with pytest.raises(ModelError, match="refusing to load a pickle"):
        load_tree_model(s.path)
    rc, out = cli(["inspect", str(s.path)], capsys)
    assert rc == 1 and "--trust-pickle" in out


def test_corrupt_and_foreign_files_give_clear_errors(saved: list, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import joblib

    from edgekit.errors import ModelError
    from edgekit.trees import load_tree_model

    gb = _by_name(saved, "gb_cancer").path
    truncated = tmp_path / "cut.joblib"
    truncated.write_bytes(gb.read_bytes()[: gb.stat().st_size // 3])
    with pytest.raises(ModelError, match="not a readable pickle") as e:
        load_tree_model(truncated, trust_pickle=True)
    assert "corrupt" in e.value.hint
    foreign = tmp_path / "dict.joblib"
    joblib.dump({"weights": [1, 2]}, foreign)
    with pytest.raises(ModelError, match=r"builtins\.dict, not a tree model"):
        load_tree_model(foreign, trust_pickle=True)
    bad_json = tmp_path / "m.json"
    bad_json.write_text(_by_name(saved, "xgb_reg").path.read_text()[:5000])
    with pytest.raises(ModelError, match="not valid JSON"):
        load_tree_model(bad_json)
    ubj = tmp_path / "m.ubj"
    ubj.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError, match="xgboost cannot read it"):
        load_tree_model(ubj)
    text = _by_name(saved, "lgb_reg").path.read_text()
    cut = tmp_path / "lgb.txt"
    cut.write_text(text.replace("leaf_value=", "leaf_valu=", 1))
    with pytest.raises(ModelError, match="tree 0 is malformed"):
        load_tree_model(cut)
    rc, out = cli(["generate", str(cut), "-o", str(tmp_path / "p")], capsys)
    assert rc == 1 and "tree 0 is malformed" in out


def test_models_edgekit_cannot_compile_are_refused_with_the_reason(tmp_path: Path) -> None:
    for mod in ("sklearn", "xgboost"):
        need_module(mod)
    import xgboost as xgb
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from edgekit.errors import ModelError
    from edgekit.trees import load_tree_model

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 4, 300), rng.random(300)]).astype(np.float32)
    y = (X[:, 0] > 1).astype(int)
    cat = HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]).fit(X, y)
    with pytest.raises(ModelError, match="categorical splits"):
        load_tree_model(cat)
    poisson = HistGradientBoostingRegressor(max_iter=3, loss="poisson").fit(X, y + 1.0)
    with pytest.raises(ModelError, match="non-identity link"):
        load_tree_model(poisson)
    xp = xgb.XGBRegressor(n_estimators=2, objective="count:poisson").fit(X, y)
    xp.save_model(tmp_path / "p.json")
    with pytest.raises(ModelError, match="count:poisson"):
        load_tree_model(tmp_path / "p.json")


def test_inspect_gives_trees_nodes_depth_and_flash(saved: list, capsys: pytest.CaptureFixture[str]) -> None:
    import joblib

    s = _by_name(saved, "gb_cancer")
    est = joblib.load(s.path)
    rc, out = cli(["inspect", str(s.path), "--trust-pickle", "--board", "qemu-cortex-m4", "--json"], capsys)
    assert rc == 0, out
    r = json.loads(out)
    trees = [e.tree_ for e in est.estimators_[:, 0]]
    assert r["family"] == "sklearn-gradient-boosting" and r["task"] == "classification"
    assert r["n_trees"] == 15 and r["n_features"] == 30
    assert r["internal_nodes"] == sum(t.node_count - t.n_leaves for t in trees)
    assert r["leaves"] == sum(t.n_leaves for t in trees)
    assert r["max_depth"] == max(t.max_depth for t in trees)
    # per split: uint16 feature + float threshold + two int16 children; leaves: one double each (de-duplicated)
    assert r["table_bytes"] >= r["internal_nodes"] * 10 + r["distinct_leaves"] * 8
    assert r["flash_estimate_bytes"] > r["table_bytes"] and r["fit"]["fits"] is True
    assert r["ram_bytes"] == 4 * (30 + 1 + 1)
    rc, out = cli(["inspect", str(_by_name(saved, "lgb_digits").path)], capsys)
    assert rc == 0 and "50 trees" in out and "max depth" in out


def test_help_imports_no_tree_library() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom edgekit.cli import main\n"
            "CliRunner().invoke(main, ['--help'])\nCliRunner().invoke(main, ['generate', '--help'])\n"
            "print(sorted(m for m in ('xgboost', 'lightgbm', 'sklearn', 'joblib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_options_that_do_not_apply_are_usage_errors(saved: list, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_by_name(saved, "xgb_reg").path)
    rc, out = cli(["generate", path, "--runtime", "tflm", "-o", str(tmp_path / "p")], capsys)
    assert rc == 2 and "edgekit's runtime only" in out
    rc, out = cli(["generate", path, "--board", "rpi4", "-o", str(tmp_path / "p")], capsys)
    assert rc == 2 and "microcontrollers" in out
    fake = tmp_path / "m.tflite"
    fake.write_bytes(b"\x00" * 64)
    rc, out = cli(["generate", str(fake), "--tree-code", "ifelse", "-o", str(tmp_path / "q")], capsys)
    assert rc == 2 and "--tree-code applies to tree models only" in out


def test_damaged_native_files_load_or_fail_with_a_model_error(saved: list, tmp_path: Path) -> None:
    """Random edits of LightGBM text and XGBoost JSON (numbers, child indices, truncation): the loader and the C
    emitter either accept the file or raise ModelError; never another exception, never a hang."""
    import random

    from edgekit.errors import ModelError
    from edgekit.trees import load_tree_model
    from edgekit.trees.emit import write_c

    rng = random.Random(0)
    sources = [_by_name(saved, "lgb_cancer_nan").path.read_text(), _by_name(saved, "xgb_reg").path.read_text()]
    tokens = ["-1", "0", "1", "7", "-7", "99999", "nan", "1e400", "", "x", "-2147483648", "3.5"]
    accepted = refused = 0
    for k in range(N_DAMAGED):
        text = sources[k % 2]
        for _ in range(rng.randint(1, 4)):
            spots = [i for i, c in enumerate(text) if c.isdigit()]
            i = rng.choice(spots)
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] in ".e-"):
                j += 1
            text = text[:i] + rng.choice(tokens) + text[j:]
        if rng.random() < 0.1:
            text = text[: rng.randint(0, len(text))]
        path = tmp_path / (f"m{k}.txt" if k % 2 == 0 else f"m{k}.json")
        path.write_text(text)
        try:
            m = load_tree_model(path)
            write_c(m.ensemble, tmp_path / f"c{k}", name="m", sha256="0" * 64)
            accepted += 1
        except ModelError:
            refused += 1
    assert accepted + refused == N_DAMAGED and refused > 0
