"""litert-torch's PT2E quantizer plus the ops it leaves float (measured): ``mean``, ``sub`` and ``tanh``.

litert-torch 0.10's static int8 quantizer annotates conv/linear/add/mul/cat/pooling and, with a fixed
output range, sigmoid and softmax. A ``mean`` fed by an unannotated op, every ``sub`` and every ``tanh``
stay float, and edgekit refuses the hybrid model. Here ``mean``/``sub`` get int8 observers on their
inputs and output, ``tanh`` an observed input and TFLite's fixed int8 output (scale 1/128, zero point 0).
``tanh`` and ``sub`` come from ONNX models whose exporter spelled GELU out (opset < 20).
GELU and SiLU themselves are rewritten before quantization (:mod:`edgekit.frontends._decompose`).
Runs in the converter's child process only.
"""

from __future__ import annotations

from typing import Any


def make_quantizer() -> Any:
    """A PT2E quantizer: litert-torch's symmetric per-channel int8 config, plus mean/sub/tanh annotations."""
    import torch
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.pt2e_quantizer_utils import get_input_act_qspec, get_output_act_qspec
    from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec, QuantizationAnnotation

    aten = torch.ops.aten
    extra = {aten.mean.dim, aten.sub.Tensor, aten.tanh.default}
    tanh_out = FixedQParamsQuantizationSpec(dtype=torch.int8, scale=1.0 / 128.0, zero_point=0,
                                            quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine)

    class Quantizer(pq.PT2EQuantizer):
        def annotate(self, model: Any) -> Any:
            model = super().annotate(model)
            config = self.global_config
            for node in model.graph.nodes:
                if node.op != "call_function" or node.target not in extra:
                    continue
                if "quantization_annotation" in node.meta and node.meta["quantization_annotation"]._annotated:
                    continue
                inputs = [a for a in node.args if isinstance(a, torch.fx.Node)]
                out = tanh_out if node.target == aten.tanh.default else get_output_act_qspec(config)
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={a: get_input_act_qspec(config) for a in inputs},
                    output_qspec=out, _annotated=True)
            return model

    return Quantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
