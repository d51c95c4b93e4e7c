"""litert-torch's PT2E quantizer plus the activation it leaves float (measured: GELU, and a MEAN fed by it).

litert-torch 0.10's static int8 quantizer annotates conv/linear/add/mul/cat/pooling and fixed-range ops
(sigmoid, tanh, ...). A GELU, and a ``mean`` fed by one, stay float, and edgekit refuses the hybrid
model. Here they get int8 observers on their input and output (TFLite's int8 GELU requantizes). Note:
the int8 GELU runs on LiteRT, but the TFLM host interpreter (tflite-micro nightly) has no GELU kernel.
SiLU still stays float (its LOGISTIC needs the fixed 1/256 output scale; not solved here) and is refused.
Runs in the converter's child process only.
"""

from __future__ import annotations

from typing import Any


def make_quantizer() -> Any:
    """A PT2E quantizer: litert-torch's symmetric per-channel int8 config, plus GELU/mean annotations."""
    import torch
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.pt2e_quantizer_utils import get_input_act_qspec, get_output_act_qspec
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    extra = {torch.ops.aten.gelu.default, torch.ops.aten.mean.dim}

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
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={a: get_input_act_qspec(config) for a in inputs},
                    output_qspec=get_output_act_qspec(config), _annotated=True)
            return model

    return Quantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
