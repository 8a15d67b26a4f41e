"""Lessons from other implementations, replayed in the harness (see the architecture guide)."""

from __future__ import annotations

from pbft.config import Config
from tests.pbft.replica.harness import CLIENTS, Cluster, Delivery


def config() -> Config:
    return Config.for_f(
        1,
        batch_delay_s=0.0,
        checkpoint_interval=2,
        window_size=4,
        adaptive_timeouts=False,
        view_change_timeout_s=0.5,
        status_interval_s=0.1,
    )


def workload(cluster: Cluster, count: int, *, start: int = 0, pause_s: float = 0.2) -> None:
    """Clients that retransmit to every replica (as real clients do after a timeout)."""
    for n in range(start, start + count):
        cluster.submit(CLIENTS[n % len(CLIENTS)], b"%d" % n, to=range(cluster.config.n))
        cluster.run(pause_s)


def test_isolated_replica_does_not_climb_views_alone_and_catches_up_after_heal() -> None:
    """indy-plenum #1488, bft-smart #27: after the heal, no view-change loop, and catch-up
    works although the peers garbage-collected what the isolated replica missed."""
    cluster = Cluster(config())
    cluster.start()

    def isolated(delivery: Delivery) -> bool:
        # r3 hears only clients: its requests never execute, so it suspects the primary.
        return (delivery.to == "r3" and delivery.sender.startswith("r")) or (
            delivery.sender == "r3" and delivery.to.startswith("r")
        )

    cluster.drop = isolated
    workload(cluster, 12)
    cluster.run(5.0)
    lonely = cluster.replicas[3].status()
    assert lonely.view == 1 and lonely.view_change_in_progress  # one step, then it waits
    assert all(cluster.replicas[i].status().view == 0 for i in (0, 1, 2))
    cluster.drop = lambda d: False
    cluster.run(2.0)
    workload(cluster, 4, start=12)
    cluster.run(2.0)
    assert all(cluster.replicas[i].status().view == 0 for i in (0, 1, 2))  # no loop
    assert cluster.services[3].operations == cluster.services[0].operations
    assert len(cluster.services[0].operations) == 16
    # The cluster can still change views with r3's help: the primary crashes.
    cluster.crash(0)
    workload(cluster, 2, start=16)
    cluster.run(5.0)
    for i in (1, 2, 3):
        assert cluster.replicas[i].status().view == 1
        assert len(cluster.services[i].operations) == 18


def test_asymmetric_partition_does_not_livelock_the_cluster() -> None:
    """A replica that can send but not receive must not drag the others through views."""
    cluster = Cluster(config())
    cluster.start()
    cluster.drop = lambda d: d.to == "r2" and d.sender.startswith("r")
    workload(cluster, 20)
    cluster.run(5.0)
    assert [cluster.replicas[i].status().view for i in (0, 1, 3)] == [0, 0, 0]
    assert cluster.replicas[2].status().view <= 1
    assert len(cluster.services[0].operations) == 20


def test_primary_that_can_receive_but_not_send_is_replaced() -> None:
    cluster = Cluster(config())
    cluster.start()
    cluster.drop = lambda d: d.sender == "r0"
    workload(cluster, 3)
    cluster.run(5.0)
    for i in (1, 2, 3):
        assert cluster.replicas[i].status().view == 1
        assert len(cluster.services[i].operations) == 3
