"""Unit tests of "equivocate" and "collude": given the honest core's effects, what goes out."""

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

from adversary.behavior import BehaviorParamError, make_behavior
from adversary.equivocation import Board, alternative_batches
from pbft.effects import Broadcast, Executed, Send, StartTimer
from pbft.ids import ReplicaId, Seq, TimerName, View
from pbft.inputs import Received, Submit, TimerFired
from pbft.messages import Commit, Envelope, Prepare, PrePrepare, Request, batch_digest, verify


def _payloads(envelopes: list[Envelope]) -> list[object]:
    return [envelope.payload for envelope in envelopes]


def _the_pre_prepare(envelopes: list[Envelope]) -> PrePrepare:
    found = [e.payload for e in envelopes if isinstance(e.payload, PrePrepare)]
    assert len(found) == 1, envelopes
    return found[0]


def _votes(envelopes: list[Envelope], kind: type[Prepare] | type[Commit]) -> list[bytes]:
    return [e.payload.digest for e in envelopes if isinstance(e.payload, kind)]


def test_primary_sends_the_split_group_another_batch_for_the_same_view_and_seq() -> None:
    h = harness(0, {"split": [[3]], "alternative": "null"})
    behavior = make_behavior("equivocate", h.ctx)
    honest = pre_prepare((request(),))
    h.core.script.append([Broadcast(envelope=honest)])

    sent = sends_by_recipient(behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.0))

    assert sent["r1"][0] == honest
    assert sent["r2"][0] == honest
    told = _the_pre_prepare(sent["r3"])
    assert (told.view, told.seq) == (View(0), Seq(1))
    assert told.batch == ()
    assert told.digest == batch_digest(())
    assert told.digest != _the_pre_prepare([honest]).digest
    assert_validly_signed(sent["r3"][0], "r0")
    assert any(kind == "PrePrepare" and "r3" in how for kind, how in h.tampered)


def test_primary_commits_to_each_replica_the_version_that_replica_was_told() -> None:
    h = harness(0, {"split": [[3]]})
    behavior = make_behavior("equivocate", h.ctx)
    honest = pre_prepare((request(),))
    h.core.script.append([Broadcast(envelope=honest)])

    sent = sends_by_recipient(behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.0))

    for replica in ("r1", "r2", "r3"):
        told = _the_pre_prepare(sent[replica])
        assert _votes(sent[replica], Commit) == [told.digest]
        assert _votes(sent[replica], Prepare) == []  # the primary never prepares (§4.2)
        for envelope in sent[replica]:
            assert_validly_signed(envelope, "r0")


def test_alternative_batches_hold_only_validly_signed_requests_the_primary_saw() -> None:
    h = harness(0, {"split": [[2], [3]], "alternative": "reverse"})
    behavior = make_behavior("equivocate", h.ctx)
    first, second = request("c0", 1), request("c1", 1)
    honest = pre_prepare((first, second))
    h.core.script.append([Broadcast(envelope=honest)])

    sent = sends_by_recipient(behavior.step(Received(envelope=first), now_s=0.0))

    to_r2, to_r3 = _the_pre_prepare(sent["r2"]), _the_pre_prepare(sent["r3"])
    assert to_r2.batch == (second, first)  # the preferred construction goes to group 0
    assert len({batch_digest(b) for b in (honest.payload.batch, to_r2.batch, to_r3.batch)}) == 3  # type: ignore[union-attr]
    for member in (*to_r2.batch, *to_r3.batch):
        assert member in (first, second)
        assert verify(h.ctx.keyring, member)


def test_alternatives_have_distinct_digests_and_put_the_preferred_one_first() -> None:
    batch = (request("c0", 1), request("c1", 1))
    old = request("c0", 0)
    for prefer in ("null", "reverse", "subset", "stale"):
        alternatives = alternative_batches(batch, prefer=prefer, seen_requests=[old, *batch])
        digests = [batch_digest(b) for b in alternatives]
        assert len(set(digests)) == len(digests) == 4
        assert batch_digest(batch) not in digests
    assert alternative_batches(batch, prefer="stale", seen_requests=[old])[0] == (*batch, old)
    assert alternative_batches(batch, prefer="subset", seen_requests=[])[0] == batch[:1]


def test_a_null_batch_has_only_one_alternative_without_older_requests() -> None:
    assert alternative_batches((), prefer="null", seen_requests=[]) == []
    single = (request(),)
    assert alternative_batches(single, prefer="reverse", seen_requests=[]) == [()]


def test_the_plan_on_the_board_records_what_each_replica_was_told() -> None:
    collusion: dict[str, object] = {}
    h = harness(0, {"split": [[1, 2]]}, collusion=collusion)
    behavior = make_behavior("equivocate", h.ctx)
    honest = pre_prepare((request(),))
    h.core.script.append([Broadcast(envelope=honest)])
    behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.0)

    plan = Board.shared(collusion).plan(view=View(0), seq=Seq(1))
    assert plan is not None
    assert plan.primary == ReplicaId(0)
    assert plan.digest_for(ReplicaId(3)) == _the_pre_prepare([honest]).digest
    assert plan.digest_for(ReplicaId(1)) == plan.digest_for(ReplicaId(2)) == batch_digest(())
    assert set(plan.pre_prepares) == {plan.digest_for(ReplicaId(1)), plan.honest_digest}


def test_colluding_backup_prepares_and_commits_each_replicas_version() -> None:
    collusion: dict[str, object] = {}
    primary = harness(0, {"split": [[3]]}, collusion=collusion)
    equivocator = make_behavior("equivocate", primary.ctx)
    honest = pre_prepare((request(),))
    primary.core.script.append([Broadcast(envelope=honest)])
    from_primary = sends_by_recipient(
        equivocator.step(TimerFired(timer=TimerName("batch")), now_s=0.0)
    )

    backup = harness(1, collusion=collusion)
    colluder = make_behavior("collude", backup.ctx)
    sent = sends_by_recipient(colluder.step(Received(envelope=from_primary["r1"][0]), now_s=0.0))

    for replica in ("r2", "r3"):
        told = _the_pre_prepare(from_primary[replica]).digest
        assert _votes(sent[replica], Prepare) == [told]
        assert _votes(sent[replica], Commit) == [told]
        for envelope in sent[replica]:
            assert_validly_signed(envelope, "r1")
    assert backup.tampered  # the lies are booked for the trace


def test_colluder_backs_each_plan_once() -> None:
    collusion: dict[str, object] = {}
    primary = harness(0, {"split": [[3]]}, collusion=collusion)
    equivocator = make_behavior("equivocate", primary.ctx)
    primary.core.script.append([Broadcast(envelope=pre_prepare((request(),)))])
    equivocator.step(TimerFired(timer=TimerName("batch")), now_s=0.0)
    colluder = make_behavior("collude", harness(1, collusion=collusion).ctx)

    assert colluder.step(TimerFired(timer=TimerName("status")), now_s=0.0)
    assert colluder.step(TimerFired(timer=TimerName("status")), now_s=0.1) == []


def test_colluder_rewrites_its_cores_broadcast_vote_per_recipient() -> None:
    collusion: dict[str, object] = {}
    primary = harness(0, {"split": [[3]]}, collusion=collusion)
    equivocator = make_behavior("equivocate", primary.ctx)
    honest = pre_prepare((request(),))
    primary.core.script.append([Broadcast(envelope=honest)])
    equivocator.step(TimerFired(timer=TimerName("batch")), now_s=0.0)
    backup = harness(1, {}, collusion=collusion)
    colluder = make_behavior("collude", backup.ctx)
    colluder.step(TimerFired(timer=TimerName("status")), now_s=0.0)  # backs the plan eagerly

    digest = _the_pre_prepare([honest]).digest
    own = signed("r1", Commit(view=View(0), seq=Seq(1), digest=digest, replica=ReplicaId(1)))
    backup.core.script.append([Broadcast(envelope=own)])
    sent = sends_by_recipient(colluder.step(Received(envelope=honest), now_s=0.1))

    assert sent["r0"] == [own]
    assert sent["r2"] == [own]
    assert _votes(sent["r3"], Commit) == [batch_digest(())]


def test_votes_for_slots_nobody_equivocated_pass_unchanged() -> None:
    h = harness(1)
    colluder = make_behavior("collude", h.ctx)
    vote = signed("r1", Prepare(view=View(0), seq=Seq(9), digest=b"d" * 32, replica=ReplicaId(1)))
    h.core.script.append([Broadcast(envelope=vote)])

    sent = sends_by_recipient(colluder.step(TimerFired(timer=TimerName("t")), now_s=0.0))

    assert sent == {"r0": [vote], "r2": [vote], "r3": [vote]}
    assert h.tampered == []


def test_retransmitted_pre_prepare_repeats_the_version_the_replica_was_told() -> None:
    h = harness(0, {"split": [[3]]})
    behavior = make_behavior("equivocate", h.ctx)
    honest = pre_prepare((request(),))
    h.core.script.append([Broadcast(envelope=honest)])
    first = sends_by_recipient(behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.0))
    h.core.script.append([Send(to="r3", envelope=honest), Send(to="r1", envelope=honest)])

    again = sends_by_recipient(behavior.step(TimerFired(timer=TimerName("status")), now_s=1.0))

    assert again["r3"] == [first["r3"][0]]
    assert again["r1"] == [honest]


def test_withholding_commits_sends_no_commit_at_all() -> None:
    h = harness(0, {"split": [[3]], "withhold_commits": True})
    behavior = make_behavior("equivocate", h.ctx)
    honest = pre_prepare((request(),))
    commit = signed(
        "r0",
        Commit(view=View(0), seq=Seq(1), digest=honest.payload.digest, replica=ReplicaId(0)),  # type: ignore[union-attr]
    )
    h.core.script.append([Broadcast(envelope=honest)])
    h.core.script.append([Broadcast(envelope=commit)])

    effects = behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.0)
    effects += behavior.step(TimerFired(timer=TimerName("status")), now_s=0.1)

    envelopes = [e for sent in sends_by_recipient(effects).values() for e in sent]
    assert not any(isinstance(e.payload, Commit) for e in envelopes)
    assert sum(isinstance(e.payload, PrePrepare) for e in envelopes) == 3


def test_effects_that_are_not_messages_pass_through_in_order() -> None:
    h = harness(0, {"split": [[3]]})
    behavior = make_behavior("equivocate", h.ctx)
    executed = Executed(
        replica=ReplicaId(0),
        view=View(0),
        seq=Seq(1),
        digest=b"d" * 32,
        requests=(Request(client="c0", timestamp=1, operation=b"op"),),
        results=(b"ok",),
    )
    timer = StartTimer(timer=TimerName("view-change"), fires_at_s=1.0)
    h.core.script.append([timer, executed])

    assert behavior.step(TimerFired(timer=TimerName("t")), now_s=0.0) == [timer, executed]


def test_a_submit_is_ignored_rather_than_passed_to_the_replica_core() -> None:
    h = harness(0)
    behavior = make_behavior("equivocate", h.ctx)
    assert behavior.step(Submit(operation=b"x"), now_s=0.0) == []
    assert h.core.inputs == []


def test_the_default_split_tells_the_upper_half_of_the_backups_another_story() -> None:
    h = harness(0)
    behavior = make_behavior("equivocate", h.ctx)
    honest = pre_prepare((request(),))
    h.core.script.append([Broadcast(envelope=honest)])

    sent = sends_by_recipient(behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.0))

    assert sent["r1"][0] == honest
    assert _the_pre_prepare(sent["r2"]).batch == ()
    assert _the_pre_prepare(sent["r3"]).batch == ()


@pytest.mark.parametrize(
    ("behavior", "params", "fragment"),
    [
        ("equivocate", {"spilt": [[3]]}, "'spilt'"),
        ("equivocate", {"split": [[4]]}, "replica 4 in group 0, which does not exist"),
        ("equivocate", {"split": [[1], [1]]}, "in two groups"),
        ("equivocate", {"split": [3]}, "group 0 is 3"),
        ("equivocate", {"split": []}, "non-empty list"),
        ("equivocate", {"split": [[True]]}, "not a replica id"),
        ("equivocate", {"alternative": "shuffle"}, "'alternative' must be one of"),
        ("equivocate", {"withhold_commits": "yes"}, "true or false"),
        ("collude", {"split": [[3]]}, "has no parameter 'split'"),
    ],
)
def test_bad_params_are_refused_with_a_message_naming_them(
    behavior: str, params: dict[str, object], fragment: str
) -> None:
    with pytest.raises(BehaviorParamError, match=fragment):
        make_behavior(behavior, harness(0, params).ctx)


def test_a_request_with_a_forged_signature_is_never_put_into_an_alternative() -> None:
    h = harness(0, {"split": [[3]], "alternative": "stale"})
    behavior = make_behavior("equivocate", h.ctx)
    genuine = request("c0", 1)
    forged = attrs.evolve(request("c1", 1), signature=b"\x00" * 64)
    behavior.step(Received(envelope=forged), now_s=0.0)
    honest = pre_prepare((genuine,))
    h.core.script.append([Broadcast(envelope=honest)])

    sent = sends_by_recipient(behavior.step(TimerFired(timer=TimerName("batch")), now_s=0.1))

    assert forged not in _the_pre_prepare(sent["r3"]).batch
    assert _the_pre_prepare(sent["r3"]).batch == ()  # no stale request to add: the null batch
