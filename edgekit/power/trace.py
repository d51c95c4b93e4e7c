"""A compact current trace for a bench JSON: min/mean/max current per time bucket, and the marked windows.

A capture holds thousands to millions of samples; a plot needs a few hundred columns. :func:`compact_trace`
keeps, per bucket of consecutive samples, the lowest, mean and highest current (so short spikes survive), and the
start/stop time of every window the energy integration used (``energy.trace`` in docs/bench-schema.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgekit.power.base import Capture

BUCKETS = 400
MAX_WINDOWS = 64


def compact_trace(cap: Capture, windows: list[tuple[int, int]], buckets: int = BUCKETS) -> dict[str, Any]:
    """``{t0_s, bucket_s, min_ma, mean_ma, max_ma, windows_s}``; ``windows`` as sample index ranges [start, stop).

    Times are relative to the first sample. Buckets hold equal numbers of samples (the last may hold fewer).
    """
    t = np.asarray(cap.t_s, dtype=np.float64)
    i = np.asarray(cap.current_a, dtype=np.float64) * 1e3
    n = int(i.size)
    if n == 0:
        return {"t0_s": 0.0, "bucket_s": 0.0, "samples_per_bucket": 0, "min_ma": [], "mean_ma": [], "max_ma": [],
                "windows_s": [], "duration_s": 0.0}
    per = max(1, -(-n // buckets))
    period = 1.0 / cap.sample_rate_hz if cap.sample_rate_hz > 0 else (float(np.median(np.diff(t))) if n > 1 else 0)
    t0 = float(t[0])
    edges = list(range(0, n, per))
    mins = [round(float(i[a:a + per].min()), 6) for a in edges]
    means = [round(float(i[a:a + per].mean()), 6) for a in edges]
    maxs = [round(float(i[a:a + per].max()), 6) for a in edges]

    def at(k: int) -> float:
        return float(t[k] - t0) if k < n else float(t[-1] - t0 + period)

    wins = [[round(at(a), 9), round(at(b), 9)] for a, b in windows[:MAX_WINDOWS] if b > a]
    return {"t0_s": 0.0, "bucket_s": per * period, "samples_per_bucket": per, "min_ma": mins, "mean_ma": means,
            "max_ma": maxs, "windows_s": wins, "duration_s": at(n)}
