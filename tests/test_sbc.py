"""Single-board computers: runtime choice, bundles, the runner in a fresh venv (bench, batch, serve over a real
Mosquitto broker), remote benchmarking over SSH (proc.run patched), power from a fake hwmon tree."""

from __future__ import annotations

import ast
import hashlib
import json
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import need_module, need_tool, shared_model

from edgekit import proc
from edgekit.boards import load_board
from edgekit.errors import DeviceError, ToolMissing, UsageError
from edgekit.sbc import bench_sbc
from edgekit.sbc.bundle import generate_bundle, is_bundle, load_bundle, runtime_for, target_machine
from edgekit.sbc.edgekit_runner.hwmon import find_ina_sensors
from edgekit.sbc.edgekit_runner.wheels import NoWheel, choose_runtime
from edgekit.sbc.local import ensure_venv

KWS = "mlperf_tiny/kws_ds_cnn_int8.tflite"
RUNNER_SRC = Path(__file__).resolve().parents[1] / "edgekit" / "sbc" / "edgekit_runner"
OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]


# ---------------------------------------------------------------- runtime choice per machine / Python

@pytest.mark.parametrize(("machine", "py", "package", "numpy_pin"), [
    ("aarch64", (3, 11), "ai-edge-litert==2.3.0", "numpy>=1.24,<3"),
    ("arm64", (3, 13), "ai-edge-litert==2.3.0", "numpy>=1.24,<3"),
    ("x86_64", (3, 10), "ai-edge-litert==2.3.0", "numpy>=1.24,<3"),
    ("armv7l", (3, 11), "tflite-runtime==2.14.0", "numpy>=1.21,<2"),
    ("aarch64", (3, 9), "tflite-runtime==2.14.0", "numpy>=1.21,<2"),
])
def test_runtime_choice(machine: str, py: tuple[int, int], package: str, numpy_pin: str) -> None:
    choice = choose_runtime(machine, py)
    assert choice.requirements[:2] == (package, numpy_pin)
    assert "paho-mqtt==2.2.0" in choice.requirements


@pytest.mark.parametrize(("machine", "py", "glibc", "in_message", "in_hint"), [
    ("armv7l", (3, 12), None, "stops at Python 3.11", "64-bit OS"),
    ("armv7l", (3, 11), (2, 31), "glibc 2.34", "bookworm"),
    ("armv6l", (3, 11), None, "armv6l", "MCU"),
    ("x86_64", (3, 15), None, "3.10-3.14", "Python 3.14 or older"),
    ("riscv64", (3, 11), None, "riscv64", "from source"),
])
def test_no_wheel_names_the_alternative(machine: str, py: tuple[int, int], glibc: Any, in_message: str,
                                        in_hint: str) -> None:
    with pytest.raises(NoWheel) as err:
        choose_runtime(machine, py, glibc)
    assert in_message in err.value.message
    assert in_hint in err.value.hint


def test_board_machine_and_runtime_errors() -> None:
    rpi4, rpi5, host = load_board("rpi4"), load_board("rpi5"), load_board("host")
    assert target_machine(rpi4) == "aarch64" and target_machine(rpi5) == "aarch64"
    assert target_machine(rpi4, "armhf") == "armv7l"
    import platform

    assert target_machine(host) == platform.machine()
    with pytest.raises(ToolMissing) as err:
        runtime_for(rpi4, machine="armv7l", python="3.12")
    assert err.value.message.startswith("rpi4: no LiteRT wheel for armv7l with Python 3.12")
    assert "aarch64" in (err.value.hint or "")


# ---------------------------------------------------------------- the bundle

def test_runner_imports_nothing_but_runtime_numpy_paho() -> None:
    allowed = {"numpy", "ai_edge_litert", "tflite_runtime", "paho"}
    stdlib = set(sys.stdlib_module_names)
    for src in RUNNER_SRC.glob("*.py"):
        for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for n in names:
                top = n.split(".")[0]
                assert top in allowed or top in stdlib or top == "__future__", f"{src.name} imports {n}"


def test_bundle_files_for_rpi4_64_and_32_bit(tmp_path: Path) -> None:
    model = shared_model(KWS)
    res = generate_bundle(model, load_board("rpi4"), tmp_path / "b64")
    b = res.bundle_dir
    assert is_bundle(b) and res.machine == "aarch64"
    man = load_bundle(b)
    assert man["model"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert (b / man["model"]["file"]).read_bytes() == model.read_bytes()
    assert man["model"]["inputs"] == [{"name": "input_1", "dtype": "int8", "shape": [1, 49, 10, 1]}]
    reqs = [x.split()[0] for x in (b / "requirements.txt").read_text().splitlines() if x and not x.startswith("#")]
    assert reqs[:2] == ["ai-edge-litert==2.3.0", "numpy==2.3.5"] and reqs[-1] == "paho-mqtt==2.2.0"
    assert "ml-dtypes==0.6.0" in reqs and "protobuf==7.36.2" in reqs  # the runtime's whole closure
    docker = (b / "Dockerfile").read_text()
    assert "FROM --platform=linux/arm64 ${BASE_IMAGE}" in docker
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in docker and "@sha256:<digest>" in docker
    assert "pip install --require-hashes -r requirements.txt" in docker
    unit = (b / "edgekit-kws_ds_cnn_int8.service").read_text()
    assert "ExecStart=/opt/edgekit/kws_ds_cnn_int8/.venv/bin/python -m edgekit_runner serve" in unit
    assert "StateDirectory=edgekit-kws_ds_cnn_int8" in unit
    assert json.loads((b / "serve.json").read_text())["prefix"] == "edgekit/kws_ds_cnn_int8"
    assert sorted(p.name for p in (b / "edgekit_runner").iterdir()) == sorted(p.name for p in RUNNER_SRC.glob("*.py"))
    assert "ai-edge-litert 2.3.0" in (b / "README.md").read_text()

    res32 = generate_bundle(model, "rpi4", tmp_path / "b32", machine="armv7l")
    reqs32 = (res32.bundle_dir / "requirements.txt").read_text()
    assert "tflite-runtime==2.14.0" in reqs32 and "numpy==1.26.4" in reqs32 and "--hash" not in reqs32
    assert "linux/arm/v7" in (res32.bundle_dir / "Dockerfile").read_text()


def test_bundle_refusals_and_atomic_replace(tmp_path: Path) -> None:
    model = shared_model(KWS)
    with pytest.raises(UsageError, match="is a mcu"):
        generate_bundle(model, "qemu-cortex-m4", tmp_path / "x")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "precious.txt").write_text("keep")
    with pytest.raises(UsageError, match="not an edgekit bundle"):
        generate_bundle(model, "host", busy)
    assert (busy / "precious.txt").read_text() == "keep"
    first = generate_bundle(model, "host", tmp_path / "b", name="first").bundle_dir
    (first / "stale.txt").write_text("old")
    again = generate_bundle(model, "host", tmp_path / "b", name="second").bundle_dir
    assert not (again / "stale.txt").exists() and load_bundle(again)["name"] == "second"
    with pytest.raises(ToolMissing, match="armv6l"):
        generate_bundle(model, "host", tmp_path / "c", machine="armv6l")
    assert not (tmp_path / "c").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


# ---------------------------------------------------------------- power: a fake hwmon tree

def _fake_hwmon(root: Path) -> Path:
    for n, files in {"hwmon0": {"name": "coretemp\n", "temp1_input": "41000\n"},
                     "hwmon1": {"name": "ina219\n", "curr1_input": "600\n", "in1_input": "5100\n",
                                "power1_input": "3060000\n"},
                     "hwmon2": {"name": "ina226\n", "curr1_input": "250\n", "in1_input": "5000\n"}}.items():
        (root / n).mkdir(parents=True)
        for f, text in files.items():
            (root / n / f).write_text(text)
    return root


def test_hwmon_finds_ina_sensors(tmp_path: Path) -> None:
    sensors = find_ina_sensors(_fake_hwmon(tmp_path / "hwmon"))
    assert [s.name for s in sensors] == ["ina219", "ina226"]
    r = sensors[0].read()
    assert (r.current_ma, r.voltage_mv, r.power_uw) == (600.0, 5100.0, 3060000.0)
    assert sensors[1].read().power_uw == 250.0 * 5000.0  # no power1_input: V x I
    assert find_ina_sensors(tmp_path / "missing") == []


# ---------------------------------------------------------------- remote: every ssh/scp argv

def _fake_run(calls: list[list[str]], probe: dict[str, Any], fail: dict[str, tuple[int, str]] | None = None):
    def run(argv, *, cwd=None, timeout=None, dry_run=False, check=True, what=None):
        args = [str(a) for a in argv]
        calls.append(args)
        for needle, (rc, err) in (fail or {}).items():
            if needle in " ".join(args):
                return subprocess.CompletedProcess(args, rc, "", err)
        out = ""
        if args[0] == "ssh" and args[-1].startswith("python3 -c "):
            out = json.dumps(probe) + "\n"
        if args[0] == "scp" and args[-2].endswith("/result.json"):
            Path(args[-1]).write_text(json.dumps({"schema": "edgekit.bench/1", "target": {}, "notes": []}))
        return subprocess.CompletedProcess(args, 0, out, "")
    return run


def test_remote_bench_exact_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = shared_model(KWS)
    calls: list[list[str]] = []
    monkeypatch.setattr(proc, "run", _fake_run(calls, {"machine": "aarch64", "python": [3, 11], "glibc": "2.36"}))
    result = bench_sbc(model, "rpi4", "pi@rpi", runs=7, warmup=2, threads=2, xnnpack=False, work_dir=tmp_path)
    bundle = tmp_path / "bundle"
    req = hashlib.sha256((bundle / "requirements.txt").read_bytes()).hexdigest()[:16]
    rdir = f"edgekit-bundles/kws_ds_cnn_int8-{hashlib.sha256(model.read_bytes()).hexdigest()[:12]}"
    venv = f"edgekit-bundles/venvs/{req}"
    probe = ("python3 -c 'import json, platform, sys; print(json.dumps({\"machine\": platform.machine(), "
             "\"python\": list(sys.version_info[:2]), \"glibc\": platform.libc_ver()[1]}))'")
    assert calls == [
        ["ssh", *OPTS, "pi@rpi", probe],
        ["ssh", *OPTS, "pi@rpi", f"mkdir -p edgekit-bundles/venvs && rm -rf {rdir}"],
        ["scp", "-q", *OPTS, "-r", str(bundle), f"pi@rpi:{rdir}"],
        ["ssh", *OPTS, "pi@rpi", f"test -f {venv}/.edgekit-ready || {{ python3 -m venv --clear {venv} && "
                                 f"{venv}/bin/python -m pip install --disable-pip-version-check -q -r "
                                 f"{rdir}/requirements.txt && touch {venv}/.edgekit-ready; }}"],
        ["ssh", *OPTS, "pi@rpi", f"cd {rdir} && ../venvs/{req}/bin/python -m edgekit_runner bench --runs 7 "
                                 "--warmup 2 --threads 2 --xnnpack off --out result.json"],
        ["scp", "-q", *OPTS, f"pi@rpi:{rdir}/result.json", str(tmp_path / "result.json")],
    ]
    assert shlex.split(probe)[0] == "python3"
    assert load_bundle(bundle)["machine"] == "aarch64"
    assert result["transport"] == {"kind": "ssh", "url": "ssh://pi@rpi", "upload": "scp", "log": None,
                                   "qemu_log": None}


@pytest.mark.parametrize(("rc", "stderr", "message", "hint"), [
    (255, "ssh: connect to host rpi port 22: Connection refused", "ssh pi@rpi: connection refused", "SSH server"),
    (255, "pi@rpi: Permission denied (publickey,password).", "ssh pi@rpi: authentication failed", "ssh-copy-id"),
    (255, "ssh: Could not resolve hostname rpi: Name or service not known", "ssh pi@rpi: unknown host name",
     "IP address"),
])
def test_ssh_failures_name_host_and_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rc: int, stderr: str,
                                          message: str, hint: str) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(proc, "run", _fake_run(calls, {}, fail={"python3 -c": (rc, stderr)}))
    with pytest.raises(DeviceError) as err:
        bench_sbc(shared_model(KWS), "rpi4", "pi@rpi", work_dir=tmp_path)
    assert err.value.message.startswith(message) and stderr in err.value.message
    assert hint in (err.value.hint or "")
    assert len(calls) == 1


def test_remote_install_failure_and_missing_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    probe = {"machine": "aarch64", "python": [3, 11], "glibc": "2.36"}
    monkeypatch.setattr(proc, "run", _fake_run(calls, probe, fail={
        "python3 -m venv": (1, "The virtual environment was not created successfully because ensurepip is not "
                               "available.")}))
    with pytest.raises(DeviceError) as err:
        bench_sbc(shared_model(KWS), "rpi4", "pi@rpi", work_dir=tmp_path / "a")
    assert err.value.message.startswith("installing the runtime on pi@rpi failed (exit 1)")
    assert "python3-venv" in (err.value.hint or "")

    calls.clear()
    monkeypatch.setattr(proc, "run", _fake_run(calls, {"machine": "armv7l", "python": [3, 13], "glibc": "2.41"}))
    with pytest.raises(ToolMissing) as err2:
        bench_sbc(shared_model(KWS), "rpi4", "pi@rpi", work_dir=tmp_path / "b")
    assert "armv7l with Python 3.13" in err2.value.message and "64-bit OS" in (err2.value.hint or "")
    assert len(calls) == 1  # nothing copied to the board


def test_local_refuses_a_board_this_machine_is_not(tmp_path: Path) -> None:
    import platform

    if platform.machine() == "aarch64":
        pytest.skip("this machine is an aarch64 like the Pi")
    with pytest.raises(UsageError, match="board 'rpi4' runs aarch64"):
        bench_sbc(shared_model(KWS), "rpi4", "local", work_dir=tmp_path)


# ---------------------------------------------------------------- the bundle in a fresh venv

@pytest.fixture(scope="session")
def runner_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv made from a host bundle's requirements.txt (pip install from PyPI), shared by the session."""
    bundle = generate_bundle(shared_model(KWS), "host", tmp_path_factory.mktemp("vb") / "b").bundle_dir
    return ensure_venv(bundle, tmp_path_factory.mktemp("venv") / "v")


REFERENCE = """
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
model, xs, out, xnn, threads = sys.argv[1], np.load(sys.argv[2]), sys.argv[3], sys.argv[4] == "on", int(sys.argv[5])
it = Interpreter(model_path=model, num_threads=threads, experimental_op_resolver_type=(
    OpResolverType.AUTO if xnn else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
it.allocate_tensors()
i, o = it.get_input_details()[0], it.get_output_details()[0]
res = []
for x in xs:
    it.set_tensor(i["index"], x[None])
    it.invoke()
    res.append(it.get_tensor(o["index"])[0].copy())
np.save(out, np.stack(res))
"""


def reference(model: Path, xs: np.ndarray, tmp: Path, xnnpack: bool = True, threads: int = 1) -> np.ndarray:
    """Host LiteRT outputs, one sample at a time, in a child process (this one may have imported TF)."""
    need_module("ai_edge_litert")
    np.save(tmp / "ref_in.npy", xs)
    subprocess.run([sys.executable, "-c", REFERENCE, str(model), str(tmp / "ref_in.npy"), str(tmp / "ref_out.npy"),
                    "on" if xnnpack else "off", str(threads)], check=True, capture_output=True)
    return np.load(tmp / "ref_out.npy")


def _kws_inputs(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(n, 49, 10, 1), dtype=np.int8)


@pytest.mark.slow
@pytest.mark.parametrize("xnnpack", [True, False])
def test_bench_in_venv_matches_host_litert_kws(tmp_path: Path, runner_venv: Path, xnnpack: bool) -> None:
    model = shared_model(KWS)
    x = _kws_inputs(1)
    np.save(tmp_path / "x.npy", x[0])
    res = bench_sbc(model, "host", "local", runs=12, warmup=2, threads=1, xnnpack=xnnpack, inputs=tmp_path / "x.npy",
                    venv_dir=runner_venv.parent.parent, work_dir=tmp_path / "w", save=tmp_path / "r.json")
    ref = reference(model, x, tmp_path, xnnpack=xnnpack)
    assert bytes.fromhex(res["output"]["hex"]) == ref[0].tobytes()
    assert res["schema"] == "edgekit.bench/1" and res["runs"] == 12 and res["warmup"] == 2
    assert len(res["timing"]["ticks"]) == 12 and res["timing"]["latency_us"]["n"] == 12
    assert res["timing"]["count"] is None and res["memory"]["arena_used_bytes"] is None
    assert res["device"]["runtime"] == "ai-edge-litert 2.3.0" and res["device"]["xnnpack"] is xnnpack
    assert res["device"]["threads"] == 1 and res["input"]["sha256"] == hashlib.sha256(x.tobytes()).hexdigest()
    assert res["energy"]["kind"] == "modelled" and res["energy"]["per_inference_uj"] is None  # host: no model
    assert res["transport"]["kind"] == "local" and res["target"]["model"] == str(model)
    assert json.loads((tmp_path / "r.json").read_text())["output"] == res["output"]


@pytest.mark.slow
@pytest.mark.tf
def test_bench_and_batch_digits_match_host_litert(tmp_path: Path, runner_venv: Path, digits_models: dict) -> None:
    x = digits_models["x_test"][:10]
    for key in ("int8_tflite", "float_tflite"):
        model = Path(digits_models[key])
        bundle = generate_bundle(model, "host", tmp_path / f"b_{key}").bundle_dir
        inputs = x if key == "float_tflite" else _quantize(model, x)
        np.save(tmp_path / "one.npy", inputs[0])
        res = bench_sbc(bundle, "host", "local", runs=5, warmup=1, threads=1, xnnpack=False,
                        inputs=tmp_path / "one.npy", venv_dir=runner_venv.parent.parent, work_dir=tmp_path / "w")
        ref = reference(model, inputs, tmp_path, xnnpack=False)
        assert bytes.fromhex(res["output"]["hex"]) == ref[0].tobytes(), key

        src = tmp_path / f"in_{key}"
        src.mkdir()
        for i, sample in enumerate(inputs):
            np.save(src / f"s{i:02d}.npy", sample)
        out = tmp_path / f"out_{key}"
        subprocess.run([str(runner_venv), "-m", "edgekit_runner", "batch", str(src), "--batch-size", "4", "--threads",
                        "1", "--xnnpack", "off", "--out", str(out)], cwd=bundle, check=True, capture_output=True)
        with np.load(out / "predictions.npz") as z:
            np.testing.assert_array_equal(z["output_0"], ref)
            assert list(z["ids"]) == [f"s{i:02d}" for i in range(len(inputs))]
        summary = json.loads((out / "batch.json").read_text())
        assert summary["mode"] == "loop" and summary["items"] == len(inputs)  # digits: fixed batch of 1


def _quantize(model: Path, x: np.ndarray) -> np.ndarray:
    from edgekit.tflite_model import load_model

    m = load_model(model)
    t = m.main.tensors[m.main.inputs[0]]
    scale, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


@pytest.mark.slow
def test_batch_resized_kws_matches_host_litert(tmp_path: Path, runner_venv: Path) -> None:
    model = shared_model(KWS)
    bundle = generate_bundle(model, "host", tmp_path / "b").bundle_dir
    xs = _kws_inputs(19)
    np.save(tmp_path / "xs.npy", xs)
    out = tmp_path / "out"
    subprocess.run([str(runner_venv), "-m", "edgekit_runner", "batch", str(tmp_path / "xs.npy"), "--batch-size", "8",
                    "--threads", "1", "--out", str(out)], cwd=bundle, check=True, capture_output=True)
    summary = json.loads((out / "batch.json").read_text())
    assert summary["mode"] == "resized" and summary["batches"] == 3 and summary["items"] == 19
    assert summary["latency_us_per_item"]["n"] == 19 and summary["throughput_items_per_s"] > 0
    with np.load(out / "predictions.npz") as z:
        np.testing.assert_array_equal(z["output_0"], reference(model, xs, tmp_path))


@pytest.mark.slow
def test_bench_energy_measured_and_modelled(tmp_path: Path, runner_venv: Path) -> None:
    model = shared_model(KWS)
    venvs = runner_venv.parent.parent
    res = bench_sbc(model, "host", "local", runs=5, warmup=1, venv_dir=venvs, work_dir=tmp_path / "a",
                    hwmon_root=str(_fake_hwmon(tmp_path / "hwmon")))
    e = res["energy"]
    assert e["kind"] == "measured" and e["sensor"]["name"] == "ina219"
    assert e["mean_power_uw"] == 3060000.0 and e["idle_power_uw"] == 3060000.0
    assert e["per_inference_uj"] == pytest.approx(3060000.0 * res["timing"]["latency_us"]["median"] / 1e6)

    boards = tmp_path / "boards"
    boards.mkdir()
    text = (Path(load_board("host").path)).read_text()
    text = text.replace("id: host", "id: myhost").replace(
        "  model: none\n", "  model: datasheet\n  supply_v: 5.0\n  active_ma: 800.0\n")
    (boards / "myhost.yaml").write_text(text)
    res = bench_sbc(model, "myhost", "local", runs=5, warmup=1, venv_dir=venvs, work_dir=tmp_path / "b",
                    boards_dirs=[str(boards)], hwmon_root=str(tmp_path / "none"))
    e = res["energy"]
    assert e["kind"] == "modelled" and res["board"]["id"] == "myhost"
    assert e["per_inference_uj"] == pytest.approx(5.0 * 800.0 * res["timing"]["latency_us"]["median"] / 1000.0)


def test_runner_reports_a_missing_runtime(tmp_path: Path) -> None:
    """Outside a venv with a runtime (plain python -I with no site packages) the runner says what to install."""
    bundle = generate_bundle(shared_model(KWS), "host", tmp_path / "b").bundle_dir
    numpy_dir = Path(np.__file__).resolve().parents[1]
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "numpy").symlink_to(numpy_dir / "numpy")
    for lib in numpy_dir.glob("numpy.libs"):
        (shim / lib.name).symlink_to(lib)
    env = {"PYTHONPATH": f"{bundle}:{shim}", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-S", "-m", "edgekit_runner", "info"], cwd=bundle, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert "error: no LiteRT runtime can be imported" in res.stderr
    assert "hint: pip install 'ai-edge-litert==2.3.0'" in res.stderr


# ---------------------------------------------------------------- serve against a real Mosquitto

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A mosquitto on 127.0.0.1:port (in-memory persistence of sessions, enough while it runs)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        exe = need_tool("mosquitto")
        self.port = port or _free_port()
        conf = workdir / f"mosquitto-{self.port}.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 10000\n")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):
    b = Broker(tmp_path_factory.mktemp("mosquitto"))
    yield b
    b.stop()


class Client:
    """A test client: publishes requests, collects results and errors of one topic prefix."""

    def __init__(self, port: int, prefix: str) -> None:
        need_module("paho")
        import paho.mqtt.client as mqtt

        self.prefix = prefix
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        subscribed = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.connect("127.0.0.1", port)
        self.c.subscribe([(f"{prefix}/results", 1), (f"{prefix}/errors", 1)])
        self.c.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        body = json.loads(msg.payload)
        with self.lock:
            (self.results if msg.topic.endswith("/results") else self.errors).append(body)

    def send(self, payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.c.publish(f"{self.prefix}/requests", data, qos=1).wait_for_publish(10)

    def wait(self, cond, timeout: float = 60.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if cond(self):
                    return True
            time.sleep(0.02)
        return False

    def answered(self) -> set[str]:
        with self.lock:
            return {r["id"] for r in self.results}

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


class Worker:
    """``python -m edgekit_runner serve`` from the bundle, in the bundle's venv; stderr lines collected."""

    def __init__(self, python: Path, bundle: Path, port: int, prefix: str, state: Path, *extra: str,
                 env: dict[str, str] | None = None) -> None:
        import os

        argv = [str(python), "-m", "edgekit_runner", "serve", "--broker", f"127.0.0.1:{port}", "--prefix", prefix,
                "--client-id", f"w-{prefix.replace('/', '-')}", "--state-dir", str(state), "--threads", "1", *extra]
        self.lines: list[str] = []
        self.proc = subprocess.Popen(argv, cwd=bundle, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, text: str, count: int = 1, timeout: float = 60.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            if sum(text in line for line in list(self.lines)) >= count:
                return True
            time.sleep(0.02)
        return sum(text in line for line in list(self.lines)) >= count

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
        self.proc.wait(20)
        self._t.join(5)


@pytest.fixture(scope="module")
def kws_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_bundle(shared_model(KWS), "host", tmp_path_factory.mktemp("kws") / "b").bundle_dir


@pytest.fixture(scope="module")
def kws_ref(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    xs = _kws_inputs(60, seed=7)
    return xs, reference(shared_model(KWS), xs, tmp_path_factory.mktemp("ref"))


@pytest.mark.slow
def test_serve_results_batching_and_replay(tmp_path: Path, broker: Broker, runner_venv: Path, kws_bundle: Path,
                                           kws_ref: tuple[np.ndarray, np.ndarray]) -> None:
    xs, ref = kws_ref
    client = Client(broker.port, "t/burst")
    w = Worker(runner_venv, kws_bundle, broker.port, "t/burst", tmp_path / "state", "--max-batch", "8",
               "--max-wait-ms", "100")
    try:
        assert w.wait_line("listening on t/burst/requests"), w.lines
        for i in range(40):  # a burst
            client.send({"id": f"r{i}", "input": xs[i].tolist()})
        assert client.wait(lambda c: len(c.results) >= 40), (len(client.results), w.lines)
        by_id = {r["id"]: r for r in client.results}
        assert set(by_id) == {f"r{i}" for i in range(40)} and len(client.results) == 40
        for i in range(40):
            out = by_id[f"r{i}"]["outputs"][0]
            assert out["dtype"] == "int8" and out["shape"] == [1, 12]
            np.testing.assert_array_equal(np.array(out["data"], dtype=np.int8)[0], ref[i])
        sizes = [r["batch_size"] for r in client.results]
        assert max(sizes) > 1 and max(sizes) <= 8  # micro-batching observed under the burst
        assert any(r["batched"] for r in client.results)
        assert not any(r["replayed"] for r in client.results)

        client.send({"id": "r5", "input": xs[5].tolist(), "encoding": "b64"})  # the same id again: from the cache
        assert client.wait(lambda c: len(c.results) >= 41)
        again = client.results[-1]
        assert again["id"] == "r5" and again["replayed"] is True
        assert again["outputs"] == by_id["r5"]["outputs"]
    finally:
        w.stop()
        client.close()
    assert any("stopped: 41 requests" in line for line in w.lines), w.lines


@pytest.mark.slow
def test_serve_rejects_bad_requests_and_keeps_serving(tmp_path: Path, broker: Broker, runner_venv: Path,
                                                      kws_bundle: Path, kws_ref: tuple[np.ndarray, np.ndarray]) -> None:
    xs, ref = kws_ref
    client = Client(broker.port, "t/bad")
    w = Worker(runner_venv, kws_bundle, broker.port, "t/bad", tmp_path / "state", "--max-wait-ms", "0")
    try:
        assert w.wait_line("listening on"), w.lines
        client.send(b"\xff\xfe not json {")
        client.send({"input": xs[0].tolist()})
        client.send({"id": "shape", "input": xs[0][:20].tolist()})
        client.send({"id": "dtype", "input": (xs[0] / 3.0).tolist()})
        client.send({"id": "range", "input": (xs[0].astype(np.int32) * 4).tolist()})
        client.send({"id": "ok", "input": xs[1].tolist()})
        assert client.wait(lambda c: len(c.errors) >= 5 and len(c.results) >= 1), (client.errors, w.lines)
        errs = client.errors
        assert errs[0]["id"] is None and errs[0]["error"].startswith("malformed payload: not UTF-8 JSON")
        assert errs[1]["id"] is None and "'id'" in errs[1]["error"]
        assert errs[2]["id"] == "shape" and errs[2]["expected"] == "int8 [1, 49, 10, 1]"
        assert errs[2]["got"] == "int64 [20, 10, 1]"
        assert errs[3]["id"] == "dtype" and "expected dtype int8" in errs[3]["error"]
        assert errs[3]["got"] == "float64 [49, 10, 1]"
        assert errs[4]["id"] == "range" and "do not fit int8" in errs[4]["error"]
        assert client.results[0]["id"] == "ok"
        np.testing.assert_array_equal(np.array(client.results[0]["outputs"][0]["data"], dtype=np.int8)[0], ref[1])
        assert w.proc.poll() is None
    finally:
        w.stop()
        client.close()


@pytest.mark.slow
def test_serve_survives_sigkill_without_losing_requests(tmp_path: Path, broker: Broker, runner_venv: Path,
                                                        kws_bundle: Path, kws_ref: tuple[np.ndarray, np.ndarray],
                                                        ) -> None:
    xs, ref = kws_ref
    n = 50
    client = Client(broker.port, "t/kill")
    slow = {"EDGEKIT_RUNNER_BATCH_DELAY_MS": "40"}  # results trickle out, so the kill lands mid-stream
    args = ("--max-batch", "4", "--max-wait-ms", "5", "--queue-size", "8")
    w = Worker(runner_venv, kws_bundle, broker.port, "t/kill", tmp_path / "state", *args, env=slow)
    w2 = None
    try:
        assert w.wait_line("listening on"), w.lines
        for i in range(30):
            client.send({"id": f"k{i}", "input": xs[i].tolist()})
        assert client.wait(lambda c: len(c.results) >= 6), w.lines
        w.stop(kill=True)  # SIGKILL: requests in flight were never acknowledged
        assert w.proc.returncode == -9
        before = client.answered()
        assert len(before) < 30
        for i in range(30, n):  # sent while no worker runs: the broker keeps them in the session
            client.send({"id": f"k{i}", "input": xs[i].tolist()})
        w2 = Worker(runner_venv, kws_bundle, broker.port, "t/kill", tmp_path / "state", *args, env=slow)
        assert w2.wait_line("session present: True"), w2.lines
        want = {f"k{i}" for i in range(n)}
        assert client.wait(lambda c: want <= c.answered(), timeout=120), (want - client.answered(), w2.lines)
        for r in client.results:
            i = int(r["id"][1:])
            np.testing.assert_array_equal(np.array(r["outputs"][0]["data"], dtype=np.int8)[0], ref[i])
    finally:
        for worker in (w, w2):
            if worker is not None:
                worker.stop()
        client.close()


@pytest.mark.slow
def test_serve_waits_for_an_unreachable_broker(tmp_path: Path, runner_venv: Path, kws_bundle: Path) -> None:
    need_tool("mosquitto")
    port = _free_port()
    w = Worker(runner_venv, kws_bundle, port, "t/late", tmp_path / "state")
    late = None
    try:
        assert w.wait_line(f"broker 127.0.0.1:{port} unreachable (Connection refused); retrying in 1 s (attempt 1)")
        assert w.wait_line("retrying in 2 s (attempt 2)"), w.lines
        late = Broker(tmp_path, port)
        assert w.wait_line("listening on t/late/requests", timeout=60), w.lines
        client = Client(port, "t/late")
        client.send({"id": "after", "input": _kws_inputs(1)[0].tolist()})
        assert client.wait(lambda c: c.answered() == {"after"}), w.lines
        client.close()
    finally:
        w.stop()
        if late is not None:
            late.stop()


def test_edgekit_bench_runs_linux_targets_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``edgekit.bench`` decides MCU vs Linux the way the CLI does: a .tflite, a bundle, an SBC board or --host go to
    bench_sbc, whose result comes back as a BenchResult with the Linux sections kept."""
    import edgekit
    import edgekit.sbc
    from edgekit.benchmarking import BenchResult, is_linux_target

    model = shared_model(KWS)
    bundle = generate_bundle(model, "host", tmp_path / "b").bundle_dir
    assert is_linux_target(model, None, None) and is_linux_target(bundle, None, None)
    assert is_linux_target(tmp_path, "rpi4", None) and is_linux_target(tmp_path, None, "pi@rpi")
    assert not is_linux_target(tmp_path, "qemu-cortex-m4", None)
    calls = []

    def fake(target: object, board: object, host: object, **kw: object) -> dict:
        calls.append((target, board, host, kw["runs"], kw["threads"], kw["xnnpack"]))
        return {"schema": "edgekit.bench/1", "board": {"id": "host"}, "target": {}, "device": {}, "transport": {},
                "input": {}, "runs": 3, "warmup": 1, "timing": {}, "memory": {}, "energy": {}, "output": {},
                "canary": None, "notes": ["n"], "batch": {"x": 1}}

    monkeypatch.setattr(edgekit.sbc, "bench_sbc", fake)
    res = edgekit.bench(bundle, runs=3, threads=2, xnnpack=False)
    assert isinstance(res, BenchResult) and calls == [(bundle, "host", "local", 3, 2, False)]
    d = res.to_dict()
    assert d["batch"] == {"x": 1} and d["notes"] == ["n"] and d["schema"] == "edgekit.bench/1"
