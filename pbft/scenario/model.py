"""A scenario as a value: who is faulty, how the network and clocks behave, what must hold.

:mod:`pbft.scenario.loader` builds a :class:`Scenario` from a TOML file (or a dict) and
validates it; the runner turns it into a simulated run; the checkers judge the run. Code that
embeds pbft may build these values directly. All times are virtual seconds.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from pbft.config import Config

DelayDist = Literal["fixed", "uniform", "exponential", "lognormal"]
CryptoScheme = Literal["ed25519", "fast"]
AppName = Literal["kv", "counter", "lock"]

FAULT_ACTIONS = (
    "crash",  # crash-stop until a later "restart" (or for ever)
    "restart",  # crash-recovery: come back from what was persisted
    "pause",  # nothing happens for duration_s, then the backlog and stale timers
    "partition",  # two-way partition between groups (oneway = true: first group cannot send)
    "heal",  # remove every partition
    "clock_skew",  # set offset_s and drift of the replicas' clocks
    "slow",  # add delay_s to every message to/from the replicas for duration_s
)


@attrs.frozen(kw_only=True)
class Delay:
    """A delay distribution; which fields matter depends on ``dist``."""

    dist: DelayDist = "uniform"
    value_s: float = 0.005  # fixed
    low_s: float = 0.001  # uniform
    high_s: float = 0.010  # uniform
    mean_s: float = 0.005  # exponential (mean), lognormal (mean of the underlying delay)
    sigma: float = 0.5  # lognormal shape


@attrs.frozen(kw_only=True)
class LinkModel:
    """How one period of the network treats every message between two nodes."""

    delay: Delay = Delay()
    loss: float = 0.0  # probability a message is dropped
    duplicate: float = 0.0  # probability a message is delivered twice
    reorder: float = 0.0  # extra jitter, as a fraction of the delay, that reorders messages


@attrs.frozen(kw_only=True)
class LinkOverride:
    """A link model of its own for the messages from any node in ``src`` to any in ``dst``.

    With ``both_ways`` it also covers the messages back (``dst`` to ``src``). It replaces the
    ``after`` model on those links only: before GST the ``before_gst`` model (when given) still
    rules every link, and from GST on ``bound_s`` still caps every delay, so a slow link never
    breaks partial synchrony.
    """

    src: tuple[str, ...]  # node names: "r0", "c0"
    dst: tuple[str, ...]
    model: LinkModel
    both_ways: bool = True


@attrs.frozen(kw_only=True)
class NetworkSpec:
    """Partial synchrony: ``before_gst`` until ``gst_s``, then ``after`` with delays capped.

    ``links`` give some links a model of their own in place of ``after``; when two overrides
    cover the same (sender, receiver) pair, the later one wins.
    """

    after: LinkModel = LinkModel()
    before_gst: LinkModel | None = None
    gst_s: float = 0.0
    bound_s: float = 0.1  # after GST, messages between correct nodes arrive within this
    links: tuple[LinkOverride, ...] = ()


@attrs.frozen(kw_only=True)
class ClusterSpec:
    f: int = 1
    n: int | None = None  # default 3f + 1
    unsafe: bool = False
    batch_size: int = 10
    batch_delay_s: float = 0.002
    checkpoint_interval: int = 16
    window: int = 32
    view_change_timeout_s: float = 0.5
    adaptive_timeouts: bool = True
    crypto: CryptoScheme = "fast"
    app: AppName = "kv"

    @property
    def size(self) -> int:
        return self.n if self.n is not None else 3 * self.f + 1

    def config(self, *, client_timeout_s: float = 1.0) -> Config:
        """The protocol configuration this section describes (raises ConfigError if invalid)."""
        return Config(
            n=self.size,
            f=self.f,
            unsafe=self.unsafe,
            batch_size_max=self.batch_size,
            batch_delay_s=self.batch_delay_s,
            checkpoint_interval=self.checkpoint_interval,
            window_size=self.window,
            view_change_timeout_s=self.view_change_timeout_s,
            client_timeout_s=client_timeout_s,
            adaptive_timeouts=self.adaptive_timeouts,
        )


@attrs.frozen(kw_only=True)
class WorkloadSpec:
    clients: int = 1
    requests: int = 10  # per client, one outstanding at a time
    client_timeout_s: float = 0.5
    start_s: float = 0.0
    think_s: float = 0.0  # pause between a completion and the client's next request
    mix: tuple[tuple[str, float], ...] = (("put", 0.5), ("get", 0.5))  # operation -> weight
    keys: int = 8  # size of the key space the kv operations draw from


@attrs.frozen(kw_only=True)
class FaultSpec:
    at_s: float
    action: str  # one of FAULT_ACTIONS
    replicas: tuple[int, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()  # node names: "r0", "c0"
    oneway: bool = False
    duration_s: float = 0.0
    offset_s: float = 0.0
    drift: float = 0.0
    delay_s: float = 0.0


@attrs.frozen(kw_only=True)
class ByzantineSpec:
    replica: int
    behavior: str
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ExpectSpec:
    safety: bool = True  # True: every safety check must hold; False: a violation must be found
    # True: every correct client's request completes by within_s; False: a stall must be found
    liveness: bool = True
    within_s: float = 30.0  # virtual-time deadline; the run stops here at the latest
    min_committed: int = 0
    max_view: int | None = None


@attrs.frozen(kw_only=True)
class Scenario:
    name: str
    description: str = ""
    seed: int = 1
    cluster: ClusterSpec = ClusterSpec()
    network: NetworkSpec = NetworkSpec()
    workload: WorkloadSpec = WorkloadSpec()
    faults: tuple[FaultSpec, ...] = ()
    byzantine: tuple[ByzantineSpec, ...] = ()
    expect: ExpectSpec = ExpectSpec()
    source: str = "<memory>"  # file the scenario came from, for messages
