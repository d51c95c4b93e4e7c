"""Board profiles: the shipped files, the loader's errors, the `edgekit boards` CLI, and fuzzing of the schema."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekit.boards import (
    BUILTIN_DIR,
    DEFAULT_BOARD,
    BoardProfile,
    list_boards,
    load_board,
    load_board_file,
    parse_board,
)
from edgekit.cli import run
from edgekit.errors import BoardError

# id -> vendor directory, for every real (non-emulated) board edgekit ships
REAL_BOARDS = {
    "nucleo-l4r5zi": "st", "nucleo-h7a3zi-q": "st", "arduino-nano-33-ble-sense": "arduino",
    "nrf52840dk": "nordic", "rpi-pico": "raspberrypi", "rpi-pico2": "raspberrypi",
    "esp32-s3-devkitc-1": "espressif", "rpi4": "raspberrypi", "rpi5": "raspberrypi",
}
SHIPPED_FILES = [p for p in sorted(BUILTIN_DIR.rglob("*.yaml")) + sorted(BUILTIN_DIR.rglob("*.yml"))
                 if p.relative_to(BUILTIN_DIR).parts[0] != "families"]  # boards/families: chip families
TEMPLATE = BUILTIN_DIR / "qemu" / "qemu-cortex-m4.yaml"


def _raw(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write(directory: Path, board_id: str, raw: Any, vendor: str = "acme") -> Path:
    path = directory / vendor / f"{board_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _board_like(board_id: str, **changes: Any) -> dict[str, Any]:
    raw = _raw(TEMPLATE)
    raw["id"] = board_id
    raw.update(changes)
    return raw


# ------------------------------------------------------------------ shipped boards ----------------------

@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
def test_every_shipped_board_loads(path: Path) -> None:
    board = load_board_file(path)
    assert board.id == path.stem
    assert board.path == path


def test_ids_are_unique_and_listing_sees_every_file() -> None:
    stems = [p.stem for p in SHIPPED_FILES]
    assert len(stems) == len(set(stems)), sorted(s for s in stems if stems.count(s) > 1)
    assert sorted(b.id for b in list_boards()) == sorted(stems)


@pytest.mark.parametrize("board_id", sorted(REAL_BOARDS))
def test_real_boards_are_shipped_where_expected(board_id: str) -> None:
    board = load_board(board_id)
    assert board.path == BUILTIN_DIR / REAL_BOARDS[board_id] / f"{board_id}.yaml"
    assert board.qemu is None and not board.is_emulated
    assert board.kind == ("sbc" if board_id in ("rpi4", "rpi5") else "mcu")


_CITES = re.compile(r"unverified|estimate|derived|datasheet|documentation|\.adoc|\.dtsi|\.dts\b|\.ld\b|\.json|"
                    r"\.rst|\.cmake|boards\.txt|README|NOTES\.md|measured|doc\b", re.IGNORECASE)


@pytest.mark.parametrize("board_id", sorted(REAL_BOARDS))
def test_real_board_numbers_carry_sources(board_id: str) -> None:
    b = load_board(board_id)
    sources = {"clock_source": b.clock_source, "memory.source": b.memory.source, "power.source": b.power.source,
               "perf.source": b.perf.source}
    for field, text in sources.items():
        assert len(text.strip()) >= 20, f"{board_id}: {field} is empty or too short"
        assert _CITES.search(text), f"{board_id}: {field} says neither where it is from nor that it is unverified"
    assert b.power.model != "none" and b.power.supply_v > 0
    assert b.power.active_ma > 0 and 0 < b.power.idle_ma <= b.power.active_ma
    assert b.perf.cycles_per_mac > 0
    if b.kind == "mcu":
        assert b.serial.usb_vid is not None and b.serial.usb_pid is not None, "MCU boards need a USB id for discovery"
        assert b.firmware.timer_hz == b.firmware_clock_hz, "the firmware timer counts CPU cycles"


@pytest.mark.parametrize("board_id", sorted(REAL_BOARDS))
def test_real_board_regions_fit_the_budget(board_id: str) -> None:
    b = load_board(board_id)
    budget = {"flash": b.memory.flash_kb, "ram": b.memory.ram_kb}
    for region in b.memory.regions:
        assert region.size_kb <= budget[region.kind], f"{board_id}: region {region.name} exceeds {region.kind}_kb"
    if b.kind == "mcu" and b.build.system in ("cmake", "pico-sdk"):
        assert b.memory.region("flash") and b.memory.region("ram"), "our linker scripts need both regions"


def test_timers_match_the_cores() -> None:
    # no DWT cycle counter on ARMv6-M; the ESP32-S3 counts with CCOUNT
    assert load_board("rpi-pico").firmware.timer == "systick"
    assert load_board("esp32-s3-devkitc-1").firmware.timer == "ccount"
    for board_id in ("nucleo-l4r5zi", "nucleo-h7a3zi-q", "nrf52840dk", "rpi-pico2"):
        assert load_board(board_id).firmware.timer == "dwt"


def test_default_board_exists_and_is_emulated() -> None:
    board = load_board(DEFAULT_BOARD)
    assert board.is_emulated and board.qemu is not None


def test_unknown_board_suggests_close_ids() -> None:
    with pytest.raises(BoardError) as err:
        load_board("nucleo-l4r5")
    assert err.value.message == "unknown board 'nucleo-l4r5'"
    assert "nucleo-l4r5zi" in (err.value.hint or "")


# ------------------------------------------------------------------ user directories ----------------------

def test_boards_dir_adds_a_board(tmp_path: Path) -> None:
    _write(tmp_path, "acme-m4", _board_like("acme-m4", name="ACME M4"))
    assert load_board("acme-m4", [tmp_path]).name == "ACME M4"
    ids = {b.id for b in list_boards([tmp_path])}
    assert "acme-m4" in ids and "nucleo-l4r5zi" in ids


def test_boards_dir_overrides_a_builtin_board(tmp_path: Path) -> None:
    raw = _raw(BUILTIN_DIR / "st" / "nucleo-l4r5zi.yaml")
    raw["clock_hz"] = 80_000_000
    del raw["firmware"]["clock"]  # its 120 MHz PLL set-up would exceed the lowered clock_hz
    path = _write(tmp_path, "nucleo-l4r5zi", raw, vendor="st")
    board = load_board("nucleo-l4r5zi", [tmp_path])
    assert (board.clock_hz, board.path) == (80_000_000, path)
    assert load_board("nucleo-l4r5zi").clock_hz == 120_000_000


def test_env_path_adds_boards_and_yields_to_boards_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_a, env_b, explicit = tmp_path / "a", tmp_path / "b", tmp_path / "explicit"
    _write(env_a, "acme-one", _board_like("acme-one", clock_hz=1_000_000))
    _write(env_b, "acme-two", _board_like("acme-two", clock_hz=2_000_000))
    _write(explicit, "acme-one", _board_like("acme-one", clock_hz=3_000_000))
    monkeypatch.setenv("EDGEKIT_BOARDS_PATH", f"{env_a}{os.pathsep}{env_b}")
    assert load_board("acme-two").clock_hz == 2_000_000
    assert load_board("acme-one").clock_hz == 1_000_000
    assert load_board("acme-one", [explicit]).clock_hz == 3_000_000  # --boards-dir comes first


def test_missing_boards_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="board directory does not exist"):
        list_boards([tmp_path / "nope"])


# ------------------------------------------------------------------ invalid files ----------------------

def _drop(raw: dict[str, Any], *path: str) -> dict[str, Any]:
    node = raw
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return raw


def _set(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


def _renamed(raw: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {(new if k == old else k): v for k, v in raw.items()}


GOOD_TEXT = TEMPLATE.read_text(encoding="utf-8").replace("id: qemu-cortex-m4", "id: bad")

# (name, file content given the template dict / text, expected field text, expected message/hint fragment)
INVALID_CASES = [
    ("unknown key", lambda r: {**r, "colour": "red"}, "colour: unknown key", "known keys here"),
    ("unit in key name", lambda r: _renamed(r, "clock_hz", "clock_mhz"), "clock_mhz: unknown key", "clock_hz"),
    ("nested unit key", lambda r: {**r, "memory": _renamed(r["memory"], "ram_kb", "ram_mb")},
     "memory.ram_mb: unknown key", "ram_kb"),
    ("wrong type", lambda r: {**r, "clock_hz": "fast"}, "clock_hz: expected integer", "unit in the key name"),
    ("bool is not a number", lambda r: {**r, "clock_hz": True}, "clock_hz: expected integer", ""),
    ("missing key", lambda r: _drop(r, "perf"), "perf: required key is missing", "complete example"),
    ("missing nested key", lambda r: _drop(r, "power", "source"), "power.source: required key is missing", ""),
    ("bad enum", lambda r: _set(r, ("flash", "method"), "jlnk"),
     "flash.method: 'jlnk' is neither a built-in flasher nor a plugin", "pyocd"),
    ("bad timer", lambda r: _set(r, ("firmware", "timer"), "rtc"), "firmware.timer: 'rtc' is not one of", ""),
    ("id mismatch", lambda r: {**r, "id": "other"}, "id: 'other' does not match the file name 'bad'",
     "rename the file"),
    ("negative", lambda r: {**r, "clock_hz": -5}, "clock_hz: must be > 0", ""),
    ("not finite", lambda r: _set(r, ("power", "active_ma"), float("nan")), "power.active_ma: must be a finite", ""),
    ("usb id range", lambda r: {**r, "serial": {"usb": {"vid": 0x10000, "pid": 1}}},
     "serial.usb.vid: 65536 is not a 16-bit USB id", "hex"),
    ("overlapping regions", lambda r: _set(r, ("memory", "regions"), [
        {"name": "A", "origin": 0x20000000, "size_kb": 64, "kind": "ram"},
        {"name": "B", "origin": 0x20008000, "size_kb": 64, "kind": "ram"}]), "memory.regions: 'A' and 'B' overlap",
     ""),
    ("region not a mapping", lambda r: _set(r, ("memory", "regions"), ["RAM"]),
     "memory.regions[0]: expected a mapping, got str", ""),
    ("cpu flags not strings", lambda r: _set(r, ("build", "cpu_flags"), [1, 2]),
     "build.cpu_flags: expected a list of strings", ""),
    ("old schema", lambda r: {**r, "schema": 0}, "schema: version 0 is not supported", "upgrade"),
    ("not a mapping", lambda r: "- just\n- a list\n", "top level: expected a mapping, got list", ""),
    ("empty file", lambda r: "", "top level: expected a mapping, got NoneType", ""),
    ("not YAML", lambda r: "id: bad\nmemory: [1, 2\n", "not valid YAML", "indentation"),
    ("bad date", lambda r: re.sub(r"(?m)^url: .*$", "url: 2024-13-01", GOOD_TEXT), "not valid YAML: ValueError",
     "dates"),
    ("bad explicit tag", lambda r: GOOD_TEXT.replace("clock_hz: 25_000_000", "clock_hz: !!int fast"),
     "not valid YAML: ValueError", ""),
    ("python tag", lambda r: re.sub(r"(?m)^notes: .*$", "notes: !!python/name:os.system", GOOD_TEXT),
     "not valid YAML", ""),
    ("duplicate key", lambda r: GOOD_TEXT + "clock_hz: 1\n", "clock_hz: duplicate key (line", "once"),
]


@pytest.mark.parametrize(("make", "field", "fragment"), [c[1:] for c in INVALID_CASES],
                         ids=[c[0] for c in INVALID_CASES])
def test_invalid_file_names_file_and_field(tmp_path: Path, make: Any, field: str, fragment: str) -> None:
    template = _raw(TEMPLATE)
    template["id"] = "bad"
    path = _write(tmp_path, "bad", make(template))
    with pytest.raises(BoardError) as err:
        load_board_file(path)
    assert err.value.message.startswith(f"{path}: "), err.value.message
    assert field in err.value.message
    assert "\n" not in err.value.message
    assert fragment in f"{err.value.message} {err.value.hint or ''}"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(BoardError, match="no such board file"):
        load_board_file(tmp_path / "missing.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BoardError, match="cannot read board file"):
        load_board_file(binary)


# ------------------------------------------------------------------ CLI ----------------------

def test_cli_list_json_parses(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boards", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in rows}
    assert set(REAL_BOARDS) <= set(by_id) and DEFAULT_BOARD in by_id
    assert by_id["nucleo-l4r5zi"]["clock_hz"] == 120_000_000 and by_id["nucleo-l4r5zi"]["emulated"] is False
    assert by_id[DEFAULT_BOARD]["emulated"] is True


def test_cli_list_filters_by_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boards", "list", "--kind", "sbc", "--json"]) == 0
    assert sorted(r["id"] for r in json.loads(capsys.readouterr().out)) == ["rpi4", "rpi5"]


def test_cli_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boards", "list", "--kind", "mcu"]) == 0
    out = capsys.readouterr().out
    assert "nucleo-h7a3zi-q" in out and "qemu-cortex-m4" in out and "rpi4" not in out


def test_cli_show_json_has_every_field_and_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boards", "show", "esp32-s3-devkitc-1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == json.loads(json.dumps(load_board("esp32-s3-devkitc-1").to_dict()))
    assert shown["firmware"]["timer"] == "ccount" and shown["perf"]["source"]


def test_cli_show_text_includes_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boards", "show", "nucleo-l4r5zi"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "8.22 cycles/MAC" in out and "MLPerf Tiny" in out and "0483:374b" in out


def test_cli_unknown_board(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["boards", "show", "nucleo-l4r5"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: unknown board 'nucleo-l4r5'" and len(err) == 2
    assert err[1].startswith("hint: did you mean nucleo-l4r5zi")  # the closest match first


def test_cli_invalid_board_file_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "acme-x", _renamed(_board_like("acme-x"), "clock_hz", "clock_mhz"))
    assert run(["--boards-dir", str(tmp_path), "boards", "list"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"error: {path}: clock_mhz: unknown key",
                                         "hint: units go in key names: use 'clock_hz'"]
    assert "Traceback" not in captured.out + captured.err


def test_cli_uses_boards_dir_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "cli", "acme-cli", _board_like("acme-cli"))
    _write(tmp_path / "env", "acme-env", _board_like("acme-env"))
    monkeypatch.setenv("EDGEKIT_BOARDS_PATH", str(tmp_path / "env"))
    assert run(["--boards-dir", str(tmp_path / "cli"), "boards", "list", "--json"]) == 0
    ids = {r["id"] for r in json.loads(capsys.readouterr().out)}
    assert {"acme-cli", "acme-env", "nucleo-l4r5zi"} <= ids


# ------------------------------------------------------------------ property-based ----------------------

BASES = [_raw(p) for p in SHIPPED_FILES]
LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
          | st.sampled_from(["mcu", "sbc", "pyocd", "uf2", "dwt", "ram", "flash", "cmake", "datasheet"]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated_profiles(draw: st.DrawFn) -> tuple[Any, str]:
    """A shipped profile with 1-4 random edits: a key dropped, a value replaced, a key added."""
    raw = copy.deepcopy(draw(st.sampled_from(BASES)))
    stem = raw["id"]
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(raw)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(raw, path[:-1]), path[-1]
        op = draw(st.sampled_from(["drop", "replace", "add"]))
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(VALUES)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    return raw, stem


@settings(max_examples=400, deadline=None)
@given(mutated_profiles())
def test_mutated_profiles_raise_only_board_error(case: tuple[Any, str]) -> None:
    raw, stem = case
    src = Path("boards") / "fuzz" / f"{stem}.yaml"
    try:
        board = parse_board(raw, src)
    except BoardError as exc:
        assert exc.message.startswith(f"{src}: ") and "\n" not in exc.message
    else:
        assert isinstance(board, BoardProfile) and board.id == stem
        board.to_dict()


@settings(max_examples=100, deadline=None)
@given(VALUES)
def test_any_document_shape_raises_only_board_error(raw: Any) -> None:
    with pytest.raises(BoardError):
        parse_board(raw, Path("x.yaml"))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


SNIPPETS = ["!!int x", "2024-13-01", "!!timestamp x", "[[[[", "{a: 1, a: 2}", "&a [*a]", "!!binary x", "\t",
            "? [1]\n: 2", "<<: 3", ".nan", "0x", "1e400", "'", '"\\x"', "%YAML 9.9\n---", "- ", "\x07"]


@settings(max_examples=200, deadline=None)
@given(base=st.sampled_from(SHIPPED_FILES), cut=st.integers(0, 4000), length=st.integers(0, 40),
       insert=st.sampled_from(SNIPPETS) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_damaged_yaml_text_raises_only_board_error(fuzz_dir: Path, base: Path, cut: int, length: int,
                                                   insert: str) -> None:
    text = base.read_text(encoding="utf-8")
    cut = min(cut, len(text))
    path = fuzz_dir / base.name
    path.write_text(text[:cut] + insert + text[cut + length:], encoding="utf-8")
    try:
        board = load_board_file(path)
    except BoardError as exc:
        assert exc.message.startswith(f"{path}: ") and "\n" not in exc.message
    else:
        assert board.id == base.stem


def test_flash_method_may_name_a_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A method registered in the 'edgekit.flashers' entry-point group is accepted; its name is listed on errors."""
    import importlib.metadata as md
    from importlib.metadata import EntryPoint

    ep = EntryPoint(name="jlink-commander", value="acme_flash:JLinkFlasher", group="edgekit.flashers")
    monkeypatch.setattr(md, "entry_points", lambda group=None: [ep] if group == "edgekit.flashers" else [])
    raw = _raw(TEMPLATE)
    raw["id"] = "plug"
    raw["flash"] = {"method": "jlink-commander"}
    raw["qemu"] = None
    assert load_board_file(_write(tmp_path, "plug", raw)).flash.method == "jlink-commander"
    raw["flash"] = {"method": "jlink-comander"}
    with pytest.raises(BoardError, match=r"plugins: jlink-commander"):
        load_board_file(_write(tmp_path, "plug", raw))


@pytest.mark.parametrize(("flags", "expected"), [
    (["-mcpu=cortex-m0plus"], (False, False, False)),
    (["-mcpu=cortex-m3"], (False, False, False)),
    (["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"], (True, False, True)),
    (["-mcpu=cortex-m4", "-mfloat-abi=soft"], (True, False, False)),
    (["-mcpu=cortex-m33+nodsp"], (False, False, True)),
    (["-mcpu=cortex-m55", "-mfloat-abi=hard"], (True, True, True)),
    (["-mcpu=cortex-m55+nomve+nofp"], (True, False, False)),
    (["-march=armv8.1-m.main+mve"], (True, True, False)),
    (["-mlongcalls"], (False, False, False)),  # Xtensa
])
def test_core_features_from_compiler_flags(flags: list[str], expected: tuple[bool, bool, bool]) -> None:
    from edgekit.cores import CoreFeatures

    f = CoreFeatures.from_flags(flags)
    assert (f.dsp, f.mve, f.fpu) == expected


def test_every_board_has_the_features_of_its_core() -> None:
    boards = {b.id: b for b in list_boards()}
    assert boards["qemu-cortex-m55"].features.mve and boards["qemu-cortex-m55"].has_mve
    assert boards["qemu-cortex-m4"].features.dsp and not boards["qemu-cortex-m4"].features.mve
    assert not boards["qemu-cortex-m3"].features.dsp
    assert not any(b.features.mve for b in boards.values() if b.id != "qemu-cortex-m55")


def test_chip_families_name_every_driver_that_exists() -> None:
    """Every UART and clock driver a family file names is a file of the firmware core; every board's UART, timer,
    clock family and energy-GPIO family is one the family files define."""
    from edgekit.boards.families import families, timer_kinds, uart_kinds
    from edgekit.gpio import FAMILIES as GPIO_FAMILIES
    from edgekit.resources import templates_dir

    common = templates_dir("common")
    fams = families()
    assert {"cortex-m", "arm-mps", "stm32l4", "stm32h7", "stm32f4", "nrf5"} <= set(fams)
    for u in uart_kinds().values():
        assert u.driver is None or (common / u.driver).is_file(), u
    for fam in fams.values():
        if fam.clock:
            assert (common / fam.clock["driver"]).is_file(), fam.name
    for b in list_boards():
        assert b.firmware.uart in uart_kinds() and b.firmware.timer in timer_kinds(), b.id
        if b.firmware.clock:
            assert fams[b.firmware.clock.family].clock, b.id
        if b.firmware.gpio_energy_pin:
            assert b.firmware.gpio_energy_pin.split(":")[0] in GPIO_FAMILIES, b.id


def test_bad_chip_family_file_names_the_field(tmp_path: Path) -> None:
    from edgekit.boards.families import parse_family
    from edgekit.boards.yamlfile import load_yaml

    f = tmp_path / "acme.yaml"
    f.write_text("schema: 1\nfamily: acme\ntitle: t\nsource: s\nuarts: {acme-uart: {driver: x.c, pins: spi}}\n")
    with pytest.raises(BoardError, match=r"acme.yaml: uarts.acme-uart.pins: 'spi' is not one of none, stm32, nrf"):
        parse_family(load_yaml(f), f)
    f.write_text("schema: 1\nfamily: other\ntitle: t\nsource: s\n")
    with pytest.raises(BoardError, match=r"family: 'other' does not match the file name 'acme'"):
        parse_family(load_yaml(f), f)
