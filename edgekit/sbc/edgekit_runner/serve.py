"""``serve``: an MQTT inference service with micro-batching and at-least-once delivery.

Topics under ``prefix`` (default ``edgekit/<bundle name>``): requests arrive on ``<prefix>/requests``,
results go to ``<prefix>/results`` (or the request's ``reply_to``), errors to ``<prefix>/errors`` (and
``reply_to``), and ``<prefix>/status`` holds a retained ``online``/``offline`` message (the will).

Delivery: the service subscribes with QoS 1 on a persistent session (MQTT 5: clean start off, a session
expiry; MQTT 3.1.1: clean session off) and acknowledges a request (PUBACK) only after its result (or error)
has been published and acknowledged by the broker. The result is stored in a SQLite cache keyed by request
id *before* it is published, so a request redelivered after a crash is answered from the cache
(``"replayed": true``) instead of being computed again. A request whose batch crashed the process
``max_attempts`` times is answered with an error instead of crashing it again.

Flow control: MQTT 5 ``Receive Maximum`` = ``queue_size``, so the broker never has more than that many
unacknowledged requests out to us; the queue is bounded by the protocol. (MQTT 3.1.1 has no such
property: the broker's ``max_inflight_messages``, 20 by default in Mosquitto, bounds it instead.)

Micro-batching: the worker takes the first waiting request, then everything else already waiting, up to
``max_batch``, waiting at most ``max_wait_ms`` after the first request arrived. A model with a dynamic
batch dimension runs the batch as one invocation (checked against single invocations at start-up);
otherwise as a loop.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import threading
import time
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .runtime import InputError, Model, as_samples
from .util import RunnerError, status

MAX_PAYLOAD = 16 * 1024 * 1024
DELAY_ENV = "EDGEKIT_RUNNER_BATCH_DELAY_MS"  # testing aid: sleep this long per batch before publishing


@dataclass
class ServeConfig:
    """Service settings (``serve.json`` in the bundle; command-line options override them)."""

    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "edgekit/model"
    client_id: str = "edgekit-runner"
    max_batch: int = 8
    max_wait_ms: float = 5.0
    queue_size: int = 32
    state_dir: str = "state"
    mqtt_version: int = 5
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    cache_size: int = 10000
    max_attempts: int = 3
    backoff_max_s: float = 30.0
    username: str | None = None
    password_file: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> ServeConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise RunnerError(f"{where}: unknown key(s) {', '.join(unknown)}",
                              hint=f"known keys: {', '.join(sorted(known))}")
        return cls(**data)

    def check(self) -> None:
        if self.max_batch < 1 or self.queue_size < self.max_batch:
            raise RunnerError(f"max_batch must be >= 1 and queue_size >= max_batch (got max_batch "
                              f"{self.max_batch}, queue_size {self.queue_size})")
        if self.max_wait_ms < 0 or self.mqtt_version not in (3, 5) or not 1 <= self.port <= 65535:
            raise RunnerError(f"bad settings: max_wait_ms {self.max_wait_ms} (>= 0), mqtt_version "
                              f"{self.mqtt_version} (3 or 5), port {self.port}")
        if any(c in self.prefix for c in "+#") or not self.prefix:
            raise RunnerError(f"topic prefix {self.prefix!r} must be non-empty and free of MQTT wildcards")

    @property
    def topics(self) -> dict[str, str]:
        p = self.prefix.rstrip("/")
        return {"requests": f"{p}/requests", "results": f"{p}/results", "errors": f"{p}/errors",
                "status": f"{p}/status"}


# ---------------------------------------------------------------- the result cache

class ResultStore:
    """SQLite: results by request id (bounded to ``cache_size`` rows) and attempt counts of running requests."""

    def __init__(self, path: Path, cache_size: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing committed
        self.db.execute("CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, payload BLOB NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS attempts (id TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        self.cache_size = cache_size

    def get(self, rid: str) -> bytes | None:
        row = self.db.execute("SELECT payload FROM results WHERE id = ?", (rid,)).fetchone()
        return bytes(row[0]) if row else None

    def attempts(self, rid: str) -> int:
        row = self.db.execute("SELECT n FROM attempts WHERE id = ?", (rid,)).fetchone()
        return int(row[0]) if row else 0

    def begin(self, ids: list[str]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            for rid in ids:
                self.db.execute("INSERT INTO attempts (id, n) VALUES (?, 1) "
                                "ON CONFLICT(id) DO UPDATE SET n = n + 1", (rid,))

    def finish(self, done: list[tuple[str, bytes | None]]) -> None:
        """Store results (None: an error, not cached) and clear their attempt counts, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            for rid, payload in done:
                if payload is not None:
                    self.db.execute("INSERT OR REPLACE INTO results (id, payload) VALUES (?, ?)", (rid, payload))
                self.db.execute("DELETE FROM attempts WHERE id = ?", (rid,))
            self.db.execute("DELETE FROM results WHERE rowid <= (SELECT MAX(rowid) FROM results) - ?",
                            (self.cache_size,))

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------- requests

class RequestError(Exception):
    """A request that cannot be served: answered on the error topic."""

    def __init__(self, message: str, rid: str | None = None, expected: str = "", got: str = "",
                 reply_to: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rid = rid
        self.expected = expected
        self.got = got
        self.reply_to = reply_to


@dataclass
class Item:
    """A received MQTT message waiting for the worker."""

    mid: int
    qos: int
    gen: int
    topic: str
    payload: bytes
    received: float


@dataclass
class Parsed:
    rid: str
    arrays: list[np.ndarray]
    reply_to: str | None
    encoding: str
    item: Item = field(repr=False, default=None)  # type: ignore[assignment]


def _valid_topic(t: Any) -> bool:
    return isinstance(t, str) and 0 < len(t) < 1024 and not any(c in t for c in "+#\0")


def parse_request(payload: bytes, model: Model) -> Parsed:
    """Check a request payload against the model.

    Format: ``{"id": "r1", "input": <nested list>}`` for a single-input model, or ``"inputs": [...]`` with
    one entry per input; an entry may also be ``{"dtype": "int8", "shape": [...], "b64": "..."}``. Optional:
    ``"reply_to"`` (a topic), ``"encoding"`` of the outputs (``"json"`` lists, the default, or ``"b64"``).

    Raises:
        RequestError: malformed JSON, no id, wrong number of inputs, wrong shape or dtype (expected vs got).
    """
    if len(payload) > MAX_PAYLOAD:
        raise RequestError(f"malformed payload: {len(payload)} bytes is more than {MAX_PAYLOAD}")
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"malformed payload: not UTF-8 JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise RequestError(f"malformed payload: expected a JSON object, got {type(obj).__name__}")
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or rid == "" or len(str(rid)) > 256:
        raise RequestError("malformed request: 'id' must be a non-empty string (at most 256 characters) "
                           "or an integer")
    rid = str(rid)
    reply_to = obj.get("reply_to")
    if reply_to is not None and not _valid_topic(reply_to):
        raise RequestError("malformed request: 'reply_to' must be a topic name without wildcards", rid)
    encoding = obj.get("encoding", "json")
    if encoding not in ("json", "b64"):
        raise RequestError(f"malformed request: 'encoding' must be 'json' or 'b64', got {encoding!r}", rid,
                           reply_to=reply_to)
    if "inputs" in obj:
        values = obj["inputs"]
        if not isinstance(values, list) or len(values) != len(model.inputs):
            got = f"{len(values)} entries" if isinstance(values, list) else type(values).__name__
            raise RequestError(f"'inputs' must be a list of {len(model.inputs)} entries, got {got}", rid,
                               f"{len(model.inputs)} inputs", got, reply_to)
    elif "input" in obj:
        if len(model.inputs) != 1:
            raise RequestError(f"the model has {len(model.inputs)} inputs: send 'inputs', one entry each", rid,
                               f"{len(model.inputs)} inputs", "1 input", reply_to)
        values = [obj["input"]]
    else:
        raise RequestError("malformed request: no 'input' or 'inputs'", rid, reply_to=reply_to)
    arrays = []
    for i, (value, spec) in enumerate(zip(values, model.inputs)):
        what = f"input {i} '{spec.name}'"
        try:
            arr = _decode(value, what)
            sample = as_samples(arr, spec, what)
        except InputError as exc:
            want = f"{spec.dtype.name} {list(spec.shape)}"
            raise RequestError(f"{exc.message} (the model's input is {want})", rid, want, exc.got or "?",
                               reply_to) from None
        if len(sample) != 1:
            want = f"{spec.dtype.name} {list(spec.shape)}"
            raise RequestError(f"{what}: one sample per request: expected {want}, got {len(sample)} samples", rid,
                               want, f"{arr.dtype.name} {list(arr.shape)}", reply_to)
        arrays.append(sample)
    return Parsed(rid, arrays, reply_to, encoding)


def _decode(value: Any, what: str) -> np.ndarray:
    if isinstance(value, dict):
        try:
            dtype = np.dtype(str(value["dtype"]))
            shape = tuple(int(x) for x in value["shape"])
            raw = b64decode(str(value["b64"]), validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{what}: bad binary input {{dtype, shape, b64}} ({type(exc).__name__}: {exc})",
                             "a {dtype, shape, b64} object", "a malformed one") from None
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{what}: not a rectangular array of numbers", "a nested list of numbers",
                         "a ragged or non-numeric list") from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{what}: not an array of numbers (got {arr.dtype.name} {list(arr.shape)})",
                         "a nested list of numbers", f"{arr.dtype.name} {list(arr.shape)}")
    return arr


def _encode(arr: np.ndarray, name: str, encoding: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape)}
    if encoding == "b64":
        out["b64"] = b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")
    else:
        out["data"] = arr.tolist()
    return out


# ---------------------------------------------------------------- the service

class Service:
    """The MQTT client, the bounded (flow-controlled) queue and the micro-batching worker."""

    def __init__(self, model: Model, cfg: ServeConfig, state_root: Path) -> None:
        import paho.mqtt.client as mqtt

        cfg.check()
        self.mqtt = mqtt
        self.model = model
        self.cfg = cfg
        self.topics = cfg.topics
        self.q: queue.Queue[Item] = queue.Queue()
        self.gen = 0
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.counts = {"requests": 0, "results": 0, "errors": 0, "replayed": 0, "batches": 0}
        self.delay = float(os.environ.get(DELAY_ENV, "0") or 0) / 1000.0
        self._overflow_warned = False
        state = Path(cfg.state_dir)
        self.store = ResultStore((state if state.is_absolute() else state_root / state) / "results.sqlite",
                                 cfg.cache_size)
        self.bmodel: Model | None = None  # a second interpreter resized to max_batch, when the model allows it
        if cfg.max_batch > 1 and model.resizable:
            bmodel = Model(model.path, threads=model.threads, xnnpack=model.xnnpack)
            if bmodel.check_batching(cfg.max_batch):
                self.bmodel = bmodel
        self.batched = self.bmodel is not None

        v5 = cfg.mqtt_version == 5
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
                                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                                  clean_session=None if v5 else False, manual_ack=True)
        if cfg.username:
            password = None
            if cfg.password_file:
                password = Path(cfg.password_file).read_text(encoding="utf-8").strip()
            self.client.username_pw_set(cfg.username, password)
        self.client.will_set(self.topics["status"], self._status_payload("offline"), qos=1, retain=True)
        self.client.reconnect_delay_set(1, max(1, int(cfg.backoff_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------ MQTT callbacks (network thread)

    def _status_payload(self, state: str) -> bytes:
        return json.dumps({"state": state, "client_id": self.cfg.client_id, "pid": os.getpid(),
                           "model_sha256_16": self.model.sha256[:16], "requests": self.topics["requests"]}).encode()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            status(f"broker {self.cfg.host}:{self.cfg.port} refused the connection: {reason}")
            return
        self.gen += 1
        client.subscribe(self.topics["requests"], qos=1)
        client.publish(self.topics["status"], self._status_payload("online"), qos=1, retain=True)
        self.connected.set()
        status(f"connected to {self.cfg.host}:{self.cfg.port} as {self.cfg.client_id} (MQTT "
               f"{'5' if self.cfg.mqtt_version == 5 else '3.1.1'}, session present: "
               f"{bool(getattr(flags, 'session_present', False))}); listening on {self.topics['requests']} "
               f"(max batch {self.cfg.max_batch}{' batched' if self.batched else ' as a loop'}, max wait "
               f"{self.cfg.max_wait_ms:g} ms, queue {self.cfg.queue_size})")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        status(f"broker {self.cfg.host}:{self.cfg.port} unreachable; retrying with backoff (1-"
               f"{self.cfg.backoff_max_s:g} s)")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        if not self.stop.is_set():
            status(f"lost the broker connection ({reason}); reconnecting with backoff (1-"
                   f"{self.cfg.backoff_max_s:g} s)")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self.q.put(Item(msg.mid, msg.qos, self.gen, msg.topic, bytes(msg.payload), time.monotonic()))
        if self.q.qsize() > self.cfg.queue_size and not self._overflow_warned:
            self._overflow_warned = True
            status(f"warning: {self.q.qsize()} requests queued, more than queue_size {self.cfg.queue_size}: "
                   "with MQTT 3.1.1 set the broker's max_inflight_messages to at most queue_size")

    # ------------------------------------------------------------ connecting

    def connect(self) -> bool:
        """Connect, retrying with exponential backoff while the broker is unreachable; False if stopped."""
        kwargs: dict[str, Any] = {}
        if self.cfg.mqtt_version == 5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.cfg.session_expiry_s
            props.ReceiveMaximum = self.cfg.queue_size
            kwargs = {"clean_start": False, "properties": props}
        delay, attempt = 1.0, 0
        while not self.stop.is_set():
            attempt += 1
            try:
                self.client.connect(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, **kwargs)
                break
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
                status(f"broker {self.cfg.host}:{self.cfg.port} unreachable ({reason}); retrying in {delay:g} s "
                       f"(attempt {attempt})")
                self.stop.wait(delay)
                delay = min(delay * 2, self.cfg.backoff_max_s)
        else:
            return False
        self.client.loop_start()
        return True

    # ------------------------------------------------------------ the worker (main thread)

    def next_batch(self) -> list[Item]:
        try:
            first = self.q.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = first.received + self.cfg.max_wait_ms / 1000.0
        while len(batch) < self.cfg.max_batch:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.q.get_nowait() if remaining <= 0 else self.q.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def handle(self, batch: list[Item]) -> None:
        """Answer every item of a batch, then acknowledge them (in the order received)."""
        replies: list[tuple[str, bytes]] = []
        to_run: list[Parsed] = []
        suspects: list[Parsed] = []
        self.counts["requests"] += len(batch)
        for item in batch:
            try:
                req = parse_request(item.payload, self.model)
            except RequestError as exc:
                replies += self._error(exc, item)
                continue
            req.item = item
            cached = self.store.get(req.rid)
            if cached is not None:
                replies.append((req.reply_to or self.topics["results"], _replayed(cached)))
                self.counts["replayed"] += 1
                continue
            tries = self.store.attempts(req.rid)
            if tries >= self.cfg.max_attempts:
                replies += self._error(RequestError(f"request crashed the runner {tries} times; not retried",
                                                    req.rid, reply_to=req.reply_to), item)
                self.store.finish([(req.rid, None)])
            elif tries > 0:
                suspects.append(req)  # was in a batch that crashed: run it alone
            else:
                to_run.append(req)
        groups = ([to_run] if to_run else []) + [[s] for s in suspects]
        for group in groups:
            replies += self._run(group)
        if self.delay:
            time.sleep(self.delay)
        if self._publish(replies):
            for item in batch:
                if item.qos > 0 and item.gen == self.gen:  # a redelivered copy answers the others
                    self.client.ack(item.mid, item.qos)
        self.counts["batches"] += 1

    def _run(self, group: list[Parsed]) -> list[tuple[str, bytes]]:
        ids = [r.rid for r in group]
        self.store.begin(ids)
        arrays = [np.concatenate([r.arrays[k] for r in group]) for k in range(len(self.model.inputs))]
        t0 = time.perf_counter_ns()
        try:
            if len(group) > 1 and self.bmodel is not None:
                outputs, as_batch = self.bmodel.run_padded(arrays), True
            else:
                outputs, as_batch = self.model.predict(arrays, resize=False)
        except (RuntimeError, ValueError) as exc:
            self.store.finish([(rid, None) for rid in ids])
            out = []
            for r in group:
                out += self._error(RequestError(f"the runtime failed: {exc}", r.rid, reply_to=r.reply_to), r.item)
            return out
        lat_us = (time.perf_counter_ns() - t0) / 1000.0
        replies, done = [], []
        for i, r in enumerate(group):
            body = {"id": r.rid, "ok": True,
                    "outputs": [_encode(o[i:i + 1], s.name, r.encoding) for o, s in zip(outputs, self.model.outputs)],
                    "batch_size": len(group), "batched": as_batch, "latency_us": lat_us,
                    "model_sha256_16": self.model.sha256[:16], "replayed": False}
            payload = json.dumps(body, separators=(",", ":")).encode()
            done.append((r.rid, payload))
            replies.append((r.reply_to or self.topics["results"], payload))
        self.store.finish(done)  # durable before it is published: a redelivery is answered from here
        self.counts["results"] += len(group)
        return replies

    def _error(self, exc: RequestError, item: Item) -> list[tuple[str, bytes]]:
        self.counts["errors"] += 1
        body = {"id": exc.rid, "ok": False, "error": exc.message, "expected": exc.expected or None,
                "got": exc.got or None, "topic": item.topic}
        if exc.rid is None:
            body["payload_start"] = item.payload[:80].decode("utf-8", errors="replace")
        payload = json.dumps(body, separators=(",", ":")).encode()
        out = [(self.topics["errors"], payload)]
        if exc.reply_to:
            out.append((exc.reply_to, payload))
        return out

    def _publish(self, replies: list[tuple[str, bytes]]) -> bool:
        """Publish with QoS 1 and wait for every PUBACK; False when stopped first."""
        infos = []
        for topic, payload in replies:
            while not self.connected.wait(0.2):
                if self.stop.is_set():
                    return False
            infos.append(self.client.publish(topic, payload, qos=1))
        for info in infos:
            while not _published(info):
                if self.stop.is_set():
                    return False
                time.sleep(0.002)
        return True

    def serve_forever(self) -> None:
        if not self.connect():
            return
        try:
            while not self.stop.is_set():
                batch = self.next_batch()
                if not batch:
                    continue
                try:
                    self.handle(batch)
                except Exception as exc:  # the worker must outlive any one bad batch
                    status(f"error while handling a batch of {len(batch)}: {type(exc).__name__}: {exc} "
                           "(not acknowledged: the broker redelivers on reconnect)")
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        try:
            if self.connected.is_set():
                self.client.publish(self.topics["status"], self._status_payload("offline"), qos=1,
                                    retain=True).wait_for_publish(2.0)
        except (RuntimeError, ValueError):
            pass
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()
        c = self.counts
        status(f"stopped: {c['requests']} requests in {c['batches']} batches, {c['results']} results, "
               f"{c['errors']} errors, {c['replayed']} replayed from the cache")


def _published(info: Any) -> bool:
    try:
        return bool(info.is_published())
    except RuntimeError:  # published while disconnected: paho sends it again after reconnecting
        return bool(getattr(info, "_published", False))


def _replayed(payload: bytes) -> bytes:
    body = json.loads(payload.decode())
    body["replayed"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def run_service(model: Model, cfg: ServeConfig, state_root: Path) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code."""
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        raise RunnerError("serve needs paho-mqtt", hint="pip install 'paho-mqtt==2.2.0'") from None
    svc = Service(model, cfg, state_root)

    def _stop(signum: int, frame: Any) -> None:
        svc.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    svc.serve_forever()
    return 0
