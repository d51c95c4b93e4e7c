"""micro_speech's audio preprocessor (TFLM's signal-library front-end) on edgekit's AOT runtime vs the TFLM host
interpreter, byte for byte, on TFLM's own test recordings (needs a tflite-micro checkout; nothing from it is
copied into this repository).

Every 30 ms frame (480 samples, 20 ms stride) of every ``micro_speech/testdata/*.wav`` goes through
``audio_preprocessor_int8.tflite`` in order (the noise estimate is state) on an ASan/UBSan host build of the
generated C and on TFLM; the 40 int8 features per frame are compared. Then the 49-frame feature maps go through
``micro_speech_quantized.tflite`` on both runtimes. Writes benchmarks/results/signal_frontend.json.

    python benchmarks/signal_frontend.py --tflm-dir TFLITE_MICRO_CHECKOUT
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "signal_frontend.json"
EXAMPLE = "tensorflow/lite/micro/examples/micro_speech"


def frames(wav: Path, length: int = 480, stride: int = 320) -> list[np.ndarray]:
    """The recording's 16-bit samples cut into overlapping frames (1, length)."""
    with wave.open(str(wav)) as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), np.int16)
    return [audio[s:s + length].reshape(1, length).copy() for s in range(0, len(audio) - length + 1, stride)]


def compare(model: Path, sets: list[list[np.ndarray]], work: Path) -> tuple[int, list[list[np.ndarray]], dict]:
    """(number of sets whose outputs differ, edgekit's outputs, build metadata)."""
    from edgekit.codegen.aot.host import build_host, host_meta, run_host_sets
    from edgekit.tflm import tflm_run

    exe = build_host(model, work)
    ours = run_host_sets(exe, sets)
    ref = tflm_run(model, sets)
    bad = sum(any(a.tobytes() != np.asarray(b).reshape(a.shape).astype(a.dtype).tobytes() or
                  a.dtype != np.asarray(b).dtype for a, b in zip(o, r, strict=True))
              for o, r in zip(ours, ref, strict=True))
    meta = host_meta(exe)
    return bad, ours, {"arena_bytes": meta["arena_bytes"], "weights_bytes": meta["weights_bytes"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tflm-dir", type=Path, required=True, help="a tflite-micro checkout")
    ap.add_argument("-o", "--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    example = args.tflm_dir / EXAMPLE
    pre, clf = example / "models/audio_preprocessor_int8.tflite", example / "models/micro_speech_quantized.tflite"
    rows, maps = [], []
    with tempfile.TemporaryDirectory(prefix="ek_signal_") as tmp:
        for k, wav in enumerate(sorted((example / "testdata").glob("*.wav"))):
            sets = [[f] for f in frames(wav)]
            bad, ours, meta = compare(pre, sets, Path(tmp) / f"pre{k}")
            rows.append({"wav": wav.name, "frames": len(sets), "frames_differing": bad, **meta})
            feats = np.concatenate([o[0].reshape(-1) for o in ours])
            if feats.size >= 49 * 40:
                maps.append([feats[:49 * 40].reshape(1, 1960).astype(np.int8)])
            print(rows[-1])
        clf_bad, clf_out, clf_meta = compare(clf, maps, Path(tmp) / "clf") if maps else (0, [], {})
    summary = {"recordings": len(rows), "frames": sum(r["frames"] for r in rows),
               "frames_differing": sum(r["frames_differing"] for r in rows),
               "classifier_maps": len(maps), "classifier_maps_differing": clf_bad,
               "classifier_top1": [int(np.argmax(o[0])) for o in clf_out], "classifier": clf_meta}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"summary": summary, "recordings": rows}, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
