"""Checkpoints (§4.3): the checkpointed state, and the votes that make a checkpoint stable.

The state a checkpoint names is the service state *and* the reply cache (the last timestamp
and result per client), because exactly-once execution depends on the reply cache as much as
on the service: a replica that restored only the service from a snapshot could execute a
retransmitted request a second time. :func:`encode_state` turns both into one canonical CBOR
value whose digest is the checkpoint's state digest, so a snapshot received in state transfer
is checked by hashing it.

:class:`CheckpointVotes` collects CHECKPOINT messages. Inside the window it keeps every vote;
above the high mark it keeps only each replica's highest one, so a faulty replica cannot grow
the collection without bound.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import cbor2

import crypto
from pbft.ids import ReplicaId, Seq
from pbft.messages import Checkpoint, Envelope


@attrs.frozen(kw_only=True)
class CachedReply:
    """The last request of a client that this replica executed, and its result."""

    timestamp: int
    result: bytes


class SnapshotError(ValueError):
    """A checkpoint snapshot is not a well-formed (service state, reply cache) pair."""


def encode_state(service_snapshot: bytes, replies: Mapping[str, CachedReply]) -> bytes:
    """The canonical checkpoint state: CBOR [service snapshot, [[client, t, result], ...]]."""
    cache = [
        [client, replies[client].timestamp, replies[client].result] for client in sorted(replies)
    ]
    return bytes(cbor2.dumps([service_snapshot, cache], canonical=True))


def decode_state(data: bytes) -> tuple[bytes, dict[str, CachedReply]]:
    """Inverse of :func:`encode_state`; raise :class:`SnapshotError` on anything else."""
    try:
        value = cbor2.loads(data)
    except Exception as error:  # cbor2 raises several types on garbage; all mean "malformed"
        raise SnapshotError(f"snapshot is not CBOR: {error}") from error
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], bytes)):
        raise SnapshotError("snapshot is not a [service state, reply cache] pair")
    service_snapshot, cache = value
    if not isinstance(cache, list):
        raise SnapshotError("snapshot reply cache is not a list")
    replies: dict[str, CachedReply] = {}
    for entry in cache:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and type(entry[1]) is int
            and isinstance(entry[2], bytes)
        ):
            raise SnapshotError("malformed reply cache entry in snapshot")
        replies[entry[0]] = CachedReply(timestamp=entry[1], result=entry[2])
    if encode_state(service_snapshot, replies) != data:
        raise SnapshotError("snapshot is not in canonical form")
    return service_snapshot, replies


def state_digest(state: bytes) -> bytes:
    """The digest a CHECKPOINT message carries for an encoded checkpoint state."""
    return crypto.digest(state)


class CheckpointVotes:
    """CHECKPOINT messages received per seq, at most one per replica per seq."""

    def __init__(self) -> None:
        self._votes: dict[Seq, dict[ReplicaId, Envelope]] = {}
        self._ahead: dict[ReplicaId, Seq] = {}

    def add(self, envelope: Envelope, *, high_mark: Seq) -> bool:
        """Record a vote; False if the replica already voted at that seq (first vote wins)."""
        checkpoint = envelope.payload
        assert isinstance(checkpoint, Checkpoint)
        votes = self._votes.setdefault(checkpoint.seq, {})
        if checkpoint.replica in votes:
            return False
        if checkpoint.seq > high_mark:
            previous = self._ahead.get(checkpoint.replica)
            if previous is not None and previous >= checkpoint.seq:
                if not votes:
                    del self._votes[checkpoint.seq]
                return False
            if previous is not None:
                self._drop(previous, checkpoint.replica)
            self._ahead[checkpoint.replica] = checkpoint.seq
        votes[checkpoint.replica] = envelope
        return True

    def proof(self, seq: Seq, digest: bytes, *, quorum: int) -> tuple[Envelope, ...] | None:
        """A quorum of votes for (seq, digest) ordered by replica, or None if there is none."""
        votes = self._votes.get(seq, {})
        matching = [
            envelope for _, envelope in sorted(votes.items()) if _digest_of(envelope) == digest
        ]
        return tuple(matching) if len(matching) >= quorum else None

    def proven_digests(self, seq: Seq, *, quorum: int) -> list[bytes]:
        """Digests that a quorum of votes at ``seq`` agree on (at most one if n >= 3f + 1)."""
        counts: dict[bytes, int] = {}
        for envelope in self._votes.get(seq, {}).values():
            digest = _digest_of(envelope)
            counts[digest] = counts.get(digest, 0) + 1
        return sorted(digest for digest, count in counts.items() if count >= quorum)

    def seqs(self) -> list[Seq]:
        return sorted(self._votes)

    def collect_garbage(self, stable_seq: Seq) -> None:
        """Forget votes below ``stable_seq`` (the proof at ``stable_seq`` is kept elsewhere)."""
        for seq in [seq for seq in self._votes if seq <= stable_seq]:
            del self._votes[seq]
        self._ahead = {r: s for r, s in self._ahead.items() if s > stable_seq}

    def rebase(self, high_mark: Seq) -> None:
        """Votes that are now inside the window no longer count against the ahead limit."""
        self._ahead = {r: s for r, s in self._ahead.items() if s > high_mark}

    def _drop(self, seq: Seq, replica: ReplicaId) -> None:
        votes = self._votes.get(seq)
        if votes is None:
            return
        votes.pop(replica, None)
        if not votes:
            del self._votes[seq]


def _digest_of(envelope: Envelope) -> bytes:
    payload = envelope.payload
    assert isinstance(payload, Checkpoint)
    return payload.state_digest
