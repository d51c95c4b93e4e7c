"""Cost report (edgekit.cost), the HTML plot (edgekit.plot), `edgekit bench --battery/--rate/--plot` and
`edgekit cost`: hand-computed arithmetic, unit parsing, errors, a real QEMU bench, a PPK2 PTY-fake capture."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from elf_util import make_elf
from fake_device import FakeDevice
from fake_ppk2 import FakePpk2, Scenario, Segment

from edgekit.cli import run
from edgekit.cost import check_options, cost_report, parse_battery, parse_current, parse_rate
from edgekit.errors import UsageError
from edgekit.plot import histogram, latencies_us, render_html, write_plot

HELLO = "tflm_examples/hello_world_int8.tflite"
SVG = "{http://www.w3.org/2000/svg}"


def bench_dict(uj: float = 100.0, latency_us: float = 10_000.0, supply_v: float = 3.3, **energy: Any) -> dict:
    """A minimal bench JSON on a board edgekit does not know (no profile: every figure comes from here)."""
    return {"schema": "edgekit.bench/1", "board": {"id": "no-such-board", "emulated": False},
            "device": {"model": "m", "runtime": "edgekit 0.1.0"}, "target": {"model": None},
            "transport": {"kind": "serial"}, "input": {"note": ""},
            "timing": {"latency_us": {"median": latency_us}, "ticks": [10, 10, 11], "per_tick": 1.0,
                       "core_hz": 1_000},
            "energy": {"kind": "modelled", "per_inference_uj": uj, "supply_v": supply_v, "latency_us": latency_us,
                       **energy}}


# ---------------------------------------------------------------- arithmetic

def test_battery_life_by_hand() -> None:
    # 100 µJ per inference, 10 ms each, 60/h, 2 µA sleep at 3.3 V, 1000 mAh at 3.3 V
    c = cost_report(bench_dict(), battery="1000mAh", rate="60/h", sleep="2uA")
    active_j = 60 * 100e-6                             # 0.006 J
    sleep_j = 3.3 * 2e-6 * (3600 - 60 * 0.010)         # 0.02375604 J
    battery_j = 1.0 * 3.3 * 3600                        # 11880 J
    assert c.active_j_per_h == pytest.approx(0.006, rel=1e-12)
    assert c.sleep_j_per_h == pytest.approx(0.02375604, rel=1e-12)
    assert c.battery_j == pytest.approx(11880.0, rel=1e-12)
    assert c.life_h == pytest.approx(battery_j / (active_j + sleep_j), rel=1e-12)
    assert c.life_days == pytest.approx(11880 / 0.02975604 / 24, rel=1e-12)   # 16,635.03 days
    assert 16_635 < c.life_days < 16_636
    assert c.average_ma == pytest.approx(0.02975604 / 3.3 / 3600 * 1e3, rel=1e-12)  # 2.5047 µA
    assert c.duty == pytest.approx(0.6 / 3600)
    assert c.per_million_inferences_j == pytest.approx(100.0)                      # 1e6 x 100 µJ
    assert c.per_million_with_sleep_j == pytest.approx(0.02975604 / 60 * 1e6)
    assert c.inferences_per_battery == pytest.approx(c.life_h * 60)
    assert c.sleep_source == "--sleep 2uA" and c.energy_kind == "modelled"


def test_derate_wh_and_explicit_voltage() -> None:
    base = cost_report(bench_dict(), battery="1000mAh", rate="60/h", sleep="2uA")
    assert cost_report(bench_dict(), battery="1000mAh", rate="60/h", sleep="2uA", derate=0.8).life_h == \
        pytest.approx(0.8 * base.life_h)
    wh = cost_report(bench_dict(), battery="3.7Wh", rate="60/h", sleep="2uA")
    assert wh.battery_j == pytest.approx(3.7 * 3600) and wh.life_h == pytest.approx(3.7 * 3600 / 0.02975604)
    at3 = cost_report(bench_dict(), battery="1000mAh@3.0V", rate="1/min", sleep="2uA")
    assert at3.battery_j == pytest.approx(3.0 * 3600)
    assert cost_report(bench_dict(), battery="1Ah", rate="every 1min", sleep="0.002mA").life_h == \
        pytest.approx(base.life_h)


def test_measured_energy_uses_window_time_and_names_the_monitor() -> None:
    d = bench_dict(uj=50.0, kind="measured", window_us=3 * 2_000.0, inferences=3, idle_ma=0.8,
                   monitor={"monitor": "ppk2"})
    c = cost_report(d, battery="1000mAh", rate="3600/h", sleep="1mA")
    assert c.energy_source == "measured (ppk2)" and c.active_s_per_inference == pytest.approx(2e-3)
    assert c.sleep_j_per_h == pytest.approx(3.3 * 1e-3 * (3600 - 3600 * 2e-3))
    assert c.measured_idle_ma == 0.8 and not c.notes  # --sleep given: no suggestion
    c2 = cost_report({**d, "board": {"id": "nucleo-l4r5zi", "emulated": False}}, battery="1000mAh", rate="60/h")
    assert any("measured 0.8 mA between inferences" in n and "--sleep measured" in n for n in c2.notes)
    c3 = cost_report(d, battery="1000mAh", rate="3600/h", sleep="measured")
    assert c3.sleep_ma == 0.8 and "measured between inferences" in c3.sleep_source
    with pytest.raises(UsageError, match=r"--sleep measured: .*no measured current"):
        cost_report(bench_dict(), battery="1000mAh", rate="60/h", sleep="measured")


def test_default_sleep_is_the_profile_idle_and_qemu_says_modelled() -> None:
    from edgekit.boards import load_board

    d = {**bench_dict(), "board": {"id": "qemu-cortex-m4", "emulated": True}}
    c = cost_report(d, battery="1000mAh", rate="60/h")
    assert c.sleep_ma == load_board("qemu-cortex-m4").power.idle_ma
    assert "power.idle_ma" in c.sleep_source and "not deep sleep" in c.sleep_source
    assert c.energy_source.startswith("modelled (QEMU")


# ---------------------------------------------------------------- parsing and errors

@pytest.mark.parametrize(("text", "joules"), [
    ("1000mAh", 3.3 * 3600), ("2.4Ah", 2.4 * 3.3 * 3600), ("3.7Wh", 3.7 * 3600), ("500 mAh @ 3.0V", 1.5 * 3600),
    ("1000mWh", 3600.0), ("1e3mAh", 3.3 * 3600)])
def test_parse_battery(text: str, joules: float) -> None:
    assert parse_battery(text, 3.3).energy_j == pytest.approx(joules)


@pytest.mark.parametrize(("text", "per_h"), [
    ("60/h", 60), ("1/s", 3600), ("1440/day", 60), ("every 5min", 12), ("every 2 s", 1800), ("every hour", 1),
    ("0.5/min", 30), ("10 / hour", 10)])
def test_parse_rate(text: str, per_h: float) -> None:
    assert parse_rate(text) == pytest.approx(per_h)


@pytest.mark.parametrize(("text", "ma"), [("2.5uA", 2.5e-3), ("2.5µA", 2.5e-3), ("1.1mA", 1.1), ("500nA", 5e-4),
                                          ("0.01A", 10.0)])
def test_parse_current(text: str, ma: float) -> None:
    assert parse_current(text) == pytest.approx(ma)


@pytest.mark.parametrize(("kw", "option"), [
    ({"battery": "1000"}, "--battery"), ({"battery": "1000mA"}, "--battery"), ({"battery": "0mAh"}, "--battery"),
    ({"battery": "-5Wh"}, "--battery"), ({"battery": "10mAh@0V"}, "--battery"), ({"rate": "60"}, "--rate"),
    ({"rate": "0/h"}, "--rate"), ({"rate": "5/fortnight"}, "--rate"), ({"rate": "every 0s"}, "--rate"),
    ({"sleep": "2uV"}, "--sleep"), ({"sleep": "0uA"}, "--sleep"), ({"sleep": "-1mA"}, "--sleep"),
    ({"derate": 0.0}, "--battery-derate"), ({"derate": 1.5}, "--battery-derate")])
def test_bad_values_name_the_option_and_give_an_example(kw: dict, option: str) -> None:
    args = {"battery": "1000mAh", "rate": "60/h", "sleep": "2uA", "derate": 1.0, **kw}
    with pytest.raises(UsageError) as info:
        check_options(**args)
    assert info.value.message.startswith(option) and "e.g." in (info.value.hint or "")
    with pytest.raises(UsageError):
        cost_report(bench_dict(), **args)


def test_mah_without_any_voltage_is_an_error() -> None:
    with pytest.raises(UsageError, match="needs a voltage") as info:
        parse_battery("1000mAh", None)
    assert "1000mAh@3.0V" in (info.value.hint or "")


def test_duty_over_100_percent() -> None:
    d = bench_dict(latency_us=2e6)  # 2 s per inference
    cost_report(d, battery="1Ah", rate="1800/h", sleep="1uA")  # exactly 100 %: allowed
    with pytest.raises(UsageError, match=r"--rate 1/s: .*need 200 % of the time \(over 100 %\)") as info:
        cost_report(d, battery="1Ah", rate="1/s", sleep="1uA")
    assert "at most 1,800/h" in (info.value.hint or "")


def test_no_energy_figure_is_an_error() -> None:
    with pytest.raises(UsageError, match="no energy per inference"):
        cost_report(bench_dict(uj=None), battery="1Ah", rate="1/s", sleep="1uA")  # type: ignore[arg-type]


# ---------------------------------------------------------------- plot

class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.void = {"meta", "line", "rect", "polyline", "polygon", "br"}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def parse_plot(text: str) -> ET.Element:
    """Both parsers accept it: html.parser sees balanced tags, ElementTree sees well-formed XML."""
    p = _Tags()
    p.feed(text)
    assert not p.errors and not p.stack
    return ET.fromstring(text.split("\n", 1)[1])


def rects(root: ET.Element, cls: str) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == cls]


def test_histogram_bins() -> None:
    edges, counts = histogram([1.0, 2.0, 2.0, 3.0, 10.0])
    assert sum(counts) == 5 and len(edges) == len(counts) + 1 and edges[0] == 1.0 and edges[-1] == 10.0
    assert histogram([5.0] * 7)[1] == [7]
    assert histogram([]) == ([], [])


def test_modelled_plot_without_and_with_a_rate(tmp_path: Path) -> None:
    d = bench_dict(active_ma=3.0)
    assert latencies_us(d) == pytest.approx([10_000.0, 10_000.0, 11_000.0])  # ticks x per_tick / core_hz
    root = parse_plot(render_html([d]))
    assert len(rects(root, "window")) == 3  # one per timed lap
    assert sum(int(r.get("data-count") or 0) for r in rects(root, "bin")) == 3
    titles = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert any(t.startswith("current, modelled") for t in titles)
    c = cost_report(d, battery="1Ah", rate="60/h", sleep="2uA").to_dict()
    root = parse_plot(write_plot(tmp_path / "p.html", [d], [c]).read_text(encoding="utf-8"))
    assert len(rects(root, "window")) == 3 and any("duty cycle" in (t.text or "") for t in root.iter(f"{SVG}text"))
    with pytest.raises(UsageError, match="only HTML"):
        write_plot(tmp_path / "p.png", [d])


# ---------------------------------------------------------------- PPK2 PTY fake: measured trace

def test_bench_ppk2_plot_marks_every_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elf = make_elf(tmp_path / "fw.elf", [(0, bytes(64))])
    k, runs = 2500, 4
    segs = [Segment(200, 1e-3)]
    for _ in range(runs):
        segs += [Segment(k, 8e-3, 0b1), Segment(400, 1e-3)]
    with FakeDevice() as dev, FakePpk2(Scenario(segs)) as fake:
        rc = run(["bench", str(elf), "--port", dev.url, "--runs", str(runs), "--warmup", "0", "--timeout", "5",
                  "--power", f"ppk2:{fake.port},supply=3.0", "--battery", "1000mAh", "--rate", "60/h",
                  "--sleep", "5uA", "--plot", str(tmp_path / "p.html"), "--save", str(tmp_path / "m.json"),
                  "--json"])
        out, err = capsys.readouterr()
    assert rc == 0, err
    d = json.loads(out)
    assert json.loads((tmp_path / "m.json").read_text())["cost"] == d["cost"]  # the saved file has it too
    e, c = d["energy"], d["cost"]
    assert len(e["trace"]["windows_s"]) == e["inferences"] == runs
    assert max(e["trace"]["max_ma"]) == pytest.approx(8.0, rel=0.02) and len(e["trace"]["min_ma"]) <= 400
    assert c["energy_source"] == "measured (ppk2)" and c["supply_v"] == 3.0
    assert c["active_s_per_inference"] == pytest.approx(e["window_us"] / runs / 1e6)
    root = parse_plot((tmp_path / "p.html").read_text(encoding="utf-8"))
    assert len(rects(root, "window")) == runs
    assert sum(int(r.get("data-count") or 0) for r in rects(root, "bin")) == len(d["timing"]["ticks"]) == runs
    # an older file without energy.trace still plots (a modelled diagram)
    del d["energy"]["trace"]
    assert len(rects(parse_plot(render_html([d])), "window")) == runs


def test_bench_battery_needs_rate_and_bad_units_fail_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elf = make_elf(tmp_path / "fw.elf", [(0, bytes(64))])
    assert run(["bench", str(elf), "--battery", "1000mAh"]) == 2
    assert "--battery and --rate go together" in capsys.readouterr().err
    assert run(["bench", str(elf), "--battery", "1000mA", "--rate", "60/h"]) == 2  # before any QEMU starts
    err = capsys.readouterr().err
    assert "error: --battery '1000mA'" in err and "hint: e.g." in err


# ---------------------------------------------------------------- a real QEMU bench, then `edgekit cost`

@pytest.fixture(scope="module")
def hello_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello_world int8 generated, built and benchmarked on QEMU through the CLI with a cost report."""
    from conftest import need_tool, shared_model

    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    out = tmp_path_factory.mktemp("hello_cost")
    proj = out / "fw"
    assert run(["generate", str(shared_model(HELLO)), "--board", "qemu-cortex-m4", "-o", str(proj)]) == 0
    assert run(["build", str(proj)]) == 0
    assert run(["bench", str(proj), "--runs", "6", "--battery", "1000mAh", "--rate", "60/h", "--sleep", "2uA",
                "--save", str(out / "hello.json"), "--plot", str(out / "hello.html")]) == 0
    return out / "hello.json"


@pytest.mark.qemu
@pytest.mark.toolchain
def test_qemu_bench_cost_section_and_plot(hello_json: Path) -> None:
    d = json.loads(hello_json.read_text())
    c, e = d["cost"], d["energy"]
    assert c["energy_kind"] == "modelled" and c["energy_source"].startswith("modelled (QEMU")
    t_inf = d["timing"]["latency_us"]["median"] / 1e6
    per_h = 60 * e["per_inference_uj"] * 1e-6 + e["supply_v"] * 2e-6 * (3600 - 60 * t_inf)
    assert c["life_days"] == pytest.approx(1.0 * e["supply_v"] * 3600 / per_h / 24, rel=1e-12)
    assert c["label"].startswith("hello_world") and " int8" in c["label"]
    root = parse_plot(hello_json.with_suffix(".html").read_text(encoding="utf-8"))
    assert sum(int(r.get("data-count") or 0) for r in rects(root, "bin")) == d["runs"] == 6
    assert len(rects(root, "window")) == 3  # modelled duty cycle: three periods


@pytest.mark.qemu
@pytest.mark.toolchain
def test_cost_side_by_side(hello_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = json.loads(hello_json.read_text())  # a second result: the same run, as if 4x the energy and time
    other["energy"]["per_inference_uj"] *= 4
    other["timing"]["latency_us"]["median"] *= 4
    other["device"]["model"] = "hello_float"
    (tmp_path / "b.json").write_text(json.dumps(other))
    args = ["cost", str(hello_json), str(tmp_path / "b.json"), "--battery", "2.4Ah@3.0V", "--rate", "1/s",
            "--battery-derate", "0.8", "--plot", str(tmp_path / "both.html")]
    assert run([*args, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["costs"]
    a, b = got
    assert a["label"] != b["label"] and b["label"].startswith("hello_float")
    assert b["active_j_per_h"] == pytest.approx(4 * a["active_j_per_h"]) and b["life_h"] < a["life_h"]
    assert a["battery_j"] == pytest.approx(2.4 * 3.0 * 3600) and a["derate"] == 0.8
    root = parse_plot((tmp_path / "both.html").read_text(encoding="utf-8"))
    assert len([s for s in root.iter(f"{SVG}svg")]) == 4  # trace + histogram per result
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "battery life" in out and "hello_float" in out and "sleep current from board profile" in out
    assert run(["cost", str(hello_json), "--battery", "1Ah", "--rate", "1000000/s"]) == 2
    assert "over 100 %" in capsys.readouterr().err


def test_labels_name_the_board_and_repeated_labels_are_told_apart() -> None:
    """Issue #17 item 8: two columns must not carry the same title."""
    from edgekit.cost import describe, unique_labels

    d = {"device": {"model": "kws", "runtime": "edgekit 0.1"}, "board": {"id": "qemu-cortex-m4"}}
    assert describe(d) == "kws edgekit on qemu-cortex-m4"
    m55 = {**d, "board": {"id": "qemu-cortex-m55"}}
    assert describe(m55) != describe(d)
    assert unique_labels(["a", "a", "b"], ["x/r1.json", "y/r2.json", "z.json"]) == ["a (r1.json)", "a (r2.json)", "b"]
    assert unique_labels(["a", "a"], ["x/r.json", "y/r.json"]) == ["a (#1)", "a (#2)"]


def test_deterministic_latencies_are_stated_not_binned_and_ticks_fit() -> None:
    from edgekit.plot import histogram_svg, render_html, tick_label

    d = {"timing": {"ticks": [214_123] * 6, "timer": {"hz": 1_000_000}}, "transport": {"kind": "qemu"},
         "board": {"id": "qemu-cortex-m4"}, "device": {"model": "kws", "runtime": "edgekit"}}
    svg = histogram_svg(d)
    assert "all 6 timed inferences took 214.1230 ms" in svg and "deterministic" in svg
    assert svg.count('class="bin"') == 1 and 'data-count="6"' in svg
    varied = {**d, "timing": {"ticks": [214_123 + 1000 * k for k in range(6)], "timer": {"hz": 1_000_000}}}
    page = render_html([varied])
    ticks = re.findall(r'class="tick"[^>]*>([^<]*)<', page)
    assert ticks and all(len(t) <= 7 and "e+" not in t for t in ticks), ticks
    assert [tick_label(v) for v in (216345.0, 2.5e7, 0.0)] == ["216.3k", "25M", "0"]
