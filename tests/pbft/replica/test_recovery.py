"""Crash recovery from persisted state, without equivocation (TOCS §4 spirit; our design)."""

from __future__ import annotations

import pytest

from pbft.config import Config
from pbft.effects import Broadcast, Persist, Send
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import Prepare, PrePrepare, ViewChange, batch_digest, sign
from pbft.replica import Replica, persistence
from pbft.replica.persistence import StoredStateError
from tests.pbft.replica.harness import CLIENTS, Cluster, ListService


def config(**overrides: object) -> Config:
    settings: dict[str, object] = dict(
        batch_delay_s=0.0,
        checkpoint_interval=4,
        window_size=8,
        adaptive_timeouts=False,
        view_change_timeout_s=1.0,
        status_interval_s=0.1,
    )
    settings.update(overrides)
    return Config.for_f(1, **settings)  # type: ignore[arg-type]


def submit_sequentially(cluster: Cluster, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        cluster.submit(CLIENTS[n % len(CLIENTS)], b"op-%d" % n)
        cluster.flush()


def test_recovered_backup_rebuilds_its_state_and_catches_up() -> None:
    cluster = Cluster(config())
    cluster.start()
    submit_sequentially(cluster, 6)
    before = list(cluster.services[2].operations)
    cluster.crash(2)
    cluster.recover(2)
    status = cluster.replicas[2].status()
    # Stable checkpoint 4 restored, the committed tail (5, 6) replayed from storage.
    assert (status.stable_seq, status.last_executed) == (4, 6)
    assert cluster.services[2].operations == before
    submit_sequentially(cluster, 3, start=6)
    cluster.run(0.5)
    assert cluster.services[2].operations == cluster.services[0].operations
    # Replay emitted no second Executed for seqs 5 and 6.
    seqs = [e.seq for e in cluster.executed(2)]
    assert seqs == sorted(set(seqs))


def test_recovered_backup_never_prepares_another_digest_for_the_same_slot() -> None:
    cluster = Cluster(config())
    cluster.start()
    a, b = cluster.request("c0", b"a"), cluster.request("c1", b"b")
    first = sign(
        cluster.signer(0),
        PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest((a,)), batch=(a,)),
    )
    second = sign(
        cluster.signer(0),
        PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest((b,)), batch=(b,)),
    )
    effects = cluster.inject(1, first)
    assert any(isinstance(e, Persist) for e in effects)
    cluster.crash(1)
    cluster.network.clear()
    cluster.recover(1)
    effects = cluster.inject(1, second)
    assert not any(isinstance(e, Broadcast) for e in effects)
    assert cluster.replicas[1].rejections == {"conflicting-pre-prepare": 1}


def test_recovered_primary_does_not_reuse_a_sequence_number() -> None:
    cluster = Cluster(config())
    cluster.start()
    cluster.drop = lambda d: d.sender == "r0" and d.to.startswith("r")  # nothing reaches backups
    submit_sequentially(cluster, 2)
    cluster.crash(0)
    cluster.recover(0)
    cluster.drop = lambda d: False
    submit_sequentially(cluster, 1, start=2)
    proposals: dict[tuple[int, int], set[bytes]] = {}
    for effect in cluster.effects[0]:
        if isinstance(effect, Broadcast) and isinstance(effect.envelope.payload, PrePrepare):
            pp = effect.envelope.payload
            proposals.setdefault((pp.view, pp.seq), set()).add(pp.digest)
    assert all(len(digests) == 1 for digests in proposals.values())
    assert sorted(proposals) == [(0, 1), (0, 2), (0, 3)]


def test_replica_recovered_during_a_view_change_resends_the_same_view_change() -> None:
    cluster = Cluster(config())
    cluster.start()
    for r in (2, 3):
        vc = ViewChange(
            new_view=View(1),
            stable_seq=Seq(0),
            checkpoint_proof=(),
            prepared=(),
            replica=ReplicaId(r),
        )
        cluster.inject(0, sign(cluster.signer(r), vc))
    sent = [
        e.envelope
        for e in cluster.effects[0]
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, ViewChange)
    ]
    assert len(sent) == 1
    cluster.crash(0)
    cluster.network.clear()
    cluster.recover(0)
    status = cluster.replicas[0].status()
    assert (status.view, status.view_change_in_progress) == (1, True)
    resent = [
        e.envelope
        for e in cluster.effects[0]
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, ViewChange)
    ]
    assert resent[-1] == sent[0]


def test_recovered_replica_re_sends_its_prepare_unchanged() -> None:
    cluster = Cluster(config())
    cluster.start()
    a = cluster.request("c0", b"a")
    pp = sign(
        cluster.signer(0),
        PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest((a,)), batch=(a,)),
    )
    effects = cluster.inject(3, pp)
    prepare = next(e.envelope for e in effects if isinstance(e, Broadcast))
    cluster.crash(3)
    cluster.network.clear()
    cluster.recover(3)
    cluster.now_s += 1.0
    from pbft.messages import Status

    status = sign(
        cluster.signer(1),
        Status(view=View(0), stable_seq=Seq(0), last_executed=Seq(0), replica=ReplicaId(1)),
    )
    effects = cluster.inject(3, status)
    resent = [
        e.envelope
        for e in effects
        if isinstance(e, Send) and isinstance(e.envelope.payload, Prepare)
    ]
    assert resent == [prepare]


def test_unreadable_storage_is_a_clear_error() -> None:
    cluster = Cluster(config())
    import pytest

    with pytest.raises(StoredStateError, match="view"):
        Replica.recover(
            config=cluster.config,
            replica=ReplicaId(1),
            signer=cluster.signer(1),
            keyring=cluster.keyring,
            service=ListService(),
            stored={"view": b"\xff\xff"},
        )


def test_replica_that_crashed_before_persisting_its_view_change_sends_one_on_restart() -> None:
    cluster = Cluster(config())
    cluster.stored[2] = {"view": persistence.encode_view(View(1), active=False)}
    cluster.recover(2)
    sent = [
        e.envelope.payload
        for e in cluster.effects[2]
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, ViewChange)
    ]
    assert [(vc.new_view, vc.replica) for vc in sent] == [(1, 2)]
    assert persistence.VIEW_CHANGE_KEY in cluster.stored[2]


@pytest.mark.parametrize("persists_done", [1, 2, 3])
def test_replica_that_crashed_while_entering_a_view_does_not_enter_it_without_its_new_view(
    persists_done: int,
) -> None:
    """A crash between the Persist effects of entering view 1 must not leave a replica that
    believes it is in view 1 but has lost the NEW-VIEW: it would accept a pre-prepare for a
    seq that O decided, with another batch (a Byzantine new primary could then commit it)."""
    from pbft.inputs import Received
    from pbft.messages import NewView

    cluster = Cluster(config())
    cluster.start()
    captured = []

    def lose_commits_and_r2s_new_view(delivery):  # type: ignore[no-untyped-def]
        payload = delivery.envelope.payload
        if isinstance(payload, NewView) and delivery.to == "r2":
            captured.append(delivery.envelope)
            return True
        return type(payload).__name__ == "Commit" and payload.view == 0

    cluster.drop = lose_commits_and_r2s_new_view
    cluster.submit("c0", b"a")
    cluster.flush()  # seq 1 prepared everywhere, committed nowhere
    cluster.crash(0)
    cluster.run(1.5)
    assert captured and cluster.replicas[2].status().view_change_in_progress
    new_view = captured[0]
    effects = cluster.replicas[2].step(Received(envelope=new_view), now_s=cluster.now_s)
    # Crash right after the first ``persists_done`` Persist effects (view, new view, slot 1).
    prefix = []
    for effect in effects:
        prefix.append(effect)
        if sum(isinstance(e, Persist) for e in prefix) == persists_done:
            break
    cluster.crash(2)
    cluster.network.clear()
    cluster.apply(2, prefix)
    cluster.recover(2)
    b = cluster.request("c1", b"b")
    conflicting = sign(
        cluster.signer(1),
        PrePrepare(view=View(1), seq=Seq(1), digest=batch_digest((b,)), batch=(b,)),
    )
    effects = cluster.inject(2, conflicting)
    prepared = [
        e.envelope.payload
        for e in effects
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, Prepare)
    ]
    assert conflicting.payload.digest not in [p.digest for p in prepared]


def test_restarted_replica_still_refuses_pre_prepares_below_the_new_views_checkpoint() -> None:
    """O is empty but min-s = 4: seqs up to 4 are decided by the checkpoint, and a replica
    that has not fetched that state yet must refuse a new pre-prepare there, after a restart
    as before it."""
    from pbft.messages import Checkpoint, NewView

    cluster = Cluster(config())
    cluster.start()
    digest = b"\7" * 32
    proof = tuple(
        sign(cluster.signer(r), Checkpoint(seq=Seq(4), state_digest=digest, replica=ReplicaId(r)))
        for r in (0, 1, 3)
    )
    view_changes = tuple(
        sign(
            cluster.signer(r),
            ViewChange(
                new_view=View(1),
                stable_seq=Seq(4),
                checkpoint_proof=proof,
                prepared=(),
                replica=ReplicaId(r),
            ),
        )
        for r in (0, 1, 3)
    )
    new_view = sign(
        cluster.signer(1), NewView(view=View(1), view_changes=view_changes, pre_prepares=())
    )
    b = cluster.request("c1", b"b")
    below = sign(
        cluster.signer(1),
        PrePrepare(view=View(1), seq=Seq(2), digest=batch_digest((b,)), batch=(b,)),
    )

    def prepares_below(effects) -> list[Prepare]:  # type: ignore[no-untyped-def]
        return [
            e.envelope.payload
            for e in effects
            if isinstance(e, Broadcast) and isinstance(e.envelope.payload, Prepare)
        ]

    cluster.inject(2, new_view)
    assert cluster.replicas[2].status().view == 1
    assert prepares_below(cluster.inject(2, below)) == []
    cluster.crash(2)
    cluster.network.clear()
    cluster.recover(2)
    assert cluster.replicas[2].status().view == 1
    assert prepares_below(cluster.inject(2, below)) == []
