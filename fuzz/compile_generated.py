"""Bounded "the generated C compiles and runs" check for models the AOT generator accepted.

For each ``.tflite`` in the given directories (at most ``--max`` of them): ``build_host`` (gcc -Wall -Wextra
-Werror, with ASan/UBSan) and one run on all-zero inputs. Any failure is printed with the model's file name.

    python fuzz/compile_generated.py DIR [DIR ...] [--max N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def check_models(paths: list[Path], *, limit: int = 20, run: bool = True) -> dict:
    """Compile (and run once) the AOT C of up to ``limit`` models; returns counts and the failures."""
    import numpy as np

    from edgekit.codegen.aot.host import build_host, run_host
    from edgekit.errors import EdgekitError
    from edgekit.tflite_model import load_model

    done, failures, skipped = 0, [], 0
    with tempfile.TemporaryDirectory(prefix="ek_fuzz_cc_") as tmp:
        cache = Path(tmp) / "obj"
        for k, path in enumerate(sorted(paths)[:limit]):
            try:
                model = load_model(path)
            except EdgekitError:
                skipped += 1
                continue
            try:
                exe = build_host(model, Path(tmp) / f"m{k}", obj_cache=cache)
                if run:
                    sg = model.main
                    zeros = [np.zeros(sg.tensors[i].shape, dtype=sg.tensors[i].dtype) for i in sg.inputs]
                    run_host(exe, zeros)
                done += 1
            except EdgekitError as exc:
                if type(exc).__name__ == "UnsupportedOpError":
                    skipped += 1
                    continue
                failures.append({"model": path.name, "error": f"{type(exc).__name__}: {exc.message}"[:2000]})
            except Exception as exc:  # a bug in the generator or in this check
                failures.append({"model": path.name, "error": f"{type(exc).__name__}: {exc}"[:2000]})
    return {"checked": done, "skipped": skipped, "failures": failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--max", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    paths = [p for d in args.dirs for p in sorted(d.glob("*.tflite"))]
    res = check_models(paths, limit=args.max)
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
