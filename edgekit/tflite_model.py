"""Read a ``.tflite`` model without TensorFlow: operators, tensors, quantization, constant data.

Our own flatbuffer reader (:mod:`edgekit._flatbuf`) driven by the field ids of TFLite's ``schema.fbs``
(:mod:`edgekit._tflite_schema`). Hostile or truncated files raise :class:`~edgekit.errors.ModelError`,
never another exception type, and parsing work is bounded by the file size.

>>> model = load_model("model.tflite")                      # doctest: +SKIP
>>> [op.opcode for op in model.main.operators]              # doctest: +SKIP
['CONV_2D', 'MAX_POOL_2D', 'RESHAPE', 'FULLY_CONNECTED', 'SOFTMAX']
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import _tflite_schema as S
from edgekit._flatbuf import Buffer, FlatbufferError, Table
from edgekit.errors import ModelError

__all__ = ["Operator", "OperatorCode", "Quantization", "Signature", "Subgraph", "TFLiteModel", "Tensor",
           "load_model"]

_NOT_TFLITE_HINT = "expected a TensorFlow Lite flatbuffer (.tflite); convert a Keras model with 'edgekit convert'"
_ITEMSIZE = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "bool": 1, "int16": 2, "complex64": 8,
             "int8": 1, "float64": 8, "complex128": 16, "uint64": 8, "uint32": 4, "uint16": 2, "bfloat16": 2,
             "float8_e4m3fn": 1, "float8_e5m2": 1}
_PACKED_BITS = {"int4": 4, "uint4": 4, "int2": 2}
_NUMPY_DTYPES = {k for k in _ITEMSIZE if k not in ("bfloat16", "float8_e4m3fn", "float8_e5m2")}


@dataclass(frozen=True)
class Quantization:
    """Affine quantization ``real = scale * (q - zero_point)``, per tensor or per channel."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int
    min: tuple[float, ...] = ()
    max: tuple[float, ...] = ()

    @property
    def per_channel(self) -> bool:
        """More than one scale (per-axis quantization along ``quantized_dimension``)."""
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph; ``data`` holds constant contents (weights, biases, shapes)."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    dtype: str
    buffer: int
    data: bytes | None = field(repr=False)
    quantization: Quantization | None
    is_variable: bool
    is_sparse: bool = False

    @property
    def is_const(self) -> bool:
        """Whether the tensor has constant data in the model."""
        return self.data is not None

    @property
    def size(self) -> int:
        """Number of elements (unknown, negative dimensions count as 1)."""
        return math.prod(d if d >= 0 else 1 for d in self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the tensor occupies: elements x item size (packed for int4/int2, data length for strings)."""
        if self.dtype in _ITEMSIZE:
            return self.size * _ITEMSIZE[self.dtype]
        if self.dtype in _PACKED_BITS:
            return (self.size * _PACKED_BITS[self.dtype] + 7) // 8
        return len(self.data) if self.data is not None else 0

    def array(self) -> np.ndarray:
        """Constant data as a read-only numpy array of ``shape`` (int4 is unpacked to int8)."""
        where = f"tensor {self.index} '{self.name}'"
        if self.data is None:
            raise ModelError(f"{where} has no constant data (it is an activation, variable or empty buffer)")
        if self.is_sparse:
            raise ModelError(f"{where} is stored sparse; edgekit does not densify sparse tensors")
        if any(d < 0 for d in self.shape):
            raise ModelError(f"{where} has an unknown dimension in shape {list(self.shape)}")
        if self.dtype == "int4":
            return self._unpack_int4(where)
        if self.dtype not in _NUMPY_DTYPES:
            raise ModelError(f"{where} has dtype {self.dtype}, which edgekit cannot turn into a numpy array")
        if len(self.data) != self.nbytes:
            raise ModelError(f"{where} has {len(self.data)} bytes of data; shape {list(self.shape)} "
                             f"{self.dtype} needs {self.nbytes}")
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype).newbyteorder("<")).reshape(self.shape)

    def _unpack_int4(self, where: str) -> np.ndarray:
        if len(self.data or b"") != self.nbytes:
            raise ModelError(f"{where} has {len(self.data or b'')} bytes; {self.size} int4 values need {self.nbytes}")
        packed = np.frombuffer(self.data or b"", dtype=np.uint8)
        nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(-1)[: self.size].astype(np.int8)
        values = np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)
        values.flags.writeable = False
        return values.reshape(self.shape)


@dataclass(frozen=True)
class Operator:
    """One operator; ``options`` are its decoded builtin options (schema field names, enums as names)."""

    index: int
    opcode: str
    version: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any]
    options_type: str = ""
    custom_options: bytes | None = field(default=None, repr=False)
    intermediates: tuple[int, ...] = ()


@dataclass(frozen=True)
class Subgraph:
    """A graph of tensors and operators (in execution order)."""

    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class OperatorCode:
    """An entry of the model's operator_codes table."""

    opcode: str
    version: int
    custom_code: str | None


@dataclass(frozen=True)
class Signature:
    """A SignatureDef: named inputs/outputs (name -> tensor index) of one subgraph."""

    key: str
    subgraph_index: int
    inputs: dict[str, int]
    outputs: dict[str, int]


@dataclass(frozen=True)
class TFLiteModel:
    """A parsed .tflite file."""

    path: Path | None
    data: bytes = field(repr=False)
    sha256: str
    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    operator_codes: tuple[OperatorCode, ...] = ()
    buffers: tuple[bytes | None, ...] = field(default=(), repr=False)
    metadata: dict[str, bytes] = field(default_factory=dict, repr=False)
    signatures: tuple[Signature, ...] = ()

    @property
    def main(self) -> Subgraph:
        """The primary subgraph (index 0)."""
        return self.subgraphs[0]

    @property
    def size(self) -> int:
        """File size in bytes."""
        return len(self.data)


def load_model(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> TFLiteModel:
    """Parse a .tflite model from a path or from its bytes.

    Raises:
        ModelError: missing/unreadable file, not a TFLite flatbuffer, truncated or inconsistent contents,
            unknown dtype or operator codes.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, path, name = bytes(source), None, "<bytes>"
    else:
        path = Path(source)
        name = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{name}: no such file", hint="check the path of the .tflite model") from None
        except IsADirectoryError:
            raise ModelError(f"{name}: is a directory, not a .tflite file", hint=_NOT_TFLITE_HINT) from None
        except OSError as exc:
            raise ModelError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{name}: not a TFLite model (no 'TFL3' flatbuffer identifier)", hint=_NOT_TFLITE_HINT)
    try:
        return _Decoder(data, name).model(path)
    except FlatbufferError as exc:
        raise ModelError(f"{name}: corrupt or truncated TFLite file: {exc}",
                         hint="re-export the model; the file may be cut short or damaged") from None
    except (IndexError, KeyError, ValueError, OverflowError, MemoryError, RecursionError) as exc:  # safety net
        raise ModelError(f"{name}: unreadable TFLite file (internal check: {type(exc).__name__}: {exc})",
                         hint="re-export the model; please report this file to the edgekit developers") from None


def _enum(names: tuple[str, ...], value: int, what: str) -> str:
    if 0 <= value < len(names):
        return names[value]
    raise FlatbufferError(f"{what}: value {value} is not a known enum value")


class _Decoder:
    """Schema-driven decoding of one model (field ids from schema.fbs)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.buf = Buffer(data)
        self.name = name

    def model(self, path: Path | None) -> TFLiteModel:
        root = self.buf.table(self.buf.deref(0, "root offset"), "Model")
        opcodes = tuple(self._opcode(t, k) for k, t in enumerate(root.tables(1, "operator_codes")))
        buffers = tuple(self._buffer(t) for t in root.tables(4, "buffers"))
        subgraphs = tuple(self._subgraph(t, k, opcodes, buffers) for k, t in enumerate(root.tables(2, "subgraphs")))
        if not subgraphs:
            raise FlatbufferError("model has no subgraphs")
        metadata: dict[str, bytes] = {}
        for k, t in enumerate(root.tables(6, "metadata")):
            idx = t.scalar(1, "I", 0)
            if idx >= len(buffers):
                raise FlatbufferError(f"metadata[{k}]: buffer {idx} out of range ({len(buffers)} buffers)")
            metadata[t.string(0)] = buffers[idx] or b""
        signatures = tuple(self._signature(t, k, subgraphs) for k, t in enumerate(root.tables(7, "signature_defs")))
        return TFLiteModel(path=path, data=self.buf.data, sha256=hashlib.sha256(self.buf.data).hexdigest(),
                           version=root.scalar(0, "I", 0), description=root.string(3), subgraphs=subgraphs,
                           operator_codes=opcodes, buffers=buffers, metadata=metadata, signatures=signatures)

    @staticmethod
    def _signature(t: Table, k: int, subgraphs: tuple[Subgraph, ...]) -> Signature:
        what = f"signature_defs[{k}]"
        sg = t.scalar(4, "I", 0)
        if sg >= len(subgraphs):
            raise FlatbufferError(f"{what}: subgraph_index {sg} out of range ({len(subgraphs)} subgraphs)")
        n = len(subgraphs[sg].tensors)

        def names(field_id: int, part: str) -> dict[str, int]:
            out = {}
            for j, m in enumerate(t.tables(field_id, f"{what}.{part}")):
                idx = m.scalar(1, "I", 0)
                if idx >= n:
                    raise FlatbufferError(f"{what}.{part}[{j}]: tensor index {idx} out of range ({n} tensors)")
                out[m.string(0)] = idx
            return out

        return Signature(key=t.string(2), subgraph_index=sg, inputs=names(0, "inputs"), outputs=names(1, "outputs"))

    def _opcode(self, t: Table, k: int) -> OperatorCode:
        # TFLite uses max(builtin_code, deprecated_builtin_code): old files only set the byte-wide field.
        code = max(t.scalar(0, "b", 0), t.scalar(3, "i", 0))
        name = S.EXTRA_BUILTIN_OPERATORS.get(code) or _enum(S.BUILTIN_OPERATORS, code, f"operator_codes[{k}]")
        custom = t.string(1) if t.has(1) else None
        return OperatorCode(opcode=name, version=t.scalar(2, "i", 1), custom_code=custom)

    def _buffer(self, t: Table) -> bytes | None:
        offset, size = t.scalar(1, "Q", 0), t.scalar(2, "Q", 0)
        if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
            return self.buf.raw(offset, size, f"{t.what} external data") if size else None
        data = t.bytes(0)
        return data or None

    def _subgraph(self, t: Table, k: int, opcodes: tuple[OperatorCode, ...],
                  buffers: tuple[bytes | None, ...]) -> Subgraph:
        where = f"subgraphs[{k}]"
        tensors = tuple(self._tensor(tt, i, buffers, where) for i, tt in enumerate(t.tables(0, f"{where}.tensors")))
        n = len(tensors)
        inputs = self._indices(t.vector(1, "i"), n, f"{where}.inputs", optional=False)
        outputs = self._indices(t.vector(2, "i"), n, f"{where}.outputs", optional=False)
        ops = tuple(self._operator(ot, i, opcodes, n, f"{where}.operators[{i}]")
                    for i, ot in enumerate(t.tables(3, f"{where}.operators")))
        return Subgraph(name=t.string(4), tensors=tensors, operators=ops, inputs=inputs, outputs=outputs)

    @staticmethod
    def _indices(values: tuple[int, ...] | None, n: int, what: str, *, optional: bool) -> tuple[int, ...]:
        lo = -1 if optional else 0
        for v in values or ():
            if not lo <= v < n:
                raise FlatbufferError(f"{what}: tensor index {v} out of range ({n} tensors)")
        return tuple(values or ())

    def _tensor(self, t: Table, i: int, buffers: tuple[bytes | None, ...], where: str) -> Tensor:
        what = f"{where}.tensors[{i}]"
        dtype = _enum(S.DTYPE_NAMES, t.scalar(1, "b", 0), f"{what}.type")
        buf_idx = t.scalar(2, "I", 0)
        if buf_idx >= len(buffers) and not (buf_idx == 0 and not buffers):
            raise FlatbufferError(f"{what}: buffer {buf_idx} out of range ({len(buffers)} buffers)")
        is_variable = bool(t.scalar(5, "?", False))
        data = buffers[buf_idx] if buffers and not is_variable else None
        sig = t.vector(7, "i")
        return Tensor(index=i, name=t.string(3), shape=tuple(t.vector(0, "i") or ()),
                      shape_signature=tuple(sig) if sig is not None else None, dtype=dtype, buffer=buf_idx,
                      data=data, quantization=self._quantization(t.table(4, f"{what}.quantization")),
                      is_variable=is_variable, is_sparse=t.has(6))

    @staticmethod
    def _quantization(t: Table | None) -> Quantization | None:
        if t is None:
            return None
        scale = t.vector(2, "f") or ()
        if not scale:
            return None
        zero_point = t.vector(3, "q") or (0,) * len(scale)
        return Quantization(scale=tuple(scale), zero_point=tuple(zero_point), quantized_dimension=t.scalar(6, "i", 0),
                            min=tuple(t.vector(0, "f") or ()), max=tuple(t.vector(1, "f") or ()))

    def _operator(self, t: Table, i: int, opcodes: tuple[OperatorCode, ...], n: int, what: str) -> Operator:
        code_idx = t.scalar(0, "I", 0)
        if code_idx >= len(opcodes):
            raise FlatbufferError(f"{what}: opcode_index {code_idx} out of range ({len(opcodes)} operator codes)")
        code = opcodes[code_idx]
        options_type, options = self._options(t, f"{what} ({code.opcode})")
        custom = t.bytes(5)
        big_off, big_size = t.scalar(9, "Q", 0), t.scalar(10, "Q", 0)
        if big_off > 1 and big_size:
            custom = self.buf.raw(big_off, big_size, f"{what} large custom options")
        return Operator(index=i, opcode=code.opcode, version=code.version, custom_code=code.custom_code,
                        inputs=self._indices(t.vector(1, "i"), n, f"{what}.inputs", optional=True),
                        outputs=self._indices(t.vector(2, "i"), n, f"{what}.outputs", optional=True),
                        options=options, options_type=options_type, custom_options=custom,
                        intermediates=self._indices(t.vector(8, "i"), n, f"{what}.intermediates", optional=True))

    def _options(self, t: Table, what: str) -> tuple[str, dict[str, Any]]:
        kind = t.scalar(3, "B", 0)
        if kind == 0:
            kind2 = t.scalar(11, "B", 0)
            if kind2 == 0:
                return "", {}
            name2 = S.BUILTIN_OPTIONS_2[kind2] if kind2 < len(S.BUILTIN_OPTIONS_2) else f"BuiltinOptions2#{kind2}"
            return name2, {"_raw_options_type": name2}
        if kind >= len(S.BUILTIN_OPTIONS):
            return f"BuiltinOptions#{kind}", {"_raw_options_type": f"BuiltinOptions#{kind}"}
        name = S.BUILTIN_OPTIONS[kind]
        layout = S.OPTION_TABLES.get(name)
        if layout is None:
            if name in S.EMPTY_OPTION_TABLES:
                return name, {}
            return name, {"_raw_options_type": name}
        return name, _decode_fields(t.table(4, f"{what} {name}"), layout, f"{what} {name}")


_SCALAR_FMT = {"i32": "i", "u32": "I", "i64": "q", "f32": "f", "bool": "?"}
_VECTOR_FMT = {"[i32]": "i", "[f32]": "f", "[u8]": "B"}


def _decode_fields(t: Table | None, layout: list[S.Field], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, spec in enumerate(layout):
        if spec is None:
            continue
        name, kind, default = spec
        if t is None or not t.has(i):
            out[name] = default
        elif kind in _SCALAR_FMT:
            value = t.scalar(i, _SCALAR_FMT[kind], default)
            out[name] = bool(value) if kind == "bool" else value
        elif kind in _VECTOR_FMT:
            out[name] = tuple(t.vector(i, _VECTOR_FMT[kind]) or ())
        elif kind == "str":
            out[name] = t.string(i)
        else:
            out[name] = _enum(S.ENUM_KINDS[kind], t.scalar(i, "b", 0), f"{what}.{name}")
    return out
