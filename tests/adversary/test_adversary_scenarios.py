"""The adversary's scenarios, run in the simulator: f faulty stay safe, f + 1 are caught.

tests/test_scenarios.py already checks each file's own [expect]; these tests check the story
each file tells: which check fails and where, that the attack really happened (Tampered
records), and what the correct replicas did about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import attrs
import pytest

from pbft.scenario.checkers import SAFETY_CHECKS
from pbft.scenario.loader import load_scenario
from pbft.scenario.model import ByzantineSpec, Scenario
from pbft.scenario.run import RunResult, judge_trace, run_scenario
from pbft.sim import simulate
from pbft.trace import records as tr

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@cache
def _run(name: str) -> RunResult:
    return run_scenario(load_scenario(SCENARIOS / name))


def _of(records: Sequence[tr.Record], kind: type[tr.Record]) -> list[tr.Record]:
    return [record for record in records if isinstance(record, kind)]


def _tampered(result: RunResult, how_prefix: str) -> list[tr.Tampered]:
    return [
        record
        for record in result.records
        if isinstance(record, tr.Tampered) and record.how.startswith(how_prefix)
    ]


def _correct_executions(result: RunResult) -> list[tr.Executed]:
    faulty = {int(name[1:]) for name in _faulty(result)}
    return [
        record
        for record in result.records
        if isinstance(record, tr.Executed) and record.replica not in faulty
    ]


def _faulty(result: RunResult) -> tuple[str, ...]:
    (started,) = [r for r in result.records if isinstance(r, tr.RunStarted)]
    return started.faulty


def test_one_equivocating_primary_cannot_split_the_correct_replicas() -> None:
    result = _run("equivocation-f1.toml")

    assert result.passed, result.expectations
    assert _tampered(result, "equivocate:")  # the primary really told two stories
    assert result.verdicts["agreement"].ok
    digests_at: dict[int, set[str]] = {}
    for execution in _correct_executions(result):
        digests_at.setdefault(execution.seq, set()).add(execution.digest)
    assert digests_at and all(len(digests) == 1 for digests in digests_at.values())
    # With commits withheld nothing commits in view 0: progress needs a view change (§4.4).
    assert result.views >= 1
    assert all(execution.view >= 1 for execution in _correct_executions(result))


def test_two_colluding_faulty_replicas_make_correct_ones_commit_different_batches() -> None:
    result = _run("violations/equivocation-too-many-faulty.toml")

    assert result.passed, result.expectations  # the file expects safety = false
    verdict = result.verdicts["agreement"]
    assert not verdict.ok
    first = verdict.first
    assert first is not None
    assert first.seq is not None
    assert set(first.replicas) <= {2, 3}
    assert _tampered(result, "collude:")


def test_one_liar_cannot_make_a_client_accept_a_forged_result() -> None:
    result = _run("lying-replicas-f1.toml")

    assert result.passed, result.expectations
    assert _tampered(result, "lie")
    assert result.verdicts["client_consistency"].ok
    completed = [r for r in result.records if isinstance(r, tr.Completed)]
    assert completed
    assert all(bytes.fromhex(record.result) != b"forged" for record in completed)


def test_two_liars_telling_the_same_lie_are_caught_by_client_consistency() -> None:
    result = _run("violations/lying-too-many-replicas.toml")

    assert result.passed, result.expectations  # the file expects safety = false
    assert not result.verdicts["client_consistency"].ok
    assert result.verdicts["agreement"].ok  # the replicas agree; only the client was fooled
    completed = [r for r in result.records if isinstance(r, tr.Completed)]
    assert any(bytes.fromhex(record.result) == b"forged" for record in completed)


def test_garbled_messages_are_rejected_and_counted_by_correct_replicas() -> None:
    result = _run("mutating-replica-f1.toml")

    assert result.passed, result.expectations
    assert _tampered(result, "mutate:")
    rejected = [
        record
        for record in result.records
        if isinstance(record, tr.Rejected) and record.sender == "r3" and record.node != "r3"
    ]
    assert rejected
    assert len({record.reason for record in rejected}) >= 3, sorted(
        {record.reason for record in rejected}
    )


def test_replayed_messages_never_make_a_request_run_twice() -> None:
    result = _run("replaying-replica-f1.toml")

    assert result.passed, result.expectations
    assert _tampered(result, "replay")
    assert result.verdicts["integrity"].ok
    assert result.verdicts["agreement"].ok


ALL_FILES = (
    "equivocation-f1.toml",
    "lying-replicas-f1.toml",
    "mutating-replica-f1.toml",
    "replaying-replica-f1.toml",
    "violations/equivocation-too-many-faulty.toml",
    "violations/lying-too-many-replicas.toml",
)


@pytest.mark.parametrize("name", ALL_FILES)
def test_each_scenario_meets_its_expectation_whatever_the_seed(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    for seed in range(1, 9):
        result = run_scenario(scenario, seed=seed)
        assert result.passed, (seed, [e for e in result.expectations if not e.met])


def _with_byzantine(name: str, *specs: ByzantineSpec) -> Scenario:
    scenario = load_scenario(SCENARIOS / name)
    two_clients = attrs.evolve(scenario.workload, clients=2, requests=4)
    return attrs.evolve(scenario, byzantine=specs, workload=two_clients)


@pytest.mark.parametrize("split", [[[3]], [[1]], [[2, 3]], [[1], [2], [3]]])
@pytest.mark.parametrize("alternative", ["null", "reverse", "subset", "stale"])
@pytest.mark.parametrize("withhold_commits", [False, True])
def test_no_equivocation_strategy_of_one_faulty_primary_breaks_safety(
    split: list[list[int]], alternative: str, withhold_commits: bool
) -> None:
    params = {"split": split, "alternative": alternative, "withhold_commits": withhold_commits}
    scenario = _with_byzantine(
        "equivocation-f1.toml", ByzantineSpec(replica=0, behavior="equivocate", params=params)
    )

    result = run_scenario(scenario)

    assert _tampered(result, "equivocate:")
    failed = {name: v.first for name, v in result.verdicts.items() if not v.ok}
    assert all(result.verdicts[name].ok for name in SAFETY_CHECKS), failed
    assert result.verdicts["liveness"].ok


@pytest.mark.parametrize("backup_behavior", ["collude", "equivocate"])
def test_either_colluder_form_lets_two_faulty_replicas_break_agreement(
    backup_behavior: str,
) -> None:
    scenario = _with_byzantine(
        "violations/equivocation-too-many-faulty.toml",
        ByzantineSpec(replica=0, behavior="equivocate", params={"split": [[3]]}),
        ByzantineSpec(replica=1, behavior=backup_behavior),
    )

    result = run_scenario(scenario)

    assert not result.verdicts["agreement"].ok


@pytest.mark.parametrize("name", ALL_FILES)
def test_forged_and_garbled_messages_survive_the_wire_codec(name: str) -> None:
    """With wire=True every delivered envelope is encoded and decoded: forgeries stay legal."""
    scenario = load_scenario(SCENARIOS / name)
    run = simulate(scenario, wire=True)
    assert judge_trace(run.records, scenario).passed
