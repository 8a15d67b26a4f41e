"""The network model: delays, loss, duplication, jitter, partitions and partial synchrony."""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path

import pytest

from pbft.scenario.loader import load_scenario
from pbft.scenario.model import Delay, LinkModel, LinkOverride, NetworkSpec
from pbft.sim import simulate
from pbft.sim.network import Network, link_overrides, sample_delay
from pbft.trace import records as rec

SAMPLES = 20_000


def samples(delay: Delay, count: int = SAMPLES) -> list[float]:
    rng = random.Random(42)
    return [sample_delay(delay, rng) for _ in range(count)]


def test_fixed_delay_is_always_the_value() -> None:
    assert set(samples(Delay(dist="fixed", value_s=0.007), 100)) == {0.007}


def test_uniform_delay_stays_within_its_bounds_and_covers_them() -> None:
    drawn = samples(Delay(dist="uniform", low_s=0.002, high_s=0.004))
    assert min(drawn) >= 0.002
    assert max(drawn) <= 0.004
    assert min(drawn) < 0.0021
    assert max(drawn) > 0.0039


def test_exponential_delay_is_non_negative_with_the_given_mean() -> None:
    drawn = samples(Delay(dist="exponential", mean_s=0.01))
    assert min(drawn) >= 0
    assert statistics.fmean(drawn) == pytest.approx(0.01, rel=0.05)


def test_lognormal_delay_is_positive_with_the_given_mean_and_a_heavy_tail() -> None:
    drawn = samples(Delay(dist="lognormal", mean_s=0.01, sigma=0.8))
    assert min(drawn) > 0
    assert statistics.fmean(drawn) == pytest.approx(0.01, rel=0.06)
    assert statistics.median(drawn) < statistics.fmean(drawn)  # skewed to the right


def test_a_negative_fixed_delay_is_clamped_to_zero() -> None:
    assert samples(Delay(dist="fixed", value_s=-1.0), 1) == [0.0]


def network(link: LinkModel, **spec: object) -> Network:
    return Network(NetworkSpec(after=link, **spec), random.Random(7))  # type: ignore[arg-type]


def test_loss_rate_is_roughly_the_configured_probability() -> None:
    net = network(LinkModel(loss=0.2))
    fates = [net.transit("r0", "r1", 1.0) for _ in range(SAMPLES)]
    lost = sum(1 for fate in fates if fate == "loss")
    assert lost / SAMPLES == pytest.approx(0.2, abs=0.01)


def test_duplication_rate_is_roughly_the_configured_probability() -> None:
    net = network(LinkModel(duplicate=0.1))
    fates = [net.transit("r0", "r1", 1.0) for _ in range(SAMPLES)]
    assert all(isinstance(fate, tuple) for fate in fates)
    doubled = sum(1 for fate in fates if len(fate) == 2)
    assert doubled / SAMPLES == pytest.approx(0.1, abs=0.01)


def test_reorder_jitter_adds_up_to_the_fraction_of_the_delay() -> None:
    link = LinkModel(delay=Delay(dist="fixed", value_s=0.01), reorder=0.5)
    net = network(link)
    delays = [fate[0] for fate in (net.transit("r0", "r1", 1.0) for _ in range(2000))]
    assert isinstance(delays[0], float)
    assert min(delays) >= 0.01
    assert max(delays) <= 0.015
    assert max(delays) > 0.0145  # the jitter really spreads them, so messages overtake


def test_a_two_way_partition_drops_both_directions_between_groups_only() -> None:
    net = network(LinkModel())
    net.partition((("r0", "r1"), ("r2", "r3")), oneway=False)
    assert net.transit("r0", "r2", 0.0) == "partition"
    assert net.transit("r3", "r1", 0.0) == "partition"
    assert isinstance(net.transit("r0", "r1", 0.0), tuple)
    assert isinstance(net.transit("r2", "r3", 0.0), tuple)


def test_a_node_named_in_no_group_stays_connected_to_everyone() -> None:
    net = network(LinkModel())
    net.partition((("r0",), ("r1", "r2", "r3")), oneway=False)
    for node in ("r0", "r1", "r2", "r3"):
        assert not net.blocked("c0", node)
        assert not net.blocked(node, "c0")


def test_a_oneway_partition_stops_only_the_first_group_from_sending() -> None:
    net = network(LinkModel())
    net.partition((("r0",), ("r1", "r2", "r3")), oneway=True)
    assert net.transit("r0", "r1", 0.0) == "partition"
    assert isinstance(net.transit("r1", "r0", 0.0), tuple)


def test_heal_removes_every_partition() -> None:
    net = network(LinkModel())
    net.partition((("r0",), ("r1",)), oneway=False)
    net.partition((("r2",), ("r3",)), oneway=True)
    net.heal()
    assert not net.blocked("r0", "r1")
    assert not net.blocked("r2", "r3")


def test_after_gst_every_delivered_message_arrives_within_the_bound() -> None:
    slow = LinkModel(delay=Delay(dist="exponential", mean_s=1.0))
    net = network(slow, gst_s=0.0, bound_s=0.05)
    delays = [net.transit("r0", "r1", 5.0) for _ in range(2000)]
    assert max(fate[0] for fate in delays if isinstance(fate, tuple)) <= 0.05


def test_before_gst_the_before_gst_model_applies_and_arrivals_wait_at_most_gst_plus_bound() -> None:
    before = LinkModel(delay=Delay(dist="fixed", value_s=10.0), loss=0.5)
    after = LinkModel(delay=Delay(dist="fixed", value_s=0.001))
    net = Network(
        NetworkSpec(after=after, before_gst=before, gst_s=2.0, bound_s=0.1), random.Random(3)
    )
    early = [net.transit("r0", "r1", 1.0) for _ in range(1000)]
    assert 400 < sum(1 for fate in early if fate == "loss") < 600
    arrivals = [1.0 + fate[0] for fate in early if isinstance(fate, tuple)]
    assert max(arrivals) == pytest.approx(2.1)
    late = net.transit("r0", "r1", 2.0)
    assert late == (0.001,)


def test_a_slowdown_adds_its_delay_to_messages_of_its_nodes_while_it_lasts() -> None:
    net = network(LinkModel(delay=Delay(dist="fixed", value_s=0.001)))
    net.slow(("r1",), delay_s=0.5, until_s=3.0)
    assert net.transit("r0", "r1", 1.0) == (pytest.approx(0.501),)
    assert net.transit("r1", "r2", 1.0) == (pytest.approx(0.501),)
    assert net.transit("r0", "r2", 1.0) == (0.001,)
    assert net.transit("r0", "r1", 3.0) == (0.001,)


def test_the_same_seed_gives_the_same_fates_and_another_seed_other_ones() -> None:
    link = LinkModel(delay=Delay(dist="lognormal"), loss=0.1, duplicate=0.1, reorder=0.2)

    def fates(seed: int) -> list[object]:
        net = Network(NetworkSpec(after=link), random.Random(seed))
        return [net.transit("r0", "r1", 0.5) for _ in range(200)]

    assert fates(1) == fates(1)
    assert fates(1) != fates(2)
    assert all(fate == "loss" or all(math.isfinite(d) for d in fate) for fate in fates(1))


def test_partition_verdicts_follow_every_new_partition_and_heal() -> None:
    net = network(LinkModel())
    assert not net.blocked("r0", "r1")
    net.partition((("r0",), ("r1",)), oneway=True)
    assert net.blocked("r0", "r1")
    assert not net.blocked("r1", "r0")
    net.partition((("r1",), ("r0",)), oneway=True)
    assert net.blocked("r1", "r0")
    net.heal()
    assert not net.blocked("r0", "r1")
    assert not net.blocked("r1", "r0")


def test_ended_slowdowns_are_forgotten_so_later_messages_do_not_scan_them() -> None:
    net = network(LinkModel(delay=Delay(dist="fixed", value_s=0.001)))
    for index in range(100):
        net.slow(("r1",), delay_s=0.5, until_s=0.01 * (index + 1))
    net.slow(("r2",), delay_s=0.5, until_s=5.0)
    net.forget_slowdowns_ended_by(2.0)
    assert [slowdown.until_s for slowdown in net.slowdowns] == [5.0]
    assert net.transit("r0", "r1", 2.0) == (0.001,)
    assert net.transit("r0", "r2", 2.0) == (pytest.approx(0.501),)


def arrival_order(link: LinkModel) -> list[int]:
    """Send 200 messages 1 ms apart on one link; return their indices by arrival time."""
    net = network(link)
    arrivals = []
    for index in range(200):
        fate = net.transit("r0", "r1", index * 0.001)
        assert isinstance(fate, tuple)
        arrivals.append((index * 0.001 + fate[0], index))
    return [index for _, index in sorted(arrivals)]


def test_a_fixed_delay_without_jitter_keeps_a_link_in_order() -> None:
    assert arrival_order(LinkModel(delay=Delay(dist="fixed", value_s=0.005))) == list(range(200))


def test_random_delays_reorder_a_link_even_without_jitter_and_jitter_reorders_a_fixed_one() -> None:
    uniform = LinkModel(delay=Delay(dist="uniform", low_s=0.001, high_s=0.010))
    jittery = LinkModel(delay=Delay(dist="fixed", value_s=0.005), reorder=1.0)
    assert arrival_order(uniform) != list(range(200))
    assert arrival_order(jittery) != list(range(200))


NEAR = LinkModel(delay=Delay(dist="fixed", value_s=0.001))
FAR = LinkModel(delay=Delay(dist="fixed", value_s=0.08))
LOSSY = LinkModel(delay=Delay(dist="fixed", value_s=0.02), loss=1.0)


def with_links(*links: LinkOverride, **spec: object) -> Network:
    return Network(
        NetworkSpec(after=NEAR, links=links, **spec),  # type: ignore[arg-type]
        random.Random(7),
    )


def test_an_override_applies_to_its_links_and_the_base_model_to_every_other() -> None:
    net = with_links(LinkOverride(src=("r3",), dst=("r0", "r1"), model=FAR))
    assert net.transit("r3", "r0", 1.0) == (0.08,)
    assert net.transit("r1", "r3", 1.0) == (0.08,)  # both ways by default
    assert net.transit("r3", "r2", 1.0) == (0.001,)
    assert net.transit("r0", "r1", 1.0) == (0.001,)
    assert net.transit("c0", "r3", 1.0) == (0.001,)


def test_a_one_way_override_leaves_the_way_back_on_the_base_model() -> None:
    net = with_links(LinkOverride(src=("r3",), dst=("r0",), model=FAR, both_ways=False))
    assert net.transit("r3", "r0", 1.0) == (0.08,)
    assert net.transit("r0", "r3", 1.0) == (0.001,)


def test_a_later_override_wins_over_an_earlier_one_on_the_links_they_share() -> None:
    net = with_links(
        LinkOverride(src=("r3",), dst=("r0", "r1"), model=FAR),
        LinkOverride(src=("r1",), dst=("r3",), model=LOSSY, both_ways=False),
    )
    assert net.transit("r1", "r3", 1.0) == "loss"
    assert net.transit("r3", "r1", 1.0) == (0.08,)  # the later one covers r1 -> r3 only
    assert net.transit("r3", "r0", 1.0) == (0.08,)


def test_overrides_are_resolved_once_per_ordered_pair() -> None:
    spec = NetworkSpec(
        links=(
            LinkOverride(src=("r0", "r1"), dst=("c0",), model=FAR),
            LinkOverride(src=("c0",), dst=("r1",), model=LOSSY, both_ways=False),
        )
    )
    assert link_overrides(spec) == {
        ("r0", "c0"): FAR,
        ("c0", "r0"): FAR,
        ("r1", "c0"): FAR,
        ("c0", "r1"): LOSSY,
    }


def test_after_gst_the_bound_still_caps_an_overridden_links_delay() -> None:
    slow = LinkModel(delay=Delay(dist="lognormal", mean_s=5.0, sigma=1.0))
    net = with_links(LinkOverride(src=("r3",), dst=("r0",), model=slow), bound_s=0.05)
    fates = [net.transit("r3", "r0", 2.0) for _ in range(500)]
    delays = [fate[0] for fate in fates if isinstance(fate, tuple)]
    assert max(delays) == pytest.approx(0.05)


def test_before_gst_the_before_gst_model_rules_overridden_links_too() -> None:
    before = LinkModel(delay=Delay(dist="fixed", value_s=0.3))
    net = with_links(
        LinkOverride(src=("r3",), dst=("r0",), model=FAR),
        before_gst=before,
        gst_s=1.0,
        bound_s=0.5,
    )
    assert net.transit("r3", "r0", 0.5) == (0.3,)
    assert net.transit("r3", "r0", 1.0) == (0.08,)


def test_no_overrides_draw_exactly_what_the_base_model_draws() -> None:
    link = LinkModel(delay=Delay(dist="lognormal"), loss=0.1, duplicate=0.1, reorder=0.2)
    unrelated = LinkOverride(src=("c5",), dst=("c6",), model=FAR)

    def fates(*links: LinkOverride) -> list[object]:
        net = Network(NetworkSpec(after=link, links=links), random.Random(5))
        return [net.transit("r0", "r1", 0.5) for _ in range(200)]

    assert fates() == fates(unrelated)


DISTANT = Path(__file__).resolve().parents[3] / "scenarios" / "distant-replica.toml"


@pytest.mark.slow
def test_a_distant_replica_is_slow_to_reach_and_the_near_quorum_commits_without_it() -> None:
    run = simulate(load_scenario(DISTANT))
    sent = {r.msg: r.t for r in run.records if isinstance(r, rec.Sent)}
    near: list[float] = []
    far: list[float] = []
    for r in run.records:
        if isinstance(r, rec.Delivered) and r.src.startswith("r") and r.dst.startswith("r"):
            (far if "r3" in (r.src, r.dst) else near).append(r.t - sent[r.msg])
    assert max(near) <= 0.003  # the base model: uniform 1..3 ms
    assert statistics.fmean(far) > 0.04  # the override: lognormal, 80 ms mean
    executed: dict[int, dict[int, float]] = {}
    for r in run.records:
        if isinstance(r, rec.Executed):
            executed.setdefault(r.seq, {})[r.replica] = r.t
    assert len(executed) > 1
    for seq, at in executed.items():
        assert {0, 1, 2} <= at.keys(), f"seq {seq}: a near replica did not execute it"
        if 3 in at:  # the near quorum never waited for r3
            assert at[3] > max(at[0], at[1], at[2]), f"seq {seq}"
    views = [r.view for r in run.records if isinstance(r, rec.ViewEntered)]
    assert views == [0, 0, 0, 0]
