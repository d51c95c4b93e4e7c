"""Structured pruning of models saved to .keras and loaded back: Keras 3 gives a loaded layer several call
nodes (the Sequential build, the functional graph rebuilt on load); only the calls inside the model's own
graph decide whether a layer is shared. A loaded model must prune exactly as the in-memory one does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_optimize import _ft, _kill_half, _small_cnn

from edgekit.errors import UnsupportedOpError

pytestmark = pytest.mark.tf


def _reload(model, path: Path):
    import keras

    model.save(path)
    return keras.models.load_model(path)


def _structure(model) -> dict[str, list[tuple[int, ...]]]:
    """Layer name -> weight shapes (InputLayers, named differently after loading, left out)."""
    return {layer.name: [tuple(w.shape) for w in layer.get_weights()] for layer in model.layers
            if type(layer).__name__ != "InputLayer"}


@pytest.mark.parametrize("arch", ["sequential", "resnet1d"])
def test_saved_and_loaded_model_prunes_like_the_in_memory_one(arch: str, tmp_path: Path) -> None:
    """The Sequential CNN and a functional 1-D ResNet (Add residual, Concatenate, depthwise, separable):
    after save -> load, the same channels are kept, the same layers narrowed, the same outputs given."""
    import keras

    from edgekit import examples_mlperf
    from edgekit.optimize.structured import prune_channels_info

    keras.utils.set_random_seed(0)
    if arch == "sequential":
        model, ties = _small_cnn(functional=False), []
    else:
        model, ties = examples_mlperf.build_resnet1d(width=8), [["stem", "res_conv2"]]
    _kill_half(model, ties)
    loaded = _reload(model, tmp_path / "m.keras")
    assert isinstance(loaded, type(model))
    if arch == "sequential":  # what used to read as "shared" (a loaded functional model has one call per layer)
        assert max(len(layer._inbound_nodes) for layer in loaded.layers) > 1
    x = np.random.default_rng(1).random((8, *model.inputs[0].shape[1:]), dtype=np.float32)
    pruned, info = prune_channels_info(model, ratio=0.5, finetune=_ft(0))
    pruned_l, info_l = prune_channels_info(loaded, ratio=0.5, finetune=_ft(0))
    assert info_l.channels == info.channels and info_l.skipped == info.skipped and info_l.macs == info.macs
    assert sorted(info_l.groups) == sorted(info.groups) == sorted(ties)
    assert all(after == before // 2 for before, after in info.channels.values()) and info.channels
    assert _structure(pruned_l) == _structure(pruned)
    for a, b in zip(pruned.get_weights(), pruned_l.get_weights(), strict=True):  # the same channels kept
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(pruned_l.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_a_layer_shared_inside_the_model_is_still_refused_after_loading(tmp_path: Path) -> None:
    """One layer object called twice in the same graph stays refused (named), in memory and loaded back;
    a layer reused by another model (a call outside this graph) is not a shared layer here."""
    import keras

    from edgekit.optimize import prune_channels
    from edgekit.optimize.structured import prune_channels_info

    L = keras.layers
    inp = keras.Input((8, 8, 1))
    shared = L.Conv2D(4, 3, padding="same", name="shared")
    a = shared(L.Conv2D(4, 3, padding="same", name="a")(inp))
    model = keras.Model(inp, L.Dense(3, name="head")(L.Flatten()(shared(a))), name="twice")
    for m in (model, _reload(model, tmp_path / "shared.keras")):
        with pytest.raises(UnsupportedOpError, match=r"layer 'shared' \(Conv2D\) is shared \(called 2 times in "
                                                     r"model 'twice'\)"):
            prune_channels(m, ratio=0.5, finetune=_ft(0))
    base = _small_cnn()
    other = keras.Model(base.inputs[0], base.get_layer("d2")(base.get_layer("d1").output))  # a 2nd call of d2
    assert len(base.get_layer("d2")._inbound_nodes) == 2
    _, info = prune_channels_info(base, ratio=0.5, finetune=_ft(0))
    assert info.channels == {"c1": (8, 4), "c2": (8, 4), "d1": (16, 8)} and other is not None


def test_cli_structured_pruning_of_a_saved_sequential_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`edgekit optimize saved.keras --prune 0.5 --structured` on a Sequential loaded from disk (the reported bug)."""
    import keras

    from edgekit.cli import run

    keras.utils.set_random_seed(0)
    model = _small_cnn(functional=False)
    model.save(tmp_path / "saved.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((80, 8, 8, 1), dtype=np.float32), y=rng.integers(0, 10, 80))
    out = tmp_path / "out.keras"
    rc = run(["optimize", str(tmp_path / "saved.keras"), "--data", str(tmp_path / "d.npz"), "--prune", "0.5",
              "--structured", "--epochs", "1", "--no-board", "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    pruned = keras.models.load_model(out)
    assert pruned.get_layer("c1").get_weights()[0].shape[-1] == 4
    assert pruned.get_layer("d1").get_weights()[0].shape == (4 * 4 * 4, 8)
    assert pruned.count_params() < 0.45 * model.count_params()
