"""atheris harness: the checks ``edgekit convert`` runs on its inputs before any converter starts.

The converters themselves (TensorFlow, litert-torch) take seconds per run and run in a child process with a
timeout, so a campaign over them is not worth its time; what the parent does with hostile files is. The first
byte picks what the rest is: an ``.onnx`` model (``check_onnx`` + ``inspect``'s forecast: protobuf parsing,
the op check, shape inference and the MAC count), calibration/validation data (``.npy``/``.npz`` through
``collect_samples`` and ``validation_data``), a ``.pt2`` archive's metadata (``saved_with``, zip + JSON), or
what the Keras converter child (``edgekit._convert_child``) sends back: its JSON-line messages, then, after a
NUL byte, its ``result.json``, both read by the parent's ``conversion._run_isolated`` through a stand-in
child (``_common.ReplayChild``) instead of a TensorFlow process.
The only acceptable outcomes are a result or an :class:`~edgekit.errors.EdgekitError`.
Run: ``python fuzz/fuzz_convert_inputs.py CORPUS_DIR -runs=N`` (libFuzzer flags). Needs ``onnx``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import collect_or_raise, replay_child_stream, scratch_dir

with atheris.instrument_imports(include=["edgekit"]):
    from edgekit import _isolate, conversion  # noqa: F401 (instrumented here; replay_child_stream uses them)
    from edgekit.conversion_common import validation_data
    from edgekit.data import collect_samples
    from edgekit.errors import EdgekitError
    from edgekit.frontends._worker import saved_with
    from edgekit.frontends.forecast import forecast
    from edgekit.frontends.onnx_graph import check_onnx

_WORK = scratch_dir("ek_fuzz_convert_")
tempfile.tempdir = str(_WORK)  # _run_isolated's job directories: in RAM too
KINDS = (".onnx", ".npy", ".npz", ".pt2", ".child")


def test_one(data: bytes) -> None:
    """One input: ``data[0]`` picks the kind, ``data[1:]`` is the file."""
    if not data:
        return
    suffix = KINDS[data[0] % len(KINDS)]
    path = _WORK / f"input{suffix}"
    path.write_bytes(data[1:])
    try:
        _check(path, suffix)
    except EdgekitError:
        pass
    except Exception as exc:  # anything else is a bug: stop (or file it in a long campaign)
        collect_or_raise(exc, data)


def _check(path: Path, suffix: str) -> None:
    if suffix == ".onnx":
        check_onnx(path)
        forecast(path).to_dict()
    elif suffix == ".pt2":
        saved_with(str(path))
    elif suffix == ".child":
        replay_child_stream(path.read_bytes(), _WORK)
    else:
        x = collect_samples(path, what="calibration data", sample_shape=(2, 3), limit=8)
        validation_data(path, None, tuple(x.shape[1:]))


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
