"""litert-torch's PT2E quantizer plus the ops it leaves float or unannotated (measured).

litert-torch 0.10's static quantizer annotates conv/linear/add/mul/cat/pooling and, with a fixed output
range, sigmoid and softmax, but not: a ``mean`` fed by an unannotated op, ``sub``, ``tanh``, an ``add`` of a
constant (TFLite then quantizes the constant to int8 on its own, which a 16x8 ADD refuses), nor a
``sigmoid`` whose input was unannotated when its annotator ran (its output then gets an observed scale,
which TFLite's LOGISTIC refuses). Float ops make a hybrid model edgekit refuses. Here those ops get
observers on their inputs (constants included) and output; ``sigmoid``/``tanh`` get TFLite's fixed
outputs (int8: 1/256 and 1/128; int16: 1/32768). ``tanh`` and ``sub`` come from ONNX models whose
exporter spelled GELU out (opset < 20); GELU and SiLU themselves are rewritten before quantization
(:mod:`edgekit.frontends._decompose`).

``activations="int16"`` is TFLite's 16x8 mode: symmetric int16 activations (zero point 0, min/max
calibration as TensorFlow's 16x8 converter does), int8 per-channel weights. litert-torch then emits int16
ops (measured: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MEAN, MUL, ADD, LOGISTIC); ops TFLite has no
int16 kernel for (HARD_SWISH) stay float and the model is refused.
Runs in the converter's child process only.
"""

from __future__ import annotations

from typing import Any


def make_quantizer(activations: str = "int8") -> Any:
    """A PT2E quantizer: litert-torch's symmetric per-channel int8 config (int16 activations with
    ``activations="int16"``), plus mean/sub/tanh annotations."""
    import torch
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.pt2e_quantizer_utils import get_input_act_qspec, get_output_act_qspec
    from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec, QuantizationAnnotation

    aten = torch.ops.aten
    extra = {aten.mean.dim, aten.sub.Tensor, aten.tanh.default, aten.add.Tensor, aten.mul.Tensor,
             aten.sigmoid.default}
    config = pq.get_symmetric_quantization_config(is_per_channel=True)
    if activations == "int16":
        config = _config_16x8(config)
        tanh_out = config.fixed_qparams  # TFLite's int16 TANH and LOGISTIC share scale 1/32768
    else:
        tanh_out = FixedQParamsQuantizationSpec(dtype=torch.int8, scale=1.0 / 128.0, zero_point=0,
                                                quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine)

    class Quantizer(pq.PT2EQuantizer):
        def annotate(self, model: Any) -> Any:
            model = super().annotate(model)
            config = self.global_config
            for node in model.graph.nodes:
                if node.op != "call_function":
                    continue
                ann = node.meta.get("quantization_annotation")
                if node.target not in extra or (ann is not None and ann._annotated):
                    continue
                inputs = [a for a in node.args if isinstance(a, torch.fx.Node)]
                out = {aten.tanh.default: tanh_out, aten.sigmoid.default: config.fixed_qparams}.get(
                    node.target, get_output_act_qspec(config))
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={a: get_input_act_qspec(config) for a in inputs},
                    output_qspec=out, _annotated=True)
            if activations == "int16":
                _read_fixed_outputs_as_is(model, {aten.sigmoid.default, aten.tanh.default})
            return model

    return Quantizer().set_global(config)


def _read_fixed_outputs_as_is(model: Any, fixed_ops: set[Any]) -> None:
    """Consumers of a LOGISTIC/TANH take its fixed output quantization as their input's.

    Otherwise PT2E requantizes between the two, and TFLite folds that requantization into the LOGISTIC's
    output scale, which its int16 kernel refuses (measured: ``output->params.scale == 1. / 32768``).
    """
    for node in model.graph.nodes:
        ann = node.meta.get("quantization_annotation")
        if ann is None:
            continue
        for arg in list(ann.input_qspec_map):
            src = arg.meta.get("quantization_annotation")
            if arg.op == "call_function" and arg.target in fixed_ops and src is not None and src.output_qspec:
                ann.input_qspec_map[arg] = src.output_qspec


def _config_16x8(int8: Any) -> Any:
    """``int8``'s config with symmetric int16 activations and int16 fixed-range outputs (weights kept)."""
    import dataclasses

    import torch
    from torchao.quantization.pt2e import MinMaxObserver
    from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec, QuantizationSpec

    act = QuantizationSpec(dtype=torch.int16, quant_min=-32767, quant_max=32767, qscheme=torch.per_tensor_symmetric,
                           observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2**-20))
    fixed = FixedQParamsQuantizationSpec(dtype=torch.int16, scale=1.0 / 32768.0, zero_point=0, quant_min=-32768,
                                         quant_max=32767, qscheme=torch.per_tensor_symmetric)
    return dataclasses.replace(int8, input_activation=act, output_activation=act, fixed_qparams=fixed)
