"""Tests for the Jacobson/Karels latency estimator and the backoff helper (RFC 6298)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.timeouts import Backoff, LatencyEstimator

samples = st.floats(min_value=0.0, max_value=100.0, allow_nan=False, allow_infinity=False)
bounds = st.tuples(
    st.floats(min_value=1e-3, max_value=10.0), st.floats(min_value=1e-3, max_value=10.0)
).map(sorted)


def test_timeout_before_any_sample_is_the_initial_timeout() -> None:
    estimator = LatencyEstimator(initial_s=1.5, min_s=0.1, max_s=10.0)
    assert estimator.timeout_s() == 1.5
    assert estimator.srtt_s is None
    assert estimator.samples == 0


def test_initial_timeout_is_clamped_to_the_bounds() -> None:
    assert LatencyEstimator(initial_s=50.0, min_s=0.1, max_s=10.0).timeout_s() == 10.0
    assert LatencyEstimator(initial_s=0.01, min_s=0.1, max_s=10.0).timeout_s() == 0.1


def test_first_sample_sets_mean_to_it_and_deviation_to_half_of_it() -> None:
    """RFC 6298 §2.2: SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + 4 RTTVAR = 3R."""
    estimator = LatencyEstimator(initial_s=1.0, min_s=0.01, max_s=100.0)
    estimator.observe(0.2)
    assert estimator.srtt_s == pytest.approx(0.2)
    assert estimator.rttvar_s == pytest.approx(0.1)
    assert estimator.timeout_s() == pytest.approx(0.6)


def test_later_samples_update_deviation_with_the_previous_mean() -> None:
    """RFC 6298 §2.3: RTTVAR uses the SRTT from before the sample."""
    estimator = LatencyEstimator(initial_s=1.0, min_s=0.01, max_s=100.0)
    estimator.observe(0.2)
    estimator.observe(0.6)
    expected_rttvar = 0.75 * 0.1 + 0.25 * abs(0.2 - 0.6)
    expected_srtt = 0.875 * 0.2 + 0.125 * 0.6
    assert estimator.rttvar_s == pytest.approx(expected_rttvar)
    assert estimator.srtt_s == pytest.approx(expected_srtt)
    assert estimator.timeout_s() == pytest.approx(expected_srtt + 4 * expected_rttvar)


def test_negative_sample_from_a_stepped_back_clock_counts_as_zero() -> None:
    estimator = LatencyEstimator(initial_s=1.0, min_s=0.01, max_s=100.0)
    estimator.observe(-0.5)
    assert estimator.srtt_s == 0.0
    assert estimator.timeout_s() == 0.01


@pytest.mark.parametrize("sample", [math.nan, math.inf, -math.inf])
def test_non_finite_sample_is_refused(sample: float) -> None:
    estimator = LatencyEstimator(initial_s=1.0, min_s=0.01, max_s=100.0)
    with pytest.raises(ValueError, match="sample_s must be a finite number"):
        estimator.observe(sample)
    assert estimator.samples == 0


@pytest.mark.parametrize(
    ("initial_s", "min_s", "max_s", "message"),
    [
        (1.0, 0.0, 1.0, "need 0 < min_s"),
        (1.0, 2.0, 1.0, "need 0 < min_s"),
        (0.0, 0.1, 1.0, "initial_s must be > 0"),
        (math.nan, 0.1, 1.0, "initial_s must be a finite number"),
        (1.0, 0.1, math.inf, "max_s must be a finite number"),
    ],
)
def test_estimator_rejects_inconsistent_bounds(
    initial_s: float, min_s: float, max_s: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LatencyEstimator(initial_s=initial_s, min_s=min_s, max_s=max_s)


@given(
    initial_s=st.floats(min_value=1e-6, max_value=1e3),
    limits=bounds,
    observed=st.lists(samples, max_size=50),
)
def test_timeout_is_always_within_bounds(
    initial_s: float, limits: list[float], observed: list[float]
) -> None:
    min_s, max_s = limits
    estimator = LatencyEstimator(initial_s=initial_s, min_s=min_s, max_s=max_s)
    assert min_s <= estimator.timeout_s() <= max_s
    for sample in observed:
        estimator.observe(sample)
        assert min_s <= estimator.timeout_s() <= max_s


@given(sample=st.floats(min_value=1e-3, max_value=10.0), noise=st.lists(samples, max_size=20))
def test_converges_on_constant_samples(sample: float, noise: list[float]) -> None:
    """Whatever came before, a long run of one latency drives SRTT to it and RTTVAR to 0."""
    estimator = LatencyEstimator(initial_s=1.0, min_s=1e-6, max_s=1e3)
    for value in noise:
        estimator.observe(value)
    for _ in range(400):
        estimator.observe(sample)
    assert estimator.srtt_s == pytest.approx(sample, rel=1e-6, abs=1e-9)
    assert estimator.rttvar_s == pytest.approx(0.0, abs=1e-6 * max(1.0, *noise, sample))
    assert estimator.timeout_s() == pytest.approx(sample, rel=1e-5, abs=1e-5)


@given(
    mean=st.floats(min_value=0.01, max_value=1.0),
    spread=st.floats(min_value=0.01, max_value=1.0),
)
def test_timeout_grows_when_variance_grows(mean: float, spread: float) -> None:
    """Same mean latency, more jitter: a longer timeout (the 4 * RTTVAR term)."""
    steady = LatencyEstimator(initial_s=1.0, min_s=1e-6, max_s=1e3)
    jittery = LatencyEstimator(initial_s=1.0, min_s=1e-6, max_s=1e3)
    for i in range(200):
        steady.observe(mean)
        jittery.observe(mean + spread if i % 2 else mean - spread / 2)
    assert jittery.rttvar_s > steady.rttvar_s
    assert jittery.timeout_s() > steady.timeout_s()


def test_backoff_doubles_on_each_failure_and_resets() -> None:
    backoff = Backoff()
    assert backoff.apply(0.5) == 0.5
    backoff.record_failure()
    assert backoff.apply(0.5) == 1.0
    backoff.record_failure()
    assert backoff.apply(0.5) == 2.0
    assert backoff.failures == 2
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.apply(0.5) == 0.5


def test_backoff_is_capped_but_never_below_the_base() -> None:
    backoff = Backoff()
    for _ in range(10):
        backoff.record_failure()
    assert backoff.apply(1.0, cap_s=30.0) == 30.0
    assert backoff.apply(40.0, cap_s=30.0) == 40.0


def test_backoff_exponent_stops_growing_at_its_limit() -> None:
    backoff = Backoff(max_exponent=3)
    for _ in range(10_000):
        backoff.record_failure()
    assert backoff.multiplier() == 8.0
    assert backoff.apply(1.0) == 8.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"factor": 0.5}, "factor must be >= 1"), ({"max_exponent": -1}, "max_exponent")],
)
def test_backoff_rejects_bad_parameters(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)  # type: ignore[arg-type]  # mixed float/int kwargs in one table


def test_backoff_refuses_a_non_positive_base() -> None:
    with pytest.raises(ValueError, match="base_s must be > 0"):
        Backoff().apply(0.0)
