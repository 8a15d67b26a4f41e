"""Mutation: a faulty replica garbles fields of the messages it sends.

Every honest replica must check every field of what it receives (OSDI '99 §4.2: the view,
the window, the digest, the sender, the signature) and turn a bad message into a counted
rejection, never a crash or a wrong action. ``mutate`` wraps an honest core and rewrites its
outgoing messages, one field at a time, in a fixed cycle:

- "view": the view (or a view change's new view) one higher than the truth;
- "seq": the sequence number pushed beyond any window (2 x window_size above);
- "digest": the first byte of the digest (or state digest) inverted;
- "replica": the payload claims to come from the next replica (signed by this one);
- "signature": the first byte of the signature inverted (the payload is untouched).

Changed payloads are re-signed with the replica's own key, so the signature is valid and the
receiver must catch the content; "signature" alone produces an invalid signature. A message
whose payload has none of the chosen fields falls back to "signature".
"""

from __future__ import annotations

import attrs

from adversary.behavior import BehaviorContext, check_params, register
from adversary.params import PAYLOAD_KINDS, param_int, param_names
from pbft.effects import Broadcast, Effect, Send
from pbft.ids import ReplicaId, Seq, View, replica_principal
from pbft.inputs import Input, Received, TimerFired
from pbft.messages import (
    Checkpoint,
    Commit,
    Envelope,
    FetchState,
    NewView,
    Payload,
    Prepare,
    PrePrepare,
    Reply,
    StateSnapshot,
    Status,
    ViewChange,
    sign,
)

MUTATIONS = ("view", "seq", "digest", "replica", "signature")


def _flip_first_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 0xFF]) + data[1:] if data else b"\xff"


def mutated_payload(payload: Payload, how: str, *, n: int, window_size: int) -> Payload | None:
    """``payload`` with the field ``how`` garbled, or None if it has no such field."""
    match how:
        case "view" if isinstance(payload, ViewChange):
            return attrs.evolve(payload, new_view=View(payload.new_view + 1))
        case "view" if isinstance(
            payload, PrePrepare | Prepare | Commit | Reply | NewView | Status
        ):
            return attrs.evolve(payload, view=View(payload.view + 1))
        case "seq" if isinstance(
            payload, PrePrepare | Prepare | Commit | Checkpoint | StateSnapshot
        ):
            return attrs.evolve(payload, seq=Seq(payload.seq + 2 * window_size))
        case "digest" if isinstance(payload, PrePrepare | Prepare | Commit):
            return attrs.evolve(payload, digest=_flip_first_byte(payload.digest))
        case "digest" if isinstance(payload, Checkpoint):
            return attrs.evolve(payload, state_digest=_flip_first_byte(payload.state_digest))
        case "replica" if isinstance(
            payload,
            Prepare
            | Commit
            | Reply
            | Checkpoint
            | ViewChange
            | FetchState
            | StateSnapshot
            | Status,
        ):
            return attrs.evolve(payload, replica=ReplicaId((payload.replica + 1) % n))
    return None


class Mutator:
    """Garbles one field of every ``every``-th message the honest core sends.

    Params:
      how: list of mutations to cycle through (default all: "view", "seq", "digest",
        "replica", "signature").
      every: mutate every k-th outgoing message, k >= 1 (default 1: every message).
      kinds: payload kinds to mutate (default all kinds a replica sends).
    """

    def __init__(self, ctx: BehaviorContext) -> None:
        params = ctx.params
        check_params("mutate", params, ("how", "every", "kinds"))
        self._ctx = ctx
        self._me = replica_principal(ctx.replica)
        self._how = param_names("mutate", params, "how", MUTATIONS)
        self._kinds = frozenset(param_names("mutate", params, "kinds", PAYLOAD_KINDS))
        self._every = param_int("mutate", params, "every", default=1, minimum=1)
        self._core = ctx.make_honest()
        self._outgoing = 0  # messages seen, to pick every k-th
        self._mutated = 0  # messages mutated, to cycle through ``how``

    def start(self, *, now_s: float) -> list[Effect]:
        return self._rewrite(self._core.start(now_s=now_s))

    def step(self, event: Input, *, now_s: float) -> list[Effect]:
        if not isinstance(event, Received | TimerFired):
            return []  # a Submit never reaches a replica
        return self._rewrite(self._core.step(event, now_s=now_s))

    def _rewrite(self, effects: list[Effect]) -> list[Effect]:
        out: list[Effect] = []
        for effect in effects:
            match effect:
                case Send(envelope=envelope) | Broadcast(envelope=envelope) if self._targets(
                    envelope
                ):
                    out.append(attrs.evolve(effect, envelope=self._maybe_mutate(envelope)))
                case _:
                    out.append(effect)
        return out

    def _targets(self, envelope: Envelope) -> bool:
        return envelope.sender == self._me and type(envelope.payload).__name__ in self._kinds

    def _maybe_mutate(self, envelope: Envelope) -> Envelope:
        self._outgoing += 1
        if self._outgoing % self._every != 0:
            return envelope
        how = self._how[self._mutated % len(self._how)]
        self._mutated += 1
        kind = type(envelope.payload).__name__
        if how != "signature":
            payload = mutated_payload(
                envelope.payload,
                how,
                n=self._ctx.config.n,
                window_size=self._ctx.config.window_size,
            )
            if payload is not None:
                self._ctx.report_tamper(kind, f"mutate: {how}")
                return sign(self._ctx.signer, payload)
        self._ctx.report_tamper(kind, "mutate: signature")
        return attrs.evolve(envelope, signature=_flip_first_byte(envelope.signature))


@register("mutate")
def make_mutator(ctx: BehaviorContext) -> Mutator:
    """A replica whose outgoing messages arrive with one field garbled."""
    return Mutator(ctx)
