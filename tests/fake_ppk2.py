"""A fake Nordic PPK2 on a pseudo-terminal that speaks the device's wire protocol.

The host opens ``fake.port`` (the PTY's slave side) with pyserial, as it would open /dev/ttyACM0. The fake
answers the raw command bytes a PPK2 takes (metadata ``0x19``, mode ``0x11 m``, regulator ``0x0D hi lo``, DUT power
``0x0C n``, start ``0x06``, stop ``0x07``) and, while sampling, streams 4-byte little-endian words: ADC value in
bits 0-13, range in 14-16, a 6-bit counter in 18-23, digital inputs D0-D7 in 24-31 -- the current encoded by
inverting the calibration it announced in its metadata. Written from the protocol description (ppk2-api, nRF
Connect), independently of edgekit's decoder.
"""

from __future__ import annotations

import math
import os
import select
import struct
import threading
import time
from dataclasses import dataclass, field

from fake_meters import PtyFake

ADC_MULT = 1.8 / 163840
FS = 100_000

# plausible calibration (shape of a real dump: Nordic DevZone case 92921)
CAL = {
    "R": [1008.1857, 102.3791, 10.4143, 0.9783, 0.0574],
    "GS": [0.0, 1.5, 0.8, 0.05, 0.001],
    "GI": [1.0, 0.9614, 0.9534, 0.9415, 0.9521],
    "O": [0.0, 2.0, 1.0, -3.0, 5.0],
    "S": [-9e-09, -6.4e-08, -5.12e-07, -4.891e-06, 0.002447326],
    "I": [4.4e-08, 3.64e-07, 6.1116e-05, -0.000254856, -0.007713722],
    "UG": [1.0, 1.0, 1.0, 1.0, 1.0],
}
_CMD_LEN = {0x0D: 3, 0x0C: 2, 0x11: 2, 0x25: 6, 0x03: 2, 0x01: 4}


def metadata_text(vdd_mv: int) -> str:
    lines = ["Calibrated: 0"]
    lines += [f"R{i}: {v:.4f}" for i, v in enumerate(CAL["R"])]
    lines += [f"GS{i}: {v:.4f}" for i, v in enumerate(CAL["GS"])]
    lines += [f"GI{i}: {v:.4f}" for i, v in enumerate(CAL["GI"])]
    lines += [f"O{i}: {v:.4f}" for i, v in enumerate(CAL["O"])]
    lines += [f"VDD: {vdd_mv}", "HW: 54350", "mode: 2"]
    lines += [f"S{i}: {v:.9f}" for i, v in enumerate(CAL["S"])]
    lines += [f"I{i}: {v:.9f}" for i, v in enumerate(CAL["I"])]
    lines += [f"UG{i}: {v:.2f}" for i, v in enumerate(CAL["UG"])]
    lines += ["IA: 58", "END"]
    return "\n".join(lines) + "\n"


def _range_for(amps: float) -> int:
    for r, res in enumerate(CAL["R"]):
        if amps * res < 0.6:  # stay well inside the 14-bit ADC's span in that range
            return r
    return 4


def forward(adc: int, r: int, vdd_mv: int) -> float:
    """Current (A) a PPK2 host computes for an ADC value in range r."""
    x = (adc * 4 - CAL["O"][r]) * ADC_MULT / CAL["R"][r]
    return CAL["UG"][r] * (x * (CAL["GS"][r] * x + CAL["GI"][r]) + CAL["S"][r] * vdd_mv / 1000 + CAL["I"][r])


def encode(amps: float, vdd_mv: int) -> tuple[int, int]:
    """(adc, range) whose calibrated current is nearest ``amps``."""
    r = _range_for(amps)
    target = amps / CAL["UG"][r] - CAL["S"][r] * vdd_mv / 1000 - CAL["I"][r]
    gs, gi = CAL["GS"][r], CAL["GI"][r]
    x = target / gi if gs == 0 else (-gi + math.sqrt(gi * gi + 4 * gs * target)) / (2 * gs)
    adc = round((x * CAL["R"][r] / ADC_MULT + CAL["O"][r]) / 4)
    return max(0, min(adc, 0x3FFF)), r


@dataclass
class Segment:
    """``samples`` samples of ``amps`` with digital inputs ``bits``."""

    samples: int
    amps: float
    bits: int = 0


@dataclass
class Scenario:
    segments: list[Segment]
    idle_amps: float = 1e-3  # streamed after the scenario until the host stops sampling
    segments_sent: threading.Event = field(default_factory=threading.Event)


class FakePpk2(PtyFake):
    def __init__(self, scenario: Scenario, vdd_mv: int = 3300) -> None:
        super().__init__()
        self.scenario = scenario
        self.vdd_mv = vdd_mv
        self.commands: list[bytes] = []
        self.mode = 0
        self.dut_on = False
        self.sampling = False
        self._counter = 0

    def _send(self, data: bytes) -> None:
        self.send(data)

    def quantized(self, amps: float) -> float:
        adc, r = encode(amps, self.vdd_mv)
        return forward(adc, r, self.vdd_mv)

    def _word(self, amps: float, bits: int) -> bytes:
        adc, r = encode(amps, self.vdd_mv)
        w = adc | (r << 14) | ((self._counter & 0x3F) << 18) | ((bits & 0xFF) << 24)
        self._counter += 1
        return struct.pack("<I", w)

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.005)
            if ready:
                try:
                    pending += os.read(self.master, 1024)
                except OSError:
                    return
                pending = self._commands(pending)
            if self.sampling:  # idle samples until the host stops sampling
                self._send(b"".join(self._word(self.scenario.idle_amps, 0) for _ in range(200)))
                time.sleep(0.002)

    def _commands(self, pending: bytes) -> bytes:
        while pending:
            n = _CMD_LEN.get(pending[0], 1)
            if len(pending) < n:
                break
            cmd, pending = pending[:n], pending[n:]
            self.commands.append(cmd)
            op = cmd[0]
            if op == 0x19:
                self._send(metadata_text(self.vdd_mv).encode())
            elif op == 0x11:
                self.mode = cmd[1]
            elif op == 0x0D:
                self.vdd_mv = (cmd[1] << 8) | cmd[2]
            elif op == 0x0C:
                self.dut_on = bool(cmd[1])
            elif op == 0x06:
                self.sampling = True
                # the scripted samples go out before any later command is looked at: a stop that arrives in
                # the same read as the start cannot cut the scenario short
                self._send(b"".join(self._word(s.amps, s.bits) for s in self.scenario.segments
                                    for _ in range(s.samples)))
                self.scenario.segments_sent.set()
            elif op == 0x07:
                self.sampling = False
        return pending
