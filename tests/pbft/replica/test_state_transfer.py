"""State transfer and retransmission (TOCS §5.2, §6.2), in the test harness."""

from __future__ import annotations

import hashlib

import attrs

from pbft.config import Config
from pbft.effects import CheckpointStable
from pbft.ids import ReplicaId, Seq
from pbft.messages import Checkpoint, StateSnapshot, sign
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
