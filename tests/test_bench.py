"""bench / compare / validate / samples: protocol-level against the fake device, end to end on QEMU."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fake_device import FakeConfig, FakeDevice, fake_model

from edgekit.benchmarking import BenchResult, bench, stats
from edgekit.boards import load_board
from edgekit.compare import compare, compare_results
from edgekit.errors import BuildError, DataError, UsageError
from edgekit.results import SCHEMA, load_result
from edgekit.samples import load_device_inputs, random_inputs
from edgekit.target import resolve_target


def write_elf(path: Path, sections: list[tuple[str, int, int, int, int]]) -> Path:
    """A minimal ELF32 (ARM) with (name, sh_type, sh_flags, address, size) sections and no program headers."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n, *_ in sections) + b".shstrtab\0"
    body = bytearray()
    headers = [bytes(40)]
    offset = 52
    name_off = 1
    for name, sh_type, flags, addr, size in sections:
        data = bytes(size) if sh_type != 8 else b""
        headers.append(struct.pack("<10I", name_off, sh_type, flags, addr, offset + len(body), size, 0, 0, 4, 0))
        body += data
        name_off += len(name) + 1
    headers.append(struct.pack("<10I", name_off, 3, 0, 0, offset + len(body), len(names), 0, 0, 1, 0))
    body += names
    shoff = offset + len(body)
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, 0, 0, shoff, 0, 52, 0, 0, 40, len(headers),
                                 len(headers) - 1)
    path.write_bytes(header + bytes(body) + b"".join(headers))
    return path


ALLOC, WRITE, EXEC = 0x2, 0x1, 0x4
PROGBITS, NOBITS = 1, 8


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    """flash = .text 100 + .rodata 20 = 120 B; RAM = .data 16 + .bss 200 = 216 B (.data has no load address
    in flash: there are no program headers)."""
    ram = 0x2000_0000
    return write_elf(tmp_path / "fw.elf", [
        (".text", PROGBITS, ALLOC | EXEC, 0, 100), (".rodata", PROGBITS, ALLOC, 100, 20),
        (".data", PROGBITS, ALLOC | WRITE, ram, 16), (".bss", NOBITS, ALLOC | WRITE, ram + 16, 200),
        (".comment", PROGBITS, 0, 0, 30)])


def test_stats() -> None:
    s = stats([4, 1, 3, 2])
    assert (s["n"], s["min"], s["max"], s["median"], s["mean"]) == (4, 1, 4, 2.5, 2.5)
    assert s["p90"] == pytest.approx(3.7)
    assert s["stdev"] == pytest.approx(1.2909944)
    assert stats([7])["stdev"] == 0.0


# ---------------------------------------------------------------- bench against the fake device

def _bench(dev: FakeDevice, elf: Path, **kw: object) -> BenchResult:
    return bench(elf, port=dev.url, log_dir=elf.parent, timeout=5, **kw)  # type: ignore[arg-type]


def test_bench_statistics_memory_energy(elf: Path) -> None:
    with FakeDevice(FakeConfig(ticks=(1000, 1002, 1001, 1000, 1003))) as dev:
        res = _bench(dev, elf, runs=5, warmup=2)
    d = res.to_dict()
    assert d["schema"] == SCHEMA
    t = d["timing"]
    assert t["ticks"] == [1000, 1002, 1001, 1000, 1003]
    assert t["basis"] == "instructions" and t["per_tick"] == 40.0  # 1e9 / 25 MHz / 2**0
    assert t["count"]["median"] == 1001 * 40 and t["count"]["min"] == 1000 * 40
    assert t["latency_us"]["median"] == pytest.approx(1001 * 40 / 25e6 * 1e6)
    m = d["memory"]
    assert (m["flash_bytes"], m["ram_bytes"]) == (120, 216)
    assert (m["arena_used_bytes"], m["stack_used_bytes"], m["stack_reserved_bytes"]) == (4000, 1200, 8192)
    e = d["energy"]
    assert e["kind"] == "modelled"
    pw = load_board("qemu-cortex-m4").power  # the figures come from the board profile, not from this test
    assert e["per_inference_uj"] == pytest.approx(pw.supply_v * pw.active_ma * 1e-3 * t["latency_us"]["median"])
    assert d["output"]["hex"] == fake_model(bytes(dev.input), 10).hex()
    assert d["transport"]["upload"] == "ek-bin" and Path(d["transport"]["log"]).is_file()
    assert "infer 5 2" in dev.cfg.received
    json.dumps(d)  # JSON-serialisable as is


def test_bench_more_runs_than_laps_are_batched(elf: Path) -> None:
    with FakeDevice() as dev:
        res = _bench(dev, elf, runs=70, warmup=3)
    assert len(res.timing["ticks"]) == 70
    assert [c for c in dev.cfg.received if c.startswith("infer")] == ["infer 64 3", "infer 6 0"]


def test_bench_input_file_and_hex_fallback(elf: Path, tmp_path: Path) -> None:
    raw = bytes(range(64))
    (tmp_path / "x.bin").write_bytes(raw)
    with FakeDevice(FakeConfig(support_bin=False)) as dev:
        res = _bench(dev, elf, runs=2, inputs=tmp_path / "x.bin")
    assert bytes(dev.input) == raw
    assert res.transport["upload"] == "hex"
    assert res.input["bytes"] == 64 and res.input["source"].endswith("x.bin")


def test_bench_wrong_input_size(elf: Path, tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(bytes(63))
    with FakeDevice() as dev, pytest.raises(DataError, match="not a multiple of the model's input size"):
        _bench(dev, elf, runs=1, inputs=tmp_path / "x.bin")


def test_save_is_atomic_and_loadable(elf: Path, tmp_path: Path) -> None:
    out = tmp_path / "res" / "a.json"
    with FakeDevice() as dev:
        res = _bench(dev, elf, runs=3, save=out)
    assert load_result(out)["timing"]["ticks"] == res.timing["ticks"]
    assert [p.name for p in out.parent.iterdir()] == ["a.json"]  # no temporary file left behind


def test_load_result_rejects_other_json(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"schema": "something/2"}')
    with pytest.raises(UsageError, match=r"not an edgekit\.bench/1 file"):
        load_result(tmp_path / "x.json")


def test_resolve_target_from_project_dir(tmp_path: Path, elf: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "build").mkdir(parents=True)
    write_elf(proj / "build" / "firmware.elf", [(".text", PROGBITS, ALLOC | EXEC, 0, 8)])
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    (proj / "edgekit_project.json").write_text(json.dumps(
        {"schema": 1, "board": "qemu-cortex-m7", "model": {"path": str(model)}, "elf": "build/firmware.elf"}))
    t = resolve_target(proj)
    assert (t.elf, t.board_id, t.model_path, t.project_dir) == (proj / "build" / "firmware.elf", "qemu-cortex-m7",
                                                                model, proj)
    assert resolve_target(proj / "build" / "firmware.elf").board_id == "qemu-cortex-m7"
    with pytest.raises(BuildError, match="no firmware image"):
        (proj / "build" / "firmware.elf").unlink()
        resolve_target(proj)


# ---------------------------------------------------------------- compare

def test_compare_deltas(elf: Path, tmp_path: Path) -> None:
    with FakeDevice(FakeConfig(ticks=(1000,))) as dev:
        _bench(dev, elf, runs=3, save=tmp_path / "a.json")
    with FakeDevice(FakeConfig(ticks=(1500,), stack=(1000, 8192))) as dev:
        _bench(dev, elf, runs=3, save=tmp_path / "b.json")
    c = compare(tmp_path / "a.json", tmp_path / "b.json")
    lat = c.row("latency_us")
    assert lat.delta == pytest.approx(500 * 40 / 25)  # 500 ticks x 40 instructions at 25 MHz, in µs
    assert lat.delta_pct == pytest.approx(50.0)
    assert c.row("count").delta == 500 * 40
    assert c.row("stack_used_bytes").delta == -200
    assert c.row("flash_bytes").delta == 0 and c.row("flash_bytes").delta_pct == 0.0
    assert c.row("energy_uj").delta_pct == pytest.approx(50.0)


def test_compare_different_bases_are_not_mixed() -> None:
    a = {"timing": {"basis": "instructions", "count": {"median": 10}}, "board": {"id": "x"}}
    b = {"timing": {"basis": "cycles", "count": {"median": 20}}, "board": {"id": "y"}}
    c = compare_results(a, b)
    assert c.row("count").delta is None
    assert any("not comparable" in n for n in c.notes) and any("different boards" in n for n in c.notes)


def test_cli_bench_and_compare_json(elf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.cli import run

    with FakeDevice() as dev:
        rc = run(["bench", str(elf), "--port", dev.url, "--runs", "4", "--json", "--save", str(tmp_path / "a.json")])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runs"] == 4 and printed == load_result(tmp_path / "a.json")
    assert run(["compare", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert all(r["delta"] in (0, None) for r in rows)
    with FakeDevice() as dev:  # the table renders too
        assert run(["bench", str(elf), "--port", dev.url, "--runs", "2"]) == 0
    assert "fake_model on qemu-cortex-m4 (serial)" in capsys.readouterr().out


def test_cli_bench_device_error_exit_code(elf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgekit.cli import run

    with FakeDevice(FakeConfig(hang_after=2)) as dev:
        rc = run(["bench", str(elf), "--port", dev.url, "--runs", "2", "--timeout", "0.5"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "error: timed out after 0.5 s" in err and "hint: last output:" in err


# ---------------------------------------------------------------- samples (input files)

def _fake_model(shape: tuple[int, ...] = (2, 2), dtype: str = "int8", scale: float = 0.5, zp: int = -3) -> object:
    q = SimpleNamespace(scale=(scale,), zero_point=(zp,))
    t = SimpleNamespace(name="in", shape=shape, dtype=dtype, quantization=q)
    return SimpleNamespace(main=SimpleNamespace(inputs=(0,), tensors=(t,)))


def test_samples_float_are_quantized_with_rounding_away_from_zero(tmp_path: Path) -> None:
    x = np.array([[[0.25, -0.25], [100.0, -100.0]]], dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    s = load_device_inputs(tmp_path / "x.npy", _fake_model())
    # 0.25/0.5 = 0.5 -> 1 (half away from zero), -0.5 -> -1; then + zero point -3, clipped to int8
    assert s.samples[0][0].tolist() == [[-2, -4], [127, -128]]
    assert "quantized to int8 with scale 0.5 and zero point -3" in s.note


def test_samples_int8_batch_and_single(tmp_path: Path) -> None:
    batch = np.arange(12, dtype=np.int8).reshape(3, 2, 2)
    s = load_device_inputs(batch, _fake_model())
    assert len(s) == 3 and s.payload(2) == bytes([8, 9, 10, 11]) and s.note == ""
    assert len(load_device_inputs(batch[0], _fake_model())) == 1
    with pytest.raises(DataError, match="does not hold samples of the input shape"):
        load_device_inputs(np.zeros((3, 5), np.int8), _fake_model())
    with pytest.raises(DataError, match="does not fit the model's int8 input"):
        load_device_inputs(np.full((1, 2, 2), 300, np.int16), _fake_model())


def test_samples_without_model() -> None:
    assert len(random_inputs([4, 6]).payload(0)) == 10
    assert random_inputs([8]).payload(0) == random_inputs([8]).payload(0)  # reproducible
    with pytest.raises(DataError, match="float data needs the model's quantization"):
        load_device_inputs(np.zeros(4, np.float32), None, input_bytes=[4])
    assert load_device_inputs(bytes(8), None, input_bytes=[4]).payload(1) == bytes(4)


# ---------------------------------------------------------------- validate: the comparison itself

def _out_model(shape: tuple[int, ...] = (1, 4)) -> tuple[object, list[object]]:
    t = SimpleNamespace(name="out", shape=shape, dtype="int8", nbytes=int(np.prod(shape)))
    return SimpleNamespace(path=Path("m.tflite")), [t]


def test_validate_compare_counts_and_lists_mismatches() -> None:
    from edgekit.samples import DeviceInputs
    from edgekit.validation import _compare

    parsed, outs = _out_model()
    ref = [[np.array([[1, 2, 3, 4]], np.int8)], [np.array([[9, 0, 0, 0]], np.int8)],
           [np.array([[0, 0, 5, 1]], np.int8)]]
    device = [[bytes([1, 2, 3, 4])], [bytes([9, 0, 0, 2])], [bytes([0, 7, 5, 1])]]
    samples = DeviceInputs(((np.zeros(1),),) * 3, "x.npy", "note")
    res = _compare(parsed, "qemu-cortex-m4", outs, device, ref, samples, "proj", {})
    assert (res.inputs, res.byte_exact, res.top1_agree, res.mismatch_count) == (3, 1, 2, 2)
    assert res.max_abs_diff == 7 and not res.ok
    m = res.mismatches
    assert [(x.input, x.output, x.differing, x.max_abs_diff) for x in m] == [(1, 0, 1, 2.0), (2, 0, 1, 7.0)]
    assert (m[1].device_top1, m[1].reference_top1) == (1, 2)


def test_cli_validate_exit_code_on_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import edgekit.validation as v
    from edgekit.cli import run

    bad = v.ValidationResult(model="m", board="b", inputs=2, byte_exact=1, max_abs_diff=3, top1_agree=2,
                             mismatches=[v.Mismatch(1, 0, 1, 10, 3.0, 4, 4)], mismatch_count=1)
    monkeypatch.setattr(v, "validate", lambda *a, **k: bad)
    (tmp_path / "m.tflite").write_bytes(b"x")
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.int8))
    args = ["validate", str(tmp_path / "m.tflite"), "--inputs", str(tmp_path / "x.npy")]
    assert run(args) == 1
    assert "1 mismatching output" in capsys.readouterr().out
    assert run([*args, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


# ---------------------------------------------------------------- end to end: the digits CNN on QEMU

def _gone(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rpartition(")")[2].split()[0] == "Z"


@pytest.fixture(scope="module")
def digits_fw(digits_models: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits CNN generated and built for qemu-cortex-m4."""
    from conftest import need_tool

    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    from edgekit.buildsys import build
    from edgekit.generation import generate

    out = tmp_path_factory.mktemp("digits_fw") / "fw"
    generate(digits_models["int8_tflite"], "qemu-cortex-m4", out_dir=out)
    build(out)
    return out


class _Spy:
    """Records the QemuInstance objects started during a test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from edgekit.transport import qemu

        self.instances: list[qemu.QemuInstance] = []
        real = qemu.QemuInstance.start

        def start(inst: qemu.QemuInstance) -> str:
            self.instances.append(inst)
            return real(inst)

        monkeypatch.setattr(qemu.QemuInstance, "start", start)

    @property
    def pid(self) -> int:
        pid = self.instances[-1].pid
        assert pid is not None
        return pid


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tf
def test_bench_digits_is_deterministic(digits_fw: Path, digits_models: dict, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", digits_models["x_test"][:1])
    a = bench(digits_fw, runs=8, warmup=1, inputs=tmp_path / "x.npy", save=tmp_path / "a.json")
    b = bench(digits_fw, runs=8, warmup=1, inputs=tmp_path / "x.npy", save=tmp_path / "b.json")
    per_tick = a.timing["per_tick"]
    assert per_tick == 40.0 and a.basis == "instructions"
    ticks = a.timing["ticks"] + b.timing["ticks"]
    # the firmware re-phases SysTick before each timed inference: the same input gives the same count, always
    assert len(set(ticks)) == 1, ticks
    assert a.median_count == b.median_count
    assert a.median_count > 10_000
    for key in ("flash_bytes", "ram_bytes", "arena_used_bytes", "stack_used_bytes"):
        assert a.memory[key] == b.memory[key] and a.memory[key] > 0
    assert a.output == b.output
    assert a.canary == "ok" and a.transport["upload"] == "ek-bin"
    assert "quantized to int8" in a.input["note"]
    c = compare(tmp_path / "a.json", tmp_path / "b.json")
    assert c.row("flash_bytes").delta == 0 and c.row("count").delta == 0


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tf
@pytest.mark.tflm
def test_validate_digits_byte_exact(digits_models: dict, tmp_path: Path) -> None:
    """validate() generates and builds the firmware itself, then compares 12 inputs with TFLM."""
    from conftest import need_module, need_tool

    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    np.save(tmp_path / "x.npy", digits_models["x_test"][:12])
    res = validate(digits_models["int8_tflite"], inputs=tmp_path / "x.npy", work_dir=tmp_path / "work")
    assert res.ok, res.to_dict()
    assert (res.inputs, res.byte_exact, res.top1_agree, res.max_abs_diff) == (12, 12, 12, 0.0)
    assert "quantized" in res.input_note


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tf
def test_ctrl_c_during_bench_kills_qemu(digits_fw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgekit.transport.protocol import Device

    spy = _Spy(monkeypatch)

    def interrupted(self: Device, *a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Device, "laps", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bench(digits_fw, runs=2)
    assert _gone(spy.pid)


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tf
@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_qemu_crash_or_hang_mid_bench(digits_fw: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """QEMU killed (crash) or stopped (hang) just before 'infer': a clear DeviceError, and no QEMU left."""
    import os
    import signal

    from edgekit.errors import DeviceError
    from edgekit.transport.protocol import Device

    spy = _Spy(monkeypatch)
    real_infer = Device.infer

    def infer(self: Device, *a: object, **k: object) -> object:
        os.kill(spy.pid, getattr(signal, how))
        return real_infer(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Device, "infer", infer)
    expected = "QEMU was killed by SIGKILL" if how == "SIGKILL" else "is stopped"
    with pytest.raises(DeviceError, match=expected) as err:
        bench(digits_fw, runs=2, timeout=30, infer_timeout=30)
    assert "log" in (err.value.hint or "")
    assert _gone(spy.pid)


@pytest.mark.qemu
@pytest.mark.toolchain
@pytest.mark.tf
def test_reconnect_mid_run_on_qemu(digits_fw: Path) -> None:
    """A client that disconnects after uploading and reconnects finds the device as it left it."""
    from edgekit.boards import load_board
    from edgekit.target import resolve_target
    from edgekit.transport.session import open_session

    elf = resolve_target(digits_fw).elf
    data = bytes(range(64))
    with open_session(load_board("qemu-cortex-m4"), elf=elf) as sess:
        sess.device.upload(data)
        sess.device.infer(1, 0)
        first = sess.device.output(0)
        sess.link.reconnect()
        sess.device.infer(2, 0)  # the input loaded before the reconnect is still there
        assert sess.device.output(0) == first
        assert len(sess.device.laps()) == 2
