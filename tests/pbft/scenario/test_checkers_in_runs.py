"""Each checker that a real run can break is seen failing in one, and holding in its f = 1 twin.

The hand-built traces of test_checkers.py prove the checkers' logic; these runs prove they
catch what the simulator and the adversary actually produce: colluding equivocators beyond f
(agreement), f + 1 replicas lying alike (client consistency), and a partition that never
heals (liveness).
"""

from __future__ import annotations

from typing import Any

import pytest

from pbft.scenario.loader import scenario_from_dict
from pbft.scenario.run import RunResult, run_scenario

SEEDS = (1, 2, 3)

BASE: dict[str, Any] = {
    "cluster": {"f": 1, "checkpoint_interval": 4, "window": 8, "view_change_timeout": "300ms"},
    "network": {"delay": {"dist": "uniform", "low": "1ms", "high": "5ms"}},
    "workload": {"clients": 1, "requests": 4, "client_timeout": "300ms"},
    "expect": {"within": "10s"},
}


def run(name: str, seed: int, **sections: Any) -> RunResult:
    data = {"name": name, **BASE, **sections}
    return run_scenario(scenario_from_dict(data), seed=seed)


def failed(result: RunResult) -> list[str]:
    return [name for name, verdict in result.verdicts.items() if not verdict.ok]


EQUIVOCATOR = {
    "replica": 0,
    "behavior": "equivocate",
    "params": {"split": [[3]], "alternative": "null"},
}
LIAR = {"behavior": "lie", "params": {"how": "constant", "value": "forged", "eager": True}}


@pytest.mark.parametrize("seed", SEEDS)
def test_agreement_fails_with_two_colluding_faulty_replicas_of_four(seed: int) -> None:
    result = run(
        "equivocation-beyond-f",
        seed,
        cluster={**BASE["cluster"], "unsafe": True},
        byzantine=[EQUIVOCATOR, {"replica": 1, "behavior": "collude"}],
    )
    assert "agreement" in failed(result)
    first = result.verdicts["agreement"].first
    assert first is not None and first.seq is not None
    assert len(first.replicas) == 2
    assert set(first.replicas) <= {2, 3}  # the correct replicas, told different batches


@pytest.mark.parametrize("seed", SEEDS)
def test_agreement_holds_with_one_equivocating_primary(seed: int) -> None:
    result = run("equivocation-within-f", seed, byzantine=[EQUIVOCATOR])
    assert failed(result) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_client_consistency_fails_with_f_plus_one_liars(seed: int) -> None:
    result = run(
        "lying-beyond-f",
        seed,
        cluster={**BASE["cluster"], "unsafe": True},
        byzantine=[{"replica": 2, **LIAR}, {"replica": 3, **LIAR}],
    )
    assert failed(result) == ["client_consistency"]
    first = result.verdicts["client_consistency"].first
    assert first is not None
    assert first.client == "c0"
    assert first.seq is not None
    assert set(first.replicas) <= {0, 1}


@pytest.mark.parametrize("seed", SEEDS)
def test_client_consistency_holds_with_f_liars(seed: int) -> None:
    result = run("lying-within-f", seed, byzantine=[{"replica": 3, **LIAR}])
    assert failed(result) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_liveness_fails_when_a_partition_never_heals(seed: int) -> None:
    result = run(
        "split-forever",
        seed,
        faults=[
            {"at": "20ms", "action": "partition", "groups": [["r0", "r1", "c0"], ["r2", "r3"]]}
        ],
    )
    assert failed(result) == ["liveness"]
    assert result.liveness.completed < result.liveness.expected == 4
    assert result.end_reason == "deadline"


@pytest.mark.parametrize("seed", SEEDS)
def test_liveness_holds_when_the_same_partition_heals(seed: int) -> None:
    result = run(
        "split-then-heal",
        seed,
        faults=[
            {"at": "20ms", "action": "partition", "groups": [["r0", "r1", "c0"], ["r2", "r3"]]},
            {"at": "2s", "action": "heal"},
        ],
    )
    assert failed(result) == []
