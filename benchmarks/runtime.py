"""edgekit runtime benchmark: every model on the emulated Cortex-M boards, deterministic figures.

For each model (the digits CNN and the models in ../shared/models when present) and each board,
generate firmware with the edgekit AOT runtime, build it, run it in QEMU (-icount shift=0) and
record: guest instructions per inference (deterministic), instructions per MAC, flash split into
code+rodata and model weights, RAM split into arena, stack and other static data, and whether the
outputs are byte-identical with the TFLM host interpreter on a few inputs.

TFLM reference figures (guest instructions per inference and arena, TFLM on QEMU mps2-an386,
gcc 12.2 -O2) come from ../shared/NOTES.md: they were measured once elsewhere, not in this run,
and are shown as a separate, labelled column. Code size: code+rodata (flash minus the model's weights) is
split by the linker map into the firmware core (src/: protocol, start-up, UART, timer), the runtime (model/:
kernels and the generated glue) and libc/libgcc, and compared with the TFLM + CMSIS-NN range of
edgekit._tflm_facts.RUNTIME_CODE_BYTES (also measured elsewhere: its split between TFLM and harness is not
known, so the ratio uses our whole image, core included). JSON: ``tflm_notes`` (those figures, with their
source) and ``vs_tflm_notes`` (edgekit / them). Writes benchmarks/results/runtime.json and prints a table.

Measured TFLM columns (``--tflm-dir PATH`` or ``EDGEKIT_TFLM_DIR``: a tflite-micro checkout with its third-party
downloads): every model and board also runs through TFLM in this run, with reference kernels and with CMSIS-NN,
built, validated on the same inputs and counted exactly as the edgekit rows (benchmarks/_tflm_columns.py says how
the model array is excluded from code+rodata). JSON: ``tflm_measured`` (per flavour: instructions, code+rodata,
arena used/reserved as the firmware reports them, bit-exact ...) and ``vs_tflm_measured`` (edgekit / TFLM). Each
TFLM flavour compiles all of TFLM (10-40 min on 2 cores); ``--work-dir DIR`` keeps the builds for the next run.

Sparse weights: the models are generated with ``--sparse`` (default auto: the AOT generator's cost model makes
the very sparse CONV_2D / FULLY_CONNECTED layers sparse); ``--sparse-baseline`` also builds and counts the dense
version (sparse off) of every model that got sparse layers, for the "instr dense" / "weights dense" columns.
Pruned variants (benchmarks/pruned_models.py, 75% of each filter zeroed) run when named in ``--models``.

The Cortex-M0 row (qemu-microbit: Armv6-M, no DSP, 16 KB RAM, 256 KB flash) measures the scalar kernels that
RP2040-class cores run; only small models fit (a model that does not is skipped with the linker's figures), with a
4 KB stack (``--stack-kb 4``). ``--append`` adds such rows to an existing results file.

    python benchmarks/runtime.py [--boards qemu-cortex-m4,qemu-cortex-m7] [--models kws,ic] [--runs 3]
    python benchmarks/runtime.py --models vww,ic_pruned75 --sparse-baseline
    python benchmarks/runtime.py --boards qemu-microbit --models digits,hello_world,micro_speech --stack-kb 4 --append
    EDGEKIT_TFLM_DIR=~/tflite-micro python benchmarks/runtime.py --models kws,ic,vww,ad \
        --boards qemu-cortex-m4,qemu-cortex-m7,qemu-cortex-m33,qemu-cortex-m55 --tflm-flavours tflm_cmsis_nn \
        --work-dir /tmp/ek-bench --out benchmarks/results/runtime_tflm.json    # the README's side-by-side table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEKIT_MODELS_DIR") or REPO.parent / "shared" / "models")
RESULTS = REPO / "benchmarks" / "results"

MODELS = {
    "kws": "mlperf_tiny/kws_ds_cnn_int8.tflite",
    "ic": "mlperf_tiny/ic_resnet8_int8.tflite",
    "vww": "mlperf_tiny/vww_mobilenet_int8.tflite",
    "ad": "mlperf_tiny/ad_fc_autoencoder_int8.tflite",
    "hello_world": "tflm_examples/hello_world_int8.tflite",
    "micro_speech": "tflm_examples/micro_speech_quantized_int8.tflite",
    "person_detect": "tflm_examples/person_detect_int8.tflite",
}

# ../shared/NOTES.md, "Reference figures (TFLM on QEMU mps2-an386, Cortex-M4, gcc 12.2 -O2)".
TFLM_NOTES = {
    "kws": {"ref": 42_211_320, "cmsis_nn": 7_579_121, "arena": 22_772},
    "ic": {"ref": 105_655_492, "cmsis_nn": 29_782_852, "arena": 54_340},
    "vww": {"ref": 99_315_399, "cmsis_nn": 23_777_056, "arena": 100_660},
    "ad": {"ref": 1_952_668, "cmsis_nn": 583_280, "arena": 2_260},
    "hello_world": {"ref": 5_326, "cmsis_nn": 3_618, "arena": 676},
}
TFLM_NOTES_SOURCE = ("../shared/NOTES.md: TFLM on QEMU mps2-an386, gcc 12.2 -O2, measured once elsewhere, "
                     "not in this run")


def model_paths(selected: list[str] | None, work: Path) -> dict[str, Path]:
    """The models to run: the digits CNN (trained here) plus the shared models that exist."""
    paths: dict[str, Path] = {}
    if not selected or "digits" in selected:
        from edgekit.examples_data import digits_cnn_artifacts

        paths["digits"] = digits_cnn_artifacts(work / "digits")["int8_tflite"]
    for key, rel in MODELS.items():
        if (not selected or key in selected) and (SHARED / rel).exists():
            paths[key] = SHARED / rel
    from pruned_models import PRUNED, pruned_model

    for key, (base, sparsity) in PRUNED.items():
        if selected and key in selected and (SHARED / MODELS[base]).exists():
            paths[key] = pruned_model(SHARED / MODELS[base], sparsity, work / "pruned" / f"{key}.tflite")
    return paths


_MAP_ROW = re.compile(r"^ \S+\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$")      # " .text.f  addr size file"
_MAP_CONT = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$")          # "  addr size file" after " .text.f"
_CODE_SECTIONS = (".vectors", ".text", ".rodata", ".ARM.exidx", ".data")


def code_components(map_file: Path) -> dict[str, int]:
    """Bytes of code+rodata by origin, from the GNU ld map: core (src/), runtime (model/, and TFLM's libtflm.a),
    libc/libgcc (and libstdc++ for TFLM)."""
    text = map_file.read_text(encoding="utf-8", errors="replace")
    lines = text[text.find("Linker script and memory map"):].splitlines()
    parts = {"core": 0, "runtime": 0, "libc_libgcc": 0}
    out_section = ""
    for i, line in enumerate(lines):
        if line.startswith("."):
            out_section = line.split()[0]
        m = _MAP_ROW.match(line) or (_MAP_CONT.match(line) if i and re.match(r"^ \S+$", lines[i - 1]) else None)
        if m is None or out_section not in _CODE_SECTIONS:
            continue
        size, obj = int(m.group(1), 16), m.group(2)
        key = ("core" if "/src/" in obj else "runtime" if "/model/" in obj or "libtflm.a(" in obj
               else "libc_libgcc" if ".a(" in obj else "")
        if key:
            parts[key] += size
    return parts


# Published MLPerf Tiny cycles per inference on real boards (latency x core clock; ../shared/NOTES.md, from
# mlcommons/tiny_results_v1.2/v1.3 and v0.7): the board each QEMU stand-in's core is compared with.
PUBLISHED_CYCLES: dict[str, dict[str, object]] = {
    "qemu-cortex-m4": {"board": "NUCLEO-L4R5ZI 120 MHz", "counterpart": "nucleo-l4r5zi",
                       "best": {"kws": 5.18e6, "vww": 10.67e6, "ic": 19.82e6, "ad": 0.486e6},
                       "best_by": "X-CUBE-AI 9-10 (AD: Plumerai)",
                       "tflm_cmsis_nn": {"kws": 181.9e-3 * 120e6, "vww": 600.6e-3 * 120e6, "ic": 704.2e-3 * 120e6,
                                         "ad": 10.05e-3 * 120e6}},
    "qemu-cortex-m7": {"board": "NUCLEO-H7A3ZI-Q 280 MHz", "counterpart": "nucleo-h7a3zi-q",
                       "best": {"kws": 3.17e6, "vww": 6.67e6, "ic": 11.44e6, "ad": 0.303e6},
                       "best_by": "X-CUBE-AI (AD: Bosch)"},
    "qemu-cortex-m33": {"board": "STM32U575 160 MHz / Renesas EK-RA6M4 200 MHz", "counterpart": None,
                        "best": {"kws": 4.64e6, "vww": 9.48e6, "ic": 16.69e6, "ad": 0.495e6},
                        "best_by": "U575: X-CUBE-AI (IC: Plumerai, AD: Bosch)",
                        "tflm_cmsis_nn": {"kws": 10.11e6, "vww": 32.5e6, "ic": 49.2e6, "ad": 0.92e6}},
    "qemu-cortex-m55": {"board": "no Cortex-M55 submission; Renesas EK-RA8D1 (M85) 480 MHz", "counterpart": None,
                        "best": {}, "best_by": "",
                        "tflm_cmsis_nn": {"kws": 1.66e6, "vww": 6.43e6, "ic": 4.07e6, "ad": 0.255e6}},
}


def cycle_columns(name: str, board: str, cycles: dict | None) -> dict:
    """Estimated cycles (model, QEMU board: no wait states), the same mix at the real counterpart board's flash
    wait states, and the published cycles of that board. Figures, not assertions."""
    if not cycles:
        return {}
    from edgekit.boards import load_board
    from edgekit.cycles import Mix, board_flash_wait_states, estimate, timing_for

    out = {"estimated_cycles": cycles["estimated_cycles"], "estimated_cycles_per_mac": cycles.get("cycles_per_mac"),
           "cycle_model": cycles["core_table"], "flash_data_loads": cycles["mix"]["flash_data_loads"]}
    pub = PUBLISHED_CYCLES.get(board)
    if pub is None:
        return out
    if pub.get("counterpart"):
        real = load_board(str(pub["counterpart"]))
        mix = cycles["mix"]
        m = Mix(total=mix["instructions"], unknown=mix["unclassified"], branches_taken=mix["branches_taken"],
                branches_not_taken=mix["branches_not_taken"], flash_loads=mix["flash_data_loads"],
                counts=mix["by_class"], weights=mix["registers_or_beats"])
        t = timing_for(real.core)
        if t is not None:
            ws = board_flash_wait_states(real)
            out["estimated_cycles_counterpart"] = {"board": real.id, "flash_wait_states": ws,
                                                   "cycles": round(estimate(m, t, flash_wait_states=ws).cycles)}
    out["published"] = {"board": pub["board"], "best_cycles": pub["best"].get(name), "best_by": pub["best_by"],
                        "tflm_cmsis_nn_cycles": (pub.get("tflm_cmsis_nn") or {}).get(name)}
    return out


def counterpart_wait_states(board: str) -> int | None:
    """The flash wait states of the real board that ``board``'s core is compared with (PUBLISHED_CYCLES), or None."""
    from edgekit.boards import load_board
    from edgekit.cycles import board_flash_wait_states

    real = (PUBLISHED_CYCLES.get(board) or {}).get("counterpart")
    return board_flash_wait_states(load_board(str(real))) if real else None


def run_one(name: str, model: Path, board: str, runs: int, work: Path, sparse: str = "auto",
            baseline: bool = False, tflm: Path | None = None, stack_bytes: int = 8192,
            flavours: tuple[str, ...] | None = None, weights: str = "auto", weights_ws: str = "board",
            per_layer: bool = False) -> dict:
    """Generate, build, validate on a few inputs and benchmark one model on one board (``baseline``: also the
    dense build, when ``sparse`` made any layer sparse; ``tflm``: a tflite-micro tree, also measure TFLM in
    ``flavours`` (default: all of _tflm_columns.FLAVOURS)); ``weights``: DSP cores' weight width (generate
    ``--weights``), chosen at the board's own flash wait states (``weights_ws`` "board"), at those of the real
    board its core is compared with ("counterpart") or at a number of wait states ("4"); ``per_layer``: also
    record the per-layer profile."""
    from edgekit._tflm_facts import RUNTIME_CODE_BYTES
    from edgekit.benchmarking import bench
    from edgekit.buildsys import build
    from edgekit.generation import generate
    from edgekit.inspection import inspect
    from edgekit.tflite_model import load_model
    from edgekit.validation import validate

    m = load_model(model)
    macs = inspect(m, arena=False).macs
    t0 = time.perf_counter()
    ws = (counterpart_wait_states(board) if weights_ws == "counterpart" else
          int(weights_ws) if weights_ws.isdigit() else None)
    gen = generate(model, board=board, out_dir=work / f"{name}-{board}", sparse=sparse, stack_bytes=stack_bytes,
                   weights=weights, flash_wait_states=ws)
    built = build(gen.project_dir)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    inp = m.main.tensors[m.main.inputs[0]]
    xs = rng.integers(-128, 128, size=(3, *inp.shape), dtype=np.int8)
    val = validate(model, board=board, inputs=xs, project_dir=gen.project_dir)
    res = bench(gen.project_dir, board=board, runs=runs, warmup=1, per_layer=per_layer).to_dict()
    count = res["timing"]["count"]["median"]
    code = built.flash_bytes - built.weights_bytes
    parts = code_components(gen.project_dir / "build" / "firmware.map")
    row = {
        "model": name, "board": board, "macs": macs,
        "instructions": int(count), "instructions_per_mac": round(count / macs, 3) if macs else None,
        "count_basis": res["timing"]["basis"], "deterministic": len(set(res["timing"]["ticks"])) == 1,
        "flash_bytes": built.flash_bytes, "weights_bytes": built.weights_bytes, "code_rodata_bytes": code,
        "code_core_bytes": parts["core"], "code_runtime_bytes": parts["runtime"],
        "code_libc_bytes": parts["libc_libgcc"],
        "ram_bytes": built.ram_bytes, "arena_bytes": built.arena_bytes, "stack_reserved_bytes": built.stack_bytes,
        "stack_used_bytes": res["memory"].get("stack_used_bytes"),
        "static_other_bytes": built.ram_bytes - built.arena_bytes - built.stack_bytes,
        "bit_exact": f"{val.byte_exact}/{val.inputs}", "build_s": round(build_s, 1),
        "sparse": sparse, "sparse_layers": _sparse_layers(gen.project_dir),
        "weights": weights, "weights_chosen_at_wait_states": ws if ws is not None else "board",
        "kernel_variants": [{k: v[k] for k in ("op", "variant", "reuse", "est_cycles_int8", "est_cycles_int16")}
                            for v in gen.summary.get("kernel_variants") or []],
        **({"per_layer": res["per_layer"]} if per_layer and res.get("per_layer") else {}),
        **cycle_columns(name, board, res.get("cycles")),
    }
    if baseline and row["sparse_layers"]:
        dense = generate(model, board=board, out_dir=work / f"{name}-{board}-dense", sparse="off")
        built_dense = build(dense.project_dir)
        res_dense = bench(dense.project_dir, board=board, runs=runs, warmup=1).to_dict()
        row["instructions_dense"] = int(res_dense["timing"]["count"]["median"])
        row["weights_bytes_dense"] = built_dense.weights_bytes
        row["flash_bytes_dense"] = built_dense.flash_bytes
    ref = TFLM_NOTES.get(name)
    if ref and board == "qemu-cortex-m4":
        row["tflm_notes"] = {**ref, "source": TFLM_NOTES_SOURCE}
        low, high = RUNTIME_CODE_BYTES["cmsis-nn"]
        row["vs_tflm_notes"] = {"instructions_ref": round(count / ref["ref"], 3),
                                "instructions_cmsis_nn": round(count / ref["cmsis_nn"], 3),
                                "arena": round(built.arena_bytes / ref["arena"], 3),
                                "code_rodata_cmsis_nn": [round(code / low, 3), round(code / high, 3)]}  # low/high
    if tflm is not None:
        from _tflm_columns import FLAVOURS, add_measured, measure, tree_facts

        measured = {f: measure(name, model, board, f, tflm, runs, work, xs) for f in (flavours or FLAVOURS)}
        for m in measured.values():
            m.update(cycle_columns(name, board, m.pop("cycles", None)))
            split = code_components(Path(m.pop("project_dir")) / "build" / "firmware.map")
            m.update(code_core_bytes=split["core"], code_runtime_bytes=split["runtime"],
                     code_libc_bytes=split["libc_libgcc"])
        add_measured(row, measured, tree_facts(tflm))
    return row


def _sparse_layers(project_dir: Path) -> int:
    """Layers the generated model runs with the sparse-weight kernels (ek_sparse.h)."""
    text = (Path(project_dir) / "model" / "ek_model.c").read_text()
    return text.count("ek_sparse_conv2d_s8(&p") + text.count("ek_sparse_fc_s8(&p")


def render(rows: list[dict]) -> None:
    """Print the results as a rich table."""
    t = Table(title="edgekit AOT runtime on QEMU (guest instructions per inference, -icount shift=0)")
    for col in ("model", "board", "MACs", "instr", "instr/MAC", "x TFLM ref*", "x TFLM+CMSIS-NN*", "code+rodata",
                "core/runtime/lib", "x TFLM+CMSIS-NN code*", "weights", "sparse ops", "instr dense", "weights dense",
                "arena", "x TFLM arena*", "stack used",
                "bit-exact", "est. cycles", "est. cyc/MAC", "est. @real WS", "published best"):
        t.add_column(col, justify="right" if col not in ("model", "board") else "left")
    for r in rows:
        notes = r.get("vs_tflm_notes", {})
        t.add_row(r["model"], r["board"], f"{r['macs']:,}", f"{r['instructions']:,}", f"{r['instructions_per_mac']}",
                  str(notes.get("instructions_ref", "")), str(notes.get("instructions_cmsis_nn", "")),
                  f"{r['code_rodata_bytes']:,}",
                  f"{r.get('code_core_bytes', '?')}/{r.get('code_runtime_bytes', '?')}/{r.get('code_libc_bytes', '?')}",
                  "-".join(map(str, notes.get("code_rodata_cmsis_nn", []))),
                  f"{r['weights_bytes']:,}", str(r.get("sparse_layers", "")),
                  f"{r['instructions_dense']:,}" if "instructions_dense" in r else "",
                  f"{r['weights_bytes_dense']:,}" if "weights_bytes_dense" in r else "",
                  f"{r['arena_bytes']:,}", str(notes.get("arena", "")),
                  str(r["stack_used_bytes"]), r["bit_exact"], *_cycle_cells(r))
    console = Console(width=max(Console().width, 160))
    console.print(t)
    console.print("* TFLM columns are ratios to the reference figures in ../shared/NOTES.md (TFLM on QEMU "
                    "mps2-an386, measured once, not in this run); < 1 means edgekit is smaller/faster. Code: our "
                    "code+rodata over the low and high end of TFLM+CMSIS-NN's 49-106 KB (edgekit._tflm_facts).")
    measured = [r for r in rows if "tflm_measured" in r]
    if measured:
        console.print(_measured_table(measured))


def _published_tflm(m: dict) -> str:
    pub = (m.get("published") or {}).get("tflm_cmsis_nn_cycles")
    return f"{pub / 1e6:.2f} M" if pub else ""


def _cycle_cells(r: dict) -> tuple[str, str, str, str]:
    """est. cycles, est. cycles/MAC, est. at the real board's wait states, published best (by whom)."""
    est, cpm = r.get("estimated_cycles"), r.get("estimated_cycles_per_mac")
    real = (r.get("estimated_cycles_counterpart") or {}).get("cycles")
    best = (r.get("published") or {}).get("best_cycles")
    return (f"{est:,}" if est else "", f"{cpm:.2f}" if cpm else "", f"{real:,}" if real else "",
            f"{best / 1e6:.2f} M" if best else "")


def _measured_table(rows: list[dict]) -> Table:
    """TFLM measured in this run next to the edgekit row: one line per model, board and TFLM flavour."""
    t = Table(title="TFLM measured in this run (same models, inputs, QEMU counting); x = edgekit / TFLM")
    for col in ("model", "board", "runtime", "instr", "x instr", "code+rodata", "x code", "x code w/o core",
                "arena used/reserved",
                "x arena", "ram", "bit-exact", "est. cycles", "est. @real WS", "published TFLM+CMSIS-NN"):
        t.add_column(col, justify="right" if col not in ("model", "board", "runtime") else "left")
    for r in rows:
        t.add_row(r["model"], r["board"], "edgekit", f"{r['instructions']:,}", "", f"{r['code_rodata_bytes']:,}", "",
                  "", f"{r['arena_bytes']:,}", "", f"{r['ram_bytes']:,}", r["bit_exact"], _cycle_cells(r)[0],
                  _cycle_cells(r)[2], "")
        for flavour, vs in r["vs_tflm_measured"].items():
            m = r["tflm_measured"][flavour]
            t.add_row("", "", flavour, f"{m['instructions']:,}", str(vs["instructions"]), f"{m['code_rodata_bytes']:,}",
                      str(vs["code_rodata"]), str(vs.get("code_rodata_without_core", "")),
                      f"{m['arena_used_bytes']:,}/{m['arena_reserved_bytes']:,}",
                      str(vs["arena"]), f"{m['ram_bytes']:,}", m["bit_exact"], _cycle_cells(m)[0], _cycle_cells(m)[2],
                      _published_tflm(m))
    return t


def main() -> int:
    """Run the benchmark and write benchmarks/results/runtime.json."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", default="qemu-cortex-m4", help="comma-separated board ids")
    ap.add_argument("--models", default="", help="comma-separated subset: digits," + ",".join(MODELS)
                    + " (pruned variants: ic_pruned75, kws_pruned75, vww_pruned75)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sparse", default="auto", choices=("auto", "off", "force"), help="sparse weights (generate)")
    ap.add_argument("--sparse-baseline", action="store_true",
                    help="also build and count the dense (sparse off) version of models that got sparse layers")
    ap.add_argument("--tflm-dir", default=None,
                    help="tflite-micro tree: also measure TFLM (reference and CMSIS-NN) in this run "
                         "(default: $EDGEKIT_TFLM_DIR; unset: only the NOTES figures)")
    ap.add_argument("--tflm-flavours", default="",
                    help="comma-separated subset of tflm_ref,tflm_cmsis_nn to measure with --tflm-dir (default: both)")
    ap.add_argument("--weights", default="auto", choices=("auto", "int8", "int16"),
                    help="DSP cores: weight width per layer (generate --weights)")
    ap.add_argument("--weights-ws", default="board",
                    help="--weights auto chooses at the board's flash wait states (board), at its real "
                         "counterpart's (counterpart), or at N")
    ap.add_argument("--per-layer", action="store_true", help="also record the per-layer profile (bench --per-layer)")
    ap.add_argument("--tag", default="", help="a label stored in each row (e.g. which variant run it was)")
    ap.add_argument("--work-dir", default=None,
                    help="keep generated projects and builds here (default: a temporary directory); TFLM builds "
                         "left there are reused")
    ap.add_argument("--stack-kb", type=int, default=8, help="stack reserved by the firmware (qemu-microbit: 4)")
    ap.add_argument("--append", action="store_true",
                    help="keep the rows of --out for other (model, board) pairs, e.g. to add one board's rows")
    ap.add_argument("--out", default=str(RESULTS / "runtime.json"))
    args = ap.parse_args()
    from _tflm_columns import FLAVOURS, tflm_tree

    from edgekit.errors import BuildError, DeviceError, UsageError

    try:
        tflm = tflm_tree(args.tflm_dir)
    except UsageError as exc:
        ap.error(f"{exc} ({exc.hint})")
    flavours = tuple(f for f in args.tflm_flavours.split(",") if f) or None
    if flavours and set(flavours) - set(FLAVOURS):
        ap.error(f"--tflm-flavours: unknown {sorted(set(flavours) - set(FLAVOURS))} (known: {', '.join(FLAVOURS)})")
    selected = [m for m in args.models.split(",") if m] or None
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        work = Path(args.work_dir).expanduser().resolve() if args.work_dir else Path(tmp)
        paths = model_paths(selected, work)
        for board in args.boards.split(","):
            for name, path in paths.items():
                try:
                    for attempt in range(3):  # a loaded machine can starve QEMU past the serial link's timeouts
                        try:
                            rows.append(run_one(name, path, board, args.runs, work, args.sparse,
                                                args.sparse_baseline, tflm, stack_bytes=args.stack_kb * 1024,
                                                flavours=flavours, weights=args.weights, weights_ws=args.weights_ws,
                                                per_layer=args.per_layer))
                            break
                        except DeviceError as exc:
                            if attempt == 2:
                                raise
                            print(f"retrying {name} on {board} after: {exc.message}")
                    rows[-1]["tag"] = args.tag
                except BuildError as exc:  # e.g. a model larger than qemu-microbit's 16 KB RAM / 256 KB flash
                    if "does not fit" not in exc.message:
                        raise
                    print(f"skipped {name} on {board}: {exc.message}")
    out = Path(args.out)
    if args.append and out.is_file():
        mine = {(r["model"], r["board"], r.get("tag", "")) for r in rows}
        rows = [r for r in json.loads(out.read_text())["results"]
                if (r["model"], r["board"], r.get("tag", "")) not in mine] + rows
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "runtime", "date": time.strftime("%Y-%m-%d"),
                               "machine": {"platform": platform.platform(), "python": platform.python_version()},
                               "results": rows}, indent=2) + "\n")
    render(rows)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
