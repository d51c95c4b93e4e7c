"""examples/demo.py (make demo): its printed CLI equivalents replay from the files it leaves, and it keeps its
results as JSON plus one self-contained HTML report (issue #17 item 9)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO, need_module, need_tool

pytestmark = [pytest.mark.tf, pytest.mark.tflm, pytest.mark.qemu, pytest.mark.toolchain]

XHTML, SVG = "{http://www.w3.org/1999/xhtml}", "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[str]]]:
    need_module("tensorflow")
    need_module("tflite_micro")
    need_tool("arm-none-eabi-gcc")
    need_tool("qemu-system-arm")
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    res = subprocess.run([sys.executable, str(REPO / "examples" / "demo.py"), "--out", str(out), "--runs", "3",
                          "--epochs", "1"], capture_output=True, text=True, env=env, timeout=900, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    commands = [shlex.split(line[2:]) for line in res.stdout.splitlines() if line.startswith("$ edgekit ")]
    return out, commands


def test_demo_keeps_its_results_as_json_and_one_html_report(demo: tuple[Path, list[list[str]]]) -> None:
    out, _ = demo
    for name in ("summary", "conversion_report", "inspect", "build", "validate", "bench", "payoff"):
        assert isinstance(json.loads((out / f"{name}.json").read_text()), dict), name
    assert json.loads((out / "validate.json").read_text())["ok"] is True
    root = ET.parse(out / "report.html").getroot()  # well-formed XHTML
    heads = " | ".join(h.text or "" for h in root.iter(f"{XHTML}h2"))
    for section in ("Conversion quality", "Memory map", "Latency", "Energy", "cost per runtime",
                    "Quantization payoff: float32 vs int8"):
        assert section in heads, heads
    # the payoff: the float32 model is larger and runs more instructions than its int8 conversion on the board
    payoff = json.loads((out / "payoff.json").read_text())
    rows = {r["key"]: r for r in payoff["rows"]}
    assert rows["flash_bytes"]["ratio"] > 1 and rows["count"]["ratio"] > 1 and payoff["accuracy"]["int8"] > 0
    assert f"{rows['flash_bytes']['ratio']:.2f}x" in "".join(root.itertext())
    # both models ran on the same values (the int8 input, dequantized for float32), and the report says so
    assert not any(n.startswith("different inputs") for n in payoff["notes"]), payoff["notes"]
    assert "same input values on both" in "".join(root.itertext())
    assert len(list(root.iter(f"{SVG}svg"))) >= 4  # SQNR bars, memory map, latency, energy
    assert not re.search(r'(src|href)="(https?:)?//', (out / "report.html").read_text()), "not self-contained"


def test_demo_cli_equivalents_replay(demo: tuple[Path, list[list[str]]], tmp_path: Path) -> None:
    """Every file a printed command reads exists, and the cheap commands run as printed (with outputs moved)."""
    from edgekit.cli import run

    out, commands = demo
    assert [c[1] for c in commands] == ["convert", "inspect", "generate", "validate", "bench", "convert"]
    for argv in commands:
        for k, arg in enumerate(argv):
            if arg.startswith(str(out)) and argv[k - 1] not in ("-o", "--save", "--report", ">"):
                assert Path(arg).exists(), f"'{shlex.join(argv)}' reads {arg}, which the demo did not write"
    for argv in commands:
        if argv[1] in ("validate", "bench"):
            args = [a.replace(str(out / "bench.json"), str(tmp_path / "bench.json")) for a in argv[1:]]
            assert run(args) == 0, shlex.join(argv)
