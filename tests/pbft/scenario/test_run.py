"""Judging runs against [expect]; real simulated runs of small scenarios."""

from __future__ import annotations

import tomllib

import attrs
import pytest

from pbft.scenario.checkers import JudgeError
from pbft.scenario.loader import scenario_from_dict
from pbft.scenario.model import Scenario
from pbft.scenario.run import expected_requests, judge_trace, run_scenario, stable_from_s
from pbft.trace import records as tr

from .test_loader import FULL
from .traces import OP_GET, honest_trace, kv_results, with_results


def hand(requests: int = 2, **expect: object) -> Scenario:
    """The scenario the hand-built trace follows: one client, ``requests`` requests."""
    return scenario_from_dict(
        {"name": "hand", "workload": {"clients": 1, "requests": requests}, "expect": expect}
    )


def test_an_honest_trace_passes_its_scenario() -> None:
    result = judge_trace(honest_trace(), hand())
    assert result.passed
    assert result.safety_ok
    assert (result.liveness.completed, result.liveness.expected) == (2, 2)
    assert result.committed == 2
    assert result.end_reason == "all-completed"
    assert len(result.trace_sha256) == 64


def test_a_run_fails_when_the_workload_expected_more_requests() -> None:
    result = judge_trace(honest_trace(), hand(3))
    assert not result.passed
    assert [e.name for e in result.expectations if not e.met] == ["liveness"]


def test_safety_false_is_met_only_by_a_violation() -> None:
    expect_violation = hand(safety=False)
    assert not judge_trace(honest_trace(), expect_violation).passed
    trace = honest_trace()
    trace.insert(-1, tr.LogSize(t=0.65, replica=2, slots=99, window=32))
    result = judge_trace(trace, expect_violation)
    assert result.passed
    assert not result.safety_ok
    safety = next(e for e in result.expectations if e.name == "safety")
    assert safety.observed == "violated: bounded_log"


def test_liveness_false_is_met_only_by_a_stall() -> None:
    expect_stall = hand(liveness=False)
    assert not judge_trace(honest_trace(), expect_stall).passed
    stalled = [r for r in honest_trace() if not isinstance(r, tr.Completed)]
    assert judge_trace(stalled, expect_stall).passed


def test_min_committed_and_max_view_are_checked() -> None:
    assert not judge_trace(honest_trace(), hand(min_committed=3)).passed
    assert judge_trace(honest_trace(), hand(min_committed=2)).passed
    trace = honest_trace()
    trace.insert(-1, tr.ViewEntered(t=0.65, replica=1, view=2))
    assert not judge_trace(trace, hand(max_view=1)).passed
    assert judge_trace(trace, hand(max_view=2)).passed


def test_a_trace_is_judged_without_a_scenario_on_what_was_submitted() -> None:
    result = judge_trace(honest_trace())
    assert result.passed
    assert result.scenario.name == "hand"
    assert result.liveness.expected == 2


def test_a_trace_with_two_runs_cannot_be_judged() -> None:
    trace = honest_trace() + honest_trace()
    with pytest.raises(JudgeError, match="exactly one RunStarted"):
        judge_trace(trace)


def test_expected_requests_name_the_workload_clients() -> None:
    s = scenario_from_dict({"name": "t", "workload": {"clients": 3, "requests": 4}})
    assert expected_requests(s) == {"c0": 4, "c1": 4, "c2": 4}


def test_stability_starts_after_gst_and_the_last_fault() -> None:
    s = scenario_from_dict(
        {
            "name": "t",
            "network": {"gst": "1s", "before_gst": {"loss": 0.5}},
            "faults": [{"at": "2s", "action": "pause", "replicas": [1], "duration": "500ms"}],
        }
    )
    assert stable_from_s(s) == 2.5


SMALL = {
    "name": "small",
    "cluster": {"f": 1, "checkpoint_interval": 4, "window": 8},
    "workload": {"clients": 1, "requests": 4},
    "expect": {"within": "10s", "min_committed": 4, "max_view": 0},
}


def test_a_small_simulated_run_passes_and_is_reproducible() -> None:
    s = scenario_from_dict(SMALL)
    first = run_scenario(s)
    again = run_scenario(s)
    assert first.passed, first.expectations
    assert first.committed == 4
    assert first.views == 0
    assert first.trace_sha256 == again.trace_sha256
    assert first.seed == s.seed
    assert run_scenario(s, seed=s.seed + 1).trace_sha256 != first.trace_sha256


def test_progress_reports_virtual_time_up_to_the_end() -> None:
    seen: list[float] = []
    result = run_scenario(scenario_from_dict(SMALL), on_progress=seen.append)
    assert seen
    assert seen == sorted(seen)
    assert seen[-1] <= result.virtual_time_s + 1e-9


def test_a_rejudged_trace_gets_the_same_verdicts() -> None:
    s = scenario_from_dict(SMALL)
    result = run_scenario(s)
    again = judge_trace(result.records, s)
    assert again.verdicts == result.verdicts
    assert again.trace_sha256 == result.trace_sha256


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_scenario_using_every_key_runs_and_meets_its_expectations(seed: int) -> None:
    # GST, one-way partition, clock skew, pause, slow links and a Byzantine replica at once:
    # the loader's values must be ones the simulator accepts.
    result = run_scenario(scenario_from_dict(tomllib.loads(FULL)), seed=seed)
    assert result.passed, result.expectations
    assert result.views >= 1


def test_a_trace_judged_without_its_scenario_reports_the_workload_it_shows() -> None:
    result = judge_trace(honest_trace())
    assert result.scenario.workload.clients == 1
    assert result.scenario.workload.requests == 2


def test_a_trace_judged_against_its_scenario_replays_the_log_on_the_scenario_service() -> None:
    # Replicas and client agree that the get found nothing, but the put before it stored k0:
    # only a replay on the scenario's kv service sees it. Without a scenario the service is
    # unknown, so the recorded results are all there is to compare with.
    (stale,) = kv_results(OP_GET)
    trace = with_results(honest_trace(), 2, stale)
    result = judge_trace(trace, hand())
    assert not result.verdicts["client_consistency"].ok
    assert "replaying the agreed log on a fresh kv service" in str(
        result.verdicts["client_consistency"].first
    )
    assert judge_trace(trace).verdicts["client_consistency"].ok


def test_a_trace_that_names_its_service_is_replayed_even_without_its_scenario() -> None:
    (stale,) = kv_results(OP_GET)
    trace = with_results(honest_trace(), 2, stale)
    start = trace[0]
    assert isinstance(start, tr.RunStarted)
    named = (attrs.evolve(start, app="kv"), *trace[1:])
    assert not judge_trace(named).verdicts["client_consistency"].ok


def test_simulated_traces_name_their_service() -> None:
    scenario = scenario_from_dict({"name": "svc", "cluster": {"app": "counter"}})
    start = run_scenario(scenario).records[0]
    assert isinstance(start, tr.RunStarted)
    assert start.app == "counter"
