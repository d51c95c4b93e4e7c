"""Hostile command streams and faults against real firmware in QEMU (edgekit issue 9).

``stream_campaign``: random and mutated command streams (overlong lines, partial commands, binary noise, huge
``db load``/``ek-bin`` sizes, ``ek-bin`` with wrong lengths, commands sent while an inference runs) into one
running firmware; after each stream the device must resynchronise and every line it printed must be a
well-formed ``m-``/``e-`` line (no reboot, no fault report). Afterwards: ``name%`` answers, ``ek-canary%`` is
ok and outputs on fresh inputs are byte-identical to the TFLM host interpreter's.

``fault_campaign``: ``bench`` and ``validate`` with QEMU SIGKILLed or the socket closed at a random moment.
Every trial must end in success or an EdgekitError (nothing else), leave no QEMU process behind, and
``bench --save`` must leave either the complete new result or the previous file untouched (no partial file,
no temp file): a bench that fails part-way saves nothing, since a latency figure from some of the runs would
be reported as if it were the whole measurement.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_VALID = ["name%", "profile%", "ek-info%", "ek-laps%", "ek-out%", "ek-out 1%", "ek-stack%", "ek-canary%",
          "results%", "%", "infer%", "infer 3 1%"]


def build_firmware(model: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                   board: str = "qemu-cortex-m4") -> Path:
    """Generate (AOT runtime) and build firmware for ``model``; returns the project directory."""
    from edgekit.buildsys import build
    from edgekit.generation import generate

    out = Path(out_dir)
    if not (out / "build" / "firmware.elf").is_file():
        generate(model, board, out_dir=out)
        build(out)
    return out


def _valid_stream(rng: random.Random, in_bytes: int) -> bytes:
    parts: list[bytes] = []
    for _ in range(rng.randint(1, 6)):
        k = rng.random()
        if k < 0.2:
            data = bytes(rng.randrange(256) for _ in range(in_bytes))
            parts.append(f"ek-bin {in_bytes}%".encode() + data)
        elif k < 0.35:
            hexdata = bytes(rng.randrange(256) for _ in range(in_bytes)).hex()
            parts.append(f"db load {in_bytes}%".encode()
                         + b"".join(f"db {hexdata[i:i + 100]}%".encode() for i in range(0, len(hexdata), 100)))
        elif k < 0.45:
            parts.append(f"infer {rng.randint(1, 40)} {rng.randint(0, 3)}%".encode())
        else:
            parts.append(rng.choice(_VALID).encode())
    return b"".join(parts)


def _hostile_stream(rng: random.Random, in_bytes: int) -> tuple[str, bytes]:
    kind = rng.choice(["overlong", "partial", "noise", "huge-load", "bin-short", "bin-long", "during-infer",
                       "mutated", "mutated", "mutated"])
    if kind == "overlong":
        n = rng.choice([257, 300, 1000, 5000])
        body = bytes(rng.choice(b"abcdefgh0123456789 \t") for _ in range(n))
        return kind, body + b"%" + _valid_stream(rng, in_bytes)
    if kind == "partial":
        s = _valid_stream(rng, in_bytes)
        return kind, s[:rng.randrange(1, len(s) + 1)]
    if kind == "noise":
        return kind, bytes(rng.randrange(256) for _ in range(rng.randint(1, 800)))
    if kind == "huge-load":
        n = rng.choice(["4294967295", "4294967296", "99999999999999999999", str(in_bytes + 1), "0", "-1", "1e9"])
        return kind, rng.choice([f"db load {n}%", f"ek-bin {n}%"]).encode() + b"db 00%infer%"
    if kind == "bin-short":
        n = rng.randint(1, in_bytes)
        return kind, f"ek-bin {n}%".encode() + bytes(rng.randrange(256) for _ in range(rng.randint(0, n - 1)))
    if kind == "bin-long":
        n = rng.randint(1, in_bytes)
        return kind, f"ek-bin {n}%".encode() + bytes(rng.randrange(256) for _ in range(n + rng.randint(1, 50)))
    if kind == "during-infer":
        return kind, f"infer {rng.randint(20, 200)} 2%".encode() + _valid_stream(rng, in_bytes)
    s = bytearray(_valid_stream(rng, in_bytes))
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        pos = rng.randrange(len(s) + 1)
        if op == 0 and s:
            s[min(pos, len(s) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            s[pos:pos] = bytes([rng.choice(b"% \r\n\x00\xff[]-")])
        elif op == 2 and s:
            del s[pos:pos + rng.randint(1, 8)]
        else:
            s[pos:pos] = s[max(0, pos - 8):pos]
    return kind, bytes(s)


def _well_formed(line: str) -> bool:
    return (line.startswith(("m-", "e-")) and line.isascii() and line.isprintable()
            and not line.startswith(("m-boot", "e-[hardfault", "e-[exception")))


def _resync(link: Any, in_bytes: int, token: str, timeout: float) -> list[str]:
    """Finish any binary upload, then wait for the answer to a unique unknown command; returns the lines seen."""
    link.write(b"%" * (in_bytes + 1) + f"{token}%".encode())
    lines: list[str] = []
    want = f"e-[unknown command: {token}]"
    deadline = time.monotonic() + timeout
    while True:
        line = link.read_line(timeout=max(0.1, deadline - time.monotonic()), waiting_for=want)
        lines.append(line)
        if line == want:
            lines.append(link.read_line(timeout=timeout, waiting_for="m-ready"))
            return lines


def stream_campaign(project_dir: str | os.PathLike[str], model: str | os.PathLike[str], *, streams: int = 100,
                    seed: int = 0, board: str = "qemu-cortex-m4", check_inputs: int = 10,
                    timeout: float = 60.0) -> dict[str, Any]:
    """Run ``streams`` hostile streams into one QEMU firmware, then check it is intact; returns figures."""
    import numpy as np

    from edgekit.boards import load_board
    from edgekit.target import resolve_target
    from edgekit.tflite_model import load_model
    from edgekit.tflm import tflm_run
    from edgekit.transport.protocol import Device
    from edgekit.transport.qemu import QemuInstance

    rng = random.Random(seed)
    prof = load_board(board)
    elf = resolve_target(project_dir).elf
    parsed = load_model(model)
    kinds: dict[str, int] = {}
    bad: list[str] = []
    sent = lines_seen = 0
    with QemuInstance.for_board(prof, elf) as qemu, qemu.link(timeout=timeout) as link:
        link.sync()
        dev = Device(link, infer_timeout=timeout)
        info = dev.info()
        in_bytes = sum(info.input_bytes)
        for k in range(streams):
            kind, data = _hostile_stream(rng, in_bytes)
            kinds[kind] = kinds.get(kind, 0) + 1
            link.write(data)
            sent += len(data)
            got = _resync(link, in_bytes, f"sync-{seed}-{k}", timeout)
            lines_seen += len(got)
            bad += [f"stream {k} ({kind}): {ln!r}" for ln in got if not _well_formed(ln)][:5]
        link.drain()
        name = dev.name()
        canary = dev.canary()
        sg = parsed.main
        samples = [[np.asarray(rng.choices(range(-128, 128), k=sg.tensors[i].size), dtype=sg.tensors[i].dtype)
                    .reshape(sg.tensors[i].shape) for i in sg.inputs] for _ in range(check_inputs)]
        reference = tflm_run(parsed, [s[0] if len(s) == 1 else s for s in samples])
        exact = 0
        for s, ref in zip(samples, reference, strict=True):
            dev.upload(b"".join(np.ascontiguousarray(a).tobytes() for a in s))
            dev.infer(1, 0)
            outs = [dev.output(i) for i in range(len(sg.outputs))]
            exact += outs == [np.ascontiguousarray(r).tobytes() for r in ref]
        alive = qemu.poll() is None
    return {"streams": streams, "bytes_sent": sent, "lines_received": lines_seen, "kinds": kinds,
            "malformed_lines": bad, "name": name, "canary": canary, "qemu_alive_after": alive,
            "bit_exact": exact, "checked_inputs": check_inputs}


# ------------------------------------------------------------------------------ faults -----------------

class _Tracker:
    """Records the QEMU instances and links opened during one trial (so a fault thread can hit them)."""

    def __init__(self) -> None:
        self.qemus: list[Any] = []
        self.links: list[Any] = []
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Tracker]:
        from edgekit.transport import qemu as qemu_mod
        from edgekit.transport import serial as serial_mod

        orig_start, orig_open = qemu_mod.QemuInstance.start, serial_mod.Link.open
        tracker = self

        def start(inst: Any) -> str:
            url = orig_start(inst)
            with tracker.lock:
                tracker.qemus.append(inst)
            return url

        def open_(link: Any) -> Any:
            res = orig_open(link)
            with tracker.lock:
                tracker.links.append(link)
            return res

        qemu_mod.QemuInstance.start, serial_mod.Link.open = start, open_
        try:
            yield self
        finally:
            qemu_mod.QemuInstance.start, serial_mod.Link.open = orig_start, orig_open


def _inject(tracker: _Tracker, fault: str, delay: float, done: threading.Event, log: dict[str, Any]) -> None:
    if done.wait(delay):
        log["injected"] = False
        return
    while not done.is_set():
        with tracker.lock:
            qemus, links = list(tracker.qemus), list(tracker.links)
        if fault == "kill" and qemus:
            pid = qemus[-1].pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            log["injected"] = True
            return
        if fault in ("close", "drop") and links:
            ser = getattr(links[-1], "_ser", None)
            if ser is not None:
                with contextlib.suppress(Exception):
                    if fault == "close":  # our handle closed under the reader (another thread, a signal handler)
                        ser.close()
                    else:  # the connection dropped (peer gone, cable pulled): reads see end of stream
                        ser._socket.shutdown(socket.SHUT_RDWR)
                log["injected"] = True
                return
        time.sleep(0.005)
    log["injected"] = False


def _qemu_left(tracker: _Tracker) -> list[int]:
    left = []
    for inst in tracker.qemus:
        pid = inst.pid
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(pid)
    return left


def fault_trial(action: str, fault: str, delay: float, *, project_dir: Path, model: Path, inputs: Path,
                save: Path) -> dict[str, Any]:
    """One bench/validate run with ``fault`` injected after ``delay`` seconds: "kill" (SIGKILL QEMU), "close"
    (close the link's port from another thread) or "drop" (shut the TCP connection down)."""
    from edgekit.benchmarking import bench
    from edgekit.errors import EdgekitError
    from edgekit.validation import validate

    sentinel = {"schema": "edgekit.bench/1", "sentinel": True}
    save.write_text(json.dumps(sentinel))
    tracker, done, log = _Tracker(), threading.Event(), {"injected": None}
    outcome, message = "ok", ""
    t0 = time.monotonic()
    with tracker.installed():
        th = threading.Thread(target=_inject, args=(tracker, fault, delay, done, log), daemon=True)
        th.start()
        try:
            if action == "bench":
                bench(project_dir, runs=5, warmup=1, save=save, timeout=5.0, infer_timeout=20.0)
            else:
                res = validate(model, inputs=inputs, project_dir=project_dir, limit=3, timeout=5.0,
                               infer_timeout=20.0)
                if not res.ok:
                    outcome, message = "not-exact", f"{res.byte_exact}/{res.inputs}"
        except EdgekitError as exc:
            outcome, message = "edgekit-error", f"{type(exc).__name__}: {exc.message}"
        except Exception as exc:  # a bug: anything else than an EdgekitError
            outcome, message = "other-exception", f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            th.join()
    elapsed = time.monotonic() - t0
    saved = json.loads(save.read_text()) if save.exists() else None
    if action == "bench":
        if outcome == "ok":
            save_ok = isinstance(saved, dict) and saved.get("runs") == 5 and "timing" in saved
        else:
            save_ok = saved == sentinel
    else:
        save_ok = True
    leftovers = [p.name for p in save.parent.iterdir() if p.name.endswith(".tmp")]
    return {"action": action, "fault": fault, "delay_s": round(delay, 3), "injected": log["injected"],
            "outcome": outcome, "message": message[:300], "seconds": round(elapsed, 2),
            "qemu_left": _qemu_left(tracker), "save_ok": save_ok and not leftovers}


def fault_campaign(project_dir: Path, model: Path, inputs: Path, work: Path, *, trials: int = 50,
                   seed: int = 0) -> dict[str, Any]:
    """``trials`` fault trials over bench and validate, delays spread over a clean run's duration."""
    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    durations = {}
    for action in ("bench", "validate"):
        t0 = time.monotonic()
        clean = fault_trial(action, "kill", 1e9, project_dir=project_dir, model=model, inputs=inputs,
                            save=work / "result.json")
        if clean["outcome"] != "ok":
            raise RuntimeError(f"clean {action} run failed: {clean}")
        durations[action] = time.monotonic() - t0
    results = []
    for k in range(trials):
        action = ("bench", "validate")[k % 2]
        fault = rng.choice(["kill", "close", "drop"])
        delay = rng.uniform(0.0, durations[action] * 1.1)
        results.append(fault_trial(action, fault, delay, project_dir=project_dir, model=model, inputs=inputs,
                                   save=work / "result.json"))
    bad = [r for r in results if r["outcome"] in ("other-exception", "not-exact") or r["qemu_left"]
           or not r["save_ok"] or (r["injected"] and r["outcome"] == "ok" and r["action"] == "never")]
    count = {o: sum(r["outcome"] == o for r in results) for o in ("ok", "edgekit-error", "other-exception",
                                                                   "not-exact")}
    return {"trials": trials, "clean_seconds": {k: round(v, 2) for k, v in durations.items()}, "outcomes": count,
            "injected": sum(bool(r["injected"]) for r in results), "failures": bad, "results": results}
