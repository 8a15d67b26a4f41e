"""View changes (OSDI '99 §4.4, §4.5.2), as interaction traces in the test harness."""

from __future__ import annotations

import attrs

from pbft.config import Config
from pbft.effects import Broadcast, EnteredView, StartTimer
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    Checkpoint,
    NewView,
    PrePrepare,
    ViewChange,
    batch_digest,
    sign,
)
from pbft.replica.verifier import Verifier
from pbft.replica.view_change import (
    CheckedViewChange,
    check_new_view,
    compute_new_view_plan,
)
from tests.pbft.replica.harness import Cluster


def entered_views(cluster: Cluster, i: int) -> list[int]:
    return [e.view for e in cluster.effects[i] if isinstance(e, EnteredView)]


def no_commits(delivery) -> bool:  # type: ignore[no-untyped-def]
    """Lose every COMMIT of view 0 (retransmissions included)."""
    payload = delivery.envelope.payload
    return type(payload).__name__ == "Commit" and payload.view == 0


def config(**overrides: object) -> Config:
    settings: dict[str, object] = dict(
        batch_delay_s=0.0,
        adaptive_timeouts=False,
        view_change_timeout_s=1.0,
        status_interval_s=0.25,
    )
    settings.update(overrides)
    return Config.for_f(1, **settings)  # type: ignore[arg-type]


def test_crashed_primary_is_replaced_and_the_request_executes() -> None:
    cluster = Cluster(config())
    cluster.start()
    cluster.crash(0)
    cluster.submit("c0", b"x", to=[1, 2, 3])  # the client's retransmission goes to all
    cluster.run(3.0)
    for i in (1, 2, 3):
        assert entered_views(cluster, i) == [0, 1]
        assert cluster.services[i].operations == [b"x"]
        assert cluster.replicas[i].status().view == 1
        assert not cluster.replicas[i].status().view_change_in_progress


def test_new_primary_re_proposes_the_prepared_digest() -> None:
    """§4.4: a batch prepared (not committed) in view 0 keeps its seq and digest in view 1."""
    cluster = Cluster(config())
    cluster.start()
    cluster.drop = no_commits
    cluster.submit("c0", b"prepared")
    cluster.flush()
    assert all(r.status().last_executed == 0 for r in cluster.replicas.values())
    digest = cluster.replicas[1]._log.get(Seq(1)).prepared.pre_prepare.payload.digest  # type: ignore[union-attr]
    cluster.crash(0)
    cluster.run(3.0)
    for i in (1, 2, 3):
        executed = cluster.executed(i)
        assert [(e.view, e.seq, e.digest) for e in executed] == [(1, 1, digest)]
        assert cluster.services[i].operations == [b"prepared"]


def test_view_change_does_not_lower_last_executed_nor_re_execute() -> None:
    cluster = Cluster(config(checkpoint_interval=4, window_size=8))
    cluster.start()
    for n in range(3):
        cluster.submit("c0", b"%d" % n)
        cluster.flush()

    # Seq 3 commits at r3 only.
    def only_r3_commits(d):  # type: ignore[no-untyped-def]
        return type(d.envelope.payload).__name__ == "Commit" and d.to != "r3"

    cluster.drop = only_r3_commits
    cluster.submit("c1", b"late")
    cluster.flush()
    assert cluster.replicas[3].status().last_executed == 4
    assert cluster.replicas[1].status().last_executed == 3
    cluster.drop = lambda d: False
    cluster.crash(0)
    cluster.run(3.0)
    for i in (1, 2, 3):
        seqs = [e.seq for e in cluster.executed(i)]
        assert seqs == sorted(set(seqs)) == [1, 2, 3, 4]
        assert cluster.replicas[i].status().last_executed == 4
        assert cluster.services[i].operations == [b"0", b"1", b"2", b"late"]


def test_join_rule_needs_f_plus_one_view_changes() -> None:
    """§4.5.2: f + 1 VIEW-CHANGEs for higher views make a replica join the smallest."""
    cluster = Cluster(config())
    cluster.start()
    vc2 = sign(
        cluster.signer(2),
        ViewChange(
            new_view=View(1),
            stable_seq=Seq(0),
            checkpoint_proof=(),
            prepared=(),
            replica=ReplicaId(2),
        ),
    )
    vc3 = sign(
        cluster.signer(3),
        ViewChange(
            new_view=View(2),
            stable_seq=Seq(0),
            checkpoint_proof=(),
            prepared=(),
            replica=ReplicaId(3),
        ),
    )
    effects = cluster.inject(1, vc2)
    assert cluster.replicas[1].status().view == 0
    assert not any(isinstance(e, Broadcast) for e in effects)
    effects = cluster.inject(1, vc3)
    status = cluster.replicas[1].status()
    assert (status.view, status.view_change_in_progress) == (1, True)
    sent = [e.envelope.payload for e in effects if isinstance(e, Broadcast)]
    assert [(p.new_view, p.replica) for p in sent if isinstance(p, ViewChange)] == [(1, 1)]


def test_view_change_timeouts_double_on_successive_view_changes() -> None:
    """§4.5.2: the wait for view v+2 is twice that for v+1 (view_change_timeout_s = 1)."""
    cluster = Cluster(
        Config.for_f(
            2,
            batch_delay_s=0.0,
            adaptive_timeouts=False,
            view_change_timeout_s=1.0,
            status_interval_s=0.25,
        )
    )
    cluster.start()
    cluster.crash(0)
    cluster.crash(1)  # the primaries of views 0 and 1
    cluster.submit("c0", b"x", to=range(2, 7))
    cluster.run(10.0)
    starts = [
        (e.fires_at_s)
        for e in cluster.effects[4]
        if isinstance(e, StartTimer) and e.timer == "view-change"
    ]
    views = entered_views(cluster, 4)
    assert views == [0, 2]
    # armed at 0 for the request (1 s), for view 1 (1 s), for view 2 (2 s), in view 2 (2 s)
    fired_at = [0.0, 1.0, 2.0]
    assert starts[:3] == [fired_at[0] + 1.0, fired_at[1] + 1.0, fired_at[2] + 2.0]
    assert cluster.services[4].operations == [b"x"]


def _valid_view_changes(
    cluster: Cluster, view: int, replicas: list[int]
) -> list[CheckedViewChange]:
    verifier = Verifier(config=cluster.config, keyring=cluster.keyring)
    from pbft.replica.view_change import check_view_change

    out = []
    for r in replicas:
        env = sign(
            cluster.signer(r),
            ViewChange(
                new_view=View(view),
                stable_seq=Seq(0),
                checkpoint_proof=(),
                prepared=(),
                replica=ReplicaId(r),
            ),
        )
        checked = check_view_change(env, config=cluster.config, verifier=verifier)
        assert isinstance(checked, CheckedViewChange)
        out.append(checked)
    return out


def test_new_view_with_a_wrong_o_is_rejected() -> None:
    cluster = Cluster(config())
    cluster.start()
    vcs = _valid_view_changes(cluster, 1, [0, 2, 3])
    request = cluster.request("c0", b"sneaked in")
    forged = sign(
        cluster.signer(1),
        PrePrepare(view=View(1), seq=Seq(1), digest=batch_digest((request,)), batch=(request,)),
    )
    nv = sign(
        cluster.signer(1),
        NewView(view=View(1), view_changes=tuple(c.envelope for c in vcs), pre_prepares=(forged,)),
    )
    cluster.inject(2, vcs[1].envelope)  # make r2 start changing views? not needed: NV moves it
    effects = cluster.inject(2, nv)
    assert cluster.replicas[2].rejections.get("wrong-new-view") == 1
    assert not any(isinstance(e, EnteredView) for e in effects)
    # The correct NEW-VIEW (empty O) is accepted.
    good = sign(
        cluster.signer(1),
        NewView(view=View(1), view_changes=tuple(c.envelope for c in vcs), pre_prepares=()),
    )
    effects = cluster.inject(2, good)
    assert [e.view for e in effects if isinstance(e, EnteredView)] == [1]


def test_new_view_with_too_few_view_changes_is_rejected() -> None:
    cluster = Cluster(config())
    cluster.start()
    vcs = _valid_view_changes(cluster, 1, [0, 2])
    nv = sign(
        cluster.signer(1),
        NewView(view=View(1), view_changes=tuple(c.envelope for c in vcs), pre_prepares=()),
    )
    cluster.inject(3, nv)
    assert cluster.replicas[3].rejections == {"invalid-certificate": 1}
    assert isinstance(
        check_new_view(
            nv,
            config=cluster.config,
            verifier=Verifier(config=cluster.config, keyring=cluster.keyring),
        ),
        str,
    )


def test_an_invalid_view_change_does_not_spoil_the_valid_ones() -> None:
    """concord-bft #50: the new primary checks each VIEW-CHANGE on its own."""
    cluster = Cluster(config())
    cluster.start()
    bogus_proof = tuple(
        sign(
            cluster.signer(r),
            Checkpoint(seq=Seq(64), state_digest=bytes([r]) * 32, replica=ReplicaId(r)),
        )
        for r in (0, 2, 3)
    )
    bad = sign(
        cluster.signer(3),
        ViewChange(
            new_view=View(1),
            stable_seq=Seq(64),
            checkpoint_proof=bogus_proof,
            prepared=(),
            replica=ReplicaId(3),
        ),
    )
    cluster.inject(1, bad)
    assert cluster.replicas[1].rejections == {"invalid-certificate": 1}
    for checked in _valid_view_changes(cluster, 1, [0, 2]):
        effects = cluster.inject(1, checked.envelope)
    # r1 joined (f + 1 = 2 valid view changes) and, as primary of view 1, sent NEW-VIEW.
    new_views = [
        e.envelope.payload
        for e in effects
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, NewView)
    ]
    assert len(new_views) == 1
    assert sorted(m.payload.replica for m in new_views[0].view_changes) == [0, 1, 2]  # type: ignore[union-attr]


def test_compute_o_takes_the_highest_view_and_fills_gaps_with_null() -> None:
    cluster = Cluster(config())
    from pbft.messages import Prepare, PreparedCertificate
    from pbft.replica.view_change import check_view_change

    verifier = Verifier(config=cluster.config, keyring=cluster.keyring)
    a, b = cluster.request("c0", b"a"), cluster.request("c1", b"b")

    def certificate(view: int, seq: int, batch):  # type: ignore[no-untyped-def]
        primary = view % 4
        pp = sign(
            cluster.signer(primary),
            PrePrepare(view=View(view), seq=Seq(seq), digest=batch_digest(batch), batch=batch),
        )
        backups = [r for r in range(4) if r != primary][:2]
        prepares = tuple(
            sign(
                cluster.signer(r),
                Prepare(
                    view=View(view), seq=Seq(seq), digest=batch_digest(batch), replica=ReplicaId(r)
                ),
            )
            for r in backups
        )
        return PreparedCertificate(pre_prepare=pp, prepares=prepares)

    def vc(replica: int, *certs):  # type: ignore[no-untyped-def]
        env = sign(
            cluster.signer(replica),
            ViewChange(
                new_view=View(3),
                stable_seq=Seq(0),
                checkpoint_proof=(),
                prepared=certs,
                replica=ReplicaId(replica),
            ),
        )
        checked = check_view_change(env, config=cluster.config, verifier=verifier)
        assert isinstance(checked, CheckedViewChange), checked
        return checked

    plan = compute_new_view_plan(
        View(3),
        [
            vc(0, certificate(0, 1, (a,))),
            vc(1, certificate(1, 1, (b,)), certificate(1, 3, (a,))),
            vc(2),
        ],
    )
    assert [(seq, digest) for seq, digest, _ in plan.pre_prepares] == [
        (1, batch_digest((b,))),  # view 1 beats view 0
        (2, batch_digest(())),  # no certificate: null request
        (3, batch_digest((a,))),
    ]
    assert plan.stable_seq == 0


def test_prepared_certificate_with_too_few_prepares_is_invalid() -> None:
    cluster = Cluster(config())
    from pbft.messages import Prepare, PreparedCertificate
    from pbft.replica.view_change import check_view_change

    a = cluster.request("c0", b"a")
    pp = sign(
        cluster.signer(0),
        PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest((a,)), batch=(a,)),
    )
    one = sign(
        cluster.signer(1),
        Prepare(view=View(0), seq=Seq(1), digest=batch_digest((a,)), replica=ReplicaId(1)),
    )
    for prepares in [
        (one,),
        (one, one),
        (one, sign(cluster.signer(0), attrs.evolve(one.payload, replica=ReplicaId(0)))),
    ]:
        env = sign(
            cluster.signer(2),
            ViewChange(
                new_view=View(1),
                stable_seq=Seq(0),
                checkpoint_proof=(),
                prepared=(PreparedCertificate(pre_prepare=pp, prepares=prepares),),
                replica=ReplicaId(2),
            ),
        )
        result = check_view_change(
            env,
            config=cluster.config,
            verifier=Verifier(config=cluster.config, keyring=cluster.keyring),
        )
        assert isinstance(result, str)


def test_normal_pre_prepare_cannot_reuse_a_seq_decided_by_new_view() -> None:
    """O fixes every seq up to max-s; the new primary may not propose another batch there."""
    from pbft.messages import Prepare, PreparedCertificate
    from pbft.replica.view_change import check_view_change

    cluster = Cluster(config())
    cluster.start()
    verifier = Verifier(config=cluster.config, keyring=cluster.keyring)
    a, b = cluster.request("c0", b"a"), cluster.request("c1", b"b")
    pp0 = sign(
        cluster.signer(0),
        PrePrepare(view=View(0), seq=Seq(2), digest=batch_digest((a,)), batch=(a,)),
    )
    prepares = tuple(
        sign(
            cluster.signer(r),
            Prepare(view=View(0), seq=Seq(2), digest=batch_digest((a,)), replica=ReplicaId(r)),
        )
        for r in (2, 3)
    )
    certificate = PreparedCertificate(pre_prepare=pp0, prepares=prepares)
    vcs = []
    for r in (0, 2, 3):
        prepared = (certificate,) if r == 2 else ()
        envelope = sign(
            cluster.signer(r),
            ViewChange(
                new_view=View(1),
                stable_seq=Seq(0),
                checkpoint_proof=(),
                prepared=prepared,
                replica=ReplicaId(r),
            ),
        )
        checked = check_view_change(envelope, config=cluster.config, verifier=verifier)
        assert isinstance(checked, CheckedViewChange)
        vcs.append(checked)
    plan = compute_new_view_plan(View(1), vcs)
    o = tuple(
        sign(cluster.signer(1), PrePrepare(view=View(1), seq=seq, digest=d, batch=batch))
        for seq, d, batch in plan.pre_prepares
    )
    nv = sign(
        cluster.signer(1),
        NewView(view=View(1), view_changes=tuple(c.envelope for c in vcs), pre_prepares=o),
    )
    effects = cluster.inject(3, nv)
    assert [e.view for e in effects if isinstance(e, EnteredView)] == [1]
    # Seq 1 is a null request in O; the primary may not fill it with b now.
    sneaky = sign(
        cluster.signer(1),
        PrePrepare(view=View(1), seq=Seq(1), digest=batch_digest((b,)), batch=(b,)),
    )
    cluster.inject(3, sneaky)
    assert cluster.replicas[3].rejections == {"conflicting-pre-prepare": 1}
    # Seq 3 is beyond max-s: a fresh pre-prepare is fine.
    fresh = sign(
        cluster.signer(1),
        PrePrepare(view=View(1), seq=Seq(3), digest=batch_digest((b,)), batch=(b,)),
    )
    effects = cluster.inject(3, fresh)
    assert any(isinstance(e, Broadcast) for e in effects)


def test_a_primary_that_ignores_one_client_is_replaced_even_while_it_orders_others() -> None:
    """§4.4: a backup's timer runs until the request it waits for executes, not until any does.

    The primary never sees c0's request (as if it ignored it) but keeps ordering c1's requests
    faster than the timeout; the backups, waiting for c0's request, must still change views.
    """
    cluster = Cluster(config())
    cluster.start()
    cluster.drop = lambda d: (
        d.to == "r0" and type(d.envelope.payload).__name__ == "Request" and d.sender != "c1"
    )
    cluster.submit("c0", b"censored", to=[1, 2, 3])
    for n in range(12):
        cluster.submit("c1", b"%d" % n, to=[0])
        cluster.run(0.5)
    for i in (1, 2, 3):
        assert entered_views(cluster, i)[-1] >= 1
        assert b"censored" in cluster.services[i].operations


def _changing_to_view_1(cluster: Cluster, i: int) -> None:
    """Make replica ``i`` join view 1 (f + 1 VIEW-CHANGEs) without its NEW-VIEW yet."""
    for checked in _valid_view_changes(cluster, 1, [1, 2]):
        cluster.inject(i, checked.envelope)
    status = cluster.replicas[i].status()
    assert (status.view, status.view_change_in_progress) == (1, True)


def _new_view_1(cluster: Cluster) -> NewView:
    vcs = _valid_view_changes(cluster, 1, [0, 1, 2])
    return NewView(view=View(1), view_changes=tuple(c.envelope for c in vcs), pre_prepares=())


def _pre_prepare(cluster: Cluster, view: int, seq: int, operation: bytes):  # type: ignore[no-untyped-def]
    request = cluster.request("c0", operation)
    return sign(
        cluster.signer(view % cluster.config.n),
        PrePrepare(
            view=View(view), seq=Seq(seq), digest=batch_digest((request,)), batch=(request,)
        ),
    )


def prepared_seqs(effects: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    from pbft.messages import Prepare

    return [
        (e.envelope.payload.view, e.envelope.payload.seq)
        for e in effects
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, Prepare)
    ]


def test_a_pre_prepare_that_overtakes_its_new_view_is_prepared_once_the_view_begins() -> None:
    """The new primary proposes right after NEW-VIEW; a backup may see the proposal first.

    Refusing it left the slot unprepared until a status-period retransmission, and the
    backups' timer often moved the cluster to yet another view.
    """
    cluster = Cluster(config())
    cluster.start()
    _changing_to_view_1(cluster, 3)
    early = _pre_prepare(cluster, 1, 1, b"first in view 1")
    effects = cluster.inject(3, early)
    assert prepared_seqs(effects) == []
    assert cluster.replicas[3].rejections == {}
    effects = cluster.inject(3, sign(cluster.signer(1), _new_view_1(cluster)))
    assert [e.view for e in effects if isinstance(e, EnteredView)] == [1]
    assert prepared_seqs(effects) == [(1, 1)]
    assert cluster.replicas[3].rejections == {}


def test_a_held_pre_prepare_is_checked_in_full_when_the_view_begins() -> None:
    cluster = Cluster(config())
    cluster.start()
    _changing_to_view_1(cluster, 3)
    good = _pre_prepare(cluster, 1, 2, b"good")
    forged = good.payload
    assert isinstance(forged, PrePrepare)
    bad = sign(cluster.signer(1), attrs.evolve(forged, seq=Seq(1), digest=b"\x00" * 32))
    cluster.inject(3, bad)
    cluster.inject(3, good)
    effects = cluster.inject(3, sign(cluster.signer(1), _new_view_1(cluster)))
    assert prepared_seqs(effects) == [(1, 2)]
    assert cluster.replicas[3].rejections == {"bad-digest": 1}


def test_only_pre_prepares_of_the_view_being_entered_are_held_and_at_most_a_window() -> None:
    cluster = Cluster(config(window_size=4, checkpoint_interval=2))
    cluster.start()
    _changing_to_view_1(cluster, 3)
    cluster.inject(3, _pre_prepare(cluster, 2, 1, b"a view beyond"))
    assert cluster.replicas[3].rejections == {"wrong-view": 1}
    for seq in range(1, 12):
        cluster.inject(3, _pre_prepare(cluster, 1, seq, b"%d" % seq))
    assert len(cluster.replicas[3]._entering_view_held[ReplicaId(1)]) == 4
    effects = cluster.inject(3, sign(cluster.signer(1), _new_view_1(cluster)))
    # Seqs 1-4 fill the window; nothing beyond a window was kept.
    assert prepared_seqs(effects) == [(1, 1), (1, 2), (1, 3), (1, 4)]


def test_pre_prepares_held_for_a_view_that_never_began_are_dropped() -> None:
    cluster = Cluster(config())
    cluster.start()
    _changing_to_view_1(cluster, 3)
    cluster.inject(3, _pre_prepare(cluster, 1, 1, b"never ordered"))
    for checked in _valid_view_changes(cluster, 2, [1, 2]):
        cluster.inject(3, checked.envelope)
    assert cluster.replicas[3].status().view == 2
    assert cluster.replicas[3]._entering_view_held == {}


def test_a_replica_that_enters_a_view_behind_its_checkpoint_keeps_what_the_view_sends_it() -> None:
    """r3 enters view 1 two windows behind min-s and fetches that state; the new primary's
    first pre-prepare and the prepares for it arrive before the snapshot. Dropped, they left
    the slot unprepared (r0 is down, so every quorum needs r3) until a retransmission a
    status period later, and the backups' timer moved the cluster on to view 2."""
    from pbft.messages import Request

    cluster = Cluster(config(checkpoint_interval=2, window_size=4, status_interval_s=10.0))
    cluster.start()
    cluster.drop = lambda d: "r3" in (d.to, d.sender)
    for n in range(9):
        cluster.submit(f"c{n % 4}", b"%d" % n)
        cluster.flush()
    assert cluster.replicas[1].status().stable_seq == 8
    assert cluster.replicas[3].status().last_executed == 0
    cluster.drop = lambda d: False
    cluster.crash(0)
    request = cluster.submit("c1", b"after the view change", to=[1, 2, 3])
    cluster.flush()
    cluster.fire(1, "view-change")
    cluster.fire(2, "view-change")
    cluster.flush()  # no timer fires: no retransmission may help
    payload = request.payload
    assert isinstance(payload, Request)
    for i in (1, 2, 3):
        status = cluster.replicas[i].status()
        assert (status.view, status.view_change_in_progress) == (1, False)
        assert b"after the view change" in cluster.services[i].operations
    assert cluster.services[3].operations == cluster.services[1].operations
    assert "outside-window" not in cluster.replicas[3].rejections


def test_a_vote_beyond_the_window_for_the_view_being_entered_waits_for_the_new_view() -> None:
    """Before the NEW-VIEW we cannot know its min-s, which may move our window up to the
    vote; the NEW-VIEW then decides, and the vote is checked against the new window."""
    from pbft.messages import Prepare

    cluster = Cluster(config(window_size=4, checkpoint_interval=2))
    cluster.start()
    _changing_to_view_1(cluster, 3)
    prepare = sign(
        cluster.signer(2),
        Prepare(view=View(1), seq=Seq(9), digest=b"\x01" * 32, replica=ReplicaId(2)),
    )
    cluster.inject(3, prepare)  # more than a window above the high mark 4
    assert cluster.replicas[3].rejections == {}
    assert cluster.replicas[3]._entering_view_held == {ReplicaId(2): [prepare]}
    cluster.inject(3, sign(cluster.signer(1), _new_view_1(cluster)))
    # min-s is 0: the window stays (0, 4] and seq 9 is refused now.
    assert cluster.replicas[3].rejections == {"outside-window": 1}
    assert cluster.replicas[3]._entering_view_held == {}
