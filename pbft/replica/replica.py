"""The PBFT replica core: a pure state machine from inputs to effects (OSDI '99 §4, TOCS §2-§6).

:class:`Replica` takes signed envelopes as received and timer expiries, each with the current
time of the node's own clock, and returns the effects its driver must carry out in list order
(:mod:`pbft.effects`). It reads no clock, opens no socket or file and draws no random number.

Every handler ``on_<message>`` first asks its guard ``_reject_<message>`` (or an inline check)
for a rejection reason (:mod:`pbft.replica.reasons`); a rejected message changes nothing but
the rejection counter and yields one :class:`~pbft.effects.Rejected` effect. Harmless
duplicates and late votes for already-collected sequence numbers are ignored without a count.

Persistence discipline: whatever a message promises (a pre-prepare for (v, n), a prepare, a
commit, a view change, a new view) is handed to the driver as a :class:`~pbft.effects.Persist`
*before* the send that carries the promise, so a replica restarted with
:meth:`Replica.recover` never takes a promise back (no equivocation after a crash).
"""

from __future__ import annotations

from collections.abc import Mapping

import crypto
from pbft.app import Service
from pbft.config import Config
from pbft.effects import (
    Broadcast,
    CheckpointStable,
    Effect,
    EnteredView,
    Executed,
    Persist,
    Rejected,
    Send,
    StartTimer,
    StopTimer,
)
from pbft.ids import ReplicaId, Seq, TimerName, View, replica_principal
from pbft.inputs import Received, TimerFired
from pbft.messages import (
    Checkpoint,
    Commit,
    CommitCertificate,
    EncodeError,
    Envelope,
    FetchState,
    NewView,
    Payload,
    Prepare,
    PrePrepare,
    Reply,
    Request,
    StateSnapshot,
    Status,
    ViewChange,
    batch_digest,
    sign,
)
from pbft.replica import persistence, reasons
from pbft.replica.certificates import check_commit_certificate
from pbft.replica.checkpoints import (
    CachedReply,
    CheckpointVotes,
    decode_state,
    encode_state,
    state_digest,
)
from pbft.replica.log import Log, Slot
from pbft.replica.state_transfer import check_state_snapshot
from pbft.replica.status import ReplicaStatus
from pbft.replica.verifier import Verifier
from pbft.replica.view_change import (
    CheckedViewChange,
    NewViewPlan,
    check_new_view,
    check_view_change,
    compute_new_view_plan,
)
from pbft.timeouts import LatencyEstimator

VIEW_CHANGE_TIMER = TimerName("view-change")
STATUS_TIMER = TimerName("status")
BATCH_TIMER = TimerName("batch")

MAX_BACKOFF_EXPONENT = 6
"""Successive view changes double the timer at most 2**6 = 64 times (documented in
docs/deviations.md): enough to outlast any realistic period of asynchrony while a cluster
that lost its primary for good still recovers within minutes, not days."""


class Replica:
    """One PBFT replica: normal case, checkpoints, view changes, state transfer, recovery."""

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

        # Requests (§4.1): the reply cache, requests known but not executed, the primary's queue.
        self._replies: dict[str, CachedReply] = {}
        self._waiting: dict[str, Envelope] = {}
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
        self._restart_view_change_timer = False
        self._batch_timer_armed = False
        self._recovered = False

    # ------------------------------------------------------------------ public API

    @classmethod
    def recover(
        cls,
        *,
        config: Config,
        replica: ReplicaId,
        signer: crypto.Signer,
        keyring: crypto.Keyring,
        service: Service,
        stored: Mapping[str, bytes],
    ) -> Replica:
        """Rebuild a replica from exactly what it persisted (volatile state is lost).

        Restores the stable checkpoint (service state and reply cache), the view, the sent
        VIEW-CHANGE or accepted NEW-VIEW, and every slot in the window; then replays the
        committed log tail above the checkpoint without effects (the replies were sent before
        the crash and are in the reply cache; clients that missed them retransmit). Raises
        :class:`pbft.replica.persistence.StoredStateError` if the store is unreadable.
        Call :meth:`start` next; the replica then catches up through retransmission and state
        transfer.
        """
        self = cls(config=config, replica=replica, signer=signer, keyring=keyring, service=service)
        self._recovered = True
        state = persistence.load(stored)
        if state.checkpoint is not None:
            seq, encoded, proof = state.checkpoint
            try:
                service_snapshot, replies = decode_state(encoded)
                service.restore(service_snapshot)
            except ValueError as error:
                raise persistence.StoredStateError(f"stored checkpoint: {error}") from error
            self._replies = replies
            self._stable_seq = self._last_executed = seq
            self._stable_state = encoded
            self._stable_proof = proof
            self._own_checkpoints[seq] = (encoded, state_digest(encoded), None)
        self._view = state.view
        self._active = state.active
        if state.active and state.new_view is not None:
            new_view = state.new_view.payload
            if isinstance(new_view, NewView) and new_view.view == self._view:
                self._new_view = state.new_view
                self._new_view_floor = Seq(
                    max((_seq_of(member) for member in new_view.pre_prepares), default=0)
                )
                self._new_view_pending = {
                    _seq_of(member): member
                    for member in new_view.pre_prepares
                    if _seq_of(member) > self._stable_seq
                }
        elif state.view_change is not None:
            checked = check_view_change(state.view_change, config=config, verifier=self._verifier)
            if isinstance(checked, CheckedViewChange) and checked.view == self._view:
                self._own_view_change = state.view_change
                self._view_changes[self._id] = checked
        for stored_slot in state.slots:
            if stored_slot.seq <= self._stable_seq:
                continue
            slot = self._log.slot(stored_slot.seq, view=stored_slot.view, now_s=0.0)
            slot.pre_prepare = stored_slot.pre_prepare
            slot.prepared = stored_slot.prepared
            slot.committed = stored_slot.committed
            if slot.pre_prepare is not None and slot.view == self._view:
                self._new_view_pending.pop(slot.seq, None)
                self._max_pre_prepared = max(self._max_pre_prepared, slot.seq)
                # Re-signing the same vote is no equivocation; it lets us retransmit it.
                if self._config.primary(slot.view) != self._id:
                    self._own_prepare(slot)
                if slot.prepared is not None and _view_of(slot.prepared.pre_prepare) == slot.view:
                    self._own_commit(slot)
        # O entries of the stored NEW-VIEW whose slots were not yet persisted at the crash are
        # installed by the first step (as when the window moves).
        self._window_moved = bool(self._new_view_pending)
        scratch: list[Effect] = []
        self._execute_ready(0.0, scratch, replay=True)
        self._next_seq = Seq(
            max(self._last_executed, self._max_pre_prepared, self._new_view_floor) + 1
        )
        return self

    def start(self, *, now_s: float) -> list[Effect]:
        """Arm the periodic timers; report view 0 on a fresh start, say hello after recovery."""
        out: list[Effect] = []
        if not self._recovered:
            out.append(EnteredView(replica=self._id, view=self._view))
        out.append(
            StartTimer(timer=STATUS_TIMER, fires_at_s=now_s + self._config.status_interval_s)
        )
        if self._recovered:
            # Ask peers at once for what we missed while down instead of waiting a period.
            out.append(Broadcast(envelope=self._status_envelope()))
            if not self._active and self._own_view_change is not None:
                out.append(Broadcast(envelope=self._own_view_change))
            elif not self._active:
                # We crashed between persisting the view and the VIEW-CHANGE: none was sent,
                # so building it now promises nothing new.
                self._send_view_change(now_s, out)
        self._restart_view_change_timer = True
        self._sync_view_change_timer(now_s, out)
        return out

    def step(self, event: Received | TimerFired, *, now_s: float) -> list[Effect]:
        """Process one input and return the effects, to be carried out in order."""
        out: list[Effect] = []
        if isinstance(event, TimerFired):
            self._on_timer(event.timer, now_s, out)
        elif isinstance(event, Received):
            self._on_envelope(event.envelope, now_s, out)
        while self._window_moved:
            self._window_moved = False
            self._install_new_view_pending(now_s, out)
            self._replay_early(now_s, out)
        self._sync_view_change_timer(now_s, out)
        return out

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

    # ------------------------------------------------------------------ dispatch

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

    def _on_envelope(self, envelope: Envelope, now_s: float, out: list[Effect]) -> None:
        received: object = envelope
        if not isinstance(received, Envelope):
            return  # drivers only hand us envelopes; nothing to count a sender against
        payload = envelope.payload
        if isinstance(payload, Request):
            self.on_request(envelope, payload, now_s, out)
            return
        sender = self._verifier.replica_sender(envelope)
        if sender is None:
            self._reject(out, envelope, reasons.UNKNOWN_SENDER, "not a replica of this cluster")
            return
        if sender == self._id:
            return  # our own message echoed back (duplicated by the network or replayed)
        if not isinstance(
            payload,
            PrePrepare
            | Prepare
            | Commit
            | Checkpoint
            | ViewChange
            | NewView
            | CommitCertificate
            | FetchState
            | StateSnapshot
            | Status,
        ):
            self._reject(out, envelope, reasons.UNEXPECTED_MESSAGE, type(payload).__name__)
            return
        named = getattr(payload, "replica", sender)
        if named != sender:
            self._reject(out, envelope, reasons.WRONG_SENDER, f"payload names replica {named}")
            return
        if not self._verifier.is_valid(envelope):
            self._reject(out, envelope, reasons.BAD_SIGNATURE)
            return
        if isinstance(payload, PrePrepare):
            self.on_pre_prepare(envelope, payload, now_s, out)
        elif isinstance(payload, Prepare):
            self.on_prepare(envelope, payload, now_s, out)
        elif isinstance(payload, Commit):
            self.on_commit(envelope, payload, now_s, out)
        elif isinstance(payload, Checkpoint):
            self.on_checkpoint(envelope, payload, now_s, out)
        elif isinstance(payload, ViewChange):
            self.on_view_change(envelope, payload, now_s, out)
        elif isinstance(payload, NewView):
            self.on_new_view(envelope, payload, now_s, out)
        elif isinstance(payload, CommitCertificate):
            self.on_commit_certificate(envelope, payload, now_s, out)
        elif isinstance(payload, FetchState):
            self.on_fetch_state(sender, payload, now_s, out)
        elif isinstance(payload, StateSnapshot):
            self.on_state_snapshot(envelope, payload, now_s, out)
        else:
            self.on_status(sender, payload, now_s, out)

    def _on_timer(self, timer: TimerName, now_s: float, out: list[Effect]) -> None:
        if timer == STATUS_TIMER:
            self.on_status_timer(now_s, out)
        elif timer == VIEW_CHANGE_TIMER:
            self.on_view_change_timer(now_s, out)
        elif timer == BATCH_TIMER:
            self._batch_timer_armed = False
            self._propose(now_s, out, flush=True)

    def _sign(self, payload: Payload) -> Envelope:
        envelope = sign(self._signer, payload)
        self._verifier.remember(envelope)
        return envelope

    # ------------------------------------------------------------------ requests (§4.1)

    def on_request(
        self, envelope: Envelope, request: Request, now_s: float, out: list[Effect]
    ) -> None:
        """A client's <REQUEST, o, t, c> (§4.1), sent directly or forwarded by a backup.

        Accepted when signed by the client it names. A request older than the client's last
        executed one is stale; the last one is answered again from the reply cache, never
        executed again. The primary queues a new request for the next batch; a backup
        forwards it to the primary and (through the pending work it now has) arms its
        view-change timer (§4.4).
        """
        reason = self._reject_request(envelope, request)
        if reason is not None:
            self._reject(out, envelope, *reason)
            return
        cached = self._replies.get(request.client)
        if cached is not None and request.timestamp <= cached.timestamp:
            if request.timestamp == cached.timestamp:
                out.append(Send(to=request.client, envelope=self._reply_envelope(request.client)))
            else:
                self._reject(out, envelope, reasons.STALE, f"timestamp {request.timestamp}")
            return
        known = self._waiting.get(request.client)
        if known is not None and _timestamp(known) > request.timestamp:
            self._reject(out, envelope, reasons.STALE, f"timestamp {request.timestamp}")
            return
        self._waiting[request.client] = envelope
        if not self._active:
            return  # handled once the new view is in place
        if not self._is_primary:
            primary = replica_principal(self._config.primary(self._view))
            out.append(Send(to=primary, envelope=envelope))
            return
        if self._assigned.get(request.client, -1) >= request.timestamp:
            return  # already in a pre-prepare of this view
        queued = self._queue.get(request.client)
        if queued is not None and _timestamp(queued) >= request.timestamp:
            return
        self._queue[request.client] = envelope
        self._propose(now_s, out, flush=False)

    def _reject_request(self, envelope: Envelope, request: Request) -> tuple[str, str] | None:
        if envelope.sender != request.client:
            return reasons.WRONG_SENDER, "a request must be signed by its client"
        if not isinstance(request.client, str) or not self._verifier.is_client(request.client):
            return reasons.UNKNOWN_SENDER, "not a client of this cluster"
        if not self._verifier.is_valid(envelope):
            return reasons.BAD_SIGNATURE, ""
        return None

    def _reply_envelope(self, client: str) -> Envelope:
        cached = self._replies[client]
        return self._sign(
            Reply(
                view=self._view,
                timestamp=cached.timestamp,
                client=client,
                replica=self._id,
                result=cached.result,
            )
        )

    def _propose(self, now_s: float, out: list[Effect], *, flush: bool) -> None:
        """The primary assigns the next seqs to batches of queued requests (§4.2, TOCS §5.1).

        A batch leaves when it is full, when the batch timer fires (``flush``), or at once
        when ``batch_delay_s`` is 0. Several batches may be in flight (pipelining) as long as
        their seqs stay within the window; the pre-prepare is persisted before it is sent.
        """
        if not (self._active and self._is_primary):
            return
        config = self._config
        while self._queue and self._next_seq <= self._high_mark:
            if len(self._queue) < config.batch_size_max and not flush and config.batch_delay_s > 0:
                break
            clients = list(self._queue)[: config.batch_size_max]
            batch = tuple(self._queue.pop(client) for client in clients)
            for member in batch:
                self._assigned[_client(member)] = _timestamp(member)
            seq = self._next_seq
            self._next_seq = Seq(seq + 1)
            envelope = self._sign(
                PrePrepare(view=self._view, seq=seq, digest=batch_digest(batch), batch=batch)
            )
            slot = self._log.slot(seq, view=self._view, now_s=now_s)
            assert slot.pre_prepare is None  # a primary assigns each seq once per view
            slot.pre_prepare = envelope
            self._max_pre_prepared = max(self._max_pre_prepared, seq)
            out.append(Persist(key=persistence.slot_key(seq), value=self._encoder.slot(slot)))
            out.append(Broadcast(envelope=envelope))
            self._advance(slot, now_s, out)
        if self._queue and not self._batch_timer_armed and self._next_seq <= self._high_mark:
            self._batch_timer_armed = True
            out.append(StartTimer(timer=BATCH_TIMER, fires_at_s=now_s + config.batch_delay_s))

    # ------------------------------------------------------------------ normal case (§4.2)

    def on_pre_prepare(
        self, envelope: Envelope, pre_prepare: PrePrepare, now_s: float, out: list[Effect]
    ) -> None:
        """A backup accepts <PRE-PREPARE, v, n, d> and multicasts PREPARE (§4.2).

        Accepted when signed by the primary of view v, v is our view and we are not changing
        views, low mark < n <= high mark, no pre-prepare with another digest was accepted
        for (v, n), d is the digest of the batch, and every request in the batch is signed
        by its client. The pre-prepare is persisted before the PREPARE leaves. Pre-prepares
        up to one window above the high mark are held back until the window moves.
        """
        reason = self._reject_pre_prepare(envelope, pre_prepare)
        if reason is not None:
            if reason[0] == reasons.OUTSIDE_WINDOW and self._hold_early(envelope, pre_prepare.seq):
                return
            if reason[0] != "duplicate":
                self._reject(out, envelope, *reason)
            return
        slot = self._log.slot(pre_prepare.seq, view=self._view, now_s=now_s)
        slot.pre_prepare = envelope
        self._own_prepare(slot)
        self._max_pre_prepared = max(self._max_pre_prepared, pre_prepare.seq)
        out.append(Persist(key=persistence.slot_key(slot.seq), value=self._encoder.slot(slot)))
        out.append(Broadcast(envelope=slot.prepares[self._id]))
        self._advance(slot, now_s, out)

    def _reject_pre_prepare(
        self, envelope: Envelope, pre_prepare: PrePrepare
    ) -> tuple[str, str] | None:
        primary = replica_principal(self._config.primary(pre_prepare.view))
        if envelope.sender != primary:
            return reasons.NOT_FROM_PRIMARY, f"view {pre_prepare.view} belongs to {primary}"
        if pre_prepare.view != self._view:
            return reasons.WRONG_VIEW, f"view {pre_prepare.view}, we are in {self._view}"
        if not self._active:
            return reasons.VIEW_CHANGE_IN_PROGRESS, f"waiting for NEW-VIEW {self._view}"
        if not self._stable_seq < pre_prepare.seq <= self._high_mark:
            return reasons.OUTSIDE_WINDOW, (
                f"seq {pre_prepare.seq} outside ({self._stable_seq}, {self._high_mark}]"
            )
        slot = self._log.get(pre_prepare.seq)
        if slot is not None and slot.view == self._view and slot.pre_prepare is not None:
            if slot.digest == pre_prepare.digest:
                return "duplicate", ""
            return reasons.CONFLICTING_PRE_PREPARE, f"(view {self._view}, seq {slot.seq})"
        if pre_prepare.seq <= self._new_view_floor:
            # The NEW-VIEW already fixed this seq; only its own pre-prepare may fill it.
            return reasons.CONFLICTING_PRE_PREPARE, f"seq {pre_prepare.seq} is decided by NEW-VIEW"
        if _safe_batch_digest(pre_prepare.batch) != pre_prepare.digest:
            return reasons.BAD_DIGEST, f"seq {pre_prepare.seq}"
        for member in pre_prepare.batch:
            request = member.payload
            if not isinstance(request, Request) or member.sender != request.client:
                return reasons.BAD_REQUEST, "batch member is not a request signed by its client"
            if not self._verifier.is_client(request.client):
                return reasons.BAD_REQUEST, f"unknown client {request.client!r} in batch"
            if not self._verifier.is_valid(member):
                return reasons.BAD_CLIENT_SIGNATURE, f"request of {request.client} in batch"
        return None

    def on_prepare(
        self, envelope: Envelope, prepare: Prepare, now_s: float, out: list[Effect]
    ) -> None:
        """Log a backup's <PREPARE, v, n, d, i> (§4.2); the slot may become prepared.

        Accepted when v is our view, the sender is not the primary of v (the primary never
        prepares), and n is in the window. One prepare per replica per (v, n): a second one
        with another digest is a conflicting vote. Prepares for the view we are changing to
        are kept, so that they count once the NEW-VIEW arrives.
        """
        reason = self._reject_vote(envelope, prepare.view, prepare.seq)
        if reason is None and self._config.primary(prepare.view) == prepare.replica:
            reason = reasons.FROM_PRIMARY, f"replica {prepare.replica} is the primary"
        if reason is not None:
            if reason[0] == reasons.OUTSIDE_WINDOW and self._hold_early(envelope, prepare.seq):
                return
            if reason[0] != "late":
                self._reject(out, envelope, *reason)
            return
        slot = self._log.slot(prepare.seq, view=self._view, now_s=now_s)
        if not self._add_vote(slot.prepares, prepare.replica, envelope, prepare.digest, out):
            return
        self._advance(slot, now_s, out)

    def on_commit(
        self, envelope: Envelope, commit: Commit, now_s: float, out: list[Effect]
    ) -> None:
        """Log a <COMMIT, v, n, d, i> (§4.2); the slot may become committed-local.

        Accepted when v is our view (or the one we are changing to) and n is in the window;
        one commit per replica per (v, n).
        """
        reason = self._reject_vote(envelope, commit.view, commit.seq)
        if reason is not None:
            if reason[0] == reasons.OUTSIDE_WINDOW and self._hold_early(envelope, commit.seq):
                return
            if reason[0] != "late":
                self._reject(out, envelope, *reason)
            return
        slot = self._log.slot(commit.seq, view=self._view, now_s=now_s)
        if not self._add_vote(slot.commits, commit.replica, envelope, commit.digest, out):
            return
        self._advance(slot, now_s, out)

    def _reject_vote(self, envelope: Envelope, view: View, seq: Seq) -> tuple[str, str] | None:
        if view != self._view:
            return reasons.WRONG_VIEW, f"view {view}, we are in {self._view}"
        if seq <= self._stable_seq:
            return "late", ""  # the slot is already collected: a harmless late vote
        if seq > self._high_mark:
            return reasons.OUTSIDE_WINDOW, f"seq {seq} above high mark {self._high_mark}"
        return None

    def _add_vote(
        self,
        votes: dict[ReplicaId, Envelope],
        replica: ReplicaId,
        envelope: Envelope,
        digest: bytes,
        out: list[Effect],
    ) -> bool:
        existing = votes.get(replica)
        if existing is None:
            votes[replica] = envelope
            return True
        if _vote_digest(existing) != digest:
            self._reject(out, envelope, reasons.CONFLICTING_VOTE, f"replica {replica}")
        return False

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

    def _advance(self, slot: Slot, now_s: float, out: list[Effect]) -> None:
        """Move a slot of the current view along: prepared -> COMMIT, committed -> execute.

        When the slot becomes prepared (§4.2) its prepared certificate is persisted before
        our COMMIT leaves; when it becomes committed-local its commit certificate is
        persisted, and the slot executes once every lower seq has.
        """
        if not self._active or slot.view != self._view or slot.pre_prepare is None:
            return
        quorum = self._config.quorum
        if self._id not in slot.commits and slot.is_prepared(quorum=quorum):
            slot.prepared = slot.prepared_certificate(quorum=quorum)
            self._own_commit(slot)
            out.append(Persist(key=persistence.slot_key(slot.seq), value=self._encoder.slot(slot)))
            out.append(Broadcast(envelope=slot.commits[self._id]))
        if slot.committed is None and slot.is_committed_local(quorum=quorum):
            slot.committed = slot.commit_certificate(quorum=quorum)
            out.append(Persist(key=persistence.slot_key(slot.seq), value=self._encoder.slot(slot)))
            if slot.seq == self._last_executed + 1:
                self._estimator.observe(now_s - slot.opened_s)
            self._execute_ready(now_s, out)

    def _hold_early(self, envelope: Envelope, seq: Seq) -> bool:
        """Keep a normal-case message up to one window above H until the window moves.

        Checkpoint messages and pre-prepares race: the primary may move its window and send
        the next pre-prepare before we collected the checkpoint quorum (hyperledger fabric
        #1119). Holding these messages back avoids a needless stall; the hold is bounded by
        the window and by 2n + 1 messages per seq.
        """
        # Deviation (§4.2): held back instead of dropped; checked in full when processed.
        if not self._high_mark < seq <= self._high_mark + self._config.window_size:
            return False
        held = self._early.setdefault(seq, [])
        if len(held) < 2 * self._config.n + 1:
            held.append(envelope)
        return True

    def _install_new_view_pending(self, now_s: float, out: list[Effect]) -> None:
        """Install NEW-VIEW pre-prepares that were above our window when the view began."""
        ready = sorted(seq for seq in self._new_view_pending if seq <= self._high_mark)
        for seq in ready:
            member = self._new_view_pending.pop(seq)
            if seq <= self._stable_seq or not self._active:
                continue
            slot = self._log.slot(seq, view=self._view, now_s=now_s)
            if slot.pre_prepare is not None:
                continue
            slot.pre_prepare = member
            self._max_pre_prepared = max(self._max_pre_prepared, seq)
            if not self._is_primary:
                self._own_prepare(slot)
            out.append(Persist(key=persistence.slot_key(seq), value=self._encoder.slot(slot)))
            if not self._is_primary:
                out.append(Broadcast(envelope=slot.prepares[self._id]))
            self._advance(slot, now_s, out)

    def _replay_early(self, now_s: float, out: list[Effect]) -> None:
        ready = sorted(seq for seq in self._early if seq <= self._high_mark)
        for seq in ready:
            for envelope in self._early.pop(seq):
                self._on_envelope(envelope, now_s, out)

    # ------------------------------------------------------------------ execution (§4.1, §4.2)

    def _execute_ready(self, now_s: float, out: list[Effect], *, replay: bool = False) -> None:
        """Execute committed slots strictly in sequence order (§4.2).

        Each request runs at most once: a request whose timestamp is not above the client's
        last executed one (a retransmission that made it into two batches) is skipped. A
        checkpoint is taken after every K-th seq (§4.3).
        """
        while True:
            seq = Seq(self._last_executed + 1)
            slot = self._log.get(seq)
            if slot is None or slot.committed is None:
                return
            pre_prepare = slot.committed.pre_prepare.payload
            assert isinstance(pre_prepare, PrePrepare)
            assert pre_prepare.seq == seq
            self._execute_batch(pre_prepare, out, replay=replay)
            if seq % self._config.checkpoint_interval == 0:
                self._take_checkpoint(seq, now_s, out)

    def _execute_batch(self, pre_prepare: PrePrepare, out: list[Effect], *, replay: bool) -> None:
        executed: list[Request] = []
        results: list[bytes] = []
        for member in pre_prepare.batch:
            request = member.payload
            assert isinstance(request, Request)
            cached = self._replies.get(request.client)
            if cached is not None and request.timestamp <= cached.timestamp:
                continue
            result = self._service.execute(request.operation)
            self._replies[request.client] = CachedReply(timestamp=request.timestamp, result=result)
            executed.append(request)
            results.append(result)
            self._forget_request(request.client, request.timestamp)
            if not replay:
                out.append(Send(to=request.client, envelope=self._reply_envelope(request.client)))
        assert pre_prepare.seq == self._last_executed + 1
        self._last_executed = pre_prepare.seq
        if executed and self._active:
            self._view_change_attempts = 0
        self._restart_view_change_timer = True
        if not replay:
            out.append(
                Executed(
                    replica=self._id,
                    view=self._view,
                    seq=pre_prepare.seq,
                    digest=pre_prepare.digest,
                    requests=tuple(executed),
                    results=tuple(results),
                )
            )

    def _forget_request(self, client: str, timestamp: int) -> None:
        for pending in (self._waiting, self._queue):
            known = pending.get(client)
            if known is not None and _timestamp(known) <= timestamp:
                del pending[client]
        if self._assigned.get(client, timestamp + 1) <= timestamp:
            del self._assigned[client]

    # ------------------------------------------------------------------ checkpoints (§4.3)

    def _take_checkpoint(self, seq: Seq, now_s: float, out: list[Effect]) -> None:
        """Record the state after executing ``seq`` and multicast <CHECKPOINT, n, d, i>."""
        state = encode_state(self._service.snapshot(), self._replies)
        digest = state_digest(state)
        envelope = self._sign(Checkpoint(seq=seq, state_digest=digest, replica=self._id))
        self._own_checkpoints[seq] = (state, digest, envelope)
        self._votes.add(envelope, high_mark=self._high_mark)
        out.append(Broadcast(envelope=envelope))
        self._check_stable(seq, now_s, out)

    def on_checkpoint(
        self, envelope: Envelope, checkpoint: Checkpoint, now_s: float, out: list[Effect]
    ) -> None:
        """Collect a <CHECKPOINT, n, d, j> (§4.3); a quorum of matching ones makes n stable.

        Accepted when n is a positive multiple of K. Votes at or below the stable checkpoint
        are late and ignored; one vote per replica per seq counts.
        """
        seq = checkpoint.seq
        if seq <= 0 or seq % self._config.checkpoint_interval != 0:
            self._reject(out, envelope, reasons.BAD_CHECKPOINT, f"seq {seq}")
            return
        if seq <= self._stable_seq:
            return
        if not self._votes.add(envelope, high_mark=self._high_mark):
            return
        self._check_stable(seq, now_s, out)

    def _check_stable(self, seq: Seq, now_s: float, out: list[Effect]) -> None:
        """Make ``seq`` stable if a quorum agrees with our own state there (§4.3).

        A checkpoint becomes stable for this replica only once it executed up to it: a
        quorum proof for a seq we have not reached only marks it as *proven*, a target for
        state transfer if we stay behind.
        """
        if seq <= self._stable_seq:
            return
        quorum = self._config.quorum
        own = self._own_checkpoints.get(seq)
        if own is None or self._last_executed < seq:
            for digest in self._votes.proven_digests(seq, quorum=quorum):
                proof = self._votes.proof(seq, digest, quorum=quorum)
                assert proof is not None
                self._note_proven(seq, digest, proof, now_s)
            return
        state, digest, _ = own
        proof = self._votes.proof(seq, digest, quorum=quorum)
        if proof is not None:
            self._make_stable(seq, state, digest, proof, now_s, out)

    def _make_stable(
        self,
        seq: Seq,
        state: bytes,
        digest: bytes,
        proof: tuple[Envelope, ...],
        now_s: float,
        out: list[Effect],
    ) -> None:
        """Adopt ``seq`` as the stable checkpoint: persist it, collect garbage, move the window."""
        assert seq > self._stable_seq
        assert self._last_executed >= seq
        self._stable_seq = seq
        self._stable_state = state
        self._stable_proof = proof
        out.append(
            Persist(
                key=persistence.CHECKPOINT_KEY,
                value=persistence.encode_checkpoint(seq, state, proof, self._encoder),
            )
        )
        for dropped in self._log.collect_garbage(seq):
            out.append(Persist(key=persistence.slot_key(dropped), value=None))
        self._votes.collect_garbage(seq)
        self._votes.rebase(self._high_mark)
        self._own_checkpoints = {s: c for s, c in self._own_checkpoints.items() if s >= seq}
        if self._proven is not None and self._proven[0] <= seq:
            self._proven = None
        self._next_seq = Seq(max(self._next_seq, seq + 1))
        out.append(CheckpointStable(replica=self._id, seq=seq, state_digest=digest))
        self._window_moved = True
        self._propose(now_s, out, flush=True)

    def _note_proven(
        self, seq: Seq, digest: bytes, proof: tuple[Envelope, ...], now_s: float
    ) -> None:
        if seq <= self._last_executed:
            return
        if self._proven is None or seq > self._proven[0]:
            if self._proven is None:
                self._proven_since_s = now_s
            self._proven = (seq, digest, proof)

    # ------------------------------------------------------------------ view change (§4.4)

    def on_view_change_timer(self, now_s: float, out: list[Effect]) -> None:
        """The view-change timer expired: suspect the primary and move to the next view.

        In a view, the timer runs while we wait to execute work (§4.4, liveness); while
        changing views, it runs from the moment a quorum of VIEW-CHANGEs is in, and its
        expiry means the new primary failed too.
        """
        if not self._view_change_timer_armed:
            return
        self._view_change_timer_armed = False
        if self._active and (self._is_primary or not self._has_pending_work()):
            return
        self._start_view_change(View(self._view + 1), now_s, out)

    def _start_view_change(self, view: View, now_s: float, out: list[Effect]) -> None:
        """Enter view ``view`` as changing and multicast <VIEW-CHANGE, v+1, n, C, P, i>.

        C is the stable checkpoint's proof and P a prepared certificate for every seq above
        it that prepared here (in the highest view). The view and the VIEW-CHANGE are
        persisted before it leaves; normal-case messages of older views are refused from now.
        """
        assert view > self._view
        self._view = view
        self._active = False
        self._view_change_attempts += 1
        self._queue.clear()
        self._assigned.clear()
        self._early.clear()
        self._new_view = None
        self._new_view_floor = Seq(0)
        self._new_view_pending = {}
        self._max_pre_prepared = Seq(0)
        if self._batch_timer_armed:
            self._batch_timer_armed = False
            out.append(StopTimer(timer=BATCH_TIMER))
        if self._view_change_timer_armed:
            self._view_change_timer_armed = False
            out.append(StopTimer(timer=VIEW_CHANGE_TIMER))
        self._send_view_change(now_s, out)

    def _send_view_change(self, now_s: float, out: list[Effect]) -> None:
        """Build, persist and multicast our VIEW-CHANGE for the view we are changing to."""
        assert not self._active
        view = self._view
        prepared = tuple(
            slot.prepared
            for slot in (self._log.get(seq) for seq in self._log.seqs())
            if slot is not None and slot.prepared is not None and slot.seq > self._stable_seq
        )
        view_change = ViewChange(
            new_view=view,
            stable_seq=self._stable_seq,
            checkpoint_proof=self._stable_proof,
            prepared=prepared,
            replica=self._id,
        )
        envelope = self._sign(view_change)
        self._own_view_change = envelope
        out.append(
            Persist(key=persistence.VIEW_KEY, value=persistence.encode_view(view, active=False))
        )
        out.append(Persist(key=persistence.VIEW_CHANGE_KEY, value=self._encoder.envelope(envelope)))
        out.append(Broadcast(envelope=envelope))
        self._view_changes[self._id] = CheckedViewChange(
            envelope=envelope,
            view=view,
            replica=self._id,
            stable_seq=self._stable_seq,
            checkpoint_digest=state_digest(self._stable_state) if self._stable_seq else None,
            prepared={
                _seq_of(cert.pre_prepare): _pre_prepare_of(cert.pre_prepare) for cert in prepared
            },
        )
        self._maybe_send_new_view(now_s, out)

    def on_view_change(
        self, envelope: Envelope, view_change: ViewChange, now_s: float, out: list[Effect]
    ) -> None:
        """Collect a <VIEW-CHANGE, v+1, n, C, P, j> (§4.4), checked on its own.

        A view change for a view we are already in (or one below) means the sender lacks
        the NEW-VIEW: we send it ours. Otherwise it is checked member by member (an invalid
        one is rejected alone, never spoiling the valid ones of others) and kept as the
        sender's latest. f + 1 of them for views above ours make us join the smallest such
        view; the new primary sends NEW-VIEW once it holds a quorum.
        """
        if view_change.new_view < self._view or (
            view_change.new_view == self._view and self._active
        ):
            self._help_behind(envelope.sender, out)
            return
        existing = self._view_changes.get(view_change.replica)
        if existing is not None and existing.view >= view_change.new_view:
            return  # a duplicate, or an older view change than the one we hold
        checked = check_view_change(envelope, config=self._config, verifier=self._verifier)
        if isinstance(checked, str):
            self._reject(out, envelope, reasons.INVALID_CERTIFICATE, checked)
            return
        self._view_changes[checked.replica] = checked
        self._maybe_join(now_s, out)
        self._maybe_send_new_view(now_s, out)

    def _help_behind(self, principal: str, out: list[Effect]) -> None:
        if self._active and self._new_view is not None:
            out.append(Send(to=principal, envelope=self._new_view))
        elif not self._active and self._own_view_change is not None:
            out.append(Send(to=principal, envelope=self._own_view_change))

    def _maybe_join(self, now_s: float, out: list[Effect]) -> None:
        """Join the smallest view that f + 1 replicas want beyond ours (§4.5.2 liveness).

        f + 1 view changes contain one from a correct replica, so a faulty minority cannot
        drag us along, while a correct replica that timed out is never left alone.
        """
        views = sorted(
            (checked.view for checked in self._view_changes.values() if checked.view > self._view),
            reverse=True,
        )
        if len(views) < self._config.weak_quorum:
            return
        self._start_view_change(views[self._config.f], now_s, out)

    def _view_change_quorum(self) -> list[CheckedViewChange]:
        return sorted(
            (c for c in self._view_changes.values() if c.view == self._view),
            key=lambda c: c.replica,
        )

    def _maybe_send_new_view(self, now_s: float, out: list[Effect]) -> None:
        """As the new primary, send <NEW-VIEW, v+1, V, O> once V holds a quorum (§4.4)."""
        if self._active or not self._is_primary:
            return
        view_changes = self._view_change_quorum()
        if len(view_changes) < self._config.quorum:
            return
        plan = compute_new_view_plan(self._view, view_changes)
        pre_prepares = tuple(
            self._sign(PrePrepare(view=self._view, seq=seq, digest=digest, batch=batch))
            for seq, digest, batch in plan.pre_prepares
        )
        envelope = self._sign(
            NewView(
                view=self._view,
                view_changes=tuple(c.envelope for c in view_changes),
                pre_prepares=pre_prepares,
            )
        )
        self._enter_view(envelope, plan, pre_prepares, now_s, out)

    def on_new_view(
        self, envelope: Envelope, new_view: NewView, now_s: float, out: list[Effect]
    ) -> None:
        """Accept <NEW-VIEW, v+1, V, O> and enter the view (§4.4).

        Accepted when signed by the primary of v+1, v+1 is above our view or is the view we
        are changing to, every view change in V checks on its own, V holds a quorum, and O
        equals the O we recompute from V. A valid NEW-VIEW for a higher view than ours moves
        us there directly: its V proves that a quorum moved.
        """
        primary = replica_principal(self._config.primary(new_view.view))
        if envelope.sender != primary:
            self._reject(out, envelope, reasons.NOT_FROM_PRIMARY, f"view {new_view.view}")
            return
        if new_view.view < self._view or (new_view.view == self._view and self._active):
            return  # stale or duplicate
        checked = check_new_view(envelope, config=self._config, verifier=self._verifier)
        if isinstance(checked, str):
            reason = (
                reasons.WRONG_NEW_VIEW if checked.startswith("O") else reasons.INVALID_CERTIFICATE
            )
            self._reject(out, envelope, reason, checked)
            return
        plan, _ = checked
        if new_view.view > self._view:
            # Deviation (§4.4): V proves a quorum moved, so we follow without a VIEW-CHANGE.
            self._view = new_view.view
            self._active = False
            self._view_change_attempts = max(self._view_change_attempts, 1)
            self._queue.clear()
            self._assigned.clear()
            self._early.clear()
            self._max_pre_prepared = Seq(0)
            if self._batch_timer_armed:
                self._batch_timer_armed = False
                out.append(StopTimer(timer=BATCH_TIMER))
        self._enter_view(envelope, plan, new_view.pre_prepares, now_s, out)

    def _enter_view(
        self,
        envelope: Envelope,
        plan: NewViewPlan,
        pre_prepares: tuple[Envelope, ...],
        now_s: float,
        out: list[Effect],
    ) -> None:
        """Install O as this view's pre-prepares and resume the normal case (§4.4).

        The view, the NEW-VIEW and the slots of O are persisted before the NEW-VIEW (as
        primary) or our PREPAREs (as backup) leave. last-executed never moves back: slots of O
        at or below it are prepared and committed again for the others' sake, never executed
        again. If min-s is above what we executed, we fetch that checkpoint's state.
        """
        assert not self._active
        self._active = True
        self._new_view = envelope
        self._restart_view_change_timer = True
        out.append(
            Persist(
                key=persistence.VIEW_KEY, value=persistence.encode_view(self._view, active=True)
            )
        )
        out.append(Persist(key=persistence.NEW_VIEW_KEY, value=self._encoder.envelope(envelope)))
        installed: list[Slot] = []
        last_planned = plan.pre_prepares[-1][0] if plan.pre_prepares else plan.stable_seq
        self._new_view_floor = last_planned
        self._new_view_pending = {}
        for member in pre_prepares:
            seq = _seq_of(member)
            if seq > self._high_mark:
                self._new_view_pending[seq] = member
            if not self._stable_seq < seq <= self._high_mark:
                continue
            slot = self._log.slot(seq, view=self._view, now_s=now_s)
            slot.pre_prepare = member
            if not self._is_primary:
                self._own_prepare(slot)
            self._max_pre_prepared = max(self._max_pre_prepared, seq)
            out.append(Persist(key=persistence.slot_key(seq), value=self._encoder.slot(slot)))
            installed.append(slot)
        if self._is_primary:
            out.append(Broadcast(envelope=envelope))
        else:
            for slot in installed:
                out.append(Broadcast(envelope=slot.prepares[self._id]))
        out.append(EnteredView(replica=self._id, view=self._view))
        self._view_changes = {r: c for r, c in self._view_changes.items() if c.view > self._view}
        if self._is_primary:
            self._next_seq = Seq(max(last_planned, self._last_executed, self._stable_seq) + 1)
            for member in pre_prepares:
                for request in _pre_prepare_of(member).batch:
                    self._assigned[_client(request)] = _timestamp(request)
            for client, request in self._waiting.items():
                if self._assigned.get(client, -1) < _timestamp(request):
                    self._queue[client] = request
        else:
            # Deviation (§4.4): hand the new primary the requests we still wait for.
            primary = replica_principal(self._config.primary(self._view))
            for client in sorted(self._waiting):
                out.append(Send(to=primary, envelope=self._waiting[client]))
        if plan.checkpoint_digest is not None and plan.stable_seq > self._last_executed:
            self._note_proven(plan.stable_seq, plan.checkpoint_digest, plan.checkpoint_proof, now_s)
            out.append(Broadcast(envelope=self._fetch_state_envelope()))
        for slot in installed:
            self._advance(slot, now_s, out)
        self._execute_ready(now_s, out)
        self._propose(now_s, out, flush=True)

    def _has_pending_work(self) -> bool:
        # Deviation (§4.4): accepted pre-prepares not yet executed count as waiting too.
        return bool(self._waiting) or self._max_pre_prepared > self._last_executed

    def _view_change_timeout_s(self) -> float:
        """The view-change timeout: a base doubled on every successive view change (§4.5.2).

        The base is the adaptive estimate of the commit latency (mean + 4 deviations) with
        ``adaptive_timeouts``, else ``view_change_timeout_s``, within [timeout_s_min,
        timeout_s_max], and never below two status periods.
        """
        config = self._config
        if config.adaptive_timeouts:
            base_s = self._estimator.timeout_s()
        else:
            base_s = min(
                max(config.view_change_timeout_s, config.timeout_s_min), config.timeout_s_max
            )
        # Deviation (§4.5.2): a lost message is only recovered by the next Status exchange,
        # so a timer shorter than two status periods would turn every loss into a view change.
        base_s = max(base_s, 2 * config.status_interval_s)
        # Deviation (§4.5.2): the doubling stops after MAX_BACKOFF_EXPONENT view changes.
        exponent = min(max(self._view_change_attempts - 1, 0), MAX_BACKOFF_EXPONENT)
        return float(base_s * 2**exponent)

    def _sync_view_change_timer(self, now_s: float, out: list[Effect]) -> None:
        """Arm, re-arm or stop the view-change timer to match the replica's situation."""
        if self._active:
            wanted = not self._is_primary and self._has_pending_work()
            restart = self._restart_view_change_timer
        else:
            wanted = self._view_change_timer_armed or (
                len(self._view_change_quorum()) >= self._config.quorum
            )
            restart = False
        self._restart_view_change_timer = False
        if wanted and (restart or not self._view_change_timer_armed):
            self._view_change_timer_armed = True
            out.append(
                StartTimer(
                    timer=VIEW_CHANGE_TIMER, fires_at_s=now_s + self._view_change_timeout_s()
                )
            )
        elif not wanted and self._view_change_timer_armed:
            self._view_change_timer_armed = False
            out.append(StopTimer(timer=VIEW_CHANGE_TIMER))

    # ------------------------------------------------------------------ retransmission

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

    def on_status_timer(self, now_s: float, out: list[Effect]) -> None:
        """Every status period: say where we are, re-send our VIEW-CHANGE, fetch missing state.

        Peers answer a Status with what we lack (TOCS §5.2 in spirit: the receiver, not the
        sender, decides what to retransmit). If a checkpoint proven by a quorum has been
        ahead of us for a whole period, we ask for its state (TOCS §6.2).
        """
        out.append(Broadcast(envelope=self._status_envelope()))
        if not self._active and self._own_view_change is not None:
            out.append(Broadcast(envelope=self._own_view_change))
        if (
            self._proven is not None
            and self._proven[0] > self._last_executed
            and now_s - self._proven_since_s >= self._config.status_interval_s
        ):
            out.append(Broadcast(envelope=self._fetch_state_envelope()))
        out.append(
            StartTimer(timer=STATUS_TIMER, fires_at_s=now_s + self._config.status_interval_s)
        )

    def on_status(self, sender: ReplicaId, status: Status, now_s: float, out: list[Effect]) -> None:
        """Re-send what replica ``sender`` lacks according to its <STATUS> (TOCS §5.2).

        Behind in views: our NEW-VIEW (or our VIEW-CHANGE while we change views). Behind in
        checkpoints: our stable checkpoint's proof and our own later checkpoints. Behind in
        execution: the commit certificates we still hold. Same view: our own pre-prepare,
        prepare and commit for slots that have been open for a status period.
        """
        last_s = self._status_served_s.get(sender)
        if last_s is not None and now_s - last_s < self._config.status_interval_s / 2:
            return  # answered recently: a faulty peer cannot make us stream retransmissions
        self._status_served_s[sender] = now_s
        to = replica_principal(sender)
        if status.view < self._view:
            self._help_behind(to, out)
        if status.stable_seq < self._stable_seq:
            for member in self._stable_proof:
                out.append(Send(to=to, envelope=member))
        for seq in sorted(self._own_checkpoints):
            own_envelope = self._own_checkpoints[seq][2]
            if own_envelope is not None and status.stable_seq < seq:
                out.append(Send(to=to, envelope=own_envelope))
        if self._stable_seq <= status.last_executed < self._last_executed:
            # Below our stable checkpoint the certificates are collected: the peer needs the
            # snapshot first (it fetches it once it sees the proof we just sent).
            upto = min(self._last_executed, status.stable_seq + self._config.window_size)
            self._send_commit_certificates(to, status.last_executed, out, upto=upto)
        if status.view != self._view or not self._active:
            return
        for seq in self._log.seqs():
            slot = self._log.get(seq)
            assert slot is not None
            if (
                seq <= status.last_executed
                or slot.committed is not None
                or slot.view != self._view
                or now_s - slot.opened_s < self._config.status_interval_s
            ):
                continue
            if self._is_primary and slot.pre_prepare is not None:
                out.append(Send(to=to, envelope=slot.pre_prepare))
            for votes in (slot.prepares, slot.commits):
                own = votes.get(self._id)
                if own is not None:
                    out.append(Send(to=to, envelope=own))

    def _send_commit_certificates(
        self, to: str, after: int, out: list[Effect], *, upto: int | None = None
    ) -> None:
        last = self._last_executed if upto is None else upto
        for number in range(after + 1, last + 1):
            slot = self._log.get(Seq(number))
            if slot is None or slot.committed is None:
                continue
            if slot.committed_envelope is None:
                slot.committed_envelope = self._sign(slot.committed)
            out.append(Send(to=to, envelope=slot.committed_envelope))

    # ------------------------------------------------------------------ state transfer

    def on_fetch_state(
        self, sender: ReplicaId, fetch: FetchState, now_s: float, out: list[Effect]
    ) -> None:
        """Answer <FETCH-STATE>: our stable checkpoint if it is newer, and commit certificates.

        The snapshot carries its own proof (a quorum of CHECKPOINT messages), so the asker
        trusts no single replica (TOCS §6.2). Answers to one replica are limited to one per
        half status period, so a faulty replica cannot make us stream snapshots.
        """
        last_s = self._fetch_served_s.get(sender)
        if last_s is not None and now_s - last_s < self._config.status_interval_s / 2:
            return
        self._fetch_served_s[sender] = now_s
        to = replica_principal(sender)
        if self._stable_seq > fetch.above_seq and self._stable_proof:
            snapshot = StateSnapshot(
                seq=self._stable_seq,
                snapshot=self._stable_state,
                checkpoint_proof=self._stable_proof,
                replica=self._id,
            )
            out.append(Send(to=to, envelope=self._sign(snapshot)))
        self._send_commit_certificates(to, max(fetch.above_seq, self._stable_seq), out)

    def on_state_snapshot(
        self, envelope: Envelope, snapshot: StateSnapshot, now_s: float, out: list[Effect]
    ) -> None:
        """Adopt a stable checkpoint's state we have not reached (TOCS §6.2).

        Accepted when its proof holds a quorum of matching CHECKPOINT messages for its seq
        and the snapshot hashes to their digest: then it is the state every correct replica
        had there, whoever sent it. We restore service and reply cache, make the checkpoint
        stable (persisted), and continue with the commit certificates above it.
        """
        if snapshot.seq <= self._last_executed:
            return  # we are already there
        verified = check_state_snapshot(snapshot, config=self._config, verifier=self._verifier)
        if isinstance(verified, tuple):
            self._reject(out, envelope, *verified)
            return
        try:
            self._service.restore(verified.service_snapshot)
        except ValueError as error:
            self._reject(out, envelope, reasons.BAD_SNAPSHOT, f"service refused it: {error}")
            return
        self._replies = dict(verified.replies)
        self._last_executed = verified.seq
        for client, cached in sorted(verified.replies.items()):
            self._forget_request(client, cached.timestamp)
        own = self._sign(
            Checkpoint(seq=verified.seq, state_digest=verified.digest, replica=self._id)
        )
        self._own_checkpoints[verified.seq] = (verified.state, verified.digest, own)
        self._make_stable(verified.seq, verified.state, verified.digest, verified.proof, now_s, out)
        out.append(Broadcast(envelope=own))
        self._restart_view_change_timer = True
        self._execute_ready(now_s, out)

    def on_commit_certificate(
        self, envelope: Envelope, certificate: CommitCertificate, now_s: float, out: list[Effect]
    ) -> None:
        """Execute a batch on the strength of a commit certificate (state transfer of the tail).

        Accepted when it checks member by member (:func:`check_commit_certificate`) and its
        seq is above what we executed and within our window. A quorum of commits proves the
        batch committed (§4.2), so no view or normal-case state of ours is needed.
        """
        checked = check_commit_certificate(
            certificate, config=self._config, verifier=self._verifier
        )
        if isinstance(checked, str):
            self._reject(out, envelope, reasons.INVALID_CERTIFICATE, checked)
            return
        seq = checked.seq
        if seq <= self._last_executed:
            return
        if seq > self._high_mark:
            self._reject(
                out, envelope, reasons.OUTSIDE_WINDOW, f"seq {seq} above {self._high_mark}"
            )
            return
        slot = self._log.slot(seq, view=self._view, now_s=now_s)
        if slot.committed is not None:
            if _pre_prepare_of(slot.committed.pre_prepare).digest != checked.digest:
                self._reject(out, envelope, reasons.CONFLICTING_CERTIFICATE, f"seq {seq}")
            return
        # Deviation (ours): commit certificates transfer the log tail above the checkpoint.
        slot.committed = certificate
        out.append(Persist(key=persistence.slot_key(seq), value=self._encoder.slot(slot)))
        self._execute_ready(now_s, out)


def _safe_batch_digest(batch: tuple[Envelope, ...]) -> bytes | None:
    try:
        return batch_digest(batch)
    except (EncodeError, TypeError, ValueError):
        return None


def _pre_prepare_of(envelope: Envelope) -> PrePrepare:
    payload = envelope.payload
    assert isinstance(payload, PrePrepare)
    return payload


def _seq_of(envelope: Envelope) -> Seq:
    return _pre_prepare_of(envelope).seq


def _view_of(envelope: Envelope) -> View:
    return _pre_prepare_of(envelope).view


def _client(envelope: Envelope) -> str:
    request = envelope.payload
    assert isinstance(request, Request)
    return request.client


def _timestamp(envelope: Envelope) -> int:
    request = envelope.payload
    assert isinstance(request, Request)
    return request.timestamp


def _vote_digest(envelope: Envelope) -> bytes:
    payload = envelope.payload
    assert isinstance(payload, Prepare | Commit)
    return payload.digest
