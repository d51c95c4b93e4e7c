"""The whole flow against a board given on the command line (the ``hardware`` marker, deselected by default).

    pytest tests/test_hardware.py --board nucleo-l4r5zi [--port /dev/ttyACM0] [--probe UID] [--power ppk2:PORT]

generate -> build -> flash -> bench -> validate (device outputs == TFLM host, byte for byte), through
:func:`edgekit.deployment` exactly as a user runs it. A QEMU board id runs the same flow emulated (no port), which is
how this file itself is checked here: ``test_hardware_tests_are_deselected_unless_a_board_is_given`` below runs
in every test session, the flow runs only with ``--board``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, need_module, shared_model

HELLO = "tflm_examples/hello_world_int8.tflite"


@pytest.mark.hardware
@pytest.mark.timeout(3600)
def test_deploy_bench_and_validate_on_the_board(hardware: dict, tmp_path: Path) -> None:
    """Flash the hello_world model, benchmark it and check its outputs against the TFLM host interpreter."""
    need_module("tflite_micro")
    from edgekit.boards import load_board
    from edgekit.codegen.common import check_board
    from edgekit.deployment import deploy
    from edgekit.errors import EdgekitError
    from edgekit.validation import validate

    board = load_board(hardware["board"])
    try:  # the edgekit runtime where the firmware core runs, the board's TFLM project elsewhere
        check_board(board)
        runtime = "edgekit"
    except EdgekitError:
        runtime = "tflm"
    model = shared_model(HELLO)
    res = deploy(model, board.id, out_dir=tmp_path / "deploy", runtime=runtime, port=hardware["port"],
                 probe=hardware["probe"], runs=10, warmup=2, power=hardware["power"])
    assert res.bench is not None
    bench = res.bench.to_dict()
    assert bench["timing"]["latency_us"]["median"] > 0
    assert bench["canary"] in ("ok", None)
    if hardware["power"]:
        assert bench["energy"]["windows_from"] == "gpio"
        assert bench["energy"]["kind"] == "measured" and bench["energy"]["per_inference_uj"] > 0
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.arange(-128, 128, 16, dtype=np.int8).reshape(-1, 1, 1))
    port = None if board.is_emulated else (hardware["port"] or bench["transport"]["url"])
    result = validate(model, board=board, inputs=inputs, project_dir=res.project_dir, port=port)
    assert result.ok, result.to_dict()
    assert result.inputs == 16


def test_hardware_tests_are_deselected_unless_a_board_is_given() -> None:
    """Without --board the hardware tests are deselected (not skipped, not run); with it they are collected."""
    def collect(*extra: str) -> str:
        res = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                              str(REPO / "tests" / "test_hardware.py"), *extra], capture_output=True, text=True,
                             cwd=REPO, check=False, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    default = collect()
    assert "test_deploy_bench_and_validate_on_the_board" not in default
    assert "1 deselected" in default
    chosen = collect("--board", "qemu-cortex-m4", "--port", "/dev/ttyACM0")
    assert "test_deploy_bench_and_validate_on_the_board" in chosen and " deselected" not in chosen
