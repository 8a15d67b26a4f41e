"""View changes (OSDI '99 §4.4, liveness §4.5.2): timers, VIEW-CHANGE, NEW-VIEW.

The acceptance rules and the computation of O are pure functions in
:mod:`pbft.replica.view_change`; this layer decides when to apply them and changes the
replica's state accordingly.
"""

from __future__ import annotations

from pbft.effects import (
    Broadcast,
    Effect,
    EnteredView,
    Persist,
    Send,
    StartTimer,
    StopTimer,
)
from pbft.ids import Seq, View, replica_principal
from pbft.messages import (
    Envelope,
    NewView,
    PrePrepare,
    ViewChange,
)
from pbft.replica import persistence, reasons
from pbft.replica.checkpoints import (
    state_digest,
)
from pbft.replica.core import (
    BATCH_TIMER,
    MAX_BACKOFF_EXPONENT,
    VIEW_CHANGE_TIMER,
    client_of,
    pre_prepare_of,
    seq_of,
    timestamp_of,
)
from pbft.replica.log import Slot
from pbft.replica.normal_case import NormalCase
from pbft.replica.view_change import (
    CheckedViewChange,
    NewViewPlan,
    check_new_view,
    check_view_change,
    compute_new_view_plan,
)


class ViewChangeHandlers(NormalCase):
    """View changes on top of the normal case."""

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
        self._entering_view_held = {}
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
                seq_of(cert.pre_prepare): pre_prepare_of(cert.pre_prepare) for cert in prepared
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
            self._help_behind(envelope.sender, now_s, out)
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

    def _help_behind(self, principal: str, now_s: float, out: list[Effect]) -> None:
        # A stale VIEW-CHANGE is small and, replayed, costs only a cache lookup, while our
        # answer is a whole NEW-VIEW: answer each peer once per half status period.
        last_s = self._help_served_s.get(principal)
        if last_s is not None and now_s - last_s < self._config.status_interval_s / 2:
            return
        self._help_served_s[principal] = now_s
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
            self._entering_view_held = {}
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
        # The NEW-VIEW first: a crash between the two leaves it stored with an older view,
        # which recovery completes; the other order could leave us in the view without O.
        out.append(Persist(key=persistence.NEW_VIEW_KEY, value=self._encoder.envelope(envelope)))
        out.append(
            Persist(
                key=persistence.VIEW_KEY, value=persistence.encode_view(self._view, active=True)
            )
        )
        installed: list[Slot] = []
        last_planned = plan.pre_prepares[-1][0] if plan.pre_prepares else plan.stable_seq
        self._new_view_floor = last_planned
        self._new_view_pending = {}
        for member in pre_prepares:
            seq = seq_of(member)
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
                for request in pre_prepare_of(member).batch:
                    self._assigned[client_of(request)] = timestamp_of(request)
            for client, request in self._waiting.items():
                if self._assigned.get(client, -1) < timestamp_of(request):
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
            self._view_change_timer_armed_s = now_s
            out.append(
                StartTimer(
                    timer=VIEW_CHANGE_TIMER, fires_at_s=now_s + self._view_change_timeout_s()
                )
            )
        elif not wanted and self._view_change_timer_armed:
            self._view_change_timer_armed = False
            out.append(StopTimer(timer=VIEW_CHANGE_TIMER))
