"""A sweep's figures per cell, its table (CSV) and its HTML report with the Pareto view of :mod:`edgekit.pareto`.

Each cell's figures come from its bench result (``edgekit.bench/1``): instructions (QEMU ``-icount``: exact and
repeatable) or cycles per inference, latency at the board's clock, flash and RAM of the image, the arena, the
modelled energy; ``byte_exact`` when the cell was validated.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from edgekit.pareto import Constraint, Objective, pareto_flags, pareto_svg, recommend

__all__ = ["COLUMNS", "figures", "pareto_view", "render_html", "table_csv", "table_row"]

COLUMNS = ("id", "status", "model", "board", "runtime", "sparse", "quantization", "recipe", "instructions",
           "latency_us", "flash_bytes", "ram_bytes", "arena_bytes", "energy_uj", "byte_exact", "pareto", "attempts")
_LABELS = {"latency_us": "latency (µs)", "instructions": "instructions / inference", "flash_bytes": "flash (B)",
           "ram_bytes": "RAM (B)", "arena_bytes": "arena (B)", "energy_uj": "energy (µJ)"}


def figures(row: dict[str, Any]) -> dict[str, Any]:
    """The cell's headline figures (None where it has none, e.g. a failed cell)."""
    b = row.get("bench") or {}
    t, m, e = b.get("timing") or {}, b.get("memory") or {}, b.get("energy") or {}
    gen = (row.get("generate") or {}).get("summary") or {}
    v = row.get("validation")
    count = (t.get("count") or {}).get("median")
    return {"instructions": count if t.get("basis") == "instructions" else None,
            "cycles": count if t.get("basis") == "cycles" else None,
            "latency_us": (t.get("latency_us") or {}).get("median"),
            "flash_bytes": m.get("flash_bytes"), "ram_bytes": m.get("ram_bytes"),
            "arena_bytes": gen.get("arena_bytes") or (row.get("build") or {}).get("arena_bytes"),
            "energy_uj": e.get("per_inference_uj"),
            "byte_exact": None if not v else f"{v['byte_exact']}/{v['inputs']}",
            "runtime": (row.get("generate") or {}).get("runtime") or row["options"]["runtime"]}


def pareto_view(rows: list[dict[str, Any]], objectives: list[tuple[str, str]],
                constraints: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Which cells are on the Pareto front of ``objectives``, and the one recommended under ``constraints``."""
    objs = [Objective(k, d, _LABELS.get(k, k)) for k, d in objectives]
    figs = [{**r.get("figures", {})} if r.get("status") == "ok" else {} for r in rows]
    flags = pareto_flags(figs, objs) if objs else [False] * len(rows)
    cons = [Constraint(k, lim.get("min"), lim.get("max")) for k, lim in constraints.items()]
    rec = recommend(figs, objs, cons) if objs and rows else None
    return {"objectives": [{"key": o.key, "direction": o.direction} for o in objs],
            "constraints": constraints, "front": [r["id"] for r, f in zip(rows, flags, strict=True) if f],
            "recommended": rows[rec.index]["id"] if rec and rec.index is not None else None,
            "reason": rec.reason if rec else "no cells",
            "why_not": {rows[i]["id"]: why for i, why in sorted(rec.rejected.items())} if rec else {}, "flags": flags}


def table_row(row: dict[str, Any], on_front: bool) -> dict[str, Any]:
    f, o = row.get("figures") or {}, row["options"]
    return {"id": row["id"], "status": row["status"], "model": row["model"]["name"], "board": row["board"],
            "runtime": f.get("runtime") or o["runtime"], "sparse": o.get("sparse"),
            "quantization": o.get("quantization") or "", "recipe": o.get("recipe") or "",
            **{k: f.get(k) for k in ("instructions", "latency_us", "flash_bytes", "ram_bytes", "arena_bytes",
                                      "energy_uj", "byte_exact")},
            "pareto": "yes" if on_front else "", "attempts": row.get("attempts", 1)}


def table_csv(doc: dict[str, Any]) -> str:
    """The sweep as CSV, one line per cell (the columns of :data:`COLUMNS`)."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    front = set(doc["pareto"]["front"])
    for row in doc["cells"]:
        w.writerow({k: ("" if v is None else v) for k, v in table_row(row, row["id"] in front).items()})
    return out.getvalue()


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:,.1f}"
    return f"{x:,}" if isinstance(x, int) else _e(x)


_CSS = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}td.n{text-align:right}"
        "tr.front td{background:#e8f6ec}tr.failed td{color:#a33}.note{color:#555;font-size:90%}"
        ".axis{stroke:#333}.title{font-size:13px;font-weight:bold}.label,.tick{font-size:11px}"
        "svg{display:block;margin:0.5em 0}")


def render_html(doc: dict[str, Any]) -> str:
    """The report page (XHTML): the recommendation, the Pareto plots, the table of every cell, the failures."""
    rows, p = doc["cells"], doc["pareto"]
    front = set(p["front"])
    objs = [Objective(o["key"], o["direction"], _LABELS.get(o["key"], o["key"])) for o in p["objectives"]]
    figs = [r.get("figures") or {} for r in rows]
    flags = [r["id"] in front for r in rows]
    chosen = next((i for i, r in enumerate(rows) if r["id"] == p["recommended"]), None)
    ex = doc["executor"]
    ok = sum(r["status"] == "ok" for r in rows)
    body = [f"<h1>edgekit sweep: {_e(doc['spec']['path'])}</h1>",
            f"<p>{ok} of {len(rows)} cells ok; run on {_e(ex['kind'])} ({_e(ex.get('address') or '')} "
            f"{ex.get('workers', '')} workers); {doc['wall_seconds']:.1f} s wall time; "
            f"{sum(r.get('resumed', False) for r in rows)} cells reused from an earlier run.</p>",
            f"<p>Recommended: <b>{_e(p['recommended'] or 'none')}</b> ({_e(p['reason'])}). Pareto front over "
            + ", ".join(f"{_e(o.title)} ({o.direction})" for o in objs) + f": {len(front)} cells.</p>"]
    for other in objs[1:]:
        body.append(pareto_svg(figs, other, objs[0], flags, [r["id"] for r in rows],
                               title=f"{objs[0].title} against {other.title}", chosen=chosen))
    body.append("<table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in COLUMNS[1:]) + "</tr>")
    for row in rows:
        cells = table_row(row, row["id"] in front)
        cls = "front" if row["id"] in front else ("failed" if row["status"] != "ok" else "")
        body.append(f'<tr class="{cls}" title="{_e(row["id"])}">' + "".join(
            f'<td class="n">{_num(cells[c])}</td>' if isinstance(cells[c], (int, float)) else f"<td>{_e(cells[c])}</td>"
            for c in COLUMNS[1:]) + "</tr>")
    body.append("</table>")
    body.append('<p class="note">Filled: on the front over all the objectives (a point may look dominated in one '
                "plane and still be on the front through another); ringed: recommended.</p>")
    if p.get("why_not"):
        body.append("<h2>Why not the others</h2><ul>" + "".join(
            f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in p["why_not"].items()) + "</ul>")
    failed = [r for r in rows if r["status"] != "ok" or r.get("retries")]
    if failed:
        body.append("<h2>Failures and retries</h2><ul>")
        for r in failed:
            err = r.get("error") or {}
            body.append(f"<li><b>{_e(r['id'])}</b>: " + (f"{_e(r['stage'])}: {_e(err.get('type'))}: "
                                                         f"{_e(err.get('message'))} " if err else "") +
                        "".join(f"[attempt {x['attempt']}: {_e(x['error'])}] " for x in r.get("retries", [])) +
                        "</li>")
        body.append("</ul>")
    body.append('<p class="note">Instructions: QEMU -icount (one guest instruction per tick of virtual time), exact '
                "and repeatable; latency at the board's clock from them; flash/RAM from the ELF's sections; energy "
                "modelled from the board profile.</p>")
    return ('<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8"/>'
            f"<title>edgekit sweep</title><style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>\n")
