"""Unit tests of "mutate": each outgoing message arrives with exactly one field garbled."""

from __future__ import annotations

import pytest
from adversary_support import CONFIG, KEYRING, assert_validly_signed, harness, signed

from adversary.behavior import BehaviorParamError, make_behavior
from adversary.mutate import MUTATIONS, mutated_payload
from pbft.effects import Broadcast, Effect, Send, StartTimer
from pbft.ids import ReplicaId, Seq, TimerName, View
from pbft.inputs import TimerFired
from pbft.messages import Checkpoint, Commit, Envelope, FetchState, Prepare, verify

PREPARE = Prepare(view=View(2), seq=Seq(5), digest=b"\x01" * 32, replica=ReplicaId(1))


def _outgoing(effects: list[Effect]) -> list[Envelope]:
    return [e.envelope for e in effects if isinstance(e, Send | Broadcast)]


def test_each_mutation_changes_only_its_field() -> None:
    window = CONFIG.window_size
    assert mutated_payload(PREPARE, "view", n=4, window_size=window) == Prepare(
        view=View(3), seq=Seq(5), digest=b"\x01" * 32, replica=ReplicaId(1)
    )
    assert mutated_payload(PREPARE, "seq", n=4, window_size=window) == Prepare(
        view=View(2), seq=Seq(5 + 2 * window), digest=b"\x01" * 32, replica=ReplicaId(1)
    )
    assert mutated_payload(PREPARE, "digest", n=4, window_size=window) == Prepare(
        view=View(2), seq=Seq(5), digest=b"\xfe" + b"\x01" * 31, replica=ReplicaId(1)
    )
    assert mutated_payload(PREPARE, "replica", n=4, window_size=window) == Prepare(
        view=View(2), seq=Seq(5), digest=b"\x01" * 32, replica=ReplicaId(2)
    )


def test_a_checkpoint_gets_its_state_digest_garbled() -> None:
    checkpoint = Checkpoint(seq=Seq(16), state_digest=b"\x00" * 32, replica=ReplicaId(3))
    garbled = mutated_payload(checkpoint, "digest", n=4, window_size=32)
    assert isinstance(garbled, Checkpoint)
    assert garbled.state_digest == b"\xff" + b"\x00" * 31


def test_a_field_the_payload_lacks_is_no_mutation() -> None:
    fetch = FetchState(above_seq=Seq(0), replica=ReplicaId(1))
    assert mutated_payload(fetch, "digest", n=4, window_size=32) is None
    assert mutated_payload(fetch, "view", n=4, window_size=32) is None


def test_mutations_cycle_and_changed_payloads_are_validly_signed() -> None:
    h = harness(1)
    behavior = make_behavior("mutate", h.ctx)
    honest = signed("r1", PREPARE)
    h.core.script.append([Broadcast(envelope=honest)] * len(MUTATIONS))

    sent = _outgoing(behavior.step(TimerFired(timer=TimerName("t")), now_s=0.0))

    assert [kind for kind, _ in h.tampered] == ["Prepare"] * len(MUTATIONS)
    assert [how for _, how in h.tampered] == [f"mutate: {how}" for how in MUTATIONS]
    for envelope, how in zip(sent, MUTATIONS, strict=True):
        assert envelope != honest
        if how == "signature":
            assert envelope.payload == honest.payload
            assert not verify(KEYRING, envelope)
        else:
            assert envelope.payload == mutated_payload(
                PREPARE, how, n=4, window_size=CONFIG.window_size
            )
            assert_validly_signed(envelope, "r1")


def test_every_k_mutates_one_message_in_k() -> None:
    h = harness(1, {"every": 3, "how": ["digest"]})
    behavior = make_behavior("mutate", h.ctx)
    honest = signed("r1", PREPARE)
    h.core.script.append([Send(to="r0", envelope=honest)] * 6)

    sent = _outgoing(behavior.step(TimerFired(timer=TimerName("t")), now_s=0.0))

    assert [envelope == honest for envelope in sent] == [True, True, False, True, True, False]


def test_a_payload_without_the_chosen_field_gets_a_bad_signature_instead() -> None:
    h = harness(1, {"how": ["digest"]})
    behavior = make_behavior("mutate", h.ctx)
    honest = signed("r1", FetchState(above_seq=Seq(0), replica=ReplicaId(1)))
    h.core.script.append([Send(to="r0", envelope=honest)])

    (envelope,) = _outgoing(behavior.step(TimerFired(timer=TimerName("t")), now_s=0.0))

    assert envelope.payload == honest.payload
    assert not verify(KEYRING, envelope)


def test_kinds_not_chosen_and_other_effects_pass_unchanged() -> None:
    h = harness(1, {"kinds": ["Commit"]})
    behavior = make_behavior("mutate", h.ctx)
    honest = signed("r1", PREPARE)
    commit = signed(
        "r1", Commit(view=View(2), seq=Seq(5), digest=b"\x01" * 32, replica=ReplicaId(1))
    )
    timer = StartTimer(timer=TimerName("status"), fires_at_s=1.0)
    h.core.script.append([Broadcast(envelope=honest), timer, Broadcast(envelope=commit)])

    effects = behavior.step(TimerFired(timer=TimerName("t")), now_s=0.0)

    assert effects[:2] == [Broadcast(envelope=honest), timer]
    assert effects[2] != Broadcast(envelope=commit)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"how": ["sender"]}, "'how' must be a non-empty list"),
        ({"how": []}, "'how' must be a non-empty list"),
        ({"every": 0}, "'every' must be an integer >= 1"),
        ({"every": 1.5}, "'every' must be an integer >= 1"),
        ({"kinds": ["Hello"]}, "'kinds' must be a non-empty list"),
        ({"rate": 1}, "has no parameter 'rate'"),
    ],
)
def test_bad_params_are_refused_with_a_message_naming_them(
    params: dict[str, object], fragment: str
) -> None:
    with pytest.raises(BehaviorParamError, match=fragment):
        make_behavior("mutate", harness(1, params).ctx)
