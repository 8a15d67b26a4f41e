"""Unit tests of "lie": the honest core's replies go out falsified, everything else unchanged."""

from __future__ import annotations

import attrs
import pytest
from adversary_support import (
    assert_validly_signed,
    harness,
    pre_prepare,
    request,
    sends_by_recipient,
    signed,
)
from hypothesis import given
from hypothesis import strategies as st

from adversary.behavior import BehaviorParamError, make_behavior
from adversary.lies import LIE_MODES, told_result
from pbft.effects import Broadcast, Effect, Send, StartTimer
from pbft.ids import ReplicaId, Seq, TimerName, View
from pbft.inputs import Received, Submit, TimerFired
from pbft.messages import Prepare, Reply


def _reply(replica: int, result: bytes, *, client: str = "c0", timestamp: int = 1) -> Send:
    payload = Reply(
        view=View(0),
        timestamp=timestamp,
        client=client,
        replica=ReplicaId(replica),
        result=result,
    )
    return Send(to=client, envelope=signed(f"r{replica}", payload))


def _result(effect: object) -> bytes:
    assert isinstance(effect, Send)
    assert isinstance(effect.envelope.payload, Reply)
    return effect.envelope.payload.result


@given(truth=st.binary(max_size=64), how=st.sampled_from(LIE_MODES), constant=st.binary())
def test_a_lie_always_differs_from_the_truth_and_every_liar_tells_the_same(
    truth: bytes, how: str, constant: bytes
) -> None:
    lie = told_result(truth, how=how, constant=constant)
    assert lie != truth
    assert told_result(truth, how=how, constant=constant) == lie


def test_flip_inverts_every_bit_of_the_result() -> None:
    assert told_result(b"\x00\x0f", how="flip", constant=b"") == b"\xff\xf0"


def test_reply_to_the_client_carries_the_lie_signed_by_the_liar() -> None:
    h = harness(2, {"how": "constant", "value": "forged"})
    liar = make_behavior("lie", h.ctx)
    honest = _reply(2, b"true result")
    h.core.script.append([honest])

    (effect,) = liar.step(TimerFired(timer=TimerName("t")), now_s=0.0)

    assert isinstance(effect, Send)
    assert effect.to == "c0"
    assert _result(effect) == b"forged"
    told, truth = effect.envelope.payload, honest.envelope.payload
    assert isinstance(told, Reply)
    assert isinstance(truth, Reply)
    assert (told.view, told.timestamp, told.client, told.replica) == (
        truth.view,
        truth.timestamp,
        truth.client,
        truth.replica,
    )
    assert_validly_signed(effect.envelope, "r2")
    assert h.tampered == [("Reply", "lie (constant) to c0")]


def test_two_liars_falsify_one_result_identically() -> None:
    results = []
    for replica in (1, 2):
        h = harness(replica)  # default: flip
        liar = make_behavior("lie", h.ctx)
        h.core.script.append([_reply(replica, b"\x01\x02")])
        results.append(_result(liar.step(TimerFired(timer=TimerName("t")), now_s=0.0)[0]))
    assert results[0] == results[1] == b"\xfe\xfd"


def test_protocol_messages_and_timers_pass_unchanged() -> None:
    h = harness(1)
    liar = make_behavior("lie", h.ctx)
    vote = signed("r1", Prepare(view=View(0), seq=Seq(1), digest=b"d" * 32, replica=ReplicaId(1)))
    timer = StartTimer(timer=TimerName("view-change"), fires_at_s=1.0)
    script: list[Effect] = [Broadcast(envelope=vote), Send(to="r0", envelope=vote), timer]
    h.core.script.append(list(script))

    assert liar.step(TimerFired(timer=TimerName("t")), now_s=0.0) == script
    assert h.tampered == []


def test_only_the_listed_clients_are_lied_to() -> None:
    h = harness(1, {"clients": ["c1"]})
    liar = make_behavior("lie", h.ctx)
    to_c0, to_c1 = _reply(1, b"a", client="c0"), _reply(1, b"a", client="c1")
    h.core.script.append([to_c0, to_c1])

    effects = liar.step(TimerFired(timer=TimerName("t")), now_s=0.0)

    assert effects[0] == to_c0
    assert _result(effects[1]) == b"\x9e"


def test_an_eager_liar_answers_a_request_before_it_commits_and_only_once() -> None:
    h = harness(0, {"how": "constant", "eager": True})
    liar = make_behavior("lie", h.ctx)
    envelope = request("c0", 7)

    first = sends_by_recipient(liar.step(Received(envelope=envelope), now_s=0.0))
    again = liar.step(Received(envelope=envelope), now_s=0.5)

    (reply,) = first["c0"]
    assert isinstance(reply.payload, Reply)
    assert reply.payload.timestamp == 7
    assert reply.payload.result == b"forged result"
    assert_validly_signed(reply, "r0")
    assert again == []


def test_an_eager_backup_answers_the_requests_of_a_pre_prepare() -> None:
    h = harness(1, {"how": "empty", "eager": True})
    h.core.view = View(0)
    liar = make_behavior("lie", h.ctx)
    batch = (request("c0", 1), request("c1", 3))

    sent = sends_by_recipient(liar.step(Received(envelope=pre_prepare(batch)), now_s=0.0))

    assert sorted(sent) == ["c0", "c1"]
    for client, timestamp in (("c0", 1), ("c1", 3)):
        (reply,) = sent[client]
        assert isinstance(reply.payload, Reply)
        assert (reply.payload.timestamp, reply.payload.result) == (timestamp, b"")


def test_a_submit_is_ignored_rather_than_passed_to_the_replica_core() -> None:
    h = harness(1)
    assert make_behavior("lie", h.ctx).step(Submit(operation=b"x"), now_s=0.0) == []
    assert h.core.inputs == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"how": "invert"}, "'how' must be one of"),
        ({"eager": True}, "does not depend on the result"),
        ({"value": "x"}, 'only used with how = "constant"'),
        ({"how": "constant", "value": 3}, "must be a string"),
        ({"clients": "c0"}, "list of client ids"),
        ({"lie": True}, "has no parameter 'lie'"),
    ],
)
def test_bad_params_are_refused_with_a_message_naming_them(
    params: dict[str, object], fragment: str
) -> None:
    with pytest.raises(BehaviorParamError, match=fragment):
        make_behavior("lie", harness(0, params).ctx)


def test_lying_to_a_client_the_run_does_not_have_is_refused() -> None:
    ctx = attrs.evolve(harness(0, {"clients": ["c0", "zz"]}).ctx, clients=("c0", "c1"))
    with pytest.raises(BehaviorParamError, match="does not have: zz"):
        make_behavior("lie", ctx)


def test_any_client_may_be_named_when_the_driver_does_not_say_which_exist() -> None:
    ctx = harness(0, {"clients": ["zz"]}).ctx
    assert ctx.clients == ()
    make_behavior("lie", ctx)
