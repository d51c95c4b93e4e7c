"""The host side of the edgekit device protocol (``docs/protocol.md``): typed commands over a :class:`Link`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edgekit.errors import DeviceError
from edgekit.transport.serial import Link

DEFAULT_LINE_MAX = 256


@dataclass(frozen=True)
class DeviceInfo:
    """The device's answer to ``ek-info%`` (``None``/empty fields when a line is missing)."""

    runtime: str = ""
    model: str = ""
    model_sha256_16: str = ""
    arena_used: int | None = None
    arena_reserved: int | None = None
    input_bytes: tuple[int, ...] = ()
    output_bytes: tuple[int, ...] = ()
    timer_kind: str = ""
    timer_hz: int | None = None
    line_max: int = DEFAULT_LINE_MAX
    board: str = ""
    core_hz: int | None = None  # ``m-ek-clock-[<hz> <state>]``: the CPU clock the firmware reports running at
    clock_state: str = ""       # "pll", "reset", "fallback-<step>" (None/"" when the firmware does not say)
    raw: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"runtime": self.runtime, "model": self.model, "model_sha256_16": self.model_sha256_16,
                "arena_used_bytes": self.arena_used, "arena_reserved_bytes": self.arena_reserved,
                "input_bytes": list(self.input_bytes), "output_bytes": list(self.output_bytes),
                "timer": {"kind": self.timer_kind, "hz": self.timer_hz}, "line_max": self.line_max,
                "board": self.board, "clock": {"core_hz": self.core_hz, "state": self.clock_state or None}}


@dataclass(frozen=True)
class InferReply:
    """What ``infer N W%`` printed: start/end timestamps (µs, device clock) and output 0 as floats."""

    runs: int
    warmup: int
    lap_us: tuple[int, ...]
    results: tuple[float, ...]


def _bracket(line: str, prefix: str) -> str | None:
    """The text inside ``prefix[...]`` of a reply line, or None when the line is something else."""
    if line.startswith(prefix + "[") and line.endswith("]"):
        return line[len(prefix) + 1:-1]
    return None


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in re.split(r"[,\s]+", text.strip()) if x)
    except ValueError:
        raise DeviceError(f"malformed {what} from the device: {text!r}",
                          hint="firmware and host disagree on docs/protocol.md") from None


def parse_info(lines: list[str]) -> DeviceInfo:
    """Parse the ``ek-info%`` reply lines."""
    kw: dict[str, object] = {"raw": tuple(lines)}
    for line in lines:
        if (v := _bracket(line, "m-ek-runtime-")) is not None:
            kw["runtime"] = v
        elif (v := _bracket(line, "m-ek-model-")) is not None:
            name, _, sha = v.rpartition(" ")
            kw["model"], kw["model_sha256_16"] = (name, sha) if name else (v, "")
        elif (v := _bracket(line, "m-ek-arena-")) is not None:
            nums = _ints(v, "arena line")
            kw["arena_used"] = nums[0] if nums else None
            kw["arena_reserved"] = nums[1] if len(nums) > 1 else None
        elif (v := _bracket(line, "m-ek-inputs-")) is not None:
            kw["input_bytes"] = _ints(v, "inputs line")
        elif (v := _bracket(line, "m-ek-outputs-")) is not None:
            kw["output_bytes"] = _ints(v, "outputs line")
        elif (v := _bracket(line, "m-ek-timer-")) is not None:
            kind, _, hz = v.partition(" ")
            kw["timer_kind"] = kind
            kw["timer_hz"] = _ints(hz, "timer line")[0] if hz.strip() else None
        elif (v := _bracket(line, "m-ek-line-max-")) is not None:
            kw["line_max"] = _ints(v, "line-max line")[0]
        elif (v := _bracket(line, "m-ek-clock-")) is not None:
            hz, _, state = v.partition(" ")
            kw["core_hz"] = _ints(hz, "clock line")[0] if hz.strip() else None
            kw["clock_state"] = state.strip()
        elif (v := _bracket(line, "m-ek-board-")) is not None:
            kw["board"] = v
    return DeviceInfo(**kw)  # type: ignore[arg-type]


class Device:
    """Typed protocol commands on top of a synchronised :class:`Link`.

    Args:
        link: an open link.
        infer_timeout: seconds allowed for one ``infer`` command (all its warm-up and timed runs).
    """

    def __init__(self, link: Link, *, infer_timeout: float = 120.0) -> None:
        self.link = link
        self.infer_timeout = infer_timeout
        self._info: DeviceInfo | None = None

    def name(self) -> str:
        for line in self.link.send_command("name%"):
            if (v := _bracket(line, "m-name-dut-")) is not None:
                return v
        raise DeviceError("the device did not state its name in reply to 'name%'",
                          hint=f"full log: {self.link.log_path}")

    def info(self) -> DeviceInfo:
        """``ek-info%`` (cached); DeviceError when the firmware is not edgekit firmware."""
        if self._info is None:
            lines = self.link.send_command("ek-info%")
            info = parse_info(lines)
            if not info.input_bytes or not info.output_bytes:
                raise DeviceError(f"'ek-info%' reply lacks the input/output sizes: {lines!r}",
                                  hint="is this edgekit firmware? see docs/protocol.md")
            self._info = info
        return self._info

    def upload(self, data: bytes, *, mode: str = "auto") -> str:
        """Load one input into the device; returns the method used (``ek-bin`` or ``hex``).

        ``mode``: ``auto`` (binary, falling back to hex when the device rejects ``ek-bin``), ``bin``, ``hex``.
        """
        if not data:
            raise DeviceError("refusing to upload an empty input", hint="the model's input has 0 bytes?")
        if mode in ("auto", "bin"):
            try:
                self._upload_bin(data)
                return "ek-bin"
            except DeviceError as exc:
                if mode == "bin" or "unknown command" not in str(exc).lower():
                    raise
        self._upload_hex(data)
        return "hex"

    def _upload_bin(self, data: bytes) -> None:
        n = len(data)
        link = self.link
        link.write(f"ek-bin {n}%")
        while True:  # an error reply ends with m-ready; success announces the raw transfer
            line = link.read_line(waiting_for=f"'m-ek-bin-ready-{n}' after 'ek-bin {n}%'").strip()
            if line == f"m-ek-bin-ready-{n}":
                break
            if line.startswith("e-["):
                link.read_reply(f"ek-bin {n}%")
                raise DeviceError(f"device rejected 'ek-bin {n}%': {line[3:-1]}", hint=f"full log: {link.log_path}")
        link.write(data)
        timeout = link.timeout + n / 20_000.0  # QEMU takes ~35 k chars/s; a real UART at 115200 ~11.5 k
        lines = link.read_reply(f"ek-bin {n}% (+{n} raw bytes)", timeout=timeout)
        if "m-load-done" not in lines:
            raise DeviceError(f"'ek-bin {n}%' ended without 'm-load-done': {lines!r}",
                              hint=f"full log: {link.log_path}")

    def _upload_hex(self, data: bytes) -> None:
        line_max = self._info.line_max if self._info else DEFAULT_LINE_MAX
        per_cmd = max(1, (line_max - 8) // 2)  # bytes per 'db <hex>%' command, kept under the line buffer
        self.link.send_command(f"db load {len(data)}%")
        done = False
        for i in range(0, len(data), per_cmd):
            lines = self.link.send_command(f"db {data[i:i + per_cmd].hex()}%")
            done = "m-load-done" in lines
        if not done:
            raise DeviceError(f"'db' upload of {len(data)} bytes ended without 'm-load-done'",
                              hint=f"full log: {self.link.log_path}")

    def infer(self, runs: int = 1, warmup: int = 0, *, timeout: float | None = None) -> InferReply:
        """``infer N W%``: W warm-up then N timed inferences on the loaded input."""
        lines = self.link.send_command(f"infer {runs} {warmup}%", timeout=timeout or self.infer_timeout)
        laps: list[int] = []
        results: tuple[float, ...] = ()
        for line in lines:
            if line.startswith("m-lap-us-"):
                laps.extend(_ints(line[len("m-lap-us-"):], "lap line"))
            elif (v := _bracket(line, "m-results-")) is not None:
                try:
                    results = tuple(float(x) for x in v.split(",") if x.strip())
                except ValueError:
                    results = ()
        if "m-infer-done" not in lines:
            raise DeviceError(f"'infer {runs} {warmup}%' ended without 'm-infer-done': {lines[-3:]!r}",
                              hint=f"full log: {self.link.log_path}")
        return InferReply(runs, warmup, tuple(laps), results)

    def laps(self) -> list[int]:
        """``ek-laps%``: timer ticks of each timed inference of the last ``infer``."""
        ticks: list[int] = []
        for line in self.link.send_command("ek-laps%"):
            if (v := _bracket(line, "m-ek-laps-")) is not None:
                ticks.extend(_ints(v, "laps line"))
        return ticks

    def stack(self) -> tuple[int, int]:
        """``ek-stack%``: (bytes used, bytes reserved) of the stack."""
        for line in self.link.send_command("ek-stack%"):
            if (v := _bracket(line, "m-ek-stack-")) is not None:
                nums = _ints(v, "stack line")
                if len(nums) == 2:
                    return nums[0], nums[1]
        raise DeviceError("'ek-stack%' gave no 'm-ek-stack-[used reserved]' line",
                          hint=f"full log: {self.link.log_path}")

    def canary(self) -> str:
        """``ek-canary%``: ``ok`` or ``corrupt <where>``."""
        for line in self.link.send_command("ek-canary%"):
            if (v := _bracket(line, "m-ek-canary-")) is not None:
                return v
        raise DeviceError("'ek-canary%' gave no answer line", hint=f"full log: {self.link.log_path}")

    def output(self, index: int = 0) -> bytes:
        """``ek-out I%``: the raw bytes of output tensor I of the last inference."""
        prefix = f"m-ek-out-{index}-"
        chunks: list[str] = []
        ended = False
        for line in self.link.send_command(f"ek-out {index}%"):
            if line == prefix + "end":
                ended = True
            elif (v := _bracket(line, prefix)) is not None:
                chunks.append(v)
        try:
            data = bytes.fromhex("".join(chunks))
        except ValueError:
            raise DeviceError(f"malformed hex in the reply to 'ek-out {index}%'",
                              hint=f"full log: {self.link.log_path}") from None
        if not ended and not chunks:
            raise DeviceError(f"'ek-out {index}%' gave no output lines", hint=f"full log: {self.link.log_path}")
        info = self._info
        if info and index < len(info.output_bytes) and len(data) != info.output_bytes[index]:
            raise DeviceError(f"'ek-out {index}%' returned {len(data)} bytes, ek-info announced "
                              f"{info.output_bytes[index]}", hint=f"full log: {self.link.log_path}")
        return data

    def exit(self, code: int = 0) -> None:
        """``ek-exit C%`` (semihosting builds only): the emulator exits with ``code``; no reply is awaited."""
        self.link.write(f"ek-exit {code}%")
