"""Adaptive timeouts: a retransmission-timer estimate from observed latencies, and backoff.

Timeouts are the only failure detector PBFT has (OSDI '99 §4.5 assumes only that delay does
not grow faster than the timeout forever). A fixed timeout is either too short on a slow
network (needless retransmissions and view changes) or too long on a fast one (slow failover).
:class:`LatencyEstimator` follows TCP's retransmission timer (Jacobson/Karels, as specified by
RFC 6298 §2): a smoothed mean SRTT and a smoothed mean deviation RTTVAR of the samples, and a
timeout of SRTT + 4 * RTTVAR, clamped to the configured bounds. :class:`Backoff` doubles a
timeout on each consecutive failure (RFC 6298 §5.5) until a success resets it.

Both are plain values with no clock: callers pass samples they measured on their own clock.
"""

from __future__ import annotations

import math

ALPHA = 1 / 8  # RFC 6298 §2.3 gain of the smoothed latency
BETA = 1 / 4  # RFC 6298 §2.3 gain of the smoothed deviation
K = 4  # RFC 6298 §2.2: timeout = SRTT + K * RTTVAR


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


class LatencyEstimator:
    """Jacobson/Karels estimate of a timeout from latency samples (RFC 6298 §2).

    The first sample R sets SRTT = R and RTTVAR = R / 2; each later sample R' updates
    RTTVAR = (1 - BETA) * RTTVAR + BETA * |SRTT - R'| and then SRTT = (1 - ALPHA) * SRTT +
    ALPHA * R'. The timeout is SRTT + 4 * RTTVAR clamped to [min_s, max_s]; before any sample
    it is ``initial_s`` clamped the same way. RFC 6298 also adds the clock granularity G to
    the deviation term; our clocks are floats, so G is 0 and ``min_s`` plays its role.
    """

    def __init__(self, initial_s: float, min_s: float, max_s: float) -> None:
        for name, value in (("initial_s", initial_s), ("min_s", min_s), ("max_s", max_s)):
            _require_finite(name, value)
        if not 0 < min_s <= max_s:
            raise ValueError(f"need 0 < min_s ({min_s}) <= max_s ({max_s})")
        if initial_s <= 0:
            raise ValueError(f"initial_s must be > 0, got {initial_s}")
        self._initial_s = initial_s
        self._min_s = min_s
        self._max_s = max_s
        self._srtt_s: float | None = None
        self._rttvar_s = 0.0
        self._samples = 0

    @property
    def samples(self) -> int:
        """How many samples have been observed."""
        return self._samples

    @property
    def srtt_s(self) -> float | None:
        """The smoothed latency, or None before the first sample."""
        return self._srtt_s

    @property
    def rttvar_s(self) -> float:
        """The smoothed mean deviation of the latency (0 before the first sample)."""
        return self._rttvar_s

    def observe(self, sample_s: float) -> None:
        """Fold one latency sample into the estimate.

        A negative sample can only come from a clock stepped backwards between the two
        readings; it is taken as 0 rather than refused, since the reading still says the
        answer came back quickly. A non-finite sample is a caller bug and raises ValueError.
        """
        _require_finite("sample_s", sample_s)
        sample_s = max(sample_s, 0.0)
        if self._srtt_s is None:
            self._srtt_s = sample_s
            self._rttvar_s = sample_s / 2
        else:
            # RTTVAR is updated with the SRTT from before this sample (RFC 6298 §2.3).
            self._rttvar_s = (1 - BETA) * self._rttvar_s + BETA * abs(self._srtt_s - sample_s)
            self._srtt_s = (1 - ALPHA) * self._srtt_s + ALPHA * sample_s
        self._samples += 1

    def timeout_s(self) -> float:
        """SRTT + 4 * RTTVAR (or the initial timeout before any sample), within the bounds."""
        raw_s = self._initial_s if self._srtt_s is None else self._srtt_s + K * self._rttvar_s
        return min(max(raw_s, self._min_s), self._max_s)


class Backoff:
    """Exponential backoff over consecutive failures (RFC 6298 §5.5), resettable on success.

    After k consecutive failures a base timeout is multiplied by ``factor ** k``; the exponent
    stops growing at ``max_exponent`` so a long outage cannot overflow the timer, and
    :meth:`apply` can further cap the result.
    """

    def __init__(self, *, factor: float = 2.0, max_exponent: int = 16) -> None:
        _require_finite("factor", factor)
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        if max_exponent < 0:
            raise ValueError(f"max_exponent must be >= 0, got {max_exponent}")
        self._factor = factor
        self._max_exponent = max_exponent
        self._failures = 0

    @property
    def failures(self) -> int:
        """Consecutive failures since the last reset."""
        return self._failures

    def record_failure(self) -> None:
        """One more consecutive failure: the next timeout is ``factor`` times longer."""
        self._failures += 1

    def reset(self) -> None:
        """A success: the next timeout is the base timeout again."""
        self._failures = 0

    def multiplier(self) -> float:
        """``factor ** min(failures, max_exponent)``."""
        return float(self._factor ** min(self._failures, self._max_exponent))

    def apply(self, base_s: float, *, cap_s: float = math.inf) -> float:
        """The backed-off timeout for ``base_s``, at most ``cap_s`` (never below ``base_s``)."""
        _require_finite("base_s", base_s)
        if base_s <= 0:
            raise ValueError(f"base_s must be > 0, got {base_s}")
        return min(base_s * self.multiplier(), max(cap_s, base_s))
