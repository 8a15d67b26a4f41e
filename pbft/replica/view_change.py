"""Building and checking VIEW-CHANGE and NEW-VIEW messages, and computing O (§4.4).

Pure functions: they read messages and the configuration and return values. The replica
(:mod:`pbft.replica.replica`) decides when to call them and what to do with the result.

Every view change is checked on its own (:func:`check_view_change`), so one replica's invalid
certificate never makes the new primary ignore the valid view changes of others. The new
primary computes O with :func:`compute_new_view_plan`; a backup recomputes it from the view
changes inside the NEW-VIEW (:func:`check_new_view`) and accepts only an exact match.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from pbft.config import Config
from pbft.ids import ReplicaId, Seq, View, replica_principal
from pbft.messages import Envelope, NewView, PrePrepare, ViewChange, batch_digest
from pbft.replica.certificates import check_checkpoint_proof, check_prepared_certificate
from pbft.replica.verifier import Verifier

NULL_BATCH: tuple[Envelope, ...] = ()


@attrs.frozen(kw_only=True)
class CheckedViewChange:
    """A VIEW-CHANGE whose signature and every certificate were checked."""

    envelope: Envelope
    view: View
    replica: ReplicaId
    stable_seq: Seq
    checkpoint_digest: bytes | None  # None for the initial state (stable_seq == 0)
    prepared: dict[Seq, PrePrepare]  # the certified pre-prepare per prepared seq


@attrs.frozen(kw_only=True)
class NewViewPlan:
    """What a NEW-VIEW for ``view`` must contain, as computed from a set V of view changes.

    ``stable_seq`` is min-s (the latest stable checkpoint in V) with its ``checkpoint_digest``
    and ``checkpoint_proof``; ``pre_prepares`` lists, for every seq in (min-s, max-s], the
    digest and batch to re-propose: the one prepared in the highest view, or the null batch.
    """

    view: View
    stable_seq: Seq
    checkpoint_digest: bytes | None
    checkpoint_proof: tuple[Envelope, ...]
    pre_prepares: tuple[tuple[Seq, bytes, tuple[Envelope, ...]], ...]


def check_view_change(
    envelope: Envelope, *, config: Config, verifier: Verifier
) -> CheckedViewChange | str:
    """Check one VIEW-CHANGE on its own (§4.4); return it checked, or the problem.

    Valid when a replica of the cluster signed it, names itself, proves its stable checkpoint
    with a quorum of matching CHECKPOINT messages (nothing for seq 0), and carries at most one
    prepared certificate per seq, each valid for a view below the new view and a seq inside
    (stable_seq, stable_seq + L].
    """
    payload = envelope.payload
    if not isinstance(payload, ViewChange):
        return "not a VIEW-CHANGE"
    sender = verifier.replica_sender(envelope)
    if sender is None or sender != payload.replica:
        return f"view change from {envelope.sender!r} names replica {payload.replica}"
    if not verifier.is_valid(envelope):
        return f"view change from {envelope.sender} has a bad signature"
    checkpoint_digest: bytes | None = None
    if payload.stable_seq != 0:
        proven = check_checkpoint_proof(
            payload.checkpoint_proof, seq=payload.stable_seq, config=config, verifier=verifier
        )
        if isinstance(proven, str):
            return f"checkpoint proof: {proven}"
        checkpoint_digest = proven
    elif payload.checkpoint_proof:
        return "a checkpoint proof for seq 0"
    prepared: dict[Seq, PrePrepare] = {}
    for certificate in payload.prepared:
        pre_prepare = check_prepared_certificate(
            certificate,
            below_view=payload.new_view,
            low=payload.stable_seq,
            config=config,
            verifier=verifier,
        )
        if isinstance(pre_prepare, str):
            return f"prepared certificate: {pre_prepare}"
        if pre_prepare.seq in prepared:
            return f"two prepared certificates for seq {pre_prepare.seq}"
        prepared[pre_prepare.seq] = pre_prepare
    return CheckedViewChange(
        envelope=envelope,
        view=payload.new_view,
        replica=payload.replica,
        stable_seq=payload.stable_seq,
        checkpoint_digest=checkpoint_digest,
        prepared=prepared,
    )


def compute_new_view_plan(view: View, view_changes: Sequence[CheckedViewChange]) -> NewViewPlan:
    """Compute min-s, max-s and O from a set V of checked view changes for ``view`` (§4.4).

    min-s is the largest stable checkpoint in V. For every seq in (min-s, max-s], where max-s
    is the largest seq of any prepared certificate in V, O re-proposes the batch prepared in
    the highest view (ties, which quorum intersection rules out, break on the digest), or the
    null batch if no certificate in V covers the seq.
    """
    assert view_changes
    assert all(checked.view == view for checked in view_changes)
    best = max(view_changes, key=lambda checked: (checked.stable_seq, checked.replica))
    min_s = best.stable_seq
    chosen: dict[Seq, PrePrepare] = {}
    for checked in view_changes:
        for seq, pre_prepare in checked.prepared.items():
            if seq <= min_s:
                continue
            current = chosen.get(seq)
            if current is None or (pre_prepare.view, pre_prepare.digest) > (
                current.view,
                current.digest,
            ):
                chosen[seq] = pre_prepare
    max_s = max(chosen, default=min_s)
    null_digest = batch_digest(NULL_BATCH)
    plan: list[tuple[Seq, bytes, tuple[Envelope, ...]]] = []
    for number in range(min_s + 1, max_s + 1):
        seq = Seq(number)
        certified = chosen.get(seq)
        if certified is None:
            plan.append((seq, null_digest, NULL_BATCH))
        else:
            plan.append((seq, certified.digest, certified.batch))
    proof = best.envelope.payload.checkpoint_proof  # type: ignore[union-attr]  # a ViewChange
    return NewViewPlan(
        view=view,
        stable_seq=min_s,
        checkpoint_digest=best.checkpoint_digest,
        checkpoint_proof=proof,
        pre_prepares=tuple(plan),
    )


def check_new_view(
    envelope: Envelope, *, config: Config, verifier: Verifier
) -> tuple[NewViewPlan, tuple[PrePrepare, ...]] | str:
    """Check a NEW-VIEW (§4.4): its V on its own, and O against a recomputation from V.

    Valid when the new view's primary signed it, V holds at least a quorum of valid view
    changes for that view from distinct replicas, and its pre-prepares are exactly the O
    computed from V: same seqs in order, same digests and batches, each signed by the primary
    for the new view. Returns the plan and the pre-prepares, or the problem.
    """
    payload = envelope.payload
    if not isinstance(payload, NewView):
        return "not a NEW-VIEW"
    primary = replica_principal(config.primary(payload.view))
    if envelope.sender != primary or not verifier.is_valid(envelope):
        return "NEW-VIEW not validly signed by the new primary"
    checked: list[CheckedViewChange] = []
    seen: set[ReplicaId] = set()
    for member in payload.view_changes:
        result = check_view_change(member, config=config, verifier=verifier)
        if isinstance(result, str):
            return f"view change in V: {result}"
        if result.view != payload.view:
            return f"view change in V for view {result.view}, expected {payload.view}"
        if result.replica in seen:
            return f"two view changes from replica {result.replica} in V"
        seen.add(result.replica)
        checked.append(result)
    if len(checked) < config.quorum:
        return f"V has {len(checked)} view changes, needs {config.quorum}"
    plan = compute_new_view_plan(payload.view, checked)
    if len(payload.pre_prepares) != len(plan.pre_prepares):
        return f"O has {len(payload.pre_prepares)} pre-prepares, expected {len(plan.pre_prepares)}"
    pre_prepares: list[PrePrepare] = []
    for member, (seq, digest, batch) in zip(payload.pre_prepares, plan.pre_prepares, strict=True):
        pre_prepare = member.payload
        if not isinstance(pre_prepare, PrePrepare):
            return "O member is not a PRE-PREPARE"
        if member.sender != primary or not verifier.is_valid(member):
            return f"O member for seq {pre_prepare.seq} not validly signed by the new primary"
        if (pre_prepare.view, pre_prepare.seq, pre_prepare.digest) != (payload.view, seq, digest):
            return f"O member for seq {pre_prepare.seq} differs from the recomputed O"
        if pre_prepare.batch != batch:
            return f"O member for seq {seq} carries another batch"
        pre_prepares.append(pre_prepare)
    return plan, tuple(pre_prepares)
