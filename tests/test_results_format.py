"""``m-results-[...]``: the firmware's integer-only number formatting against Python, on a host build.

The protocol (firmware_templates/common/ek_protocol.c) prints output 0 as ``(q - zero_point) * scale`` in
single precision with 3 decimals, without printf or doubles. It is compiled for the host (ASan/UBSan,
-Werror) with an echo model (tests/fixtures/firmware_echo: output 0 = the input bytes), so the test picks
every raw output value; each configuration of dtype, scale and zero point is one build. The expected text
is Python's ``f"{v:.3f}"`` of the same float32 value (docs/protocol.md), except that a value rounding to
zero carries no minus sign, and magnitudes of 1e15 and more are ``<15 digits>e<exp>`` rounded half to even.
A real Cortex-M4 build checks that the image links no printf, soft-double or 64-bit division helpers.
"""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, need_tool, shared_model

from edgekit.codegen.common import OUT0_DTYPES

COMMON = REPO / "firmware_templates" / "common"
HOST = REPO / "firmware_templates" / "host"
ECHO = REPO / "tests" / "fixtures" / "firmware_echo"
ECHO_BYTES = 1024  # EK_ECHO_BYTES in the fixture
HOST_CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
               "-fno-sanitize-recover=all"]

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal
F32_SUB = float(np.float32(1e-45))  # smallest subnormal


def expected_text(v: np.float32) -> str:
    """The documented m-results text of one float32 value."""
    x = float(v)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    if abs(x) >= 1e15:
        n = int(abs(x))  # an exact integer at this magnitude
        e = len(str(n)) - 15
        return f"{'-' if x < 0 else ''}{round(Fraction(n, 10 ** e))}e{e}"
    s = f"{x:.3f}"
    return "0.000" if s == "-0.000" else s


def device_values(raw: bytes, dtype: str, scale: float, zero_point: int) -> np.ndarray:
    """What the firmware computes: float32(q - zero_point) * float32(scale), in float32."""
    if dtype == "float32":
        return np.frombuffer(raw, dtype="<f4")
    q = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(np.int64)
    with np.errstate(over="ignore", under="ignore"):
        return (q - zero_point).astype(np.float32) * np.float32(scale)


def build_echo(tmp: Path, dtype: str, scale: float, zero_point: int) -> Path:
    """Compile the protocol with the echo model and an ek_config.h for this output 0."""
    gcc = need_tool("gcc")
    code, _ = OUT0_DTYPES[dtype]
    (tmp / "ek_config.h").write_text(
        "#ifndef EK_CONFIG_H\n#define EK_CONFIG_H\n"
        '#define EK_EDGEKIT_VERSION "test"\n#define EK_BOARD_ID "host-test"\n#define EK_LINE_MAX 256\n'
        f"#define EK_INPUT_BYTES {ECHO_BYTES}u\n#define EK_OUT0_DTYPE {code}\n"
        # the literal as edgekit.codegen.common.model_io writes it
        f"#define EK_OUT0_SCALE {float(np.float32(scale)):.9e}f\n#define EK_OUT0_ZERO_POINT ({zero_point})\n"
        "#endif\n")
    exe = tmp / "echo"
    argv = [gcc, *HOST_CFLAGS, f"-I{tmp}", f"-I{ECHO}", f"-I{COMMON}", str(COMMON / "ek_protocol.c"),
            str(HOST / "ek_port_host.c"), str(HOST / "ek_host_main.c"), str(ECHO / "ek_model.c"), "-o", str(exe)]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return exe


def results_line(exe: Path, raw: bytes) -> str:
    """Upload ``raw`` (zero-padded to the input size), run one inference, return its m-results line."""
    res = subprocess.run([str(exe)], input=f"ek-bin {len(raw)}%".encode() + raw + b"infer%", capture_output=True,
                         check=False, timeout=120)
    assert res.returncode == 0 and not res.stderr, res.stderr.decode(errors="replace")
    lines = [ln for ln in res.stdout.decode("ascii").split("\r\n") if ln.startswith("m-results-")]
    assert len(lines) == 1, res.stdout
    return lines[0]


def check(exe: Path, raw: bytes, dtype: str, scale: float, zero_point: int) -> None:
    raw = raw + bytes(ECHO_BYTES - len(raw))
    want = "m-results-[" + ",".join(expected_text(v) for v in device_values(raw, dtype, scale, zero_point)) + "]"
    got = results_line(exe, raw)
    if got != want:  # name the first differing value, not two 5 KB lines
        pairs = zip(got[11:-1].split(","), want[11:-1].split(","), strict=False)
        bad = next(((i, g, w) for i, (g, w) in enumerate(pairs) if g != w), None)
        pytest.fail(f"value {bad[0]}: firmware {bad[1]!r}, expected {bad[2]!r}" if bad else f"{got!r} != {want!r}")


def powers_of_ten_neighbours() -> np.ndarray:
    """float32 values at and next to 10^k, alternating signs: rounding and digit-count boundaries."""
    vals = []
    for k in range(-3, 39):
        p = np.float32(10.0 ** k) * np.float32(-1 if k % 2 else 1)
        vals += [np.nextafter(p, np.float32(0)), p, np.nextafter(p, p * np.float32(2))]
    return np.array(vals, dtype=np.float32)


INT8_ALL = np.arange(-128, 128, dtype=np.int8).tobytes()
UINT8_ALL = np.arange(256, dtype=np.uint8).tobytes()


@pytest.mark.parametrize(("dtype", "scale", "zero_point", "raw"), [
    ("int8", 1 / 256, -128, INT8_ALL),                # softmax output, as MLPerf Tiny KWS
    ("int8", 0.0625, 3, INT8_ALL),                      # exact ties at the 4th decimal: half to even
    ("int8", 0.001, 0, INT8_ALL),                       # non-exact neighbours of ties
    ("int8", 0.0125, 127, INT8_ALL),                    # max zero point
    ("int8", F32_TINY, 0, INT8_ALL),                    # scale extremes: all round to (unsigned) 0.000
    ("int8", F32_SUB, -128, INT8_ALL),
    ("int8", F32_MAX, 0, INT8_ALL),                     # +-1 * max: 39-digit integers; beyond: inf, -inf
    ("int8", 3.0e13, -128, INT8_ALL),                   # crosses 1e15: "<digits>e<exp>"
    ("uint8", 1e13, 0, UINT8_ALL),
    ("uint8", 123.456, 255, UINT8_ALL),
    ("int16", 1 / 32768, 0, np.array([-32768, -32767, -1, 0, 1, 16384, 32767], "<i2").tobytes()
     + np.random.default_rng(1).integers(-32768, 32768, 500).astype("<i2").tobytes()),
    ("int32", 1.0, 0, np.array([-2**31, 2**31 - 1, 2**24 + 1, -(2**24 + 3), 999_999_999], "<i4").tobytes()
     + np.random.default_rng(2).integers(-2**31, 2**31, 250).astype("<i4").tobytes()),
    ("int32", 2.0 ** 100, 0, np.array([-2**31, 2**31 - 1, 1, -1, 3, 12345], "<i4").tobytes()),
    ("int32", 3e-39, 5, np.array([-2**31 + 5, 2**31 - 1, 0, 6, 1_000_000_000], "<i4").tobytes()),
])
def test_results_match_python_for_quantized_outputs(tmp_path: Path, dtype: str, scale: float, zero_point: int,
                                                    raw: bytes) -> None:
    check(build_echo(tmp_path, dtype, scale, zero_point), raw, dtype, scale, zero_point)


def test_results_match_python_for_float32_outputs(tmp_path: Path) -> None:
    exe = build_echo(tmp_path, "float32", 1.0, 0)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, F32_SUB, -F32_SUB, F32_TINY, F32_MAX, -F32_MAX,
                        0.0625, -0.0625, 0.1875, 2.0 ** 24, 2.0 ** 50, 2.0 ** 127, 0.0005, -0.0005, 0.0015,
                        999999.9995, -1e-4, 1234.5625], dtype=np.float32)
    rng = np.random.default_rng(3)
    chunks = [special, powers_of_ten_neighbours()]
    chunks.append(rng.integers(0, 2 ** 32, 256 - sum(map(len, chunks)), dtype=np.uint64).astype("<u4").view("<f4"))
    values = np.concatenate(chunks).astype("<f4")
    assert len(values) == ECHO_BYTES // 4
    check(exe, values.tobytes(), "float32", 1.0, 0)


@pytest.mark.toolchain
def test_firmware_links_no_printf_double_or_64bit_division(tmp_path: Path) -> None:
    """The size work of issue #8 stays done: the core formats numbers with 32-bit integer code only."""
    from edgekit.buildsys import build
    from edgekit.generation import generate

    need_tool("arm-none-eabi-gcc")
    nm = need_tool("arm-none-eabi-nm")
    gen = generate(shared_model("mlperf_tiny/ad_fc_autoencoder_int8.tflite"), board="qemu-cortex-m4",
                   out_dir=tmp_path / "ad")
    elf = build(gen.project_dir).elf
    names = {ln.split()[-1] for ln in subprocess.run([nm, str(elf)], capture_output=True, text=True,
                                                      check=True).stdout.splitlines() if ln.strip()}
    assert "ek_proto_feed" in names  # the symbol table is there
    unwanted = sorted(n for n in names if n.startswith(("__aeabi_d", "__aeabi_f2d", "__aeabi_l2d", "__aeabi_ul2d",
                                                        "__aeabi_uldivmod", "__aeabi_ldivmod", "__udivmoddi4",
                                                        "__divdi3", "__aeabi_ldiv0"))
                      or n in {"printf", "sprintf", "snprintf", "vsnprintf", "_vfprintf_r", "_svfprintf_r",
                               "_dtoa_r", "strlen", "memcmp"})
    assert unwanted == []
