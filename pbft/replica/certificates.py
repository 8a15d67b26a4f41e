"""Checking certificates member by member: checkpoint proofs, prepared and commit certificates.

A certificate is a tuple of signed envelopes; it is only as good as its weakest member, so
each member's sender, signature and fields are checked on its own, members must come from
distinct replicas, and the count must reach the configured quorum (intersection arithmetic).
Each check returns ``None`` when the certificate is valid, else a short description of the
first problem (the caller counts it as :data:`reasons.INVALID_CERTIFICATE`). Nothing here
raises on malformed input.
"""

from __future__ import annotations

from collections.abc import Sequence

from pbft.config import Config
from pbft.ids import ReplicaId, Seq, View, replica_principal
from pbft.messages import (
    Checkpoint,
    Commit,
    CommitCertificate,
    Envelope,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Request,
    batch_digest,
)
from pbft.replica.verifier import Verifier


def check_checkpoint_proof(
    proof: Sequence[Envelope], *, seq: Seq, config: Config, verifier: Verifier
) -> bytes | str:
    """The state digest proven for ``seq``, or the problem with ``proof`` (§4.3).

    Valid when at least ``config.quorum`` members are CHECKPOINT messages for ``seq`` from
    distinct replicas, each validly signed by the replica it names, all with the same digest.
    Extra members are allowed but must be valid too (a certificate is checked as a whole).
    """
    if seq <= 0 or seq % config.checkpoint_interval != 0:
        return f"checkpoint seq {seq} is not a positive multiple of {config.checkpoint_interval}"
    digest: bytes | None = None
    seen: set[ReplicaId] = set()
    for member in proof:
        payload = member.payload
        if not isinstance(payload, Checkpoint):
            return "proof member is not a CHECKPOINT"
        problem = _member_problem(member, payload.replica, verifier)
        if problem is not None:
            return problem
        if payload.seq != seq:
            return f"proof member for seq {payload.seq}, expected {seq}"
        if digest is None:
            digest = payload.state_digest
        elif payload.state_digest != digest:
            return "proof members disagree on the state digest"
        if payload.replica in seen:
            return f"two proof members from replica {payload.replica}"
        seen.add(payload.replica)
    if len(seen) < config.quorum or digest is None:
        return f"proof has {len(seen)} checkpoint messages, needs {config.quorum}"
    return digest


def check_pre_prepare_envelope(
    envelope: Envelope, *, config: Config, verifier: Verifier
) -> PrePrepare | str:
    """The PRE-PREPARE in ``envelope`` if its view's primary signed it and its digest is right."""
    payload = envelope.payload
    if not isinstance(payload, PrePrepare):
        return "member is not a PRE-PREPARE"
    if envelope.sender != replica_principal(config.primary(payload.view)):
        return f"pre-prepare for view {payload.view} not signed by its primary"
    if not verifier.is_valid(envelope):
        return "pre-prepare has a bad signature"
    if batch_digest(payload.batch) != payload.digest:
        return "pre-prepare digest does not match its batch"
    # Correct replicas only vouch for batches of client requests; checking the member types
    # keeps a certificate forged by more than f faulty replicas from crashing execution.
    for member in payload.batch:
        request = member.payload
        if not isinstance(request, Request) or member.sender != request.client:
            return "a batch member is not a request signed by its client"
    return payload


def check_prepared_certificate(
    certificate: PreparedCertificate,
    *,
    below_view: View,
    low: Seq,
    config: Config,
    verifier: Verifier,
) -> PrePrepare | str:
    """The certified PRE-PREPARE, or the problem with a prepared certificate (§4.4).

    Valid when the pre-prepare is signed by the primary of its view, that view is below
    ``below_view``, its seq lies in (low, low + L], its digest matches its batch, and at least
    quorum - 1 PREPAREs from distinct backups (never the primary) match its view, seq and
    digest, each validly signed by the replica it names.
    """
    pre_prepare = check_pre_prepare_envelope(
        certificate.pre_prepare, config=config, verifier=verifier
    )
    if isinstance(pre_prepare, str):
        return pre_prepare
    if pre_prepare.view >= below_view:
        return f"prepared in view {pre_prepare.view}, not below {below_view}"
    if not low < pre_prepare.seq <= low + config.window_size:
        return f"prepared seq {pre_prepare.seq} outside ({low}, {low + config.window_size}]"
    voters = _matching_votes(
        certificate.prepares,
        Prepare,
        pre_prepare,
        excluded=config.primary(pre_prepare.view),
        verifier=verifier,
    )
    if isinstance(voters, str):
        return voters
    if voters < config.quorum - 1:
        return f"{voters} prepares, needs {config.quorum - 1}"
    return pre_prepare


def check_commit_certificate(
    certificate: CommitCertificate, *, config: Config, verifier: Verifier
) -> PrePrepare | str:
    """The certified PRE-PREPARE, or the problem with a commit certificate.

    Valid when the pre-prepare is signed by the primary of its view with a digest matching its
    batch, and a quorum of COMMITs from distinct replicas match its view, seq and digest, each
    validly signed by the replica it names. A quorum of commits contains f + 1 correct replicas
    that prepared the batch, which is exactly committed(m, v, n) of §4.2: the batch is the one
    every correct replica executes at that seq.
    """
    pre_prepare = check_pre_prepare_envelope(
        certificate.pre_prepare, config=config, verifier=verifier
    )
    if isinstance(pre_prepare, str):
        return pre_prepare
    voters = _matching_votes(
        certificate.commits, Commit, pre_prepare, excluded=None, verifier=verifier
    )
    if isinstance(voters, str):
        return voters
    if voters < config.quorum:
        return f"{voters} commits, needs {config.quorum}"
    return pre_prepare


def _matching_votes(
    members: Sequence[Envelope],
    kind: type[Prepare] | type[Commit],
    pre_prepare: PrePrepare,
    *,
    excluded: ReplicaId | None,
    verifier: Verifier,
) -> int | str:
    """How many distinct replicas cast a valid ``kind`` vote for ``pre_prepare``, or the problem.

    Every member must be a ``kind`` message validly signed by the replica it names, for the
    pre-prepare's view, seq and digest, from a replica other than ``excluded`` (the primary,
    for prepares: §4.2 counts its pre-prepare instead), at most one per replica.
    """
    name = kind.__name__.upper()
    seen: set[ReplicaId] = set()
    for member in members:
        payload = member.payload
        if not isinstance(payload, kind):
            return f"certificate member is not a {name}"
        problem = _member_problem(member, payload.replica, verifier)
        if problem is not None:
            return problem
        if (payload.view, payload.seq, payload.digest) != (
            pre_prepare.view,
            pre_prepare.seq,
            pre_prepare.digest,
        ):
            return f"a {name} does not match the pre-prepare"
        if payload.replica == excluded:
            return f"a {name} from the primary"
        if payload.replica in seen:
            return f"two {name}s from replica {payload.replica}"
        seen.add(payload.replica)
    return len(seen)


def _member_problem(member: Envelope, replica: ReplicaId, verifier: Verifier) -> str | None:
    sender = verifier.replica_sender(member)
    if sender is None:
        return f"member signed by unknown principal {member.sender!r}"
    if sender != replica:
        return f"member signed by {member.sender} names replica {replica}"
    if not verifier.is_valid(member):
        return f"member from {member.sender} has a bad signature"
    return None
