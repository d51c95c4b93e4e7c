"""Run inputs on the device and compare its raw outputs with the TFLM host interpreter (the oracle).

One device session serves every input: upload, ``infer 1 0%``, ``ek-out I%`` for each output. The reference
runs all inputs in one TFLM subprocess (:func:`edgekit.tflm.tflm_run`). Outputs are compared byte for byte;
for the differences, the largest absolute difference (in output units: LSBs for integer outputs) and the
top-1 (argmax of output 0) agreement are reported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.boards import DEFAULT_BOARD, BoardProfile, load_board
from edgekit.errors import DeviceError, EdgekitError, UsageError

MAX_LISTED = 50  # mismatches listed in the result (all are counted)


@dataclass(frozen=True)
class Mismatch:
    """One output of one input that differs from the reference."""

    input: int
    output: int
    differing: int          # elements that differ
    elements: int
    max_abs_diff: float
    device_top1: int | None
    reference_top1: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ValidationResult:
    """Device outputs against TFLM for every input. ``ok`` when every output is byte-exact."""

    model: str
    board: str
    inputs: int
    byte_exact: int             # inputs whose outputs are all byte-identical
    max_abs_diff: float         # over every output element of every input
    top1_agree: int             # inputs whose output-0 argmax matches
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0
    input_source: str = ""
    input_note: str = ""
    project_dir: str | None = None
    transport: dict[str, Any] = field(default_factory=dict)
    reference: str = "TFLM host interpreter (tflite-micro)"
    # the class the device predicted for every input, in order: the argmax of output 0, or its value when output 0
    # is one integer (a class index); accuracy against labels is computed from it (edgekit select); not in the JSON
    device_top1: list[int] = field(default_factory=list, repr=False)
    max_rel_diff: float = 0.0   # float outputs: max |device - reference| / |reference| (0 where both are 0)
    within_bound: int = -1      # inputs whose outputs are byte-exact or, float, within the documented bound
    float_outputs: int = 0      # outputs of dtype float32
    float_unjudged: int = 0     # float32 outputs without a bound (an LSTM or a C-library op upstream): only
    #                             byte-exactness makes them ok; max_rel_diff / top-1 say how close they are

    def __post_init__(self) -> None:
        if self.within_bound < 0:
            self.within_bound = self.byte_exact

    @property
    def ok(self) -> bool:
        """Every output byte-exact, or a float32 output within the bound its producing op documents
        (edgekit/codegen/aot/ops/float_common.py: 0 for the exact ops, a few ulp for the C-library ops)."""
        return self.within_bound == self.inputs

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "edgekit.validate/1", "ok": self.ok, "model": self.model, "board": self.board,
                "inputs": self.inputs, "byte_exact": self.byte_exact, "max_abs_diff": self.max_abs_diff,
                "max_rel_diff": self.max_rel_diff, "within_bound": self.within_bound,
                "float_outputs": self.float_outputs, "float_unjudged": self.float_unjudged,
                "top1_agree": self.top1_agree, "mismatch_count": self.mismatch_count,
                "mismatches": [m.to_dict() for m in self.mismatches], "input_source": self.input_source,
                "input_note": self.input_note, "project_dir": self.project_dir, "transport": self.transport,
                "reference": self.reference}


def validate(model: str | os.PathLike[str] | bytes, *, board: str | BoardProfile = DEFAULT_BOARD, inputs: Any,
             project_dir: str | os.PathLike[str] | None = None, work_dir: str | os.PathLike[str] | None = None,
             port: str | None = None, limit: int | None = None, boards_dirs: list[str] | None = None,
             timeout: float = 10.0, infer_timeout: float = 300.0, layout: str | None = None,
             trust_pickle: bool = False) -> ValidationResult:
    """Compare the device's outputs with the TFLM host interpreter's on ``inputs``.

    A tree model (:mod:`edgekit.trees`) is compared with its own library's predictions instead
    (:func:`edgekit.trees.validate.validate_trees`): class index and scores, byte for byte.

    Args:
        model: the int8 .tflite model (path or bytes), or a tree model (file or :class:`~edgekit.trees.TreeModel`;
            a pickle needs ``trust_pickle``).
        board: board id or profile.
        inputs: samples (see :mod:`edgekit.samples`): ``.npy`` N x input shape, int8 or float32 (quantized with
            the input tensor's scale and zero point; ``input_note`` says so), ``.npz``, ``.bin``, arrays.
        project_dir: an already generated and built project for this model; default: generate and build one
            in ``work_dir`` (default: a temporary directory, removed after a run whose outputs all matched; the
            result's ``project_dir`` and log are then empty).
        port: a real board's serial port (already running the project's firmware); None runs QEMU.
        limit: use at most this many samples.
        layout: ``"nchw"`` when ``inputs`` are channels-first (a PyTorch/ONNX model's own layout; moved to the
            converted model's NHWC / N1LC), ``"nhwc"``/None when they are laid out as the device expects.

    Raises:
        UsageError: the project was generated for another model; DeviceError: the device failed.
    """
    from edgekit.frontends.layout import apply_layout
    from edgekit.samples import load_device_inputs
    from edgekit.tflite_model import load_model
    from edgekit.trees.load import is_tree_model

    prof = load_board(board, boards_dirs)
    if not isinstance(model, bytes) and is_tree_model(model):
        from edgekit.trees.load import load_tree_model
        from edgekit.trees.validate import validate_trees

        return validate_trees(load_tree_model(model, trust_pickle=trust_pickle), prof, inputs,
                              project_dir=project_dir, work_dir=work_dir, port=port, limit=limit,
                              boards_dirs=boards_dirs, timeout=timeout, infer_timeout=infer_timeout)
    parsed = load_model(model)
    samples = load_device_inputs(apply_layout(inputs, layout), parsed, limit=limit)
    return in_scratch(project_dir, work_dir, lambda work: _validate(parsed, prof, samples, project_dir, work, port,
                                                                    boards_dirs, timeout, infer_timeout))


def in_scratch(project_dir: Any, work_dir: Any, run: Callable[[Any], ValidationResult]) -> ValidationResult:
    """``run(work_dir)``, in a temporary folder when neither ``project_dir`` nor ``work_dir`` is given: removed after
    a successful run, kept (with its logs, named in the error's hint) after a failure."""
    scratch = None
    if project_dir is None and work_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="edgekit-validate-"))
    try:
        result = run(work_dir if scratch is None else scratch)
    except EdgekitError as exc:  # the library raises, the CLI prints: the kept folder goes into the hint
        if scratch is not None:
            kept = f"the temporary project is kept for its logs: {scratch}"
            exc.hint = f"{exc.hint}; {kept}" if exc.hint else kept
        raise
    if scratch is not None and result.ok:
        shutil.rmtree(scratch, ignore_errors=True)
        result = replace(result, project_dir="", transport={**result.transport, "log": None})
    return result


def _validate(parsed: Any, prof: BoardProfile, samples: Any, project_dir: str | os.PathLike[str] | None,
              work_dir: str | os.PathLike[str] | None, port: str | None, boards_dirs: list[str] | None,
              timeout: float, infer_timeout: float) -> ValidationResult:
    from edgekit.target import resolve_target
    from edgekit.tflm import tflm_run
    from edgekit.transport.session import open_session

    proj = Path(project_dir) if project_dir is not None else _generate_and_build(parsed, prof, work_dir, boards_dirs)
    tgt = resolve_target(proj)
    sha = tgt.project.model.sha256 if tgt.project and tgt.project.model else None
    if sha and sha != parsed.sha256:
        raise UsageError(f"{proj}: the project was generated for another model (sha256 {sha[:16]}, this model "
                         f"{parsed.sha256[:16]})", hint="omit --project to generate one for this model")
    sg = parsed.main
    out_tensors = [sg.tensors[i] for i in sg.outputs]

    reference = tflm_run(parsed, [s[0] if len(s) == 1 else list(s) for s in samples.samples])

    device_out: list[list[bytes]] = []
    with open_session(prof, elf=tgt.elf, port=port, log_dir=tgt.elf.parent, timeout=timeout,
                      infer_timeout=infer_timeout) as sess:
        dev = sess.device
        info = dev.info()
        if list(info.output_bytes) != [t.nbytes for t in out_tensors]:
            raise DeviceError(f"the firmware's outputs ({list(info.output_bytes)} bytes) do not match the model's "
                              f"({[t.nbytes for t in out_tensors]} bytes)", hint="rebuild the project for this model")
        for k in range(len(samples)):
            dev.upload(samples.payload(k))
            dev.infer(1, 0)
            device_out.append([dev.output(i) for i in range(len(out_tensors))])
        transport = {"kind": sess.kind, "url": sess.url, "log": str(sess.link.log_path)}

    return _compare(parsed, prof.id, out_tensors, device_out, reference, samples, str(proj), transport)


def _compare(parsed: Any, board_id: str, out_tensors: list[Any], device_out: list[list[bytes]],
             reference: list[list[np.ndarray]], samples: Any, proj: str, transport: dict[str, Any]) -> ValidationResult:
    from edgekit.codegen.aot.ops.float_common import output_bound

    exact = agree = count = bounded = 0
    worst = worst_rel = 0.0
    listed: list[Mismatch] = []
    device_top1: list[int] = []
    graph = getattr(parsed, "main", None)  # None for a tree model (trees/validate.py): float outputs byte-exact only
    bounds = [output_bound(graph, t.index) if t.dtype == "float32" and graph is not None else None
              for t in out_tensors]
    for k, (dev_outs, ref_outs) in enumerate(zip(device_out, reference, strict=True)):
        all_exact = all_bounded = True
        tops: tuple[int | None, int | None] = (None, None)
        for i, (raw, ref, t) in enumerate(zip(dev_outs, ref_outs, out_tensors, strict=True)):
            ref = np.asarray(ref)
            got = np.frombuffer(raw, dtype=np.dtype(t.dtype)).reshape(ref.shape)
            with np.errstate(invalid="ignore"):  # float outputs: equal infinities and two NaNs differ by 0,
                g64, r64 = got.astype(np.float64), ref.astype(np.float64)  # one NaN by inf
                diff = np.where((g64 == r64) | (np.isnan(g64) & np.isnan(r64)), 0.0, np.abs(g64 - r64))
                diff = np.where(np.isnan(diff), np.inf, diff)
            top = (int(np.argmax(got)), int(np.argmax(ref)))
            if i == 0:
                tops = top
                index = got.size == 1 and str(t.dtype) in ("int32", "int64")  # a class index, not scores
                device_top1.append(int(got.reshape(-1)[0]) if index else top[0])
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
            if t.dtype == "float32" and diff.size:
                with np.errstate(invalid="ignore"):
                    rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(r64), 1e-30))
                worst_rel = max(worst_rel, float(np.nanmax(rel)))
            if raw != np.ascontiguousarray(ref).tobytes():
                all_exact = False
                bound = bounds[i](ref) if bounds[i] is not None else None
                if bound is None or not bool(np.all(diff <= bound)):
                    all_bounded = False
                count += 1
                if len(listed) < MAX_LISTED:
                    listed.append(Mismatch(k, i, int(np.count_nonzero(diff)), int(diff.size), float(diff.max()),
                                           *top))
        exact += all_exact
        bounded += all_bounded
        agree += tops[0] == tops[1]
    name = parsed.path.name if parsed.path else "model"
    return ValidationResult(model=name, board=board_id, inputs=len(device_out), byte_exact=exact, max_abs_diff=worst,
                            top1_agree=agree, mismatches=listed, mismatch_count=count, input_source=samples.source,
                            input_note=samples.note, project_dir=proj, transport=transport,
                            device_top1=device_top1, max_rel_diff=worst_rel, within_bound=bounded,
                            float_outputs=sum(t.dtype == "float32" for t in out_tensors),
                            float_unjudged=sum(t.dtype == "float32" and graph is not None and b is None
                                               for t, b in zip(out_tensors, bounds, strict=True)))


def _generate_and_build(parsed: Any, prof: BoardProfile, work_dir: str | os.PathLike[str] | None,
                        boards_dirs: list[str] | None) -> Path:
    from edgekit.buildsys import build
    from edgekit.generation import generate

    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="edgekit-validate-"))
    out = work / f"{prof.id}-firmware"
    generate(parsed, prof, out_dir=out, boards_dirs=boards_dirs)
    build(out)
    return out
