"""Safety with one Byzantine replica and a hostile network, explored by hypothesis.

One replica (the primary or a backup) rewrites its outgoing messages per destination
(equivocating pre-prepares, wrong digests, shifted seqs, lying checkpoints, view changes
that hide prepared certificates), always signing with its own key; the network drops,
duplicates and reorders. Whatever happens, the honest replicas never execute different
batches at the same seq, and none of them raises.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbft.config import Config
from pbft.effects import Broadcast, Effect, Send
from pbft.ids import ReplicaId, Seq, View, replica_principal
from pbft.messages import (
    Checkpoint,
    Commit,
    Prepare,
    PrePrepare,
    ViewChange,
    batch_digest,
    sign,
)
from tests.pbft.replica.harness import CLIENTS, Cluster, Delivery

MUTATIONS = ("keep", "keep", "drop", "digest", "seq", "view", "reorder-batch", "hide")


class HostileCluster(Cluster):
    """A cluster whose replica ``faulty`` rewrites what it sends, choices drawn by hypothesis."""

    def __init__(self, config: Config, *, faulty: int, data: st.DataObject) -> None:
        super().__init__(config)
        self.faulty = faulty
        self.data = data

    def apply(self, i: int, effects: Iterable[Effect]) -> None:
        if i != self.faulty:
            super().apply(i, effects)
            return
        rewritten: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Broadcast):
                for j in range(self.config.n):
                    if j != i:
                        to = replica_principal(ReplicaId(j))
                        rewritten.extend(self._mutate(Send(to=to, envelope=effect.envelope)))
            elif isinstance(effect, Send) and effect.to.startswith("r"):
                rewritten.extend(self._mutate(effect))
            else:
                rewritten.append(effect)
        super().apply(i, rewritten)

    def _mutate(self, send: Send) -> list[Effect]:
        how = self.data.draw(st.sampled_from(MUTATIONS), label="mutation")
        payload = send.envelope.payload
        signer = self.signer(self.faulty)
        if how == "drop":
            return []
        if how == "digest" and isinstance(payload, Prepare | Commit | Checkpoint):
            field = "state_digest" if isinstance(payload, Checkpoint) else "digest"
            changed = attrs.evolve(payload, **{field: bytes(32)})
            return [Send(to=send.to, envelope=sign(signer, changed))]
        if how == "seq" and isinstance(payload, Prepare | Commit):
            changed = attrs.evolve(payload, seq=Seq(payload.seq + 1))
            return [Send(to=send.to, envelope=sign(signer, changed))]
        if how == "view" and isinstance(payload, Prepare | Commit):
            changed = attrs.evolve(payload, view=View(payload.view + 1))
            return [Send(to=send.to, envelope=sign(signer, changed))]
        if how in ("reorder-batch", "digest") and isinstance(payload, PrePrepare) and payload.batch:
            batch = payload.batch[1:] if how == "digest" else tuple(reversed(payload.batch))
            changed = attrs.evolve(payload, batch=batch, digest=batch_digest(batch))
            return [Send(to=send.to, envelope=sign(signer, changed))]
        if how == "hide" and isinstance(payload, ViewChange):
            return [Send(to=send.to, envelope=sign(signer, attrs.evolve(payload, prepared=())))]
        return [send]

    def hostile_flush(self, steps: int) -> None:
        for _ in range(steps):
            if not self.network:
                return
            action = self.data.draw(
                st.sampled_from(["deliver", "deliver", "deliver", "drop", "dup", "later"]),
                label="network",
            )
            delivery: Delivery = self.network.popleft()
            if action == "drop":
                continue
            if action == "later":
                self.network.append(delivery)
                continue
            if action == "dup":
                self.network.append(delivery)
            self.deliver(delivery)


def assert_agreement(cluster: HostileCluster) -> None:
    chosen: dict[int, bytes] = {}
    for i in range(cluster.config.n):
        if i == cluster.faulty:
            continue
        for executed in cluster.executed(i):
            assert chosen.setdefault(executed.seq, executed.digest) == executed.digest, (
                f"replica {i} executed another batch at seq {executed.seq}"
            )
    honest = [s.operations for i, s in cluster.services.items() if i != cluster.faulty]
    longest = max(honest, key=len)
    assert all(ops == longest[: len(ops)] for ops in honest)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faulty=st.sampled_from([0, 1, 3]), data=st.data())
def test_honest_replicas_agree_despite_one_byzantine_replica(
    faulty: int, data: st.DataObject
) -> None:
    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        checkpoint_interval=2,
        window_size=4,
        adaptive_timeouts=False,
        view_change_timeout_s=0.5,
        status_interval_s=0.1,
    )
    cluster = HostileCluster(config, faulty=faulty, data=data)
    cluster.start()
    for n in range(data.draw(st.integers(min_value=1, max_value=6), label="requests")):
        cluster.submit(CLIENTS[n % len(CLIENTS)], b"op-%d" % n, to=range(4))
        cluster.hostile_flush(400)
        cluster.now_s += data.draw(st.sampled_from([0.0, 0.05, 0.3, 0.6]), label="wait")
        for (i, timer), at_s in sorted(cluster.timers.items(), key=lambda kv: kv[1]):
            if at_s <= cluster.now_s and (i, timer) in cluster.timers:
                cluster.fire(i, timer)
        cluster.hostile_flush(400)
        assert_agreement(cluster)
    # Then a calm period: the honest replicas keep agreeing.
    cluster.network.clear()
    cluster.run(3.0)
    assert_agreement(cluster)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faulty=st.sampled_from([0, 3]), data=st.data())
def test_restarted_replicas_never_equivocate(faulty: int, data: st.DataObject) -> None:
    """As above, and honest replicas crash and restart from what they persisted."""
    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        checkpoint_interval=2,
        window_size=4,
        adaptive_timeouts=False,
        view_change_timeout_s=0.5,
        status_interval_s=0.1,
    )
    cluster = HostileCluster(config, faulty=faulty, data=data)
    cluster.start()
    honest = [i for i in range(4) if i != faulty]
    for n in range(data.draw(st.integers(min_value=1, max_value=6), label="requests")):
        cluster.submit(CLIENTS[n % len(CLIENTS)], b"op-%d" % n, to=range(4))
        cluster.hostile_flush(data.draw(st.integers(min_value=0, max_value=300), label="steps"))
        victim = data.draw(st.sampled_from([None, *honest]), label="restart")
        if victim is not None:
            cluster.crash(victim)
            cluster.recover(victim)
        cluster.hostile_flush(300)
        cluster.now_s += data.draw(st.sampled_from([0.0, 0.3, 0.6]), label="wait")
        for (i, timer), at_s in sorted(cluster.timers.items(), key=lambda kv: kv[1]):
            if at_s <= cluster.now_s and (i, timer) in cluster.timers:
                cluster.fire(i, timer)
        cluster.hostile_flush(300)
        assert_agreement(cluster)
    cluster.network.clear()
    cluster.run(3.0)
    assert_agreement(cluster)
