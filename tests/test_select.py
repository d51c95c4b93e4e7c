"""``edgekit select``: candidates measured on qemu-cortex-m4, the Pareto front, the recommendation under limits.

One selection runs end to end (module fixture, through the CLI): a digits MLP as Keras (converted here), a narrower
MLP as .tflite, a pruned variant of the first and its float32 model (``--variants prune=0.5,float32``: the
quantization payoff side by side), a scikit-learn random forest (a pickle,
``--trust-pickle``; compiled to C by edgekit.trees) and a broken file. The other tests choose
again from its saved JSON (nothing measured twice) and check every claim against the measured numbers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool

from edgekit.errors import DataError, UsageError

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
KEYS = ("accuracy", "flash_bytes", "ram_bytes", "arena_bytes", "stack_used_bytes", "instructions",
        "estimated_cycles", "latency_ms", "energy_uj", "battery_days")


def _mlp(width: int, x: np.ndarray, y: np.ndarray, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(width, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")], name=f"mlp{width}")
    m.compile("adam", "sparse_categorical_crossentropy")
    m.fit(x, y, epochs=20, batch_size=32, verbose=0)
    return m


@pytest.fixture(scope="module")
def selection(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``edgekit select mlp32.keras mlp8.tflite broken.tflite --variants prune=0.5,float32`` on qemu-cortex-m4."""
    need_module("tensorflow")
    need_module("sklearn")
    need_module("tflite_micro")
    need_tool("arm-none-eabi-gcc")
    need_tool("qemu-system-arm")
    from edgekit.cli import run
    from edgekit.conversion import convert
    from edgekit.examples_data import load_digits_data

    work = tmp_path_factory.mktemp("select")
    x_tr, y_tr, x_te, y_te = load_digits_data()
    x_val, y_val = x_te[:200], y_te[:200]
    np.savez(work / "train.npz", x=x_tr, y=y_tr)
    np.savez(work / "val.npz", x=x_val, y=y_val)
    _mlp(32, x_tr, y_tr, 0).save(work / "mlp32.keras")
    convert(_mlp(8, x_tr, y_tr, 1), x_tr[:100], output=work / "mlp8.tflite", progress=False)
    (work / "broken.tflite").write_bytes(b"not a flatbuffer at all")
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0).fit(x_tr.reshape(len(x_tr), -1), y_tr)
    joblib.dump(forest, work / "forest.joblib")
    argv = ["select", str(work / "mlp32.keras"), str(work / "mlp8.tflite"), str(work / "forest.joblib"),
            str(work / "broken.tflite"), "--trust-pickle",
            "--val", str(work / "val.npz"), "--train", str(work / "train.npz"), "--variants", "prune=0.5,float32",
            "--epochs", "1", "--board", "qemu-cortex-m4", "--save", str(work / "sel.json"),
            "--html", str(work / "sel.html"), "--models-dir", str(work / "models")]
    rc = run(argv)
    assert rc == 0
    return {"work": work, "data": json.loads((work / "sel.json").read_text()), "x_val": x_val, "y_val": y_val,
            "forest": forest}


def _by_name(d: dict) -> dict[str, dict]:
    return {c["name"]: c for c in d["candidates"]}


def _dominates(a: dict, b: dict) -> bool:
    ge = a["accuracy"] >= b["accuracy"] and a["latency_ms"] <= b["latency_ms"] and a["flash_bytes"] <= b["flash_bytes"]
    gt = a["accuracy"] > b["accuracy"] or a["latency_ms"] < b["latency_ms"] or a["flash_bytes"] < b["flash_bytes"]
    return ge and gt


@pytest.mark.tf
@pytest.mark.qemu
@pytest.mark.toolchain
def test_select_ranks_the_candidates_and_flags_the_front(selection: dict) -> None:
    d = selection["data"]
    assert d["schema"] == "edgekit.select/1" and d["board"] == "qemu-cortex-m4"
    c = _by_name(d)
    assert set(c) == {"mlp32", "mlp8", "mlp32+prune=0.5", "mlp32+float32", "forest", "broken"}
    ok = [m for m in d["candidates"] if m["status"] == "ok"]
    assert len(ok) == 5
    for m in ok:
        assert all(m[k] is not None and m[k] > 0 for k in KEYS), {k: m[k] for k in KEYS}
        assert m["samples"] == 200
        if m["name"] != "mlp32+float32":  # float32: within the bound of its ops, not always byte for byte
            assert m["byte_exact"] == 200  # the device computed what TFLM (the library) does
        assert m["ram_bytes"] >= m["arena_bytes"] + m["stack_reserved_bytes"]
        assert m["accuracy_on"].startswith("device (QEMU qemu-cortex-m4")
    # the narrower model is cheaper on the board
    assert c["mlp8"]["flash_bytes"] < c["mlp32"]["flash_bytes"]
    assert c["mlp8"]["instructions"] < c["mlp32"]["instructions"]
    assert c["mlp8"]["energy_uj"] < c["mlp32"]["energy_uj"]
    # the float32 model of mlp32 on the same board: larger and slower than its int8 conversion, accuracy measured
    f, q = c["mlp32+float32"], c["mlp32"]
    assert f["runtime"] == "edgekit" and f["int8_counterpart"] == "mlp32" and f["accuracy"] > 0.5
    assert f["flash_bytes"] > q["flash_bytes"] and f["instructions"] > q["instructions"]
    assert f["energy_uj"] > q["energy_uj"] and f["float_accuracy"] == q["float_accuracy"]
    (pay,) = d["payoffs"]
    rows = {r["key"]: r for r in pay["rows"]}
    assert (pay["a"], pay["b"]) == ("mlp32+float32", "mlp32")
    for key in ("flash_bytes", "instructions", "energy_uj"):
        assert rows[key]["ratio"] == pytest.approx(f[key] / q[key]) and rows[key]["ratio"] > 1
    assert pay["accuracy"] == {"float32": f["accuracy"], "int8": q["accuracy"]}
    # the device's accuracy is the int8 model's: the TFLM host interpreter on the same samples agrees
    from edgekit.samples import load_device_inputs
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    model = load_model(selection["work"] / "mlp8.tflite")
    samples = load_device_inputs(selection["x_val"], model)
    host = [int(np.argmax(o[0])) for o in tflm_run(model, [s[0] for s in samples.samples])]
    assert c["mlp8"]["accuracy"] == pytest.approx(np.mean(np.asarray(host) == selection["y_val"]))
    # the forest: a tree candidate through generate/validate, its device accuracy the library's own
    x_flat = selection["x_val"].reshape(len(selection["x_val"]), -1)
    assert c["forest"]["kind"] == "tree" and c["forest"]["runtime"] == "edgekit"
    assert c["forest"]["accuracy"] == pytest.approx(np.mean(selection["forest"].predict(x_flat) == selection["y_val"]))
    # the front, recomputed from the measured numbers
    for m in ok:
        assert m["pareto"] == (not any(_dominates(o, m) for o in ok if o is not m)), m["name"]
    # the broken file is reported, not fatal, never on the front
    b = c["broken"]
    assert b["status"] == "failed" and b["stage"] == "generate" and "not a TFLite model" in b["error"]
    assert not b["pareto"] and not b["chosen"] and b["why_not"].startswith("failed at generate")
    # recommended: the most accurate on the front; ranks: chosen first, failures last
    front = [m for m in ok if m["pareto"]]
    best = max(front, key=lambda m: m["accuracy"])
    assert d["recommended"] == best["name"] and best["chosen"] and best["rank"] == 1
    assert sorted(m["rank"] for m in d["candidates"]) == [1, 2, 3, 4, 5, 6] and b["rank"] == 6
    assert all(m["why_not"] for m in d["candidates"] if not m["chosen"])
    # --models-dir kept the converted files
    assert Path(c["mlp32+prune=0.5"]["model"]).is_file() and Path(c["mlp32"]["model"]).suffix == ".tflite"


@pytest.mark.tf
@pytest.mark.qemu
@pytest.mark.toolchain
def test_the_recommendation_honours_each_constraint(selection: dict) -> None:
    from edgekit.selection import SelectionResult

    base = SelectionResult.from_dict(selection["data"])
    ok = [m for m in base.candidates if m.status == "ok"]
    flashes = sorted({m.flash_bytes for m in ok})
    lats = sorted({m.latency_ms for m in ok})
    rams = sorted({m.ram_bytes for m in ok})
    accs = sorted({m.accuracy for m in ok})
    cases = [("max_flash", "flash_bytes", flashes[0], "max"), ("max_latency_ms", "latency_ms", lats[0], "max"),
             ("max_ram", "ram_bytes", rams[0], "max"), ("min_accuracy", "accuracy", accs[-1], "min")]
    for name, key, limit, bound in cases:
        r = base.rechoose(**{name: limit})
        rec = r.recommended
        assert rec is not None, name
        allowed = [m for m in ok if (getattr(m, key) <= limit if bound == "max" else getattr(m, key) >= limit)]
        assert rec.name in {m.name for m in allowed}, name
        assert rec.accuracy == max(m.accuracy for m in allowed)
        for m in r.candidates:
            if m.status == "ok" and m.name not in {a.name for a in allowed}:
                assert key in m.why_not and not m.chosen, (name, m.why_not)
    fastest = base.rechoose(prefer="latency").recommended
    assert fastest is not None and fastest.latency_ms == lats[0]
    smallest = base.rechoose(prefer="flash").recommended
    assert smallest is not None and smallest.flash_bytes == flashes[0]


@pytest.mark.tf
@pytest.mark.qemu
@pytest.mark.toolchain
def test_an_impossible_constraint_exits_1_with_a_hint(selection: dict, capsys: pytest.CaptureFixture) -> None:
    from edgekit.cli import run

    capsys.readouterr()
    saved = selection["work"] / "sel.json"
    rc = run(["select", "--from", str(saved), "--max-flash", "1KB", "--json"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "error: no candidate meets every constraint" in err and "flash_bytes" in err
    assert "\nhint: relax the limit" in err
    d = json.loads(out)
    assert d["recommended"] is None and d["constraints"] == {"max_flash": 1024}
    assert all("flash_bytes" in m["why_not"] or m["status"] == "failed" for m in d["candidates"])
    # a limit every candidate meets chooses as before; percent accepted for --min-accuracy
    assert run(["select", "--from", str(saved), "--min-accuracy", "50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommended"] == selection["data"]["recommended"]


@pytest.mark.tf
@pytest.mark.qemu
@pytest.mark.toolchain
def test_the_html_report_is_well_formed_with_the_pareto_plot(selection: dict) -> None:
    root = ET.fromstring((selection["work"] / "sel.html").read_text(encoding="utf-8").split("\n", 1)[1])
    svgs = list(root.iter(f"{SVG}svg"))
    assert len(svgs) == 2
    n_front = sum(m["pareto"] for m in selection["data"]["candidates"])
    for svg in svgs:
        circles = list(svg.iter(f"{SVG}circle"))
        assert sum(c.get("class") == "front" for c in circles) == n_front
        assert sum(c.get("class") == "dominated" for c in circles) == 5 - n_front  # the broken one is not plotted
        assert sum(c.get("class") == "chosen" for c in circles) == 1
    text = "".join(root.itertext())
    assert selection["data"]["recommended"] in text and "broken" in text and "failed at generate" in text
    rows = [tr for tr in root.iter(f"{XHTML}tr") if tr.get("class") == "chosen"]
    assert len(rows) == 1
    # the quantization payoff section: float32 vs int8 of mlp32 with the measured ratios
    assert "Quantization payoff: float32 vs int8" in text
    pay = selection["data"]["payoffs"][0]
    flash = next(r for r in pay["rows"] if r["key"] == "flash_bytes")
    assert f"{flash['ratio']:.2f}x" in text and f"{flash['a']:,.0f} B" in text


# ---------------------------------------------------------------- options, without measuring anything


def test_variant_specs() -> None:
    from edgekit.selection.candidates import parse_variant

    v = parse_variant("prune=0.5+int16")
    assert [s.technique for s in v.steps] == ["prune"] and v.steps[0].settings == {"sparsity": 0.5}
    assert v.activations == "int16" and v.needs_training
    assert not parse_variant("int16").needs_training
    assert parse_variant("rank=8").steps[0].settings == {"rank": 8}
    assert parse_variant("lowrank=0.9").steps[0].technique == "low_rank"
    f = parse_variant("prune=0.5+float32")
    assert f.activations == "float32" and [s.technique for s in f.steps] == ["prune"]
    assert parse_variant("float32").activations == "float32" and not parse_variant("float32").needs_training
    for bad, match in (("prune=1.5", "in \\(0, 1\\)"), ("prune=x", "not a number"), ("shrink", "not a variant"),
                       ("qat+prune=0.5", "qat must be the last"), ("int16+float32", "exclude each other")):
        with pytest.raises(UsageError, match=match):
            parse_variant(bad)


def test_bad_options_fail_before_anything_is_measured(tmp_path: Path) -> None:
    from edgekit.cli.select import parse_size
    from edgekit.selection import select

    assert parse_size("64KB", "--max-flash") == 65536 and parse_size("1000", "--max-flash") == 1000
    with pytest.raises(UsageError, match="--max-ram: 'lots' is not a size"):
        parse_size("lots", "--max-ram")
    model = tmp_path / "m.keras"
    model.write_bytes(b"")
    np.savez(tmp_path / "v.npz", x=np.zeros((4, 8, 8, 1), np.float32), y=np.arange(4))
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(UsageError, match="need training data"):
        select([model], val=tmp_path / "v.npz", variants=["prune=0.5"])
    with pytest.raises(UsageError, match="made from Keras candidates"):
        select([tmp_path / "a.tflite"], val=tmp_path / "v.npz", variants=["int16"])
    with pytest.raises(DataError, match="no labels"):
        select([model], val=tmp_path / "x.npy")
    np.save(tmp_path / "y3.npy", np.arange(3))
    with pytest.raises(DataError, match="3 labels for 4 samples"):
        select([model], val=tmp_path / "x.npy", val_labels=tmp_path / "y3.npy")
    from edgekit.selection import _labelled

    np.save(tmp_path / "y.npy", np.eye(4)[[2, 0, 1, 3]])  # one-hot rows
    x, y, src = _labelled(tmp_path / "x.npy", "validation data", 3, tmp_path / "y.npy")
    assert x.shape == (3, 8, 8, 1) and y.tolist() == [2, 0, 1] and "labels" in src and "first 3" in src
    with pytest.raises(DataError, match="not class ids"):
        _labelled((np.zeros((4, 2)), np.array([0.5, 1, 2, 3])), "validation data", None)
    with pytest.raises(UsageError, match="not an emulated board"):
        select([model], val=tmp_path / "v.npz", board="nucleo-l4r5zi")
    with pytest.raises(UsageError, match="--prefer"):
        select([model], val=tmp_path / "v.npz", prefer="cheap")


@pytest.mark.tf
@pytest.mark.qemu
@pytest.mark.toolchain
def test_a_candidate_that_does_not_fit_is_reported_and_host_accuracy_matches(selection: dict, tmp_path: Path) -> None:
    """On a board whose flash holds the narrow MLP but not the wide one: the wide one fails at build with the reason
    and is never recommended; accuracy on the TFLM host interpreter equals the device's (byte-exact runtime)."""
    import math

    from edgekit.selection import select

    c = _by_name(selection["data"])
    flash_kb = math.ceil(c["mlp8"]["flash_bytes"] / 1024)
    assert c["mlp32"]["flash_bytes"] > flash_kb * 1024  # the premise, from the measured sizes
    src = (Path(__file__).resolve().parents[1] / "boards").rglob("qemu-cortex-m4.yaml")
    text = next(src).read_text().replace("id: qemu-cortex-m4", "id: qemu-m4-small")
    text = text.replace("flash_kb: 4096", f"flash_kb: {flash_kb}").replace(
        "{name: FLASH, origin: 0x00000000, size_kb: 4096", f"{{name: FLASH, origin: 0x00000000, size_kb: {flash_kb}")
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "qemu-m4-small.yaml").write_text(text)
    r = select([c["mlp32"]["model"], selection["work"] / "mlp8.tflite"], board="qemu-m4-small",
               val=(selection["x_val"], selection["y_val"]), accuracy_on="host", boards_dirs=[str(tmp_path / "boards")])
    wide, narrow = r.candidates
    assert wide.status == "failed" and wide.stage == "build" and "does not fit" in wide.error
    assert not wide.pareto and not wide.chosen and wide.why_not.startswith("failed at build")
    assert r.recommended is narrow and narrow.flash_bytes <= flash_kb * 1024
    assert narrow.accuracy_on.startswith("host") and narrow.byte_exact is None
    assert narrow.accuracy == c["mlp8"]["accuracy"]
    assert r.to_dict()["board"] == "qemu-m4-small"


def test_validate_records_the_class_the_device_predicted() -> None:
    """select's accuracy comes from ``ValidationResult.device_top1``: output 0's argmax, or its value when output 0
    is one integer (a class index)."""
    from types import SimpleNamespace

    from edgekit.samples import DeviceInputs
    from edgekit.validation import _compare

    parsed = SimpleNamespace(path=None)
    samples = DeviceInputs(((np.zeros(1),),) * 2, "x.npy", "")
    scores = [SimpleNamespace(dtype="int8")]
    ref = [[np.array([[1, 2, 9, 4]], np.int8)], [np.array([[9, 0, 0, 0]], np.int8)]]
    device = [[bytes([1, 2, 9, 4])], [bytes([0, 0, 0, 9])]]  # the second differs from the reference
    res = _compare(parsed, "qemu-cortex-m4", scores, device, ref, samples, "proj", {})
    assert res.device_top1 == [2, 3] and res.top1_agree == 1
    index = [SimpleNamespace(dtype="int32")]
    ref = [[np.array([7], np.int32)], [np.array([3], np.int32)]]
    device = [[np.array([7], np.int32).tobytes()], [np.array([5], np.int32).tobytes()]]
    assert _compare(parsed, "qemu-cortex-m4", index, device, ref, samples, "proj", {}).device_top1 == [7, 5]


def test_why_not_names_the_candidate_that_beats_it() -> None:
    """Reasons on made-up rows (the end-to-end tests check them against measured ones)."""
    from edgekit.selection.evaluate import Measured
    from edgekit.selection.result import SelectionResult

    def row(name: str, acc: float, flash: int, lat: float) -> Measured:
        return Measured(name, f"{name}.tflite", "tflite", accuracy=acc, flash_bytes=flash, latency_ms=lat,
                        ram_bytes=9000)

    cands = [row("big", 0.97, 40_000, 12.0), row("small", 0.97, 14_000, 0.3), row("tiny", 0.90, 12_000, 0.1),
             row("worse", 0.95, 15_000, 0.4), Measured("bad", "bad.tflite", "tflite", status="failed",
                                                       stage="build", error="model does not fit")]
    r = SelectionResult("qemu-cortex-m4", "v", cands).choose()
    by = {m.name: m for m in r.candidates}
    assert [m.name for m in r.candidates if m.pareto] == ["small", "tiny"]
    assert r.recommended is by["small"] and by["small"].rank == 1 and by["bad"].rank == 5
    assert by["big"].why_not.startswith("dominated by small") and by["worse"].why_not.startswith("dominated by small")
    tiny = by["tiny"].why_not
    assert tiny.startswith("on the front, but accuracy is not the best") and "(small)" in tiny
    assert by["bad"].why_not == "failed at build: model does not fit"
    r2 = r.rechoose(max_flash=13_000)
    assert r2.recommended.name == "tiny" and "flash_bytes 14000 > 13000" in r2.candidates[1].why_not
    assert r.recommended is by["small"]  # rechoose left the original alone
    assert SelectionResult.from_dict(r2.to_dict()).choose().recommended.name == "tiny"


def test_a_float32_variant_is_paired_with_its_int8_candidate() -> None:
    """The pairing (made-up rows; the end-to-end test checks it on measured ones): ``float32`` pairs with the base,
    ``prune=0.5+float32`` with ``prune=0.5`` when that variant is asked for too, else with none."""
    from edgekit.payoff import payoff_summary
    from edgekit.selection.candidates import _int8_name, parse_variant
    from edgekit.selection.evaluate import Measured
    from edgekit.selection.result import SelectionResult

    vs = [parse_variant(s) for s in ("prune=0.5", "float32", "prune=0.5+float32", "qat+float32")]
    assert [_int8_name("m", v, vs) for v in vs[1:]] == ["m", "m+prune=0.5", None]
    q = Measured("m", "m.keras", "keras", accuracy=0.9, flash_bytes=30_000, instructions=2e5, energy_uj=80.0,
                 latency_ms=2.0, ram_bytes=9000)
    f = Measured("m+float32", "m.keras", "variant", "float32", accuracy=0.91, flash_bytes=90_000, instructions=5e5,
                 energy_uj=200.0, latency_ms=5.0, ram_bytes=12_000, int8_counterpart="m")
    r = SelectionResult("qemu-cortex-m4", "v", [q, f]).choose()
    (p,) = r.payoffs()
    rows = {x["key"]: x for x in p["rows"]}
    assert (p["a"], p["b"]) == ("m+float32", "m") and rows["flash_bytes"]["ratio"] == 3.0
    assert rows["instructions"]["ratio"] == 2.5 and rows["arena_bytes"]["ratio"] is None
    assert SelectionResult.from_dict(r.to_dict()).payoffs() == r.payoffs()
    assert "flash 3.00x, instructions 2.50x, energy / inference 2.50x, accuracy 91.00% vs 90.00%" in payoff_summary(p)
