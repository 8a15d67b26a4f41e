"""Node clocks: each simulated node reads its own clock, with an offset and a drift.

A clock is piecewise linear in real (virtual) time. Until the first change it reads real time
exactly. A change at real time ``t0`` (the ``clock_skew`` fault) sets the reading at ``t0`` to
``t0 + offset_s`` and its rate to ``1 + drift`` local seconds per real second from then on, so
a clock may jump forwards or backwards, as a clock stepped by NTP does. Timers are armed in
local time (``StartTimer.fires_at_s``); :meth:`NodeClock.real_for` says when, in real time,
the local clock reaches a reading, and callers re-compute armed timers after every change.
"""

from __future__ import annotations


class NodeClock:
    """One node's clock: ``local(t) = base_local + (t - base_real) * rate``."""

    __slots__ = ("base_local", "base_real", "drift", "offset_s", "rate")

    def __init__(self) -> None:
        self.base_real = 0.0
        self.base_local = 0.0
        self.rate = 1.0
        self.offset_s = 0.0
        self.drift = 0.0

    def local(self, real_s: float) -> float:
        """The clock's reading at real time ``real_s``."""
        return self.base_local + (real_s - self.base_real) * self.rate

    def real_for(self, local_s: float) -> float:
        """The real time at which the clock reads ``local_s`` (may lie in the past)."""
        return self.base_real + (local_s - self.base_local) / self.rate

    def set(self, *, real_s: float, offset_s: float, drift: float) -> None:
        """From real time ``real_s`` on, read ``real + offset_s`` there and run at 1 + drift."""
        if not drift > -1.0:
            raise ValueError(f"clock drift must be > -1 (a clock must move forwards), got {drift}")
        self.base_real = real_s
        self.base_local = real_s + offset_s
        self.rate = 1.0 + drift
        self.offset_s = offset_s
        self.drift = drift
