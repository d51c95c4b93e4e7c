"""Per-layer kernel-variant choice scored by a cycle model: int8 or int16 (widened) weights on DSP cores.

On cores with the DSP extension (Cortex-M4 / M7 / M33, no MVE) a CONV_2D (im2col path) or batch-1
FULLY_CONNECTED layer can run on the int8-weight SMLAD kernels (``ek_conv2d_s8_im2col``,
``ek_fully_connected_s8_vec``) or on the int16-weight ones (``*_w16``: the weights widened here, no SXTB16 in the
inner loop, twice the weight bytes in flash and twice the bytes read from flash per use). Which one is faster
depends on the board: the widened kernels execute ~35-45 % fewer instructions, but every weight word they read from
flash pays the flash wait states. A layer that uses each weight once per inference (batch-1 FULLY_CONNECTED:
reuse 1) reads twice the flash bytes for a small instruction saving; a 3x3 convolution over a 16x16 map (reuse
256) reads each weight word once per pixel pair, but saves ~0.5 instructions on every MAC.

The model, per layer and variant ``v`` on core ``c`` at ``ws`` flash wait states::

    instructions(v) = per_mac[v] * MACs + per_output[v] * outputs + per_tap[v] * taps * pixels
    cycles(v)       = per_mac[c][v] * MACs + per_output[c][v] * outputs + per_tap[c][v] * taps * pixels
                      + flash_words[v] * MACs * ws * flash_load_fraction[c]

``KERNELS``: guest instructions per MAC / output value / gathered im2col tap, fitted per kernel to per-layer counts
(QEMU ``-icount``, gcc -O2; ``benchmarks/variant_fit.py``, results and the per-layer error of the model in
``benchmarks/results/variant_model.json``). ``CYCLES``: the same terms in estimated cycles at zero wait states on
core ``c`` (the per-layer instruction mix priced by ``edgekit/cycles/cores/<core>.yaml``), fitted the same way;
``flash_words``: data loads from flash per MAC (the weight words: the int8 kernels read 4 weights per word, the
w16 kernels 2; the conv kernels share each word between two output pixels); ``flash_load_fraction``: the share of
the wait states a flash load pays (the core's timing table). Estimates from a model, not measurements.

The choice (``mode="auto"``): each eligible layer gets the variant with the fewer estimated cycles; when the widened
weights of all the layers that gain do not fit the flash budget, layers are widened in order of weight reuse
(MACs per weight: the layers that read each weight most often first) while they fit. ``"int8"`` keeps every layer
on int8 weights, ``"int16"`` widens every eligible layer (the budget still applies). A layer that on int8 weights
would run the sparse kernel instead (``sparse.py``'s instruction model prefers it to dense int8, not to dense int16)
is widened: the sparse kernel has no cycle model yet, and measured it is the slower one (VWW's op 14 on the M7 at
6 WS: 0.92 M estimated cycles sparse vs 0.80 M dense int16).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgekit.errors import UsageError

WEIGHT_MODES = ("auto", "int8", "int16")
DEFAULT_CORE = "cortex-m4"


@dataclass(frozen=True)
class KernelCost:
    """Cost terms of one kernel variant: instructions (KERNELS) or cycles at 0 WS (CYCLES); see the module doc."""

    per_mac: float
    per_output: float = 0.0
    per_tap: float = 0.0          # per im2col tap gathered per output pixel
    flash_words_per_mac: float = 0.0  # data loads from flash (weight words) per MAC


# Fitted by benchmarks/variant_fit.py to the Cortex-M4 per-layer counts of KWS / IC / VWW / AD built with --weights
# int8 and int16 (benchmarks/results/variant_model.json; the M7 / M33 builds execute the same kernels): instructions
# per MAC / output value / gathered tap, flash data loads per MAC (the weight words, plus the requantization words)
KERNELS: dict[tuple[str, str], KernelCost] = {
    ("conv", "int8"): KernelCost(1.096, 34.97, 32.42, 0.150),    # ek_conv2d_s8_im2col (ek_matmul_s8)
    ("conv", "int16"): KernelCost(0.686, 19.12, 31.25, 0.2895),  # ek_conv2d_s8_im2col_w16 (ek_matmul_s8w16)
    ("fc", "int8"): KernelCost(1.449, 38.55, 0.0, 0.2694),       # ek_fully_connected_s8_vec
    ("fc", "int16"): KernelCost(0.884, 26.44, 0.0, 0.5257),      # ek_fully_connected_s8_w16
}
# Estimated cycles at zero wait states per core (the instruction mix priced by the core's timing table), fitted the
# same way per MAC / output value / gathered tap. The int16 kernels' mix is heavier per instruction (LDM of 4 weight
# words feeding 8 SMLAD): e.g. on the M4 1.64 cycles per instruction vs 1.40 for int8, on the M7 1.09 vs 0.84.
CYCLES: dict[str, dict[tuple[str, str], KernelCost]] = {
    "cortex-m4": {("conv", "int8"): KernelCost(1.608, 43.85, 46.04), ("conv", "int16"): KernelCost(1.204, 27.67, 45.45),
                  ("fc", "int8"): KernelCost(1.888, 53.25), ("fc", "int16"): KernelCost(1.51, 36.32)},
    "cortex-m7": {("conv", "int8"): KernelCost(0.962, 26.4, 26.26), ("conv", "int16"): KernelCost(0.852, 15.97, 25.84),
                  ("fc", "int8"): KernelCost(1.134, 30.45), ("fc", "int16"): KernelCost(1.006, 20.24)},
    "cortex-m33": {("conv", "int8"): KernelCost(1.61, 45.02, 47.03), ("conv", "int16"): KernelCost(1.205, 27.65, 46.22),
                   ("fc", "int8"): KernelCost(1.888, 55.31), ("fc", "int16"): KernelCost(1.51, 36.56)},
}


@dataclass(frozen=True)
class Layer:
    """One layer that can run on either weight width: its geometry and the flash its widened weights add."""

    op: int
    opcode: str
    kind: str          # "conv" (im2col matmul) or "fc" (batch-1 FULLY_CONNECTED)
    rows: int          # output channels
    depth: int         # MACs per output value
    pixels: int        # output pixels (batch rows for FULLY_CONNECTED): how often each weight is used
    taps: int = 0      # im2col taps gathered per pixel (0: the input read in place)
    extra_bytes: int = 0  # flash the int16 variant adds over the int8 one
    sparse_if_int8: bool = False  # on int8 weights sparse.py's choice would run the sparse kernel (no cycle model)

    @property
    def macs(self) -> int:
        return self.rows * self.depth * self.pixels

    @property
    def reuse(self) -> int:
        """MACs per weight: how many times each weight is used per inference."""
        return self.pixels


@dataclass(frozen=True)
class Target:
    """What the cycle model needs of the board: its core's timing table and the flash wait states it runs at."""

    core: str = DEFAULT_CORE
    flash_wait_states: int = 0

    @property
    def flash_load_fraction(self) -> float:
        from edgekit.cycles.model import timing_for

        t = timing_for(self.core)
        return t.flash_load_fraction if t is not None else 0.5

    @property
    def kernel_cycles(self) -> dict[tuple[str, str], KernelCost]:
        """The core's zero-wait-state cycle constants (the Cortex-M4's for a core without its own)."""
        return CYCLES.get(_core_key(self.core), CYCLES[DEFAULT_CORE])


def _core_key(core: str) -> str:
    for key in CYCLES:
        if core.startswith(key):
            return key
    return DEFAULT_CORE


def _apply(k: KernelCost, layer: Layer) -> float:
    return k.per_mac * layer.macs + k.per_output * layer.rows * layer.pixels + k.per_tap * layer.taps * layer.pixels


def instructions(layer: Layer, variant: str) -> float:
    """Estimated guest instructions of ``layer`` on the ``variant`` ("int8" / "int16") kernel."""
    return _apply(KERNELS[(layer.kind, variant)], layer)


def cycles(layer: Layer, variant: str, target: Target) -> float:
    """Estimated cycles of ``layer`` on ``variant`` at the target's flash wait states (module docstring)."""
    k = KERNELS[(layer.kind, variant)]
    flash = k.flash_words_per_mac * layer.macs * target.flash_wait_states * target.flash_load_fraction
    return _apply(target.kernel_cycles[(layer.kind, variant)], layer) + flash


@dataclass
class Decision:
    """The weight width chosen for one layer, its estimates and why."""

    layer: Layer
    variant: str
    cycles_int8: float
    cycles_int16: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"op": self.layer.op, "opcode": self.layer.opcode, "variant": self.variant,
                "kernel": _KERNEL_NAMES[(self.layer.kind, self.variant)], "reuse": self.layer.reuse,
                "macs": self.layer.macs, "est_cycles_int8": round(self.cycles_int8),
                "est_cycles_int16": round(self.cycles_int16), "extra_flash_bytes_int16": self.layer.extra_bytes,
                "reason": self.reason}

    def line(self) -> str:
        """One line for ``generate``'s report and the notes."""
        return (f"op {self.layer.op} {self.layer.opcode}: {self.variant} weights "
                f"({_KERNEL_NAMES[(self.layer.kind, self.variant)]}): {self.reason}")


_KERNEL_NAMES = {("conv", "int8"): "ek_conv2d_s8_im2col", ("conv", "int16"): "ek_conv2d_s8_im2col_w16",
                 ("fc", "int8"): "ek_fully_connected_s8_vec", ("fc", "int16"): "ek_fully_connected_s8_w16"}


@dataclass
class Choice:
    """Every eligible layer's decision; ``wide``: the ops that get int16 weights."""

    decisions: list[Decision] = field(default_factory=list)

    @property
    def wide(self) -> set[int]:
        return {d.layer.op for d in self.decisions if d.variant == "int16"}


def check_weights_mode(mode: str) -> str:
    """Validate a ``weights=`` option."""
    if mode not in WEIGHT_MODES:
        raise UsageError(f"weights mode {mode!r} is not one of {', '.join(WEIGHT_MODES)}",
                         hint="auto: per layer by the cycle model; int8; int16: every layer that can")
    return mode


def _m(c: float) -> str:
    return f"{c / 1e6:.3f} M" if c >= 1e5 else f"{c / 1e3:.1f} K"


def choose_weights(layers: list[Layer], target: Target, *, mode: str = "auto",
                   extra_budget: int | None = None) -> Choice:
    """Pick int8 or int16 weights for each of ``layers`` (see the module docstring). ``extra_budget``: the flash
    bytes the widened weights may add over the all-int8 model (None: no limit)."""
    check_weights_mode(mode)
    ws = f"{target.flash_wait_states} WS {target.core}"
    est = {lay.op: (cycles(lay, "int8", target), cycles(lay, "int16", target)) for lay in layers}
    wants = [lay for lay in layers if mode == "int16" or (mode == "auto" and (
        lay.sparse_if_int8 or est[lay.op][1] < est[lay.op][0]))]
    left = extra_budget
    granted: set[int] = set()
    short: set[int] = set()
    for lay in sorted(wants, key=lambda lay: (-lay.reuse, -(est[lay.op][0] - est[lay.op][1]), lay.op)):
        if left is not None and lay.extra_bytes > left:
            short.add(lay.op)
            continue
        granted.add(lay.op)
        left = None if left is None else left - lay.extra_bytes
    out = Choice()
    for lay in layers:
        c8, c16 = est[lay.op]
        cmp = f"est. {_m(c16)} cycles int16 vs {_m(c8)} int8 at {ws}, reuse {lay.reuse}"
        if lay.sparse_if_int8:
            cmp = ("on int8 weights the sparse kernel would run (sparse.py: fewer instructions than dense int8, more "
                   f"than dense int16; the cycle model does not price it); dense {cmp}")
        if lay.op in granted:
            why = f"forced (--weights int16); {cmp}" if mode == "int16" else cmp
            out.decisions.append(Decision(lay, "int16", c8, c16, why))
        elif lay.op in short:
            why = (f"int16 would add {lay.extra_bytes} B, over the flash budget left ({left} B) after the layers "
                   f"with more weight reuse; {cmp}")
            out.decisions.append(Decision(lay, "int8", c8, c16, why))
        elif mode == "int8":
            out.decisions.append(Decision(lay, "int8", c8, c16, f"forced (--weights int8); {cmp}"))
        else:
            out.decisions.append(Decision(lay, "int8", c8, c16, cmp))
    return out


def board_choice(model: object, board: object, *, weights: str = "auto",
                 sparse: str = "auto") -> list[dict[str, object]]:
    """The per-layer decisions ``edgekit generate --runtime edgekit`` makes for ``model`` on ``board`` (a profile):
    the model generated into a temporary directory with the board's features, wait states and flash budget. Empty
    for a core without the int16-weight kernels (no DSP, or MVE)."""
    import tempfile

    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.project import CODE_FLASH_RESERVE
    from edgekit.cycles.model import board_flash_wait_states

    features = board.features  # type: ignore[attr-defined]
    if not features.dsp or features.mve:
        return []
    flash_kb = board.memory.flash_kb  # type: ignore[attr-defined]
    budget = max(flash_kb * 1024 - CODE_FLASH_RESERVE, 0) if flash_kb else None
    target = Target(board.core, board_flash_wait_states(board))  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="edgekit-variants-") as tmp:
        return generate_c(model, tmp, features=features, sparse=sparse, weights=weights, weights_budget=budget,
                          target=target).variants  # type: ignore[arg-type]
