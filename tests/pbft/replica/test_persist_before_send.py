"""Persist before send: every promise a replica sends is already in its stable storage.

An auditing driver checks, at the moment it carries out each Send or Broadcast of a replica's
own PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE or NEW-VIEW, that the replica's store (as built
by the Persist effects carried out so far, in order) already holds what the message
promises. A replica restarted from that store can then never contradict the message.
"""

from __future__ import annotations

from collections.abc import Iterable

from pbft.config import Config
from pbft.effects import Broadcast, Effect, Send
from pbft.ids import ReplicaId, replica_principal
from pbft.messages import Commit, Envelope, NewView, Prepare, PrePrepare, ViewChange, encode
from pbft.replica import persistence
from tests.pbft.replica.harness import CLIENTS, Cluster


class AuditingCluster(Cluster):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.audited = 0

    def apply(self, i: int, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send | Broadcast):
                self.audit(i, effect.envelope)
            super().apply(i, [effect])

    def audit(self, i: int, envelope: Envelope) -> None:
        if envelope.sender != replica_principal(ReplicaId(i)):
            return  # forwarding someone else's message promises nothing
        payload = envelope.payload
        store = self.stored[i]
        if isinstance(payload, PrePrepare | Prepare | Commit):
            key = persistence.slot_key(payload.seq)
            if key not in store:
                # Only a slot already collected by a stable checkpoint may be gone.
                assert payload.seq <= self.replicas[i].status().stable_seq, payload
                return
            slot = next(s for s in persistence.load({key: store[key]}).slots)
            if isinstance(payload, PrePrepare | Prepare):
                promised = [
                    slot.pre_prepare,
                    *([slot.prepared.pre_prepare] if slot.prepared is not None else []),
                ]
                assert any(
                    p is not None
                    and (p.payload.view, p.payload.digest) == (payload.view, payload.digest)
                    for p in promised
                ), f"r{i} sent {payload} before persisting its pre-prepare"
            else:
                assert slot.prepared is not None, f"r{i} sent {payload} before persisting prepared"
                certified = slot.prepared.pre_prepare.payload
                assert (certified.view, certified.digest) == (payload.view, payload.digest)
            self.audited += 1
        elif isinstance(payload, ViewChange):
            view = persistence.load({"view": store["view"]})
            assert view.view >= payload.new_view
            if view.view == payload.new_view:
                assert store[persistence.VIEW_CHANGE_KEY] == encode(envelope)
            self.audited += 1
        elif isinstance(payload, NewView):
            assert store[persistence.NEW_VIEW_KEY] == encode(envelope)
            self.audited += 1


def test_every_promise_is_persisted_before_it_is_sent() -> None:
    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        checkpoint_interval=2,
        window_size=4,
        adaptive_timeouts=False,
        view_change_timeout_s=0.5,
        status_interval_s=0.1,
    )
    cluster = AuditingCluster(config)
    cluster.start()
    for n in range(6):
        cluster.submit(CLIENTS[n % 4], b"%d" % n)
        cluster.flush()
    cluster.crash(0)  # force a view change with prepared slots in flight
    for n in range(6, 9):
        cluster.submit(CLIENTS[n % 4], b"%d" % n, to=[1, 2, 3])
    cluster.run(3.0)
    cluster.recover(0)
    cluster.run(1.0)
    # Everyone, the restarted old primary included, ends in view 1 with all nine operations.
    assert all(len(s.operations) == 9 for s in cluster.services.values())
    assert all(r.status().view == 1 for r in cluster.replicas.values())
    assert cluster.audited > 50
