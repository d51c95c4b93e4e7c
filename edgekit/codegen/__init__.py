"""Code generation: firmware projects (:mod:`edgekit.codegen.project`) and the AOT C backend (:mod:`.aot`)."""
