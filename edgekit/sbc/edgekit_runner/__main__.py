"""``python -m edgekit_runner {info,bench,batch,serve}``: the bundle's command line.

Exit codes: 0 success, 1 an error the user can fix (one ``error:`` line and maybe a ``hint:`` line on
stderr), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .util import RunnerError, bundle_root, default_model, load_manifest, write_json


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="the .tflite file (default: the bundle's model)")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads (default: the runtime's)")
    p.add_argument("--xnnpack", choices=("on", "off"), default="on",
                   help="XNNPACK CPU delegate (off: BUILTIN_WITHOUT_DEFAULT_DELEGATES)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m edgekit_runner", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)

    p = sub.add_parser("info", help="print the runtime, the machine and the model's tensors as JSON")
    _common(p)

    p = sub.add_parser("bench", help="single-stream latency (edgekit.bench/1 JSON)")
    _common(p)
    p.add_argument("--runs", type=int, default=50, help="timed inferences")
    p.add_argument("--warmup", type=int, default=5, help="untimed inferences first")
    p.add_argument("--input", help="input sample: .npy, .npz or raw .bin (default: random, seed 0)")
    p.add_argument("--out", help="write the JSON here (atomically) instead of stdout")
    p.add_argument("--hwmon-root", default=None, help="hwmon sysfs root (default: $EDGEKIT_HWMON_ROOT or "
                                                      "/sys/class/hwmon)")
    p.add_argument("--power-interval", type=float, default=0.02, help="seconds between power samples")
    p.add_argument("--idle-s", type=float, default=0.5, help="seconds of idle power sampling before the runs")

    p = sub.add_parser("batch", help="predictions for a directory or file of inputs")
    _common(p)
    p.add_argument("source", help="directory of .npy/.npz files, or one .npy/.npz/.bin of N samples")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--out", required=True, help="output directory (predictions.npz, batch.json)")

    p = sub.add_parser("serve", help="MQTT inference service")
    _common(p)
    p.add_argument("--config", help="JSON settings (default: the bundle's serve.json when present)")
    p.add_argument("--broker", help="HOST[:PORT] of the MQTT broker")
    p.add_argument("--prefix", help="topic prefix")
    p.add_argument("--client-id")
    p.add_argument("--max-batch", type=int)
    p.add_argument("--max-wait-ms", type=float)
    p.add_argument("--queue-size", type=int)
    p.add_argument("--state-dir", help="where the result cache lives (relative: to the bundle)")
    p.add_argument("--mqtt-version", type=int, choices=(3, 5))
    return ap


def _model(args: argparse.Namespace, manifest: dict[str, Any]) -> Any:
    from .runtime import Model

    path = Path(args.model) if args.model else default_model(manifest)
    threads = args.threads
    if threads is not None and threads < 1:
        raise RunnerError(f"--threads must be >= 1 (got {threads})")
    return Model(path, threads=threads, xnnpack=args.xnnpack == "on")


def _serve_config(args: argparse.Namespace, manifest: dict[str, Any]) -> Any:
    from .serve import ServeConfig

    data: dict[str, Any] = {}
    cfg_path = Path(args.config) if args.config else bundle_root() / "serve.json"
    if args.config or cfg_path.is_file():
        try:
            data = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunnerError(f"{cfg_path}: cannot read the settings ({exc})") from None
        if not isinstance(data, dict):
            raise RunnerError(f"{cfg_path}: expected a JSON object")
    cfg = ServeConfig.from_dict(data, str(cfg_path))
    if args.broker:
        host, _, port = args.broker.rpartition(":") if ":" in args.broker else (args.broker, "", "")
        cfg.host = host or args.broker
        if port:
            try:
                cfg.port = int(port)
            except ValueError:
                raise RunnerError(f"--broker {args.broker}: the port must be a number") from None
    for name in ("prefix", "client_id", "max_batch", "max_wait_ms", "queue_size", "state_dir", "mqtt_version"):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        manifest = load_manifest()
        if manifest:
            manifest["_root"] = str(bundle_root())
        if args.mode == "serve":
            from .serve import run_service

            cfg = _serve_config(args, manifest)
            cfg.check()
            return run_service(_model(args, manifest), cfg, bundle_root())
        model = _model(args, manifest)
        if args.mode == "info":
            print(json.dumps({**model.info(), "machine": platform.machine(), "python": platform.python_version(),
                              "bundle": manifest.get("name")}, indent=2))
        elif args.mode == "bench":
            from .benchmark import run_bench

            if args.runs < 1 or args.warmup < 0:
                raise RunnerError(f"--runs must be >= 1 and --warmup >= 0 (got {args.runs}, {args.warmup})")
            result = run_bench(model, manifest, runs=args.runs, warmup=args.warmup, input_path=args.input,
                               hwmon_root=args.hwmon_root, power_interval=args.power_interval, idle_s=args.idle_s)
            if args.out:
                write_json(args.out, result)
            else:
                print(json.dumps(result, indent=2))
        elif args.mode == "batch":
            from .batch import run_batch

            summary = run_batch(model, args.source, batch_size=args.batch_size, out_dir=args.out, manifest=manifest)
            print(f"{summary['items']} items in {summary['batches']} batches ({summary['mode']}): "
                  f"{summary['throughput_items_per_s']:.1f} items/s, median "
                  f"{summary['latency_us_per_item']['median']:.1f} µs per item -> {os.path.join(args.out, '')}")
        return 0
    except RunnerError as exc:
        sys.stderr.write(f"error: {exc.message}\n" + (f"hint: {exc.hint}\n" if exc.hint else ""))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
