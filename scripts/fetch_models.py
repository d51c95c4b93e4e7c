#!/usr/bin/env python3
"""Download the third-party models some tests and benchmarks use into ../shared/models (or EDGEKIT_MODELS_DIR).

Every file is public: MLPerf Tiny reference models (github.com/mlcommons/tiny, Apache-2.0) and TensorFlow Lite
Micro example models (github.com/tensorflow/tflite-micro, Apache-2.0), fetched byte for byte from a pinned commit
and checked against its sha256. docs/models.md says what each one is. A few label and input files in the shared
set were transcribed from C sources and cannot be downloaded as files; the tests that need them say so.

    python scripts/fetch_models.py [DEST]      # default: $EDGEKIT_MODELS_DIR, else ../shared/models
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLPERF = "1afd2c9820f795965a6134facd0b4dfae41ef23f"  # mlcommons/tiny, 2026-05-12
TFLM = "90b983c2b3f1480642e040bbd2ddb37b998f3424"  # tensorflow/tflite-micro, 2026-08-20
TFLM_2023 = "1b68490dcfd087c308a1f8d14012ab1cb39c9ac0"  # tensorflow/tflite-micro, 2023-03-27 (magic_wand)
# (file under the models directory, GitHub repository, commit, path in the repository, sha256)
FILES = [
    ("mlperf_tiny/kws_ds_cnn_int8.tflite", "mlcommons/tiny", MLPERF,
     "benchmark/training/keyword_spotting/trained_models/kws_ref_model.tflite",
     "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae"),
    ("mlperf_tiny/vww_mobilenet_int8.tflite", "mlcommons/tiny", MLPERF,
     "benchmark/training/visual_wake_words/trained_models/vww_96_int8.tflite",
     "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b"),
    ("mlperf_tiny/ic_resnet8_int8.tflite", "mlcommons/tiny", MLPERF,
     "benchmark/training/image_classification/trained_models/pretrainedResnet_quant.tflite",
     "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415"),
    ("mlperf_tiny/ad_fc_autoencoder_int8.tflite", "mlcommons/tiny", MLPERF,
     "benchmark/training/anomaly_detection/trained_models/ad01_int8.tflite",
     "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24"),
    ("mlperf_tiny/ad_input_normal_id_01_00000000_hist_librosa_fp32.bin", "mlcommons/tiny",
     MLPERF,
     "benchmark/reference_submissions/anomaly_detection/datasets/dcase01/normal_id_01_00000000_hist_librosa.bin",
     "31bc130d27e3732e1c09db946ccc7bfa130f98739bcd90cfa39d590f61f4d6fa"),
    ("tflm_examples/hello_world_float.tflite", "tensorflow/tflite-micro", TFLM,
     "tensorflow/lite/micro/examples/hello_world/models/hello_world_float.tflite",
     "ee939863195ca37ce063b18e14fb82aa0d98db6596ba41095757f6b560da1070"),
    ("tflm_examples/hello_world_int8.tflite", "tensorflow/tflite-micro", TFLM,
     "tensorflow/lite/micro/examples/hello_world/models/hello_world_int8.tflite",
     "505ee4fae7fa46ab67bea4c08b4969eb3eb8b9114c50595ec4a29d9a27993202"),
    ("tflm_examples/micro_speech_quantized_int8.tflite", "tensorflow/tflite-micro", TFLM,
     "tensorflow/lite/micro/examples/micro_speech/models/micro_speech_quantized.tflite",
     "09e5e2a9dfb2d8ed78802bf18ce297bff54281a66ca18e0c23d69ca14f822a83"),
    ("tflm_examples/person_detect_int8.tflite", "tensorflow/tflite-micro", TFLM,
     "tensorflow/lite/micro/models/person_detect.tflite",
     "808cfdfc0cf3a6fa6f6fa26bfa379ea97c16d5db7334637766e39c3408502e9d"),
    ("tflm_examples/magic_wand_float.tflite", "tensorflow/tflite-micro", TFLM_2023,
     "tensorflow/lite/micro/examples/magic_wand/magic_wand.tflite",
     "b85416603fd118a9448a92ce3d02d3cdcf5154c7564fe0e70ea3c468198465a3"),
]
NOT_DOWNLOADABLE = [
    "mlperf_tiny/vww_labels.txt",
    "mlperf_tiny/kws_input_sample_int8.bin",
    "mlperf_tiny/kws_labels.txt",
    "mlperf_tiny/ic_labels.txt",
    "tflm_examples/micro_speech_labels.txt",
    "tflm_examples/person_detect_labels.txt",
    "tflm_examples/magic_wand_labels.txt",
]


def default_dest() -> Path:
    """$EDGEKIT_MODELS_DIR, else ../shared/models beside the repository (where the tests look)."""
    env = os.environ.get("EDGEKIT_MODELS_DIR")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "models"


def fetch(dest: Path) -> int:
    """Download every missing file into ``dest``; returns the number of failures."""
    failures = 0
    for i, (rel, repo, commit, path, sha) in enumerate(FILES, 1):
        target = dest / rel
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
            print(f"[{i}/{len(FILES)}] {rel}: present")
            continue
        url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
        print(f"[{i}/{len(FILES)}] {rel} <- {url}", flush=True)
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                data = resp.read()
        except OSError as exc:
            print(f"  failed: {exc}", file=sys.stderr)
            failures += 1
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            print(f"  failed: sha256 differs from the pinned {sha[:16]}...; not written", file=sys.stderr)
            failures += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    print(f"models in {dest}; not downloadable (transcribed from C sources): {', '.join(NOT_DOWNLOADABLE)}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else default_dest()) else 0)
