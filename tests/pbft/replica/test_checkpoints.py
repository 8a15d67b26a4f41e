"""Checkpoint state and votes: pbft/replica/checkpoints.py."""

from __future__ import annotations

import pytest

from pbft.ids import ReplicaId, Seq
from pbft.messages import Checkpoint, sign
from pbft.replica.checkpoints import (
    CachedReply,
    CheckpointVotes,
    SnapshotError,
    decode_state,
    encode_state,
)
from tests.pbft.replica.harness import cluster_keys

SIGNERS, _ = cluster_keys(4)


def vote(replica: int, seq: int, digest: bytes = b"\1" * 32):  # type: ignore[no-untyped-def]
    payload = Checkpoint(seq=Seq(seq), state_digest=digest, replica=ReplicaId(replica))
    return sign(SIGNERS[f"r{replica}"], payload)


def test_votes_above_the_window_are_kept_one_per_replica() -> None:
    votes = CheckpointVotes()
    for seq in range(16, 1600, 8):
        votes.add(vote(3, seq), high_mark=Seq(8))
    assert votes.seqs() == [1592]
    assert votes.add(vote(3, 8), high_mark=Seq(8))  # inside the window: kept as well
    assert votes.seqs() == [8, 1592]


def test_first_vote_of_a_replica_at_a_seq_wins() -> None:
    votes = CheckpointVotes()
    assert votes.add(vote(1, 4), high_mark=Seq(8))
    assert not votes.add(vote(1, 4, digest=b"\2" * 32), high_mark=Seq(8))
    votes.add(vote(2, 4), high_mark=Seq(8))
    votes.add(vote(3, 4), high_mark=Seq(8))
    proof = votes.proof(Seq(4), b"\1" * 32, quorum=3)
    assert proof is not None and [e.payload.replica for e in proof] == [1, 2, 3]
    assert votes.proven_digests(Seq(4), quorum=3) == [b"\1" * 32]
    votes.collect_garbage(Seq(4))
    assert votes.seqs() == []


def test_state_encoding_is_canonical_and_strict() -> None:
    replies = {"c0": CachedReply(timestamp=1, result=b"x")}
    state = encode_state(b"service", replies)
    assert decode_state(state) == (b"service", replies)
    for garbage in (b"", b"\xff", b"\x80", b"\x82\x41\x00\x81\x83\x61a\x01"):
        with pytest.raises(SnapshotError):
            decode_state(garbage)
