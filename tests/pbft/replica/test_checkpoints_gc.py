"""Checkpoints, stability and garbage collection (OSDI '99 §4.3), in the test harness."""

from __future__ import annotations

import pytest

from pbft.config import Config
from pbft.effects import CheckpointStable, Persist
from pbft.ids import ReplicaId, Seq
from pbft.messages import Checkpoint, sign
from pbft.replica.checkpoints import CachedReply, decode_state, encode_state
from tests.pbft.replica.harness import CLIENTS, Cluster


def run_requests(cluster: Cluster, count: int) -> None:
    """Submit ``count`` requests, one per client at a time, and deliver everything."""
    sent = 0
    while sent < count:
        for client in CLIENTS[: min(len(CLIENTS), count - sent)]:
            cluster.submit(client, b"op-%d" % sent)
            sent += 1
        cluster.run(cluster.config.batch_delay_s * 2 or 0.001)


def test_checkpoint_becomes_stable_with_a_quorum_and_collects_the_log() -> None:
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0, checkpoint_interval=4, window_size=8))
    cluster.start()
    run_requests(cluster, 9)
    for i in range(4):
        status = cluster.replicas[i].status()
        assert status.last_executed == 9
        assert status.stable_seq == 8
        assert (status.low_mark, status.high_mark) == (8, 16)
        assert status.log_slots == 1  # only seq 9 is left
        stable = [e.seq for e in cluster.effects[i] if isinstance(e, CheckpointStable)]
        assert stable == [4, 8]
        assert "checkpoint" in cluster.stored[i]
        assert sorted(k for k in cluster.stored[i] if k.startswith("slot/")) == [
            "slot/00000000000000000009"
        ]


def test_checkpoint_is_not_stable_for_a_replica_that_has_not_executed_it() -> None:
    """A quorum of others' CHECKPOINTs does not make seq stable here before we reach it."""
    cluster = Cluster(Config.for_f(1, checkpoint_interval=4, window_size=8))
    cluster.start()
    for i in (0, 2, 3):
        vote = Checkpoint(seq=Seq(4), state_digest=b"\1" * 32, replica=ReplicaId(i))
        effects = cluster.inject(1, sign(cluster.signer(i), vote))
        assert not any(isinstance(e, CheckpointStable) for e in effects)
    assert cluster.replicas[1].status().stable_seq == 0


def test_window_blocks_the_primary_until_a_checkpoint_is_stable() -> None:
    cluster = Cluster(Config.for_f(1, batch_delay_s=0.0, checkpoint_interval=2, window_size=2))
    cluster.start()
    # Replicas 2 and 3 never see checkpoints: only r0 and r1 vote, no quorum of 3.
    cluster.drop = lambda d: type(d.envelope.payload).__name__ == "Checkpoint"
    run_requests(cluster, 4)
    assert cluster.replicas[0].status().last_executed == 2
    assert cluster.replicas[0].status().stable_seq == 0
    cluster.drop = lambda d: False
    cluster.run(1.0)  # status retransmission re-sends the checkpoints
    # Checkpoint 2 became stable, the window moved, and the two queued requests left in
    # one batch at seq 3.
    assert all(r.status().stable_seq == 2 for r in cluster.replicas.values())
    assert all(r.status().last_executed == 3 for r in cluster.replicas.values())
    assert all(len(s.operations) == 4 for s in cluster.services.values())


def test_checkpoint_state_includes_the_reply_cache() -> None:
    state = encode_state(
        b"svc",
        {"c1": CachedReply(timestamp=3, result=b"r"), "c0": CachedReply(timestamp=1, result=b"")},
    )
    service, replies = decode_state(state)
    assert service == b"svc"
    assert replies == {
        "c0": CachedReply(timestamp=1, result=b""),
        "c1": CachedReply(timestamp=3, result=b"r"),
    }
    assert encode_state(b"svc", {"c0": CachedReply(timestamp=2, result=b"")}) != encode_state(
        b"svc", {"c0": CachedReply(timestamp=1, result=b"")}
    )


@pytest.mark.slow
def test_ten_thousand_batched_requests_keep_the_log_within_the_window() -> None:
    """4 replicas, batches of up to 4: 10,000 requests commit; slots never exceed L."""
    config = Config.for_f(
        1, batch_size_max=4, batch_delay_s=0.001, checkpoint_interval=16, window_size=32
    )
    cluster = Cluster(config)
    cluster.start()
    max_slots = 0
    sent = 0
    while sent < 10_000:
        for client in CLIENTS:
            cluster.submit(client, b"%d" % sent)
            sent += 1
        cluster.run(0.002)
        max_slots = max(max_slots, *(r.status().log_slots for r in cluster.replicas.values()))
    cluster.run(0.01)
    for i in range(4):
        assert len(cluster.services[i].operations) == 10_000
        assert cluster.services[i].operations == cluster.services[0].operations
        assert len([k for k in cluster.stored[i] if k.startswith("slot/")]) <= config.window_size
    assert max_slots <= config.window_size
    persists = [e for e in cluster.effects[1] if isinstance(e, Persist)]
    assert persists  # and the stored slots stay bounded too (checked above)
