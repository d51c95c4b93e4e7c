"""The fast paths of the AOT runtime (issue 8): they must give exactly what the reference paths give.

- ``ek_mbqm_pos`` (one 64-bit sum for both roundings) equals ``ek_mbqm`` and the Python twin.
- The portable SXTB16 / SADD16 / SMLAD / SMLABB / SMLATT emulations (host, Cortex-M0/M3) follow the
  instruction definitions, and the int8 widening layout matches what the dot products expect.
- The generator's filter layouts (``matmul_filter``) put every weight where ek_matmul.h says.
- On a DSP core the kernels are built from SMLAD (the cross-compiled object contains it), and without
  DSP (Cortex-M3) the same sources compile to the portable path.
Whole-model bit-exactness (host, every conv / depthwise / FC shape the zoo has) is in test_aot_kernels.py
and test_aot_models.py; benchmarks/runtime.py and benchmarks/aot_profile.py check it on QEMU.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need_tool

from edgekit.codegen.aot import RUNTIME_DIR
from edgekit.codegen.aot.ops.base import matmul_filter
from edgekit.codegen.aot.quant import mbqm

_MBQM = r"""
#include <stdio.h>
#include "ek_common.h"
int main(void) {
    long x, m, s;
    while (scanf("%ld %ld %ld", &x, &m, &s) == 3) {
        printf("%ld %ld\n", (long)ek_mbqm_pos((int32_t)x, (int32_t)m, (int)s),
               (long)ek_mbqm((int32_t)x, (int32_t)m, (int)s));
    }
    return 0;
}
"""

_SIMD = r"""
#include <stdio.h>
#include "ek_simd.h"
int main(void) {
    unsigned long a, b;
    long c;
    while (scanf("%lu %lu %ld", &a, &b, &c) == 3) {
        int16_t w[8];
        int8_t src[4];
        memcpy(src, &a, 4);
        ek_widen_s8_reordered(src, w, 4, (int32_t)(c % 256), 4, 2);
        printf("%lu %lu %lu %ld %ld %ld %d %d %d %d\n", (unsigned long)ek_sxtb16((uint32_t)a),
               (unsigned long)ek_sxtb16_ror8((uint32_t)a), (unsigned long)ek_sadd16((uint32_t)a, (uint32_t)b),
               (long)ek_smlad((uint32_t)a, (uint32_t)b, (int32_t)c),
               (long)ek_smlabb((uint32_t)a, (uint32_t)b, (int32_t)c),
               (long)ek_smlatt((uint32_t)a, (uint32_t)b, (int32_t)c), w[0], w[1], w[2], w[3]);
    }
    return 0;
}
"""


def _build(src: str, tmp_path: Path, name: str) -> Path:
    gcc = need_tool("gcc")
    (tmp_path / f"{name}.c").write_text(src)
    exe = tmp_path / name
    subprocess.run([gcc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-I", str(RUNTIME_DIR), str(tmp_path / f"{name}.c"), "-o", str(exe)],
                   check=True)
    return exe


def test_mbqm_pos_equals_mbqm_for_non_negative_multipliers(tmp_path: Path) -> None:
    exe = _build(_MBQM, tmp_path, "mbqm")
    rng = np.random.default_rng(8)
    n = 20000
    x = np.concatenate([rng.integers(-(2**31), 2**31, n // 2), rng.integers(-(2**20), 2**20, n // 2),
                        [-(2**31), 2**31 - 1, 0, -1, 1, -(2**30), 2**30]])
    m = np.concatenate([rng.integers(0, 2**31, n // 2), rng.integers(2**30, 2**31, n // 2 + 7)])
    m[:4] = [0, 1, 2**31 - 1, 2**30]
    s = rng.integers(-31, 1, x.size)
    left = rng.random(x.size) < 0.1  # left shifts, on values small enough for TFLM's int32 shift
    s[left] = rng.integers(1, 8, int(left.sum()))
    x[left] = rng.integers(-4000, 4000, int(left.sum()))
    lines = "\n".join(f"{a} {b} {c}" for a, b, c in zip(x, m, s, strict=True))
    out = subprocess.run([str(exe)], input=lines, capture_output=True, text=True, check=True).stdout.split()
    got = np.array(out, dtype=np.int64).reshape(-1, 2)
    assert np.array_equal(got[:, 0], got[:, 1])
    some = slice(0, 3000)
    want = [int(mbqm(np.array([a]), int(b), int(c))[0]) for a, b, c in zip(x[some], m[some], s[some], strict=True)]
    assert got[some, 0].tolist() == want


def _lanes8(v: np.ndarray) -> np.ndarray:
    return v.astype(np.uint32).view(np.int8).reshape(-1, 4).astype(np.int64)


def _lanes16(v: np.ndarray) -> np.ndarray:
    return v.astype(np.uint32).view(np.int16).reshape(-1, 2).astype(np.int64)


def test_portable_simd_helpers_follow_the_instructions(tmp_path: Path) -> None:
    exe = _build(_SIMD, tmp_path, "simd")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2**32, 3000, dtype=np.uint64)
    b = rng.integers(0, 2**32, 3000, dtype=np.uint64)
    c = rng.integers(-(2**31), 2**31, 3000)
    a[:4] = [0, 0xFFFFFFFF, 0x80808080, 0x7F7F7F7F]
    lines = "\n".join(f"{p} {q} {r}" for p, q, r in zip(a, b, c, strict=True))
    out = subprocess.run([str(exe)], input=lines, capture_output=True, text=True, check=True).stdout.split()
    got = np.array(out, dtype=np.int64).reshape(-1, 10)
    a8, a16, b16 = _lanes8(a), _lanes16(a), _lanes16(b)

    def pack(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)

    wrap = lambda v: ((v + 2**31) % 2**32) - 2**31  # noqa: E731
    assert np.array_equal(got[:, 0], pack(a8[:, 0], a8[:, 2]))
    assert np.array_equal(got[:, 1], pack(a8[:, 1], a8[:, 3]))
    assert np.array_equal(got[:, 2], pack(a16[:, 0] + b16[:, 0], a16[:, 1] + b16[:, 1]))
    assert np.array_equal(got[:, 3], wrap(c + a16[:, 0] * b16[:, 0] + a16[:, 1] * b16[:, 1]))
    assert np.array_equal(got[:, 4], wrap(c + a16[:, 0] * b16[:, 0]))
    assert np.array_equal(got[:, 5], wrap(c + a16[:, 1] * b16[:, 1]))
    # widened as [x0, x2, x1, x3] + offset (C's % keeps the sign of c)
    off = np.fmod(c, 256)
    assert np.array_equal(got[:, 6:], a8[:, [0, 2, 1, 3]] + off[:, None])


def test_matmul_filter_layout() -> None:
    w = np.arange(3 * 6, dtype=np.int8).reshape(3, 6)  # 3 rows, depth 6 -> padded to 8
    flat = matmul_filter(w)
    assert flat.size == 3 * 8
    pad = np.zeros((3, 8), dtype=np.int8)
    pad[:, :6] = w
    # rows 0 and 1 interleaved in 4-byte groups, row 2 plain
    assert flat[:16].tolist() == [*pad[0, :4], *pad[1, :4], *pad[0, 4:], *pad[1, 4:]]
    assert flat[16:].tolist() == pad[2].tolist()


@pytest.mark.toolchain
@pytest.mark.parametrize(("cpu", "dsp"), [("cortex-m4", True), ("cortex-m33", True), ("cortex-m3", False)])
def test_kernels_use_smlad_on_dsp_cores(cpu: str, dsp: bool, tmp_path: Path) -> None:
    gcc = need_tool("arm-none-eabi-gcc")
    objdump = need_tool("arm-none-eabi-objdump")
    text = ""
    for src in ("ek_matmul.c", "ek_conv.c", "ek_depthwise.c", "ek_matmul_w16.c", "ek_fc_w16.c"):
        obj = tmp_path / f"{src}.{cpu}.o"
        subprocess.run([gcc, f"-mcpu={cpu}", "-mthumb", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                        "-I", str(RUNTIME_DIR), "-c", str(RUNTIME_DIR / src), "-o", str(obj)], check=True)
        text += subprocess.run([objdump, "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    assert ("\tsmlad\t" in text) == dsp  # mnemonics only (the object's path names this test)
    assert ("\tsxtb16\t" in text) == dsp


def _c_array(ctype: str, name: str, values: np.ndarray) -> str:
    return f"static const {ctype} {name}[] = {{{', '.join(str(int(v)) for v in values.reshape(-1))}}};\n"


@pytest.mark.parametrize(("rows", "depth", "batches"), [(7, 13, 1), (9, 30, 1), (4, 8, 1), (3, 5, 2), (13, 1, 3)])
def test_fc_vec_equals_reference(rows: int, depth: int, batches: int, tmp_path: Path) -> None:
    """ek_fully_connected_s8_vec (matmul layout, folded bias, raw int8 input) == ek_fully_connected_s8."""
    from edgekit.codegen.aot.ops.fully_connected import folded_bias

    rng = np.random.default_rng(rows * 100 + depth)
    w = rng.integers(-128, 128, (rows, depth), dtype=np.int8)
    x = rng.integers(-128, 128, batches * depth, dtype=np.int8)
    bias = rng.integers(-2**20, 2**20, rows).astype(np.int32)
    in_offset = int(rng.integers(-127, 129))
    mult = rng.integers(2**30, 2**31 - 1, rows).astype(np.int32)
    shift = rng.integers(-12, 2, rows).astype(np.int8)
    src = ['#include <stdio.h>\n#include "ek_fully_connected.h"\n',
           _c_array("int8_t", "w", w), _c_array("int8_t", "wmm", matmul_filter(w)), _c_array("int8_t", "x", x),
           _c_array("int32_t", "bias", bias), _c_array("int32_t", "bfold", folded_bias(w, bias, in_offset)),
           _c_array("int32_t", "mult", mult), _c_array("int8_t", "shift", shift),
           f"""int main(void) {{
    int8_t a[{rows * batches}], b[{rows * batches}];
    ek_fc_params_t p = {{{batches}, {depth}, {rows}, {in_offset}, 0, -3, -128, 127, 1, mult, shift}};
    int i, same = 1;
    ek_fully_connected_s8(&p, x, w, bias, a);
    ek_fully_connected_s8_vec(&p, x, wmm, bfold, b);
    for (i = 0; i < {rows * batches}; i++) same &= a[i] == b[i];
    printf("%d\\n", same);
    return 0;
}}
"""]
    gcc = need_tool("gcc")
    (tmp_path / "t.c").write_text("".join(src))
    exe = tmp_path / "t"
    subprocess.run([gcc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-I", str(RUNTIME_DIR), str(tmp_path / "t.c"),
                    str(RUNTIME_DIR / "ek_fully_connected.c"), str(RUNTIME_DIR / "ek_matmul.c"), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "1"
