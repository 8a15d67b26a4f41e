"""No input the network can deliver makes a behaviour raise (it wraps the real replica core).

A faulty replica is still driven by the simulator; a behaviour that raised on a strange
message would stop the run with a traceback instead of a verdict.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adversary.behavior import BehaviorContext, make_behavior
from pbft.app import make_service
from pbft.config import Config
from pbft.effects import Effect
from pbft.ids import ReplicaId, TimerName
from pbft.inputs import Received, TimerFired
from pbft.replica import Replica
from tests.strategies import KEYRING, SIGNERS, N, envelopes

CONFIG = Config(n=N, f=1, checkpoint_interval=4, window_size=8)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("equivocate", {"split": [[3]]}),
    ("equivocate", {"split": [[1], [2], [3]], "alternative": "stale", "withhold_commits": True}),
    ("collude", {}),
    ("lie", {}),
    ("lie", {"how": "constant", "eager": True}),
    ("mutate", {}),
    ("replay", {"delay_s": 0.0}),
]
TIMERS = ("batch", "status", "view-change", "no-such-timer")


def _behavior(name: str, params: dict[str, Any], replica: int, collusion: dict[str, Any]) -> Any:
    def honest() -> Replica:
        return Replica(
            config=CONFIG,
            replica=ReplicaId(replica),
            signer=SIGNERS[f"r{replica}"],
            keyring=KEYRING,
            service=make_service("kv"),
        )

    ctx = BehaviorContext(
        config=CONFIG,
        replica=ReplicaId(replica),
        signer=SIGNERS[f"r{replica}"],
        keyring=KEYRING,
        params=params,
        collusion=collusion,
        make_honest=honest,
    )
    return make_behavior(name, ctx)


events = st.lists(
    st.one_of(
        envelopes().map(lambda envelope: Received(envelope=envelope)),
        envelopes(wide=True).map(lambda envelope: Received(envelope=envelope)),
        st.sampled_from(TIMERS).map(lambda timer: TimerFired(timer=TimerName(timer))),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), replica=st.integers(0, N - 1), inputs=events)
def test_no_sequence_of_inputs_makes_a_behaviour_raise(
    case: tuple[str, dict[str, Any]], replica: int, inputs: list[Received | TimerFired]
) -> None:
    name, params = case
    behavior = _behavior(name, params, replica, collusion={})
    effects: list[Effect] = behavior.start(now_s=0.0)
    for index, event in enumerate(inputs):
        effects = behavior.step(event, now_s=0.01 * (index + 1))
        assert isinstance(effects, list)
