"""Hostile input and faults (edgekit issue 9).

- Fuzz smoke runs: the atheris harnesses of fuzz/ (the .tflite reader + inspect, the AOT C generator) and the
  libFuzzer harness of the C protocol parser, each for a short, deterministic run (seeded, bounded).
- Property tests over the CLI: random strings, numbers and paths for every option of the main verbs give exit
  code 0, 1 or 2 and a one-line error, never a traceback (the heavy back ends are replaced by fakes that fail
  fast: no QEMU, TensorFlow, cross compiler or SSH runs here).
- QEMU: random and mutated command streams against real firmware (hello_world, AOT runtime); afterwards it
  still answers, its guard words are intact and validate is still bit-exact with TFLM.
- Faults: QEMU killed or the socket closed at random points of bench and validate: a DeviceError every time,
  no QEMU left running, and ``--save`` leaves either the complete result or nothing.

The long campaigns (minutes per target, 50+ fault trials) are ``benchmarks/robustness.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
from pathlib import Path

import pytest
from conftest import REPO, need_module, need_tool, shared_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(REPO / "fuzz"))
import _common as fuzz

HELLO = "tflm_examples/hello_world_int8.tflite"


# ------------------------------------------------------------------------------ fuzz smoke runs ---------

def _assert_clean(run: fuzz.FuzzRun) -> None:
    assert run.ok, f"{run.target}: {run.crashes} (rc {run.returncode})\n{run.error_excerpt}"
    assert run.executions > 0 and run.cov and run.cov > 0


@pytest.mark.parametrize("target", ["tflite", "generate", "tflm-project"])
def test_atheris_smoke(target: str, tmp_path: Path) -> None:
    """2000 executions (seed 1) of an atheris harness: no exception other than EdgekitError, no hang."""
    need_module("atheris")
    shared_model(HELLO)
    corpus = fuzz.write_corpus(tmp_path / "corpus", fuzz.tflite_seeds(small_only=target in fuzz.SMALL_SEED_TARGETS))
    run = fuzz.run_fuzzer(target, [*fuzz.python_fuzzer_argv(target), "-seed=1"], corpus, tmp_path / "artifacts",
                          runs=2000, max_total_time=300)
    _assert_clean(run)
    assert run.executions >= 2000


def test_atheris_convert_inputs_smoke(tmp_path: Path) -> None:
    """2000 executions of the conversion input checks (ONNX reader + forecast, data files, .pt2 metadata)."""
    need_module("atheris")
    need_module("onnx")
    corpus = fuzz.write_corpus(tmp_path / "corpus", fuzz.convert_input_seeds())
    run = fuzz.run_fuzzer("convert-inputs", [*fuzz.python_fuzzer_argv("convert-inputs"), "-seed=1"], corpus,
                          tmp_path / "artifacts", runs=2000, max_total_time=300)
    _assert_clean(run)
    assert run.executions >= 2000


def test_libfuzzer_protocol_smoke(tmp_path: Path) -> None:
    """The C protocol parser under libFuzzer + ASan + UBSan, seeded with valid command streams."""
    clang = need_tool("clang")
    exe = fuzz.build_protocol_fuzzer(tmp_path / "build", clang=clang)
    corpus = fuzz.write_corpus(tmp_path / "corpus", fuzz.protocol_seeds())
    run = fuzz.run_fuzzer("protocol", [str(exe), "-seed=1"], corpus, tmp_path / "artifacts", runs=20000,
                          max_total_time=20)
    _assert_clean(run)


def test_protocol_harness_detects_violations(tmp_path: Path) -> None:
    """The harness's own checks fire: a seed that makes the fixture model fail is fine, a broken parser is not."""
    clang = need_tool("clang")
    exe = fuzz.build_protocol_fuzzer(tmp_path / "build", clang=clang)
    seed = tmp_path / "one"
    seed.write_bytes(b"ek-bin 2%\x7f\x7finfer 300%")  # runtime error 42, then the invoke budget: no crash
    import subprocess

    res = subprocess.run([str(exe), str(seed)], capture_output=True, text=True, check=False, timeout=60)
    assert res.returncode == 0, res.stderr
    # a parser writing past its input buffer must be caught (compile one with the guard check broken)
    bad = tmp_path / "ek_protocol.c"
    src = (fuzz.COMMON / "ek_protocol.c").read_text()
    assert "p->input[p->have++] = c;" in src
    bad.write_text(src.replace("p->input[p->have++] = c;", "p->input[p->have++ + 3] = c;"))
    model_o = tmp_path / "m.o"
    inc = ["-I", str(fuzz.FIXTURE), "-I", str(fuzz.COMMON)]
    subprocess.run([clang, *fuzz.CLANG_FLAGS, "-fsanitize=fuzzer-no-link", *inc,
                    "-Dek_model_invoke=fixture_model_invoke", "-c", str(fuzz.FIXTURE / "ek_model.c"),
                    "-o", str(model_o)], check=True)
    bad_exe = tmp_path / "bad_fuzz"
    subprocess.run([clang, *fuzz.CLANG_FLAGS, *inc, str(fuzz.FUZZ / "protocol_fuzz.c"), str(bad), str(model_o),
                    "-o", str(bad_exe)], check=True)
    seed.write_bytes(b"ek-bin 490%" + bytes(490))
    res = subprocess.run([str(bad_exe), str(seed)], capture_output=True, text=True, check=False, timeout=60)
    assert res.returncode != 0
    assert any(w in res.stderr for w in ("guard word", "AddressSanitizer", "runtime error")), res.stderr[-2000:]


def test_compile_check_of_generated_c(tmp_path: Path) -> None:
    """The bounded 'generated C compiles (-Wall -Wextra -Werror) and runs under ASan/UBSan' check on seeds."""
    need_tool("gcc")
    need_module("tflite_micro")
    sys.path.insert(0, str(REPO / "fuzz"))
    from compile_generated import check_models

    models = fuzz.write_corpus(tmp_path / "m", {k: v for k, v in fuzz.made_models().items()})
    res = check_models(sorted(models.glob("*")), limit=3)
    assert res["failures"] == [] and res["checked"] >= 1


REPRODUCERS = sorted(fuzz.REPRODUCERS.glob("*.tflite"))


@pytest.mark.parametrize("path", REPRODUCERS, ids=[p.stem for p in REPRODUCERS])
def test_reproducers_reader_and_inspect(path: Path) -> None:
    """Inputs the fuzzers found: the reader and inspect give a result or an EdgekitError."""
    from edgekit.errors import EdgekitError
    from edgekit.inspection import inspect

    try:
        inspect(path, arena=False).to_dict()
    except EdgekitError:
        pass


@pytest.mark.parametrize("path", REPRODUCERS, ids=[p.stem for p in REPRODUCERS])
def test_reproducers_generate_c(path: Path, tmp_path: Path) -> None:
    """Inputs the fuzzers found: generate_c gives a result or an EdgekitError (nothing else)."""
    from edgekit.codegen.aot import generate_c
    from edgekit.errors import EdgekitError

    with pytest.raises(EdgekitError, match=r"operator|graph"):
        generate_c(path, tmp_path)


def test_reproducer_tflm_project_no_operators(tmp_path: Path) -> None:
    """fuzz_tflm_project found a model without operators rendered with a ``MicroMutableOpResolver<1>`` and no
    registrations (its README said ``<0>``): the TFLM project generator refuses it, as generate_c does."""
    from edgekit.codegen.tflm_project import generate_tflm
    from edgekit.errors import ModelError

    for name in ("tflm_no_operators.tflite", "aot_no_operators.tflite"):
        with pytest.raises(ModelError, match="no operators"):
            generate_tflm(fuzz.REPRODUCERS / name, "nrf52840dk", tmp_path / name, arena_bytes=4096)
        assert not (tmp_path / name).exists()



def test_conv_with_zero_input_channels_is_refused(tmp_path: Path) -> None:
    """fuzz_generate (2026-12-07, the 1 M run over 7 target configs) found a CONV_2D whose input has 0 channels:
    ``in_c // k_c`` was 0 groups and the groups check divided by it (int8: reproducer
    aot_conv_zero_input_channels.tflite; the float32 handler had the same check): both refuse it by name."""
    import numpy as np
    from tflite_single_op import T, multi_op_model

    from edgekit.codegen.aot import generate_c
    from edgekit.errors import EdgekitError

    x = T((1, 4, 4, 0), "float32")
    conv = ("CONV_2D", [x, T((2, 1, 1, 3), "float32", data=np.ones((2, 1, 1, 3), np.float32)), None],
            [T((1, 4, 4, 2), "float32")], {})
    path = tmp_path / "conv0.tflite"
    path.write_bytes(multi_op_model([conv]))
    with pytest.raises(EdgekitError, match="input channels 0"):
        generate_c(path, tmp_path / "out")


CHILD_REPRODUCERS = sorted(fuzz.REPRODUCERS.glob("convert_child_*.bin"))


@pytest.mark.parametrize("path", CHILD_REPRODUCERS, ids=[p.stem for p in CHILD_REPRODUCERS])
def test_reproducers_convert_child(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the Keras converter child might send back (messages, result.json) that once escaped the parent as
    JSONDecodeError/KeyError/TypeError/FileNotFoundError/RecursionError: now a NativeCrash, job directory gone.
    (The stand-in child is a dead one after its stream: a stream that ends mid-line reads as a SIGSEGV.)"""
    import tempfile

    from edgekit.errors import NativeCrash

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(jobs))
    with pytest.raises(NativeCrash, match=r"malformed message|results are unreadable|crashed \(SIGSEGV\)"):
        fuzz.replay_child_stream(path.read_bytes()[1:], tmp_path)
    assert list(jobs.iterdir()) == []


def test_convert_child_well_formed_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream checks let the child's real messages through: a finished job returns, an error event is
    raised as the child's own EdgekitError class, a refused data shape cancels the job (DataError)."""
    import tempfile

    from edgekit.errors import DataError, UnsupportedOpError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    streams = fuzz._child_streams()
    fuzz.replay_child_stream(streams["done"], tmp_path)
    with pytest.raises(UnsupportedOpError, match="op X"):
        fuzz.replay_child_stream(streams["error"], tmp_path)
    with pytest.raises(DataError, match=r"\(5, 7\)"):
        fuzz.replay_child_stream(streams["cancel"], tmp_path)


# ------------------------------------------------------------------------------ CLI properties ---------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24)
_NUMBER = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats().map(str), st.sampled_from(
    ["0", "-1", "1e999", "nan", "0x10", "", " ", "99999999999999999999"]))
_FAKE_FAILURE = "fake back end: not run in property tests"


def _pool(root: Path) -> dict[str, Path]:
    """Files and directories the random argv may point at (all inside ``root``)."""
    p = {
        "missing": root / "missing" / "x.tflite",
        "dir": root / "adir",
        "garbage": root / "garbage.tflite",
        "empty": root / "empty.bin",
        "truncated": root / "trunc.tflite",
        "badjson": root / "bad.json",
        "otherjson": root / "other.json",
        "npy": root / "in.npy",
        "fakeproj": root / "fakeproj",
        "badproj": root / "badproj",
        "keras": root / "m.keras",
    }
    p["dir"].mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    p["garbage"].write_bytes(bytes(rng.randrange(256) for _ in range(300)))
    p["empty"].write_bytes(b"")
    hello = fuzz.SHARED_MODELS / HELLO
    if hello.is_file():
        p["model"] = hello
        p["truncated"].write_bytes(hello.read_bytes()[:700])
    else:
        p["truncated"].write_bytes(b"\x18\x00\x00\x00TFL3" + bytes(40))
    p["badjson"].write_text("{not json")
    p["otherjson"].write_text(json.dumps({"schema": "edgekit.bench/1", "timing": 3}))
    import numpy as np

    np.save(p["npy"], np.zeros((2, 1), np.float32))
    (p["fakeproj"] / "build").mkdir(parents=True, exist_ok=True)
    (p["fakeproj"] / "edgekit_project.json").write_text(json.dumps({"board": "qemu-cortex-m4", "name": "x"}))
    (p["fakeproj"] / "build" / "firmware.elf").write_bytes(b"\x7fELF" + bytes(60))
    p["badproj"].mkdir(exist_ok=True)
    (p["badproj"] / "edgekit_project.json").write_text("[1, 2")
    p["keras"].write_bytes(b"PK\x03\x04" + bytes(50))
    return p


@pytest.fixture
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A scratch working directory with the path pool, and the heavy back ends replaced by fast failures."""
    from edgekit import _isolate, conversion, tflm, validation
    from edgekit.errors import BuildError, DeviceError, ModelError, ToolMissing
    from edgekit.transport import session

    root = tmp_path_factory.mktemp("cli")
    mp = pytest.MonkeyPatch()

    def device_fails(*a: object, **k: object) -> None:
        raise DeviceError(_FAKE_FAILURE)

    mp.setattr(session, "open_session", device_fails)
    mp.setattr(tflm, "tflm_arena_usage", lambda *a, **k: (_ for _ in ()).throw(ToolMissing(_FAKE_FAILURE, "-")))
    mp.setattr(tflm, "tflm_run", lambda *a, **k: (_ for _ in ()).throw(DeviceError(_FAKE_FAILURE)))
    mp.setattr(validation, "_generate_and_build", lambda *a, **k: (_ for _ in ()).throw(BuildError(_FAKE_FAILURE)))
    mp.setattr(conversion, "_load_model", lambda *a, **k: (_ for _ in ()).throw(ModelError(_FAKE_FAILURE)))
    mp.setattr(_isolate, "warm_worker", lambda *a, **k: None)
    import edgekit.sbc as sbc

    mp.setattr(sbc, "_run", device_fails)
    from edgekit import proc

    mp.setattr(proc, "run", lambda *a, **k: (_ for _ in ()).throw(ToolMissing(_FAKE_FAILURE)))
    old = os.getcwd()
    os.chdir(root)
    try:
        yield _pool(root)
    finally:
        os.chdir(old)
        mp.undo()


def _path_arg(pool: dict[str, Path]) -> st.SearchStrategy[str]:
    """An existing pool entry or a random relative name (kept inside the scratch directory)."""
    rel = _TEXT.filter(lambda s: s and ".." not in s and not s.startswith(("/", "-", "~")))
    return st.one_of(st.sampled_from(sorted(str(v) for v in pool.values())), rel.map(lambda s: "r_" + s))


def _options(draw: st.DrawFn, spec: dict[str, st.SearchStrategy[str] | None]) -> list[str]:
    names = draw(st.lists(st.sampled_from(sorted(spec)), max_size=len(spec), unique=True))
    argv: list[str] = []
    for name in names:
        argv.append(name)
        value = spec[name]
        if value is not None:
            argv.append(draw(value))
    return argv


def _board() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["qemu-cortex-m4", "host", "nucleo-l4r5zi", "rpi4", "esp32-s3-devkitc"]), _TEXT)


@st.composite
def _argv(draw: st.DrawFn, pool: dict[str, Path]) -> list[str]:
    path = _path_arg(pool)
    verb = draw(st.sampled_from(["inspect", "boards show", "boards list", "generate", "build", "bench", "validate",
                                 "convert", "compare"]))
    if verb == "inspect":
        return ["inspect", draw(path), *_options(draw, {"--board": _board(), "--json": None, "--no-arena": None,
                                                         "--layers": None, "--no-layers": None})]
    if verb == "boards show":
        return ["boards", "show", draw(st.one_of(_board(), path)), *_options(draw, {"--json": None})]
    if verb == "boards list":
        return ["boards", "list", *_options(draw, {"--json": None, "--kind": st.one_of(
            st.sampled_from(["mcu", "sbc", "host"]), _TEXT)})]
    if verb == "generate":
        out = _TEXT.filter(lambda s: ".." not in s and not s.startswith(("/", "~"))).map(lambda s: "g_" + s)
        return ["generate", draw(path), "-o", draw(out), *_options(draw, {
            "--board": _board(), "--runtime": st.one_of(st.sampled_from(["edgekit", "tflm"]), _TEXT),
            "--name": _TEXT, "--stack-kb": _NUMBER, "--json": None})]
    if verb == "build":
        return ["build", draw(path), *_options(draw, {"--clean": None, "-j": _NUMBER, "--json": None})]
    if verb == "bench":
        return ["bench", draw(path), *_options(draw, {
            "--board": _board(), "--runs": _NUMBER, "--warmup": _NUMBER, "--input": path, "--port": _TEXT,
            "--timeout": _NUMBER, "--json": None, "--save": path,
            "--power": st.one_of(st.sampled_from(["ppk2", "joulescope:", "ina,x=1", "lpm01a:/nonexistent"]), _TEXT),
            "--baud": _NUMBER, "--host": st.one_of(st.just("local"), _TEXT), "--threads": _NUMBER,
            "--no-xnnpack": None})]
    if verb == "validate":
        return ["validate", draw(path), "--inputs", draw(path), *_options(draw, {
            "--board": _board(), "--project": path, "--work-dir": path, "--port": _TEXT, "--limit": _NUMBER,
            "--json": None})]
    if verb == "convert":
        return ["convert", draw(path), "--calib", draw(path), "-o", draw(path), *_options(draw, {
            "--val": path, "--val-labels": path, "--io-dtype": st.one_of(st.sampled_from(["int8", "float32"]), _TEXT),
            "--task": st.one_of(st.just("classification"), _TEXT), "--num-calib": _NUMBER, "--json": None,
            "--report": path})]
    return ["compare", draw(path), draw(path), *_options(draw, {"--json": None})]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """edgekit.cli.run with stdout/stderr captured."""
    from edgekit.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = run(argv)
    return rc, out.getvalue(), err.getvalue()


def check_cli_outcome(argv: list[str], rc: int, err: str) -> None:
    """Exit code 0/1/2; on failure one 'error:' line (edgekit's own, or click's 'Error:' for usage); no traceback."""
    assert "Traceback" not in err, f"{argv}: {err}"
    assert rc in (0, 1, 2), f"{argv}: exit {rc}: {err}"
    if rc == 0:
        return
    lines = err.splitlines()
    errors = [ln for ln in lines if ln.startswith(("error: ", "Error: "))]
    assert len(errors) == 1, f"{argv}: expected one error line, got: {err!r}"
    if lines[0].startswith("error: "):  # edgekit's format: the error line, then at most one hint line
        assert len(lines) <= 2 and all(ln.startswith(("error: ", "hint: ")) for ln in lines), f"{argv}: {err!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data())
def test_cli_never_tracebacks(cli_env: dict[str, Path], data: st.DataObject) -> None:
    argv = data.draw(_argv(cli_env))
    rc, _, err = run_cli(argv)
    check_cli_outcome(argv, rc, err)


@pytest.mark.parametrize("argv", [
    ["inspect", "x\nerror: forged"],
    ["boards", "show", "bad\nid"],
    ["generate", "{garbage}", "-o", "g_out", "--name", "a\nb"],
    ["bench", "{dir}", "--board", "\x1b[31mred"],
    ["compare", "{badjson}", "{otherjson}"],
    ["compare", "{otherjson}", "{otherjson}"],  # right schema tag, damaged sections
    ["validate", "{garbage}", "--inputs", "{npy}"],
    ["bench", "{fakeproj}", "--runs", "3"],
    ["build", "{badproj}"],
])
def test_cli_hostile_values(cli_env: dict[str, Path], argv: list[str]) -> None:
    """Specific hostile values: control characters and newlines stay on the one error line."""
    argv = [a.format(**{k: str(v) for k, v in cli_env.items()}) for a in argv]
    rc, _, err = run_cli(argv)
    check_cli_outcome(argv, rc, err)
    assert rc in (1, 2)


# ------------------------------------------------------------------------------ QEMU ---------------------

@pytest.fixture(scope="module")
def hello_firmware(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello_world (AOT runtime) built for qemu-cortex-m4."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    import qemu_campaign

    return qemu_campaign.build_firmware(shared_model(HELLO), tmp_path_factory.mktemp("fw") / "hello")


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
def test_hostile_streams_in_qemu(hello_firmware: Path) -> None:
    """40 random/mutated streams: only well-formed replies; afterwards it answers, guards ok, bit-exact."""
    need_module("tflite_micro")
    import qemu_campaign

    res = qemu_campaign.stream_campaign(hello_firmware, shared_model(HELLO), streams=40, seed=3, check_inputs=5)
    assert res["malformed_lines"] == []
    assert res["name"] == "edgekit" and res["canary"] == "ok" and res["qemu_alive_after"]
    assert res["bit_exact"] == res["checked_inputs"] == 5
    assert len(res["kinds"]) >= 5  # the generator covered most kinds of hostile stream


@pytest.mark.toolchain
@pytest.mark.qemu
@pytest.mark.tflm
@pytest.mark.parametrize(("action", "fault", "fraction"), [
    ("bench", "kill", 0.5), ("bench", "drop", 0.4), ("bench", "close", 0.6), ("validate", "kill", 0.7),
    ("validate", "drop", 0.5), ("validate", "close", 0.3)])
def test_fault_during_bench_and_validate(hello_firmware: Path, tmp_path: Path, action: str, fault: str,
                                         fraction: float) -> None:
    """QEMU killed or the socket closed part-way: an EdgekitError, no QEMU left, --save all-or-nothing."""
    need_module("tflite_micro")
    import numpy as np
    import qemu_campaign

    inputs = tmp_path / "in.npy"
    np.save(inputs, np.arange(-3, 3, dtype=np.int8).reshape(6, 1, 1))
    common = {"project_dir": hello_firmware, "model": shared_model(HELLO), "inputs": inputs,
              "save": tmp_path / "result.json"}
    import time

    t0 = time.monotonic()
    clean = qemu_campaign.fault_trial(action, fault, 1e9, **common)
    assert clean["outcome"] == "ok" and clean["save_ok"] and not clean["qemu_left"], clean
    hit = qemu_campaign.fault_trial(action, fault, (time.monotonic() - t0) * fraction, **common)
    assert hit["outcome"] in ("ok", "edgekit-error"), hit
    assert hit["save_ok"] and hit["qemu_left"] == [], hit
    if hit["outcome"] == "edgekit-error":
        assert hit["message"].startswith("DeviceError: ") and "\n" not in hit["message"]
