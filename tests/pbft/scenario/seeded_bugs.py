"""Deliberately broken parts, so that real runs can violate what honest PBFT never violates.

Validity, integrity and a bounded log cannot be broken by Byzantine replicas within PBFT's
assumptions: honest replicas check client signatures, execute each (client, timestamp) once
and garbage-collect at stable checkpoints (OSDI '99 §4.1-§4.3). To see their checkers catch
a real violation, a run must contain a bug. Each bug here is seeded at the smallest seam the
code offers, and :class:`SeededCores` hands it to the simulator through the public ``cores``
hook of :func:`pbft.sim.simulate`, so no project source is patched:

- :class:`AcceptEverySignature`: broken crypto, a keyring that accepts any signature of a
  known principal (defeats §4.1's "the replica verifies the client's signature").
- :class:`ForgetfulReplica`: a reply cache that never answers a lookup, so a request already
  executed looks new again (defeats §4.1's "execute each request at most once").
- :class:`HoardingReplica`: a log whose garbage collection drops nothing, so slots pile up
  behind the moving window (defeats §4.3's "discard messages at the stable checkpoint").
- :class:`IgnoresRestore` (``SeededCores(recover_without_state=True)``): a recovered replica
  whose service ignores the stored checkpoint's snapshot, so it resumes from an empty state
  while believing it holds the checkpoint (defeats TOCS §5's "recovery restores the state of
  the last stable checkpoint"). When the whole cluster restarts, every correct replica shares
  the bug: they still agree on every batch, every result and every checkpoint, and only a
  replay of the agreed log on a fresh service shows the results are wrong.

:class:`ForgingPrimary` is the Byzantine behaviour the validity proof needs: it slips a request
in a client's name, signed with garbage, into the first batch it proposes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

import crypto
from adversary.behavior import Behavior, BehaviorContext, BehaviorFactory, make_behavior
from pbft.app.workload import operation_for
from pbft.config import Config
from pbft.effects import Broadcast, Effect
from pbft.ids import ReplicaId, Seq
from pbft.inputs import Input, Received, TimerFired
from pbft.messages import (
    SIGNATURE_SIZE,
    Envelope,
    PrePrepare,
    Request,
    batch_digest,
    sign,
)
from pbft.replica import Replica
from pbft.replica.checkpoints import CachedReply
from pbft.replica.log import Log
from pbft.sim.cores import RealCores, ReplicaCore

FORGED_CLIENT = "c0"
FORGED_TIMESTAMP = 0  # c0's own timestamps start at 1: c0 never sends this one
FORGED_OPERATION = operation_for("kv", "put", 0, b"forged")  # c0 never asks for this value
GARBAGE_SIGNATURE = bytes(SIGNATURE_SIZE)
FORGING_PRIMARY = "forge-request"  # the behaviour name SeededCores builds ForgingPrimary for


class AcceptEverySignature:
    """A keyring with broken crypto: any signature of a known principal verifies.

    It still knows exactly the principals of the real keyring, so senders are recognised as
    before; only the signature check itself is gone.
    """

    def __init__(self, real: crypto.Keyring) -> None:
        self._real = real

    def verify(self, principal: str, data: bytes, signature: bytes) -> bool:
        del data, signature
        return self._real.knows(principal)

    def knows(self, principal: str) -> bool:
        return self._real.knows(principal)

    def principals(self) -> tuple[str, ...]:
        return self._real.principals()


class ForgetfulReplies(dict[str, CachedReply]):
    """A reply cache that stores every reply but never finds one when asked.

    The replica looks requests up with ``get`` exactly where it decides whether a request is
    new (on receipt and again before executing a batch, §4.1); building a reply indexes the
    cache directly and still works, so clients get answers as before.
    """

    def get(self, key: str, default: Any = None, /) -> Any:  # the seeded bug: always a miss
        del key
        return default


class ForgetfulReplica(Replica):
    """An otherwise honest replica whose duplicate-request check never fires (§4.1 broken).

    The bug lasts until a state transfer replaces the reply cache with a fetched one; the
    runs that use it transfer no state.
    """

    def __init__(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: crypto.Signer,
        keyring: crypto.Keyring,
        service: Any,
    ) -> None:
        super().__init__(
            config=config, replica=replica, signer=signer, keyring=keyring, service=service
        )
        self._replies = ForgetfulReplies()


class HoardingLog(Log):
    """A message log whose garbage collection drops nothing and reports nothing dropped."""

    def collect_garbage(self, stable_seq: Seq) -> list[Seq]:
        del stable_seq
        return []


class HoardingReplica(Replica):
    """An otherwise honest replica that never garbage-collects its log (§4.3 broken)."""

    def __init__(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: crypto.Signer,
        keyring: crypto.Keyring,
        service: Any,
    ) -> None:
        super().__init__(
            config=config, replica=replica, signer=signer, keyring=keyring, service=service
        )
        self._log = HoardingLog()


class IgnoresRestore:
    """A service that keeps its own state when asked to restore a snapshot (the seeded bug).

    Everything else is the wrapped service's, so it executes, snapshots and digests as
    before; only ``restore`` (recovery, and state transfer later on) silently does nothing.
    """

    def __init__(self, real: Any) -> None:
        self._real = real

    def execute(self, operation: bytes) -> bytes:
        result: bytes = self._real.execute(operation)
        return result

    def snapshot(self) -> bytes:
        snapshot: bytes = self._real.snapshot()
        return snapshot

    def restore(self, snapshot: bytes) -> None:
        del snapshot

    def state_digest(self) -> bytes:
        digest: bytes = self._real.state_digest()
        return digest


def forged_request(operation: bytes = FORGED_OPERATION) -> Envelope:
    """A request in :data:`FORGED_CLIENT`'s name that the client never signed."""
    request = Request(client=FORGED_CLIENT, timestamp=FORGED_TIMESTAMP, operation=operation)
    return Envelope(sender=FORGED_CLIENT, payload=request, signature=GARBAGE_SIGNATURE)


class ForgingPrimary:
    """A faulty primary that puts a forged client request first in its first batch.

    It runs an honest core and rewrites only that core's first PRE-PREPARE: the batch gains
    :func:`forged_request` in front, the digest is recomputed and the primary signs the
    result with its own key (a Byzantine node forges nothing but the client's signature,
    which it cannot make, so it sends garbage in its place). Backups that check client
    signatures reject the pre-prepare (§4.2); backups with broken crypto run the forgery.
    """

    def __init__(self, ctx: BehaviorContext, *, operation: bytes = FORGED_OPERATION) -> None:
        self._ctx = ctx
        self._core = ctx.make_honest()
        self._forgery = forged_request(operation)
        self.forged: PrePrepare | None = None  # the rewritten pre-prepare, once sent

    def start(self, *, now_s: float) -> list[Effect]:
        return self._core.start(now_s=now_s)

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        if not isinstance(event, Received | TimerFired):
            return []  # a Submit never reaches a replica
        return [self._rewrite(effect) for effect in self._core.step(event, now_s=now_s)]

    def _rewrite(self, effect: Effect) -> Effect:
        if self.forged is not None or not isinstance(effect, Broadcast):
            return effect
        honest = effect.envelope.payload
        if not isinstance(honest, PrePrepare):
            return effect
        batch = (self._forgery, *honest.batch)
        self.forged = attrs.evolve(honest, batch=batch, digest=batch_digest(batch))
        self._ctx.report_tamper("PrePrepare", f"forged request of {FORGED_CLIENT}")
        return Broadcast(envelope=sign(self._ctx.signer, self.forged))


@attrs.define
class SeededCores(RealCores):
    """The real cores, with the seeded bugs switched on as asked.

    ``replica_class`` builds every replica, including the honest core inside a Byzantine
    behaviour and a replica recovered after a crash. ``accept_every_signature`` hands every
    node :class:`AcceptEverySignature` around the real keyring. ``recover_without_state``
    gives every recovered replica a service wrapped in :class:`IgnoresRestore`.
    ``behaviors`` adds behaviours the adversary registry does not know, by the name a
    scenario's ``byzantine`` entry uses; ``built`` keeps every behaviour built from it, for
    tests to inspect.
    """

    replica_class: type[Replica] = Replica
    accept_every_signature: bool = False
    recover_without_state: bool = False
    behaviors: Mapping[str, BehaviorFactory] = attrs.field(factory=dict)
    built: list[Behavior] = attrs.field(factory=list)

    def keys(
        self, scheme: str, cluster_seed: bytes, principals: Iterable[str]
    ) -> tuple[Mapping[str, Any], Any]:
        signers, keyring = super().keys(scheme, cluster_seed, principals)
        if self.accept_every_signature:
            keyring = AcceptEverySignature(keyring)
        return signers, keyring

    def replica(
        self, *, config: Config, replica: ReplicaId, signer: Any, keyring: Any, service: Any
    ) -> ReplicaCore:
        return self.replica_class(
            config=config, replica=replica, signer=signer, keyring=keyring, service=service
        )

    def recover(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: Any,
        keyring: Any,
        service: Any,
        stored: Mapping[str, bytes],
    ) -> ReplicaCore:
        return self.replica_class.recover(
            config=config,
            replica=replica,
            signer=signer,
            keyring=keyring,
            service=IgnoresRestore(service) if self.recover_without_state else service,
            stored=stored,
        )

    def behavior(self, name: str, ctx: BehaviorContext) -> ReplicaCore:
        factory = self.behaviors.get(name)
        built = make_behavior(name, ctx) if factory is None else factory(ctx)
        self.built.append(built)
        return built
