"""Shared fixtures and the rule that in CI (CI=true) nothing may be skipped for a missing tool."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Third-party models (MLPerf Tiny, TFLM examples; docs/models.md): ../shared/models, or EDGEKIT_MODELS_DIR.
SHARED_MODELS = Path(os.environ.get("EDGEKIT_MODELS_DIR") or REPO.parent / "shared" / "models").expanduser()
MODELS_HOWTO = ("public models from mlcommons/tiny and tensorflow/tflite-micro (docs/models.md): "
                "'python scripts/fetch_models.py' downloads them to ../shared/models; or set EDGEKIT_MODELS_DIR")
_MISSING_MODELS: set[str] = set()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, why: str) -> None:
    """Skip the test when ``condition`` is false -- except in CI, where it fails instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but unavailable: {why}")
    pytest.skip(why)


def need_tool(program: str) -> str:
    """Path of an external program; skip locally / fail in CI when it is missing."""
    path = shutil.which(program)
    need(path is not None, f"{program} not installed")
    return path  # type: ignore[return-value]


def need_module(name: str) -> None:
    """Skip locally / fail in CI when a Python module cannot be imported."""
    need(importlib.util.find_spec(name) is not None, f"python module {name} not installed")


def shared_model(rel: str) -> Path:
    """Path of a third-party model in ../shared/models (skip locally / fail in CI when absent, saying why)."""
    path = SHARED_MODELS / rel
    if not path.exists():
        _MISSING_MODELS.add(rel)
    where = "is absent" if not SHARED_MODELS.is_dir() else f"has no {rel}"
    need(path.exists(), f"third-party model {rel} not found: {SHARED_MODELS} {where}; {MODELS_HOWTO}")
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, at the end, that tests were skipped for want of the third-party models, and how to get them."""
    if _MISSING_MODELS:
        terminalreporter.write_line(
            f"edgekit: tests needing {len(_MISSING_MODELS)} third-party model file(s) did not run: "
            f"{SHARED_MODELS} lacks them; {MODELS_HOWTO}", yellow=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """A failing test's edgekit error shows its hint too (for a QEMU exit: the tail of QEMU's log), as a report
    section: the exception's text is only the message, and the run's temporary directory may be gone later."""
    rep = yield
    exc = call.excinfo.value if call.excinfo is not None else None
    hint = getattr(exc, "hint", None)
    if rep.failed and hint and type(exc).__module__.startswith("edgekit"):
        rep.sections.append(("edgekit hint", str(hint)))
    return rep


@pytest.fixture(scope="session")
def digits_models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small CNN trained on scikit-learn's digits, converted to float and int8 .tflite.

    Returns a dict with keys: keras (model), float_tflite, int8_tflite (Paths),
    x_train, y_train, x_test, y_test (float32 arrays, NHWC 8x8x1).
    """
    need_module("tensorflow")
    need_module("sklearn")
    from edgekit.examples_data import digits_cnn_artifacts

    return digits_cnn_artifacts(tmp_path_factory.mktemp("digits"))


# ------------------------------------------------------------------------------ real boards (`hardware`) -----

def pytest_addoption(parser: pytest.Parser) -> None:
    """``--board`` selects the ``hardware`` tests (deselected without it); ``--port/--probe/--power`` reach them."""
    group = parser.getgroup("edgekit hardware", "the `hardware` tests: the whole flow against a board")
    group.addoption("--board", default=None, help="board id (boards/): runs the hardware tests on it")
    group.addoption("--port", default=None, help="its serial port (default: found by the board's USB id)")
    group.addoption("--probe", default=None, help="debug probe UID for flashing (pyocd/openocd)")
    group.addoption("--power", default=None, help="power monitor spec for measured energy, e.g. ppk2:/dev/ttyACM1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``hardware`` tests unless ``--board`` names a board (they need one attached)."""
    if config.getoption("--board"):
        return
    dropped = [it for it in items if it.get_closest_marker("hardware")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [it for it in items if not it.get_closest_marker("hardware")]


@pytest.fixture
def hardware(request: pytest.FixtureRequest) -> dict:
    """The board under test from the command line: ``{"board", "port", "probe", "power"}``."""
    opts = {k: request.config.getoption(f"--{k}") for k in ("board", "port", "probe", "power")}
    if not opts["board"]:
        pytest.skip("hardware tests need --board ID (and --port/--probe for a real board)")
    return opts


def install_plugin_dist(path: Path, monkeypatch: pytest.MonkeyPatch, group: str, entries: dict[str, str]) -> None:
    """Make a real installed distribution (``*.dist-info`` with ``entry_points.txt``) under ``path`` and put it on
    sys.path, so ``importlib.metadata.entry_points(group=...)`` finds ``entries`` as a plugin package would."""
    dist = path / "edgekit_test_plugin-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: edgekit-test-plugin\nVersion: 0.0\n")
    lines = [f"[{group}]", *(f"{name} = {target}" for name, target in entries.items())]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(path))
