"""Replay: a faulty replica re-sends old messages, its own and others', long after the fact.

Signatures prove who said something, not when. PBFT stays safe under replay because every
message names its view and sequence number and every replica keeps only what is new: stale
views are rejected, a second PRE-PREPARE for a slot must match the first, a request is executed
at most once per (client, timestamp) (OSDI '99 §4.2, §4.1). ``replay`` wraps an honest core,
remembers every envelope it receives or sends, and ``delay_s`` later sends each one again:
what it received to every other replica, what it sent to the same recipients as the first
time (so clients get old replies again). It cannot forge anything: replayed envelopes keep
their original signer's signature, which is exactly what a network attacker recording
traffic could do.
"""

from __future__ import annotations

from collections import deque

import attrs

from adversary.behavior import BehaviorContext, check_params, param_float, register
from adversary.params import PAYLOAD_KINDS, other_replicas, param_int, param_names
from pbft.effects import Broadcast, Effect, Send
from pbft.ids import replica_of, replica_principal
from pbft.inputs import Input, Received, TimerFired
from pbft.messages import Envelope

REPLAY_KINDS = ("Request", *PAYLOAD_KINDS)
HELD_MAX = 4096  # recordings waiting to be replayed; the oldest are dropped beyond this


@attrs.frozen
class _Recorded:
    due_s: float
    envelope: Envelope
    to: tuple[str, ...]  # where the replay goes


class Replayer:
    """Re-sends every envelope it saw ``delay_s`` later (its own clock), each once.

    Params:
      delay_s: how long after first seeing a message it is replayed (default 1.0 s).
      burst: at most this many recorded messages are replayed per step (default 8), so a
        replay storm cannot starve the replica's own work in the simulator.
      kinds: payload kinds to record (default every kind, client requests included).
    """

    def __init__(self, ctx: BehaviorContext) -> None:
        params = ctx.params
        check_params("replay", params, ("delay_s", "burst", "kinds"))
        self._ctx = ctx
        self._delay_s = param_float("replay", params, "delay_s", default=1.0, minimum=0.0)
        self._burst = param_int("replay", params, "burst", default=8, minimum=1)
        self._kinds = frozenset(param_names("replay", params, "kinds", REPLAY_KINDS))
        self._core = ctx.make_honest()
        self._held: deque[_Recorded] = deque(maxlen=HELD_MAX)
        self._recorded: set[Envelope] = set()

    def start(self, *, now_s: float) -> list[Effect]:
        effects: list[Effect] = self._core.start(now_s=now_s)
        self._record_sent(effects, now_s)
        return effects

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        if not isinstance(event, Received | TimerFired):
            return []  # a Submit never reaches a replica
        if isinstance(event, Received):
            # Whatever reached this replica is replayed to the other replicas.
            original = replica_of(event.envelope.sender)
            to = tuple(
                replica_principal(replica)
                for replica in other_replicas(self._ctx.config.n, self._ctx.replica)
                if replica != original
            )
            self._record(event.envelope, to, now_s)
        effects: list[Effect] = self._core.step(event, now_s=now_s)
        self._record_sent(effects, now_s)
        return [*effects, *self._replay_due(now_s)]

    def _record_sent(self, effects: list[Effect], now_s: float) -> None:
        """What this replica sends is replayed to the same recipients (replies to clients)."""
        for effect in effects:
            match effect:
                case Send(to=to, envelope=envelope):
                    self._record(envelope, (to,), now_s)
                case Broadcast(envelope=envelope):
                    others = other_replicas(self._ctx.config.n, self._ctx.replica)
                    self._record(envelope, tuple(map(replica_principal, others)), now_s)

    def _record(self, envelope: Envelope, to: tuple[str, ...], now_s: float) -> None:
        if type(envelope.payload).__name__ not in self._kinds or envelope in self._recorded:
            return
        if len(self._recorded) >= 4 * HELD_MAX:
            # Forget what was replayed long ago; at worst an old message is replayed twice.
            self._recorded = {recorded.envelope for recorded in self._held}
        self._recorded.add(envelope)
        self._held.append(_Recorded(due_s=now_s + self._delay_s, envelope=envelope, to=to))

    def _replay_due(self, now_s: float) -> list[Effect]:
        effects: list[Effect] = []
        for _ in range(self._burst):
            if not self._held or self._held[0].due_s > now_s:
                break
            recorded = self._held.popleft()
            # Stays in _recorded: each message is replayed once, however often it is seen.
            self._ctx.report_tamper(type(recorded.envelope.payload).__name__, "replay")
            effects.extend(Send(to=to, envelope=recorded.envelope) for to in recorded.to)
        return effects


@register("replay")
def make_replayer(ctx: BehaviorContext) -> Replayer:
    """A replica that re-sends every message it saw, once, ``delay_s`` later."""
    return Replayer(ctx)
