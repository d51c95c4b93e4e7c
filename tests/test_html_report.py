"""The run report's "Quantization payoff" section (issue #21 item 2): a :class:`edgekit.payoff.Payoff` made by
comparing two benchmark results (float32 and int8, as ``measure_payoff`` does) rendered into the page. Host only:
the QEMU runs that make such results are tested in test_aot_float.py (measure_payoff) and test_demo.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET

XHTML = "{http://www.w3.org/1999/xhtml}"


def _bench(instructions: float, flash: int, ram: int, uj: float) -> dict:
    """The parts of an ``edgekit.bench/1`` result that compare_results reads."""
    return {"board": {"id": "qemu-cortex-m4"}, "timing": {"basis": "instructions", "count": {"median": instructions},
                                                         "latency_us": {"median": instructions / 80.0}},
            "memory": {"flash_bytes": flash, "ram_bytes": ram}, "energy": {"kind": "modelled", "per_inference_uj": uj}}


def test_the_run_report_shows_the_quantization_payoff() -> None:
    from edgekit.compare import compare_results
    from edgekit.html_report import render_run_report
    from edgekit.payoff import Payoff, payoff_summary

    results = {"float32": _bench(466_520, 98_168, 20_480, 169.4), "int8": _bench(219_400, 36_892, 12_288, 79.7)}
    comparison = compare_results(results["float32"], results["int8"], name_a="float32", name_b="int8")
    payoff = Payoff("qemu-cortex-m4", comparison, results, {"float32": 0.9756, "int8": 0.9778}, "accuracy").to_dict()
    page = render_run_report(title="t <&>", payoff=payoff)
    root = ET.fromstring(page.split("\n", 1)[1])  # well-formed XHTML
    heads = [h.text or "" for h in root.iter(f"{XHTML}h2")]
    assert heads == ["Quantization payoff: float32 vs int8 on qemu-cortex-m4"]
    table = next(root.iter(f"{XHTML}table"))
    rows = {tr[0].text: [td.text for td in tr[1:]] for tr in table.iter(f"{XHTML}tr") if tr[0].tag == f"{XHTML}td"}
    flash = comparison.row("flash_bytes")
    assert rows["flash"] == ["98,168 B", "36,892 B", f"{flash.ratio:.2f}x"] and flash.ratio > 2.6
    count = comparison.row("count")
    assert rows[count.label][2] == f"{466_520 / 219_400:.2f}x"
    assert rows["energy per inference"] == ["169.40 µJ", "79.70 µJ", f"{169.4 / 79.7:.2f}x"]
    assert rows["accuracy"] == ["97.56%", "97.78%", "-"]
    assert "arena used" not in rows  # a figure neither side measured is left out
    summary = payoff_summary(payoff)
    assert summary == (f"float32 / int8: flash {flash.ratio:.2f}x, {count.label} {count.ratio:.2f}x, energy per "
                       f"inference {169.4 / 79.7:.2f}x, accuracy 97.56% vs 97.78%")
    assert summary in "".join(root.itertext())
    assert "Quantization payoff" not in render_run_report(title="t")  # no payoff given: no section
