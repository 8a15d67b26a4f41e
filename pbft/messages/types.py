"""The PBFT message vocabulary (Castro & Liskov, OSDI '99 §4; TOCS 2002 §2-§5).

Every message is an attrs frozen class whose fields are, in order, what goes on the wire
(see :mod:`pbft.messages.codec` and docs/wire-format.md). Messages travel inside an
:class:`Envelope`, which names the signing principal and carries its signature over the
canonical encoding of the payload. Certificates (prepared certificates, checkpoint proofs,
view-change sets) are tuples of envelopes, so each member can be verified on its own.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from pbft.ids import Principal, ReplicaId, Seq, View

DIGEST_SIZE = 32
SIGNATURE_SIZE = 64


@attrs.frozen(kw_only=True)
class Request:
    """<REQUEST, o, t, c> (§4.1): ``client`` asks to run ``operation``, numbered ``timestamp``.

    Timestamps of one client strictly increase; a replica executes each (client, timestamp)
    at most once and answers retransmissions from its reply cache.
    """

    client: Principal
    timestamp: int
    operation: bytes


@attrs.frozen(kw_only=True)
class PrePrepare:
    """<PRE-PREPARE, v, n, d> with the batch piggybacked (§4.2, batching per TOCS §5.1).

    ``batch`` holds client-signed request envelopes; ``digest`` is the digest of the batch
    (:func:`pbft.messages.batch_digest`). An empty batch is the null request of §4.4.
    """

    view: View
    seq: Seq
    digest: bytes
    batch: tuple[Envelope, ...]


@attrs.frozen(kw_only=True)
class Prepare:
    """<PREPARE, v, n, d, i> (§4.2), sent by backups that accepted the pre-prepare."""

    view: View
    seq: Seq
    digest: bytes
    replica: ReplicaId


@attrs.frozen(kw_only=True)
class Commit:
    """<COMMIT, v, n, D(m), i> (§4.2), sent once the slot is prepared."""

    view: View
    seq: Seq
    digest: bytes
    replica: ReplicaId


@attrs.frozen(kw_only=True)
class Reply:
    """<REPLY, v, t, c, i, r> (§4.1): result ``result`` of the client's request ``timestamp``."""

    view: View
    timestamp: int
    client: Principal
    replica: ReplicaId
    result: bytes


@attrs.frozen(kw_only=True)
class Checkpoint:
    """<CHECKPOINT, n, d, i> (§4.3): the state digest after executing up to ``seq``."""

    seq: Seq
    state_digest: bytes
    replica: ReplicaId


@attrs.frozen(kw_only=True)
class PreparedCertificate:
    """One member of P in a view change (§4.4): a pre-prepare plus 2f matching prepares."""

    pre_prepare: Envelope
    prepares: tuple[Envelope, ...]


@attrs.frozen(kw_only=True)
class ViewChange:
    """<VIEW-CHANGE, v+1, n, C, P, i> (§4.4).

    ``stable_seq`` is the replica's last stable checkpoint, ``checkpoint_proof`` the 2f+1
    checkpoint messages proving it (empty for seq 0), ``prepared`` a certificate for every
    request prepared above it.
    """

    new_view: View
    stable_seq: Seq
    checkpoint_proof: tuple[Envelope, ...]
    prepared: tuple[PreparedCertificate, ...]
    replica: ReplicaId


@attrs.frozen(kw_only=True)
class NewView:
    """<NEW-VIEW, v+1, V, O> (§4.4): 2f+1 view changes and the pre-prepares they imply."""

    view: View
    view_changes: tuple[Envelope, ...]
    pre_prepares: tuple[Envelope, ...]


@attrs.frozen(kw_only=True)
class CommitCertificate:
    """A committed batch with its proof: the pre-prepare plus 2f+1 matching commits.

    Sent during state transfer so a lagging replica can execute batches past the last stable
    checkpoint without trusting the sender (TOCS §6.2 transfers state, we add the log tail).
    """

    pre_prepare: Envelope
    commits: tuple[Envelope, ...]


@attrs.frozen(kw_only=True)
class FetchState:
    """Ask peers for their stable checkpoint above ``above_seq`` and the committed log tail."""

    above_seq: Seq
    replica: ReplicaId


@attrs.frozen(kw_only=True)
class StateSnapshot:
    """A stable checkpoint's full state with the 2f+1 checkpoint messages that prove it."""

    seq: Seq
    snapshot: bytes
    checkpoint_proof: tuple[Envelope, ...]
    replica: ReplicaId


@attrs.frozen(kw_only=True)
class Status:
    """Periodic summary that lets peers retransmit what the sender lacks (TOCS §5.2)."""

    view: View
    stable_seq: Seq
    last_executed: Seq
    replica: ReplicaId


Payload: TypeAlias = (
    Request
    | PrePrepare
    | Prepare
    | Commit
    | Reply
    | Checkpoint
    | PreparedCertificate
    | ViewChange
    | NewView
    | CommitCertificate
    | FetchState
    | StateSnapshot
    | Status
)


@attrs.frozen(kw_only=True)
class Envelope:
    """A payload signed by ``sender`` (:func:`pbft.messages.sign`, :func:`pbft.messages.verify`)."""

    sender: Principal
    payload: Payload
    signature: bytes
