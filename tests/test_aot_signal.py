"""TFLM's signal library (the audio front-end custom ops) on edgekit's AOT runtime against the TFLM host interpreter,
byte for byte (issue 14).

Models are written here (CI has no TFLM checkout): CUSTOM operators named Signal* with their parameters as a
flexbuffer map, the filter-bank tables and the PCAN gain table synthesized (valid layouts, not the ones of a mel
front-end). One ASan/UBSan host build holds many operators with different options; a micro_speech-like chain
(Window -> FftAutoScale -> Rfft -> Energy -> FilterBank -> SquareRoot -> SpectralSubtraction -> PCAN ->
FilterBankLog, with the noise estimate kept across invocations) runs on the host over many frames and on the
emulated Cortex-M4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_module, need_tool
from tflite_single_op import T, multi_op_model

pytestmark = [pytest.mark.tflm]


def _mismatches(model: bytes, sets: list[list[np.ndarray]], work: Path) -> tuple[list[str], list[list[np.ndarray]]]:
    """(outputs where edgekit's bytes differ from TFLM's, edgekit's outputs). The frames of a Framer / Stacker whose
    valid flag (its bool output) is false are not compared: both runtimes leave them untouched."""
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run

    need_module("tflite_micro")
    need_tool("gcc")
    parsed = load_model(model)
    ours = run_host_sets(build_host(parsed, work), sets)
    ref = tflm_run(parsed, sets)
    producer = {t: op for op in parsed.main.operators for t in op.outputs}
    problems = []
    for k, (mine, theirs) in enumerate(zip(ours, ref, strict=True)):
        for j, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            b = np.asarray(b).reshape(a.shape)
            op = producer[parsed.main.outputs[j]]
            flag = [i for i, t in enumerate(parsed.main.outputs) if t in op.outputs and theirs[i].dtype == np.bool_]
            if a.dtype != np.bool_ and flag and not bool(np.asarray(theirs[flag[0]]).reshape(-1)[0]):
                continue
            if a.dtype != b.dtype or a.tobytes() != b.tobytes():
                problems.append(f"set {k} output {j} (op {op.index} {op.custom_code}): "
                                f"{int((a != b).sum())} of {a.size} differ")
    return problems, ours


def _varied(outs: list[list[np.ndarray]]) -> list[int]:
    """Indices of the outputs that take a single value over all sets (a weak test)."""
    return [j for j in range(len(outs[0]))
            if np.unique(np.concatenate([s[j].reshape(-1) for s in outs])).size < 2]


def filter_bank_tables(bins: int, channels: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Valid SignalFilterBank tables: weights, unweights (Q12, summing to 4096), per channel (+1) the first
    frequency bin, the first weight index and the width; channels overlap like triangular filters."""
    edges = np.sort(rng.choice(np.arange(1, bins - 1), size=channels + 2, replace=False))
    starts, widths = edges[:-1], np.maximum(edges[1:] - edges[:-1], 1)
    widths = np.minimum(widths, bins - starts)
    wstarts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    total = int(widths.sum())
    weights = rng.integers(0, 4097, size=total)
    return [weights.astype(np.int16), (4096 - weights).astype(np.int16), starts.astype(np.int16),
            wstarts.astype(np.int16), widths.astype(np.int16)]


def pcan_gain_table() -> np.ndarray:
    """A PCAN gain table of 125 int16: the gains of x = 0, 1, then per MSB interval 2..32 (value at 2^(i-1), slope,
    curvature, 0) of the curve 2^21 * (x / 128 + 80)^-0.95 (close to micro_speech's table)."""
    def gain(x: float) -> float:
        return min(32767.0, 2.0**21 * (x / 128.0 + 80.0) ** -0.95)  # PCAN strength 0.95, offset 80

    lut = [round(gain(x)) for x in (0, 1)]  # x = 2 is the first group's value
    for interval in range(2, 33):
        x0 = 2.0 ** (interval - 1)
        g0, g1, g2 = gain(x0), gain(1.5 * x0), gain(2 * x0)
        lut += [round(g0), round(4 * (g1 - g0) - (g2 - g0)), round(2 * (g2 - g0) - 4 * (g1 - g0)), 0]
    return np.clip(np.array(lut[:125]), -32768, 32767).astype(np.int16)


def _window(n: int) -> np.ndarray:
    return np.round(4096 * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))).astype(np.int16)


def _u32(shape: tuple[int, ...]) -> T:
    return T(shape, "uint32")


def _ops(rng: np.random.Generator) -> list:
    ops = []
    for shape, wlen, shift in (((1, 480), 480, 12), ((2, 96), 96, 15), ((64,), 32, 0), ((40,), 40, 20)):
        w = _window(wlen) if shift else rng.integers(-32768, 32768, size=wlen).astype(np.int16)
        ops.append(("SignalWindow", [T(shape, "int16"), T((wlen,), "int16", data=w)], [T(shape, "int16")],
                    {"shift": shift}))
    for n in (480, 33):
        ops.append(("SignalFftAutoScale", [T((n,), "int16")], [T((n,), "int16"), T((), "int32")], {}))
    # 512 and 1024: radix-4 stages only; 256, 64, 8: a radix-2 stage too; frames zero-padded or not, batched
    for shape, n_fft in (((480,), 512), ((2, 256), 256), ((3, 50), 64), ((1000,), 1024), ((8,), 8)):
        out = (*shape[:-1], n_fft + 2)
        ops.append(("SignalRfft", [T(shape, "int16")], [T(out, "int16")], {"T": 7, "fft_length": n_fft}))
    for shape, n_fft in (((400,), 512), ((2, 64), 64)):  # int32 (Q31) transform
        out = (*shape[:-1], n_fft + 2)
        ops.append(("SignalRfft", [T(shape, "int32")], [T(out, "int32")], {"T": 2, "fft_length": n_fft}))
    for shape, n_fft in (((514,), 512), ((2, 130), 128), ((3, 34), 32)):  # inverse: radix 4 only, and radix 2
        out = (*shape[:-1], n_fft)
        ops.append(("SignalIrfft", [T(shape, "int16")], [T(out, "int16")], {"T": 7, "fft_length": n_fft}))
    for shape, n_fft in (((258,), 256), ((2, 34), 32)):
        out = (*shape[:-1], n_fft)
        ops.append(("SignalIrfft", [T(shape, "int32")], [T(out, "int32")], {"T": 2, "fft_length": n_fft}))
    ops.append(("SignalEnergy", [T((514,), "int16")], [_u32((257,))], {"start_index": 0, "end_index": 257}))
    for bins, channels in ((257, 40), (33, 6)):
        tabs = filter_bank_tables(bins, channels, rng)
        ops.append(("SignalFilterBank", [_u32((bins,)), *(T((t.size,), "int16", data=t) for t in tabs)],
                    [T((channels,), "uint64")], {"num_channels": channels}))
    ops.append(("SignalFilterBankSquareRoot", [T((40,), "uint64"), T((), "int32")], [_u32((40,))], {}))
    for clamp, ch in ((False, 40), (True, 7)):
        ops.append(("SignalFilterBankSpectralSubtraction", [_u32((ch,))], [_u32((ch,)), _u32((ch,))],
                    {"alternate_one_minus_smoothing": 15401, "alternate_smoothing": 983, "clamping": clamp,
                     "min_signal_remaining": 819, "num_channels": ch, "one_minus_smoothing": 15975,
                     "smoothing": 409, "smoothing_bits": 10, "spectral_subtraction_bits": 14}))
    for shift in (6, 3):
        ops.append(("SignalPCAN", [_u32((40,)), _u32((40,)), T((125,), "int16", data=pcan_gain_table())],
                    [_u32((40,))], {"snr_shift": shift}))
    for bits, scale in ((3, 64), (0, 1 << 15), (8, 1)):
        ops.append(("SignalFilterBankLog", [_u32((40,))], [T((40,), "int16")],
                    {"input_correction_bits": bits, "output_scale": scale}))
    return ops


def _random_sets(model: bytes, n: int, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Inputs: int16 / int32 full range, then scaled-down signals; uint32 / uint64 spread over many magnitudes; the
    FilterBankSquareRoot shift (an int32 scalar) 0..8."""
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    sets = []
    for k in range(n):
        one = []
        for i in sg.inputs:
            t = sg.tensors[i]
            shape = tuple(t.shape)
            if t.dtype == "int16":
                scale = 32767.0 / 4 ** (k % 6)
                a = np.clip(rng.standard_normal(shape) * scale, -32768, 32767).astype(np.int16)
                if k == 0:
                    a[...] = -32768
            elif t.dtype == "int32" and shape == ():
                a = np.full(shape, k % 9, np.int32)
            elif t.dtype == "int32":  # int32 RFFT frames: full range, then scaled down
                a = np.clip(rng.standard_normal(shape) * 2.0**31 / 4 ** (k % 6), -(2**31), 2**31 - 1).astype(np.int32)
            else:
                top = 32 if t.dtype == "uint32" else 64
                bits = rng.integers(1, top + 1, size=shape).astype(np.uint64)
                a = rng.integers(0, 2**64 - 1, size=shape, dtype=np.uint64, endpoint=True) >> (np.uint64(64) - bits)
                a = a.astype(t.dtype)
                a.flat[:3] = [0, 1, 2]
            one.append(a)
        sets.append(one)
    return sets


def test_signal_ops_match_tflm(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    model = multi_op_model(_ops(rng))
    sets = _random_sets(model, 8, rng)
    problems, ours = _mismatches(model, sets, tmp_path)
    assert problems == [], problems[:20]
    assert _varied(ours) == []


def frontend_chain(rng: np.random.Generator, frame: int = 480, n_fft: int = 512, channels: int = 40) -> bytes:
    """micro_speech's audio preprocessor up to the log filter bank, with every intermediate an output too."""
    bins = n_fft // 2 + 1

    def out(shape: tuple[int, ...], dtype: str) -> T:
        return T(shape, dtype, graph_output=True)

    x, w, a, sb = T((frame,), "int16"), out((frame,), "int16"), out((frame,), "int16"), out((), "int32")
    y, e, fb = out((n_fft + 2,), "int16"), out((bins,), "uint32"), out((channels,), "uint64")
    sq, ss, ne, pc = (out((channels,), "uint32") for _ in range(4))
    lg = T((channels,), "int16")
    tabs = filter_bank_tables(bins, channels, rng)
    return multi_op_model([
        ("SignalWindow", [x, T((frame,), "int16", data=_window(frame))], [w], {"shift": 12}),
        ("SignalFftAutoScale", [w], [a, sb], {}),
        ("SignalRfft", [a], [y], {"T": 7, "fft_length": n_fft}),
        ("SignalEnergy", [y], [e], {"start_index": 0, "end_index": bins}),
        ("SignalFilterBank", [e, *(T((t.size,), "int16", data=t) for t in tabs)], [fb], {"num_channels": channels}),
        ("SignalFilterBankSquareRoot", [fb, sb], [sq], {}),
        ("SignalFilterBankSpectralSubtraction", [sq], [ss, ne],
         {"alternate_one_minus_smoothing": 15401, "alternate_smoothing": 983, "clamping": False,
          "min_signal_remaining": 819, "num_channels": channels, "one_minus_smoothing": 15975, "smoothing": 409,
          "smoothing_bits": 10, "spectral_subtraction_bits": 14}),
        ("SignalPCAN", [ss, ne, T((125,), "int16", data=pcan_gain_table())], [pc], {"snr_shift": 6}),
        ("SignalFilterBankLog", [pc], [lg], {"input_correction_bits": 3, "output_scale": 64}),
    ])


def audio_frames(n: int, rng: np.random.Generator, frame: int = 480) -> np.ndarray:
    """Tones of rising pitch and loudness with noise, then silence and a full-scale frame."""
    t = np.arange(frame) / 16000.0
    frames = [np.sin(2 * np.pi * (150 + 400 * k) * t) * 3 * 10 ** (k % 5) + rng.standard_normal(frame) * 40 * k
              for k in range(n - 2)]
    frames += [np.zeros(frame), np.full(frame, -32768.0)]
    return np.clip(np.stack(frames), -32768, 32767).astype(np.int16)


def test_frontend_chain_matches_tflm_over_frames(tmp_path: Path) -> None:
    """The noise estimate is state: 16 frames in a row, every intermediate compared."""
    rng = np.random.default_rng(5)
    model = frontend_chain(rng)
    frames = audio_frames(16, rng)
    problems, ours = _mismatches(model, [[f] for f in frames], tmp_path)
    assert problems == [], problems[:20]
    assert _varied(ours) == []


def test_unsupported_custom_ops_say_what_they_are(tmp_path: Path) -> None:
    from edgekit.codegen.aot import check_supported
    from edgekit.errors import UnsupportedOpError

    for code, words in (("ethos-u", "Ethos-U NPU"), ("SignalFancyNewOp", "signal library"),
                        ("MyOwnOp", "custom op 'MyOwnOp'")):
        model = multi_op_model([(code, [T((4,), "int8")], [T((4,), "int8")], {"x": 1})])
        with pytest.raises(UnsupportedOpError, match=words):
            check_supported(model)


@pytest.mark.qemu
@pytest.mark.toolchain
def test_frontend_chain_bit_exact_on_qemu(tmp_path: Path) -> None:
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    from edgekit.validation import validate

    rng = np.random.default_rng(6)
    path = tmp_path / "frontend.tflite"
    path.write_bytes(frontend_chain(rng))
    xs = audio_frames(6, rng)
    res = validate(path, board="qemu-cortex-m4", inputs=xs, work_dir=tmp_path / "fw")
    assert res.byte_exact == len(xs), res.to_dict()["mismatches"]
    assert list(Path(res.project_dir).rglob("ek_signal.c")), "not built with edgekit's AOT runtime"


def test_streaming_ops_match_tflm_over_invocations(tmp_path: Path) -> None:
    """Delay, Framer (with and without prefill, several rows), OverlapAdd (int16 saturating, float32) and Stacker
    (left / right context, steps): state kept across 12 invocations; frames compared when valid, the valid flags
    always."""
    rng = np.random.default_rng(9)
    ops = [("SignalDelay", [T((3, 20), "int16")], [T((3, 20), "int16")], {"delay_length": 7}),
           ("SignalDelay", [T((16,), "int16")], [T((16,), "int16")], {"delay_length": 40}),
           ("SignalFramer", [T((2, 24), "int16")], [T((2, 3, 20), "int16"), T((), "bool")],
            {"frame_size": 20, "frame_step": 8, "prefill": True}),
           ("SignalFramer", [T((30,), "int16")], [T((2, 25), "int16"), T((), "bool")],
            {"frame_size": 25, "frame_step": 15, "prefill": False})]
    ops += [("SignalOverlapAdd", [T((2, 3, 16), "int16")], [T((2, 3 * 6), "int16")], {"T": 7, "frame_step": 6}),
            ("SignalOverlapAdd", [T((1, 10), "int16")], [T((10,), "int16")], {"T": 7, "frame_step": 10}),
            ("SignalOverlapAdd", [T((4, 12), "float32")], [T((4 * 5,), "float32")], {"T": 0, "frame_step": 5})]
    for left, right, step in ((2, 1, 1), (0, 2, 2), (3, 0, 3)):
        ops.append(("SignalStacker", [T((5,), "int16")], [T((5 * (left + right + 1),), "int16"), T((), "bool")],
                    {"num_channels": 5, "stacker_left_context": left, "stacker_right_context": right,
                     "stacker_step": step}))
    model = multi_op_model(ops)
    from edgekit.tflite_model import load_model

    sg = load_model(model).main
    sets = [[rng.integers(-32768, 32768, size=sg.tensors[i].shape).astype(np.int16) if sg.tensors[i].dtype == "int16"
             else (rng.standard_normal(sg.tensors[i].shape) * 100).astype(np.float32) for i in sg.inputs]
            for _ in range(12)]
    problems, ours = _mismatches(model, sets, tmp_path)
    assert problems == [], problems[:20]
    valid = [int(o[j]) for o in ours for j in range(len(o)) if o[j].dtype == np.bool_]
    assert 0 in valid and 1 in valid, valid


def test_int32_tail_cast_and_arithmetic_match_tflm(tmp_path: Path) -> None:
    """What follows the front-end in micro_speech's preprocessor: CAST between integer types and plain int32 ADD /
    SUB / MUL / DIV with broadcasting and fused activations (TFLM ignores ADD's)."""
    rng = np.random.default_rng(3)
    big, small, mid = T((2, 4, 3), "int32"), T((2, 4, 3), "int32"), T((1, 4, 3), "int32")
    divisor = T((1, 1, 3), "int32", data=np.array([[[7, -3, 1000]]], np.int32))
    scalar = T((), "int32", data=np.array(-5, np.int32))
    i16, u32, i8 = T((50,), "int16"), T((50,), "uint32"), T((50,), "int8")
    w = T((50,), "int32")
    ops = [("CAST", [i16], [w], {}), ("CAST", [w], [T((50,), "int8")], {}), ("CAST", [u32], [T((50,), "int32")], {}),
           ("CAST", [w], [T((50,), "uint32")], {}), ("CAST", [w], [T((50,), "int16")], {}),
           ("CAST", [i8], [T((50,), "int32")], {}), ("CAST", [i16], [T((50,), "uint32")], {})]
    for op, act in (("ADD", "RELU"), ("SUB", "RELU6"), ("SUB", "NONE"), ("MUL", "NONE"), ("MUL", "RELU_N1_TO_1"),
                    ("DIV", "NONE"), ("DIV", "RELU")):
        other = divisor if op == "DIV" else mid
        ops.append((op, [big if op != "MUL" else small, other], [T((2, 4, 3), "int32")], {"activation": act}))
    ops.append(("DIV", [small, scalar], [T((2, 4, 3), "int32")], {}))
    model = multi_op_model(ops)
    sets = []  # the model's inputs in order of first use: i16, u32, i8, big, mid, small
    for _ in range(4):
        sets.append([rng.integers(-32768, 32768, size=50).astype(np.int16),
                     rng.integers(0, 2**32, size=50, dtype=np.uint64).astype(np.uint32),
                     rng.integers(-128, 128, size=50).astype(np.int8),
                     rng.integers(-(2**30), 2**30, size=(2, 4, 3)).astype(np.int32),
                     rng.integers(-(2**30), 2**30, size=(1, 4, 3)).astype(np.int32),
                     rng.integers(-(2**15), 2**15, size=(2, 4, 3)).astype(np.int32)])
    problems, ours = _mismatches(model, sets, tmp_path)
    assert problems == [], problems[:20]
    assert _varied(ours) == []


@pytest.mark.toolchain
def test_signal_kernels_compile_for_cortex_m_without_warnings(tmp_path: Path) -> None:
    import subprocess

    from conftest import REPO

    gcc = need_tool("arm-none-eabi-gcc")
    for name in ("ek_signal.c", "ek_signal_fft32.c"):
        src = REPO / "firmware_templates" / "runtime" / "edgekit" / name
        for cpu in ("cortex-m0plus", "cortex-m4"):
            res = subprocess.run([gcc, "-std=c99", f"-mcpu={cpu}", "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror",
                                  "-Wconversion", "-Wno-sign-conversion", "-c", str(src), "-o", str(tmp_path / "s.o")],
                                 capture_output=True, text=True)
            assert res.returncode == 0, f"{cpu} {name}: {res.stderr}"


def test_state_is_reset_by_model_init(tmp_path: Path) -> None:
    """Every stateful signal op starts over after ek_model_init (as TFLM's interpreter Reset): the same three
    invocations after a second init give the same outputs as after the first."""
    import subprocess

    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.host import CFLAGS, SANITIZE

    gcc = need_tool("gcc")
    frame = T((24,), "int16")
    model = multi_op_model([
        ("SignalDelay", [frame], [T((24,), "int16")], {"delay_length": 30}),
        ("SignalFramer", [frame], [T((3, 16), "int16"), T((), "bool")],
         {"frame_size": 16, "frame_step": 8, "prefill": True}),
        ("SignalStacker", [T((6,), "int16")], [T((18,), "int16"), T((), "bool")],
         {"num_channels": 6, "stacker_left_context": 1, "stacker_right_context": 1, "stacker_step": 1}),
        ("SignalOverlapAdd", [T((2, 12), "int16")], [T((8,), "int16")], {"T": 7, "frame_step": 4}),
        ("SignalFilterBankSpectralSubtraction", [T((6,), "uint32")], [T((6,), "uint32"), T((6,), "uint32")],
         {"alternate_one_minus_smoothing": 15401, "alternate_smoothing": 983, "clamping": False,
          "min_signal_remaining": 819, "num_channels": 6, "one_minus_smoothing": 15975, "smoothing": 409,
          "smoothing_bits": 10, "spectral_subtraction_bits": 14}),
    ])
    res = generate_c(model, tmp_path / "src")
    main = tmp_path / "main.c"
    main.write_text(r"""#include <stdio.h>
#include <stdint.h>
#include "ek_model.h"
int main(void) {
    for (int run = 0; run < 2; ++run) {
        if (ek_model_init() != 0) return 1;
        for (int k = 0; k < 3; ++k) {
            for (int i = 0; i < EK_NUM_INPUTS; ++i) {
                uint8_t *p = (uint8_t *)ek_model_input(i);
                for (size_t j = 0; j < ek_model_input_bytes(i); ++j) p[j] = (uint8_t)(j * 37 + k * 11 + i);
            }
            if (ek_model_invoke() != 0) return 2;
            unsigned h = 0;
            for (int o = 0; o < EK_NUM_OUTPUTS; ++o) {
                const uint8_t *p = (const uint8_t *)ek_model_output(o);
                for (size_t j = 0; j < ek_model_output_bytes(o); ++j) h = h * 31u + p[j];
            }
            printf("%d %u\n", k, h);
        }
    }
    return 0;
}
""")
    srcs = [str(f) for f in res.files if f.suffix == ".c"] + [
        str(p) for p in (tmp_path / "src").glob("ek_*.c") if str(p) not in {str(f) for f in res.files}]
    exe = tmp_path / "reset"
    subprocess.run([gcc, *CFLAGS, *SANITIZE, "-I", str(tmp_path / "src"), str(main), *sorted(set(srcs)), "-o",
                    str(exe), "-lm"], check=True, capture_output=True)  # ek_float*.c use libm
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    first, second = lines[:6], lines[6:]
    assert first == second and len(set(first[1::2])) == 3, lines
