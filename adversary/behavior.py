"""The interface every Byzantine behaviour implements, and the registry that names them.

A faulty replica is driven by the simulator exactly like an honest core: ``start`` once, then
``step`` for every delivered envelope and fired timer, each returning effects that the
simulator carries out (pbft/effects.py). It acts on the others only through those effects:
what it sends is signed with its own key (``BehaviorContext.signer``), never anyone else's. A
behaviour usually wraps an honest core (``ctx.make_honest()``) and rewrites, withholds,
duplicates or invents what that core emits.

Scenario files name behaviours (``[[byzantine]] behavior = "silent"``); each module registers
its behaviours with :func:`register` when imported, and the imports at the bottom of this file
make every shipped behaviour available through :func:`make_behavior`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from pbft.config import Config
from pbft.effects import Effect
from pbft.ids import ReplicaId
from pbft.inputs import Input

if TYPE_CHECKING:
    from crypto import Keyring, Signer
    from pbft.replica import Replica

__all__ = [
    "REGISTRY",
    "Behavior",
    "BehaviorContext",
    "BehaviorFactory",
    "BehaviorParamError",
    "UnknownBehavior",
    "behavior_names",
    "make_behavior",
    "param_float",
    "register",
]


class Behavior(Protocol):
    """A faulty replica, driven exactly like an honest core (see :class:`pbft.replica.Replica`)."""

    def start(self, *, now_s: float) -> list[Effect]: ...

    def step(self, event: Input, *, now_s: float) -> list[Effect]: ...


def _ignore_tamper(kind: str, how: str) -> None:
    del kind, how


@attrs.frozen(kw_only=True)
class BehaviorContext:
    """What a faulty replica knows and holds.

    ``signer`` is the replica's own key only. ``collusion`` is one dictionary shared by every
    faulty replica of a run (a blackboard for colluding behaviours). ``make_honest`` builds a
    fresh honest core with this replica's identity, key and service, for behaviours that
    deviate from an honest replica rather than replace it. ``report_tamper(kind, how)`` puts
    a ``Tampered`` record into the trace (adversary bookkeeping; optional to call).
    """

    config: Config
    replica: ReplicaId
    signer: Signer
    keyring: Keyring
    params: Mapping[str, Any]
    collusion: dict[str, Any]
    make_honest: Callable[[], Replica]
    report_tamper: Callable[[str, str], None] = _ignore_tamper
    # The run's client ids when the driver knows them (else empty), so a behaviour can refuse
    # params naming a client the run does not have.
    clients: tuple[str, ...] = ()


BehaviorFactory = Callable[[BehaviorContext], Behavior]

REGISTRY: dict[str, BehaviorFactory] = {}


class UnknownBehavior(ValueError):
    """A scenario named a behaviour that no module registered."""


class BehaviorParamError(ValueError):
    """A behaviour's ``params`` table has an unknown key or a value out of range."""


def register(name: str) -> Callable[[BehaviorFactory], BehaviorFactory]:
    """Class or function decorator: make ``name`` build behaviours with the decorated factory."""

    def decorate(factory: BehaviorFactory) -> BehaviorFactory:
        if name in REGISTRY and REGISTRY[name] is not factory:
            raise ValueError(f"behaviour {name!r} is registered twice")
        REGISTRY[name] = factory
        return factory

    return decorate


def behavior_names() -> tuple[str, ...]:
    """Every registered behaviour name, sorted."""
    return tuple(sorted(REGISTRY))


def make_behavior(name: str, ctx: BehaviorContext) -> Behavior:
    """Build behaviour ``name`` for ``ctx``; :class:`UnknownBehavior` if nobody registered it."""
    factory = REGISTRY.get(name)
    if factory is None:
        known = ", ".join(behavior_names()) or "none"
        raise UnknownBehavior(f"unknown behaviour {name!r} (known: {known})")
    return factory(ctx)


def check_params(behavior: str, params: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Raise :class:`BehaviorParamError` for a parameter ``behavior`` does not take."""
    for key in sorted(params):
        if key not in allowed:
            expected = ", ".join(allowed) or "no parameters"
            raise BehaviorParamError(
                f"behaviour {behavior!r} has no parameter {key!r} (it takes: {expected})"
            )


def param_float(
    behavior: str, params: Mapping[str, Any], key: str, *, default: float, minimum: float
) -> float:
    """A numeric parameter with a lower bound, or a :class:`BehaviorParamError` naming it."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BehaviorParamError(
            f"behaviour {behavior!r}: parameter {key!r} must be a number, got {value!r}"
        )
    if not value >= minimum:  # also rejects NaN
        raise BehaviorParamError(
            f"behaviour {behavior!r}: parameter {key!r} must be >= {minimum}, got {value!r}"
        )
    return float(value)


# Behaviour modules register themselves on import; keep one line per module, sorted.
import adversary.equivocation  # noqa: E402
import adversary.lies  # noqa: E402
import adversary.mutate  # noqa: E402
import adversary.replay  # noqa: E402
import adversary.silent  # noqa: E402, F401
