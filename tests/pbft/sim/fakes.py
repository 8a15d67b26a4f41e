"""Tiny stand-in cores for simulator tests: an echo "replica" and an f+1-reply client.

They follow the core contract (inputs in, effects out, time as an argument) with none of the
protocol, so simulator tests exercise the simulator alone: the network, clocks, timers,
durable store, crashes and pauses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pbft.config import Config
from pbft.effects import (
    Broadcast,
    Completed,
    Effect,
    EnteredView,
    Executed,
    Persist,
    Send,
    StartTimer,
    StopTimer,
)
from pbft.ids import ReplicaId, Seq, TimerName, View, replica_of, replica_principal
from pbft.inputs import Input, Received, Submit, TimerFired
from pbft.messages.types import Envelope, Reply, Request

SIGNATURE = bytes(64)
TICK_S = 0.1


@attrs.frozen
class FakeStatus:
    view: int
    log_slots: int
    last_executed: int
    view_change_in_progress: bool = False


class EchoReplica:
    """Executes every new request at once and replies; ticks a periodic timer.

    Persists its sequence counter (durable), keeps its set of executed requests in memory
    only (volatile), so a recovered replica resumes numbering where it left off.
    """

    def __init__(self, replica: ReplicaId, seq: int = 0) -> None:
        self.replica = replica
        self.seq = seq
        self.executed: dict[tuple[str, int], bytes] = {}
        self.ticks: list[float] = []  # local clock readings at each tick
        self.received_at: list[float] = []

    def start(self, *, now_s: float) -> list[Effect]:
        return [
            StartTimer(timer=TimerName("tick"), fires_at_s=now_s + TICK_S),
            EnteredView(replica=self.replica, view=View(0)),
        ]

    def step(self, event: Received | TimerFired, *, now_s: float) -> list[Effect]:
        match event:
            case TimerFired(timer=timer):
                assert timer == "tick"
                self.ticks.append(now_s)
                return [StartTimer(timer=TimerName("tick"), fires_at_s=now_s + TICK_S)]
            case Received(envelope=envelope):
                self.received_at.append(now_s)
                payload = envelope.payload
                if not isinstance(payload, Request):
                    return []
                key = (payload.client, payload.timestamp)
                if key in self.executed:
                    return [self._reply(payload, self.executed[key])]
                self.seq += 1
                result = b"ok:" + payload.operation
                self.executed[key] = result
                return [
                    Persist(key="seq", value=str(self.seq).encode()),
                    Executed(
                        replica=self.replica,
                        view=View(0),
                        seq=Seq(self.seq),
                        digest=bytes(32),
                        requests=(payload,),
                        results=(result,),
                    ),
                    self._reply(payload, result),
                ]

    def _reply(self, request: Request, result: bytes) -> Send:
        reply = Reply(
            view=View(0),
            timestamp=request.timestamp,
            client=request.client,
            replica=self.replica,
            result=result,
        )
        envelope = Envelope(
            sender=replica_principal(self.replica), payload=reply, signature=SIGNATURE
        )
        return Send(to=request.client, envelope=envelope)

    def status(self) -> FakeStatus:
        return FakeStatus(view=0, log_slots=self.seq, last_executed=self.seq)


class QuorumClient:
    """Broadcasts each request, completes on f+1 matching replies, retransmits on timeout."""

    def __init__(self, config: Config, client: str) -> None:
        self.config = config
        self.client = client
        self.timestamp = 0
        self.operation: bytes | None = None
        self.replies: dict[int, bytes] = {}

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        match event:
            case Submit(operation=operation):
                self.timestamp += 1
                self.operation = operation
                self.replies = {}
                return self._send(now_s)
            case TimerFired():
                return self._send(now_s) if self.operation is not None else []
            case Received(envelope=envelope):
                reply = envelope.payload
                if not isinstance(reply, Reply) or reply.timestamp != self.timestamp:
                    return []
                if self.operation is None:
                    return []
                sender = replica_of(envelope.sender)
                assert sender is not None
                self.replies[sender] = reply.result
                matching = sum(1 for result in self.replies.values() if result == reply.result)
                if matching < self.config.weak_quorum:
                    return []
                operation, self.operation = self.operation, None
                return [
                    StopTimer(timer=TimerName("retransmit")),
                    Completed(
                        client=self.client,
                        timestamp=self.timestamp,
                        operation=operation,
                        result=reply.result,
                    ),
                ]

    def _send(self, now_s: float) -> list[Effect]:
        assert self.operation is not None
        request = Request(client=self.client, timestamp=self.timestamp, operation=self.operation)
        envelope = Envelope(sender=self.client, payload=request, signature=SIGNATURE)
        return [
            Broadcast(envelope=envelope),
            StartTimer(timer=TimerName("retransmit"), fires_at_s=now_s + 0.5),
        ]


class FakeCores:
    """A :class:`pbft.sim.cores.Cores` of fakes; remembers every core it built."""

    def __init__(self) -> None:
        self.replicas: dict[int, list[EchoReplica]] = {}
        self.recovered_from: list[dict[str, bytes]] = []
        self.clients: dict[str, QuorumClient] = {}

    def keys(
        self, scheme: str, cluster_seed: bytes, principals: Iterable[str]
    ) -> tuple[Mapping[str, Any], Any]:
        return {principal: principal for principal in principals}, "keyring"

    def service(self, app: str) -> Any:
        return app

    def replica(
        self, *, config: Config, replica: ReplicaId, signer: Any, keyring: Any, service: Any
    ) -> EchoReplica:
        core = EchoReplica(replica)
        self.replicas.setdefault(replica, []).append(core)
        return core

    def recover(
        self,
        *,
        config: Config,
        replica: ReplicaId,
        signer: Any,
        keyring: Any,
        service: Any,
        stored: Mapping[str, bytes],
    ) -> EchoReplica:
        self.recovered_from.append(dict(stored))
        core = EchoReplica(replica, seq=int(stored.get("seq", b"0")))
        self.replicas.setdefault(replica, []).append(core)
        return core

    def client(self, *, config: Config, client: str, signer: Any, keyring: Any) -> QuorumClient:
        core = QuorumClient(config, client)
        self.clients[client] = core
        return core

    def operation(self, app: str, kind: str, key_index: int, value: bytes) -> bytes:
        return f"{kind}:{key_index}:".encode() + value

    def behavior(self, name: str, ctx: Any) -> Any:
        from adversary.behavior import make_behavior

        return make_behavior(name, ctx)

    def current(self, replica: int) -> EchoReplica:
        return self.replicas[replica][-1]
