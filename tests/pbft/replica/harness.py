"""A tiny deterministic in-memory loop that drives replica cores for tests.

Messages are delivered in FIFO order with no delay; when no message is in flight, virtual
time jumps to the earliest armed timer. A ``drop`` predicate lets a test lose messages, and
replicas can be crashed and recovered from what they persisted. The simulator (pbft/sim)
replaces this for real runs; this loop stays small on purpose.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable

import attrs
import cbor2

import crypto
from pbft.config import Config
from pbft.effects import (
    Broadcast,
    CheckpointStable,
    Effect,
    EnteredView,
    Executed,
    Persist,
    Rejected,
    Send,
    StartTimer,
    StopTimer,
)
from pbft.ids import Principal, ReplicaId, TimerName, replica_of, replica_principal
from pbft.inputs import Received, TimerFired
from pbft.messages import Envelope, Reply, Request, sign
from pbft.replica import Replica

CLIENTS = ("c0", "c1", "c2", "c3")
SEED = b"tests/pbft/replica/harness"


class ListService:
    """A list-append service: each operation is appended; the result is the new length."""

    def __init__(self) -> None:
        self.operations: list[bytes] = []

    def execute(self, operation: bytes) -> bytes:
        self.operations.append(operation)
        return b"%d" % len(self.operations)

    def snapshot(self) -> bytes:
        return bytes(cbor2.dumps(self.operations, canonical=True))

    def restore(self, snapshot: bytes) -> None:
        value = cbor2.loads(snapshot)
        if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
            raise ValueError("not a list of operations")
        self.operations = list(value)

    def state_digest(self) -> bytes:
        return crypto.digest(self.snapshot())


_KEYS: dict[int, tuple[dict[str, crypto.Signer], crypto.Keyring]] = {}


def cluster_keys(n: int) -> tuple[dict[str, crypto.Signer], crypto.Keyring]:
    """Fast-scheme keys for replicas r0..r{n-1} and the harness clients (cached per n)."""
    if n not in _KEYS:
        principals = [replica_principal(ReplicaId(i)) for i in range(n)] + list(CLIENTS)
        _KEYS[n] = crypto.cluster_keys("fast", SEED, principals)
    return _KEYS[n]


@attrs.define
class Delivery:
    to: Principal
    envelope: Envelope
    sender: Principal


class Cluster:
    """n replica cores wired by a FIFO network with virtual time."""

    def __init__(self, config: Config, *, now_s: float = 0.0) -> None:
        self.config = config
        self.signers, self.keyring = cluster_keys(config.n)
        self.now_s = now_s
        self.replicas: dict[int, Replica] = {}
        self.services: dict[int, ListService] = {}
        self.stored: dict[int, dict[str, bytes]] = {i: {} for i in range(config.n)}
        self.crashed: set[int] = set()
        self.network: collections.deque[Delivery] = collections.deque()
        self.timers: dict[tuple[int, TimerName], float] = {}
        self.effects: dict[int, list[Effect]] = {i: [] for i in range(config.n)}
        self.client_inbox: dict[str, list[Envelope]] = {c: [] for c in CLIENTS}
        self.drop: Callable[[Delivery], bool] = lambda delivery: False
        self.timestamps: dict[str, int] = {c: 0 for c in CLIENTS}
        for i in range(config.n):
            self.services[i] = ListService()
            self.replicas[i] = Replica(
                config=config,
                replica=ReplicaId(i),
                signer=self.signers[replica_principal(ReplicaId(i))],
                keyring=self.keyring,
                service=self.services[i],
            )

    # -- driving

    def start(self) -> None:
        for i in sorted(self.replicas):
            self.apply(i, self.replicas[i].start(now_s=self.now_s))

    def apply(self, i: int, effects: Iterable[Effect]) -> None:
        """Carry out a replica's effects in order, as a driver would."""
        sender = replica_principal(ReplicaId(i))
        for effect in effects:
            self.effects[i].append(effect)
            match effect:
                case Send(to=to, envelope=envelope):
                    self.network.append(Delivery(to=to, envelope=envelope, sender=sender))
                case Broadcast(envelope=envelope):
                    for j in range(self.config.n):
                        if j != i:
                            self.network.append(
                                Delivery(
                                    to=replica_principal(ReplicaId(j)),
                                    envelope=envelope,
                                    sender=sender,
                                )
                            )
                case StartTimer(timer=timer, fires_at_s=fires_at_s):
                    self.timers[(i, timer)] = fires_at_s
                case StopTimer(timer=timer):
                    self.timers.pop((i, timer), None)
                case Persist(key=key, value=value):
                    if value is None:
                        self.stored[i].pop(key, None)
                    else:
                        self.stored[i][key] = value
                case Executed() | EnteredView() | CheckpointStable() | Rejected():
                    pass
                case _:
                    raise AssertionError(f"unexpected effect {effect!r}")

    def deliver(self, delivery: Delivery) -> None:
        replica = replica_of(delivery.to)
        if replica is None:
            self.client_inbox[delivery.to].append(delivery.envelope)
            return
        if replica in self.crashed or self.drop(delivery):
            return
        self.apply(
            replica,
            self.replicas[replica].step(Received(envelope=delivery.envelope), now_s=self.now_s),
        )

    def inject(self, i: int, envelope: Envelope) -> list[Effect]:
        """Hand replica ``i`` one envelope directly; return (and carry out) its effects."""
        effects = self.replicas[i].step(Received(envelope=envelope), now_s=self.now_s)
        self.apply(i, effects)
        return effects

    def fire(self, i: int, timer: str) -> list[Effect]:
        self.timers.pop((i, TimerName(timer)), None)
        effects = self.replicas[i].step(TimerFired(timer=TimerName(timer)), now_s=self.now_s)
        self.apply(i, effects)
        return effects

    def flush(self, max_deliveries: int = 1_000_000) -> int:
        """Deliver messages until none is in flight; return how many were delivered."""
        count = 0
        while self.network:
            self.deliver(self.network.popleft())
            count += 1
            assert count <= max_deliveries, "network never went quiet"
        return count

    def run(self, duration_s: float) -> None:
        """Deliver everything, then fire timers in time order, for ``duration_s`` seconds."""
        end_s = self.now_s + duration_s
        self.flush()
        while True:
            live = {k: t for k, t in self.timers.items() if k[0] not in self.crashed}
            if not live:
                break
            (i, timer), at_s = min(live.items(), key=lambda item: (item[1], item[0]))
            if at_s > end_s:
                break
            self.now_s = max(self.now_s, at_s)
            self.fire(i, timer)
            self.flush()
        self.now_s = end_s

    # -- clients

    def request(self, client: str, operation: bytes) -> Envelope:
        """A new signed request of ``client`` (next timestamp)."""
        self.timestamps[client] += 1
        request = Request(client=client, timestamp=self.timestamps[client], operation=operation)
        return sign(self.signers[client], request)

    def submit(self, client: str, operation: bytes, *, to: Iterable[int] | None = None) -> Envelope:
        """Send a new request to the primary of replica 0's view (or to ``to``)."""
        envelope = self.request(client, operation)
        targets = [self.config.primary(self.replicas[0].status().view)] if to is None else to
        for i in targets:
            self.network.append(
                Delivery(to=replica_principal(ReplicaId(i)), envelope=envelope, sender=client)
            )
        return envelope

    def replies(self, client: str, timestamp: int) -> dict[int, bytes]:
        """Results per replica that replied to ``client``'s request ``timestamp``."""
        results: dict[int, bytes] = {}
        for envelope in self.client_inbox[client]:
            reply = envelope.payload
            assert isinstance(reply, Reply)
            if reply.timestamp == timestamp:
                results[reply.replica] = reply.result
        return results

    # -- crash and recovery

    def crash(self, i: int) -> None:
        self.crashed.add(i)
        for key in [k for k in self.timers if k[0] == i]:
            del self.timers[key]

    def recover(self, i: int) -> None:
        self.crashed.discard(i)
        self.services[i] = ListService()
        self.replicas[i] = Replica.recover(
            config=self.config,
            replica=ReplicaId(i),
            signer=self.signers[replica_principal(ReplicaId(i))],
            keyring=self.keyring,
            service=self.services[i],
            stored=dict(self.stored[i]),
        )
        self.apply(i, self.replicas[i].start(now_s=self.now_s))

    # -- observations

    def executed(self, i: int) -> list[Executed]:
        return [e for e in self.effects[i] if isinstance(e, Executed)]

    def rejected(self, i: int) -> list[Rejected]:
        return [e for e in self.effects[i] if isinstance(e, Rejected)]

    def signer(self, i: int) -> crypto.Signer:
        return self.signers[replica_principal(ReplicaId(i))]
