"""Jinja templates of the files a bundle carries besides the model and the runner (README, Dockerfile, unit)."""

from __future__ import annotations

from typing import Any

# Docker platform per machine, and the base image: tag = Python minor version + Debian release.
DOCKER_PLATFORMS = {"aarch64": "linux/arm64", "armv7l": "linux/arm/v7", "x86_64": "linux/amd64"}

DOCKERFILE = """\
# {{ name }}: edgekit runner for {{ board.name }} ({{ machine }}), built by edgekit {{ edgekit_version }}.
#   docker buildx build --platform {{ platform }} -t edgekit-{{ name }} .
#   docker run --rm edgekit-{{ name }} bench --runs 100
#   docker run -d --restart=always --network host -v edgekit-{{ name }}-state:/state edgekit-{{ name }}
#
# The base image is pinned by tag only (Python {{ python }}, Debian 12 "bookworm"): edgekit could not read its
# digest where this bundle was made (no access to the image registry), and does not make one up. For a
# reproducible build pin it by digest: BASE_IMAGE=python:{{ python }}-slim-bookworm@sha256:<digest>, where
# <digest> is the one 'docker buildx imagetools inspect python:{{ python }}-slim-bookworm' prints for {{ platform }}.
ARG BASE_IMAGE=python:{{ python }}-slim-bookworm
FROM --platform={{ platform }} ${BASE_IMAGE}
{% if machine == "armv7l" %}
# numpy<2 has no armv7l wheels on PyPI: pip builds it from source unless an index with armv7l wheels
# (e.g. the one Raspberry Pi OS configures in /etc/pip.conf) is passed as PIP_EXTRA_INDEX_URL.
ARG PIP_EXTRA_INDEX_URL=
ENV PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}
{% endif %}
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/edgekit/{{ name }}
COPY requirements.txt .
RUN python -m pip install {% if hashed %}--require-hashes {% endif %}-r requirements.txt
COPY . .
RUN useradd --system --home-dir /state --create-home edgekit && chown edgekit /state
USER edgekit
VOLUME ["/state"]
ENTRYPOINT ["python", "-m", "edgekit_runner"]
CMD ["serve", "--state-dir", "/state"]
"""

DOCKERIGNORE = """\
.venv/
state/
**/__pycache__/
*.pyc
"""

SYSTEMD_UNIT = """\
# {{ unit }}: the MQTT inference service of bundle '{{ name }}' ({{ model_file }}).
# Install the bundle in {{ install_dir }} (see README.md), then:
#   sudo cp {{ unit }} /etc/systemd/system/ && sudo systemctl daemon-reload
#   sudo systemctl enable --now {{ unit }}
#   journalctl -u {{ unit }} -f
[Unit]
Description=edgekit runner: {{ name }} on {{ board.name }}
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
DynamicUser=yes
StateDirectory=edgekit-{{ name }}
WorkingDirectory={{ install_dir }}
Environment=PYTHONUNBUFFERED=1
ExecStart={{ install_dir }}/.venv/bin/python -m edgekit_runner serve --config {{ install_dir }}/serve.json \
--state-dir /var/lib/edgekit-{{ name }}
Restart=always
RestartSec=2
# The service acknowledges a request only after its result is published: a restart loses nothing.
TimeoutStopSec=15

[Install]
WantedBy=multi-user.target
"""

README = """\
# {{ name }}: {{ model_file }} on {{ board.name }}

A self-contained bundle made by edgekit {{ edgekit_version }} on {{ created_utc }}: the model, a small runner
(`edgekit_runner/`, needs only {{ runtime.package }} and numpy), and what it takes to run it as a service.
It does not need edgekit or TensorFlow on the board.

| | |
|---|---|
| model | `{{ model_file }}` ({{ model_bytes }} bytes, sha256 `{{ model_sha256[:16] }}...`) |
| inputs | {{ inputs_md }} |
| outputs | {{ outputs_md }} |
| board | {{ board.id }}: {{ board.name }} |
| target | {{ machine }}, Python {{ python }} |
| runtime | {{ runtime.package }} {{ runtime.version }}{% if runtime.note %} ({{ runtime.note }}){% endif %} |

## Install on the board
```sh
scp -r {{ bundle_dir_name }} user@board:{{ bundle_dir_name }}
ssh user@board
sudo mkdir -p {{ install_dir }} && sudo cp -r {{ bundle_dir_name }}/. {{ install_dir }}/
cd {{ install_dir }}
sudo python3 -m venv .venv          # Debian / Raspberry Pi OS: sudo apt-get install python3-venv
sudo .venv/bin/pip install -r requirements.txt
```
`requirements.txt` pins the runtime for {{ machine }} and everything it depends on: {{ requirements_md }}.
{% if hashed %}Each line also carries the SHA-256 of every file PyPI serves for that version on {{ machine }}
(read from PyPI when edgekit was released), so pip runs in hash-checking mode and refuses any other file.
{% endif %}{% if machine == "armv7l" %}
On 32-bit Raspberry Pi OS pip finds armv7l wheels of numpy through the extra index configured in
`/etc/pip.conf`. tflite-runtime 2.14.0 is the last release of that package: it supports Python 3.8-3.11 and
needs glibc 2.34+ (Raspberry Pi OS 12 "bookworm"). A 64-bit OS (aarch64) runs ai-edge-litert instead.
The armv7l requirements are pinned to exact versions but carry no hashes: numpy has no armv7l wheel on PyPI,
the extra index's files have hashes edgekit cannot read, and pip's hash-checking mode is all-or-nothing.
{% endif %}
## Supply chain
- Python packages: exact versions{% if hashed %} and SHA-256 hashes{% endif %} (`requirements.txt`).
- Docker base image: `python:{{ python }}-slim-bookworm`, pinned by **tag only**. Its digest could not be
  obtained where this bundle was made, so none is written here (none is made up). To pin it, build with
  `--build-arg BASE_IMAGE=python:{{ python }}-slim-bookworm@sha256:<digest>` (the digest
  `docker buildx imagetools inspect python:{{ python }}-slim-bookworm` prints for {{ platform }}).

## Run
```sh
.venv/bin/python -m edgekit_runner info                     # runtime, machine, tensors
.venv/bin/python -m edgekit_runner bench --runs 100 --threads 1 --xnnpack on --out bench.json
.venv/bin/python -m edgekit_runner batch inputs/ --batch-size 16 --out predictions/
.venv/bin/python -m edgekit_runner serve --broker 127.0.0.1:1883
```
- `bench`: single-stream latency of `Interpreter.invoke()` after warm-up runs, as `edgekit.bench/1` JSON (the
  schema of edgekit's MCU benchmarks; fields that do not apply to Linux are null). `--xnnpack off` runs the
  built-in kernels without the XNNPACK delegate. With an INA219/INA226 current monitor visible in
  `/sys/class/hwmon` (kernel driver `ina2xx`), energy is **measured**; otherwise it is **modelled** from the
  board profile ({{ board.power.supply_v }} V x {{ board.power.active_ma }} mA).
- `batch`: a directory of `.npy`/`.npz` files, or one `.npy`/`.npz`/`.bin` holding N samples. Writes
  `predictions.npz` and `batch.json` (throughput, per-item latency). The input tensors are resized to the batch
  size when the model has a dynamic batch dimension, otherwise each batch is a loop.
- `serve`: the MQTT service below. Settings: `serve.json` (command-line options override it).

## MQTT service
Topics: requests on `{{ serve.prefix }}/requests`; results on `{{ serve.prefix }}/results` (or the request's
`reply_to`); errors on `{{ serve.prefix }}/errors`; `{{ serve.prefix }}/status` holds a retained
`online`/`offline` message.

Request (QoS 1): `{"id": "r-1", "input": <nested list of the input's shape, batch dimension optional>}`,
or `"inputs": [...]` with one entry per input; an entry may be `{"dtype": "int8", "shape": [...], "b64": "..."}`.
Optional: `"reply_to": "<topic>"`, `"encoding": "b64"` (outputs as base64 instead of lists).

Result: `{"id": "r-1", "ok": true, "outputs": [{"name", "dtype", "shape", "data"}], "batch_size": 4,
"batched": true, "latency_us": 812.5, "model_sha256_16": "...", "replayed": false}`.
Error: `{"id": "r-1" or null, "ok": false, "error": "...", "expected": "...", "got": "..."}`.

Delivery is at least once: the service uses a persistent MQTT session, acknowledges a request only after its
result is published, and keeps results by id in `state/results.sqlite`, so a request redelivered after a
crash or restart is answered from there (`"replayed": true`). Requests are micro-batched under load
(max batch {{ serve.max_batch }}, max wait {{ serve.max_wait_ms }} ms); the broker never has more than
queue_size = {{ serve.queue_size }} unacknowledged requests out to the service (MQTT 5 Receive Maximum).
Publish requests only after the service has connected once (its session then buffers them while it is down).

systemd: `{{ unit }}` (see the comments in it). Docker: `Dockerfile` (platform {{ platform }}).
"""


def render(template: str, ctx: dict[str, Any]) -> str:
    """Render one template with StrictUndefined (a missing variable is an error, not an empty string)."""
    import jinja2

    ctx = {**ctx, "inputs_md": _tensors_md(ctx["inputs"]), "outputs_md": _tensors_md(ctx["outputs"]),
           "requirements_md": ", ".join(f"`{r}`" for r in ctx.get("locked") or ctx["runtime"]["requirements"])}

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(template).render(**ctx)


def _tensors_md(tensors: list[dict[str, Any]]) -> str:
    return ", ".join(f"`{t['name']}` {t['dtype']} {t['shape']}" for t in tensors)
