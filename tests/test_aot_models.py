"""Whole models through edgekit's AOT runtime: byte-identical to TFLM, smaller arena, clear refusals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from aot_util import aot_vs_tflm, random_inputs
from conftest import need_module, need_tool, shared_model

# int8 models in ../shared/models, with TFLM's arena on a Cortex-M4 (NOTES.md) where measured
SHARED_INT8 = {
    "mlperf_tiny/kws_ds_cnn_int8.tflite": 22_772,
    "mlperf_tiny/vww_mobilenet_int8.tflite": 100_660,
    "mlperf_tiny/ic_resnet8_int8.tflite": 54_340,
    "mlperf_tiny/ad_fc_autoencoder_int8.tflite": 2_260,
    "tflm_examples/hello_world_int8.tflite": 676,
    "tflm_examples/micro_speech_quantized_int8.tflite": None,
    "tflm_examples/person_detect_int8.tflite": None,
}

ARM_FLAGS = {
    "cortex-m4f": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m0": ["-mcpu=cortex-m0", "-mthumb"],
}


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime objects compiled once for the module's host builds."""
    need_tool("gcc")
    return tmp_path_factory.mktemp("ek_objs")


@pytest.mark.tflm
@pytest.mark.parametrize("rel", sorted(SHARED_INT8))
def test_shared_model_matches_tflm(rel: str, objs: Path, tmp_path: Path) -> None:
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_arena_usage

    need_module("tflite_micro")
    path = shared_model(rel)
    model = load_model(path)
    sets = random_inputs(model, 4, seed=5)
    if rel.startswith("mlperf_tiny/kws"):
        sample = np.fromfile(shared_model("mlperf_tiny/kws_input_sample_int8.bin"), dtype=np.int8)
        sets.append([sample.reshape(model.main.tensors[model.main.inputs[0]].shape)])
    problems = aot_vs_tflm(path.read_bytes(), tmp_path / "host", inputs=sets, obj_cache=objs)
    assert problems == [], "\n".join(problems)

    ours = generate_c(model, tmp_path / "gen").arena_bytes
    tflm = tflm_arena_usage(model)
    m4 = SHARED_INT8[rel]
    print(f"\n[arena] {rel}: edgekit AOT {ours} B; TFLM host {tflm.total} B"
          + (f"; TFLM Cortex-M4 {m4} B" if m4 else ""))
    assert ours <= tflm.total
    if m4:
        assert ours <= m4


@pytest.mark.tf
@pytest.mark.tflm
def test_digits_cnn_matches_tflm(digits_models: dict, objs: Path, tmp_path: Path) -> None:
    from edgekit.tflite_model import load_model

    need_module("tflite_micro")
    tflite = Path(digits_models["int8_tflite"]).read_bytes()
    model = load_model(tflite)
    inp = model.main.tensors[model.main.inputs[0]]
    scale, zp = inp.quantization.scale[0], inp.quantization.zero_point[0]
    real = [np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8).reshape(inp.shape)
            for x in digits_models["x_test"][:6]]
    sets = [[x] for x in real] + random_inputs(model, 3, seed=9)
    problems = aot_vs_tflm(tflite, tmp_path, inputs=sets, obj_cache=objs)
    assert problems == [], "\n".join(problems)


def test_unsupported_op_names_op_index_tensor_and_hint(tmp_path: Path) -> None:
    from tflite_single_op import T, multi_op_model

    from edgekit.codegen.aot import check_supported, generate_c, supported_ops
    from edgekit.errors import UnsupportedOpError

    need_module("tflite_micro")  # the test model writer uses the schema module shipped there
    x = T((1, 4, 6), scale=0.1, zero_point=3)
    y = T((1, 4, 6), scale=0.1, zero_point=3)
    perm = T((3,), dtype="int32")  # a run-time permutation: TRANSPOSE itself is supported, this is not
    z = T((1, 6, 4), scale=0.1, zero_point=3)
    model = multi_op_model([("RELU", [x], [y], {}), ("TRANSPOSE", [y, perm], [z], {})])
    with pytest.raises(UnsupportedOpError) as info:
        check_supported(model)
    msg, hint = str(info.value), info.value.hint or ""
    assert "operator 1 TRANSPOSE" in msg and "'t3'" in msg and "perm must be a constant" in msg
    assert "supported ops: " in msg and all(op in msg for op in supported_ops())
    assert "--runtime tflm" in hint
    with pytest.raises(UnsupportedOpError):
        generate_c(model, tmp_path)
    assert not (tmp_path / "ek_model.c").exists()


def test_hybrid_model_is_refused_with_the_parameter_named() -> None:
    """A float model runs (test_aot_float.py); one with int8 weights under a float input (hybrid) does not."""
    import tflite_edit

    from edgekit.codegen.aot import check_supported
    from edgekit.errors import UnsupportedOpError
    from edgekit.tflite_model import load_model

    def int8_filter(model, s):
        w = model.subgraphs[0].tensors[model.subgraphs[0].operators[0].inputs[1]]
        w.type = s.TensorType.INT8
        model.buffers[w.buffer].data = np.ones(int(np.prod(w.shape)), np.uint8)
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint = [0.01], [0]
        w.quantization = q

    data = shared_model("tflm_examples/magic_wand_float.tflite").read_bytes()
    check_supported(load_model(data))
    model = load_model(tflite_edit.edit(data, int8_filter))
    op = model.main.operators[0]
    with pytest.raises(UnsupportedOpError) as info:
        check_supported(model)
    msg = str(info.value)
    assert f"operator 0 {op.opcode} (output '{model.main.tensors[op.outputs[0]].name}')" in msg
    assert "has dtype int8; supported: float32" in msg
    assert "--runtime tflm" in (info.value.hint or "")


def test_generated_api_and_files(tmp_path: Path) -> None:
    from edgekit.codegen.aot import generate_c
    from edgekit.tflite_model import load_model

    path = shared_model("mlperf_tiny/kws_ds_cnn_int8.tflite")
    res = generate_c(path, tmp_path)
    names = {f.name for f in res.files}
    assert {"ek_model.h", "ek_model.c", "ek_weights.c", "ek_weights.h", "ek_common.h", "ek_conv.c"} <= names
    header = (tmp_path / "ek_model.h").read_text()
    for decl in ("#define EK_ARENA_SIZE", "#define EK_NUM_INPUTS   1", "#define EK_NUM_OUTPUTS  1",
                 "int    ek_model_init(void);", "int    ek_model_invoke(void);", "void  *ek_model_input(int i);",
                 "size_t ek_model_input_bytes(int i);", "void  *ek_model_output(int i);",
                 "size_t ek_model_output_bytes(int i);", "size_t ek_model_arena_used(void);",
                 "extern const char ek_model_name[];", "extern const char ek_model_sha256[];",
                 "extern const char ek_runtime_name[];", "extern const char ek_runtime_version[];"):
        assert decl in header, decl
    source = (tmp_path / "ek_model.c").read_text()
    model = load_model(path)
    assert model.sha256 in source and '"kws_ds_cnn_int8"' in source
    for op in model.main.operators:  # one comment per operator naming its output tensor
        layer = model.main.tensors[op.outputs[0]].name.split(";")[0]
        assert f"/* op {op.index}: {op.opcode} -> '{layer}'" in source
    assert "__attribute__((aligned(16)))" in source
    assert res.plan.aliases, "RESHAPE should share its input's memory"
    assert res.weights_bytes >= sum(t.nbytes for t in model.main.tensors if t.is_const) - 1024
    assert res.ops == [op.opcode for op in model.main.operators]


@pytest.mark.toolchain
@pytest.mark.parametrize("cpu", sorted(ARM_FLAGS))
def test_generated_c_compiles_for_cortex_m(cpu: str, tmp_path: Path) -> None:
    from edgekit.codegen.aot import generate_c

    gcc = need_tool("arm-none-eabi-gcc")
    for rel in ("mlperf_tiny/kws_ds_cnn_int8.tflite", "tflm_examples/person_detect_int8.tflite"):
        out = tmp_path / Path(rel).stem
        res = generate_c(shared_model(rel), out)
        for c_file in sorted(f for f in res.files if f.suffix == ".c"):
            cmd = [gcc, *ARM_FLAGS[cpu], "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
                   "-c", str(c_file), "-o", str(c_file.with_suffix(".o"))]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{c_file.name} ({cpu}): {proc.stderr[-2000:]}"
    size = shutil.which("arm-none-eabi-size")
    if size:
        print(subprocess.run([size, *map(str, sorted(tmp_path.glob("*/ek_*.o")))], capture_output=True,
                             text=True, check=False).stdout)


@pytest.mark.tflm
def test_prefix_renames_the_model_api(objs: Path, tmp_path: Path) -> None:
    """Two models can live in one firmware: every model-level symbol and file takes the prefix."""
    from edgekit.codegen.aot import generate_c
    from edgekit.codegen.aot.host import build_host, run_host_sets
    from edgekit.tflite_model import load_model

    path = shared_model("tflm_examples/hello_world_int8.tflite")
    res = generate_c(path, tmp_path / "gen", prefix="hw")
    names = {f.name for f in res.files}
    assert {"hw_model.h", "hw_model.c", "hw_weights.c", "hw_weights.h"} <= names
    assert not {"ek_model.h", "ek_model.c"} & names
    header = (tmp_path / "gen" / "hw_model.h").read_text()
    assert "#define HW_ARENA_SIZE" in header and "int    hw_model_invoke(void);" in header
    model = load_model(path)
    sets = random_inputs(model, 3, seed=2)
    a = run_host_sets(build_host(model, tmp_path / "a", prefix="hw", obj_cache=objs), sets)
    b = run_host_sets(build_host(model, tmp_path / "b", obj_cache=objs), sets)
    assert all(np.array_equal(x, y) for sa, sb in zip(a, b, strict=True) for x, y in zip(sa, sb, strict=True))
