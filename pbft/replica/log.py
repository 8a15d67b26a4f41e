"""The message log: one slot per sequence number, and the certificates it yields (§4.2).

A slot keeps the normal-case messages of the view it is in (the pre-prepare this replica
accepted or sent, and at most one PREPARE and one COMMIT per replica), plus two certificates
that outlive view changes: the prepared certificate of the highest view in which the slot
prepared here (it goes into VIEW-CHANGE messages, §4.4) and the commit certificate that lets
the slot execute (pre-prepare plus a quorum of matching commits). Predicates keep the paper's
names: :meth:`Slot.is_prepared`, :meth:`Slot.is_committed_local`.

Thresholds use the configuration's intersection arithmetic: a slot is prepared with the
pre-prepare plus ``quorum - 1`` matching prepares from distinct backups (2f when n = 3f + 1)
and committed-local with ``quorum`` matching commits (2f + 1).
"""

from __future__ import annotations

import attrs

from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    Commit,
    CommitCertificate,
    Envelope,
    Prepare,
    PreparedCertificate,
    PrePrepare,
)


@attrs.define(kw_only=True)
class Slot:
    """Everything the replica knows about sequence number ``seq``."""

    seq: Seq
    view: View
    pre_prepare: Envelope | None = None
    prepares: dict[ReplicaId, Envelope] = attrs.Factory(dict)
    commits: dict[ReplicaId, Envelope] = attrs.Factory(dict)
    prepared: PreparedCertificate | None = None
    committed: CommitCertificate | None = None
    committed_envelope: Envelope | None = None  # the commit certificate as we signed it
    opened_s: float = 0.0

    @property
    def digest(self) -> bytes | None:
        """The digest of the accepted pre-prepare of the slot's view, if any."""
        if self.pre_prepare is None:
            return None
        payload = self.pre_prepare.payload
        assert isinstance(payload, PrePrepare)
        return payload.digest

    def enter_view(self, view: View, *, now_s: float) -> None:
        """Forget the normal-case messages of older views; keep both certificates."""
        if view <= self.view:
            return
        self.view = view
        self.pre_prepare = None
        self.prepares = {}
        self.commits = {}
        self.opened_s = now_s

    def matching_prepares(self) -> list[Envelope]:
        """Prepares of this view that match the accepted pre-prepare, ordered by replica."""
        digest = self.digest
        if digest is None:
            return []
        return [
            envelope
            for _, envelope in sorted(self.prepares.items())
            if _vote_digest(envelope) == digest
        ]

    def matching_commits(self) -> list[Envelope]:
        """Commits of this view that match the accepted pre-prepare, ordered by replica."""
        digest = self.digest
        if digest is None:
            return []
        return [
            envelope
            for _, envelope in sorted(self.commits.items())
            if _vote_digest(envelope) == digest
        ]

    def is_prepared(self, *, quorum: int) -> bool:
        """prepared(m, v, n, i) of §4.2: the pre-prepare plus quorum - 1 matching prepares.

        The primary never sends PREPARE (the handler rejects one), so every counted prepare
        comes from a distinct backup.
        """
        return self.pre_prepare is not None and len(self.matching_prepares()) >= quorum - 1

    def is_committed_local(self, *, quorum: int) -> bool:
        """committed-local(m, v, n, i) of §4.2: prepared plus a quorum of matching commits."""
        return self.is_prepared(quorum=quorum) and len(self.matching_commits()) >= quorum

    def prepared_certificate(self, *, quorum: int) -> PreparedCertificate:
        """The certificate proving :meth:`is_prepared`: exactly quorum - 1 prepares."""
        assert self.pre_prepare is not None
        prepares = self.matching_prepares()[: quorum - 1]
        assert len(prepares) == quorum - 1
        return PreparedCertificate(pre_prepare=self.pre_prepare, prepares=tuple(prepares))

    def commit_certificate(self, *, quorum: int) -> CommitCertificate:
        """The certificate proving :meth:`is_committed_local`: exactly a quorum of commits."""
        assert self.pre_prepare is not None
        commits = self.matching_commits()[:quorum]
        assert len(commits) == quorum
        return CommitCertificate(pre_prepare=self.pre_prepare, commits=tuple(commits))


def _vote_digest(envelope: Envelope) -> bytes:
    payload = envelope.payload
    assert isinstance(payload, Prepare | Commit)
    return payload.digest


class Log:
    """Slots for the sequence numbers in the window (low mark, high mark]."""

    def __init__(self) -> None:
        self._slots: dict[Seq, Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, seq: Seq) -> Slot | None:
        return self._slots.get(seq)

    def slot(self, seq: Seq, *, view: View, now_s: float) -> Slot:
        """The slot for ``seq``, created (in ``view``) if absent, moved up to ``view``."""
        slot = self._slots.get(seq)
        if slot is None:
            slot = Slot(seq=seq, view=view, opened_s=now_s)
            self._slots[seq] = slot
        else:
            slot.enter_view(view, now_s=now_s)
        return slot

    def seqs(self) -> list[Seq]:
        """Every sequence number with a slot, in increasing order."""
        return sorted(self._slots)

    def collect_garbage(self, stable_seq: Seq) -> list[Seq]:
        """Drop every slot at or below ``stable_seq`` (§4.3); return the dropped seqs."""
        dropped = sorted(seq for seq in self._slots if seq <= stable_seq)
        for seq in dropped:
            del self._slots[seq]
        return dropped
