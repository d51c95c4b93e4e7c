"""Per-layer weight width (int8 / int16) chosen by the cycle model vs all-int8 and all-int16, on the DSP cores.

For each board (QEMU Cortex-M4 / M7 / M33) and model, three builds through ``runtime.py``'s ``run_one`` (generate,
build, validate bit-exact against the TFLM host interpreter, bench with the instruction-mix plugin):
``--weights int8`` (the runtime before the widened kernels), ``--weights int16`` (every layer that can widened: the
previous choice), and ``--weights auto`` with the choice made at the flash wait states of the real board the core is
compared with (and at zero wait states). Estimated cycles are given at zero wait states and at those wait states
(the timed inference's mix, its data loads from flash priced as edgekit/cycles/model.py does). When the automatic
choice equals one of the forced ones (every eligible layer widened, or none) its generated code is that build's, so
that row is reused instead of built again (``auto_same_as``).

Real boards' flash wait states: NUCLEO-L4R5ZI (M4, 120 MHz) and NUCLEO-H7A3ZI-Q (M7, 280 MHz) from their board
profiles; the M33 has no board profile with wait states, so the STM32U575 of the published figures is used: 4 WS at
160 MHz in voltage range 1 (RM0456, "Number of wait states according to CPU clock frequency").

    python benchmarks/runtime_variants.py [--from raw.json] [--boards ...] [--models kws,ic,vww,ad]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime import RESULTS, counterpart_wait_states, model_paths, run_one

BOARDS = ("qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m33")
REAL_WS = {"qemu-cortex-m33": (4, "STM32U575 at 160 MHz, range 1: 4 WS (RM0456); no board profile in boards/")}


def real_wait_states(board: str) -> tuple[int, str]:
    """The flash wait states of the real board ``board``'s core is compared with, and where the figure comes from."""
    if board in REAL_WS:
        return REAL_WS[board]
    ws = counterpart_wait_states(board)
    return (ws or 0), "board profile of the counterpart in runtime.PUBLISHED_CYCLES"


def at_ws(row: dict, board: str, ws: int) -> int:
    """The row's estimated cycles with its flash data loads priced at ``ws`` wait states."""
    from edgekit.boards import load_board
    from edgekit.cycles import timing_for

    t = timing_for(load_board(board).core)
    loads = row.get("flash_data_loads")
    if loads is None:  # rows written before runtime.py stored the total: the per-layer sum (the prologue reads none)
        loads = sum(layer["flash_data_loads"] for layer in row["per_layer"]["layers"])
    return round(row["estimated_cycles"] + loads * ws * t.flash_load_fraction)


def decision(model: Path, board: str, ws: int) -> list[dict]:
    """The per-layer choice ``generate --weights auto`` makes for ``board`` at ``ws`` wait states (no build)."""
    from edgekit.boards import load_board
    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.variants import Target
    from edgekit.codegen.project import CODE_FLASH_RESERVE

    b = load_board(board)
    budget = max(b.memory.flash_kb * 1024 - CODE_FLASH_RESERVE, 0) if b.memory.flash_kb else None
    with tempfile.TemporaryDirectory() as tmp:
        return generate_c(model, tmp, features=b.features, weights_budget=budget,
                          target=Target(b.core, ws)).variants


def _retry(name: str, path: Path, board: str, work: Path, attempts: int = 3, **kw: object) -> dict:
    """``run_one`` (one timed run), again after a serial-link timeout (a loaded machine can starve QEMU for seconds)."""
    from edgekit.errors import DeviceError

    for k in range(attempts):
        try:
            return run_one(name, path, board, 1, work, **kw)
        except DeviceError as exc:
            if k == attempts - 1:
                raise
            print(f"retrying after: {exc.message}", flush=True)
    raise AssertionError("unreachable")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", default=",".join(BOARDS))
    ap.add_argument("--models", default="kws,ic,vww,ad")
    ap.add_argument("--from", dest="source", default=None,
                    help="rows of runtime.py --tag int8 / --tag int16 runs to reuse instead of building again")
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--out", default=str(RESULTS / "runtime_variants.json"))
    args = ap.parse_args()
    have = {}
    if args.source:
        for r in json.loads(Path(args.source).read_text())["results"]:
            have[(r["model"], r["board"], r.get("tag", ""))] = r
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekit-variants-") as tmp:
        work = Path(args.work_dir or tmp)
        paths = model_paths(args.models.split(","), work)
        for board in args.boards.split(","):
            ws, ws_source = real_wait_states(board)
            for name, path in paths.items():
                runs: dict[str, dict] = {}
                for mode in ("int8", "int16"):
                    runs[mode] = have.get((name, board, mode)) or _retry(name, path, board, work / mode,
                                                                        weights=mode, per_layer=True)
                entry = {"model": name, "board": board, "real_wait_states": ws, "real_wait_states_source": ws_source}
                for label, w in (("auto_0ws", 0), ("auto_real_ws", ws)):
                    chosen = decision(path, board, w)
                    wide = sum(v["variant"] == "int16" for v in chosen)
                    same = "int16" if wide == len(chosen) else "int8" if wide == 0 else None
                    if same is None:
                        wdir = work / label
                        wdir.mkdir(parents=True, exist_ok=True)
                        row = _retry(name, path, board, wdir, weights="auto", per_layer=True,
                                     weights_ws=str(w) if w else "board")
                    else:
                        row = runs[same]
                    runs[label] = {**row, "auto_same_as": same, "decisions": chosen}
                for label, row in runs.items():
                    entry[label] = {
                        "instructions": row["instructions"], "estimated_cycles_0ws": row["estimated_cycles"],
                        "estimated_cycles_real_ws": at_ws(row, board, ws), "weights_bytes": row["weights_bytes"],
                        "code_rodata_bytes": row["code_rodata_bytes"], "arena_bytes": row["arena_bytes"],
                        "bit_exact": row["bit_exact"],
                        **({"auto_same_as": row["auto_same_as"],
                            "layers_int16": sum(v["variant"] == "int16" for v in row["decisions"]),
                            "layers_eligible": len(row["decisions"]),
                            "decisions": [{k: v[k] for k in ("op", "opcode", "variant", "reuse", "est_cycles_int8",
                                                             "est_cycles_int16")} for v in row["decisions"]]}
                           if "decisions" in row else {})}
                rows.append(entry)
                print(line(entry), flush=True)
    out = Path(args.out)
    out.write_text(json.dumps({"benchmark": "runtime_variants", "date": time.strftime("%Y-%m-%d"),
                               "machine": {"platform": platform.platform(), "python": platform.python_version()},
                               "basis": "QEMU -icount instructions; cycles estimated by edgekit/cycles from the timed "
                                        "inference's instruction mix (not measurements)",
                               "results": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def line(e: dict) -> str:
    """One Markdown table row: instructions and estimated cycles of all-int8 / all-int16 / auto."""
    def m(v: float) -> str:
        return f"{v / 1e6:.3f}"

    a0, aw = e["auto_0ws"], e["auto_real_ws"]
    return (f"| {e['model']} | {e['board'].replace('qemu-cortex-', '')} | "
            f"{m(e['int8']['instructions'])} / {m(e['int16']['instructions'])} / {m(aw['instructions'])} | "
            f"{m(e['int8']['estimated_cycles_0ws'])} / {m(e['int16']['estimated_cycles_0ws'])} / "
            f"{m(a0['estimated_cycles_0ws'])} | {e['real_wait_states']} | "
            f"{m(e['int8']['estimated_cycles_real_ws'])} / {m(e['int16']['estimated_cycles_real_ws'])} / "
            f"{m(aw['estimated_cycles_real_ws'])} | {aw['layers_int16']}/{aw['layers_eligible']} | "
            f"{aw['weights_bytes']:,} | {aw['bit_exact']} |")


if __name__ == "__main__":
    raise SystemExit(main())
