"""Sparse weights in the AOT runtime (issue 8, item 4): CONV_2D / FULLY_CONNECTED filters stored as (delta, weight)
entries (ek_sparse.h), chosen per layer by a cost model, bit-exact with the TFLM interpreter.

- The encoding round-trips (gaps over 255 bridged by zero-weight fillers) and the modes choose as documented.
- The MLPerf Tiny VWW model (82.8% zero weights): "auto" makes exactly the very sparse 1x1 convolutions sparse,
  "force" every CONV_2D / FULLY_CONNECTED; both bit-exact on the host under ASan/UBSan and on QEMU Cortex-M4.
- Small models with 75% / 97% of their weights zeroed (every CONV_2D parameter of the conv zoo, batched FC,
  long zero gaps) and a digits CNN pruned with edgekit.optimize: bit-exact on the host (ASan/UBSan) and on QEMU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, convert_int8, random_inputs
from conftest import REPO, need_module, need_tool, shared_model

sys.path.insert(0, str(REPO / "benchmarks"))
from pruned_models import zero_smallest  # the benchmark's pruning: tests and figures agree

from edgekit.codegen.aot.sparse import SparseWeights, choose, decode, encode, estimate
from edgekit.errors import UsageError

VWW = "mlperf_tiny/vww_mobilenet_int8.tflite"
SPARSE_KERNELS = ("ek_sparse_conv2d_s8", "ek_sparse_fc_s8")


# ---------------------------------------------------------------- helpers


def sparse_vs_tflm(tflite: bytes | Path, work: Path, mode: str, *, sets: int = 3, objs: Path | None = None,
                   inputs: list | None = None) -> tuple[list[str], str]:
    """Host build (ASan/UBSan) with ``sparse=mode`` against TFLM; returns (mismatches, generated ek_model.c)."""
    problems = aot_vs_tflm(tflite, work, sets=sets, seed=3, inputs=inputs, obj_cache=objs, sparse=mode)
    return problems, (work / "src" / "ek_model.c").read_text()


def sparse_calls(model_c: str) -> int:
    """Number of sparse kernel calls in a generated ek_model.c."""
    return sum(model_c.count(f"{k}(&p") for k in SPARSE_KERNELS)


def eligible(tflite: bytes | Path) -> int:
    """CONV_2D without groups and FULLY_CONNECTED without a filter zero point: the layers "force" makes sparse."""
    from edgekit.tflite_model import load_model

    sg = load_model(tflite).main
    n = 0
    for op in sg.operators:
        f = sg.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
        if op.opcode == "CONV_2D" and f.shape[3] == sg.tensors[op.inputs[0]].shape[3]:
            n += 1
        elif op.opcode == "FULLY_CONNECTED" and not any(f.quantization.zero_point or [0]):
            n += 1
    return n


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("gcc")
    return tmp_path_factory.mktemp("ek_objs")


@pytest.fixture(scope="module")
def model_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_module("tensorflow")
    need_module("tflite_micro")
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("edgekit_aot_models")) if cache is not None else tmp_path_factory.mktemp("models")


# ---------------------------------------------------------------- encoding and choice


@pytest.mark.parametrize("shape,density", [((8, 1000), 0.01), ((16, 27), 0.5), ((4, 600), 0.0), ((3, 300), 1.0),
                                           ((5, 2, 2, 70), 0.2), ((1, 70000), 0.0001)])
def test_encode_round_trips(shape: tuple[int, ...], density: float) -> None:
    rng = np.random.default_rng(len(shape) + int(density * 100))
    w = (rng.integers(-128, 128, size=shape) * (rng.random(shape) < density)).astype(np.int8)
    enc = encode(w)
    assert np.array_equal(decode(enc), w.reshape(shape[0], -1))
    assert enc.nonzeros == np.count_nonzero(w)
    assert enc.n_entries >= enc.nonzeros and enc.entries.size == 2 * enc.n_entries
    assert enc.nbytes == enc.entries.size + 2 * shape[0]


def test_encode_bridges_long_gaps_with_zero_fillers() -> None:
    w = np.zeros((2, 600), dtype=np.int8)
    w[0, [0, 599]] = [1, -5]
    w[1, 255] = 7
    enc = encode(w)
    assert enc.counts.tolist() == [4, 1]
    assert enc.entries.reshape(-1, 2).tolist() == [[0, 1], [255, 0], [255, 0], [89, 251], [255, 7]]
    assert enc.nonzeros == 3 and enc.density == pytest.approx(5 / 1200)


def test_modes_choose_as_documented() -> None:
    sparse = encode(np.eye(128, dtype=np.int8))      # one entry per row
    dense = encode(np.ones((128, 128), dtype=np.int8))
    for enc in (sparse, dense):
        assert choose("off", enc, 36) is False
        assert choose("force", enc, 36) is True
    assert choose("auto", sparse, 36) is True
    assert choose("auto", dense, 36) is False
    d, s = estimate(sparse, 36)
    assert s < d / 5
    # a batch-1 FULLY_CONNECTED shares nothing between columns: its break-even density is lower
    third = encode((np.arange(128 * 128).reshape(128, 128) % 3 == 0).astype(np.int8))
    assert choose("auto", third, 36) is True and choose("auto", third, 1, kind="fc") is False
    too_long = SparseWeights(rows=1, depth=1, counts=np.array([70000]), entries=np.zeros(0, np.uint8), nonzeros=1)
    assert choose("force", too_long, 1) is False


def test_bad_mode_is_a_usage_error(tmp_path: Path) -> None:
    from edgekit.cli import run
    from edgekit.codegen.aot import generate_c
    from edgekit.generation import generate

    path = shared_model("tflm_examples/hello_world_int8.tflite")
    with pytest.raises(UsageError, match="sparse mode 'yes'"):
        generate_c(path, tmp_path / "a", sparse="yes")
    with pytest.raises(UsageError, match="--sparse applies to the edgekit runtime"):
        generate(path, "qemu-cortex-m4", "tflm", out_dir=tmp_path / "b", sparse="force")
    assert run(["generate", str(path), "-o", str(tmp_path / "c"), "--sparse", "bogus"]) != 0


def test_cli_generate_sparse_flag(tmp_path: Path) -> None:
    from edgekit.cli import run

    path = shared_model(VWW)
    for mode, expected in (("off", 0), ("force", eligible(path))):
        out = tmp_path / mode
        assert run(["generate", str(path), "-o", str(out), "--sparse", mode, "--json"]) == 0
        assert sparse_calls((out / "model" / "ek_model.c").read_text()) == expected


# ---------------------------------------------------------------- VWW (82.8% zero weights)


def test_vww_auto_makes_the_sparse_layers_sparse(tmp_path: Path) -> None:
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    path = shared_model(VWW)
    sg = load_model(path).main
    density = {op.index: float(np.mean(sg.tensors[op.inputs[1]].array() != 0)) for op in sg.operators
               if op.opcode in ("CONV_2D", "FULLY_CONNECTED")}
    off = generate_c(path, tmp_path / "off", sparse="off")
    auto = generate_c(path, tmp_path / "auto", sparse="auto")
    force = generate_c(path, tmp_path / "force", sparse="force")
    chosen = {int(n.split()[1]) for n in auto.notes}
    assert off.notes == [] and len(force.notes) == len(density)
    # the measured break-even is ~33% for these 1x1 convolutions: everything far below it, nothing far above it
    assert {i for i, d in density.items() if d < 0.2} <= chosen
    assert not {i for i, d in density.items() if d > 0.5} & chosen
    assert auto.weights_bytes < 0.5 * off.weights_bytes
    assert "ek_sparse_conv2d_s8(&p" not in (tmp_path / "off" / "ek_model.c").read_text()
    print(f"\n[sparse] VWW weights: off {off.weights_bytes} B, auto {auto.weights_bytes} B, "
          f"force {force.weights_bytes} B; sparse ops {sorted(chosen)}")


@pytest.mark.tflm
@pytest.mark.parametrize("mode", ["auto", "force"])
def test_vww_sparse_is_bit_exact_on_host_asan(mode: str, objs: Path, tmp_path: Path) -> None:
    need_module("tflite_micro")
    path = shared_model(VWW)
    from edgekit.codegen.aot import generate_c

    problems, model_c = sparse_vs_tflm(path, tmp_path / "host", mode, sets=3, objs=objs)
    assert problems == [], "\n".join(problems)
    expected = eligible(path) if mode == "force" else len(generate_c(path, tmp_path / "gen", sparse=mode).notes)
    assert sparse_calls(model_c) == expected > 0


# ---------------------------------------------------------------- small models with zeroed weights


def wide_fc():
    """FULLY_CONNECTED with 1024 inputs (gaps over 255 at high sparsity): one batch row, 6 rows, 3 rows."""
    import keras
    from keras import layers

    x = keras.Input((1024,), batch_size=1)
    rows = keras.Input((6, 1024), batch_size=1)
    three = keras.Input((3, 40), batch_size=1)
    return keras.Model([x, rows, three], [layers.Dense(9)(x), layers.Dense(5, activation="relu")(rows),
                                          layers.Dense(7, use_bias=False)(three)])


def pointwise():
    """1x1 convolutions (in place, no scratch) on an odd pixel count, strided, and a 3x3 one."""
    import keras
    from keras import layers

    x = keras.Input((7, 5, 24), batch_size=1)
    return keras.Model(x, [layers.Conv2D(16, 1)(x), layers.Conv2D(8, 1, strides=2, activation="relu")(x),
                           layers.Conv2D(12, 3, strides=(2, 1), padding="same", activation="relu6")(x)])


def _zoo(name: str):
    from aot_zoo import ZOO

    return {"wide_fc": wide_fc, "pointwise": pointwise}.get(name) or ZOO[name]


@pytest.mark.tf
@pytest.mark.tflm
@pytest.mark.parametrize("sparsity", [0.75, 0.97])
@pytest.mark.parametrize("name", ["conv", "dense", "wide_fc", "pointwise"])
def test_zeroed_models_are_bit_exact_on_host_asan(name: str, sparsity: float, model_cache: Path, objs: Path,
                                                  tmp_path: Path) -> None:
    tflite = zero_smallest(convert_int8(_zoo(name), "unit", model_cache), sparsity)
    for mode in ("force", "auto"):
        problems, model_c = sparse_vs_tflm(tflite, tmp_path / mode, mode, sets=3, objs=objs)
        assert problems == [], f"{mode}: " + "\n".join(problems)
        if mode == "force":
            assert sparse_calls(model_c) == eligible(tflite) > 0


@pytest.mark.tf
@pytest.mark.tflm
def test_zeroed_per_tensor_fully_connected(model_cache: Path, objs: Path, tmp_path: Path) -> None:
    from aot_zoo import ZOO

    tflite = zero_smallest(convert_int8(ZOO["dense"], "unit", model_cache, per_tensor_dense=True), 0.9)
    problems, model_c = sparse_vs_tflm(tflite, tmp_path, "force", sets=3, objs=objs)
    assert problems == [], "\n".join(problems)
    assert "per_channel = 0" in model_c and sparse_calls(model_c) == eligible(tflite) > 0


@pytest.fixture(scope="module")
def pruned_digits(digits_models: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits CNN pruned to 75% with edgekit.optimize (1 epoch of fine-tuning), converted to int8."""
    from edgekit.conversion import convert
    from edgekit.optimize import FineTune
    from edgekit.optimize.prune import prune_magnitude

    d = digits_models
    pruned = prune_magnitude(d["keras"], d["x_train"], d["y_train"], sparsity=0.75,
                             finetune=FineTune(epochs=1, progress=False, seed=0))
    out = tmp_path_factory.mktemp("pruned") / "digits_pruned_int8.tflite"
    convert(pruned, d["x_train"][:100], output=out, progress=False, isolate=False)
    return out


def _digits_sets(d: dict, model_path: Path) -> list:
    from edgekit.tflite_model import load_model

    model = load_model(model_path)
    inp = model.main.tensors[model.main.inputs[0]]
    scale, zp = inp.quantization.scale[0], inp.quantization.zero_point[0]
    return [[np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8).reshape(inp.shape)]
            for x in d["x_test"][:4]] + random_inputs(model, 2, seed=4)


@pytest.mark.tf
@pytest.mark.tflm
def test_pruned_digits_is_sparse_and_bit_exact_on_host_asan(pruned_digits: Path, digits_models: dict, objs: Path,
                                                            tmp_path: Path) -> None:
    from edgekit.tflite_model import load_model

    sg = load_model(pruned_digits).main
    filters = [sg.tensors[op.inputs[1]].array() for op in sg.operators if op.opcode in ("CONV_2D", "FULLY_CONNECTED")]
    zeros = sum(int((f == 0).sum()) for f in filters) / sum(f.size for f in filters)
    assert zeros > 0.7, f"pruned digits: only {zeros:.1%} of the int8 weights are zero"
    sets = _digits_sets(digits_models, pruned_digits)
    for mode in ("force", "auto"):
        problems, model_c = sparse_vs_tflm(pruned_digits, tmp_path / mode, mode, objs=objs, inputs=sets)
        assert problems == [], f"{mode}: " + "\n".join(problems)
        if mode == "force":
            assert sparse_calls(model_c) == eligible(pruned_digits)


# ---------------------------------------------------------------- QEMU Cortex-M4


def _qemu_validate(path: Path, mode: str, work: Path, inputs: np.ndarray):
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.validation import validate

    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    gen = generate(path, "qemu-cortex-m4", out_dir=work / "fw", sparse=mode)
    build(gen.project_dir)
    model_c = (Path(gen.project_dir) / "model" / "ek_model.c").read_text()
    return validate(path, board="qemu-cortex-m4", inputs=inputs, project_dir=gen.project_dir), model_c


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "force"])
def test_vww_sparse_is_bit_exact_on_qemu(mode: str, tmp_path: Path) -> None:
    from edgekit.tflite_model import load_model

    path = shared_model(VWW)
    inp = load_model(path).main.tensors[load_model(path).main.inputs[0]]
    xs = np.random.default_rng(8).integers(-128, 128, size=(3, *inp.shape), dtype=np.int8)
    res, model_c = _qemu_validate(path, mode, tmp_path, xs)
    assert sparse_calls(model_c) > 0
    assert res.inputs == 3 and res.byte_exact == 3, res.to_dict()["mismatches"]


@pytest.mark.tf
@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
@pytest.mark.slow
def test_pruned_digits_sparse_is_bit_exact_on_qemu(pruned_digits: Path, digits_models: dict, tmp_path: Path) -> None:
    xs = np.stack([s[0] for s in _digits_sets(digits_models, pruned_digits)])
    res, model_c = _qemu_validate(pruned_digits, "force", tmp_path, xs)
    assert sparse_calls(model_c) == eligible(pruned_digits)
    assert res.byte_exact == res.inputs == len(xs), res.to_dict()["mismatches"]
