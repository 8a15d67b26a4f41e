"""The "silent" behaviour and the behaviour registry."""

from __future__ import annotations

import pytest
from adversary_support import harness

from adversary.behavior import (
    BehaviorParamError,
    UnknownBehavior,
    behavior_names,
    make_behavior,
)
from pbft.effects import Broadcast, EnteredView, StartTimer
from pbft.ids import ReplicaId, TimerName, View
from pbft.inputs import TimerFired

HONEST_START = [
    StartTimer(timer=TimerName("status"), fires_at_s=0.5),
    EnteredView(replica=ReplicaId(3), view=View(0)),
]


def test_silent_is_registered_under_its_name() -> None:
    assert "silent" in behavior_names()
    assert list(behavior_names()) == sorted(behavior_names())


def test_an_unknown_behaviour_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownBehavior, match=r"unknown behaviour 'shout'.*silent"):
        make_behavior("shout", harness(3).ctx)


def test_a_silent_replica_emits_nothing_from_the_start() -> None:
    h = harness(3)
    h.core.script = [HONEST_START, [Broadcast(envelope=None)]]  # type: ignore[arg-type]
    silent = make_behavior("silent", h.ctx)
    assert silent.start(now_s=0.0) == []
    assert silent.step(TimerFired(timer=TimerName("status")), now_s=1.0) == []
    assert h.core.inputs == []  # no honest core is even consulted


def test_a_silent_replica_with_after_s_is_honest_until_its_clock_reaches_it() -> None:
    h = harness(3, {"after_s": 2.0})
    tick = [StartTimer(timer=TimerName("status"), fires_at_s=1.5)]
    h.core.script = [HONEST_START, tick, tick]
    silent = make_behavior("silent", h.ctx)
    assert silent.start(now_s=0.0) == HONEST_START
    assert silent.step(TimerFired(timer=TimerName("status")), now_s=1.0) == tick
    assert silent.step(TimerFired(timer=TimerName("status")), now_s=2.0) == []
    assert silent.step(TimerFired(timer=TimerName("status")), now_s=1.0) == []  # for good
    assert len(h.core.inputs) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"after": 1.0}, "has no parameter 'after'"),
        ({"after_s": "soon"}, "'after_s' must be a number"),
        ({"after_s": True}, "'after_s' must be a number"),
        ({"after_s": -1.0}, "'after_s' must be >= 0"),
        ({"after_s": float("nan")}, "'after_s' must be >= 0"),
    ],
)
def test_bad_parameters_are_refused_with_a_message_naming_them(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(BehaviorParamError, match=message):
        make_behavior("silent", harness(3, params).ctx)
