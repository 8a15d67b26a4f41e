"""The replica's state and the helpers every protocol layer shares.

:class:`ReplicaCore` holds everything a replica knows (the fields are grouped by the paper
section that uses them) and the small helpers every layer needs: signing, counting a
rejection, the watermarks. The protocol itself is layered on top, one concern per module:
:mod:`pbft.replica.normal_case` (§4.1-§4.3), :mod:`pbft.replica.view_change_handlers`
(§4.4), :mod:`pbft.replica.catch_up` (retransmission and state transfer) and
:mod:`pbft.replica.replica` (the public :class:`Replica`: dispatch, timers, recovery).
Each layer only calls down, never up.
"""

from __future__ import annotations

from collections.abc import Mapping

import crypto
from pbft.app import Service
from pbft.config import Config
from pbft.effects import (
    Effect,
    Rejected,
)
from pbft.ids import ReplicaId, Seq, TimerName, View, replica_principal
from pbft.messages import (
    Commit,
    EncodeError,
    Envelope,
    FetchState,
    Payload,
    Prepare,
    PrePrepare,
    Reply,
    Request,
    Status,
    batch_digest,
    sign,
)
from pbft.replica import persistence
from pbft.replica.checkpoints import (
    CachedReply,
    CheckpointVotes,
    encode_state,
)
from pbft.replica.log import Log, Slot
from pbft.replica.status import ReplicaStatus
from pbft.replica.verifier import Verifier
from pbft.replica.view_change import (
    CheckedViewChange,
)
from pbft.timeouts import LatencyEstimator

VIEW_CHANGE_TIMER = TimerName("view-change")
STATUS_TIMER = TimerName("status")
BATCH_TIMER = TimerName("batch")

MAX_BACKOFF_EXPONENT = 6
"""Successive view changes double the timer at most 2**6 = 64 times (documented in
docs/deviations.md): enough to outlast any realistic period of asynchrony while a cluster
that lost its primary for good still recovers within minutes, not days."""


class ReplicaCore:
    """The state of one replica and the helpers shared by every protocol layer."""

    def __init__(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: crypto.Signer,
        keyring: crypto.Keyring,
        service: Service,
    ) -> None:
        assert 0 <= replica < config.n
        assert signer.principal == replica_principal(replica)
        self._config = config
        self._id = replica
        self._principal = replica_principal(replica)
        self._signer = signer
        self._service = service
        self._verifier = Verifier(config=config, keyring=keyring)
        self._encoder = persistence.Encoder()
        self._rejections: dict[str, int] = {}

        self._view = View(0)
        self._active = True  # False between sending VIEW-CHANGE and accepting NEW-VIEW
        self._log = Log()
        self._last_executed = Seq(0)
        self._max_pre_prepared = Seq(0)  # highest seq with a pre-prepare in the current view
        self._next_seq = Seq(1)  # the primary's next sequence number to assign
        self._early: dict[Seq, list[Envelope]] = {}  # normal-case messages just above H
        # Normal-case messages of the view we are changing to that overtook its NEW-VIEW.
        self._entering_view_held: dict[ReplicaId, list[Envelope]] = {}
        self._window_moved = False
        # The current view's NEW-VIEW decides every seq up to its max-s: normal-case
        # pre-prepares may not reuse them, and its entries above our window wait here.
        self._new_view_floor = Seq(0)
        self._new_view_pending: dict[Seq, Envelope] = {}

        # Checkpoints (§4.3): the stable one with its state and proof, our own above it.
        self._stable_seq = Seq(0)
        self._stable_state = encode_state(service.snapshot(), {})
        self._stable_proof: tuple[Envelope, ...] = ()
        self._own_checkpoints: dict[Seq, tuple[bytes, bytes, Envelope | None]] = {}
        self._votes = CheckpointVotes()
        self._proven: tuple[Seq, bytes, tuple[Envelope, ...]] | None = None
        self._proven_since_s = 0.0
        self._fetch_served_s: dict[ReplicaId, float] = {}
        self._status_served_s: dict[ReplicaId, float] = {}
        self._help_served_s: dict[str, float] = {}  # last NEW-VIEW/VIEW-CHANGE re-sent, per peer

        # Requests (§4.1): the reply cache, requests known but not executed, the primary's queue.
        self._replies: dict[str, CachedReply] = {}
        self._signed_replies: dict[str, Envelope] = {}  # the last reply sent per client
        self._waiting: dict[str, Envelope] = {}
        self._waiting_since_s: dict[str, float] = {}  # when each waited request arrived
        self._queue: dict[str, Envelope] = {}
        self._assigned: dict[str, int] = {}

        # View changes (§4.4).
        self._view_changes: dict[ReplicaId, CheckedViewChange] = {}
        self._own_view_change: Envelope | None = None
        self._new_view: Envelope | None = None
        self._view_change_attempts = 0
        self._estimator = LatencyEstimator(
            initial_s=config.view_change_timeout_s,
            min_s=config.timeout_s_min,
            max_s=config.timeout_s_max,
        )

        self._view_change_timer_armed = False
        self._view_change_timer_armed_s = 0.0
        self._restart_view_change_timer = False
        self._batch_timer_armed = False
        self._recovered = False

    @property
    def _high_mark(self) -> Seq:
        return Seq(self._stable_seq + self._config.window_size)

    @property
    def _is_primary(self) -> bool:
        return self._config.primary(self._view) == self._id

    def _reject(self, out: list[Effect], envelope: Envelope, reason: str, detail: str = "") -> None:
        self._rejections[reason] = self._rejections.get(reason, 0) + 1
        sender = envelope.sender if isinstance(envelope.sender, str) else repr(envelope.sender)
        out.append(Rejected(sender=sender, reason=reason, detail=detail))

    def _sign(self, payload: Payload) -> Envelope:
        envelope = sign(self._signer, payload)
        self._verifier.remember(envelope)
        return envelope

    def status(self) -> ReplicaStatus:
        """A snapshot of where the replica stands."""
        return ReplicaStatus(
            replica=self._id,
            view=self._view,
            low_mark=self._stable_seq,
            high_mark=self._high_mark,
            last_executed=self._last_executed,
            stable_seq=self._stable_seq,
            view_change_in_progress=not self._active,
            log_slots=len(self._log),
            rejections=dict(sorted(self._rejections.items())),
        )

    @property
    def rejections(self) -> Mapping[str, int]:
        """How many messages were rejected, per reason (:mod:`pbft.replica.reasons`)."""
        return dict(sorted(self._rejections.items()))

    def _status_envelope(self) -> Envelope:
        return self._sign(
            Status(
                view=self._view,
                stable_seq=self._stable_seq,
                last_executed=self._last_executed,
                replica=self._id,
            )
        )

    def _fetch_state_envelope(self) -> Envelope:
        return self._sign(FetchState(above_seq=self._last_executed, replica=self._id))

    def _own_prepare(self, slot: Slot) -> None:
        digest = slot.digest
        assert digest is not None
        slot.prepares[self._id] = self._sign(
            Prepare(view=slot.view, seq=slot.seq, digest=digest, replica=self._id)
        )

    def _own_commit(self, slot: Slot) -> None:
        digest = slot.digest
        assert digest is not None
        slot.commits[self._id] = self._sign(
            Commit(view=slot.view, seq=slot.seq, digest=digest, replica=self._id)
        )

    def _forget_request(self, client: str, timestamp: int) -> None:
        for pending in (self._waiting, self._queue):
            known = pending.get(client)
            if known is not None and timestamp_of(known) <= timestamp:
                del pending[client]
                if pending is self._waiting:
                    self._waiting_since_s.pop(client, None)
        if self._assigned.get(client, timestamp + 1) <= timestamp:
            del self._assigned[client]

    def _reply_envelope(self, client: str) -> Envelope:
        cached = self._replies[client]
        reply = Reply(
            view=self._view,
            timestamp=cached.timestamp,
            client=client,
            replica=self._id,
            result=cached.result,
        )
        # A replayed request costs its sender nothing; answering it must not cost a signature.
        signed = self._signed_replies.get(client)
        if signed is None or signed.payload != reply:
            signed = self._signed_replies[client] = self._sign(reply)
        return signed


def safe_batch_digest(batch: tuple[Envelope, ...]) -> bytes | None:
    """The batch digest, or None if a member cannot be encoded (a faulty peer's batch)."""
    try:
        return batch_digest(batch)
    except (EncodeError, TypeError, ValueError):
        return None


# Accessors for envelopes whose payload type a guard or certificate check established.


def pre_prepare_of(envelope: Envelope) -> PrePrepare:
    payload = envelope.payload
    assert isinstance(payload, PrePrepare)
    return payload


def seq_of(envelope: Envelope) -> Seq:
    return pre_prepare_of(envelope).seq


def view_of(envelope: Envelope) -> View:
    return pre_prepare_of(envelope).view


def client_of(envelope: Envelope) -> str:
    request = envelope.payload
    assert isinstance(request, Request)
    return request.client


def timestamp_of(envelope: Envelope) -> int:
    request = envelope.payload
    assert isinstance(request, Request)
    return request.timestamp


def vote_digest_of(envelope: Envelope) -> bytes:
    payload = envelope.payload
    assert isinstance(payload, Prepare | Commit)
    return payload.digest
