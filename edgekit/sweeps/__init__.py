"""Sweeps: models x boards x options, each cell converted, generated, built and benched (and validated), on this
machine's cores or on a Ray cluster; one ``edgekit.sweep/1`` JSON, a table and an HTML report with the Pareto view.

``edgekit.sweep(spec, out_dir)`` runs one (:mod:`edgekit.sweeps.driver`); the spec format is in
:mod:`edgekit.sweeps.spec`. Nothing here imports Ray unless ``ray=`` is given.
"""

from __future__ import annotations

from edgekit.sweeps.driver import SweepResult, sweep
from edgekit.sweeps.spec import SpecError, SweepSpec, load_spec
from edgekit.sweeps.store import SCHEMA, load_sweep

__all__ = ["SCHEMA", "SpecError", "SweepResult", "SweepSpec", "load_spec", "load_sweep", "sweep"]
