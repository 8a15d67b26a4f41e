"""State transfer and retransmission (TOCS §5.2, §6.2), in the test harness."""

from __future__ import annotations

import hashlib

import attrs

from pbft.config import Config
from pbft.effects import Broadcast, CheckpointStable
from pbft.ids import ReplicaId, Seq
from pbft.messages import Checkpoint, FetchState, StateSnapshot, sign
from pbft.replica.checkpoints import encode_state
from tests.pbft.replica.harness import CLIENTS, Cluster, Delivery


def config(**overrides: object) -> Config:
    settings: dict[str, object] = dict(
        batch_delay_s=0.0,
        checkpoint_interval=2,
        window_size=4,
        adaptive_timeouts=False,
        view_change_timeout_s=2.0,
        status_interval_s=0.1,
    )
    settings.update(overrides)
    return Config.for_f(1, **settings)  # type: ignore[arg-type]


def isolate(replica: str):  # type: ignore[no-untyped-def]
    def drop(delivery: Delivery) -> bool:
        return replica in (delivery.to, delivery.sender)

    return drop


def submit_sequentially(cluster: Cluster, count: int, *, to: list[int] | None = None) -> None:
    for n in range(count):
        cluster.submit(CLIENTS[n % len(CLIENTS)], b"op-%d" % n, to=to)
        cluster.flush()


def test_replica_behind_two_checkpoint_intervals_catches_up_from_a_snapshot() -> None:
    """The others garbage-collected what r3 missed: it needs the checkpoint state."""
    cluster = Cluster(config())
    cluster.start()
    cluster.drop = isolate("r3")
    submit_sequentially(cluster, 9)
    assert cluster.replicas[0].status().stable_seq == 8
    assert cluster.replicas[3].status().last_executed == 0
    cluster.drop = lambda d: False
    cluster.run(1.0)
    status = cluster.replicas[3].status()
    assert status.last_executed == 9
    assert status.stable_seq == 8
    assert cluster.services[3].operations == cluster.services[0].operations
    assert [e.seq for e in cluster.effects[3] if isinstance(e, CheckpointStable)] == [8]
    assert cluster.replicas[3].rejections == {}
    # It takes part again: new requests commit with it.
    submit_sequentially(cluster, 2)
    assert cluster.replicas[3].status().last_executed == 11


def test_replica_slightly_behind_catches_up_from_commit_certificates() -> None:
    cluster = Cluster(config(checkpoint_interval=8, window_size=16))
    cluster.start()
    cluster.drop = isolate("r3")
    submit_sequentially(cluster, 3)
    cluster.drop = lambda d: False
    cluster.run(0.5)
    assert cluster.replicas[3].status().last_executed == 3
    assert cluster.services[3].operations == cluster.services[0].operations
    # No snapshot was needed: r3 executed the three batches itself.
    assert [e.seq for e in cluster.executed(3)] == [1, 2, 3]


def test_snapshot_not_matching_its_proof_is_rejected() -> None:
    cluster = Cluster(config())
    cluster.start()
    state = encode_state(b"\x80", {})
    digest = hashlib.sha256(b"something else").digest()
    proof = tuple(
        sign(cluster.signer(r), Checkpoint(seq=Seq(2), state_digest=digest, replica=ReplicaId(r)))
        for r in (0, 1, 2)
    )
    snapshot = StateSnapshot(
        seq=Seq(2), snapshot=state, checkpoint_proof=proof, replica=ReplicaId(0)
    )
    cluster.inject(3, sign(cluster.signer(0), snapshot))
    weak = attrs.evolve(snapshot, checkpoint_proof=proof[:2])
    cluster.inject(3, sign(cluster.signer(0), weak))
    assert cluster.replicas[3].rejections == {"bad-snapshot": 1, "invalid-certificate": 1}
    assert cluster.replicas[3].status().last_executed == 0


def test_cluster_keeps_committing_over_a_lossy_duplicating_network() -> None:
    cluster = Cluster(config(checkpoint_interval=4, window_size=8))
    cluster.start()
    counter = {"n": 0}

    def lossy(delivery: Delivery) -> bool:
        counter["n"] += 1
        if counter["n"] % 7 == 0:
            cluster.network.append(delivery)  # deliver this one twice, later
        return counter["n"] % 5 == 0

    cluster.drop = lossy
    for n in range(20):
        client = CLIENTS[n % len(CLIENTS)]
        cluster.submit(client, b"%d" % n, to=range(4))  # clients retransmit to everyone
        cluster.run(0.05)
    cluster.drop = lambda d: False
    cluster.run(3.0)
    operations = cluster.services[0].operations
    assert sorted(operations) == sorted(b"%d" % n for n in range(20))
    for i in range(4):
        assert cluster.services[i].operations == operations
        assert (
            cluster.replicas[i].status().last_executed == cluster.replicas[0].status().last_executed
        )


def _lose_to_r0_at_seq(seq: int):  # type: ignore[no-untyped-def]
    """Lose every PREPARE and COMMIT for ``seq`` sent to r0, as if r0 were down for them."""

    def drop(delivery: Delivery) -> bool:
        payload = delivery.envelope.payload
        return (
            delivery.to == "r0"
            and type(payload).__name__ in ("Prepare", "Commit")
            and payload.seq == seq
        )

    return drop


def test_a_primary_whose_whole_window_is_behind_a_proven_checkpoint_fetches_it_at_once() -> None:
    """The peers executed the primary's whole window and collected the slot it missed, so
    it can neither execute nor propose: waiting for a status period to fetch the state let
    the backups' view-change timer expire although the primary was up."""
    cluster = Cluster(config(checkpoint_interval=4, window_size=8, status_interval_s=10.0))
    cluster.start()
    submit_sequentially(cluster, 4)
    cluster.drop = _lose_to_r0_at_seq(5)
    submit_sequentially(cluster, 8)  # seqs 5-12: the peers reach checkpoint 12
    assert cluster.replicas[1].status().stable_seq == 12
    # No timer fired: the fetch came from the proof of checkpoint 12 (r0's high mark) itself.
    status = cluster.replicas[0].status()
    assert (status.stable_seq, status.last_executed) == (12, 12)
    assert cluster.services[0].operations == cluster.services[1].operations
    submit_sequentially(cluster, 1, to=[0])
    assert cluster.replicas[1].status().last_executed == 13


def test_a_replica_only_slightly_behind_a_proven_checkpoint_does_not_fetch_it_at_once() -> None:
    """A snapshot costs far more than waiting for messages in flight: a replica that can
    still move its window waits a status period before it fetches."""
    cluster = Cluster(config(checkpoint_interval=4, window_size=8, status_interval_s=10.0))
    cluster.start()
    submit_sequentially(cluster, 4)
    cluster.drop = _lose_to_r0_at_seq(5)
    submit_sequentially(cluster, 4)  # seqs 5-8: the peers reach checkpoint 8 < high mark 12
    status = cluster.replicas[0].status()
    assert (status.stable_seq, status.last_executed) == (4, 4)
    fetches = [
        e
        for e in cluster.effects[0]
        if isinstance(e, Broadcast) and isinstance(e.envelope.payload, FetchState)
    ]
    assert fetches == []
