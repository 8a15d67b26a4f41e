"""Checking the state a lagging replica receives (TOCS §6.2, simplified; see deviations.md).

A replica that fell behind a stable checkpoint adopts a :class:`~pbft.messages.StateSnapshot`
only if it carries a quorum proof for its seq and hashes to the proven digest: then it is the
state every correct replica had at that seq, whoever sent it, so no single replica is trusted.
Batches above the checkpoint arrive as commit certificates, checked by
:func:`pbft.replica.certificates.check_commit_certificate`.
"""

from __future__ import annotations

import attrs

from pbft.config import Config
from pbft.ids import Seq
from pbft.messages import Envelope, StateSnapshot
from pbft.replica import reasons
from pbft.replica.certificates import check_checkpoint_proof
from pbft.replica.checkpoints import CachedReply, SnapshotError, decode_state, state_digest
from pbft.replica.verifier import Verifier


@attrs.frozen(kw_only=True)
class VerifiedState:
    """A checkpoint state proven by a quorum, split into its service and reply-cache parts."""

    seq: Seq
    state: bytes
    digest: bytes
    proof: tuple[Envelope, ...]
    service_snapshot: bytes
    replies: dict[str, CachedReply]


def check_state_snapshot(
    snapshot: StateSnapshot, *, config: Config, verifier: Verifier
) -> VerifiedState | tuple[str, str]:
    """The proven state in ``snapshot``, or (reason, detail) for rejecting it.

    Valid when its checkpoint proof holds a quorum of matching CHECKPOINT messages for its
    seq (:func:`check_checkpoint_proof`), the snapshot's digest equals theirs, and it decodes
    as a (service state, reply cache) pair.
    """
    proven = check_checkpoint_proof(
        snapshot.checkpoint_proof, seq=snapshot.seq, config=config, verifier=verifier
    )
    if isinstance(proven, str):
        return reasons.INVALID_CERTIFICATE, proven
    if state_digest(snapshot.snapshot) != proven:
        return reasons.BAD_SNAPSHOT, "snapshot does not match its proof"
    try:
        service_snapshot, replies = decode_state(snapshot.snapshot)
    except SnapshotError as error:
        return reasons.BAD_SNAPSHOT, str(error)
    return VerifiedState(
        seq=snapshot.seq,
        state=snapshot.snapshot,
        digest=proven,
        proof=snapshot.checkpoint_proof,
        service_snapshot=service_snapshot,
        replies=replies,
    )
