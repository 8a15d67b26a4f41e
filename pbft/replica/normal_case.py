"""Requests, the three-phase normal case, execution and checkpoints (OSDI '99 §4.1-§4.3).

Handlers ``on_<message>`` are guarded by ``_reject_<message>`` helpers that return a named
reason (:mod:`pbft.replica.reasons`). Every promise (a pre-prepare, a prepare, a commit) is
persisted before the message that carries it is sent.
"""

from __future__ import annotations

from pbft.effects import (
    Broadcast,
    CheckpointStable,
    Effect,
    Executed,
    Persist,
    Send,
    StartTimer,
)
from pbft.ids import ReplicaId, Seq, View, replica_principal
from pbft.messages import (
    Checkpoint,
    Commit,
    Envelope,
    Prepare,
    PrePrepare,
    Request,
    batch_digest,
)
from pbft.replica import persistence, reasons
from pbft.replica.checkpoints import (
    CachedReply,
    encode_state,
    state_digest,
)
from pbft.replica.core import (
    BATCH_TIMER,
    ReplicaCore,
    client_of,
    safe_batch_digest,
    timestamp_of,
    vote_digest_of,
)
from pbft.replica.log import Slot

REQUEST_OVERHEAD_BYTES = 256
"""Generous bound on a request envelope's encoding beyond its operation bytes."""


class NormalCase(ReplicaCore):
    """Requests, pre-prepare/prepare/commit, execution and checkpoints."""

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
        if known is not None and timestamp_of(known) > request.timestamp:
            self._reject(out, envelope, reasons.STALE, f"timestamp {request.timestamp}")
            return
        if known is None or timestamp_of(known) < request.timestamp:
            self._waiting_since_s[request.client] = now_s
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
        if queued is not None and timestamp_of(queued) >= request.timestamp:
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
            batch = self._take_batch()
            for member in batch:
                self._assigned[client_of(member)] = timestamp_of(member)
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

    def _take_batch(self) -> tuple[Envelope, ...]:
        """Dequeue the next batch: at most ``batch_size_max`` requests, within the frame cap.

        The size of a request envelope is estimated generously (operation plus the largest
        principal names, timestamp, signature and CBOR framing), so that the PRE-PREPARE and
        the certificates that carry it fit in ``max_frame_bytes``. A batch always takes at
        least one request: the client refuses to sign one that could never fit.
        """
        budget = self._config.max_frame_bytes // 2  # certificates add the commits around it
        batch: list[Envelope] = []
        for client in list(self._queue)[: self._config.batch_size_max]:
            request = self._queue[client].payload
            assert isinstance(request, Request)
            size = len(request.operation) + REQUEST_OVERHEAD_BYTES
            if batch and size > budget:
                break
            budget -= size
            batch.append(self._queue.pop(client))
        return tuple(batch)

    def on_pre_prepare(
        self, envelope: Envelope, pre_prepare: PrePrepare, now_s: float, out: list[Effect]
    ) -> None:
        """A backup accepts <PRE-PREPARE, v, n, d> and multicasts PREPARE (§4.2).

        Accepted when signed by the primary of view v, v is our view and we are not changing
        views, low mark < n <= high mark, no pre-prepare with another digest was accepted
        for (v, n), d is the digest of the batch, and every request in the batch is signed
        by its client. The pre-prepare is persisted before the PREPARE leaves. Pre-prepares
        up to one window above the high mark are held back until the window moves, and those
        of the view we are changing to until its NEW-VIEW arrives.
        """
        reason = self._reject_pre_prepare(envelope, pre_prepare)
        if reason is not None:
            if reason[0] == reasons.OUTSIDE_WINDOW and self._hold_early(envelope, pre_prepare.seq):
                return
            if reason[0] == reasons.VIEW_CHANGE_IN_PROGRESS and self._hold_until_new_view(
                envelope, self._config.primary(pre_prepare.view)
            ):
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
        if safe_batch_digest(pre_prepare.batch) != pre_prepare.digest:
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
            if reason[0] == reasons.OUTSIDE_WINDOW and self._hold_vote(
                envelope, prepare.seq, prepare.replica
            ):
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
            if reason[0] == reasons.OUTSIDE_WINDOW and self._hold_vote(
                envelope, commit.seq, commit.replica
            ):
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
        if vote_digest_of(existing) != digest:
            self._reject(out, envelope, reasons.CONFLICTING_VOTE, f"replica {replica}")
        return False

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
        #1119). Likewise, while we fetch the state of a proven checkpoint p above H, the
        others already work in the window (p, p + L] that the snapshot will give us. Holding
        these messages back avoids a needless stall; the hold is bounded by two windows and
        by 2n + 1 messages per seq.
        """
        # Deviation (§4.2): held back instead of dropped; checked in full when processed.
        window = self._config.window_size
        above_proven = (
            self._proven is not None
            and self._proven[0] > self._high_mark
            and self._proven[0] < seq <= self._proven[0] + window
        )
        if not (self._high_mark < seq <= self._high_mark + window or above_proven):
            return False
        held = self._early.setdefault(seq, [])
        if len(held) < 2 * self._config.n + 1:
            held.append(envelope)
        return True

    def _hold_vote(self, envelope: Envelope, seq: Seq, replica: ReplicaId) -> bool:
        """Keep a vote above our window that a moving window or the NEW-VIEW may admit."""
        if self._hold_early(envelope, seq):
            return True
        return not self._active and self._hold_until_new_view(envelope, replica)

    def _hold_until_new_view(self, envelope: Envelope, sender: ReplicaId) -> bool:
        """Keep a message of the view we are changing to until its NEW-VIEW arrives (§4.4).

        The new primary proposes right after sending NEW-VIEW, and the backups that got it
        prepare at once, so these messages can overtake the NEW-VIEW. Refused, a slot cannot
        prepare until a retransmission a status period later, later slots commit but cannot
        execute, and the backups' view-change timer may expire first: a second, needless view
        change. We keep what we could not log yet (a pre-prepare; a vote above our window,
        which min-s may still move), at most a window of messages per sender, so a faulty
        replica cannot make us keep more.
        """
        # Deviation (§4.4): held instead of dropped; checked in full once the view begins.
        held = self._entering_view_held.setdefault(sender, [])
        if len(held) >= self._config.window_size:
            return False
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
        if not self._waited_through_timer():
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

    def _waited_through_timer(self) -> bool:
        """Whether a request we still wait for arrived before the view-change timer was armed.

        Such a request has had the whole timer period to execute; progress on other batches
        must not push the deadline back, or a faulty primary could keep ordering other work
        (or null batches) and ignore this request for ever (§4.4: the timer runs until the
        request the backup waits for executes).
        """
        armed_s = self._view_change_timer_armed_s
        return self._view_change_timer_armed and any(
            since_s <= armed_s for since_s in self._waiting_since_s.values()
        )

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
                if self._note_proven(seq, digest, proof, now_s) and seq >= self._high_mark:
                    # A quorum executed our whole window and collects it: nothing we may
                    # still receive moves our window (and a primary cannot propose), so
                    # waiting a status period to fetch would only invite a view change.
                    # Once per newly proven seq; peers rate-limit their answers.
                    out.append(Broadcast(envelope=self._fetch_state_envelope()))
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
    ) -> bool:
        """Remember a quorum-proven checkpoint above what we executed; True if it is new."""
        if seq <= self._last_executed:
            return False
        if self._proven is None or seq > self._proven[0]:
            if self._proven is None:
                self._proven_since_s = now_s
            self._proven = (seq, digest, proof)
            return True
        return False
