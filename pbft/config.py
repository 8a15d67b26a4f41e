"""Cluster configuration: sizes, quorums, batching, checkpoints and timeouts.

Quorum sizes come from intersection arithmetic, not from "more than half": with n replicas of
which at most f are faulty, a quorum has q = ceil((n + f + 1) / 2) members, so that any two
quorums share 2q - n >= f + 1 replicas, at least one of them correct (OSDI '99 §4, for n = 3f+1
this is the familiar 2f + 1). A *weak certificate* of f + 1 matching messages contains at least
one correct replica's word.
"""

from __future__ import annotations

import attrs

from pbft.ids import Principal, ReplicaId, View, replica_principal


class ConfigError(ValueError):
    """A configuration value is out of range or inconsistent; the message names the field."""


def max_faulty(n: int) -> int:
    """The largest f that n replicas tolerate: n >= 3f + 1."""
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    return (n - 1) // 3


def quorum_size(n: int, f: int) -> int:
    """Smallest q such that two q-sets of n replicas intersect in at least f + 1 replicas."""
    return (n + f + 2) // 2


@attrs.frozen(kw_only=True)
class Config:
    """Everything every replica and client of one cluster must agree on.

    ``window_size`` is the paper's L (high mark = low mark + L) and must be a multiple of the
    checkpoint interval K. Timeouts are in seconds of the node's own clock. With
    ``adaptive_timeouts`` the view-change and client timers start from the observed commit
    latency (mean + 4 deviations, as TCP's retransmission timer) clamped to
    [timeout_s_min, timeout_s_max]; otherwise they start from ``view_change_timeout_s`` and
    ``client_timeout_s``. Successive view changes double the timer either way.
    """

    n: int
    f: int
    unsafe: bool = False
    batch_size_max: int = 10
    batch_delay_s: float = 0.002
    checkpoint_interval: int = 64
    window_size: int = 128
    view_change_timeout_s: float = 1.0
    client_timeout_s: float = 1.0
    adaptive_timeouts: bool = True
    timeout_s_min: float = 0.05
    timeout_s_max: float = 30.0
    status_interval_s: float = 0.5
    max_frame_bytes: int = 4 * 1024 * 1024

    def __attrs_post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first inconsistent field."""
        if self.f < 0:
            raise ConfigError(f"f must be >= 0, got {self.f}")
        if self.n < 1:
            raise ConfigError(f"n must be >= 1, got {self.n}")
        if self.n > 1000:
            raise ConfigError(f"n must be <= 1000, got {self.n}")
        if self.n < 3 * self.f + 1 and not self.unsafe:
            raise ConfigError(
                f"n = {self.n} cannot tolerate f = {self.f}: PBFT needs n >= 3f + 1 = "
                f"{3 * self.f + 1} (set unsafe = true to run it anyway, for demonstrations)"
            )
        if self.quorum > self.n:
            raise ConfigError(f"quorum {self.quorum} exceeds n = {self.n}")
        if self.batch_size_max < 1:
            raise ConfigError(f"batch_size_max must be >= 1, got {self.batch_size_max}")
        if self.batch_delay_s < 0:
            raise ConfigError(f"batch_delay_s must be >= 0, got {self.batch_delay_s}")
        if self.checkpoint_interval < 1:
            raise ConfigError(f"checkpoint_interval must be >= 1, got {self.checkpoint_interval}")
        if self.window_size < self.checkpoint_interval:
            raise ConfigError(
                f"window_size ({self.window_size}) must be >= checkpoint_interval "
                f"({self.checkpoint_interval})"
            )
        if self.window_size % self.checkpoint_interval != 0:
            raise ConfigError(
                f"window_size ({self.window_size}) must be a multiple of checkpoint_interval "
                f"({self.checkpoint_interval})"
            )
        for name in ("view_change_timeout_s", "client_timeout_s", "status_interval_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.timeout_s_min <= self.timeout_s_max:
            raise ConfigError(
                f"need 0 < timeout_s_min ({self.timeout_s_min}) <= timeout_s_max "
                f"({self.timeout_s_max})"
            )
        if self.max_frame_bytes < 1024:
            raise ConfigError(f"max_frame_bytes must be >= 1024, got {self.max_frame_bytes}")

    @classmethod
    def for_f(cls, f: int, **overrides: object) -> Config:
        """The standard cluster n = 3f + 1 that tolerates ``f`` Byzantine replicas."""
        return cls(n=3 * f + 1, f=f, **overrides)  # type: ignore[arg-type]  # attrs kwargs

    @property
    def quorum(self) -> int:
        """Size of a quorum certificate (2f + 1 when n = 3f + 1)."""
        return quorum_size(self.n, self.f)

    @property
    def weak_quorum(self) -> int:
        """Size of a certificate that contains at least one correct replica: f + 1."""
        return self.f + 1

    @property
    def replicas(self) -> tuple[ReplicaId, ...]:
        return tuple(ReplicaId(i) for i in range(self.n))

    @property
    def replica_principals(self) -> tuple[Principal, ...]:
        return tuple(replica_principal(r) for r in self.replicas)

    def primary(self, view: View) -> ReplicaId:
        """The primary of ``view`` is replica v mod n (§4.1)."""
        return ReplicaId(view % self.n)
