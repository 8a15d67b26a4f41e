"""Validity, integrity and a bounded log, each seen failing in a real run with a seeded bug.

A checker is trusted only once it has caught, in a real run, the violation it exists for.
Agreement, client consistency and liveness are broken by faults beyond f
(test_checkers_in_runs.py). These three are not: honest replicas verify client signatures,
execute each request once and collect garbage (OSDI '99 §4.1-§4.3), so no Byzantine replica
can break them within PBFT's assumptions. The replay of the agreed log (client consistency)
and the checkpoint-state comparison (agreement) catch what the replicas' own records cannot
show, when every correct replica shares one bug; they get a seeded bug too. Each proof
therefore seeds one bug
(tests/pbft/scenario/seeded_bugs.py) into the otherwise real simulator, cores and adversary,
and shows the checker reporting it; its twin runs the same scenario and the same adversary
without the bug and stays clean, so the violation is the bug's and not the scenario's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

import crypto
from pbft.ids import Seq, View
from pbft.messages import signing_bytes
from pbft.replica import Replica, reasons
from pbft.replica.checkpoints import CachedReply
from pbft.replica.log import Log
from pbft.scenario.loader import load_scenario, scenario_from_dict
from pbft.scenario.model import ByzantineSpec, Scenario
from pbft.scenario.run import RunResult, judge_trace
from pbft.sim import SimRun, simulate
from pbft.trace import records as tr

from .seeded_bugs import (
    FORGED_CLIENT,
    FORGED_OPERATION,
    FORGED_TIMESTAMP,
    FORGING_PRIMARY,
    GARBAGE_SIGNATURE,
    AcceptEverySignature,
    ForgetfulReplica,
    ForgetfulReplies,
    ForgingPrimary,
    HoardingLog,
    HoardingReplica,
    SeededCores,
    forged_request,
)

SEEDS = (1, 2, 3)
SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
WINDOW = 8

BASE: dict[str, Any] = {
    "cluster": {
        "f": 1,
        "checkpoint_interval": 4,
        "window": WINDOW,
        "view_change_timeout": "300ms",
    },
    "network": {"delay": {"dist": "uniform", "low": "1ms", "high": "5ms"}},
    "workload": {"clients": 1, "requests": 4, "client_timeout": "300ms"},
    "expect": {"within": "10s"},
}


def scenario(name: str, **sections: Any) -> Scenario:
    return scenario_from_dict({"name": name, **BASE, **sections})


def run(s: Scenario, seed: int, cores: SeededCores) -> tuple[SimRun, RunResult]:
    """Simulate with ``cores`` and judge the trace against the scenario's workload."""
    sim = simulate(s, seed=seed, cores=cores)
    return sim, judge_trace(sim.records, s)


def failed(result: RunResult) -> list[str]:
    return [name for name, verdict in result.verdicts.items() if not verdict.ok]


# --------------------------------------------------------------------------- the bugs


def test_the_broken_keyring_accepts_garbage_that_the_real_one_refuses() -> None:
    _, keyring = crypto.cluster_keys("fast", b"seeded bugs", ["r0", FORGED_CLIENT])
    data = signing_bytes(forged_request().payload)
    broken = AcceptEverySignature(keyring)
    assert not keyring.verify(FORGED_CLIENT, data, GARBAGE_SIGNATURE)
    assert broken.verify(FORGED_CLIENT, data, GARBAGE_SIGNATURE)
    assert not broken.verify("c9", data, GARBAGE_SIGNATURE)  # senders are still checked
    assert broken.principals() == keyring.principals()


def test_the_forgetful_reply_cache_stores_replies_but_never_finds_them() -> None:
    replies = ForgetfulReplies()
    replies["c0"] = CachedReply(timestamp=1, result=b"ok")
    assert replies["c0"].timestamp == 1  # replies can still be built from it
    assert replies.get("c0") is None  # but a lookup never finds an executed request


def test_the_hoarding_log_keeps_the_slots_the_real_log_collects() -> None:
    real, hoarding = Log(), HoardingLog()
    for log in (real, hoarding):
        for seq in (1, 2, 3):
            log.slot(Seq(seq), view=View(0), now_s=0.0)
    assert real.collect_garbage(Seq(2)) == [1, 2]
    assert hoarding.collect_garbage(Seq(2)) == []
    assert (len(real), len(hoarding)) == (1, 3)


def test_seeded_replicas_are_replicas_in_all_but_their_bug() -> None:
    assert issubclass(ForgetfulReplica, Replica)
    assert issubclass(HoardingReplica, Replica)


# --------------------------------------------------------------------------- validity

# The loader knows only the shipped behaviours; the forging primary lives with the seeded
# bugs, so it is attached to the loaded scenario, and SeededCores builds it by this name.
FORGERY = attrs.evolve(
    scenario("forged-request"),
    byzantine=(ByzantineSpec(replica=0, behavior=FORGING_PRIMARY),),
)


def forging_cores(*, accept_every_signature: bool) -> SeededCores:
    return SeededCores(
        accept_every_signature=accept_every_signature,
        behaviors={FORGING_PRIMARY: ForgingPrimary},
    )


def forgery_sent(cores: SeededCores) -> bool:
    (primary,) = cores.built
    assert isinstance(primary, ForgingPrimary)
    return primary.forged is not None


@pytest.mark.parametrize("seed", SEEDS)
def test_validity_fails_when_backups_run_a_request_forged_in_a_clients_name(seed: int) -> None:
    cores = forging_cores(accept_every_signature=True)
    _, result = run(FORGERY, seed, cores)
    assert forgery_sent(cores)
    assert failed(result) == ["validity"]
    verdict = result.verdicts["validity"]
    # Every correct replica (the three backups) executed the forgery once.
    assert verdict.violation_count == 3
    assert {v.replicas for v in verdict.violations} == {(1,), (2,), (3,)}
    first = verdict.first
    assert first is not None
    assert (first.client, first.timestamp, first.seq) == (FORGED_CLIENT, FORGED_TIMESTAMP, 1)
    assert f"{FORGED_CLIENT} never submitted timestamp {FORGED_TIMESTAMP}" in first.message


@pytest.mark.parametrize("seed", SEEDS)
def test_validity_holds_when_backups_check_the_client_signature(seed: int) -> None:
    cores = forging_cores(accept_every_signature=False)
    sim, result = run(FORGERY, seed, cores)
    assert forgery_sent(cores)
    assert failed(result) == []
    refused = {
        record.node
        for record in sim.records
        if isinstance(record, tr.Rejected) and record.reason == reasons.BAD_CLIENT_SIGNATURE
    }
    assert refused == {"r1", "r2", "r3"}
    executed = {
        request.operation
        for record in sim.records
        if isinstance(record, tr.Executed)
        for request in record.requests
    }
    assert FORGED_OPERATION.hex() not in executed


# -------------------------------------------------------------------------- integrity

# A faulty primary replays each client request to the backups 50 ms after it saw it. It acts
# when its status timer fires (every 500 ms), so the client thinks 600 ms between requests:
# the replay lands after the request ran and before the next one exists, when only the reply
# cache can tell it is old (§4.1).
REPLAY = scenario(
    "replayed-requests",
    workload={**BASE["workload"], "think": "600ms"},
    byzantine=[
        {"replica": 0, "behavior": "replay", "params": {"kinds": ["Request"], "delay_s": 0.05}}
    ],
)


def executions_of(sim: SimRun, replica: int) -> list[tuple[int, int]]:
    """(seq, timestamp) of every request ``replica`` executed, in log order."""
    return [
        (record.seq, request.timestamp)
        for record in sim.records
        if isinstance(record, tr.Executed) and record.replica == replica
        for request in record.requests
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_integrity_fails_when_replicas_forget_which_requests_they_executed(seed: int) -> None:
    sim, result = run(REPLAY, seed, SeededCores(replica_class=ForgetfulReplica))
    assert "integrity" in failed(result)
    # The correct replicas all ran the same batches: the fault is each one's own log.
    assert result.verdicts["agreement"].ok
    first = result.verdicts["integrity"].first
    assert first is not None
    assert (first.client, first.timestamp, first.seq) == ("c0", 1, 2)
    assert "again at seq 2 (after seq 1)" in first.message
    assert executions_of(sim, 1)[:2] == [(1, 1), (2, 1)]


@pytest.mark.parametrize("seed", SEEDS)
def test_integrity_holds_when_the_reply_cache_recognises_replayed_requests(seed: int) -> None:
    sim, result = run(REPLAY, seed, SeededCores())
    assert failed(result) == []
    assert any(isinstance(record, tr.Tampered) for record in sim.records)  # replays were sent
    assert executions_of(sim, 1) == [(1, 1), (2, 2), (3, 3), (4, 4)]


# ------------------------------------------------------------------------ bounded log

REQUESTS = 12  # one request per seq: the log would need 12 slots in a window of 8
LONG = scenario("long-log", workload={**BASE["workload"], "requests": REQUESTS})


def checkpoints(sim: SimRun) -> set[int]:
    return {record.seq for record in sim.records if isinstance(record, tr.CheckpointStabilized)}


@pytest.mark.parametrize("seed", SEEDS)
def test_bounded_log_fails_when_replicas_never_collect_garbage(seed: int) -> None:
    sim, result = run(LONG, seed, SeededCores(replica_class=HoardingReplica))
    assert failed(result) == ["bounded_log"]
    first = result.verdicts["bounded_log"].first
    assert first is not None
    assert f"holds {WINDOW + 1} log slots, more than the window of {WINDOW}" in first.message
    # Checkpoints did become stable and moved the window; only the collection was missing.
    assert checkpoints(sim) == {4, 8, 12}
    assert {status.log_slots for status in sim.replica_status.values()} == {REQUESTS}


@pytest.mark.parametrize("seed", SEEDS)
def test_bounded_log_holds_when_stable_checkpoints_collect_garbage(seed: int) -> None:
    sim, result = run(LONG, seed, SeededCores())
    assert failed(result) == []
    assert checkpoints(sim) == {4, 8, 12}
    largest = max(record.slots for record in sim.records if isinstance(record, tr.LogSize))
    assert largest <= WINDOW


# ------------------------------------------------------- client consistency (replay)

# All four replicas crash and restart twice mid-workload (scenarios/lessons/whole-cluster-
# restart.toml). With the seeded bug every recovered replica resumes from an empty kv store
# while it believes it holds its stored checkpoint. All of them share the bug, so they still
# agree with each other on every batch and every result, and clients get f + 1 matching
# (wrong) replies.
RESTART = load_scenario(SCENARIOS / "lessons" / "whole-cluster-restart.toml")
BLIND_SEEDS = (1, 2, 4)  # seeds on which the replicas' own results agree throughout


@pytest.mark.parametrize("seed", BLIND_SEEDS)
def test_client_consistency_fails_when_recovered_replicas_resume_from_an_empty_state(
    seed: int,
) -> None:
    sim, result = run(RESTART, seed, SeededCores(recover_without_state=True))
    assert failed(result) == ["client_consistency"]
    first = result.verdicts["client_consistency"].first
    assert first is not None
    assert "replaying the agreed log on a fresh kv service" in first.message
    # Compared only with what the correct replicas recorded, the wrong results look fine:
    # it takes the replay (which needs to know the service) to see them.
    start, *rest = sim.records
    assert isinstance(start, tr.RunStarted)
    assert not judge_trace(sim.records).verdicts["client_consistency"].ok
    unnamed = (attrs.evolve(start, app=""), *rest)
    assert judge_trace(unnamed).verdicts["client_consistency"].ok


@pytest.mark.parametrize("seed", BLIND_SEEDS)
def test_client_consistency_holds_when_recovered_replicas_restore_their_checkpoint(
    seed: int,
) -> None:
    _, result = run(RESTART, seed, SeededCores())
    assert failed(result) == []
    assert "replayed seq 1-" in result.verdicts["client_consistency"].summary


def test_agreement_fails_when_a_recovered_replica_stabilizes_another_state_at_a_checkpoint() -> (
    None
):
    # Seed 3: r0 made checkpoint 16 stable just before the first crash; the others reach seq
    # 16 only after recovering into an empty state, and stabilize a different state there.
    # Every batch still matches: only the checkpoint's state shows the logs diverged.
    sim, result = run(RESTART, 3, SeededCores(recover_without_state=True))
    verdict = result.verdicts["agreement"]
    assert not verdict.ok
    assert all(
        v.message.startswith("checkpoint 16: r0 stabilized state") for v in verdict.violations
    )
    assert {v.replicas for v in verdict.violations} == {(0, 1), (0, 2), (0, 3)}
    assert checkpoints(sim) >= {16}
