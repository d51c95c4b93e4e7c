"""Shared pieces of the fuzz harnesses: seed corpora, building the C protocol fuzzer, running a fuzzer.

Used by the harnesses themselves, by ``tests/test_robustness.py`` (short smoke runs) and by
``benchmarks/robustness.py`` (long runs). Every fuzzer here is libFuzzer underneath (atheris is libFuzzer
for Python), so one parser reads the figures of both: executions, ``cov:`` (edges) and ``ft:`` (features).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
SHARED_MODELS = Path(os.environ.get("EDGEKIT_MODELS_DIR") or REPO.parent / "shared" / "models")
COMMON = REPO / "firmware_templates" / "common"
FIXTURE = REPO / "tests" / "fixtures" / "firmware"
REPRODUCERS = FUZZ / "reproducers"
PYTHON_TARGETS = {"tflite": FUZZ / "fuzz_tflite.py", "generate": FUZZ / "fuzz_generate.py",
                  "tflm-project": FUZZ / "fuzz_tflm_project.py", "convert-inputs": FUZZ / "fuzz_convert_inputs.py"}
SMALL_SEED_TARGETS = ("generate", "tflm-project")  # harnesses that render per input: small seeds only
# small enough that the generate harness stays fast; the reader harness also gets the big ones
SMALL_SHARED = ["tflm_examples/hello_world_int8.tflite", "tflm_examples/hello_world_float.tflite",
                "tflm_examples/micro_speech_quantized_int8.tflite", "tflm_examples/magic_wand_float.tflite",
                "mlperf_tiny/kws_ds_cnn_int8.tflite"]
CLANG_FLAGS = ["-std=c99", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=fuzzer,address,undefined",
               "-fno-sanitize-recover=all"]


def made_models() -> dict[str, bytes]:
    """Tiny models written directly with the flatbuffer schema (fuzz/seed_models.py)."""
    from seed_models import made_models as made

    return made()


def tflite_seeds(*, small_only: bool = False) -> dict[str, bytes]:
    """Seed models: the shared third-party models (only the small ones with ``small_only``) and :func:`made_models`."""
    seeds = {}
    paths = ([SHARED_MODELS / rel for rel in SMALL_SHARED] if small_only
             else sorted(SHARED_MODELS.glob("*/*.tflite")))
    for p in paths:
        if p.is_file():
            seeds[p.name] = p.read_bytes()
    seeds.update(made_models())
    if not small_only:  # inputs that once broke the reader or inspect (see fuzz/reproducers/README.md)
        seeds.update({p.name: p.read_bytes() for p in sorted(REPRODUCERS.glob("*.tflite"))})
    return seeds


def convert_input_seeds() -> dict[str, bytes]:
    """Seeds of fuzz_convert_inputs.py: first byte the kind (0 .onnx, 1 .npy, 2 .npz, 3 .pt2, 4 what the Keras
    converter child sends back), then the file; and the inputs of that kind that once broke edgekit."""
    import io
    import json
    import zipfile

    import numpy as np
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 2, 3, 3], np.linspace(-1, 1, 72).tolist())
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]), helper.make_node("Flatten", ["g"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    onnx_bytes = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    npy, npz, pt2 = io.BytesIO(), io.BytesIO(), io.BytesIO()
    np.save(npy, np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 2, 3))
    np.savez(npz, x=np.zeros((3, 2, 3), np.float32), y=np.arange(3))
    with zipfile.ZipFile(pt2, "w") as z:
        z.writestr("model/models/model.json", json.dumps({"torch_version": "2.13.0",
                                                          "schema_version": {"major": 8, "minor": 1}}))
    return {"conv.onnx.bin": b"\x00" + onnx_bytes, "calib.npy.bin": b"\x01" + npy.getvalue(),
            "val.npz.bin": b"\x02" + npz.getvalue(), "meta.pt2.bin": b"\x03" + pt2.getvalue(),
            **{f"child_{k}.bin": b"\x04" + v for k, v in _child_streams().items()},
            **{p.name: p.read_bytes() for p in sorted(REPRODUCERS.glob("convert_*.bin"))}}


def _child_streams() -> dict[str, bytes]:
    """What the Keras converter child can send back (fuzz_convert_inputs.py, kind 4): messages, NUL, result.json."""
    import json

    def lines(*msgs: dict) -> bytes:
        return b"".join(json.dumps(m).encode() + b"\n" for m in msgs)

    shape = {"event": "shape", "shape": [2, 3], "name": "m", "recurrent": ["LSTM"], "stateful": False, "loops": []}
    result = {"ops": {"int8": {"FULLY_CONNECTED": 2, "SOFTMAX": 1}}, "seconds": {"int8": 1.5, "float": 0.5},
              "evals": {"int8": {"layers": [{"name": "d", "sqnr_db": "inf"}], "agreement": 1.0}}}
    progress = [{"event": "progress", "stage": "calibrating", "done": k, "total": 3} for k in range(4)]
    return {
        "done": lines(shape, *progress, {"event": "done"}) + b"\0" + json.dumps(result).encode(),
        "error": lines(shape, {"event": "error", "kind": "UnsupportedOpError", "message": "op X",
                               "hint": "h"}),
        "loops_crash": lines({**shape, "loops": ["rnn"]}, {"event": "progress", "stage": "quantizing"}) + b'{"ev',
        "cancel": lines({**shape, "shape": [5, 7]}, {"event": "cancelled"}),
    }


class ReplayChild:
    """Stands in for the Keras converter child's process (``edgekit._convert_child``): its stdout replays a
    recorded stream, and on the parent's ``{"go": true}`` it writes the job's outputs (``result.json`` as given,
    two tiny .tflite files). After the stream it is a dead child (SIGSEGV)."""

    def __init__(self, stream: Path, result: bytes | None, log: Path) -> None:
        self.stdout = open(stream, "rb")  # closed by ConvertWorker.close
        self.stdin = self
        self.closed = False
        self._result, self._job_dir, self._log = result, None, log

    def write(self, data: bytes) -> None:
        import json

        msg = json.loads(data)
        if "dir" in msg:
            self._job_dir = Path(msg["dir"])
            with open(self._log, "ab") as f:
                f.write(b"---- job " + data + b"W tensorflow: a converter log line\n")
        elif msg.get("go") and self._job_dir is not None and self._result is not None:
            (self._job_dir / "result.json").write_bytes(self._result)
            for name in ("float.tflite", "int8.tflite"):
                (self._job_dir / name).write_bytes(b"TFL3")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def poll(self) -> int:
        return -11

    def wait(self, timeout: float | None = None) -> int:
        return -11

    def kill(self) -> None:
        pass


def replay_child_stream(data: bytes, work: Path) -> None:
    """Run the parent's side of a Keras conversion (``conversion._run_isolated``) against a child that sends
    ``data`` (JSON-line messages, then after a NUL byte its ``result.json``); calibration data (4, 2, 3).
    Job directories go to ``tempfile``'s directory. Returns, or raises what the parent raises."""
    import numpy as np

    from edgekit._isolate import ConvertWorker
    from edgekit.conversion import _run_isolated
    from edgekit.conversion_common import validation_data
    from edgekit.data import collect_samples

    stream, sep, result = data.partition(b"\0")
    (work / "stream").write_bytes(stream)
    log = work / "child.log"
    log.write_bytes(b"")
    worker = ConvertWorker(ReplayChild(work / "stream", result if sep else None, log), log)  # type: ignore[arg-type]
    calib = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 2, 3)

    def take_data(sample_shape: tuple[int, ...]) -> dict:  # what convert()'s take_data does with its data
        x = collect_samples(calib, what="calibration data", sample_shape=sample_shape)
        validation_data(None, None, sample_shape)
        return {"x_cal": x, "layer_x": x[:50]}

    job = {"io_dtype": "int8", "activations": ["int8"], "task": "auto"}
    try:
        _run_isolated(worker, str(work / "model.keras"), job, take_data, lambda *a: None, 5.0)
    finally:
        worker.close()


def protocol_seeds() -> dict[str, bytes]:
    """Valid command streams of docs/protocol.md for the fixture model (490-byte input), plus edge cases."""
    data = bytes((k * 37 + 11) % 256 for k in range(490))
    hexdata = data.hex()
    chunks = "".join(f"db {hexdata[i:i + 200]}%" for i in range(0, len(hexdata), 200))
    return {
        "mlperf.txt": f"name%profile%db load 490%{chunks}infer 3 1%results%".encode(),
        "ext.txt": b"ek-info%ek-stack%ek-canary%ek-laps%ek-out%ek-out 1%ek-out 2%results%",
        "bin.txt": b"ek-bin 490%" + data + b"infer 2%ek-laps%ek-out 1%",
        "bin_short.txt": b"ek-bin 8%\x7f\x7f\x00\x01%%%%%infer%",
        "errors.txt": b"db%db load%db load 0%db load 99999%db 12%infer 0%infer x%ek-exit 300%bogus%%  \r\n%",
        "partial.txt": b"db load 4%db 0102%db 03%db 0405%infer 1 2 3 4%ek-bin 3%ab",
        "long.txt": b"x" * 300 + b"%name%",
        "exit.txt": b"ek-exit 0%name%",
    }


def _ram_dir() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def scratch_dir(prefix: str) -> Path:
    """A fresh scratch directory for a harness's per-input files, in RAM (``/dev/shm``) when there is one.

    The harnesses rewrite the same few files on every execution. On ext4 (``/tmp`` here) truncating a file
    that holds data costs ~3 ms, an order of magnitude more than parsing the input: a campaign spent 87 % of
    its time there. tmpfs makes that ~10 µs; what is tested (edgekit reading a file by its path) is unchanged.
    """
    parent = os.environ.get("EK_FUZZ_SCRATCH")  # set by run_fuzzer, which removes it after the run
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent or _ram_dir()))
    if not parent:  # best effort: libFuzzer leaves through exit(), past Python's atexit
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    return work


def write_corpus(directory: Path, seeds: dict[str, bytes]) -> Path:
    """Write ``seeds`` as files into ``directory`` (created); returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (directory / name).write_bytes(data)
    return directory


def build_protocol_fuzzer(out_dir: Path, *, clang: str | None = None) -> Path:
    """Compile fuzz/protocol_fuzz.c + the protocol parser + the fixture model with libFuzzer, ASan and UBSan.

    The fixture's ``ek_model_invoke`` is renamed so that fuzz/protocol_fuzz.c can wrap it with an inference
    budget (``infer 4294967295%`` is a legitimate request that would otherwise run for hours).
    """
    cc = clang or shutil.which("clang")
    if cc is None:
        raise FileNotFoundError("clang not installed (apt-get install clang)")
    out_dir.mkdir(parents=True, exist_ok=True)
    inc = ["-I", str(FIXTURE), "-I", str(COMMON)]
    model_o = out_dir / "fixture_model.o"
    _cc([cc, *CLANG_FLAGS, "-fsanitize=fuzzer-no-link", *inc, "-Dek_model_invoke=fixture_model_invoke", "-c",
         str(FIXTURE / "ek_model.c"), "-o", str(model_o)])
    exe = out_dir / "protocol_fuzz"
    _cc([cc, *CLANG_FLAGS, *inc, str(FUZZ / "protocol_fuzz.c"), str(COMMON / "ek_protocol.c"), str(model_o),
         "-o", str(exe)])
    return exe


def _cc(argv: list[str]) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{res.stderr}")


@dataclass
class FuzzRun:
    """Figures of one libFuzzer/atheris run."""

    target: str
    returncode: int
    executions: int = 0
    seconds: float = 0.0
    cov: int | None = None
    ft: int | None = None
    corpus_files: int = 0
    crashes: list[str] = field(default_factory=list)  # artifact files (crash-*, timeout-*, oom-*, leak-*)
    error_excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.crashes

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


_STAT = re.compile(r"^#(\d+)\s+\w+.*?cov: (\d+) ft: (\d+)", re.M)
_DONE = re.compile(r"Done (\d+) runs in (\d+) second", re.M)


def run_fuzzer(target: str, argv: list[str], corpus: Path, artifacts: Path, *, runs: int | None = None,
               max_total_time: int | None = None, timeout_per_input: int = 20, rss_limit_mb: int = 3072,
               env: dict[str, str] | None = None) -> FuzzRun:
    """Run a libFuzzer-style fuzzer (``argv``: the executable or ``python harness.py``) on ``corpus``."""
    artifacts.mkdir(parents=True, exist_ok=True)
    opts = [f"-artifact_prefix={artifacts}/", f"-timeout={timeout_per_input}", f"-rss_limit_mb={rss_limit_mb}",
            "-print_final_stats=1"]
    if runs is not None:
        opts.append(f"-runs={runs}")
    if max_total_time is not None:
        opts.append(f"-max_total_time={max_total_time}")
    before = {p.name for p in artifacts.iterdir()}
    wall = (max_total_time or 3600) * 2 + 120
    scratch = tempfile.mkdtemp(prefix="ek_fuzz_", dir=_ram_dir())
    full_env = {**os.environ, "EK_FUZZ_SCRATCH": scratch, **(env or {})}
    t0 = time.monotonic()
    try:
        res = subprocess.run([*argv, *opts, str(corpus)], capture_output=True, text=True, check=False,
                             timeout=wall, env=full_env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log = res.stdout + res.stderr
    run = FuzzRun(target=target, returncode=res.returncode)
    stats = _STAT.findall(log)
    if stats:
        run.executions, run.cov, run.ft = (int(x) for x in stats[-1])
    done = _DONE.search(log)
    if done:
        run.executions, run.seconds = int(done.group(1)), float(done.group(2))
    else:  # stopped early (SIGUSR1: libFuzzer exits gracefully, without its "Done" line)
        run.seconds = round(time.monotonic() - t0, 1)
    final = re.search(r"stat::number_of_executed_units: (\d+)", log)
    if final:
        run.executions = int(final.group(1))
    run.crashes = sorted(p.name for p in artifacts.iterdir() if p.name not in before)
    run.corpus_files = sum(1 for _ in corpus.iterdir())
    if not run.ok:
        keep = [ln for ln in log.splitlines() if not ln.startswith(("#", "INFO:"))]
        run.error_excerpt = "\n".join(keep[-40:])
    return run


def python_fuzzer_argv(target: str) -> list[str]:
    """argv that runs the atheris harness ``target`` ("tflite" or "generate") with this interpreter."""
    return [sys.executable, str(PYTHON_TARGETS[target])]


def crash_signature(exc: BaseException) -> str:
    """``Type@file:line`` of the innermost edgekit frame of an exception (groups duplicates of one bug); for a
    harness's own check (no edgekit frame), its innermost frame."""
    import traceback

    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if "/edgekit/" in f.filename] or tb  # a harness's own check: its line
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__}@{where}"


def collect_or_raise(exc: BaseException, data: bytes) -> None:
    """With ``EK_FUZZ_COLLECT=DIR`` (long campaigns), file the input under its crash signature and go on
    fuzzing; otherwise re-raise so that libFuzzer stops and writes ``crash-*``."""
    collect = os.environ.get("EK_FUZZ_COLLECT")
    if not collect:
        raise exc
    import hashlib

    sig_dir = Path(collect) / crash_signature(exc).replace("/", "_")
    if not sig_dir.exists():
        sig_dir.mkdir(parents=True, exist_ok=True)
        import traceback

        (sig_dir / "traceback.txt").write_text("".join(traceback.format_exception(exc)))
    if sum(1 for _ in sig_dir.glob("*.bin")) < 5:
        (sig_dir / (hashlib.sha256(data).hexdigest()[:16] + ".bin")).write_bytes(data)
