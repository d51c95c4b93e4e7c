"""atheris harness: ``load_model`` + ``inspect(arena=False)`` on arbitrary bytes.

The only acceptable outcomes are a report or an :class:`~edgekit.errors.EdgekitError`; any other exception
is a crash (atheris prints it and writes the input to ``crash-*``), a hang is caught by libFuzzer's
``-timeout``. Run: ``python fuzz/fuzz_tflite.py CORPUS_DIR -runs=N`` (libFuzzer flags).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import collect_or_raise

with atheris.instrument_imports(include=["edgekit"]):
    from edgekit.errors import EdgekitError
    from edgekit.inspection import inspect
    from edgekit.tflite_model import load_model


def test_one(data: bytes) -> None:
    """One input: parse it; when it parses, inspect it and serialise the report."""
    try:
        _check(data)
    except EdgekitError:
        pass
    except Exception as exc:  # anything else is a bug: stop (or file it in a long campaign)
        collect_or_raise(exc, data)


def _check(data: bytes) -> None:
    model = load_model(data)
    report = inspect(model, arena=False)
    report.to_dict()
    for t in model.main.tensors:  # constant data as arrays (dtype/shape/length checks)
        if t.is_const:
            try:
                t.array()
            except EdgekitError:
                pass


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
