"""The compression suite (edgekit.optimize): each technique checked on real models, end to end through int8.

Models: the digits CNN (session fixture), an over-parameterised digits MLP, and 1-D CNNs on the synthetic
accelerometer gestures (edgekit.examples_gestures). Every accuracy below is measured on held-out data.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool

from edgekit.errors import DataError, ModelError, UnsupportedOpError, UsageError

pytestmark = pytest.mark.tf


# ---------------------------------------------------------------- helpers


def _acc(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))


def _int8(model, calib, x_val, y_val):
    from edgekit.conversion import convert

    return convert(model, calib, val=x_val, val_labels=y_val, progress=False, isolate=False)


def _ft(epochs: int, lr: float = 1e-3, batch: int = 32):
    from edgekit.optimize import FineTune

    return FineTune(epochs=epochs, learning_rate=lr, batch_size=batch, progress=False)


@pytest.fixture(scope="module")
def gestures() -> dict:
    """The default gesture data and a trained 1-D CNN (width 32, 6.5 k parameters)."""
    from edgekit.examples_gestures import load_gesture_data, train_gesture_cnn

    x_train, y_train, x_test, y_test = load_gesture_data()
    model = train_gesture_cnn(x_train, y_train, width=32)
    return {"keras": model, "x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "float_accuracy": _acc(model, x_test, y_test)}


def _small_cnn(functional: bool = True):
    """Conv(8)-BN-ReLU-Pool-Conv(8)-Flatten-Dense(16)-Dense(10) on 8x8x1 (untrained)."""
    import keras

    L = keras.layers
    layers = [L.Conv2D(8, 3, padding="same", name="c1"), L.BatchNormalization(name="bn"), L.ReLU(name="relu"),
              L.MaxPooling2D(name="pool"), L.Conv2D(8, 3, padding="same", activation="relu", name="c2"),
              L.Flatten(name="flat"), L.Dense(16, activation="relu", name="d1"),
              L.Dense(10, activation="softmax", name="d2")]
    if not functional:
        return keras.Sequential([keras.Input((8, 8, 1)), *layers], name="small_seq")
    inp = x = keras.Input((8, 8, 1))
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x, name="small_cnn")


# ---------------------------------------------------------------- magnitude pruning


def test_polynomial_schedule_and_masks() -> None:
    from edgekit.optimize import PolynomialDecay
    from edgekit.optimize.prune import magnitude_mask

    s = PolynomialDecay(final=0.8, initial=0.0, begin_step=10, end_step=110, power=3, frequency=10)
    values = [s(t) for t in range(0, 130)]
    assert values[0] == 0.0 and values[10] == 0.0 and values[110] == pytest.approx(0.8) and values[129] == 0.8
    assert all(b >= a for a, b in itertools.pairwise(values))  # never decreases
    assert s(60) == pytest.approx(0.8 - 0.8 * 0.5 ** 3)  # halfway: 1 - (1/2)^3 of the way
    assert [t for t in range(130) if s.update_now(t)] == list(range(10, 111, 10))
    w = np.arange(-50, 50, dtype=np.float32).reshape(10, 10)
    m = magnitude_mask(w, 0.3)
    assert m.sum() == 70 and np.all(np.abs(w[m == 0]).max() <= np.abs(w[m == 1]).min())


def test_prune_digits_keeps_accuracy_and_int8_zeros(digits_models: dict) -> None:
    from edgekit.optimize import layer_sparsity
    from edgekit.optimize.prune import prune_magnitude_info
    from edgekit.optimize.report import int8_weight_zeros

    d = digits_models
    base_acc = _acc(d["keras"], d["x_test"], d["y_test"])
    pruned, info = prune_magnitude_info(d["keras"], d["x_train"], d["y_train"], sparsity=0.75, finetune=_ft(4))
    assert set(info.reached) == {"conv2d", "conv2d_1", "dense", "dense_1"}
    assert all(v == pytest.approx(0.75, abs=0.01) for v in info.reached.values()), info.reached
    assert max(layer_sparsity(d["keras"]).values()) < 0.05  # the input model is untouched
    res = _int8(pruned, d["x_train"][:100], d["x_test"], d["y_test"])
    assert res.report.float_accuracy >= 0.95 * base_acc, (res.report.float_accuracy, base_acc)
    assert res.report.int8_accuracy >= 0.95 * base_acc, (res.report.int8_accuracy, base_acc)
    assert int8_weight_zeros(res.tflite_bytes) >= 0.70


def test_cli_prune_default_keeps_accuracy_within_one_point(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`edgekit optimize --prune 0.75` without fine-tuning flags: gradual pruning + early stopping keep accuracy.

    A 2.4 k-parameter digits MLP (75% sparsity leaves ~600 weights): with the old default of 2 fixed epochs it
    lost about 5 points; the default now ramps the sparsity up and fine-tunes until held-out accuracy stops.
    """
    import keras

    from edgekit.cli import run
    from edgekit.examples_data import load_digits_data

    x_train, y_train, x_test, y_test = load_digits_data()
    keras.utils.set_random_seed(0)
    L = keras.layers
    mlp = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(32, activation="relu"),
                            L.Dense(10, activation="softmax")], name="digits_mlp")
    mlp.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    mlp.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    model_path, data, val = tmp_path / "mlp.keras", tmp_path / "train.npz", tmp_path / "val.npz"
    mlp.save(model_path)
    np.savez(data, x=x_train, y=y_train)
    np.savez(val, x=x_test, y=y_test)
    rc = run(["optimize", str(model_path), "--data", str(data), "--val", str(val), "--prune", "0.75", "--no-board",
              "-o", str(tmp_path / "out.keras"), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    step = json.loads(captured.out)["steps"][0]
    before, after = step["before"], step["after"]
    assert after["float_accuracy"] >= before["float_accuracy"] - 0.01, (before["float_accuracy"],
                                                                        after["float_accuracy"])
    assert after["int8_accuracy"] >= before["int8_accuracy"] - 0.015, (before["int8_accuracy"], after["int8_accuracy"])
    assert after["int8_weight_zeros"] >= 0.74
    assert step["settings"]["epochs"] is None and step["settings"]["max_epochs"] == 60
    fit, curve = step["details"]["finetune"], step["details"]["curve"]
    assert fit["ramp"]["epochs_run"] == 6 and fit["epochs"] == 6 + fit["recovery"]["epochs_run"]
    rec = fit["recovery"]
    assert rec["mode"] == "early_stopping" and 1 <= rec["best_epoch"] <= rec["epochs_run"] <= 60
    assert len(rec["history"]) == rec["epochs_run"] and rec["monitor_samples"] > 100
    # the curve: the start, one point per ramp epoch (sparsity rising to the target), the recovered end point
    assert [p["phase"] for p in curve] == ["start"] + ["ramp"] * 6 + ["recovered"]
    sparsities = [p["sparsity"] for p in curve]
    assert sparsities[0] < 0.01 and sparsities == sorted(sparsities) and sparsities[-1] == pytest.approx(0.75, abs=0.01)
    assert curve[-1]["score"] == max(h["score"] for h in rec["history"])


def test_prune_gesture_cnn_keeps_accuracy_and_int8_zeros(gestures: dict) -> None:
    from edgekit.optimize import prune_magnitude
    from edgekit.optimize.report import int8_weight_zeros

    g = gestures
    # the usual practice for small models: the first conv (3 input channels) and the 64-weight classifier at 50%
    first, last = g["keras"].layers[0].name, g["keras"].layers[-1].name
    pruned = prune_magnitude(g["keras"], g["x_train"], g["y_train"], sparsity=0.75, layers={first: 0.5, last: 0.5},
                             finetune=_ft(6))
    res = _int8(pruned, g["x_train"][:100], g["x_test"], g["y_test"])
    assert res.report.float_accuracy >= 0.95 * g["float_accuracy"], (res.report.float_accuracy, g["float_accuracy"])
    assert res.report.int8_accuracy >= 0.95 * g["float_accuracy"], (res.report.int8_accuracy, g["float_accuracy"])
    assert int8_weight_zeros(res.tflite_bytes) >= 0.70


def test_prune_rejects_bad_settings(digits_models: dict) -> None:
    from edgekit.optimize import prune_magnitude

    m = digits_models["keras"]
    for bad in (1.0, -0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(UsageError, match=r"sparsity: must be a number in \[0, 1\)"):
            prune_magnitude(m, sparsity=bad, finetune=_ft(0))
    with pytest.raises(UsageError, match=r"layers\.nope: no layer named 'nope'"):
        prune_magnitude(m, sparsity=0.5, layers={"nope": 0.5}, finetune=_ft(0))
    with pytest.raises(UnsupportedOpError, match=r"layers.max_pooling2d: .*\(MaxPooling2D\) has no kernel to prune"):
        prune_magnitude(m, sparsity=0.5, layers={"max_pooling2d": 0.5}, finetune=_ft(0))
    with pytest.raises(DataError, match="labels are needed for fine-tuning after pruning"):
        prune_magnitude(m, digits_models["x_train"], None, sparsity=0.5, finetune=_ft(1))
    with pytest.raises(DataError, match=r"expected samples of shape \(8, 8, 1\)"):
        prune_magnitude(m, np.zeros((4, 64), np.float32), np.zeros(4), sparsity=0.5, finetune=_ft(1))


def test_early_stopping_restores_the_best_epoch_and_halves_the_rate() -> None:
    """FineTune() default: held-out split, plateau schedule, patience, cap, best weights back at the end."""
    import keras

    from edgekit.optimize import FineTune
    from edgekit.optimize.finetune import fit
    from edgekit.optimize.stopping import held_out_score, predict, split_monitor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.8, 400) > 0).astype(np.int32)  # noisy: it plateaus early
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    ft = FineTune(learning_rate=0.03, patience=3, max_epochs=12, progress=False)
    record = fit(model, x, y, ft, what="test")
    assert record.mode == "early_stopping" and record.monitor_samples == 60
    assert len(record.history) == record.epochs_run <= 12 and [h["epoch"] for h in record.history] == list(
        range(1, record.epochs_run + 1))
    best = max(record.history, key=lambda h: (h["score"], -h["loss"]))
    assert record.best_score == best["score"]
    if record.epochs_run < 12:  # stopped: exactly `patience` epochs after the best one
        assert record.epochs_run == record.best_epoch + 3 and "no better held-out score for 3" in record.stopped
    lrs = [h["lr"] for h in record.history]
    assert lrs[0] == pytest.approx(0.03) and all(b <= a for a, b in itertools.pairwise(lrs))
    # the weights restored are the best epoch's: the monitor score is the recorded best one
    _, _, xm, ym = split_monitor(x, y, 0.15, 0)
    assert held_out_score(predict(model, xm), ym, "probabilities")[0] == pytest.approx(record.best_score, abs=1e-6)
    fixed = fit(model, x, y, FineTune(epochs=2, progress=False), what="test")
    assert fixed.mode == "fixed" and fixed.epochs_run == 2 and not fixed.history
    with pytest.raises(UsageError, match="max_epochs: must be an integer >= 1"):
        FineTune(max_epochs=0)


# ---------------------------------------------------------------- structured pruning


@pytest.mark.parametrize("functional", [True, False], ids=["functional", "sequential"])
def test_structured_pruning_removes_dead_channels_exactly(functional: bool) -> None:
    """Half the channels of every layer are dead: removing them must not change a single output."""
    import keras

    from edgekit.optimize.structured import prune_channels_info

    keras.utils.set_random_seed(3)
    model = _small_cnn(functional)
    rng = np.random.default_rng(0)
    for name in ("c1", "c2", "d1"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        dead = rng.choice(k.shape[-1], k.shape[-1] // 2, replace=False)
        k[..., dead] = 0
        b[dead] = 0
        layer.set_weights([k, np.where(np.isin(np.arange(len(b)), dead), 0.0, 0.1).astype(np.float32)])
        if name == "c1":
            bn = model.get_layer("bn")
            gamma, beta, mean, var = (np.asarray(a) for a in bn.get_weights())
            beta[dead], mean[dead] = 0.0, 0.0
            bn.set_weights([gamma + 0.5, beta, mean, var + 0.3])
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    pruned, info = prune_channels_info(model, ratio=0.5, finetune=_ft(0))
    assert info.channels == {"c1": (8, 4), "c2": (8, 4), "d1": (16, 8)}
    assert info.skipped == {"d2": "it produces the model's output"}
    assert pruned.get_layer("bn").get_weights()[0].shape == (4,)
    assert pruned.get_layer("d1").get_weights()[0].shape == (4 * 4 * 4, 8)  # Flatten re-indexed
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert pruned.count_params() < 0.45 * model.count_params()


def _kill_half(model, ties: list[list[str]], seed: int = 0) -> None:
    """Zero half the output channels of every producer but the classifier (the same ones across ``ties``);
    live channels get a bias, every BatchNorm maps 0 to 0 (random scale), depthwise biases are 0."""
    rng = np.random.default_rng(seed)
    dead: dict[str, np.ndarray] = {}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Conv1D", "Conv2D", "Dense", "SeparableConv1D") and layer.name != "classifier":
            *pre, k, b = layer.get_weights()
            tied = next((g for g in ties if layer.name in g), [layer.name])
            d = next((dead[n] for n in tied if n in dead), None)
            d = rng.choice(k.shape[-1], k.shape[-1] // 2, replace=False) if d is None else d
            dead[layer.name] = d
            k[..., d] = 0
            b = rng.uniform(0.05, 0.2, b.shape).astype(np.float32)
            b[d] = 0
            layer.set_weights([*pre, k, b])
        elif kind == "BatchNormalization":
            n = layer.gamma.shape[0]
            gamma, mean, var = rng.uniform(0.5, 2, n), rng.normal(size=n), rng.uniform(0.2, 3, n)
            layer.set_weights([gamma, mean * gamma / np.sqrt(var + layer.epsilon), mean, var])


_ARCHS = {  # builder kwargs, the producers an Add ties together, the channels kept
    "resnet8": ({"input_shape": (16, 16, 3), "width": 8},
                [["stem", "s1_conv2"], ["s2_conv2", "s2_shortcut"], ["s3_conv2", "s3_shortcut"]],
                {"stem": (8, 4), "s1_conv1": (8, 4), "s1_conv2": (8, 4), "s2_conv1": (16, 8), "s2_conv2": (16, 8),
                 "s2_shortcut": (16, 8), "s3_conv1": (32, 16), "s3_conv2": (32, 16), "s3_shortcut": (32, 16)}),
    "mobilenet_v1": ({"input_shape": (32, 32, 3), "alpha": 0.25, "blocks": 4}, [],
                     {"stem": (8, 4), "b1_pw": (16, 8), "b2_pw": (32, 16), "b3_pw": (32, 16), "b4_pw": (64, 32)}),
    "ds_cnn": ({"width": 16, "blocks": 2}, [], {"stem": (16, 8), "b1_pw": (16, 8), "b2_pw": (16, 8)}),
    "resnet1d": ({"width": 8}, [["stem", "res_conv2"]],
                 {"stem": (8, 4), "res_conv1": (8, 4), "res_conv2": (8, 4), "branch_a": (8, 4), "branch_b": (8, 4),
                  "sep_pw": (16, 8), "sep2": (16, 8)}),
}


@pytest.mark.parametrize("arch", list(_ARCHS))
def test_structured_pruning_real_architectures_removes_dead_channels_exactly(arch: str) -> None:
    """ResNet-8 (Add, 1x1 shortcuts), MobileNetV1 and DS-CNN (depthwise-separable), a residual + Concatenate +
    DepthwiseConv1D + SeparableConv1D 1-D CNN: with half the channels of every producer dead (the same ones
    across an Add), pruning half must find exactly those, keep tied producers consistent, and not change a
    single output."""
    import keras

    from edgekit import examples_mlperf
    from edgekit.optimize.structured import keras_macs, prune_channels_info

    kwargs, ties, channels = _ARCHS[arch]
    keras.utils.set_random_seed(0)
    model = getattr(examples_mlperf, f"build_{arch}")(**kwargs)
    _kill_half(model, ties)
    x = np.random.default_rng(1).random((8, *model.inputs[0].shape[1:]), dtype=np.float32)
    pruned, info = prune_channels_info(model, ratio=0.5, finetune=_ft(0))
    assert info.channels == channels and sorted(info.groups) == sorted(ties)
    assert info.skipped == {"classifier": "it produces the model's output"}
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    for a, b in (g for g in ties):  # tied producers agree with the tensor they are added to
        assert pruned.get_layer(a).output.shape[-1] == pruned.get_layer(b).output.shape[-1] == channels[a][1]
    assert info.macs == (keras_macs(model), keras_macs(pruned)) and info.macs[1] < 0.45 * info.macs[0]
    assert pruned.count_params() < 0.45 * model.count_params()


def test_structured_pruning_refusals_name_the_layer() -> None:
    import keras

    from edgekit.optimize import prune_channels

    L = keras.layers
    inp = keras.Input((8, 8, 1))
    shared = L.Conv2D(4, 3, padding="same", name="shared")
    a = shared(L.Conv2D(4, 3, padding="same", name="a")(inp))
    out = L.Dense(3, name="head")(L.Flatten()(shared(a)))
    with pytest.raises(UnsupportedOpError, match=r"layer 'shared' \(Conv2D\) is shared \(called 2 times in model"):
        prune_channels(keras.Model(inp, out), ratio=0.5, finetune=_ft(0))
    inp = keras.Input((8, 8, 1))
    a = L.Conv2D(4, 3, padding="same", name="a")(inp)
    b = L.Conv2D(4, 3, padding="same", name="b")(a)
    s = L.Add(name="residual")([a, L.Reshape((8, 8, 4), name="reshape")(b)])
    model = keras.Model(inp, L.Dense(3, name="head")(L.Flatten()(s)))
    with pytest.raises(UnsupportedOpError, match=r"layers\.b: layer 'b' cannot be channel-pruned: its output "
                                                 r"reaches 'reshape' \(Reshape\), which structured pruning cannot"):
        prune_channels(model, ratio=0.5, layers={"b": 0.5}, finetune=_ft(0))
    # without naming it: 'b' stays full, and 'a' (tied by the Add to the reshaped, frozen channels) too
    with pytest.raises(UnsupportedOpError, match=r"no layer of model .* can be channel-pruned \(.*b: its output "
                                                 r"reaches 'reshape'"):
        prune_channels(model, ratio=0.5, finetune=_ft(0))
    model = _small_cnn()
    with pytest.raises(UnsupportedOpError, match=r"layers\.pool: layer 'pool' \(MaxPooling2D\) cannot be channel-"):
        prune_channels(model, ratio=0.5, layers={"pool": 0.5}, finetune=_ft(0))
    with pytest.raises(UnsupportedOpError, match=r"layers\.d2: layer 'd2' cannot be channel-pruned: it produces"):
        prune_channels(model, ratio=0.5, layers={"d2": 0.5}, finetune=_ft(0))
    with pytest.raises(UsageError, match=r"ratio: must be a number in \[0, 1\)"):
        prune_channels(model, ratio=1.0, finetune=_ft(0))


def test_structured_pruning_gesture_cnn_converts_and_is_cheaper(gestures: dict) -> None:
    from edgekit.inspection import inspect
    from edgekit.optimize import prune_channels

    g = gestures
    pruned = prune_channels(g["keras"], g["x_train"], g["y_train"], ratio=0.5, finetune=_ft(6, 3e-3))
    before = _int8(g["keras"], g["x_train"][:100], g["x_test"], g["y_test"])
    after = _int8(pruned, g["x_train"][:100], g["x_test"], g["y_test"])
    assert inspect(after.tflite_bytes, arena=False).macs < 0.5 * inspect(before.tflite_bytes, arena=False).macs
    assert pruned.count_params() < 0.5 * g["keras"].count_params()
    assert after.report.int8_accuracy >= 0.9 * g["float_accuracy"]


# ---------------------------------------------------------------- low-rank


def test_low_rank_exact_on_low_rank_kernels() -> None:
    import keras

    from edgekit.optimize.lowrank import low_rank_info

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    L = keras.layers
    model = keras.Sequential([keras.Input((6, 6, 8)), L.Conv2D(32, 3, name="conv"), L.Flatten(name="flat"),
                              L.Dense(64, activation="relu", name="wide"), L.Dense(4, name="tiny")])
    k = model.get_layer("conv").kernel.shape
    model.get_layer("conv").set_weights([(rng.normal(size=(k[0] * k[1] * k[2], 3)) @ rng.normal(size=(3, 32)))
                                         .reshape(k).astype(np.float32), np.zeros(32, np.float32)])
    n_in = model.get_layer("wide").kernel.shape[0]
    model.get_layer("wide").set_weights([(rng.normal(size=(n_in, 5)) @ rng.normal(size=(5, 64))).astype(np.float32),
                                         np.full(64, 0.1, np.float32)])
    factored, info = low_rank_info(model, energy=0.99999, finetune=_ft(0))
    assert info.layers["conv"]["rank"] == 3 and info.layers["wide"]["rank"] == 5
    assert "tiny" in info.skipped  # a 64x4 kernel at rank 4 would not get smaller
    x = rng.random((8, 6, 6, 8), dtype=np.float32)
    np.testing.assert_allclose(factored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-3, atol=1e-3)
    assert factored.count_params() < 0.2 * model.count_params()
    with pytest.raises(UsageError, match="rank 9 for layer 'tiny': its 64x4 kernel has at most rank 4"):
        low_rank_info(model, rank=9, finetune=_ft(0))
    for bad in (0.0, 1.5, -1, float("inf")):
        with pytest.raises(UsageError, match=r"energy: must be a number in \(0, 1\]"):
            low_rank_info(model, energy=bad, finetune=_ft(0))
    with pytest.raises(UsageError, match="rank: must be an integer >= 1"):
        low_rank_info(model, rank=0, finetune=_ft(0))
    with pytest.raises(UnsupportedOpError, match=r"layers\.flat: .*\(Flatten\) cannot be factorized"):
        low_rank_info(model, layers={"flat": 4}, finetune=_ft(0))


def test_low_rank_overparameterised_mlp(digits_models: dict) -> None:
    import keras

    from edgekit.optimize import low_rank

    d = digits_models
    keras.utils.set_random_seed(0)
    L = keras.layers
    mlp = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(256, activation="relu"),
                            L.Dense(256, activation="relu"), L.Dense(10, activation="softmax")], name="mlp")
    mlp.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    mlp.fit(d["x_train"], d["y_train"], epochs=10, batch_size=32, verbose=0)
    from edgekit.optimize import FineTune

    # the default fine-tuning (until held-out accuracy stops improving), capped for test time
    factored = low_rank(mlp, d["x_train"], d["y_train"], energy=0.7, finetune=FineTune(max_epochs=4, progress=False))
    assert factored.count_params() <= 0.6 * mlp.count_params(), (factored.count_params(), mlp.count_params())
    before = _int8(mlp, d["x_train"][:100], d["x_test"], d["y_test"]).report
    after = _int8(factored, d["x_train"][:100], d["x_test"], d["y_test"]).report
    assert after.float_accuracy >= before.float_accuracy - 0.02, (after.float_accuracy, before.float_accuracy)
    assert after.int8_accuracy >= before.int8_accuracy - 0.02, (after.int8_accuracy, before.int8_accuracy)


# ---------------------------------------------------------------- distillation


def test_distillation_beats_the_student_alone(digits_models: dict) -> None:
    """Same student, same initial weights, seed, epochs and (20%-noisy) labels; the teacher saw clean labels."""
    import keras

    from edgekit.optimize import distill
    from edgekit.optimize._graph import copy_model
    from edgekit.optimize.finetune import fit

    d = digits_models
    rng = np.random.default_rng(0)
    noisy = d["y_train"].copy()
    flip = rng.random(len(noisy)) < 0.2
    noisy[flip] = (noisy[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    keras.utils.set_random_seed(1)
    student = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(32, activation="relu"),
                                keras.layers.Dense(10, activation="softmax")], name="student")
    ft = _ft(8, 3e-3)
    alone = copy_model(student)
    fit(alone, d["x_train"], noisy, ft, what="student alone")
    distilled = distill(d["keras"], student, d["x_train"], noisy, temperature=2.0, alpha=0.5, finetune=ft)
    acc_alone, acc_distilled = _acc(alone, d["x_test"], d["y_test"]), _acc(distilled, d["x_test"], d["y_test"])
    assert acc_distilled > acc_alone, (acc_distilled, acc_alone)
    assert d["keras"].trainable and all(layer.trainable for layer in d["keras"].layers)  # teacher left as it was
    res = _int8(distilled, d["x_train"][:100], d["x_test"], d["y_test"])  # the student converts to int8
    assert res.report.int8_accuracy >= acc_distilled - 0.02


def test_distillation_rejects_mismatched_models_and_missing_labels(digits_models: dict, gestures: dict) -> None:
    import keras

    from edgekit.optimize import distill

    teacher = digits_models["keras"]
    four = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    with pytest.raises(ModelError, match=r"teacher output shape \(10,\) does not match student output shape \(4,\)"):
        distill(teacher, four, digits_models["x_train"], digits_models["y_train"], finetune=_ft(1))
    with pytest.raises(ModelError, match="teacher 'digits_cnn' takes inputs of shape"):
        distill(teacher, gestures["keras"], gestures["x_train"], gestures["y_train"], finetune=_ft(1))
    student = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(DataError, match=r"labels are needed for distillation with alpha=0\.5"):
        distill(teacher, student, digits_models["x_train"], None, finetune=_ft(1))
    with pytest.raises(UsageError, match="temperature: must be a number > 0"):
        distill(teacher, student, digits_models["x_train"], None, temperature=0, finetune=_ft(1))
    with pytest.raises(UsageError, match=r"alpha: must be a number in \[0, 1\]"):
        distill(teacher, student, digits_models["x_train"], None, alpha=1.5, finetune=_ft(1))


# ---------------------------------------------------------------- QAT


def test_fold_batchnorm_is_exact() -> None:
    import keras

    from edgekit.optimize import fold_batchnorm

    keras.utils.set_random_seed(0)
    model = _small_cnn()
    bn = model.get_layer("bn")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 8), rng.normal(size=8), rng.normal(size=8), rng.uniform(0.1, 3, 8)])
    folded, names = fold_batchnorm(model)
    assert names == ["bn"] and "bn" not in [layer.name for layer in folded.layers]
    x = rng.random((8, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_qat_int8_beats_ptq_on_a_low_bit_sensitive_model() -> None:
    """A narrow 1-D CNN on raw accelerometer windows with full-scale taps (4-16 g).

    The hard taps stretch every activation range, so post-training int8 quantization loses several points.
    QAT (3 epochs) is compared with PTQ of the original model and with PTQ of the same model fine-tuned in
    float for the same 3 epochs (so the gain is not just extra training).
    """
    import keras

    from edgekit.examples_gestures import build_gesture_cnn, make_gestures
    from edgekit.optimize._graph import copy_model
    from edgekit.optimize.finetune import fit
    from edgekit.optimize.quantization import qat_info
    from edgekit.tflite_model import load_model

    x_train, y_train = make_gestures(300, seed=0, tap_g=(4, 16))
    x_test, y_test = make_gestures(200, seed=1000, tap_g=(4, 16))
    calib = x_train[:100]
    keras.utils.set_random_seed(0)
    model = build_gesture_cnn(width=8)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0)
    ptq = _int8(model, calib, x_test, y_test).report
    assert ptq.float_accuracy - ptq.int8_accuracy >= 0.03, "the setting must be one where PTQ loses accuracy"

    ft = _ft(3, 3e-4)
    tuned = copy_model(model)
    fit(tuned, x_train, y_train, ft, what="float fine-tuning")
    ptq_tuned = _int8(tuned, calib, x_test, y_test).report
    qat_model, info = qat_info(model, x_train, y_train, calib=calib, finetune=ft)
    qat = _int8(qat_model, calib, x_test, y_test)
    assert qat.report.int8_accuracy >= ptq.int8_accuracy, (qat.report.int8_accuracy, ptq.int8_accuracy)
    assert qat.report.int8_accuracy >= ptq_tuned.int8_accuracy, (qat.report.int8_accuracy, ptq_tuned.int8_accuracy)
    # the ranges QAT trained on are the ones the converter chose from the same calibration data
    lo, hi = info.ranges["input_fq"]
    sg = load_model(qat.tflite_bytes).main
    assert sg.tensors[sg.inputs[0]].quantization.scale[0] == pytest.approx((hi - min(lo, 0)) / 255, rel=0.01)


def test_qat_needs_labels(gestures: dict) -> None:
    from edgekit.optimize import qat

    with pytest.raises(DataError, match="labels are needed for quantization-aware training"):
        qat(gestures["keras"], gestures["x_train"], None, finetune=_ft(1))
    with pytest.raises(UsageError, match=r"decay: must be a number in \[0, 1\)"):
        qat(gestures["keras"], gestures["x_train"], gestures["y_train"], decay=1.0, finetune=_ft(1))


# ---------------------------------------------------------------- recipes


def test_recipe_file_validation(tmp_path: Path) -> None:
    from edgekit.optimize import load_recipe

    good = tmp_path / "recipe.yaml"
    good.write_text("schema: 1\nfinetune: {epochs: 3}\nsteps:\n  - distill: {teacher: big.keras}\n"
                    "  - prune: {sparsity: 0.5, layers: {dense: 0.25}, epochs: 2}\n  - low_rank: {rank: 8}\n"
                    "  - qat:\n", encoding="utf-8")
    r = load_recipe(good)
    assert [s.technique for s in r.steps] == ["distill", "prune", "low_rank", "qat"]
    assert r.steps[0].settings["teacher"] == str(tmp_path / "big.keras")  # relative to the recipe file
    assert r.steps[1].finetune == {"epochs": 2} and r.finetune == {"epochs": 3}

    cases = {
        "steps:\n  - low_rank: {enrgy: 0.9}\n": (r"steps\[0\].low_rank.enrgy: unknown key", "energy"),
        "steps:\n  - prune: {sparsity: 1.5}\n": (r"steps\[0\].prune.sparsity: must be a number in \[0, 1\)", None),
        "steps:\n  - prune: {}\n": (r"steps\[0\].prune.sparsity: required key is missing", None),
        "steps:\n  - qat: {}\n  - prune: {sparsity: 0.5}\n": (r"steps\[0\].qat: qat must be the last step", None),
        "steps:\n  - squeeze: {}\n": (r"steps\[0\].squeeze: unknown technique", "low_rank"),
        "steps:\n  - low_rank: {energy: 0}\n": (r"steps\[0\].low_rank.energy: must be a number in \(0, 1\]", None),
        "steps:\n  - low_rank: {rank: 2.5}\n": (r"steps\[0\].low_rank.rank: expected integer, got 2.5", None),
        "steps:\n  - distill: {teacher: t.keras, alpha: 2}\n": (r"steps\[0\].distill.alpha: must be in \[0, 1\]", None),
        "finetune: {epoch: 3}\nsteps:\n  - qat:\n": (r"finetune.epoch: unknown key", "epochs"),
        "steps: []\n": (r"steps: the list is empty", None),
        "steps:\n  - prune: {sparsity: 0.5}\n    qat: {}\n": (r"steps\[0\]: each step is a mapping with one key", None),
        "steps:\n  - prune: {sparsity: 0.5\n": (r"not valid YAML", None),
        "steps:\n  - qat: {}\nsteps: []\n": (r"steps: duplicate key \(line 3\)", "once per mapping"),
    }
    for i, (text, (message, hint)) in enumerate(cases.items()):
        bad = tmp_path / f"bad{i}.yaml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(UsageError, match=f"{bad}: " + message) as exc:
            load_recipe(bad)
        if hint:
            assert hint in (exc.value.hint or "")


def test_recipe_from_flags() -> None:
    from edgekit.optimize.recipe import recipe_from_flags

    r = recipe_from_flags(prune=0.5, structured=True, low_rank=0.9, distill_from="t.keras", qat=True, epochs=1)
    assert [s.technique for s in r.steps] == ["distill", "structured", "low_rank", "qat"]
    assert r.finetune == {"epochs": 1}
    for kwargs, message in (({"prune": 1.0}, r"--prune: must be a number in \[0, 1\)"),
                            ({"low_rank": 1.2}, r"--low-rank: must be a number in \(0, 1\]"),
                            ({"structured": True}, "--structured needs --prune"),
                            ({}, "nothing to do"), ({"rank": 4, "low_rank": 0.5}, "not both")):
        with pytest.raises(UsageError, match=message):
            recipe_from_flags(**kwargs)


# ---------------------------------------------------------------- the CLI and the report


def _write_gesture_files(tmp_path: Path, gestures: dict) -> tuple[Path, Path]:
    model_path = tmp_path / "gesture.keras"
    gestures["keras"].save(model_path)
    data = tmp_path / "data.npz"
    np.savez(data, x=gestures["x_train"], y=gestures["y_train"])
    return model_path, data


def test_cli_optimize_chain_json_report(tmp_path: Path, gestures: dict, capsys: pytest.CaptureFixture) -> None:
    import keras

    from edgekit.cli import run
    from edgekit.optimize import layer_sparsity

    model_path, data = _write_gesture_files(tmp_path, gestures)
    out, report = tmp_path / "out.keras", tmp_path / "r.json"
    rc = run(["optimize", str(model_path), "--data", str(data), "--prune", "0.75", "--qat", "--max-epochs", "3",
              "--patience", "2", "--learning-rate", "0.003", "--no-board", "-o", str(out), "--json",
              "--report", str(report)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads(captured.out)
    assert doc == json.loads(report.read_text())
    assert doc["technique"] == "chain" and [s["technique"] for s in doc["steps"]] == ["prune", "qat"]
    prune_ft, qat_ft = doc["steps"][0]["details"]["finetune"], doc["steps"][1]["details"]["finetune"]
    assert prune_ft["ramp"]["epochs_run"] == 6 and 1 <= prune_ft["recovery"]["epochs_run"] <= 3  # --max-epochs
    assert qat_ft["mode"] == "early_stopping" and 1 <= qat_ft["best_epoch"] <= qat_ft["epochs_run"] <= 3
    assert doc["steps"][1]["settings"]["max_epochs"] == 3 and doc["steps"][1]["settings"]["patience"] == 2
    first, last = doc["steps"][0]["before"], doc["steps"][-1]["after"]
    assert first["int8_bytes"] > 0 and last["int8_gzip_bytes"] < first["int8_gzip_bytes"]
    assert last["int8_weight_zeros"] >= 0.7  # QAT kept the pruned zeros
    assert last["board"] is None and doc["settings"]["board"] is None
    assert 0 < last["int8_accuracy"] <= 1 and doc["validation"].startswith("20% of")
    final = keras.models.load_model(out)
    assert min(layer_sparsity(final).values()) >= 0.74


def test_cli_errors_are_one_line_with_a_hint(tmp_path: Path, gestures: dict, capsys: pytest.CaptureFixture) -> None:
    from edgekit.cli import run

    model_path, data = _write_gesture_files(tmp_path, gestures)
    unlabeled = tmp_path / "x.npy"
    np.save(unlabeled, gestures["x_train"][:50])
    cases = [
        (["--prune", "1.5"], 2, "error: --prune: must be a number in [0, 1), got 1.5"),
        (["--low-rank", "0"], 2, "error: --low-rank: must be a number in (0, 1], got 0.0"),
        (["--data", str(unlabeled), "--prune", "0.5"], 1, "labels are needed for fine-tuning after pruning"),
        (["--distill-from", str(tmp_path / "missing.keras")], 1, "teacher: "),
        (["--recipe", str(tmp_path / "none.yaml")], 2, "no such recipe file"),
        (["--prune", "0.5", "--recipe", str(tmp_path / "none.yaml")], 2, "--recipe cannot be combined with --prune"),
    ]
    for extra, code, message in cases:
        argv = ["optimize", str(model_path), "--data", str(data), "--no-board", "-o", str(tmp_path / "o.keras")]
        if "--data" in extra:
            argv = ["optimize", str(model_path), "--no-board", "-o", str(tmp_path / "o.keras")]
        rc = run(argv + extra)
        err = capsys.readouterr().err
        assert rc == code, (extra, err)
        assert message in err and "Traceback" not in err, (extra, err)
        lines = err.strip().splitlines()
        assert lines[0].startswith("error: ") and all(x.startswith(("error: ", "hint: ")) for x in lines), err
    assert not (tmp_path / "o.keras").exists()


def test_board_figures_are_measured_or_null_with_the_reason(digits_models: dict) -> None:
    from edgekit.optimize.report import measure_on_board

    res = measure_on_board(digits_models["int8_tflite"].read_bytes(), "no-such-board")
    assert res.per_inference is None and res.flash_bytes is None and "unknown board 'no-such-board'" in res.error


@pytest.mark.toolchain
@pytest.mark.qemu
def test_structured_pruning_of_a_resnet_is_cheaper_on_the_emulated_board(tmp_path: Path) -> None:
    """ResNet-8 (width 8, 16x16): channel pruning through the Add groups lowers MACs, flash, arena and the
    instructions per inference measured on qemu-cortex-m4 (convert -> generate -> build -> bench)."""
    import keras

    from edgekit.examples_mlperf import build_resnet8
    from edgekit.optimize import measure, prune_channels
    from edgekit.optimize.structured import keras_macs

    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    keras.utils.set_random_seed(0)
    model = build_resnet8((16, 16, 3), width=8)
    calib = np.random.default_rng(0).random((16, 16, 16, 3), dtype=np.float32)
    narrow = prune_channels(model, ratio=0.5, finetune=_ft(0))
    before = measure(model, calib, work_dir=tmp_path / "a", isolate=False)
    after = measure(narrow, calib, work_dir=tmp_path / "b", isolate=False)
    for m in (before, after):
        assert m.board is not None and m.board.error is None, m.board
        assert m.board.basis == "instructions" and m.board.per_inference > 0 and m.board.flash_bytes > 0
    assert (before.macs, after.macs) == (keras_macs(model), keras_macs(narrow))  # our count = the .tflite's
    assert after.macs < 0.3 * before.macs and after.int8_bytes < before.int8_bytes
    # 27% of the MACs; per-layer overheads keep the instructions at ~53% (1.28 M -> 0.68 M with main's kernels)
    assert after.board.per_inference < 0.65 * before.board.per_inference
    assert after.board.flash_bytes < before.board.flash_bytes and after.board.arena_bytes < before.board.arena_bytes


@pytest.mark.toolchain
@pytest.mark.qemu
def test_cli_optimize_shows_float32_beside_every_int8_model_on_the_board(
        tmp_path: Path, digits_models: dict, capsys: pytest.CaptureFixture) -> None:
    """`edgekit optimize --prune 0.5 --board qemu-cortex-m4`: the original float32 model, its int8 conversion and the
    pruned int8 model measured on the emulated M4 in one run; the payoff rows (JSON, terminal, HTML, Markdown) are
    the measured figures with ratio = float32 / int8, and both models ran on the same input values."""
    import xml.etree.ElementTree as ET

    from edgekit.cli import run

    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    model_path, data, val = tmp_path / "cnn.keras", tmp_path / "train.npz", tmp_path / "val.npz"
    digits_models["keras"].save(model_path)
    np.savez(data, x=digits_models["x_train"], y=digits_models["y_train"])
    np.savez(val, x=digits_models["x_test"][:120], y=digits_models["y_test"][:120])
    out, html, md = tmp_path / "out.keras", tmp_path / "r.html", tmp_path / "r.md"
    argv = ["optimize", str(model_path), "--data", str(data), "--val", str(val), "--prune", "0.5", "--epochs", "1",
            "--board", "qemu-cortex-m4", "-o", str(out), "--html", str(html), "--markdown", str(md)]
    rc = run([*argv, "--report", str(tmp_path / "r.json")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads((tmp_path / "r.json").read_text())
    original, pruned = doc["steps"][0]["before"], doc["steps"][0]["after"]
    fb = original["float_board"]
    assert fb["error"] is None and fb["basis"] == "instructions" and fb["energy_uj"] > 0, fb
    assert pruned["float_board"] is None  # the float32 model is the original's only
    pays = doc["payoffs"]
    assert [(p["a"], p["b"]) for p in pays] == [("original", "original"), ("original", "prune")]
    for p, int8 in zip(pays, (original, pruned), strict=True):
        rows = {r["key"]: r for r in p["rows"]}
        b = int8["board"]
        assert p["board"] == "qemu-cortex-m4" and b["error"] is None and p["schema"] == "edgekit.payoff/1"
        assert set(p) >= {"a", "b", "label", "rows", "notes", "accuracy", "accuracy_metric"}
        assert all(set(r) >= {"key", "label", "unit", "a", "b", "ratio"} for r in p["rows"])
        # every ratio is float32 / int8 of the figures measured in this run
        for key, fa, fb_ in (("count", fb["per_inference"], b["per_inference"]), ("flash_bytes", fb["flash_bytes"],
                             b["flash_bytes"]), ("energy_uj", fb["energy_uj"], b["energy_uj"]),
                             ("estimated_cycles", fb["estimated_cycles"], b["estimated_cycles"])):
            assert (rows[key]["a"], rows[key]["b"]) == pytest.approx((fa, fb_)), key
            assert rows[key]["ratio"] == pytest.approx(fa / fb_) and rows[key]["ratio"] > 1.2, (key, rows[key])
        assert rows["arena_used_bytes"]["ratio"] > 2
        assert p["accuracy"] == {"float32": original["float_accuracy"], "int8": int8["int8_accuracy"]}
        assert p["accuracy"]["int8"] > 0.8
        assert not any(n.startswith("different inputs") for n in p["notes"]), p["notes"]
        assert any("same input values on both" in n for n in p["notes"]), p["notes"]
    ratio = f"({pays[1]['rows'][1]['ratio']:.2f}x)"  # the pruned int8 model's instructions ratio
    assert pays[1]["rows"][1]["key"] == "count"
    page = html.read_text()
    ET.fromstring(page.split("\n", 1)[1])  # well-formed XHTML
    for text in (page, md.read_text()):
        assert "float32 vs int8 on qemu-cortex-m4" in text and "int8 (prune)" in text and ratio in text
    assert "| figure | float32 (original) | int8 (original) | int8 (prune) |" in md.read_text()


_ABORT_IN_TRAINING = '''
import os
if os.environ.get("EDGEKIT_TEST_ABORT_IN_FIT"):  # a native crash (SIGABRT) in the second training batch
    with open(os.environ["EDGEKIT_TEST_ABORT_IN_FIT"], "w") as f:  # the environment TensorFlow starts in
        f.write(os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"))
    import keras

    class _Abort(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch >= 1:
                os.abort()

    _fit = keras.Model.fit

    def fit(self, *args, callbacks=None, **kwargs):
        return _fit(self, *args, callbacks=[*(callbacks or []), _Abort()], **kwargs)

    keras.Model.fit = fit
'''


def test_cli_a_native_crash_while_training_is_one_error_with_a_hint(
        tmp_path: Path, gestures: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The optimize child dies of SIGABRT in model.fit (os.abort in a training callback, installed in the child by
    a sitecustomize module on its PYTHONPATH): the CLI exits 1 with one error line naming the signal and the stage,
    a hint, and no output model. The child ran with TF_ENABLE_ONEDNN_OPTS=0: TensorFlow 2.21's oneDNN kernels
    crash training a width-8 ResNet-8 on 435 samples at batch 32 (benchmarks/onednn_crash.py, docs/optimize.md)."""
    import os

    from edgekit.cli import run

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_ABORT_IN_TRAINING)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("EDGEKIT_TEST_ABORT_IN_FIT", str(tmp_path / "child_env.txt"))
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    model_path, data = _write_gesture_files(tmp_path, gestures)
    out = tmp_path / "out.keras"
    rc = run(["optimize", str(model_path), "--data", str(data), "--prune", "0.5", "--epochs", "1", "--no-board",
              "-o", str(out), "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: TensorFlow crashed in the optimize process (SIGABRT) while fine-tuning ("), err
    assert "epoch 1)" in lines[0] and len(lines) == 2 and lines[1].startswith("hint: nothing was written"), err
    assert "Traceback" not in err and not out.exists() and not (tmp_path / "r.json").exists()
    assert not list(tmp_path.glob(".out.*"))  # no half-written temporary model either
    assert (tmp_path / "child_env.txt").read_text() == "0"  # oneDNN off in the child (the caller set nothing)


def test_report_without_a_board_says_how_to_get_float32_vs_int8() -> None:
    """--no-board: the terminal table and the pages say the on-board float32 vs int8 figures were not measured and
    how to get them (no payoff table)."""
    from rich.console import Console

    from edgekit.optimize.report import ModelMetrics, OptimizationReport, render
    from edgekit.optimize.report_pages import render_html, render_markdown

    m = ModelMetrics(params=10, int8_bytes=100, int8_accuracy=0.9)
    rep = OptimizationReport("chain", {}, m, m, steps=[OptimizationReport("prune", {}, m, m)])
    console = Console(record=True, width=400)
    render(rep, console)
    for text in (console.export_text(), render_markdown(rep), render_html(rep)):
        assert "float32 vs int8 on the board: not measured (no board given)" in text, text
        assert "--board BOARD" in text and "edgekit convert --keep-float --board BOARD" in text
        assert "(original)" not in text
    assert rep.to_dict()["payoffs"] == []
