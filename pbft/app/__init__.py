"""Replicated services: the interface replicas execute on, and the built-in services.

See :mod:`pbft.app.service` for the contract and docs/services.md for the operation formats.
"""

from __future__ import annotations

from collections.abc import Callable

from pbft.app.counter import Counter
from pbft.app.encoding import MalformedError, Result, decode_result
from pbft.app.kv import KvStore
from pbft.app.lock import LockService
from pbft.app.service import Service

__all__ = [
    "SERVICE_NAMES",
    "Counter",
    "KvStore",
    "LockService",
    "MalformedError",
    "Result",
    "Service",
    "decode_result",
    "make_service",
]

_FACTORIES: dict[str, Callable[[], Service]] = {
    "counter": Counter,
    "kv": KvStore,
    "lock": LockService,
}

SERVICE_NAMES: tuple[str, ...] = tuple(sorted(_FACTORIES))


def make_service(name: str) -> Service:
    """A fresh built-in service by name: "kv", "counter" or "lock" (ValueError otherwise)."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown service {name!r} (known: {', '.join(SERVICE_NAMES)})")
    return factory()
