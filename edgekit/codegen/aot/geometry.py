"""Window geometry of convolution and pooling ops, computed as TFLite's ``padding.h`` does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Padding1D:
    """Padding along one spatial axis: ``before`` elements, ``offset`` extra after (SAME, odd total)."""

    before: int
    offset: int
    out_size: int


def _trunc_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def compute_padding(padding: str, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> Padding1D:
    """TFLite's ComputeOutSize + ComputePaddingWithOffset for one axis.

    Raises ValueError for invalid parameters (non-positive sizes, unknown padding, empty output).
    """
    if padding not in ("SAME", "VALID") or in_size < 0 or filter_size <= 0 or stride <= 0 or dilation <= 0:
        raise ValueError(f"invalid window: padding={padding} in={in_size} filter={filter_size} "
                         f"stride={stride} dilation={dilation}")
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = _trunc_div(in_size + stride - 1, stride)
    else:
        out = _trunc_div(in_size + stride - effective, stride)
    if out <= 0:
        raise ValueError(f"window of {effective} with stride {stride} gives no output from {in_size} inputs")
    total = max((out - 1) * stride + effective - in_size, 0)
    return Padding1D(before=total // 2, offset=total % 2, out_size=out)
