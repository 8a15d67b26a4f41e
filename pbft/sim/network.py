"""The network model: per-message delay, loss, duplication, jitter, partitions, partial synchrony.

Every message sent from ``src`` to ``dst`` at real time ``t`` is judged once, at send time:

1. A partition that separates ``src`` from ``dst`` drops it ("partition"). It is judged again
   on arrival: a partition that starts while the message is in flight also drops it.
2. The link model is ``before_gst`` while ``t < gst_s`` (when given), otherwise the last
   override in ``links`` that covers ``src -> dst``, or ``after`` when none does.
   The message is lost with probability ``loss`` ("loss").
3. Its delay is drawn from the model's distribution (fixed, uniform, exponential with the
   given mean, or lognormal whose mean is ``mean_s``), plus jitter drawn uniformly from
   ``[0, reorder * delay]``. Links are not FIFO: every message draws its own delay, so any
   distribution but "fixed" reorders a link by itself; jitter adds to that.
4. Partial synchrony (Dwork, Lynch, Stockmeyer '88): after GST a delivered message arrives
   within ``bound_s``; a message sent before GST arrives by ``gst_s + bound_s`` at the latest.
5. With probability ``duplicate`` a second copy travels with its own delay.
6. A ``slow`` fault adds its ``delay_s`` to every message from or to its nodes while it lasts;
   it is a fault, so it may exceed the bound.

All draws come from the one ``random.Random`` handed in, in a fixed order, so the same seed
gives the same network.
"""

from __future__ import annotations

import math
import random

import attrs

from pbft.scenario.model import Delay, LinkModel, NetworkSpec


def sample_delay(delay: Delay, rng: random.Random) -> float:
    """One delay in seconds drawn from ``delay`` (never negative)."""
    match delay.dist:
        case "fixed":
            value = delay.value_s
        case "uniform":
            value = rng.uniform(delay.low_s, delay.high_s)
        case "exponential":
            value = rng.expovariate(1.0 / delay.mean_s) if delay.mean_s > 0 else 0.0
        case "lognormal":
            if delay.mean_s > 0:
                # E[lognormal(mu, sigma)] = exp(mu + sigma^2 / 2): choose mu to hit the mean.
                mu = math.log(delay.mean_s) - delay.sigma**2 / 2
                value = rng.lognormvariate(mu, delay.sigma)
            else:
                value = 0.0
        case _:
            raise ValueError(f"unknown delay distribution {delay.dist!r}")
    return max(0.0, value)


@attrs.frozen
class Partition:
    """Groups of node names cut off from each other; ``oneway``: only group 0 cannot send.

    A node named in no group stays connected to everyone.
    """

    groups: tuple[frozenset[str], ...]
    oneway: bool

    def blocks(self, src: str, dst: str) -> bool:
        src_group = self._group_of(src)
        dst_group = self._group_of(dst)
        if src_group is None or dst_group is None or src_group == dst_group:
            return False
        if self.oneway:
            return src_group == 0
        return True

    def _group_of(self, node: str) -> int | None:
        for index, group in enumerate(self.groups):
            if node in group:
                return index
        return None

    def describe(self) -> str:
        groups = " | ".join(",".join(sorted(group)) for group in self.groups)
        return f"{groups} ({'one-way: first group cannot send' if self.oneway else 'two-way'})"


@attrs.frozen
class Slowdown:
    nodes: frozenset[str]
    delay_s: float
    until_s: float


class Network:
    """Decides the fate of every message: dropped (with a reason) or its delays."""

    def __init__(self, spec: NetworkSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.partitions: list[Partition] = []
        self.slowdowns: list[Slowdown] = []
        # (src, dst) -> blocked, for the partitions active now. Every message asks, and
        # partitions pile up until a heal: scanning them all per message would cost messages
        # x partitions, and re-scanning them after each new one partitions squared. A new
        # partition can only block more, so it updates the known pairs; a heal forgets all.
        self._blocked: dict[tuple[str, str], bool] = {}
        # (src, dst) -> the override model, resolved once: later overrides overwrite earlier
        # ones, and a send costs one lookup however many overrides there are.
        self._overrides: dict[tuple[str, str], LinkModel] = link_overrides(spec)

    def partition(self, groups: tuple[tuple[str, ...], ...], *, oneway: bool) -> Partition:
        cut = Partition(tuple(frozenset(group) for group in groups), oneway)
        self.partitions.append(cut)
        for (src, dst), verdict in self._blocked.items():
            if not verdict and cut.blocks(src, dst):
                self._blocked[src, dst] = True
        return cut

    def heal(self) -> None:
        self.partitions.clear()
        self._blocked.clear()

    def slow(self, nodes: tuple[str, ...], *, delay_s: float, until_s: float) -> None:
        self.slowdowns.append(Slowdown(frozenset(nodes), delay_s, until_s))

    def forget_slowdowns_ended_by(self, now_s: float) -> None:
        """Drop slowdowns over at ``now_s`` (they add nothing then), so sends stop scanning them."""
        self.slowdowns = [slowdown for slowdown in self.slowdowns if now_s < slowdown.until_s]

    def blocked(self, src: str, dst: str) -> bool:
        """True when an active partition separates ``src`` from ``dst`` in that direction."""
        key = (src, dst)
        verdict = self._blocked.get(key)
        if verdict is None:
            verdict = any(cut.blocks(src, dst) for cut in self.partitions)
            self._blocked[key] = verdict
        return verdict

    def link_at(self, now_s: float, src: str = "", dst: str = "") -> LinkModel:
        """The model for a message ``src -> dst`` sent at ``now_s`` (an override, if any)."""
        spec = self.spec
        if spec.before_gst is not None and now_s < spec.gst_s:
            return spec.before_gst
        if self._overrides:
            return self._overrides.get((src, dst), spec.after)
        return spec.after

    def transit(self, src: str, dst: str, now_s: float) -> str | tuple[float, ...]:
        """The drop reason, or the delay of each copy that will arrive (1, or 2 if duplicated)."""
        if self.partitions and self.blocked(src, dst):
            return "partition"
        link = self.link_at(now_s, src, dst)
        rng = self.rng
        if link.loss > 0 and rng.random() < link.loss:
            return "loss"
        first = self._delay(link, src, dst, now_s)
        if link.duplicate > 0 and rng.random() < link.duplicate:
            return (first, self._delay(link, src, dst, now_s))
        return (first,)

    def _delay(self, link: LinkModel, src: str, dst: str, now_s: float) -> float:
        delay = sample_delay(link.delay, self.rng)
        if link.reorder > 0:
            delay += self.rng.uniform(0.0, link.reorder * delay)
        spec = self.spec
        # Partial synchrony: the bound holds from GST on, also for messages sent before it.
        latest_s = max(now_s, spec.gst_s) + spec.bound_s
        delay = min(delay, latest_s - now_s)
        if self.slowdowns:
            delay += self._slowdown_s(src, dst, now_s)
        return delay

    def _slowdown_s(self, src: str, dst: str, now_s: float) -> float:
        extra = 0.0
        for slowdown in self.slowdowns:
            if now_s < slowdown.until_s and (src in slowdown.nodes or dst in slowdown.nodes):
                extra += slowdown.delay_s
        return extra


def link_overrides(spec: NetworkSpec) -> dict[tuple[str, str], LinkModel]:
    """Each ordered (src, dst) pair some override covers, mapped to the last one that does."""
    models: dict[tuple[str, str], LinkModel] = {}
    for override in spec.links:
        for src in override.src:
            for dst in override.dst:
                models[src, dst] = override.model
                if override.both_ways:
                    models[dst, src] = override.model
    return models
