"""Load a model with whichever LiteRT runtime is installed; describe, check and feed its tensors.

``ai_edge_litert`` is preferred; ``tflite_runtime`` (2.14, armv7l, numpy<2) is the fallback. XNNPACK is
LiteRT's default CPU delegate: ``xnnpack=False`` selects ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .util import RunnerError
from .wheels import NoWheel, choose_runtime

_INT_DTYPES = ("int8", "uint8", "int16", "int32", "int64", "uint16", "uint32", "bool")


def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # metadata missing: report unknown, never fail the run for it
        return "unknown"


def load_runtime() -> tuple[str, str, Any, Any]:
    """(package name, version, Interpreter class, OpResolverType enum) of the installed runtime.

    Raises:
        RunnerError: neither runtime imports; the message says why, the hint what to install.
    """
    errors = []
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return "ai-edge-litert", _dist_version("ai-edge-litert"), Interpreter, OpResolverType
    except Exception as exc:  # ImportError, or a broken native module
        errors.append(f"ai_edge_litert: {type(exc).__name__}: {exc}")
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        return "tflite-runtime", _dist_version("tflite-runtime"), Interpreter, OpResolverType
    except Exception as exc:  # numpy 2 makes tflite_runtime raise AttributeError/ImportError
        errors.append(f"tflite_runtime: {type(exc).__name__}: {exc}")
    np_major = int(np.__version__.split(".")[0])
    hint = _install_hint()
    if np_major >= 2 and "tflite_runtime: ModuleNotFoundError" not in errors[1]:
        hint = f"tflite-runtime 2.14 needs numpy<2 (numpy {np.__version__} is installed): pip install 'numpy<2'"
    raise RunnerError("no LiteRT runtime can be imported (" + "; ".join(errors) + ")", hint=hint)


def _install_hint() -> str:
    try:
        choice = choose_runtime(platform.machine(), sys.version_info[:2])
    except NoWheel as exc:
        return f"{exc.message}; {exc.hint}"
    return "pip install " + " ".join(f"'{r}'" for r in choice.requirements[:2])


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of the model."""

    index: int
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    signature: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: the tensor shape without its batch dimension."""
        return self.shape[1:]

    def describe(self) -> str:
        return f"{self.dtype.name} {list(self.shape)}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "dtype": self.dtype.name, "shape": list(self.shape),
                "shape_signature": list(self.signature), "scale": self.scale, "zero_point": self.zero_point}


def _spec(d: dict[str, Any]) -> TensorSpec:
    scale, zp = d.get("quantization", (0.0, 0))
    sig = d.get("shape_signature")
    shape = tuple(int(x) for x in d["shape"])
    return TensorSpec(int(d["index"]), str(d["name"]), np.dtype(d["dtype"]), shape,
                      tuple(int(x) for x in sig) if sig is not None and len(sig) else shape, float(scale), int(zp))


class Model:
    """A LiteRT interpreter for one .tflite file, with batch resizing when the model allows it."""

    def __init__(self, path: str | Path, threads: int | None = None, xnnpack: bool = True) -> None:
        self.path = Path(path)
        try:
            self.data = self.path.read_bytes()
        except OSError as exc:
            raise RunnerError(f"{self.path}: cannot read the model ({exc.strerror or exc})") from None
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.runtime, self.runtime_version, interp_cls, resolver = load_runtime()
        self.threads = threads
        self.xnnpack = xnnpack
        kind = resolver.AUTO if xnnpack else resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self.interp = interp_cls(model_path=str(self.path), num_threads=threads,
                                     experimental_op_resolver_type=kind)
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunnerError(f"{self.path}: {self.runtime} {self.runtime_version} cannot load the model: "
                              f"{first[:300]}", hint="check the model with 'edgekit inspect'") from None
        self.inputs = [_spec(d) for d in self.interp.get_input_details()]
        self.outputs = [_spec(d) for d in self.interp.get_output_details()]
        self.batch = 1
        self.allow_resize = True

    # ---------------------------------------------------------------- batching

    @property
    def resizable(self) -> bool:
        """True when every input has a dynamic batch dimension (shape signature -1) and resizing is allowed."""
        return self.allow_resize and all(len(s.signature) > 0 and s.signature[0] == -1 for s in self.inputs)

    def check_batching(self, n: int, seed: int = 1) -> bool:
        """Resize to ``n`` and compare with one-by-one invocations on random data.

        Returns True when batched invocations give the same outputs; otherwise resizing is disabled for this
        model (``allow_resize`` False) and every batch runs as a loop.
        """
        if n < 2 or not self.resizable:
            return False
        rng = np.random.default_rng(seed)
        samples = []
        for s in self.inputs:
            if s.dtype.kind == "f":
                samples.append(rng.random(size=(n, *s.sample_shape)).astype(s.dtype))
            else:
                raw = rng.integers(0, 256, size=n * s.nbytes // max(s.shape[0], 1), dtype=np.uint8)
                samples.append(raw.view(s.dtype).reshape((n, *s.sample_shape)))
        self.set_batch(1)
        per = [self.run([a[i:i + 1] for a in samples]) for i in range(n)]
        single = [np.concatenate([p[k] for p in per]) for k in range(len(self.outputs))]
        ok = self.set_batch(n) and same_outputs(self.run(samples), single)
        if not ok:
            self.set_batch(1)
            self.allow_resize = False
        return ok

    def set_batch(self, n: int) -> bool:
        """Resize every input to batch ``n``; False (and batch 1 kept) when the model does not allow it."""
        if n == self.batch:
            return True
        if not self.resizable:
            return False
        try:
            for s in self.inputs:
                self.interp.resize_tensor_input(s.index, [n, *s.shape[1:]], strict=True)
            self.interp.allocate_tensors()
            ok = all(int(d["shape"][0]) == n for d in self.interp.get_output_details())
        except (ValueError, RuntimeError):
            ok = False
        if ok:
            self.batch = n
            return True
        for s in self.inputs:
            self.interp.resize_tensor_input(s.index, list(s.shape), strict=False)
        self.interp.allocate_tensors()
        self.batch = 1
        return False

    # ---------------------------------------------------------------- running

    def set_inputs(self, arrays: list[np.ndarray]) -> None:
        """Copy arrays (already of the input dtypes, batch = current batch) into the input tensors."""
        for s, a in zip(self.inputs, arrays):
            self.interp.set_tensor(s.index, a)

    def invoke(self) -> None:
        self.interp.invoke()

    def get_outputs(self) -> list[np.ndarray]:
        return [np.array(self.interp.get_tensor(s.index), copy=True) for s in self.outputs]

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """One invocation at the current batch size."""
        self.set_inputs(arrays)
        self.invoke()
        return self.get_outputs()

    def run_padded(self, samples: list[np.ndarray]) -> list[np.ndarray]:
        """One invocation at the current batch size for ``n <= batch`` samples: the batch is padded with
        copies of the last sample and the extra rows dropped (resizing again would make XNNPACK re-plan)."""
        n = int(samples[0].shape[0])
        if n > self.batch:
            raise ValueError(f"{n} samples for batch size {self.batch}")
        if n < self.batch:
            samples = [np.concatenate([a, np.repeat(a[-1:], self.batch - n, axis=0)]) for a in samples]
        return [o[:n] for o in self.run(samples)]

    def predict(self, samples: list[np.ndarray], resize: bool = True) -> tuple[list[np.ndarray], bool]:
        """Outputs for ``samples`` (one array per input, each ``(n, *sample_shape)``).

        One resized invocation when ``resize`` and the model allows batch ``n``, else one invocation per
        sample. Returns (outputs each ``(n, ...)``, True if it ran as one batch).
        """
        n = int(samples[0].shape[0])
        if n > 1 and resize and self.set_batch(n):
            return self.run(samples), True
        self.set_batch(1)
        per = [self.run([a[i:i + 1] for a in samples]) for i in range(n)]
        return [np.concatenate([p[k] for p in per]) for k in range(len(self.outputs))], False

    def info(self) -> dict[str, Any]:
        return {"model": str(self.path), "model_sha256": self.sha256, "runtime": self.runtime,
                "runtime_version": self.runtime_version, "threads": self.threads, "xnnpack": self.xnnpack,
                "resizable_batch": self.resizable, "inputs": [s.to_dict() for s in self.inputs],
                "outputs": [s.to_dict() for s in self.outputs]}


def same_outputs(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Equal outputs: exactly for integer tensors, to float32 rounding for float ones."""
    for x, y in zip(a, b):
        if x.shape != y.shape:
            return False
        if x.dtype.kind == "f":
            if not np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


# ---------------------------------------------------------------- input checking

class InputError(RunnerError):
    """An input of the wrong shape or dtype; ``expected`` and ``got`` describe both sides."""

    def __init__(self, message: str, expected: str = "", got: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.expected = expected
        self.got = got


def as_samples(arr: Any, spec: TensorSpec, what: str, *, quantize: bool = False,
               notes: list[str] | None = None) -> np.ndarray:
    """``arr`` as ``(n, *spec.sample_shape)`` of the input's dtype.

    Accepted shapes: the tensor shape, one sample without the batch dimension, or N samples. Dtypes: the
    input's own; integers within range for an integer input; any real numbers for a float input; with
    ``quantize``, floats for a quantized integer input (``q = round(x / scale) + zero_point``, clipped).

    Raises:
        InputError: naming the expected and the given shape/dtype.
    """
    a = np.asarray(arr)
    want = f"{spec.dtype.name} {list(spec.sample_shape)} (one sample) or N x {list(spec.sample_shape)}"
    got = f"{a.dtype.name} {list(a.shape)}"
    if a.dtype == object or a.dtype.kind in "USV":
        raise InputError(f"{what}: expected {want}, got {got} (not a numeric array)", want, got)
    if a.shape == spec.sample_shape:
        a = a[None, ...]
    elif not (a.ndim == len(spec.shape) and a.shape[1:] == spec.sample_shape and a.shape[0] >= 1):
        raise InputError(f"{what}: expected shape {want}, got {got}", want, got)
    target = spec.dtype
    if a.dtype == target:
        return np.ascontiguousarray(a)
    if target.kind == "f" and a.dtype.kind in "fiub":
        return a.astype(target)
    if target.kind in "iu" and a.dtype.kind in "iub":
        info = np.iinfo(target)
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise InputError(f"{what}: values {a.min()}..{a.max()} do not fit {target.name}", want, got)
        return a.astype(target)
    if target.kind in "iu" and a.dtype.kind == "f" and quantize and spec.scale > 0:
        info = np.iinfo(target)
        q = np.clip(np.round(a.astype(np.float64) / spec.scale) + spec.zero_point, info.min, info.max)
        if notes is not None:
            notes.append(f"float32 data quantized to {target.name} with scale {spec.scale:.6g} and zero point "
                         f"{spec.zero_point}")
        return q.astype(target)
    raise InputError(f"{what}: expected dtype {target.name}, got {got}", want, got,
                     hint=(f"quantize: q = round(x / {spec.scale:.6g}) + {spec.zero_point}"
                           if target.kind in "iu" and spec.scale > 0 else None))


def random_sample(model: Model, seed: int = 0) -> tuple[list[np.ndarray], str]:
    """One sample per input: random bytes (seed 0, as edgekit's MCU benchmark) for integer inputs,
    uniform [0, 1) for float inputs."""
    rng = np.random.default_rng(seed)
    arrays, floats = [], False
    for s in model.inputs:
        if s.dtype.kind == "f":
            arrays.append(rng.random(size=s.shape).astype(s.dtype))
            floats = True
        else:
            raw = rng.integers(0, 256, size=s.nbytes, dtype=np.uint8)
            arrays.append(raw.view(s.dtype).reshape(s.shape))
    what = f"random {'values' if floats else 'bytes'} (seed {seed})"
    return arrays, what + (": uniform [0, 1) for float inputs, random bytes for the others" if floats else "")


def load_arrays(path: str | Path, model: Model) -> list[np.ndarray]:
    """Arrays from a .npy (single-input model), an .npz (one array per input, in input order) or a raw .bin
    (the input tensors' bytes, concatenated, one sample or several)."""
    p = Path(path)
    try:
        if p.suffix == ".npy":
            if len(model.inputs) != 1:
                raise RunnerError(f"{p}: the model has {len(model.inputs)} inputs",
                                  hint="pass an .npz with one array per input, in input order")
            return [np.load(p, allow_pickle=False)]
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                arrays = [z[k] for k in z.files]
            if len(arrays) != len(model.inputs):
                raise RunnerError(f"{p}: {len(arrays)} arrays for a model with {len(model.inputs)} inputs",
                                  hint="one array per input, in input order")
            return arrays
        raw = p.read_bytes()
    except (OSError, ValueError) as exc:
        raise RunnerError(f"{p}: cannot read the input ({exc})") from None
    per = sum(s.nbytes // max(s.shape[0], 1) for s in model.inputs)
    if per == 0 or len(raw) % per:
        raise RunnerError(f"{p}: {len(raw)} bytes is not a whole number of samples of {per} bytes",
                          hint="raw .bin inputs hold the input tensors' bytes, concatenated")
    n = len(raw) // per
    arrays, off = [], 0
    for s in model.inputs:
        size = n * s.nbytes // max(s.shape[0], 1)
        arrays.append(np.frombuffer(raw, dtype=s.dtype, count=size // s.dtype.itemsize, offset=off)
                      .reshape((n, *s.sample_shape)))
        off += size
    return arrays
