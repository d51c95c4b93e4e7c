"""What a new user reads must be true: the README, --help texts and skip messages (issue #17 items 2, 3, 6)."""

from __future__ import annotations

import re
from pathlib import Path

import conftest
import pytest
from click.testing import CliRunner
from conftest import REPO

README = (REPO / "README.md").read_text()


def test_readme_says_how_to_reach_the_cli_after_setup() -> None:
    assert "source .venv/bin/activate" in README and ".venv/bin/edgekit" in README


def _texts() -> dict[Path, str]:
    files = [REPO / "README.md", *(REPO / "edgekit").rglob("*.py"), *(REPO / "firmware_templates" / "tflm").rglob("*"),
             *(REPO / "docs").glob("*.md"), *(REPO / "benchmarks").glob("*.py")]
    return {p: p.read_text(errors="replace") for p in files if p.is_file()}


def test_one_name_for_the_tflm_tree_everywhere() -> None:
    """EDGEKIT_TFLM_DIR in the code, the CMake templates, the tests and the README; no bare TFLM_DIR."""
    for path, text in _texts().items():
        bare = re.findall(r"(?<![A-Za-z0-9_])TFLM_DIR\b", text)
        assert not bare, f"{path.relative_to(REPO)} still says TFLM_DIR"
    assert "EDGEKIT_TFLM_DIR" in README and "--tflm-fetch" in README


def test_generate_help_does_not_call_tflm_unavailable() -> None:
    from edgekit.cli import main

    out = CliRunner().invoke(main, ["generate", "--help"], terminal_width=200).output
    assert "not yet available" not in out and "EDGEKIT_TFLM_DIR" in out
    out = CliRunner().invoke(main, ["build", "--help"], terminal_width=200).output
    assert "--tflm-fetch" in out and "EDGEKIT_TFLM_DIR" in out


def test_missing_third_party_model_says_what_it_is_and_how_to_get_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "SHARED_MODELS", tmp_path / "nowhere")
    with pytest.raises((pytest.skip.Exception, pytest.fail.Exception)) as exc:
        conftest.shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    msg = str(exc.value)
    for words in ("mlperf_tiny/kws_ds_cnn_int8.tflite", "is absent", "mlcommons/tiny", "tensorflow/tflite-micro",
                  "docs/models.md", "scripts/fetch_models.py", "EDGEKIT_MODELS_DIR"):
        assert words in msg, f"{words!r} not in {msg!r}"
    assert (REPO / "docs" / "models.md").is_file() and (REPO / "scripts" / "fetch_models.py").is_file()
    assert "mlperf_tiny/kws_ds_cnn_int8.tflite" in conftest._MISSING_MODELS
    conftest._MISSING_MODELS.discard("mlperf_tiny/kws_ds_cnn_int8.tflite")  # the end-of-run note is for real gaps


def _fc_model(path: Path) -> Path:
    conftest.need_module("tflite_micro")
    import numpy as np
    from tflite_single_op import T, single_op_model

    w = T((4, 8), "int8", 0.02, data=np.ones((4, 8), np.int8))
    path.write_bytes(single_op_model("FULLY_CONNECTED", [T((1, 8), "int8", 0.1), w], [T((1, 4), "int8", 0.2)]))
    return path


def test_bench_refuses_a_project_of_another_board_and_an_unbuilt_one_is_not_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.cli import run

    model = _fc_model(tmp_path / "fc.tflite")
    proj = tmp_path / "fw"
    assert run(["generate", str(model), "--board", "nucleo-l4r5zi", "-o", str(proj)]) == 0
    capsys.readouterr()
    assert run(["bench", str(proj)]) == 1, "an unbuilt project is an error, not a usage error (exit 2)"
    assert "not built" in capsys.readouterr().err
    (proj / "build").mkdir(exist_ok=True)
    (proj / "build" / "firmware.elf").write_bytes(b"\x7fELF" + bytes(60))  # never run: refused before
    assert run(["bench", str(proj), "--board", "qemu-cortex-m4"]) == 2
    err = capsys.readouterr().err
    assert "generated for nucleo-l4r5zi, not qemu-cortex-m4" in err and "edgekit devices" in err
    assert "serial.tools" not in err
    assert run(["bench", str(proj)]) == 2  # its own board is not emulated: the port is needed
    err = capsys.readouterr().err
    assert "--port" in err and "edgekit devices" in err and "serial.tools" not in err


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tflm
def test_validate_without_a_project_leaves_no_temporary_folder(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import numpy as np

    conftest.need_tool("arm-none-eabi-gcc")
    conftest.need_tool("cmake")
    conftest.need_tool("qemu-system-arm")
    from edgekit.validation import validate

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    model = _fc_model(tmp_path / "fc.tflite")
    x = np.random.default_rng(0).integers(-128, 128, size=(3, 1, 8), dtype=np.int8)
    res = validate(model, inputs=x)
    assert res.ok and res.byte_exact == 3
    assert res.project_dir == "" and list(scratch.iterdir()) == [], "validate left its temporary project behind"


def test_conversion_report_fits_80_columns_without_cutting_names() -> None:
    """Issue #17 item 11: an 80-column terminal cut op names and headers ('FULLY_CONNEC…')."""
    from rich.console import Console

    from edgekit.report import ConversionReport, LayerQuality, render_report

    layers = [LayerQuality(f"sequential_1/sequential_1/dense_{k}/MatMul;sequential_1/dense_{k}/BiasAdd",
                           "FULLY_CONNECTED", (1, 32), "int8", 0.0213, -128, 38.6 + k, 0.0357) for k in range(3)]
    rep = ConversionReport("tiny.keras", "int8", 100, 4000, 1500, {"FULLY_CONNECTED": 2}, layers=layers)
    console = Console(width=80, record=True, force_terminal=False)
    render_report(rep, console=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "FULLY_CONNECTED" in text and "FULLY_CONNEC…" not in text
    for head in ("SQNR dB", "op", "shape", "scale", "max |err|"):
        assert head in text



def test_bench_and_validate_take_the_same_input_option() -> None:
    from edgekit.cli import main

    for cmd in ("bench", "validate"):
        out = CliRunner().invoke(main, [cmd, "--help"], terminal_width=200).output
        assert "--input" in out and "--inputs" in out, cmd
