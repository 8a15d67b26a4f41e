"""The replicated-service interface: what a PBFT replica executes requests on (OSDI '99 §3).

PBFT replicates a deterministic state machine. Every correct replica starts from the same
state and executes the same operations in the same order, so each must compute the same result
and reach the same state; checkpoints (§4.3) compare states by digest, and state transfer
ships snapshots between replicas. That asks four things of a service, named here.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Service(Protocol):
    """A deterministic state machine a replica can execute, checkpoint and restore.

    - ``execute`` applies one operation and returns its result. It must depend only on the
      state and the operation (no clock, randomness, set iteration order or I/O). Operations
      come from clients, who may be faulty, so a malformed one yields an error result and
      leaves the state unchanged: it never raises.
    - ``snapshot`` is canonical: two services in equal states return equal bytes.
    - ``restore`` replaces the state with a snapshot's; a malformed snapshot raises
      ``ValueError`` and leaves the state as it was.
    - ``state_digest`` is ``crypto.digest(snapshot())``, what checkpoints carry.
    """

    def execute(self, operation: bytes) -> bytes: ...

    def snapshot(self) -> bytes: ...

    def restore(self, snapshot: bytes) -> None: ...

    def state_digest(self) -> bytes: ...
