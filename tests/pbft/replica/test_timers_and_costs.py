"""Adaptive view-change timers, NEW-VIEW retransmission and the cost of client signatures."""

from __future__ import annotations

import crypto
from pbft.config import Config
from pbft.ids import ReplicaId
from pbft.replica import Replica
from tests.pbft.replica.harness import CLIENTS, Cluster, ListService


class CountingKeyring:
    """A keyring that counts verifications per principal."""

    def __init__(self, inner: crypto.Keyring) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}

    def verify(self, principal: str, data: bytes, signature: bytes) -> bool:
        self.calls[principal] = self.calls.get(principal, 0) + 1
        return self.inner.verify(principal, data, signature)

    def knows(self, principal: str) -> bool:
        return self.inner.knows(principal)

    def principals(self) -> tuple[str, ...]:
        return self.inner.principals()


def test_each_client_signature_is_verified_once_per_replica() -> None:
    config = Config.for_f(1, batch_size_max=4, batch_delay_s=0.01)
    cluster = Cluster(config)
    keyrings = {}
    for i in range(4):
        keyrings[i] = CountingKeyring(cluster.keyring)
        cluster.replicas[i] = Replica(
            config=config,
            replica=ReplicaId(i),
            signer=cluster.signer(i),
            keyring=keyrings[i],
            service=cluster.services[i],
        )
    cluster.start()
    for client in CLIENTS:
        cluster.submit(client, b"x")
    cluster.flush()
    for i in range(4):
        assert len(cluster.services[i].operations) == 4
        assert {c: keyrings[i].calls.get(c, 0) for c in CLIENTS} == dict.fromkeys(CLIENTS, 1)


def test_adaptive_timer_follows_the_observed_commit_latency() -> None:
    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        adaptive_timeouts=True,
        view_change_timeout_s=5.0,
        timeout_s_min=0.05,
        status_interval_s=0.01,
    )
    cluster = Cluster(config)
    cluster.start()
    backup = cluster.replicas[1]
    assert backup._view_change_timeout_s() == 5.0  # no sample yet: the configured start
    for n in range(30):
        cluster.submit(CLIENTS[n % 4], b"%d" % n)
        cluster.flush()
    # Zero-delay harness: commits are instantaneous, so the timer shrinks to its floor.
    assert backup._view_change_timeout_s() == 0.05


def test_fixed_timer_is_clamped_and_doubles_up_to_the_cap() -> None:
    config = Config.for_f(
        1, adaptive_timeouts=False, view_change_timeout_s=100.0, timeout_s_max=2.0
    )
    replica = Replica(
        config=config,
        replica=ReplicaId(1),
        signer=Cluster(config).signer(1),
        keyring=Cluster(config).keyring,
        service=ListService(),
    )
    expected = [2.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 128.0, 128.0]
    observed = []
    for attempts in range(10):
        replica._view_change_attempts = attempts
        observed.append(replica._view_change_timeout_s())
    assert observed == expected


def test_replica_that_missed_the_new_view_gets_it_retransmitted() -> None:
    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        adaptive_timeouts=False,
        view_change_timeout_s=0.5,
        status_interval_s=0.1,
    )
    cluster = Cluster(config)
    cluster.start()
    cluster.crash(0)

    lost = []

    def lose_first_new_view_to_r3(delivery):  # type: ignore[no-untyped-def]
        if delivery.to == "r3" and type(delivery.envelope.payload).__name__ == "NewView":
            lost.append(delivery)
            return len(lost) == 1
        return False

    cluster.drop = lose_first_new_view_to_r3
    cluster.submit("c0", b"x", to=[1, 2, 3])
    cluster.run(3.0)
    assert len(lost) >= 2  # the first was lost, a retransmission got through
    for i in (1, 2, 3):
        status = cluster.replicas[i].status()
        assert (status.view, status.view_change_in_progress) == (1, False)
        assert cluster.services[i].operations == [b"x"]


def test_a_replayed_stale_view_change_does_not_make_a_replica_stream_its_new_view() -> None:
    """A small VIEW-CHANGE, replayed (its signature is cached), is answered with our whole
    NEW-VIEW at most once per half status period, as Status and FetchState are."""
    from pbft.effects import Send
    from pbft.ids import ReplicaId, Seq, View
    from pbft.messages import NewView, ViewChange, sign

    config = Config.for_f(
        1,
        batch_delay_s=0.0,
        adaptive_timeouts=False,
        view_change_timeout_s=0.5,
        status_interval_s=0.1,
    )
    cluster = Cluster(config)
    cluster.start()
    cluster.crash(0)
    cluster.submit("c0", b"x", to=[1, 2, 3])
    cluster.run(3.0)
    assert cluster.replicas[1].status().view == 1
    stale = sign(
        cluster.signer(3),
        ViewChange(
            new_view=View(1),
            stable_seq=Seq(0),
            checkpoint_proof=(),
            prepared=(),
            replica=ReplicaId(3),
        ),
    )
    new_views = 0
    for _ in range(50):
        effects = cluster.inject(1, stale)
        new_views += sum(
            isinstance(e, Send) and isinstance(e.envelope.payload, NewView) for e in effects
        )
    assert new_views == 1
    cluster.now_s += config.status_interval_s
    effects = cluster.inject(1, stale)
    assert [type(e.envelope.payload) for e in effects if isinstance(e, Send)] == [NewView]


class CountingSigner:
    """A signer that counts its signatures."""

    def __init__(self, inner: crypto.Signer) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def principal(self) -> str:
        return self.inner.principal

    @property
    def scheme(self) -> crypto.Scheme:
        return self.inner.scheme

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self.inner.sign(data)


def test_a_replayed_request_does_not_cost_a_signature_per_copy() -> None:
    """A client's retransmission is answered from the reply cache (§4.1); replaying it costs
    the client nothing (its signature is cached), so the answer must not cost a signature."""
    config = Config.for_f(1, batch_delay_s=0.0)
    cluster = Cluster(config)
    signer = CountingSigner(cluster.signer(2))
    cluster.replicas[2] = Replica(
        config=config,
        replica=ReplicaId(2),
        signer=signer,
        keyring=cluster.keyring,
        service=cluster.services[2],
    )
    cluster.start()
    request = cluster.submit("c0", b"once")
    cluster.flush()
    before = signer.calls
    replies = [cluster.inject(2, request)[0] for _ in range(20)]
    assert signer.calls - before <= 1
    assert all(r.envelope.payload.result == b"1" for r in replies)  # type: ignore[union-attr]
