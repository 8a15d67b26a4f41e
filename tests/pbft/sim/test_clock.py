"""Node clocks: offset and drift, and the inverse used to schedule local-time timers."""

from __future__ import annotations

import pytest

from pbft.sim.clock import NodeClock


def test_a_fresh_clock_reads_real_time() -> None:
    clock = NodeClock()
    assert clock.local(12.5) == 12.5
    assert clock.real_for(12.5) == 12.5


def test_a_skew_sets_the_offset_at_that_moment_and_the_rate_after_it() -> None:
    clock = NodeClock()
    clock.set(real_s=10.0, offset_s=2.0, drift=0.5)
    assert clock.local(10.0) == 12.0
    assert clock.local(12.0) == pytest.approx(15.0)  # 1.5 local seconds per real second
    assert clock.real_for(15.0) == pytest.approx(12.0)


def test_a_negative_offset_steps_the_clock_back() -> None:
    clock = NodeClock()
    clock.set(real_s=5.0, offset_s=-1.0, drift=0.0)
    assert clock.local(5.0) == 4.0
    assert clock.real_for(4.5) == 5.5


def test_a_drift_that_stops_or_reverses_the_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="drift must be > -1"):
        NodeClock().set(real_s=0.0, offset_s=0.0, drift=-1.0)
