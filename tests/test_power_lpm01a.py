"""LPM01A details checked against the PowerShield firmware's own command help (edgekit/power/lpm01a.py docstring):
sampling rates that can stream without a time limit in ascii_dec, and firmware without the event input."""

from __future__ import annotations

import pytest
from fake_meters import FakeLpm01a

from edgekit.errors import DeviceError
from edgekit.power.lpm01a import BAUD, RATES, Lpm01a


def test_rates_are_the_firmwares_unlimited_ascii_rates() -> None:
    # help: freq in {100k, 50k, 20k, 10k, 5k, 2k, 1k, 500, 200, 100, 50, 20, 10, 5, 2, 1}; ascii_dec unlimited <= 5k
    assert list(RATES) == ["5k", "2k", "1k", "500", "200", "100", "50", "20", "10", "5", "2", "1"]
    assert all(RATES[k] == float(k.replace("k", "000")) for k in RATES)
    assert BAUD == 3_686_400


@pytest.mark.parametrize(("freq", "says"), [("10k", "cannot stream without a time limit"),
                                            ("20k", "cannot stream without a time limit"),
                                            ("3k", "is not a PowerShield sampling rate")])
def test_rates_the_capture_cannot_use_are_refused(freq: str, says: str) -> None:
    with pytest.raises(DeviceError, match=says) as err:
        Lpm01a("/dev/null", supply_v=3.0, freq=freq)
    assert "5k" in (err.value.hint or str(err.value))


def test_firmware_without_event_input_is_named() -> None:
    with FakeLpm01a([], [], reject="eventsrc d7 fal") as fake, \
            pytest.raises(DeviceError, match=r"rejected 'eventsrc d7 fal'.*no event input") as err:
        Lpm01a(fake.port, supply_v=3.0).open()
    assert "firmware" in (err.value.hint or "")


def test_a_slower_rate_is_sent_as_the_firmware_spells_it() -> None:
    with FakeLpm01a([], []) as fake, Lpm01a(fake.port, supply_v=1.8, freq="200"):
        pass
    assert "freq 200" in fake.lines and "volt 1800m" in fake.lines
