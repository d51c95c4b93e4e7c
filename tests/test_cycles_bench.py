"""``edgekit bench --per-layer`` on QEMU with a real model: the plugin's count equals the -icount count, the layers
add up to the inference, the cycle estimate is there and labelled as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import need_tool, shared_model

AD = "mlperf_tiny/ad_fc_autoencoder_int8.tflite"


@pytest.fixture(scope="module")
def ad_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MLPerf Tiny AD autoencoder generated (AOT runtime) and built for qemu-cortex-m4."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "gcc", "cmake"):
        need_tool(tool)
    model = shared_model(AD)
    from edgekit.buildsys import build
    from edgekit.generation import generate

    out = tmp_path_factory.mktemp("ad") / "proj"
    generate(model, "qemu-cortex-m4", "edgekit", out_dir=out)
    build(out)
    return out


def test_bench_per_layer_json(ad_project: Path, tmp_path: Path) -> None:
    from edgekit.cli import main
    from edgekit.macs import op_macs
    from edgekit.tflite_model import load_model

    save = tmp_path / "b.json"
    res = CliRunner().invoke(main, ["bench", str(ad_project), "--runs", "2", "--per-layer", "--json",
                                    "--save", str(save)])
    assert res.exit_code == 0, res.output
    d = json.loads(save.read_text())
    cyc, layers = d["cycles"], d["per_layer"]
    assert cyc["kind"] == "estimate" and "not a measurement" in cyc["basis"]
    # the plugin counts ek_model_invoke() alone; the SysTick lap (-icount, 40 instructions a tick) also holds the
    # few instructions around the call: equal within one tick plus that overhead
    assert abs(cyc["instructions"] - d["timing"]["count"]["median"]) <= 80
    assert cyc["instructions"] == cyc["mix"]["instructions"] and cyc["mix"]["unclassified"] == 0
    assert cyc["instructions_range"][0] == cyc["instructions_range"][1]  # deterministic inference to inference
    model = load_model(shared_model(AD))
    macs = sum(op_macs(model.main, op) for op in model.main.operators)
    assert cyc["macs"] == macs
    assert cyc["estimated_cycles"] > cyc["instructions"]  # loads, MAC-free refills: > 1 cycle per instruction
    assert cyc["latency_us"] == pytest.approx(cyc["estimated_cycles"] / d["board"]["clock_hz"] * 1e6, rel=1e-6)
    rows = layers["layers"]
    assert sorted(r["op"] for r in rows) == list(range(len(model.main.operators)))
    assert [r["estimated_cycles"] for r in rows] == sorted((r["estimated_cycles"] for r in rows), reverse=True)
    assert sum(r["macs"] for r in rows) == macs
    assert abs(layers["sum_instructions"] / cyc["instructions"] - 1) < 0.03
    assert layers["sum_instructions"] + layers["outside_layers"]["instructions"] == layers["total_instructions"]


def test_bench_table_shows_estimate_and_layers(ad_project: Path) -> None:
    from edgekit.cli import main

    res = CliRunner().invoke(main, ["bench", str(ad_project), "--runs", "1", "--per-layer"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "estimated cycles (model)" in res.output and "not a measurement" in res.output
    assert "per layer (worst first" in res.output and "FULLY_CONNECTED" in res.output
