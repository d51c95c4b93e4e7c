"""edgekit.tflite_model: our flatbuffer reader against MANIFEST.json and TFLite's generated schema module."""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MODELS, need_module, shared_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit import _tflite_schema as S
from edgekit.errors import ModelError
from edgekit.tflite_model import load_model

MODEL_FILES = [
    "mlperf_tiny/kws_ds_cnn_int8.tflite", "mlperf_tiny/vww_mobilenet_int8.tflite",
    "mlperf_tiny/ic_resnet8_int8.tflite", "mlperf_tiny/ad_fc_autoencoder_int8.tflite",
    "tflm_examples/hello_world_float.tflite", "tflm_examples/hello_world_int8.tflite",
    "tflm_examples/micro_speech_quantized_int8.tflite", "tflm_examples/person_detect_int8.tflite",
    "tflm_examples/magic_wand_float.tflite",
]


def _manifest() -> dict[str, dict]:
    path = SHARED_MODELS / "MANIFEST.json"
    if not path.exists():
        return {}
    return {f["file"]: f for f in json.loads(path.read_text())["files"] if f["kind"] == "model"}


def _schema():
    need_module("tflite_micro")
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def test_manifest_lists_every_model_we_test():
    manifest = _manifest()
    if manifest:
        assert set(MODEL_FILES) == set(manifest)


@pytest.mark.parametrize("rel", MODEL_FILES)
def test_matches_manifest(rel):
    path = shared_model(rel)
    entry = _manifest()[rel]
    model = load_model(path)
    sg = model.main
    assert model.sha256 == entry["sha256"]
    assert model.size == entry["size_bytes"]
    assert model.version == entry["tflite_schema_version"]
    assert model.description == entry["converter"]
    assert len(model.subgraphs) == entry["num_subgraphs"]
    assert len(sg.operators) == entry["num_operators"]
    assert len(sg.tensors) == entry["num_tensors"]
    assert dict(Counter(op.opcode for op in sg.operators)) == entry["op_counts"]
    # op_versions lists the operator_codes table, which may hold codes no operator uses
    assert {c.opcode: c.version for c in model.operator_codes} == entry["op_versions"]
    assert all(entry["op_versions"][op.opcode] == op.version for op in sg.operators)
    runtime = model.metadata.get("min_runtime_version")
    assert (runtime.rstrip(b"\0").decode() if runtime else None) == entry.get("min_runtime_version")
    for tensor_idx, expect in [*zip(sg.inputs, entry["inputs"], strict=True),
                              *zip(sg.outputs, entry["outputs"], strict=True)]:
        t = sg.tensors[tensor_idx]
        assert (t.name, list(t.shape), t.dtype) == (expect["name"], expect["shape"], expect["dtype"])
        assert t.shape_signature == (tuple(expect["shape_signature"]) if "shape_signature" in expect else None)
        if "quant" in expect:
            assert t.quantization is not None
            assert t.quantization.scale[0] == pytest.approx(expect["quant"]["scale"], rel=1e-6)
            assert t.quantization.zero_point[0] == expect["quant"]["zero_point"]
        assert not t.is_const
    const = Counter(t.dtype for t in sg.tensors if t.is_const)
    act = Counter(t.dtype for t in sg.tensors if not t.is_const)
    assert dict(const) == entry["constant_tensor_dtypes"]
    assert dict(act) == entry["activation_tensor_dtypes"]


def _check_options(ours: dict, theirs, options_type: str) -> int:
    """Compare every decoded field with the generated object API; return the number compared."""
    layout = S.OPTION_TABLES.get(options_type)
    if layout is None:
        assert options_type in S.EMPTY_OPTION_TABLES or options_type == "", options_type
        return 0
    n = 0
    for spec in layout:
        if spec is None:
            continue
        name, kind, _default = spec
        value = getattr(theirs, _camel(name))
        mine = ours[name]
        if kind in S.ENUM_KINDS:
            assert S.ENUM_KINDS[kind].index(mine) == value, name
        elif kind.startswith("["):
            assert tuple(mine) == tuple(np.asarray(value).tolist() if value is not None and
                                        not isinstance(value, int) else ()), name
        elif kind == "str":
            assert mine == (value.decode() if isinstance(value, bytes) else (value or "")), name
        elif kind == "f32":
            assert mine == pytest.approx(value, rel=0, abs=0), name
        else:
            assert mine == value, name
        n += 1
    return n


def _cross_check(model, data: bytes) -> int:
    schema = _schema()
    ref = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    opnames = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    compared = 0
    assert model.version == ref.version
    assert len(model.subgraphs) == len(ref.subgraphs)
    for k, oc in enumerate(ref.operatorCodes):
        assert model.operator_codes[k].opcode == opnames[max(oc.builtinCode, oc.deprecatedBuiltinCode)]
        assert model.operator_codes[k].version == oc.version
    for sg, rsg in zip(model.subgraphs, ref.subgraphs, strict=True):
        assert sg.inputs == tuple(rsg.inputs) and sg.outputs == tuple(rsg.outputs)
        assert len(sg.tensors) == len(rsg.tensors)
        for t, rt in zip(sg.tensors, rsg.tensors, strict=True):
            assert t.name == rt.name.decode()
            assert t.shape == tuple(np.asarray(rt.shape if rt.shape is not None else []).tolist())
            assert S.DTYPE_NAMES.index(t.dtype) == rt.type
            assert t.buffer == rt.buffer
            assert t.is_variable == rt.isVariable
            sig = rt.shapeSignature
            assert t.shape_signature == (None if sig is None else tuple(np.asarray(sig).tolist()))
            q = rt.quantization
            if q is None or q.scale is None or len(q.scale) == 0:
                assert t.quantization is None
            else:
                assert t.quantization.scale == tuple(np.asarray(q.scale, np.float32).tolist())
                assert t.quantization.zero_point == tuple(np.asarray(q.zeroPoint).tolist())
                assert t.quantization.quantized_dimension == q.quantizedDimension
            rdata = ref.buffers[rt.buffer].data if ref.buffers else None
            expect = bytes(np.asarray(rdata, np.uint8)) if rdata is not None and len(rdata) else None
            assert t.data == (None if t.is_variable else expect)
            compared += 1
        for op, rop in zip(sg.operators, rsg.operators, strict=True):
            assert op.opcode == model.operator_codes[rop.opcodeIndex].opcode
            assert op.inputs == tuple(np.asarray(rop.inputs).tolist())
            assert op.outputs == tuple(np.asarray(rop.outputs if rop.outputs is not None else []).tolist())
            assert op.options_type == (S.BUILTIN_OPTIONS[rop.builtinOptionsType] if rop.builtinOptionsType else "")
            compared += _check_options(op.options, rop.builtinOptions, op.options_type)
            custom = None if rop.customOptions is None else bytes(np.asarray(rop.customOptions, np.uint8))
            assert op.custom_options == (custom or None)
    return compared


@pytest.mark.parametrize("rel", MODEL_FILES)
def test_cross_check_generated_schema(rel):
    path = shared_model(rel)
    data = path.read_bytes()
    assert _cross_check(load_model(data), data) > 0


def test_array_and_nbytes():
    path = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    model = load_model(path)
    conv = next(op for op in model.main.operators if op.opcode == "CONV_2D")
    weights = model.main.tensors[conv.inputs[1]]
    arr = weights.array()
    assert arr.shape == weights.shape and arr.dtype == np.int8 and arr.nbytes == weights.nbytes
    assert weights.quantization is not None and len(weights.quantization.scale) == weights.shape[0]
    assert weights.quantization.per_channel
    inp = model.main.tensors[model.main.inputs[0]]
    with pytest.raises(ModelError, match="no constant data"):
        inp.array()
    assert inp.nbytes == 49 * 10


def test_sources_and_bad_files(tmp_path):
    path = shared_model("tflm_examples/hello_world_int8.tflite")
    data = path.read_bytes()
    assert load_model(str(path)).path == path
    assert load_model(bytearray(data)).sha256 == load_model(memoryview(data)).sha256
    with pytest.raises(ModelError, match="no such file"):
        load_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="directory"):
        load_model(tmp_path)
    (tmp_path / "x.txt").write_text("hello, not a model\n")
    with pytest.raises(ModelError, match="not a TFLite model") as exc:
        load_model(tmp_path / "x.txt")
    assert exc.value.hint
    with pytest.raises(ModelError):
        load_model(b"")


# ---- hostile inputs --------------------------------------------------------------------------------------------

def _expect_model_error(data: bytes) -> None:
    try:
        load_model(data)
    except ModelError as exc:
        assert "internal check" not in exc.message, exc.message
        assert "\n" not in exc.message


@pytest.mark.parametrize("rel", MODEL_FILES)
def test_truncated_files_give_model_error(rel):
    data = shared_model(rel).read_bytes()
    rng = random.Random(len(data))
    cuts = sorted({*range(0, 80), *(rng.randrange(len(data)) for _ in range(120)), len(data) - 1})
    for cut in cuts:
        with pytest.raises(ModelError):
            load_model(data[:cut])


@pytest.mark.parametrize("rel", MODEL_FILES)
def test_byte_flips_give_model_error_only(rel):
    data = shared_model(rel).read_bytes()
    rng = random.Random(7)
    for _ in range(150):
        b = bytearray(data)
        # most flips land in the metadata part (tables, vtables, offsets), the rest anywhere
        for _ in range(rng.randint(1, 6)):
            limit = min(len(b), 8192) if rng.random() < 0.8 else len(b)
            b[rng.randrange(limit)] = rng.randrange(256)
        _expect_model_error(bytes(b))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.integers(0, 2**32 - 1))
def test_random_bodies_give_model_error_only(body, root):
    _expect_model_error(root.to_bytes(4, "little") + b"TFL3" + body)


def test_shared_subobjects_cannot_multiply_work():
    """A tensors vector whose entries all point at one tensor with a long shape is rejected, not expanded."""
    need_module("flatbuffers")
    import flatbuffers

    b = flatbuffers.Builder(0)
    shape_len = 20_000
    b.StartVector(4, shape_len, 4)
    for _ in range(shape_len):
        b.PrependInt32(1)
    shape = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, shape, 0)
    tensor = b.EndObject()
    refs = 20_000
    b.StartVector(4, refs, 4)
    for _ in range(refs):
        b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    subgraph = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    data = bytes(b.Output())
    with pytest.raises(ModelError, match="too many"):
        load_model(data)


# ---- synthetic models through the generated object API: every option field, rare forms -------------------------

def _random_value(kind: str, rng: random.Random):
    if kind in S.ENUM_KINDS:
        return rng.randrange(len(S.ENUM_KINDS[kind]))
    return {
        "i32": lambda: rng.randint(-2**31, 2**31 - 1), "u32": lambda: rng.randint(0, 2**32 - 1),
        "i64": lambda: rng.randint(-2**63, 2**63 - 1), "bool": lambda: rng.random() < 0.5,
        "f32": lambda: float(np.float32(rng.uniform(-1e3, 1e3))),
        "str": lambda: "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 12))),
        "[i32]": lambda: [rng.randint(-2**31, 2**31 - 1) for _ in range(rng.randint(1, 5))],
        "[f32]": lambda: [float(np.float32(rng.uniform(-9, 9))) for _ in range(rng.randint(1, 5))],
        "[u8]": lambda: [rng.randint(0, 255) for _ in range(rng.randint(1, 5))],
    }[kind]()


def _build(schema, model) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tiny_model(schema, ops: list) -> object:
    model = schema.ModelT()
    model.version = 3
    model.description = "synthetic"
    model.buffers = [schema.BufferT(), schema.BufferT()]
    model.buffers[1].data = np.arange(8, dtype=np.uint8)
    t0 = schema.TensorT()
    t0.shape, t0.type, t0.buffer, t0.name = [1, 4], schema.TensorType.INT8, 0, "in"
    t1 = schema.TensorT()
    t1.shape, t1.type, t1.buffer, t1.name = [2, 4], schema.TensorType.INT8, 1, "w"
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = [0.5, 0.25], [0, 1], 0
    t1.quantization = q
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.name = [t0, t1], [0], [0], "main"
    sg.operators = ops
    model.subgraphs = [sg]
    return model


def test_every_decoded_option_field_round_trips():
    schema = _schema()
    rng = random.Random(3)
    ops, codes, expected = [], [], []
    for type_value, name in enumerate(S.BUILTIN_OPTIONS):
        layout = S.OPTION_TABLES.get(name)
        if layout is None:
            continue
        obj = getattr(schema, name + "T")()
        for spec in layout:
            if spec is not None:
                setattr(obj, _camel(spec[0]), _random_value(spec[1], rng))
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
        code.version = rng.randint(1, 9)
        codes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = len(codes) - 1, [0, -1], [0]
        op.builtinOptionsType, op.builtinOptions = type_value, obj
        ops.append(op)
        expected.append((name, obj))
    model = _tiny_model(schema, ops)
    model.operatorCodes = codes
    data = _build(schema, model)
    parsed = load_model(data)
    assert _cross_check(parsed, data) > 0
    assert len(expected) == len(S.OPTION_TABLES)
    for op, (name, obj) in zip(parsed.main.operators, expected, strict=True):
        assert op.options_type == name
        assert _check_options(op.options, obj, name) == sum(1 for f in S.OPTION_TABLES[name] if f)
        assert op.inputs == (0, -1)


def test_defaults_opcodes_external_buffers_and_unknown_options():
    schema = _schema()
    codes = []
    for deprecated, builtin in [(3, 0), (127, schema.BuiltinOperator.GELU), (0, schema.BuiltinOperator.CUSTOM)]:
        c = schema.OperatorCodeT()
        c.deprecatedBuiltinCode, c.builtinCode = deprecated, builtin
        codes.append(c)
    codes[2].customCode = "MyOp"
    conv = schema.OperatorT()
    conv.opcodeIndex, conv.inputs, conv.outputs = 0, [0], [0]
    conv.builtinOptionsType, conv.builtinOptions = schema.BuiltinOptions.Conv2DOptions, schema.Conv2DOptionsT()
    gelu = schema.OperatorT()
    gelu.opcodeIndex, gelu.inputs, gelu.outputs = 1, [0], [0]
    gelu.builtinOptions2Type = schema.BuiltinOptions2.StablehloIotaOptions
    gelu.builtinOptions2 = schema.StablehloIotaOptionsT()
    custom = schema.OperatorT()
    custom.opcodeIndex, custom.inputs, custom.outputs = 2, [0], [0]
    custom.customOptions = [1, 2, 3]
    model = _tiny_model(schema, [conv, gelu, custom])
    model.operatorCodes = codes
    extra = bytes(range(256)) * 3
    model.buffers[1].data = None
    model.buffers[1].offset, model.buffers[1].size = 1 << 40, len(extra)
    first = _build(schema, model)
    start = (len(first) + 15) // 16 * 16
    model.buffers[1].offset = start
    data = _build(schema, model)
    assert len(data) == len(first)
    data = data + b"\0" * (start - len(data)) + extra
    parsed = load_model(data)
    ops = parsed.main.operators
    assert [op.opcode for op in ops] == ["CONV_2D", "GELU", "CUSTOM"]
    assert ops[0].options == {"padding": "SAME", "stride_w": 0, "stride_h": 0, "fused_activation_function": "NONE",
                              "dilation_w_factor": 1, "dilation_h_factor": 1, "quantized_bias_type": "FLOAT32"}
    assert ops[1].options == {"_raw_options_type": "StablehloIotaOptions"}
    assert ops[2].custom_code == "MyOp" and ops[2].custom_options == b"\x01\x02\x03" and ops[2].options == {}
    w = parsed.main.tensors[1]
    assert w.data == extra[: len(extra)] and w.quantization.scale == (0.5, 0.25)
    assert w.quantization.zero_point == (0, 1)
    with pytest.raises(ModelError, match="needs"):
        w.array()  # 768 bytes for a [2, 4] int8 tensor


def test_unknown_enum_values_are_model_errors():
    schema = _schema()
    code = schema.OperatorCodeT()
    code.builtinCode = 4000
    model = _tiny_model(schema, [])
    model.operatorCodes = [code]
    with pytest.raises(ModelError, match="operator_codes"):
        load_model(_build(schema, model))
    model = _tiny_model(schema, [])
    model.subgraphs[0].tensors[0].type = 99
    with pytest.raises(ModelError, match="type"):
        load_model(_build(schema, model))


def test_int4_unpacking():
    schema = _schema()
    model = _tiny_model(schema, [])
    t = model.subgraphs[0].tensors[1]
    t.type, t.shape = schema.TensorType.INT4, [3]
    model.buffers[1].data = np.array([0x8F, 0x07], dtype=np.uint8)  # low nibble first: -1, -8, 7
    parsed = load_model(_build(schema, model))
    w = parsed.main.tensors[1]
    assert w.nbytes == 2
    assert w.array().tolist() == [-1, -8, 7]


def test_reader_does_not_need_tensorflow():
    import subprocess
    import sys

    code = ("import sys, edgekit.tflite_model; "
            "assert not any(m.split('.')[0] in ('tensorflow', 'tflite_micro', 'keras') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
