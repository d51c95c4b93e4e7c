"""Sparse int8 weights for CONV_2D / FULLY_CONNECTED (the ek_sparse.h encoding) and the per-layer choice.

Per filter row (output channel) only the non-zero weights are stored, as 2-byte entries
``(delta uint8, weight int8)``: ``delta`` is the distance from the previous entry's input offset (the
first entry's from 0); a gap longer than 255 is bridged by ``(255, 0)`` filler entries. ``counts[r]``
is the number of entries of row r. The input zero point is folded into the bias (exact mod 2^32), so
the kernel multiplies raw int8 inputs.

The choice per layer (``mode="auto"``) compares instruction estimates fitted to per-layer counts on
Cortex-M4 (QEMU ``-icount``, gcc -O2, ``benchmarks/aot_profile.py --sparse off|force`` on the MLPerf
Tiny VWW model): the dense SMLAD kernels cost about 1.17 instructions per MAC plus ~31 per output
value, the sparse kernel ~3.3 per entry and output pixel (4 pixels share one pass over a row's
entries: 13 instructions per entry) plus ~22.5 per output value; gathering an im2col patch costs ~42
(dense) / ~35 (sparse) per pixel and tap; a batch-1 FULLY_CONNECTED costs ~1.5 per MAC dense and ~8
per entry sparse. For a deep 1x1 convolution sparse wins below ~35% entries (non-zeros plus fillers);
there the 2-byte entries are also smaller in flash than the dense bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.errors import UsageError

SPARSE_MODES = ("auto", "off", "force")

# Instructions on Cortex-M4 (gcc -O2), fitted to VWW's layers: see the module docstring
CONV_DENSE_PER_MAC, CONV_DENSE_PER_OUTPUT, CONV_DENSE_PER_TAP = 1.17, 31.0, 42.0    # ek_conv2d_s8_im2col
CONV_SPARSE_PER_ENTRY, CONV_SPARSE_PER_OUTPUT, CONV_SPARSE_PER_TAP = 3.28, 22.5, 35.0  # ek_sparse_conv2d_s8
FC_DENSE_PER_MAC, FC_SPARSE_PER_ENTRY = 1.5, 8.0  # one batch row: ek_fully_connected_s8_vec, 1-column loop
# DSP cores' dense kernels with int16 weights (ek_conv2d_s8_im2col_w16, ek_fully_connected_s8_w16), fitted the same
# way to VWW's and AD's layers with --sparse off
CONV_W16_PER_MAC, CONV_W16_PER_OUTPUT, CONV_W16_PER_TAP = 0.66, 19.0, 40.0
FC_W16_PER_MAC = 0.95
MAX_COUNT = 0xFFFF           # counts are uint16


@dataclass(frozen=True)
class SparseWeights:
    """The encoding of one [rows][depth] int8 filter."""

    rows: int
    depth: int
    counts: np.ndarray   # uint16 [rows]: entries per row
    entries: np.ndarray  # uint8 [2 * total entries]: (delta, weight as uint8) pairs
    nonzeros: int

    @property
    def n_entries(self) -> int:
        """Entries in all rows (non-zeros plus fillers)."""
        return int(self.counts.sum(dtype=np.int64))

    @property
    def density(self) -> float:
        """Entries / dense weights: the work and flash of the sparse form relative to the dense one."""
        return self.n_entries / max(self.rows * self.depth, 1)

    @property
    def nbytes(self) -> int:
        """Flash bytes of the encoding (entries + counts; the folded bias is extra, as the dense bias is)."""
        return int(self.entries.size) + 2 * self.rows


def encode(weights: np.ndarray) -> SparseWeights:
    """Encode int8 ``weights`` [rows][depth] (any shape with rows first is flattened per row)."""
    w = np.asarray(weights)
    if w.dtype != np.int8:
        raise ValueError(f"sparse encoding needs int8 weights, got {w.dtype}")
    w = w.reshape(w.shape[0], -1)
    rows, depth = w.shape
    counts = np.zeros(rows, dtype=np.int64)
    parts: list[np.ndarray] = []
    for r in range(rows):
        idx = np.flatnonzero(w[r])
        if idx.size == 0:
            continue
        gaps = np.diff(idx, prepend=0)
        fill = np.maximum(gaps - 1, 0) // 255  # fillers before each non-zero: gap = 255 * fill + rest, rest 0..255
        if not fill.any():
            pairs = np.stack([gaps, w[r, idx].view(np.uint8)], axis=1)
        else:
            n = idx.size + int(fill.sum())
            pairs = np.zeros((n, 2), dtype=np.int64)
            pairs[:, 0] = 255
            pos = np.arange(idx.size) + np.cumsum(fill)  # where each real entry lands
            pairs[pos, 0] = gaps - 255 * fill
            pairs[pos, 1] = w[r, idx].view(np.uint8)
        counts[r] = len(pairs)
        parts.append(pairs.astype(np.uint8).reshape(-1))
    entries = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
    return SparseWeights(rows=rows, depth=depth, counts=counts.astype(np.uint16) if counts.max(initial=0) <= MAX_COUNT
                         else counts, entries=entries, nonzeros=int(np.count_nonzero(w)))


def decode(enc: SparseWeights) -> np.ndarray:
    """The dense [rows][depth] int8 weights of an encoding (the inverse of :func:`encode`; for tests)."""
    out = np.zeros((enc.rows, enc.depth), dtype=np.int8)
    pairs = enc.entries.reshape(-1, 2)
    pos = 0
    for r, n in enumerate(enc.counts.tolist()):
        off = 0
        for delta, wb in pairs[pos:pos + n].tolist():
            off += delta
            if wb:
                out[r, off] = np.uint8(wb).view(np.int8)
        pos += n
    return out


def check_mode(mode: str) -> str:
    """Validate a ``sparse=`` option."""
    if mode not in SPARSE_MODES:
        raise UsageError(f"sparse mode {mode!r} is not one of {', '.join(SPARSE_MODES)}")
    return mode


def estimate(enc: SparseWeights, columns: int, *, taps: int = 0, kind: str = "conv",
             w16: bool = False) -> tuple[float, float]:
    """(dense, sparse) instruction estimates of a layer: ``columns`` output pixels (or batch rows) of
    ``enc.rows`` channels over ``enc.depth`` inputs; ``taps``: k_h * k_w when an im2col patch is gathered
    per pixel (0 for a 1x1 convolution without padding, which reads the input in place); ``w16``: the dense
    layer would run on the int16-weight kernels of DSP cores."""
    macs = enc.rows * enc.depth * columns
    outputs = enc.rows * columns
    if kind == "fc" and columns < 4:
        return (FC_W16_PER_MAC if w16 else FC_DENSE_PER_MAC) * macs, FC_SPARSE_PER_ENTRY * enc.n_entries * columns
    per_mac, per_out, per_tap = ((CONV_W16_PER_MAC, CONV_W16_PER_OUTPUT, CONV_W16_PER_TAP) if w16 else
                                 (CONV_DENSE_PER_MAC, CONV_DENSE_PER_OUTPUT, CONV_DENSE_PER_TAP))
    dense = per_mac * macs + per_out * outputs + per_tap * taps * columns
    sparse = (CONV_SPARSE_PER_ENTRY * enc.n_entries * columns + CONV_SPARSE_PER_OUTPUT * outputs
              + CONV_SPARSE_PER_TAP * taps * columns)
    return dense, sparse


def choose(mode: str, enc: SparseWeights, columns: int, *, taps: int = 0, kind: str = "conv",
           w16: bool = False) -> bool:
    """Whether to emit the sparse kernel for a layer: never for "off", always for "force" (when the counts fit),
    for "auto" when :func:`estimate` says it is cheaper."""
    if mode == "off" or int(enc.counts.max(initial=0)) > MAX_COUNT:
        return False
    if mode == "force":
        return True
    dense, sparse = estimate(enc, columns, taps=taps, kind=kind, w16=w16)
    return sparse < dense
