"""``validate`` for a tree model: the device's outputs against the model's own library on the same float32 rows.

One device session serves every row (upload, ``infer 1 0%``, read each output), as for a neural model; the
reference is :meth:`edgekit.trees.load.TreeModel.reference` (scikit-learn / XGBoost / LightGBM ``predict``). Both
the class index and the scores must be byte-identical.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edgekit.boards import BoardProfile
from edgekit.errors import DeviceError, UsageError
from edgekit.trees.load import TreeModel

__all__ = ["input_spec", "validate_trees"]


def input_spec(n_features: int) -> Any:
    """A stand-in for a .tflite model's input description (one float32 ``[1, n_features]`` input), for
    :func:`edgekit.samples.load_device_inputs`."""
    t = SimpleNamespace(name="features", shape=[1, n_features], dtype="float32", quantization=None)
    return SimpleNamespace(main=SimpleNamespace(inputs=[0], tensors=[t]))


def validate_trees(model: TreeModel, prof: BoardProfile, inputs: Any, *, project_dir: str | os.PathLike[str] | None,
                   work_dir: str | os.PathLike[str] | None, port: str | None, limit: int | None,
                   boards_dirs: list[str] | None, timeout: float, infer_timeout: float) -> Any:
    """See :func:`edgekit.validation.validate` (same arguments, same result type)."""
    from edgekit.samples import load_device_inputs

    samples = load_device_inputs(inputs, input_spec(model.ensemble.n_features), limit=limit)
    from edgekit.validation import in_scratch

    return in_scratch(project_dir, work_dir, lambda work: _run(model, prof, samples, project_dir, work, port,
                                                               boards_dirs, timeout, infer_timeout))


def _run(model: TreeModel, prof: BoardProfile, samples: Any, project_dir: Any, work_dir: Any, port: str | None,
         boards_dirs: list[str] | None, timeout: float, infer_timeout: float) -> Any:
    from edgekit.target import resolve_target
    from edgekit.transport.session import open_session
    from edgekit.validation import _compare

    if project_dir is not None:
        proj = Path(project_dir)
    else:
        from edgekit.buildsys import build
        from edgekit.generation import generate

        proj = Path(work_dir) / f"{prof.id}-firmware"
        generate(model, prof, out_dir=proj, boards_dirs=boards_dirs)
        build(proj)
    tgt = resolve_target(proj)
    sha = tgt.project.model.sha256 if tgt.project and tgt.project.model else None
    if sha and sha != model.sha256:
        raise UsageError(f"{proj}: the project was generated for another model (sha256 {sha[:16]}, this model "
                         f"{model.sha256[:16]})", hint="omit --project to generate one for this model")
    X = np.stack([s[0].reshape(-1) for s in samples.samples]).astype(np.float32)
    reference = model.reference(X)
    dtypes = ["int32", "float32"] if model.ensemble.is_classifier else ["float32"]
    sizes = [r.shape[1] * 4 for r in reference]
    device_out: list[list[bytes]] = []
    with open_session(prof, elf=tgt.elf, port=port, log_dir=tgt.elf.parent, timeout=timeout,
                      infer_timeout=infer_timeout) as sess:
        dev = sess.device
        info = dev.info()
        if list(info.output_bytes) != sizes:
            raise DeviceError(f"the firmware's outputs ({list(info.output_bytes)} bytes) do not match the model's "
                              f"({sizes} bytes)", hint="rebuild the project for this model")
        for k in range(len(samples)):
            dev.upload(samples.payload(k))
            dev.infer(1, 0)
            device_out.append([dev.output(i) for i in range(len(sizes))])
        transport = {"kind": sess.kind, "url": sess.url, "log": str(sess.link.log_path)}
    refs = [[r[k] for r in reference] for k in range(len(X))]
    outs = [SimpleNamespace(dtype=d) for d in dtypes]
    parsed = SimpleNamespace(path=model.path)
    res = _compare(parsed, prof.id, outs, device_out, refs, samples, str(proj), transport)
    # top-1: the device's output 0 (class index, or value) equals the library's prediction
    same = sum(d[0] == np.ascontiguousarray(r[0]).tobytes() for d, r in zip(device_out, refs, strict=True))
    return replace(res, top1_agree=int(same), reference=f"{model.kind} predict() ({model.ensemble.family})")
