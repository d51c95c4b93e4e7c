"""The main job: train -> int8 -> inspect -> generate -> build -> run on the emulated board -> benchmark, and the
quantization payoff: the float32 model against the int8 one on the same board.

Run with ``make demo`` (or ``python examples/demo.py --out out/demo``). Every step uses edgekit's
public Python API; the CLI equivalent of each step is printed as it runs, and every file it names is written to the
output folder, so each command can be replayed (``source .venv/bin/activate`` first, or use ``.venv/bin/edgekit``).

The output folder keeps the results: ``summary.json``, ``conversion_report.json``, ``inspect.json``, ``build.json``,
``validate.json``, ``bench.json``, ``payoff.json`` and one self-contained ``report.html`` (conversion quality, memory
map, latency, energy, the quantization payoff, plots) to open in a browser.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

console = Console()


def step(title: str, cli: str) -> float:
    """Print a step header with the equivalent CLI command; return the start time."""
    console.rule(f"[bold]{title}")
    console.print(f"[dim]$ {cli}[/dim]", soft_wrap=True)  # one line: copy and paste it
    return time.perf_counter()


def save_json(path: Path, obj: object) -> None:
    """Write ``obj`` (a dict) as indented JSON."""
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")


def main() -> int:
    """Run the whole chain on the default emulated board and print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out/demo", help="output directory (default out/demo)")
    parser.add_argument("--board", default="qemu-cortex-m4", help="board id (default qemu-cortex-m4)")
    parser.add_argument("--runs", type=int, default=20, help="timed inferences (default 20)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: edgekit.examples_data's)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.cli.bench import render as render_bench
    from edgekit.conversion import convert
    from edgekit.examples_data import load_digits_data, train_digits_cnn
    from edgekit.generation import generate
    from edgekit.inspection import inspect
    from edgekit.payoff import measure_payoff, payoff_summary, render_payoff
    from edgekit.report import render_report
    from edgekit.validation import validate

    t = step("1. Train a small CNN on scikit-learn's digits (8x8x1, 10 classes)", "python: edgekit.examples_data")
    x_train, y_train, x_test, y_test = load_digits_data()
    model = train_digits_cnn(x_train, y_train, **({"epochs": args.epochs} if args.epochs else {}))
    model.save(out / "digits.keras")
    acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    console.print(f"float accuracy on {len(x_test)} test images: {acc:.3f}  ({time.perf_counter() - t:.1f} s)")

    step("2. Convert to full-integer int8 TFLite with a quality report",
         f"edgekit convert {out}/digits.keras --calib {out}/calib.npy --val {out}/val.npz "
         f"-o {out}/digits_int8.tflite --report {out}/conversion_report.json --keep-float")
    np.save(out / "calib.npy", x_train[:100])
    np.savez(out / "val.npz", x=x_test, y=y_test)
    result = convert(model, out / "calib.npy", val=out / "val.npz", output=out / "digits_int8.tflite")
    render_report(result.report, console=console, max_layers=5)
    save_json(out / "conversion_report.json", result.report.to_dict())
    tflite = out / "digits_int8.tflite"
    float_tflite = out / "digits_int8_float.tflite"  # what --keep-float writes: the float model it was compared with
    float_tflite.write_bytes(result.float_tflite_bytes or b"")

    step("3. Inspect against the board (TFLM arena measured by the real TFLM host interpreter)",
         f"edgekit inspect {tflite} --board {args.board} --json > {out}/inspect.json")
    rep = inspect(tflite, board=args.board)
    save_json(out / "inspect.json", rep.to_dict())
    fit = rep.fit
    fits = "n/a" if fit is None or fit.fits is None else ("yes" if fit.fits else "NO")
    est = f"{fit.latency_ms:.2f} ms" if fit is not None and fit.latency_ms is not None else "n/a"
    console.print(f"MACs {rep.macs:,}  params {rep.params:,}  TFLM arena {rep.arena_bytes} B  "
                  f"fits {args.board}: {fits}  latency estimate {est}")

    step("4. Generate firmware with edgekit's AOT runtime and build it",
         f"edgekit generate {tflite} --board {args.board} -o {out}/fw && edgekit build {out}/fw")
    gen = generate(tflite, board=args.board, out_dir=out / "fw")
    built = build(gen.project_dir)
    save_json(out / "build.json", built.to_dict())
    console.print(f"flash {built.flash_bytes:,} B (weights {built.weights_bytes:,} B)  RAM {built.ram_bytes:,} B "
                  f"(arena {built.arena_bytes:,} B, stack {built.stack_bytes:,} B)  fits: {built.fits}")

    step("5. Validate on the emulated board against the TFLM host interpreter",
         f"edgekit validate {tflite} --board {args.board} --inputs {out}/x_val20.npy --project {out}/fw")
    np.save(out / "x_val20.npy", x_test[:20])
    val = validate(tflite, board=args.board, inputs=out / "x_val20.npy", project_dir=gen.project_dir)
    save_json(out / "validate.json", val.to_dict())
    console.print(f"byte-exact outputs: {val.byte_exact}/{val.inputs}  max |diff| {val.max_abs_diff}  "
                  f"top-1 agreement {val.top1_agree}/{val.inputs}")

    step("6. Benchmark on the emulated board over the serial link",
         f"edgekit bench {out}/fw --runs {args.runs} --input {out}/x_one.npy --save {out}/bench.json")
    np.save(out / "x_one.npy", x_test[:1])
    res = bench(gen.project_dir, board=args.board, runs=args.runs, warmup=2, inputs=out / "x_one.npy",
                save=out / "bench.json")
    render_bench(res.to_dict(), saved=str(out / "bench.json"))

    step("7. The quantization payoff: the float32 model against the int8 one on the same board",
         f"edgekit convert {out}/digits.keras --calib {out}/calib.npy --val {out}/val.npz "
         f"-o {out}/digits_int8.tflite --board {args.board}")
    payoff = measure_payoff(float_tflite, tflite, board=args.board, work_dir=out / "payoff", runs=args.runs,
                            report=result.report)
    render_payoff(payoff, console)
    save_json(out / "payoff.json", payoff.to_dict())

    timing, energy = res.to_dict()["timing"], res.to_dict()["energy"]
    agree = result.report.top1_agreement
    uj = energy.get("per_inference_uj")
    rows = [
        ("float accuracy (test set)", f"{acc:.3f}"),
        ("int8 top-1 agreement with float", f"{agree:.3f}" if agree is not None else "n/a"),
        ("int8 model size", f"{len(result.tflite_bytes):,} B"),
        ("firmware flash (weights)", f"{built.flash_bytes:,} B ({built.weights_bytes:,} B)"),
        ("firmware RAM (arena)", f"{built.ram_bytes:,} B ({built.arena_bytes:,} B)"),
        ("guest instructions / inference", f"{timing['count']['median']:,.0f}"),
        ("latency at board clock (est.)", f"{timing['latency_us']['median'] / 1000:.2f} ms"),
        ("energy / inference (modelled)", f"{uj:.1f} µJ" if uj is not None else "n/a"),
        ("on-device outputs == TFLM", f"{val.byte_exact}/{val.inputs} byte-exact"),
        ("quantization payoff", payoff_summary(payoff.to_dict()).removeprefix("float32 / int8: ")),
    ]
    summary = Table(title=f"edgekit demo: digits CNN on {args.board}")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    save_json(out / "summary.json", {"board": args.board, "figures": dict(rows)})
    from edgekit.html_report import write_run_report

    page = write_run_report(out / "report.html", title=f"edgekit demo: digits CNN on {args.board}", summary=rows,
                            conversion=result.report.to_dict(), inspect=rep.to_dict(), build=built.to_dict(),
                            bench=res.to_dict(), validation=val.to_dict(),
                            payoff=payoff.to_dict())
    console.print(f"saved in {out}: summary.json, conversion_report.json, inspect.json, build.json, validate.json, "
                  f"bench.json, payoff.json; the report to open in a browser: {page}")
    console.print("[dim]the commands above replay with the files saved there: 'source .venv/bin/activate' first "
                  "(or run .venv/bin/edgekit)[/dim]")
    return 0 if val.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
