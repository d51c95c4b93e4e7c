"""Build and run edgekit AOT code on the host (for tests and validation against the TFLM interpreter).

``build_host`` generates the model's C, adds a small ``main`` and compiles it with gcc (by default
with AddressSanitizer and UBSan, every warning an error). ``run_host`` feeds raw input bytes to the
executable and returns the outputs as numpy arrays. A JSON file next to the executable records the
input and output shapes and dtypes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit import proc
from edgekit.codegen.aot.generate import generate_c
from edgekit.cores import PORTABLE, CoreFeatures
from edgekit.errors import BuildError, DataError, NativeCrash

if TYPE_CHECKING:
    from edgekit.tflite_model import TFLiteModel

CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

_MAIN = r"""/* Host driver for an edgekit AOT model: host_main IN OUT [SETS]
 * IN holds SETS input sets (each: every input's raw bytes, in order); OUT gets SETS output sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "{prefix}_model.h"

int main(int argc, char **argv) {{
    FILE *fin, *fout;
    long sets = 1, s;
    int i, rc;
    if (argc < 3) {{
        fprintf(stderr, "usage: %s IN OUT [SETS]\n", argv[0]);
        return 2;
    }}
    if (argc > 3) sets = strtol(argv[3], NULL, 10);
    if ({prefix}_model_init() != 0) {{
        fprintf(stderr, "{prefix}_model_init failed\n");
        return 3;
    }}
    fin = fopen(argv[1], "rb");
    fout = fopen(argv[2], "wb");
    if (fin == NULL || fout == NULL) {{
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }}
    for (s = 0; s < sets; s++) {{
        for (i = 0; i < {P}_NUM_INPUTS; i++) {{
            size_t n = {prefix}_model_input_bytes(i);
            if (fread({prefix}_model_input(i), 1, n, fin) != n) {{
                fprintf(stderr, "short input: set %ld input %d needs %lu bytes\n", s, i, (unsigned long)n);
                return 4;
            }}
        }}
        rc = {prefix}_model_invoke();
        if (rc != 0) {{
            fprintf(stderr, "{prefix}_model_invoke returned %d\n", rc);
            return 5;
        }}
        for (i = 0; i < {P}_NUM_OUTPUTS; i++) {{
            size_t n = {prefix}_model_output_bytes(i);
            if (fwrite({prefix}_model_output(i), 1, n, fout) != n) {{
                fprintf(stderr, "write failed\n");
                return 6;
            }}
        }}
    }}
    fclose(fin);
    fclose(fout);
    printf("arena_used %lu\n", (unsigned long){prefix}_model_arena_used());
    return 0;
}}
"""


def _io(tensors: Sequence) -> list[dict]:
    return [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in tensors]


def _compile(argv: list[str], work: Path) -> None:
    res = proc.run(argv, cwd=work, check=False, what="compile the AOT host executable")
    if res.returncode != 0:
        tail = (res.stderr or res.stdout or "").strip().splitlines()[-15:]
        raise BuildError(f"host build of the AOT model failed in {work}: " + " | ".join(tail),
                         hint="this is a bug in edgekit's AOT generator; run with --runtime tflm meanwhile")


def _runtime_objects(src: Path, flags: list[str], cache: Path) -> list[Path]:
    """Compile the runtime sources once per (content, flags) into ``cache``; return the object files."""
    objs = []
    # the runtime's headers only: the generated ek_model.h / ek_weights.h differ per model and must not defeat the cache
    headers = b"".join(p.read_bytes() for p in sorted(src.glob("ek_*.h"))
                       if not p.name.startswith(("ek_model", "ek_weights")))
    for c_file in sorted(src.glob("ek_*.c")):
        if c_file.name.startswith(("ek_model", "ek_weights")):
            continue
        key = hashlib.sha256(c_file.read_bytes() + headers + " ".join(flags).encode()).hexdigest()[:20]
        obj = cache / f"{c_file.stem}-{key}.o"
        if not obj.exists():
            tmp = obj.with_suffix(f".{os.getpid()}.tmp.o")
            _compile([proc.which("gcc"), *flags, "-I", str(src), "-c", str(c_file), "-o", str(tmp)], cache)
            os.replace(tmp, obj)
        objs.append(obj)
    return objs


def build_host(model: TFLiteModel | str | Path | bytes, work_dir: str | Path, *, sanitize: bool = True,
               prefix: str = "ek", extra_cflags: Sequence[str] = (), obj_cache: str | Path | None = None,
               sparse: str = "auto", features: CoreFeatures = PORTABLE, weights: str = "auto",
               target: Any = None, weights_budget: int | None = None) -> Path:
    """Generate ``model``'s C into ``work_dir/src`` and compile a host executable; returns its path.

    ``obj_cache``: a directory where the runtime kernels are compiled once and reused (tests build
    many models). ``sparse``, ``features``, ``weights``, ``target``, ``weights_budget``: as for :func:`generate_c`
    (MVE features run the MVE kernels' portable C, DSP features the int16-weight kernels' portable C).
    Raises UnsupportedOpError for unsupported models, ToolMissing without gcc, BuildError when the generated code
    does not compile cleanly.
    """
    from edgekit.codegen.aot.generate import _load

    m = _load(model)
    work = Path(work_dir)
    src = work / "src"
    result = generate_c(m, src, prefix=prefix, sparse=sparse, features=features, weights=weights, target=target,
                        weights_budget=weights_budget)
    main_c = work / "host_main.c"
    main_c.write_text(_MAIN.format(prefix=prefix, P=prefix.upper()))
    exe = work / f"{prefix}_host"
    flags = [*CFLAGS, *(SANITIZE if sanitize else []), *extra_cflags]
    model_sources = [str(f) for f in result.files if f.suffix == ".c" and f.name.startswith(f"{prefix}_")
                     and f.name in (f"{prefix}_model.c", f"{prefix}_weights.c")]
    if obj_cache is not None:
        cache = Path(obj_cache)
        cache.mkdir(parents=True, exist_ok=True)
        runtime = [str(o) for o in _runtime_objects(src, flags, cache)]
    else:
        runtime = sorted(str(p) for p in src.glob("ek_*.c") if str(p) not in model_sources)
    _compile([proc.which("gcc"), *flags, "-I", str(src), str(main_c), *model_sources, *runtime, "-o", str(exe), "-lm"],
             work)
    sg = m.main
    meta = {"inputs": _io([sg.tensors[t] for t in sg.inputs]), "outputs": _io([sg.tensors[t] for t in sg.outputs]),
            "arena_bytes": result.arena_bytes, "weights_bytes": result.weights_bytes, "ops": result.ops}
    exe.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return exe


def host_meta(exe: Path) -> dict:
    """The JSON metadata build_host wrote next to ``exe``."""
    return json.loads(Path(exe).with_suffix(".json").read_text())


def run_host(exe: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run the host executable on one set of inputs; returns the outputs (shaped, typed)."""
    return run_host_sets(exe, [inputs])[0]


def run_host_sets(exe: Path, sets: Sequence[Sequence[np.ndarray]], *, timeout: float = 300) -> list[list[np.ndarray]]:
    """Run the host executable once on several input sets (the model is invoked once per set)."""
    meta = host_meta(exe)
    blob = bytearray()
    for k, inputs in enumerate(sets):
        if len(inputs) != len(meta["inputs"]):
            raise DataError(f"input set {k}: {len(inputs)} arrays given, the model has {len(meta['inputs'])} inputs")
        for i, (arr, spec) in enumerate(zip(inputs, meta["inputs"], strict=True)):
            a = np.asarray(arr)
            if a.dtype != np.dtype(spec["dtype"]) or a.size != int(np.prod(spec["shape"], dtype=np.int64)):
                raise DataError(f"input set {k}, input {i} ('{spec['name']}'): got {a.dtype}{list(a.shape)}, "
                                f"expected {spec['dtype']}{spec['shape']}")
            blob += np.ascontiguousarray(a).tobytes()
    with tempfile.TemporaryDirectory(prefix="ek_host_") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        fin.write_bytes(bytes(blob))
        res = proc.run([str(exe), str(fin), str(fout), str(len(sets))], check=False, timeout=timeout,
                       what="run the AOT host executable")
        if res.returncode != 0:
            tail = (res.stderr or "").strip().splitlines()[-20:]
            raise NativeCrash(f"{exe} exited with {res.returncode}: " + " | ".join(tail),
                              hint="a crash or sanitizer report in generated code is an edgekit bug")
        data = fout.read_bytes()
    outs: list[list[np.ndarray]] = []
    pos = 0
    for _ in sets:
        one = []
        for spec in meta["outputs"]:
            dt = np.dtype(spec["dtype"])
            n = int(np.prod(spec["shape"], dtype=np.int64))
            one.append(np.frombuffer(data, dtype=dt, count=n, offset=pos).reshape(spec["shape"]).copy())
            pos += n * dt.itemsize
        outs.append(one)
    return outs
