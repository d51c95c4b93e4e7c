"""Long robustness campaigns (edgekit issue 9) -> benchmarks/results/robustness.json.

Per fuzz target (atheris: .tflite reader + inspect, AOT C generator, TFLM project generator; libFuzzer: the C
protocol parser):
executions, coverage (libFuzzer ``cov:`` edges and ``ft:`` features), corpus size and the distinct crash
signatures found. The Python targets run in "collect" mode (``EK_FUZZ_COLLECT``): a crash is filed under its
signature (exception type + innermost edgekit frame) and fuzzing goes on, so one bug does not hide the next.
Then: the "generated C compiles and runs" check on inputs the generator accepted, a QEMU stream campaign
and the bench/validate fault campaign.

    python benchmarks/robustness.py [--seconds 180] [--runs N] [--streams 300] [--trials 60] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fuzz"))

import _common as fuzz  # noqa: E402
import qemu_campaign  # noqa: E402
from compile_generated import check_models  # noqa: E402

HELLO = fuzz.SHARED_MODELS / "tflm_examples" / "hello_world_int8.tflite"
KWS = fuzz.SHARED_MODELS / "mlperf_tiny" / "kws_ds_cnn_int8.tflite"


def _signatures(collect: Path) -> list[dict]:
    out = []
    for d in sorted(collect.iterdir()) if collect.is_dir() else []:
        tb = (d / "traceback.txt").read_text() if (d / "traceback.txt").exists() else ""
        out.append({"signature": d.name, "inputs_kept": sorted(p.name for p in d.glob("*.bin")),
                    "traceback_tail": tb.strip().splitlines()[-6:]})
    return out


def python_target(target: str, work: Path, seconds: int, runs: int | None = None) -> dict:
    base = work / target
    seeds = fuzz.convert_input_seeds() if target == "convert-inputs" else \
        fuzz.tflite_seeds(small_only=target in fuzz.SMALL_SEED_TARGETS)
    corpus = fuzz.write_corpus(base / "corpus", seeds)
    env = {"EK_FUZZ_COLLECT": str(base / "collect")}
    if target == "generate":
        env["EK_FUZZ_ACCEPTED"] = str(base / "accepted")
    t0 = time.monotonic()
    run = fuzz.run_fuzzer(target, fuzz.python_fuzzer_argv(target), corpus, base / "artifacts",
                          max_total_time=seconds, runs=runs, env=env)
    d = run.to_dict()
    d["wall_seconds"] = round(time.monotonic() - t0, 1)
    d["crash_signatures"] = _signatures(base / "collect")
    return d


def protocol_target(work: Path, seconds: int, runs: int | None = None) -> dict:
    base = work / "protocol"
    exe = fuzz.build_protocol_fuzzer(base / "build")
    corpus = fuzz.write_corpus(base / "corpus", fuzz.protocol_seeds())
    t0 = time.monotonic()
    run = fuzz.run_fuzzer("protocol", [str(exe)], corpus, base / "artifacts", max_total_time=seconds, runs=runs)
    d = run.to_dict()
    d["wall_seconds"] = round(time.monotonic() - t0, 1)
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=180, help="fuzzing time per target")
    ap.add_argument("--runs", type=int, default=None,
                    help="stop a fuzz target after this many executions (whichever comes first with --seconds)")
    ap.add_argument("--streams", type=int, default=300, help="hostile command streams into QEMU")
    ap.add_argument("--trials", type=int, default=60, help="bench/validate fault trials")
    ap.add_argument("--compile-max", type=int, default=20, help="accepted models compiled and run")
    ap.add_argument("--out", type=Path, default=REPO / "out" / "robustness")
    ap.add_argument("--only", nargs="*", default=None,
                    help="subset of: tflite generate tflm-project convert-inputs protocol compile qemu-streams "
                         "faults")
    args = ap.parse_args(argv)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    want = set(args.only or ["tflite", "generate", "tflm-project", "convert-inputs", "protocol", "compile",
                             "qemu-streams", "faults"])
    res_path = REPO / "benchmarks" / "results" / "robustness.json"
    result: dict = json.loads(res_path.read_text()) if res_path.exists() and args.only else {}
    result.setdefault("schema", "edgekit.robustness/1")
    result.setdefault("targets", {})

    def save() -> None:
        res_path.parent.mkdir(parents=True, exist_ok=True)
        res_path.write_text(json.dumps(result, indent=1) + "\n")

    for target in ("tflite", "generate", "tflm-project", "convert-inputs"):
        if target in want:
            print(f"fuzzing {target} for {args.seconds} s", flush=True)
            result["targets"][target] = python_target(target, work, args.seconds, args.runs)
            save()
    if "protocol" in want:
        print(f"fuzzing protocol for {args.seconds} s", flush=True)
        result["targets"]["protocol"] = protocol_target(work, args.seconds, args.runs)
        save()
    if "compile" in want:
        accepted = sorted((work / "generate" / "accepted").glob("*.tflite"))
        print(f"compiling generated C of {min(len(accepted), args.compile_max)} accepted models", flush=True)
        result["generated_c_compiles"] = {"accepted_inputs": len(accepted),
                                          **check_models(accepted, limit=args.compile_max)}
        save()
    if "qemu-streams" in want or "faults" in want:
        proj = {m.stem: qemu_campaign.build_firmware(m, work / f"fw-{m.stem}") for m in (HELLO, KWS)}
    if "qemu-streams" in want:
        print(f"{args.streams} hostile streams into QEMU (hello_world, kws)", flush=True)
        result["qemu_streams"] = {
            m.stem: qemu_campaign.stream_campaign(proj[m.stem], m, streams=args.streams // 2, seed=k)
            for k, m in enumerate((HELLO, KWS))}
        save()
    if "faults" in want:
        import numpy as np

        print(f"{args.trials} fault trials (bench, validate)", flush=True)
        inputs = work / "hello_inputs.npy"
        np.save(inputs, np.arange(-3, 3, dtype=np.int8).reshape(6, 1, 1))
        faults = qemu_campaign.fault_campaign(proj[HELLO.stem], HELLO, inputs, work / "faults", trials=args.trials)
        result["faults"] = faults
        save()
    print(json.dumps({k: {kk: v.get(kk) for kk in ("executions", "cov", "ft", "crashes")}
                      for k, v in result["targets"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
