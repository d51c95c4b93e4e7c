"""Model compression for microcontrollers, Keras 3 native, each technique measured end to end.

Techniques (each returns a new Keras model that :func:`edgekit.conversion.convert` takes as is):

* :func:`prune_magnitude` - unstructured magnitude pruning with a polynomial schedule and a mask callback;
* :func:`prune_channels` - structured channel pruning that rebuilds narrower Conv/Dense layers;
* :func:`low_rank` - SVD factorization of Dense/Conv kernels;
* :func:`distill` - knowledge distillation from a teacher (``keras.distillation.Distiller``);
* :func:`qat` - quantization-aware training simulating TFLite's int8 scheme.

:func:`optimize` runs a chain of steps (flags or a YAML recipe) and measures each one
(:class:`OptimizationReport`). Nothing here imports TensorFlow until a function runs.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FineTune": "edgekit.optimize.finetune:FineTune",
    "prune_magnitude": "edgekit.optimize.prune:prune_magnitude",
    "PolynomialDecay": "edgekit.optimize.prune:PolynomialDecay",
    "layer_sparsity": "edgekit.optimize.prune:layer_sparsity",
    "prune_channels": "edgekit.optimize.structured:prune_channels",
    "low_rank": "edgekit.optimize.lowrank:low_rank",
    "distill": "edgekit.optimize.distillation:distill",
    "distill_info": "edgekit.optimize.distillation:distill_info",
    "FitRecord": "edgekit.optimize.stopping:FitRecord",
    "qat": "edgekit.optimize.quantization:qat",
    "fold_batchnorm": "edgekit.optimize._graph:fold_batchnorm",
    "measure": "edgekit.optimize.report:measure",
    "ModelMetrics": "edgekit.optimize.report:ModelMetrics",
    "BoardMetrics": "edgekit.optimize.report:BoardMetrics",
    "OptimizationReport": "edgekit.optimize.report:OptimizationReport",
    "Recipe": "edgekit.optimize.recipe:Recipe",
    "Step": "edgekit.optimize.recipe:Step",
    "load_recipe": "edgekit.optimize.recipe:load_recipe",
    "optimize": "edgekit.optimize.chain:optimize",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'edgekit.optimize' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
