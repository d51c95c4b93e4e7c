"""atheris harness: ``generate_c`` (edgekit's AOT C generator) on any model the reader accepts.

Outcome must be an :class:`~edgekit.codegen.aot.AotResult` or an :class:`~edgekit.errors.EdgekitError`; any other
exception is a crash, a hang is caught by libFuzzer's ``-timeout``. A checksum of the input picks the target it is
generated for (:data:`CONFIGS`: portable C; a DSP core with the per-layer int8/int16 weight choice, with every
layer on the int16-weight ``*_w16`` kernels, and under a flash budget at 5 wait states; MVE weight layouts; sparse
weights forced or off, no fusion), so every input always gets the same one and each config sees a seventh of the
campaign.
With ``EK_FUZZ_ACCEPTED=DIR`` each input for which C was generated is saved there (at most
``EK_FUZZ_ACCEPTED_MAX``, default 200) so that
``fuzz/compile_generated.py`` can check the generated C compiles with -Wall -Wextra -Werror.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zlib
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import collect_or_raise, scratch_dir

with atheris.instrument_imports(include=["edgekit"]):
    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.variants import Target
    from edgekit.cores import CoreFeatures
    from edgekit.errors import EdgekitError
    from edgekit.tflite_model import load_model

_SAVE = os.environ.get("EK_FUZZ_ACCEPTED")
_SAVE_MAX = int(os.environ.get("EK_FUZZ_ACCEPTED_MAX", "200"))
_WORK = scratch_dir("ek_fuzz_gen_")
DSP = CoreFeatures(dsp=True, fpu=True)
CONFIGS = [{}, {"features": DSP}, {"features": DSP, "weights": "int16"},
           {"features": DSP, "weights_budget": 256, "target": Target(flash_wait_states=5)},
           {"features": CoreFeatures(dsp=True, mve=True, fpu=True)}, {"sparse": "force"},
           {"sparse": "off", "fuse": False}]


def test_one(data: bytes) -> None:
    """One input: parse, then generate C into a scratch directory."""
    try:
        model = load_model(data)
        generate_c(model, _WORK / "out", **CONFIGS[zlib.crc32(data) % len(CONFIGS)])
    except EdgekitError:
        return
    except Exception as exc:  # anything else is a bug: stop (or file it in a long campaign)
        collect_or_raise(exc, data)
        return
    if _SAVE:
        save = Path(_SAVE)
        save.mkdir(parents=True, exist_ok=True)
        if sum(1 for _ in save.iterdir()) < _SAVE_MAX:
            (save / (hashlib.sha256(data).hexdigest()[:16] + ".tflite")).write_bytes(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
