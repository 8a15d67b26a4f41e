"""No input makes the replica raise, and its invariants survive any input (hypothesis)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbft.config import Config
from pbft.ids import ReplicaId, TimerName, replica_principal
from pbft.inputs import Received, TimerFired
from pbft.messages import Envelope
from pbft.replica import Replica
from tests.pbft.replica.harness import ListService
from tests.strategies import KEYRING, SIGNERS, F, N, envelopes

CONFIG = Config(n=N, f=F, checkpoint_interval=2, window_size=4, batch_delay_s=0.0)
TIMERS = st.sampled_from(["view-change", "status", "batch", "no-such-timer"])


def inputs() -> st.SearchStrategy[Received | TimerFired]:
    received = st.one_of(envelopes(), envelopes(wide=True)).map(lambda e: Received(envelope=e))
    forged = st.one_of(envelopes()).map(
        lambda e: Received(envelope=attrs.evolve(e, signature=bytes(64)))
    )
    fired = TIMERS.map(lambda name: TimerFired(timer=TimerName(name)))
    return st.one_of(received, received, forged, fired)


def check_invariants(replica: Replica) -> None:
    status = replica.status()
    assert status.low_mark == status.stable_seq <= status.last_executed
    assert status.high_mark == status.low_mark + CONFIG.window_size
    assert status.log_slots <= CONFIG.window_size
    assert all(count > 0 for count in status.rejections.values())


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replica_id=st.sampled_from([0, 1]), events=st.lists(inputs(), max_size=25))
def test_no_input_makes_step_raise(replica_id: int, events: list[Received | TimerFired]) -> None:
    replica = Replica(
        config=CONFIG,
        replica=ReplicaId(replica_id),
        signer=SIGNERS[replica_principal(ReplicaId(replica_id))],
        keyring=KEYRING,
        service=ListService(),
    )
    replica.start(now_s=0.0)
    for t, event in enumerate(events):
        effects = replica.step(event, now_s=float(t))
        assert isinstance(effects, list)
        check_invariants(replica)


@settings(max_examples=50, deadline=None)
@given(envelope=envelopes(wide=True))
def test_garbage_is_rejected_with_a_named_reason_or_ignored(envelope: Envelope) -> None:
    replica = Replica(
        config=CONFIG,
        replica=ReplicaId(1),
        signer=SIGNERS["r1"],
        keyring=KEYRING,
        service=ListService(),
    )
    replica.start(now_s=0.0)
    replica.step(Received(envelope=envelope), now_s=1.0)
    check_invariants(replica)
