"""The replica core, rule by rule (OSDI '99 §4), as interaction traces in the test harness."""

from __future__ import annotations

import pytest

from pbft.config import Config
from pbft.effects import Broadcast, Persist, Send
from pbft.messages import Prepare, PrePrepare, Reply
from tests.pbft.replica.harness import Cluster


def committed_digests(cluster: Cluster, i: int) -> dict[int, bytes]:
    return {e.seq: e.digest for e in cluster.executed(i)}


@pytest.mark.parametrize("f", [1, 2, 3])
def test_normal_case_executes_a_request_on_every_replica(f: int) -> None:
    """§4.2: request -> pre-prepare -> prepare -> commit -> execute -> reply, n = 3f + 1."""
    cluster = Cluster(Config.for_f(f, batch_delay_s=0.0))
    cluster.start()
    cluster.submit("c0", b"op-1")
    cluster.flush()
    for i in range(cluster.config.n):
        executed = cluster.executed(i)
        assert [(e.seq, [r.operation for r in e.requests]) for e in executed] == [(1, [b"op-1"])]
        assert cluster.services[i].operations == [b"op-1"]
    assert cluster.replies("c0", 1) == {i: b"1" for i in range(cluster.config.n)}
    assert all(r.status().last_executed == 1 for r in cluster.replicas.values())


def test_primary_persists_the_pre_prepare_before_sending_it() -> None:
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0))
    cluster.start()
    effects = cluster.inject(0, cluster.request("c0", b"x"))
    kinds = [type(e).__name__ for e in effects]
    assert kinds.index("Persist") < kinds.index("Broadcast")
    broadcast = next(e for e in effects if isinstance(e, Broadcast))
    assert isinstance(broadcast.envelope.payload, PrePrepare)


def test_batching_puts_several_requests_in_one_pre_prepare() -> None:
    cluster = Cluster(Config.for_f(1, batch_size_max=3, batch_delay_s=0.01))
    cluster.start()
    for client in ("c0", "c1", "c2", "c3"):
        cluster.submit(client, client.encode())
    cluster.flush()
    # Three requests fill a batch at once; the fourth waits for the batch timer.
    assert [len(e.requests) for e in cluster.executed(1)] == [3]
    cluster.run(0.02)
    assert [len(e.requests) for e in cluster.executed(1)] == [3, 1]


def test_retransmitted_request_is_answered_again_not_executed_again() -> None:
    """§4.1: the reply cache answers a retransmission; the service runs the operation once."""
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0))
    cluster.start()
    request = cluster.submit("c0", b"once")
    cluster.flush()
    effects = cluster.inject(2, request)
    assert [type(e) for e in effects] == [Send]
    reply = effects[0].envelope.payload  # type: ignore[union-attr]
    assert isinstance(reply, Reply) and reply.result == b"1" and reply.timestamp == 1
    cluster.flush()
    assert all(s.operations == [b"once"] for s in cluster.services.values())


def test_request_in_two_batches_is_executed_once() -> None:
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0))
    cluster.start()
    request = cluster.request("c0", b"dup")
    primary = cluster.replicas[0]
    # A faulty-looking primary behaviour is not needed: craft two pre-prepares by hand.
    from pbft.messages import batch_digest, sign

    for seq in (1, 2):
        pp = PrePrepare(view=0, seq=seq, digest=batch_digest((request,)), batch=(request,))
        envelope = sign(cluster.signer(0), pp)
        for i in (1, 2, 3):
            cluster.inject(i, envelope)
    del primary
    cluster.flush()
    for i in (1, 2, 3):
        executed = cluster.executed(i)
        assert [e.seq for e in executed] == [1, 2]
        assert [len(e.requests) for e in executed] == [1, 0]
        assert cluster.services[i].operations == [b"dup"]


def test_second_pre_prepare_with_another_digest_is_rejected() -> None:
    """§4.2: a backup accepts at most one digest per (view, seq)."""
    from pbft.messages import batch_digest, sign

    cluster = Cluster(Config.for_f(1))
    cluster.start()
    a, b = cluster.request("c0", b"a"), cluster.request("c1", b"b")
    first = sign(
        cluster.signer(0), PrePrepare(view=0, seq=1, digest=batch_digest((a,)), batch=(a,))
    )
    second = sign(
        cluster.signer(0), PrePrepare(view=0, seq=1, digest=batch_digest((b,)), batch=(b,))
    )
    effects = cluster.inject(1, first)
    assert [type(e).__name__ for e in effects if not type(e).__name__.endswith("Timer")] == [
        "Persist",
        "Broadcast",
    ]
    effects = cluster.inject(1, second)
    assert [e.reason for e in cluster.rejected(1)] == ["conflicting-pre-prepare"]
    assert not any(isinstance(e, Broadcast) for e in effects)
    assert cluster.replicas[1].rejections == {"conflicting-pre-prepare": 1}


@pytest.mark.parametrize("seq", [0, 129, 10_000])
def test_pre_prepare_outside_the_window_is_rejected(seq: int) -> None:
    """§4.2: only seqs in (h, h + L] are accepted (L = 128 here); far above is not held."""
    from pbft.messages import batch_digest, sign

    cluster = Cluster(Config.for_f(1, checkpoint_interval=64, window_size=128))
    cluster.start()
    request = cluster.request("c0", b"x")
    pp = PrePrepare(view=0, seq=seq, digest=batch_digest((request,)), batch=(request,))
    envelope = sign(cluster.signer(0), pp)
    effects = cluster.inject(1, envelope)
    if seq == 129:
        # Just above H: held back until the window moves, never prepared now.
        assert not any(isinstance(e, Broadcast) for e in effects)
        assert cluster.replicas[1].rejections == {}
    else:
        assert cluster.replicas[1].rejections == {"outside-window": 1}
        assert not any(isinstance(e, Broadcast | Persist) for e in effects)


def test_pre_prepare_from_a_backup_is_rejected() -> None:
    from pbft.messages import batch_digest, sign

    cluster = Cluster(Config.for_f(1))
    cluster.start()
    request = cluster.request("c0", b"x")
    pp = PrePrepare(view=0, seq=1, digest=batch_digest((request,)), batch=(request,))
    cluster.inject(1, sign(cluster.signer(2), pp))
    assert cluster.replicas[1].rejections == {"not-from-primary": 1}


def test_pre_prepare_with_wrong_digest_or_bad_client_signature_is_rejected() -> None:
    import attrs

    from pbft.messages import batch_digest, sign

    cluster = Cluster(Config.for_f(1))
    cluster.start()
    request = cluster.request("c0", b"x")
    bad_digest = PrePrepare(view=0, seq=1, digest=b"\0" * 32, batch=(request,))
    cluster.inject(1, sign(cluster.signer(0), bad_digest))
    forged = attrs.evolve(request, signature=b"\1" * 64)
    bad_client = PrePrepare(view=0, seq=2, digest=batch_digest((forged,)), batch=(forged,))
    cluster.inject(1, sign(cluster.signer(0), bad_client))
    assert cluster.replicas[1].rejections == {"bad-digest": 1, "bad-client-signature": 1}


def test_prepare_from_the_primary_is_rejected() -> None:
    from pbft.messages import sign

    cluster = Cluster(Config.for_f(1))
    cluster.start()
    prepare = Prepare(view=0, seq=1, digest=b"\0" * 32, replica=0)
    cluster.inject(1, sign(cluster.signer(0), prepare))
    assert cluster.replicas[1].rejections == {"prepare-from-primary": 1}


def test_execution_is_in_order_when_commits_arrive_out_of_order() -> None:
    """§4.2: a committed seq waits for every lower seq to execute."""
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0))
    cluster.start()
    # Hold every COMMIT for seq 1 at replica 3; seq 2 then commits first there.
    held = []

    def drop(delivery):  # type: ignore[no-untyped-def]
        payload = delivery.envelope.payload
        if delivery.to == "r3" and type(payload).__name__ == "Commit" and payload.seq == 1:
            held.append(delivery)
            return True
        return False

    cluster.drop = drop
    cluster.submit("c0", b"first")
    cluster.flush()
    cluster.submit("c1", b"second")
    cluster.flush()
    assert cluster.executed(3) == []
    cluster.drop = lambda delivery: False
    for delivery in held:
        cluster.deliver(delivery)
    assert [e.seq for e in cluster.executed(3)] == [1, 2]
    assert cluster.services[3].operations == [b"first", b"second"]


def test_backup_forwards_a_request_to_the_primary_and_arms_its_timer() -> None:
    cluster = Cluster(Config.for_f(1))
    cluster.start()
    effects = cluster.inject(2, cluster.request("c0", b"x"))
    sends = [e for e in effects if isinstance(e, Send)]
    assert [s.to for s in sends] == ["r0"]
    assert "view-change" in [getattr(e, "timer", None) for e in effects]
    assert (2, "view-change") in cluster.timers


def test_stale_request_is_rejected() -> None:
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0))
    cluster.start()
    old = cluster.submit("c0", b"1")
    cluster.submit("c0", b"2")
    cluster.flush()
    cluster.inject(1, old)
    assert cluster.replicas[1].rejections == {"stale": 1}


def test_garbage_from_unknown_or_wrong_senders_is_counted() -> None:
    import attrs

    from pbft.messages import Checkpoint, sign

    cluster = Cluster(Config.for_f(1))
    cluster.start()
    checkpoint = Checkpoint(seq=64, state_digest=b"\0" * 32, replica=2)
    envelope = sign(cluster.signer(2), checkpoint)
    cluster.inject(1, attrs.evolve(envelope, sender="r9"))
    cluster.inject(1, sign(cluster.signer(3), checkpoint))
    cluster.inject(1, attrs.evolve(envelope, signature=b"\0" * 64))
    cluster.inject(
        1, sign(cluster.signer(2), Reply(view=0, timestamp=1, client="c0", replica=2, result=b""))
    )
    assert cluster.replicas[1].rejections == {
        "bad-signature": 1,
        "unexpected-message": 1,
        "unknown-sender": 1,
        "wrong-sender": 1,
    }


def test_batches_stay_within_the_frame_cap() -> None:
    config = Config.for_f(1, batch_size_max=10, batch_delay_s=0.0, max_frame_bytes=4096)
    cluster = Cluster(config)
    cluster.start()
    # The primary queues four 900-byte requests while its window is held shut.
    primary = cluster.replicas[0]
    for client in ("c0", "c1", "c2", "c3"):
        envelope = cluster.request(client, bytes(900))
        primary._waiting[client] = envelope
        primary._queue[client] = envelope
    batch = primary._take_batch()
    # Budget 2048 bytes, 1156 per request as estimated: one request per batch.
    assert len(batch) == 1
    assert len(primary._queue) == 3
