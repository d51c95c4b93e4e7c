"""edgekit.data: gathering model inputs from arrays, files and iterables (numpy only, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.data import collect_samples, load_array_file
from edgekit.errors import DataError

SHAPE = (4, 4, 1)


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *SHAPE), dtype=np.float32)


def test_array_samples_batches_and_pairs_agree():
    x = _x(10)
    forms = [
        x,
        list(x),                                   # single samples
        (x[i : i + 4] for i in range(0, 10, 4)),   # batches of 4, 4, 2
        ((x[i], i) for i in range(10)),            # (x, y) pairs
        ([x[i : i + 1]] for i in range(10)),       # what a TF representative_dataset yields
        ({"x": x[i]} for i in range(10)),          # dict elements
    ]
    for data in forms:
        np.testing.assert_array_equal(collect_samples(data, what="calib", sample_shape=SHAPE), x)


def test_limit_stops_early_and_float64_is_cast():
    consumed = []

    def gen():
        for i in range(100):
            consumed.append(i)
            yield _x(1, i)[0]

    assert collect_samples(gen(), what="calib", sample_shape=SHAPE, limit=5).shape == (5, *SHAPE)
    assert len(consumed) == 5
    assert collect_samples(_x(3).astype(np.float64), what="calib", sample_shape=SHAPE).dtype == np.float32


@pytest.mark.parametrize(("data", "message"), [
    (np.zeros((3, 4, 4)), r"shape \(4, 4, 1\), i.e. an array \(N, 4, 4, 1\); got shape \(3, 4, 4\)"),
    (np.zeros((3, *SHAPE), np.uint8), "expected float32 values, got uint8 array of shape"),
    (np.zeros((0, *SHAPE), np.float32), "calib is empty"),
    (iter([]), "calib is empty"),
    ([np.zeros((2, 2), np.float32)], r"got an element of shape \(2, 2\)"),
    (3.0, "unsupported type float"),
])
def test_bad_data_names_expected_and_got(data, message):
    with pytest.raises(DataError, match=message):
        collect_samples(data, what="calib", sample_shape=SHAPE)


def test_nan_and_inf_are_located():
    x = _x(6)
    x[4, 1, 1, 0] = np.inf
    with pytest.raises(DataError, match=r"NaN or inf \(1 values; first in sample 4\)"):
        collect_samples(x, what="calib", sample_shape=SHAPE)


def test_files(tmp_path):
    x, y = _x(5), np.arange(5)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", x=x, y=y)
    np.savez(tmp_path / "c.npz", images=x, classes=y)  # no x/y keys: first array, then the other
    (tmp_path / "d.npy").write_text("not numpy")
    assert load_array_file(tmp_path / "a.npy")[1] is None
    for name in ("b.npz", "c.npz"):
        got_x, got_y = load_array_file(tmp_path / name)
        np.testing.assert_array_equal(got_x, x)
        np.testing.assert_array_equal(got_y, y)
    np.testing.assert_array_equal(collect_samples(str(tmp_path / "b.npz"), what="c", sample_shape=SHAPE), x)
    with pytest.raises(DataError, match="no such file"):
        load_array_file(tmp_path / "missing.npy")
    with pytest.raises(DataError, match="not a readable numpy file"):
        load_array_file(tmp_path / "d.npy")
    (tmp_path / "e.csv").write_text("1,2")
    with pytest.raises(DataError, match=r"unsupported file type '\.csv'"):
        load_array_file(tmp_path / "e.csv")


def test_damaged_npz_member_is_a_data_error(tmp_path: Path) -> None:
    """Found by fuzz/fuzz_convert_inputs.py: a bad CRC in an .npz member escaped as zipfile.BadZipFile."""
    path = tmp_path / "calib.npz"
    np.savez(path, x=np.arange(24, dtype=np.float32).reshape(4, 2, 3))
    data = bytearray(path.read_bytes())
    data[data.index(b"\x93NUMPY") + 140] ^= 0xFF  # one byte of the array's data: the member's CRC no longer holds
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="damaged array"):
        collect_samples(path, what="calibration data", sample_shape=(2, 3))
