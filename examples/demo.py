"""The main job: train -> int8 -> inspect -> generate -> build -> run on the emulated board -> benchmark.

Run with ``make demo`` (or ``python examples/demo.py --out out/demo``). Every step uses edgekit's
public Python API; the CLI equivalent of each step is printed as it runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

console = Console()


def step(title: str, cli: str) -> float:
    """Print a step header with the equivalent CLI command; return the start time."""
    console.rule(f"[bold]{title}")
    console.print(f"[dim]$ {cli}[/dim]")
    return time.perf_counter()


def main() -> int:
    """Run the whole chain on the default emulated board and print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out/demo", help="output directory (default out/demo)")
    parser.add_argument("--board", default="qemu-cortex-m4", help="board id (default qemu-cortex-m4)")
    parser.add_argument("--runs", type=int, default=20, help="timed inferences (default 20)")
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
    from edgekit.report import render_report
    from edgekit.validation import validate

    t = step("1. Train a small CNN on scikit-learn's digits (8x8x1, 10 classes)", "python: edgekit.examples_data")
    x_train, y_train, x_test, y_test = load_digits_data()
    model = train_digits_cnn(x_train, y_train)
    model.save(out / "digits.keras")
    acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    console.print(f"float accuracy on {len(x_test)} test images: {acc:.3f}  ({time.perf_counter() - t:.1f} s)")

    step("2. Convert to full-integer int8 TFLite with a quality report",
         f"edgekit convert {out}/digits.keras --calib calib.npy --val val.npz -o {out}/digits_int8.tflite")
    np.save(out / "x_test.npy", x_test)
    result = convert(model, x_train[:100], val=x_test, val_labels=y_test, output=out / "digits_int8.tflite")
    render_report(result.report, console=console, max_layers=5)
    tflite = out / "digits_int8.tflite"

    step("3. Inspect against the board (TFLM arena measured by the real TFLM host interpreter)",
         f"edgekit inspect {tflite} --board {args.board}")
    rep = inspect(tflite, board=args.board)
    fit = rep.fit
    fits = "n/a" if fit is None or fit.fits is None else ("yes" if fit.fits else "NO")
    est = f"{fit.latency_ms:.2f} ms" if fit is not None and fit.latency_ms is not None else "n/a"
    console.print(f"MACs {rep.macs:,}  params {rep.params:,}  TFLM arena {rep.arena_bytes} B  "
                  f"fits {args.board}: {fits}  latency estimate {est}")

    step("4. Generate firmware with edgekit's AOT runtime and build it",
         f"edgekit generate {tflite} --board {args.board} -o {out}/fw && edgekit build {out}/fw")
    gen = generate(tflite, board=args.board, out_dir=out / "fw")
    built = build(gen.project_dir)
    console.print(f"flash {built.flash_bytes:,} B (weights {built.weights_bytes:,} B)  RAM {built.ram_bytes:,} B "
                  f"(arena {built.arena_bytes:,} B, stack {built.stack_bytes:,} B)  fits: {built.fits}")

    step("5. Validate on the emulated board against the TFLM host interpreter",
         f"edgekit validate {tflite} --board {args.board} --inputs {out}/x_test.npy --limit 20")
    val = validate(tflite, board=args.board, inputs=x_test[:20], project_dir=gen.project_dir)
    console.print(f"byte-exact outputs: {val.byte_exact}/{val.inputs}  max |diff| {val.max_abs_diff}  "
                  f"top-1 agreement {val.top1_agree}/{val.inputs}")

    step("6. Benchmark on the emulated board over the serial link",
         f"edgekit bench {out}/fw --board {args.board} --runs {args.runs} --save {out}/bench.json")
    np.save(out / "x_one.npy", x_test[:1])
    res = bench(gen.project_dir, board=args.board, runs=args.runs, warmup=2, inputs=out / "x_one.npy",
                save=out / "bench.json")
    render_bench(res.to_dict(), saved=str(out / "bench.json"))

    timing, energy = res.to_dict()["timing"], res.to_dict()["energy"]
    agree = result.report.top1_agreement
    uj = energy.get("per_inference_uj")
    summary = Table(title=f"edgekit demo: digits CNN on {args.board}")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for name, value in (
        ("float accuracy (test set)", f"{acc:.3f}"),
        ("int8 top-1 agreement with float", f"{agree:.3f}" if agree is not None else "n/a"),
        ("int8 model size", f"{len(result.tflite_bytes):,} B"),
        ("firmware flash (weights)", f"{built.flash_bytes:,} B ({built.weights_bytes:,} B)"),
        ("firmware RAM (arena)", f"{built.ram_bytes:,} B ({built.arena_bytes:,} B)"),
        ("guest instructions / inference", f"{timing['count']['median']:,.0f}"),
        ("latency at board clock (est.)", f"{timing['latency_us']['median'] / 1000:.2f} ms"),
        ("energy / inference (modelled)", f"{uj:.1f} µJ" if uj is not None else "n/a"),
        ("on-device outputs == TFLM", f"{val.byte_exact}/{val.inputs} byte-exact"),
    ):
        summary.add_row(name, value)
    console.print(summary)
    return 0 if val.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
