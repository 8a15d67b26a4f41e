"""Unit tests of "replay": what was seen goes out again, unchanged, delay_s later, once."""

from __future__ import annotations

import pytest
from adversary_support import harness, request, sends_by_recipient, signed

from adversary.behavior import BehaviorParamError, make_behavior
from adversary.replay import Replayer
from pbft.effects import Broadcast, Send
from pbft.ids import ReplicaId, Seq, TimerName, View
from pbft.inputs import Received, TimerFired
from pbft.messages import Commit, Prepare, Reply

TICK = TimerFired(timer=TimerName("status"))


def _prepare(replica: int, seq: int = 1) -> Prepare:
    return Prepare(view=View(0), seq=Seq(seq), digest=b"d" * 32, replica=ReplicaId(replica))


def test_a_received_message_is_replayed_after_the_delay_to_every_other_replica() -> None:
    h = harness(1, {"delay_s": 0.5})
    behavior = make_behavior("replay", h.ctx)
    assert isinstance(behavior, Replayer)
    theirs = signed("r2", _prepare(2))

    assert behavior.step(Received(envelope=theirs), now_s=0.0) == []
    assert behavior.step(TICK, now_s=0.4) == []
    replayed = sends_by_recipient(behavior.step(TICK, now_s=0.5))

    assert replayed == {"r0": [theirs], "r3": [theirs]}  # not back to r2, not to itself
    assert h.tampered == [("Prepare", "replay")]
    assert behavior.step(TICK, now_s=5.0) == []  # once only


def test_its_own_messages_are_passed_on_and_replayed_later() -> None:
    h = harness(1, {"delay_s": 1.0})
    behavior = make_behavior("replay", h.ctx)
    mine = signed("r1", Commit(view=View(0), seq=Seq(1), digest=b"d" * 32, replica=ReplicaId(1)))
    h.core.script.append([Broadcast(envelope=mine)])

    assert behavior.step(TICK, now_s=0.0) == [Broadcast(envelope=mine)]
    replayed = sends_by_recipient(behavior.step(TICK, now_s=1.0))

    assert replayed == {"r0": [mine], "r2": [mine], "r3": [mine]}


def test_client_requests_are_replayed_with_the_clients_own_signature() -> None:
    h = harness(1, {"delay_s": 0.0})
    behavior = make_behavior("replay", h.ctx)
    envelope = request("c0", 3)

    replayed = sends_by_recipient(behavior.step(Received(envelope=envelope), now_s=0.0))

    assert replayed == {"r0": [envelope], "r2": [envelope], "r3": [envelope]}


def test_a_burst_caps_replays_per_step_and_the_rest_follow_in_order() -> None:
    h = harness(1, {"delay_s": 1.0, "burst": 2})
    behavior = make_behavior("replay", h.ctx)
    envelopes = [signed("r2", _prepare(2, seq)) for seq in (1, 2, 3)]
    for envelope in envelopes:
        assert behavior.step(Received(envelope=envelope), now_s=0.0) == []

    first = sends_by_recipient(behavior.step(TICK, now_s=1.0))
    second = sends_by_recipient(behavior.step(TICK, now_s=1.0))

    assert first["r3"] == envelopes[:2]
    assert second["r3"] == envelopes[2:]


def test_its_own_reply_is_replayed_to_the_same_client() -> None:
    h = harness(1, {"delay_s": 0.5})
    behavior = make_behavior("replay", h.ctx)
    reply = signed(
        "r1",
        Reply(view=View(0), timestamp=1, client="c0", replica=ReplicaId(1), result=b"ok"),
    )
    h.core.script.append([Send(to="c0", envelope=reply)])
    behavior.step(TICK, now_s=0.0)

    assert sends_by_recipient(behavior.step(TICK, now_s=0.5)) == {"c0": [reply]}


def test_only_the_chosen_kinds_are_recorded() -> None:
    h = harness(1, {"delay_s": 0.0, "kinds": ["Commit"]})
    behavior = make_behavior("replay", h.ctx)
    assert behavior.step(Received(envelope=signed("r2", _prepare(2))), now_s=0.0) == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"delay_s": -1}, "'delay_s' must be >= 0"),
        ({"delay_s": "1s"}, "'delay_s' must be a number"),
        ({"burst": 0}, "'burst' must be an integer >= 1"),
        ({"kinds": ["Nope"]}, "'kinds' must be a non-empty list"),
        ({"after": 1}, "has no parameter 'after'"),
    ],
)
def test_bad_params_are_refused_with_a_message_naming_them(
    params: dict[str, object], fragment: str
) -> None:
    with pytest.raises(BehaviorParamError, match=fragment):
        make_behavior("replay", harness(1, params).ctx)
