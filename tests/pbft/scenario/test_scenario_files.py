"""Each scenario file shows what its opening comment says it teaches.

tests/test_scenarios.py checks each file's own [expect]; these tests check the lesson: a
file that claims a view change, a state transfer or a stall must contain one, so a change of
the protocol or of the file cannot quietly turn a lesson into a run where nothing happens.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pbft.scenario.loader import load_scenario
from pbft.scenario.run import RunResult, run_scenario
from pbft.trace import records as tr

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


@cache
def run(name: str) -> RunResult:
    result = run_scenario(load_scenario(SCENARIOS / f"{name}.toml"))
    assert result.passed, [e for e in result.expectations if not e.met]
    return result


def executed(result: RunResult, replica: int | None = None) -> list[tr.Executed]:
    return [
        r
        for r in result.records
        if isinstance(r, tr.Executed) and (replica is None or r.replica == replica)
    ]


def test_quickstart_commits_everything_in_view_0_with_ed25519() -> None:
    result = run("quickstart")
    assert result.scenario.cluster.crypto == "ed25519"
    assert result.views == 0
    assert result.committed == 20


def test_normal_f1_batches_requests_and_collects_its_log_at_checkpoints() -> None:
    result = run("normal-f1")
    assert max(len(r.requests) for r in executed(result)) > 1
    assert any(isinstance(r, tr.CheckpointStabilized) for r in result.records)
    assert result.verdicts["bounded_log"].ok


def test_normal_f2_runs_seven_replicas() -> None:
    result = run("normal-f2")
    assert {r.replica for r in executed(result)} == set(range(7))


def test_primary_crash_changes_view() -> None:
    result = run("primary-crash")
    assert result.views >= 1
    crashed = next(r for r in result.records if isinstance(r, tr.Crashed))
    assert crashed.node == "r0"


def test_lossy_network_loses_and_duplicates_messages() -> None:
    result = run("lossy-network")
    assert any(isinstance(r, tr.Dropped) and r.reason == "loss" for r in result.records)
    assert any(isinstance(r, tr.Duplicated) for r in result.records)


def partition_window(result: RunResult) -> tuple[float, float]:
    changes = [r for r in result.records if isinstance(r, tr.NetworkChanged)]
    start = next(r.t for r in changes if r.action == "partition")
    heal = next(r.t for r in changes if r.action == "heal")
    return start, heal


def test_minority_partition_keeps_the_quorum_side_executing() -> None:
    result = run("minority-partition")
    start, heal = partition_window(result)
    during = {r.replica for r in executed(result) if start < r.t < heal}
    assert during == {0, 1, 2}


def test_no_quorum_partition_stalls_without_violation_and_recovers_after_the_heal() -> None:
    result = run("no-quorum-partition")
    start, heal = partition_window(result)
    # Messages in flight at the split may still land just after it.
    stalled = [r for r in executed(result) if start + 0.1 < r.t < heal]
    assert stalled == []
    assert [r for r in executed(result) if r.t > heal]
    assert result.safety_ok


def test_backup_crash_recovery_catches_up_by_state_transfer() -> None:
    result = run("backup-crash-recovery")
    interval = result.scenario.cluster.checkpoint_interval
    crashed = next(r.t for r in result.records if isinstance(r, tr.Crashed) and r.node == "r2")
    restarted = next(r.t for r in result.records if isinstance(r, tr.Restarted) and r.node == "r2")
    before = max((r.seq for r in executed(result, 2) if r.t < crashed), default=0)
    stable_elsewhere = max(
        r.seq
        for r in result.records
        if isinstance(r, tr.CheckpointStabilized) and r.replica != 2 and r.t < restarted
    )
    assert stable_elsewhere - before >= 2 * interval  # it missed two checkpoint intervals
    assert any(
        isinstance(r, tr.Sent) and r.kind == "StateSnapshot" and r.dst == "r2"
        for r in result.records
    )
    after = [r.seq for r in executed(result, 2) if r.t > restarted]
    assert after
    assert min(after) > stable_elsewhere - interval  # it skipped the collected log
    assert max(after) == max(r.seq for r in executed(result))  # and caught up


def test_primary_gc_pause_outlasts_the_view_change_timeout() -> None:
    result = run("primary-gc-pause")
    pause = next(r for r in result.records if isinstance(r, tr.Paused))
    assert pause.node == "r0"
    assert pause.duration_s > result.scenario.cluster.view_change_timeout_s
    assert result.views >= 1
    assert any(
        isinstance(r, tr.ViewEntered) and r.replica == 0 and r.view >= 1 for r in result.records
    )


def test_clock_skew_drift_skews_clocks_and_still_changes_view() -> None:
    result = run("clock-skew-drift")
    skewed = {r.node for r in result.records if isinstance(r, tr.ClockChanged)}
    assert skewed == {"r1", "r2"}
    assert result.views >= 1


def test_cascading_primary_failures_crash_two_primaries_in_turn() -> None:
    result = run("cascading-primary-failures")
    crashed = [r.node for r in result.records if isinstance(r, tr.Crashed)]
    assert crashed == ["r0", "r1"]
    assert result.scenario.cluster.f == 2
    assert result.views >= 2
