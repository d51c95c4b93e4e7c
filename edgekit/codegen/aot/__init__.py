"""edgekit's AOT runtime: generate interpreter-less C for an int8 .tflite model.

``generate_c(model, out_dir)`` writes the model's C sources (static memory plan, weights in
flash, one kernel call per operator); ``check_supported(model)`` raises UnsupportedOpError for
anything the runtime cannot run. See ``notes/AOT_API.md`` for the generated C API.
"""

from __future__ import annotations

from edgekit.codegen.aot.generate import RUNTIME_DIR, AotResult, check_supported, generate_c, supported_ops

__all__ = ["RUNTIME_DIR", "AotResult", "check_supported", "generate_c", "supported_ops"]
