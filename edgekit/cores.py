"""What a CPU core offers the kernels, read from the board's compiler flags: the DSP extension (SMLAD, SXTB16),
integer MVE (Helium) and a single-precision FPU.

The C kernels pick DSP paths themselves (``__ARM_FEATURE_DSP``); the code generator needs the features that change
what it emits: MVE (its own weight layouts and kernels) and the FPU (float kernels, soft-float elsewhere).
GCC's rules: ``-mcpu=NAME[+ext...]`` with ``+nodsp`` / ``+nomve`` / ``+nofp`` removing an extension; ``-march=...+mve``
adding MVE; ``-mfloat-abi=soft`` means no FPU instructions whatever the core has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PORTABLE", "CoreFeatures"]

# cores whose default -mcpu configuration includes each extension (GCC 12's arm-cpus.in)
_DSP_CORES = {"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85", "star-mc1"}
_MVE_CORES = {"cortex-m55", "cortex-m85"}
_FPU_CORES = {"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85", "star-mc1"}


@dataclass(frozen=True)
class CoreFeatures:
    """The core's extensions that matter to edgekit's kernels (all False: portable C, e.g. Cortex-M0/M3, Xtensa)."""

    dsp: bool = False
    mve: bool = False
    fpu: bool = False

    @classmethod
    def from_flags(cls, flags: Iterable[str]) -> CoreFeatures:
        """Features from GCC's target flags (``-mcpu``, ``-march``, ``-mfloat-abi``, ``-mfpu``)."""
        dsp = mve = fpu = False
        soft = False
        for flag in flags:
            if flag.startswith("-mcpu="):
                name, *exts = flag[len("-mcpu="):].split("+")
                dsp = name in _DSP_CORES and "nodsp" not in exts
                mve = name in _MVE_CORES and "nomve" not in exts
                fpu = name in _FPU_CORES and "nofp" not in exts
            elif flag.startswith("-march="):
                exts = flag[len("-march="):].split("+")[1:]
                dsp = dsp or "dsp" in exts or "mve" in exts
                mve = mve or "mve" in exts or "mve.fp" in exts
                fpu = fpu or "fp" in exts or "mve.fp" in exts
            elif flag == "-mfloat-abi=soft" or flag == "-mfpu=none":
                soft = True
        return cls(dsp=dsp, mve=mve, fpu=fpu and not soft)

    def describe(self) -> str:
        """``"DSP, MVE, FPU"``-style summary (``"portable C"`` when none)."""
        names = [n.upper() for n in ("dsp", "mve", "fpu") if getattr(self, n)]
        return ", ".join(names) or "portable C"


PORTABLE = CoreFeatures()
