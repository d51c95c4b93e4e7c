"""Power monitors and energy per inference: integration maths, the PPK2 wire protocol on a PTY (cross-checked with
the ppk2-api client), LPM01A / INA bridge line protocols on PTYs, a Joulescope stand-in, bench --power end to end."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import install_plugin_dist, need_module
from elf_util import make_elf
from fake_device import FakeDevice
from fake_meters import FakeInaBridge, FakeLpm01a
from fake_ppk2 import FS, FakePpk2, Scenario, Segment, metadata_text

from edgekit.cli import run
from edgekit.errors import DeviceError, UsageError
from edgekit.power import Capture, energy_per_inference, open_monitor, parse_spec, windows_from_edges
from edgekit.power import base as power_base
from edgekit.power.energy import windows_from_levels
from edgekit.power.ppk2 import Calibration, Ppk2, decode, voltage_command


def capture(current_a: list[float], bits: list[int], rate: float = 1000.0, volts: float = 3.0) -> Capture:
    n = len(current_a)
    return Capture(np.arange(n) / rate, np.asarray(current_a), np.asarray(bits, dtype=np.uint8), volts, rate, "test")


# ---------------------------------------------------------------- energy maths

def test_windows_from_levels_and_edges() -> None:
    bits = np.array([0, 1, 1, 0, 0, 2, 3, 3, 0], dtype=np.uint8)
    assert windows_from_levels(bits, 0) == [(1, 3), (6, 8)]
    assert windows_from_levels(bits, 1) == [(5, 8)]
    pulses = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 1], dtype=np.uint8)  # falling edges at 2, 6, 9, 11
    assert windows_from_edges(pulses, 0) == [(2, 6), (9, 11)]


def test_energy_of_known_windows() -> None:
    # idle 1 mA, three windows of 4 samples at 10 mA, 1 kHz, 3 V: 3 V x 10 mA x 4 ms = 120 µJ each
    cur = [1e-3] * 5 + ([10e-3] * 4 + [1e-3] * 3) * 3 + [1e-3] * 2
    bits = [0] * 5 + ([1] * 4 + [0] * 3) * 3 + [0] * 2
    r = energy_per_inference(capture(cur, bits), inferences=3)
    assert r.per_inference_uj == pytest.approx(120.0)
    assert len(r.windows) == 3 and r.window_us == pytest.approx(12_000)
    assert (r.mean_ma, r.peak_ma, r.idle_ma) == (pytest.approx(10.0), pytest.approx(10.0), pytest.approx(1.0))
    one = energy_per_inference(capture([1e-3] + [6e-3] * 10 + [1e-3], [0] + [1] * 10 + [0]), inferences=5)
    assert one.per_inference_uj == pytest.approx(3.0 * 6e-3 * 10e-3 / 5 * 1e6)  # one window around 5 inferences
    odd = energy_per_inference(capture(cur, bits), inferences=4)
    assert odd.per_inference_uj == pytest.approx(90.0) and "3 windows for 4 inferences" in odd.notes[0]


def test_energy_without_markers_is_null_with_a_reason() -> None:
    r = energy_per_inference(capture([5e-3] * 10, [0] * 10), inferences=2)
    assert r.per_inference_uj is None and "never marked a window" in r.notes[0]
    assert r.capture_mean_ma == pytest.approx(5.0)
    cap = capture([5e-3] * 10, [0] * 10)
    cap.bits = None
    assert "no digital inputs" in energy_per_inference(cap, inferences=1).notes[0]


def test_uneven_sample_times_and_measured_voltage() -> None:
    t = np.array([0.0, 0.001, 0.003, 0.004, 0.010])
    cap = Capture(t, np.array([0, 2e-3, 2e-3, 0, 0]), np.array([0, 1, 1, 0, 0], np.uint8),
                  np.array([3.0, 3.0, 2.0, 3.0, 3.0]), 1000.0, "x")
    r = energy_per_inference(cap, inferences=1)
    assert r.per_inference_uj == pytest.approx((2e-3 * 3.0 * 0.002 + 2e-3 * 2.0 * 0.001) * 1e6)


def test_power_spec_parsing_and_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = parse_spec("ppk2:/dev/ttyACM1,channel=2,supply=3.0")
    assert (s.name, s.port, s.options) == ("ppk2", "/dev/ttyACM1", {"channel": "2", "supply": "3.0"})
    m = open_monitor(s, supply_v=1.8)
    assert (m.channel, m.supply_v, m.source) == (2, 3.0, True)
    assert open_monitor("ppk2", supply_v=1.8).source is False  # ampere meter unless told to supply
    with pytest.raises(UsageError, match="unknown power monitor 'ppk3'"):
        open_monitor("ppk3")
    with pytest.raises(UsageError, match="option 'x' is not key=value"):
        parse_spec("ppk2,x")
    install_plugin_dist(tmp_path, monkeypatch, power_base.ENTRY_POINT_GROUP, {"bad": "no_such_mod_q:X"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UsageError, match="plugin 'bad' failed to load"):
            open_monitor("bad")
    assert any("failed to load" in str(w.message) for w in caught)


# ---------------------------------------------------------------- PPK2 protocol

def test_ppk2_metadata_and_commands() -> None:
    cal = Calibration.from_metadata(metadata_text(3300).split("END")[0])
    assert cal.r[2] == pytest.approx(10.4143) and cal.s[4] == pytest.approx(0.002447326)
    assert cal.meta["HW"] == "54350" and cal.meta["VDD"] == "3300"
    broken = Calibration.from_metadata("R0: 0.0000\nGS1: -nan\n")
    assert broken.r[0] == 1031.64 and broken.gs[1] == 1.0  # zero resistors and NaN keep the defaults
    assert voltage_command(3300) == bytes([0x0D, 0x0C, 0xE4]) and voltage_command(800) == bytes([0x0D, 3, 32])
    with pytest.raises(UsageError, match="out of range"):
        voltage_command(5001)


def test_ppk2_decoder_agrees_with_the_ppk2_api_client() -> None:
    """The reference client (ppk2-api) talks to the fake; both decoders read the same bytes the same way."""
    need_module("ppk2_api")
    from ppk2_api.ppk2_api import PPK2_API

    sc = Scenario([Segment(3000, 4.7e-3, 0b101)], idle_amps=4.7e-3)
    with FakePpk2(sc) as fake:
        ppk = PPK2_API(fake.port, timeout=0.1)
        assert ppk.get_modifiers()
        ppk.use_source_meter()
        ppk.set_source_voltage(3300)
        ppk.toggle_DUT_power("ON")
        ppk.start_measuring()
        raw = b""
        deadline = time.monotonic() + 5
        while len(raw) < 3000 * 4 and time.monotonic() < deadline:  # the client has no reader thread: poll it
            raw += ppk.get_data()
            time.sleep(0.005)
        ppk.stop_measuring()
        time.sleep(0.05)
        assert [c.hex() for c in fake.commands[:5]] == ["19", "1102", "0d0ce4", "0c01", "06"]
        theirs, bits = ppk.get_samples(raw)
        ours, our_bits, lost = decode(raw, Calibration.from_metadata(metadata_text(3300)), 3300)
        ppk.ser.close()
    assert len(theirs) == len(ours) >= 3000 and lost == 0
    np.testing.assert_allclose(np.asarray(theirs) / 1e6, ours, rtol=1e-12)
    assert list(our_bits[:3000]) == bits[:3000] == [0b101] * 3000


def test_ppk2_energy_per_inference_equals_the_analytic_value() -> None:
    """5 windows of 1234 samples (12.34 ms) at 12 mA on D0, 1.5 mA between: E = V x I x t per window."""
    active, idle, k, v = 12e-3, 1.5e-3, 1234, 3.3
    segs = [Segment(500, idle)]
    for _ in range(5):
        segs += [Segment(k, active, 0b1), Segment(300, idle)]
    sc = Scenario(segs, idle_amps=idle)
    with FakePpk2(sc) as fake, Ppk2(fake.port, supply_v=v, source=True) as ppk:
        ppk.start()
        assert sc.segments_sent.wait(5)
        cap = ppk.stop()
        assert [c.hex() for c in fake.commands] == ["07", "19", "1102", "0d0ce4", "0c01", "06", "07"]
        assert fake.dut_on and fake.mode == 2
        i_q = fake.quantized(active)
    r = energy_per_inference(cap, inferences=5)
    analytic = v * active * k / FS * 1e6
    lsb = abs(fake.quantized(active * 1.001) - i_q) + abs(i_q - active)  # current resolution at 12 mA
    assert len(r.windows) == 5 and all(w.stop - w.start == k for w in r.windows)
    assert r.per_inference_uj == pytest.approx(v * i_q * k / FS * 1e6, rel=1e-9)  # exactly the samples
    assert abs(r.per_inference_uj - analytic) <= v * lsb * k / FS * 1e6  # within the sample quantization
    assert r.idle_ma == pytest.approx(idle * 1e3, rel=1e-3) and r.peak_ma == pytest.approx(active * 1e3, rel=1e-3)
    assert cap.notes == []  # no counter gaps


def test_ppk2_without_metadata_is_a_clear_error(tmp_path: Path) -> None:
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        with pytest.raises(DeviceError, match=r"no metadata from .* within 0.3 s"):
            Ppk2(os.ttyname(slave), timeout=0.3).open()
    finally:
        os.close(master)
        os.close(slave)


# ---------------------------------------------------------------- other monitors

def test_lpm01a_mlperf_setup_energy_and_events() -> None:
    from edgekit.power.lpm01a import Lpm01a

    # 1 kHz energy samples: 10 µJ per ms idle, 50 µJ per ms inside two timed regions of 20 ms (events 1-2, 3-4)
    e = [10e-6] * 30 + [50e-6] * 20 + [10e-6] * 30 + [50e-6] * 20 + [10e-6] * 30
    with FakeLpm01a(e, events_at=[30, 50, 80, 100]) as fake, Lpm01a(fake.port, supply_v=3.0) as lpm:
        lpm.start()
        time.sleep(0.2)
        cap = lpm.stop()
        sent = list(fake.lines)
    assert sent[:11] == ["htc", "pwr off", "acqtime inf", "trigdelay 0", "trigsrc sw", "eventsrc d7 fal",
                         "output energy", "format ascii_dec", "freq 1k", "volt 3000m", "pwr on nostatus"]
    assert sent[-2:] == ["start", "stop"]
    r = energy_per_inference(cap, inferences=2)
    assert r.per_inference_uj == pytest.approx(20 * 50.0) and len(r.windows) == 2
    assert r.mean_ma == pytest.approx(50e-6 / 1e-3 / 3.0 * 1e3)


def test_lpm01a_error_reply() -> None:
    from edgekit.power.lpm01a import Lpm01a

    with FakeLpm01a([], [], reject="volt 3000m") as fake, pytest.raises(DeviceError, match="rejected 'volt 3000m'"):
        Lpm01a(fake.port, supply_v=3.0).open()


def test_ina_bridge_stream_with_clock_wrap_and_noise() -> None:
    from edgekit.power.ina import InaBridge

    t0 = (1 << 32) - 3000  # the bridge's µs clock wraps during the capture
    rows = []
    for k in range(40):
        high = 10 <= k < 30
        ua = 8000 if high else 500
        rows.append((ua * 100 // 1000, 3300, ua, (t0 + k * 1000) % (1 << 32), int(high)))
    noise = {5: b"ina 1 2\n", 6: b"# debug\n"}
    with FakeInaBridge(rows, garbage=lambda k: noise.get(k, b"")) as fake, InaBridge(fake.port) as ina:
        ina.start()
        time.sleep(0.2)
        cap = ina.stop()
        assert fake.lines == ["ina stop", "ina?", "ina start", "ina stop"]
        assert ina.describe()["chip"] == "ina226"
    assert len(cap) == 40 and cap.t_s[-1] == pytest.approx(0.039)
    assert "1 malformed lines skipped" in cap.notes[0]
    r = energy_per_inference(cap, inferences=1)
    assert r.per_inference_uj == pytest.approx(8e-3 * 3.3 * 0.020 * 1e6)


def test_joulescope_with_a_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.power import joulescope as js_mod

    n = 2000
    cur = np.full(n, 2e-3)
    cur[500:1500] = 20e-3
    lsb = np.zeros(n)
    lsb[500:1500] = 1
    calls: list[Any] = []

    class StreamBuffer:
        sample_id_range = (0, n)

        def samples_get(self, start: int, stop: int, fields: list[str]) -> dict[str, Any]:
            calls.append(("samples_get", start, stop, tuple(fields)))
            return {"signals": {"current": {"value": cur}, "voltage": {"value": np.full(n, 1.8)},
                                "current_lsb": {"value": lsb}}}

    class Device:
        device_path = "u/js220/001234"
        output_sampling_frequency = 100_000
        stream_buffer = StreamBuffer()

        def open(self) -> None:
            calls.append("open")

        def parameter_set(self, name: str, value: Any) -> None:
            calls.append((name, value))

        def start(self) -> None:
            calls.append("start")

        def stop(self) -> None:
            calls.append("stop")

        def close(self) -> None:
            calls.append("close")

    monkeypatch.setattr(js_mod, "_package", lambda: SimpleNamespace(scan=lambda config: [Device()]))
    with open_monitor("joulescope") as m:
        m.start()
        cap = m.stop()
    assert ("current_lsb", "gpi0") in calls and ("sensor_power", "on") in calls and calls[-1] == "close"
    r = energy_per_inference(cap, inferences=1)
    assert r.per_inference_uj == pytest.approx(20e-3 * 1.8 * 1000 / 100_000 * 1e6)


def test_joulescope_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_js(name: str, *a: Any, **kw: Any) -> Any:
        if name == "joulescope":
            raise ImportError("no joulescope")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_js)
    from edgekit.errors import ToolMissing

    with pytest.raises(ToolMissing, match="'joulescope' is not installed") as info:
        open_monitor("joulescope").open()
    assert "edgekit[power]" in (info.value.hint or "")


# ---------------------------------------------------------------- bench --power, end to end

def test_bench_with_ppk2_measures_energy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elf = make_elf(tmp_path / "fw.elf", [(0, bytes(64))])
    k, active = 2500, 8e-3
    segs = [Segment(200, 1e-3)]
    for _ in range(3):
        segs += [Segment(k, active, 0b1), Segment(400, 1e-3)]
    with FakeDevice() as dev, FakePpk2(Scenario(segs)) as fake:
        rc = run(["bench", str(elf), "--port", dev.url, "--runs", "3", "--warmup", "0", "--timeout", "5",
                  "--power", f"ppk2:{fake.port},supply=3.0", "--json"])
        out, err = capsys.readouterr()
        i_q = fake.quantized(active)
    assert rc == 0, err
    e = json.loads(out)["energy"]
    assert e["kind"] == "measured" and e["windows"] == 3 and e["inferences"] == 3
    assert e["per_inference_uj"] == pytest.approx(3.0 * i_q * k / FS * 1e6, rel=1e-9)
    assert e["monitor"]["monitor"] == "ppk2" and e["monitor"]["mode"] == "source" and e["supply_v"] == 3.0
    assert e["modelled_uj"] is not None and e["idle_ma"] == pytest.approx(1.0, rel=1e-2)


def test_bench_power_without_markers_keeps_the_run(tmp_path: Path) -> None:
    from edgekit.benchmarking import bench

    elf = make_elf(tmp_path / "fw.elf", [(0, bytes(64))])
    with FakeDevice() as dev, FakePpk2(Scenario([Segment(1000, 3e-3)])) as fake:
        res = bench(elf, port=dev.url, runs=2, timeout=5, power=f"ppk2:{fake.port}", log_dir=tmp_path)
    assert res.energy["kind"] == "measured" and res.energy["per_inference_uj"] is None
    assert any("never marked a window" in n for n in res.notes)
    assert res.timing["ticks"]  # latency still measured
