"""Per-layer int8 / int16 weight choice on DSP cores (edgekit/codegen/aot/variants.py, issue 22).

The choice function on hand-made layers (a FULLY_CONNECTED layer reading each weight once keeps int8 weights at
5 flash wait states, a 3x3 convolution widens, a short flash budget widens the layers with the most weight reuse
first, the forced modes); then a model with some layers widened and some not (the budget leaves the low-reuse
layers on int8) bit-exact with the TFLM host interpreter in one ASan/UBSan host build, and once on the emulated
Cortex-M4; the decisions in generate's manifest.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm
from conftest import need_module, need_tool
from test_aot_w16 import M4, _chain, _extreme_inputs

from edgekit.codegen.aot.variants import Layer, Target, choose_weights, cycles

M4_5WS = Target("cortex-m4f", 5)  # NUCLEO-L4R5ZI at 120 MHz


def _fc(op: int = 0, rows: int = 128, depth: int = 640) -> Layer:
    return Layer(op, "FULLY_CONNECTED", "fc", rows, depth, 1, 0, extra_bytes=rows * depth)


def _conv3x3(op: int = 1, side: int = 32, in_c: int = 16, out_c: int = 16) -> Layer:
    return Layer(op, "CONV_2D", "conv", out_c, 9 * in_c, side * side, 9, extra_bytes=out_c * 9 * in_c)


def test_fc_that_reads_each_weight_once_keeps_int8_at_5_wait_states() -> None:
    fc = _fc()
    d = choose_weights([fc], M4_5WS).decisions[0]
    assert d.variant == "int8" and d.cycles_int8 < d.cycles_int16
    assert "reuse 1" in d.reason and "5 WS" in d.reason
    # without wait states the widened kernel's fewer instructions win
    assert choose_weights([fc], Target("cortex-m4f", 0)).decisions[0].variant == "int16"
    # the flash term grows with the wait states: the int16 variant reads about twice the int8 one's words
    extra16 = cycles(fc, "int16", M4_5WS) - cycles(fc, "int16", Target("cortex-m4f", 0))
    extra8 = cycles(fc, "int8", M4_5WS) - cycles(fc, "int8", Target("cortex-m4f", 0))
    assert extra8 > 0 and 1.8 < extra16 / extra8 < 2.1


def test_3x3_conv_widens_at_5_wait_states() -> None:
    d = choose_weights([_conv3x3()], M4_5WS).decisions[0]
    assert d.variant == "int16" and d.cycles_int16 < d.cycles_int8
    assert d.to_dict()["kernel"] == "ek_conv2d_s8_im2col_w16"


def test_short_budget_widens_the_layers_with_most_reuse_first() -> None:
    low, mid, high = _conv3x3(1, side=8), _conv3x3(2, side=16), _conv3x3(3, side=32)
    assert low.extra_bytes == mid.extra_bytes == high.extra_bytes
    budget = 2 * high.extra_bytes  # room for two of the three
    ch = choose_weights([low, mid, high], M4_5WS, extra_budget=budget)
    assert ch.wide == {2, 3}
    low_d = next(d for d in ch.decisions if d.layer.op == 1)
    assert low_d.variant == "int8" and "flash budget" in low_d.reason
    assert choose_weights([low, mid, high], M4_5WS, extra_budget=0).wide == set()
    assert choose_weights([low, mid, high], M4_5WS).wide == {1, 2, 3}


def test_forced_modes() -> None:
    layers = [_fc(0), _conv3x3(1)]
    assert choose_weights(layers, M4_5WS, mode="int8").wide == set()
    forced = choose_weights(layers, M4_5WS, mode="int16")
    assert forced.wide == {0, 1} and all("forced" in d.reason for d in forced.decisions)
    assert choose_weights(layers, M4_5WS, mode="int16", extra_budget=layers[1].extra_bytes).wide == {1}
    from edgekit.errors import UsageError

    with pytest.raises(UsageError):
        choose_weights(layers, M4_5WS, mode="wide")


def _mixed_budget(model, tmp_path: Path) -> tuple[int, int]:
    """A weights budget that leaves room for the conv layers' int16 weights but not the FC layers' (reuse 1)."""
    from edgekit.codegen.aot import generate_c

    wide = generate_c(model, tmp_path / "probe", features=M4, sparse="off", weights="int16")
    convs = [lay for lay in wide.w16_layers if lay.kind == "conv"]
    fcs = [lay for lay in wide.w16_layers if lay.kind == "fc"]
    assert convs and fcs
    base = wide.weights_bytes - sum(lay.extra_bytes for lay in wide.w16_layers)
    return base + sum(lay.extra_bytes for lay in convs), len(convs)


def test_mixed_widths_bit_exact_on_host(tmp_path: Path) -> None:
    """Conv layers on int16 weights, FULLY_CONNECTED layers on int8 in one model: bit-exact with TFLM (ASan)."""
    need_tool("gcc")
    need_module("tflite_micro")
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    tflite = _chain()
    model = load_model(tflite)
    budget, n_conv = _mixed_budget(model, tmp_path)
    res = generate_c(model, tmp_path / "gen", features=M4, sparse="off", weights_budget=budget)
    src = (tmp_path / "gen" / "ek_model.c").read_text()
    assert src.count("ek_conv2d_s8_im2col_w16(") == n_conv
    assert "ek_fully_connected_s8_w16(" not in src and src.count("ek_fully_connected_s8_vec(") == 5
    assert res.weights_bytes <= budget
    assert {v["variant"] for v in res.variants} == {"int8", "int16"}
    assert any("flash budget" in v["reason"] for v in res.variants if v["variant"] == "int8")
    problems = aot_vs_tflm(tflite, tmp_path / "host", inputs=_extreme_inputs(model), features=M4, sparse="off",
                           weights_budget=budget)
    assert problems == []


def test_generate_reports_the_choice_in_the_manifest(tmp_path: Path) -> None:
    """generate_aot makes the choice at the wait states asked for (default: the board's), each layer's decision is
    the cycle model's, and the decisions go to the manifest and into the generated code."""
    need_module("tflite_micro")
    from edgekit.boards import load_board
    from edgekit.codegen.project import generate_aot
    from edgekit.manifest import load_project
    from edgekit.tflite_model import load_model

    model = load_model(_chain())
    res = generate_aot(model, load_board("qemu-cortex-m4"), out_dir=tmp_path / "p", flash_wait_states=5)
    assert len(res.kernel_variants) == 9  # 5 convs + 4 FC layers can take int16 weights (test_aot_w16)
    for v in res.kernel_variants:
        assert v["variant"] == ("int16" if v["est_cycles_int16"] < v["est_cycles_int8"] else "int8")
        assert "5 WS" in v["reason"]
    kv = load_project(tmp_path / "p").extra["kernel_variants"]
    assert kv["flash_wait_states"] == 5 and kv["layers"] == res.kernel_variants
    src = (tmp_path / "p" / "model" / "ek_model.c").read_text()
    assert src.count("_w16(") == sum(v["variant"] == "int16" for v in res.kernel_variants)
    forced = generate_aot(model, load_board("qemu-cortex-m4"), out_dir=tmp_path / "q", weights="int8")
    assert {v["variant"] for v in forced.kernel_variants} == {"int8"}
    assert "_w16(" not in (tmp_path / "q" / "model" / "ek_model.c").read_text()


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.slow
def test_mixed_widths_bit_exact_on_qemu(tmp_path: Path) -> None:
    """The same mixed model on the emulated Cortex-M4 (Thumb-2 paths of both widths in one firmware)."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.boards import load_board
    from edgekit.buildsys import build
    from edgekit.codegen.project import aot_model_sources, generate_aot
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    tflite = _chain()
    model = load_model(tflite)
    path = tmp_path / "mixed.tflite"
    path.write_bytes(tflite)
    budget, n_conv = _mixed_budget(model, tmp_path)
    gen = generate_aot(model, load_board("qemu-cortex-m4"), out_dir=tmp_path / "fw",
                       model_sources=partial(aot_model_sources, weights_budget=budget))
    src = (tmp_path / "fw" / "model" / "ek_model.c").read_text()
    assert src.count("ek_conv2d_s8_im2col_w16(") == n_conv and src.count("ek_fully_connected_s8_vec(") == 5
    assert gen.weights_bytes <= budget
    build(gen.project_dir)
    xs = np.stack([s[0] for s in _extreme_inputs(model)])
    res = validate(path, board="qemu-cortex-m4", inputs=xs, project_dir=gen.project_dir)
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]


def test_cli_reports_the_choice(tmp_path: Path) -> None:
    """`edgekit inspect --board` and `edgekit generate` print one line per layer; `--weights int8` forces."""
    import json

    from click.testing import CliRunner

    from edgekit.cli import main

    path = tmp_path / "chain.tflite"
    path.write_bytes(_chain())
    runner = CliRunner()
    res = runner.invoke(main, ["inspect", str(path), "--board", "nucleo-l4r5zi", "--no-arena", "--json"])
    assert res.exit_code == 0, res.output
    kv = json.loads(res.output)["kernel_variants"]
    assert len(kv) == 9 and all("5 WS" in v["reason"] for v in kv)
    res = runner.invoke(main, ["generate", str(path), "--board", "nucleo-l4r5zi", "--runtime", "edgekit",
                               "--weights", "int8", "-o", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    assert res.output.count("int8 weights (") == 9 and "forced (--weights int8)" in res.output
    res = runner.invoke(main, ["generate", str(path), "--board", "nucleo-l4r5zi", "--runtime", "tflm",
                               "--weights", "int16", "-o", str(tmp_path / "q")])
    assert res.exit_code != 0 and "--weights applies to the edgekit runtime only" in str(res.exception)
