"""edgekit_runner: run a LiteRT model on a Linux board (bench, batch, serve) with only the runtime and numpy.

This package is copied verbatim into every bundle ``edgekit generate`` writes for an SBC; it must not
import edgekit or TensorFlow. Entry point: ``python -m edgekit_runner {info,bench,batch,serve} ...``.
"""

RUNNER_VERSION = "1"
