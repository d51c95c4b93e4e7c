"""Fit the per-variant cost model of edgekit/codegen/aot/variants.py to measured per-layer counts, and check it.

Input: a results file of ``benchmarks/runtime.py --per-layer --weights int8|int16 --tag int8|int16`` (the same
models and boards run once with every eligible layer on int8 weights, once on int16), e.g.::

    python benchmarks/runtime.py --boards qemu-cortex-m4,qemu-cortex-m7,qemu-cortex-m33 --models kws,ic,vww,ad \\
        --runs 1 --weights int8 --per-layer --tag int8 --append --out raw.json   # and again with int16
    python benchmarks/variant_fit.py raw.json --out benchmarks/results/variant_model.json

The layers: each model's CONV_2D / FULLY_CONNECTED layers that can run on either width (``generate_c`` with
``weights="int16"`` lists them with their geometry), minus those made sparse or fused with an ADD in either run
(their rows measure more than the kernel). Per (kind, variant) the instruction constants (per MAC, per output value,
per gathered tap) are a least-squares fit (relative error) to the Cortex-M4 rows, the same terms in estimated cycles
at zero wait states (the plugin's mix priced by the core's table) are fitted per core, and the flash data loads per
MAC are a ratio of sums. Printed and
written: the constants, and per layer the predicted vs measured instructions and cycles (at zero wait states and at
the wait states of the real board each QEMU core is compared with) with their errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime import MODELS, SHARED, counterpart_wait_states

VARIANTS = ("int8", "int16")


def layer_geometry(model: Path) -> tuple[dict[int, object], set[int]]:
    """The model's layers that can take either width (variants.Layer by op) and the ops to leave out of the fit
    (sparse or fused in either width)."""
    from edgekit.codegen.aot import generate_c
    from edgekit.cores import CoreFeatures

    dsp = CoreFeatures(dsp=True)
    skip: set[int] = set()
    layers: dict[int, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in VARIANTS:
            res = generate_c(model, Path(tmp) / w, features=dsp, weights=w)
            if w == "int16":
                layers = {lay.op: lay for lay in res.w16_layers}
            for note in res.notes:
                if m := re.match(r"op (\d+) \w+: sparse weights", note):
                    skip.add(int(m.group(1)))
                if m := re.match(r"ops (\d+)\+(\d+) CONV_2D\+ADD fused", note):
                    skip.update({int(m.group(1)), int(m.group(2))})
    return layers, skip


def collect(rows: list[dict]) -> list[dict]:
    """One sample per (model, board, variant, layer): the layer's geometry and its measured row."""
    geo: dict[str, tuple[dict, set[int]]] = {}
    out = []
    for r in rows:
        if r.get("tag") not in VARIANTS or "per_layer" not in r:
            continue
        if r["model"] not in geo:
            geo[r["model"]] = layer_geometry(SHARED / MODELS[r["model"]])
        layers, skip = geo[r["model"]]
        for row in r["per_layer"]["layers"]:
            lay = layers.get(row["op"])
            if lay is None or row["op"] in skip or row["ops"] != [row["op"]]:
                continue
            out.append({"model": r["model"], "board": r["board"], "variant": r["tag"], "layer": lay,
                        "instructions": row["instructions"], "cycles0": row["estimated_cycles"],
                        "flash_loads": row["flash_data_loads"]})
    return out


def _lstsq(lays: list, y: np.ndarray, kind: str) -> np.ndarray:
    """Per-MAC, per-output and (conv) per-tap coefficients minimising the relative error of ``y``."""
    cols = [np.array([lay.macs for lay in lays], dtype=float),
            np.array([lay.rows * lay.pixels for lay in lays], dtype=float)]
    if kind == "conv":
        cols.append(np.array([lay.taps * lay.pixels for lay in lays], dtype=float))
    a = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(a / y[:, None], np.ones_like(y), rcond=None)
    return np.maximum(coef, 0.0)


def fit(samples: list[dict]) -> dict:
    """The constants of variants.KERNELS and variants.CPI from the samples."""
    from edgekit.cycles.model import timing_for

    kernels: dict[str, dict] = {}
    cyc: dict[str, dict] = {}
    for kind in ("conv", "fc"):
        for v in VARIANTS:
            m4 = [s for s in samples if s["board"] == "qemu-cortex-m4" and s["variant"] == v
                  and s["layer"].kind == kind]
            if not m4:
                continue
            lays = [s["layer"] for s in m4]
            coef = _lstsq(lays, np.array([s["instructions"] for s in m4], dtype=float), kind)
            kernels[f"{kind}/{v}"] = {
                "per_mac": round(float(coef[0]), 3), "per_output": round(float(coef[1]), 2),
                "per_tap": round(float(coef[2]), 2) if kind == "conv" else 0.0,
                "flash_words_per_mac": round(sum(s["flash_loads"] for s in m4) / sum(lay.macs for lay in lays), 4),
                "layers": len(m4)}
            for board in sorted({s["board"] for s in samples}):
                sel = [s for s in samples if s["board"] == board and s["variant"] == v and s["layer"].kind == kind]
                if sel:
                    core = board.replace("qemu-", "")
                    c = _lstsq([s["layer"] for s in sel], np.array([s["cycles0"] for s in sel], dtype=float), kind)
                    cyc.setdefault(core, {})[f"{kind}/{v}"] = {
                        "per_mac": round(float(c[0]), 3), "per_output": round(float(c[1]), 2),
                        "per_tap": round(float(c[2]), 2) if kind == "conv" else 0.0, "layers": len(sel),
                        "cycles_per_instruction": round(sum(s["cycles0"] for s in sel)
                                                        / sum(s["instructions"] for s in sel), 3)}
    fractions = {core: timing_for(core).flash_load_fraction for core in cyc if timing_for(core) is not None}
    return {"kernels": kernels, "cycles": cyc, "flash_load_fraction": fractions}


def check(samples: list[dict], consts: dict) -> list[dict]:
    """Predicted vs measured per layer with the fitted constants."""
    out = []
    for s in samples:
        lay, v = s["layer"], s["variant"]
        k = consts["kernels"][f"{lay.kind}/{v}"]
        core = s["board"].replace("qemu-", "")
        instr = k["per_mac"] * lay.macs + k["per_output"] * lay.rows * lay.pixels + k["per_tap"] * lay.taps * lay.pixels
        c = consts["cycles"][core][f"{lay.kind}/{v}"]
        cyc0 = c["per_mac"] * lay.macs + c["per_output"] * lay.rows * lay.pixels + c["per_tap"] * lay.taps * lay.pixels
        ws = counterpart_wait_states(s["board"]) or 0
        frac = consts["flash_load_fraction"][core]
        pred_ws = cyc0 + k["flash_words_per_mac"] * lay.macs * ws * frac
        meas_ws = s["cycles0"] + s["flash_loads"] * ws * frac
        out.append({"model": s["model"], "board": s["board"], "op": lay.op, "kind": lay.kind, "variant": v,
                    "macs": lay.macs, "reuse": lay.reuse, "instructions": s["instructions"],
                    "predicted_instructions": round(instr), "instructions_error": instr / s["instructions"] - 1,
                    "cycles_0ws": s["cycles0"], "predicted_cycles_0ws": round(cyc0),
                    "cycles_0ws_error": cyc0 / s["cycles0"] - 1, "counterpart_wait_states": ws,
                    "cycles_ws": round(meas_ws), "predicted_cycles_ws": round(pred_ws),
                    "cycles_ws_error": pred_ws / meas_ws - 1})
    return out


def summary(checks: list[dict]) -> dict:
    """Mean absolute and worst per-layer errors, and the error of the sums per (model, board, variant)."""
    def stats(key: str) -> dict:
        e = np.abs([c[key] for c in checks])
        return {"mean_abs": round(float(e.mean()), 4), "max_abs": round(float(e.max()), 4)}

    sums = {}
    for c in checks:
        k = f"{c['model']}/{c['board']}/{c['variant']}"
        a = sums.setdefault(k, [0, 0, 0, 0])
        a[0] += c["predicted_cycles_ws"]
        a[1] += c["cycles_ws"]
        a[2] += c["predicted_instructions"]
        a[3] += c["instructions"]
    return {"instructions": stats("instructions_error"), "cycles_0ws": stats("cycles_0ws_error"),
            "cycles_ws": stats("cycles_ws_error"), "layers": len(checks),
            "sum_errors": {k: {"cycles_ws": round(v[0] / v[1] - 1, 4), "instructions": round(v[2] / v[3] - 1, 4)}
                           for k, v in sorted(sums.items())}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("raw", help="results of runtime.py --per-layer --tag int8|int16")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "variant_model.json"))
    args = ap.parse_args()
    samples = collect(json.loads(Path(args.raw).read_text())["results"])
    consts = fit(samples)
    checks = check(samples, consts)
    summ = summary(checks)
    print(json.dumps({"constants": consts, "summary": {k: v for k, v in summ.items() if k != "sum_errors"}},
                     indent=1))
    for c in sorted(checks, key=lambda c: -abs(c["cycles_ws_error"]))[:10]:
        print(f"  worst: {c['model']} {c['board']} op {c['op']} {c['variant']}: instr {c['instructions_error']:+.1%}"
              f" cycles@{c['counterpart_wait_states']}WS {c['cycles_ws_error']:+.1%}")
    Path(args.out).write_text(json.dumps({"benchmark": "variant_model", "source": args.raw, "constants": consts,
                                          "summary": summ, "layers": checks}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
