"""Catching up: periodic Status, retransmission and state transfer (TOCS §5.2, §6.2).

Lost messages are recovered by the receiver of a Status re-sending what its sender lacks;
a replica behind a stable checkpoint fetches the checkpoint state (checked against its
quorum proof, :mod:`pbft.replica.state_transfer`) and executes the batches above it from
commit certificates. See docs/deviations.md for how this simplifies the papers.
"""

from __future__ import annotations

from pbft.effects import (
    Broadcast,
    Effect,
    Persist,
    Send,
    StartTimer,
)
from pbft.ids import ReplicaId, Seq, replica_principal
from pbft.messages import (
    Checkpoint,
    CommitCertificate,
    Envelope,
    FetchState,
    StateSnapshot,
    Status,
)
from pbft.replica import persistence, reasons
from pbft.replica.certificates import check_commit_certificate
from pbft.replica.core import (
    STATUS_TIMER,
    pre_prepare_of,
)
from pbft.replica.state_transfer import check_state_snapshot
from pbft.replica.view_change_handlers import ViewChangeHandlers


class CatchUp(ViewChangeHandlers):
    """Retransmission and state transfer on top of view changes."""

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
        prepare and commit for slots that have been open for a status period. One answer per
        peer per half status period, so a faulty peer cannot make us stream retransmissions.
        """
        last_s = self._status_served_s.get(sender)
        if last_s is not None and now_s - last_s < self._config.status_interval_s / 2:
            return  # answered recently: a faulty peer cannot make us stream retransmissions
        self._status_served_s[sender] = now_s
        to = replica_principal(sender)
        if status.view < self._view:
            self._help_behind(to, now_s, out)
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
            if pre_prepare_of(slot.committed.pre_prepare).digest != checked.digest:
                self._reject(out, envelope, reasons.CONFLICTING_CERTIFICATE, f"seq {seq}")
            return
        # Deviation (ours): commit certificates transfer the log tail above the checkpoint.
        slot.committed = certificate
        out.append(Persist(key=persistence.slot_key(seq), value=self._encoder.slot(slot)))
        self._execute_ready(now_s, out)
