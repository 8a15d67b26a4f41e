"""The PBFT replica core: a pure state machine from inputs to effects (OSDI '99 §4, TOCS §2-§6).

:class:`Replica` takes signed envelopes as received and timer expiries, each with the current
time of the node's own clock, and returns the effects its driver must carry out in list order
(:mod:`pbft.effects`). It reads no clock, opens no socket or file and draws no random number.

Every handler ``on_<message>`` first asks its guard ``_reject_<message>`` (or an inline check)
for a rejection reason (:mod:`pbft.replica.reasons`); a rejected message changes nothing but
the rejection counter and yields one :class:`~pbft.effects.Rejected` effect. Harmless
duplicates and late votes for already-collected sequence numbers are ignored without a count.

The protocol is layered, one concern per module, each layer calling only down:
:mod:`pbft.replica.core` (state and shared helpers) <- :mod:`pbft.replica.normal_case`
(§4.1-§4.3) <- :mod:`pbft.replica.view_change_handlers` (§4.4) <- :mod:`pbft.replica.catch_up`
(retransmission, state transfer) <- this module (the public class: dispatch, timers, crash
recovery).

Persistence discipline: whatever a message promises (a pre-prepare for (v, n), a prepare, a
commit, a view change, a new view) is handed to the driver as a :class:`~pbft.effects.Persist`
*before* the send that carries the promise, so a replica restarted with
:meth:`Replica.recover` never takes a promise back (no equivocation after a crash).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

import crypto
from pbft.app import Service
from pbft.config import Config
from pbft.effects import (
    Broadcast,
    Effect,
    EnteredView,
    StartTimer,
)
from pbft.ids import ReplicaId, Seq, TimerName
from pbft.inputs import Received, TimerFired
from pbft.messages import (
    Checkpoint,
    Commit,
    CommitCertificate,
    Envelope,
    FetchState,
    NewView,
    Prepare,
    PrePrepare,
    Request,
    StateSnapshot,
    Status,
    ViewChange,
)
from pbft.replica import persistence, reasons
from pbft.replica.catch_up import CatchUp
from pbft.replica.checkpoints import (
    decode_state,
    state_digest,
)
from pbft.replica.core import (
    BATCH_TIMER,
    STATUS_TIMER,
    VIEW_CHANGE_TIMER,
    seq_of,
    view_of,
)
from pbft.replica.view_change import (
    CheckedViewChange,
    check_view_change,
)

__all__ = ["BATCH_TIMER", "STATUS_TIMER", "VIEW_CHANGE_TIMER", "Replica"]


# What replicas send one another; anything else from a replica is rejected unread.
_FROM_REPLICAS = (
    PrePrepare,
    Prepare,
    Commit,
    Checkpoint,
    ViewChange,
    NewView,
    CommitCertificate,
    FetchState,
    StateSnapshot,
    Status,
)


class Replica(CatchUp):
    """One PBFT replica: normal case, checkpoints, view changes, state transfer, recovery."""

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
        stored_new_view = None if state.new_view is None else state.new_view.payload
        if isinstance(stored_new_view, NewView) and stored_new_view.view >= state.view:
            # Entering a view persists its NEW-VIEW, then the view: we crashed in between,
            # before sending anything of the new view, so we finish entering it.
            self._view = stored_new_view.view
            self._active = True
        if self._active and state.new_view is not None:
            new_view = state.new_view.payload
            if isinstance(new_view, NewView) and new_view.view == self._view:
                self._new_view = state.new_view
                # As _enter_view: max-s, or min-s (the largest stable checkpoint in V) if O is
                # empty; the seqs up to it are decided, whatever state we have fetched.
                min_s = max(
                    (
                        vc.payload.stable_seq
                        for vc in new_view.view_changes
                        if isinstance(vc.payload, ViewChange)
                    ),
                    default=0,
                )
                self._new_view_floor = Seq(
                    max((seq_of(member) for member in new_view.pre_prepares), default=min_s)
                )
                self._new_view_pending = {
                    seq_of(member): member
                    for member in new_view.pre_prepares
                    if seq_of(member) > self._stable_seq
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
                if slot.prepared is not None and view_of(slot.prepared.pre_prepare) == slot.view:
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
        if self._active and self._entering_view_held:
            self._replay_entering_view(now_s, out)
        while self._window_moved:
            self._window_moved = False
            self._install_new_view_pending(now_s, out)
            self._replay_early(now_s, out)
        self._sync_view_change_timer(now_s, out)
        return out

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
        if not isinstance(payload, _FROM_REPLICAS):
            self._reject(out, envelope, reasons.UNEXPECTED_MESSAGE, type(payload).__name__)
            return
        named = getattr(payload, "replica", sender)
        if named != sender:
            self._reject(out, envelope, reasons.WRONG_SENDER, f"payload names replica {named}")
            return
        if not self._verifier.is_valid(envelope):
            self._reject(out, envelope, reasons.BAD_SIGNATURE)
            return
        match payload:
            case PrePrepare():
                self.on_pre_prepare(envelope, payload, now_s, out)
            case Prepare():
                self.on_prepare(envelope, payload, now_s, out)
            case Commit():
                self.on_commit(envelope, payload, now_s, out)
            case Checkpoint():
                self.on_checkpoint(envelope, payload, now_s, out)
            case ViewChange():
                self.on_view_change(envelope, payload, now_s, out)
            case NewView():
                self.on_new_view(envelope, payload, now_s, out)
            case CommitCertificate():
                self.on_commit_certificate(envelope, payload, now_s, out)
            case FetchState():
                self.on_fetch_state(sender, payload, now_s, out)
            case StateSnapshot():
                self.on_state_snapshot(envelope, payload, now_s, out)
            case Status():
                self.on_status(sender, payload, now_s, out)
            case _:
                assert_never(payload)

    def _on_timer(self, timer: TimerName, now_s: float, out: list[Effect]) -> None:
        if timer == STATUS_TIMER:
            self.on_status_timer(now_s, out)
        elif timer == VIEW_CHANGE_TIMER:
            self.on_view_change_timer(now_s, out)
        elif timer == BATCH_TIMER:
            self._batch_timer_armed = False
            self._propose(now_s, out, flush=True)

    def _replay_entering_view(self, now_s: float, out: list[Effect]) -> None:
        # Only messages of the view just entered are held (a view change clears them); each
        # is checked in full now, as if it had arrived after the NEW-VIEW.
        held = sorted(self._entering_view_held.items())
        self._entering_view_held = {}
        for _, envelopes in held:
            for envelope in envelopes:
                self._on_envelope(envelope, now_s, out)

    def _replay_early(self, now_s: float, out: list[Effect]) -> None:
        ready = sorted(seq for seq in self._early if seq <= self._high_mark)
        for seq in ready:
            for envelope in self._early.pop(seq):
                self._on_envelope(envelope, now_s, out)
