"""The modelled estimate of energy per inference (no meter): supply voltage x active current x latency.

Figures come from the board profile's ``power`` section (datasheet or earlier measurements); the result is
labelled ``kind: "modelled"`` so nobody mistakes it for a measurement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile

FORMULA = "E = supply_v x active_ma x median latency"


def modelled_uj(board: BoardProfile, latency_us: float) -> float | None:
    """V x mA x µs / 1000 = µJ; None when the board has no usable power model."""
    p = board.power
    if p.model == "none" or p.supply_v <= 0 or p.active_ma <= 0:
        return None
    return p.supply_v * p.active_ma * latency_us / 1000.0


def modelled_energy(board: BoardProfile, latency_us: float) -> dict[str, Any]:
    """The ``energy`` section of a benchmark result without a meter (docs/bench-schema.md)."""
    p = board.power
    return {"kind": "modelled", "per_inference_uj": modelled_uj(board, latency_us), "latency_us": latency_us,
            "supply_v": p.supply_v, "active_ma": p.active_ma, "power_model": p.model, "source": p.source,
            "formula": FORMULA}
