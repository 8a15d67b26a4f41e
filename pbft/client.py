"""The client core: signed requests, f+1 matching replies, retransmission (OSDI '99 §4.1).

A :class:`Client` is a pure, deterministic state machine like the replica: it never reads a
clock or touches the network. The embedding application feeds it :class:`Submit` inputs, the
driver feeds it :class:`Received` envelopes and :class:`TimerFired` for the one timer it arms
(:data:`RETRANSMIT_TIMER`), always with the client's own clock reading ``now_s``, and carries
out the effects it returns in order.

Protocol (§4.1). The client signs <REQUEST, o, t, c> with strictly increasing timestamps t and
has at most one request outstanding. It sends the request to the primary of the view it
believes current; if no result arrives before the retransmission timer fires, it sends the
request to every replica (so backups learn of it and, if the primary is faulty, start a view
change, §4.4) and doubles the timer, up to ``config.timeout_s_max``. It accepts a result once
``f + 1`` distinct replicas sent validly signed replies with that timestamp and the same
result: at least one of them is correct, so the result is the one the correct replicas
computed. It learns the current view from the replies it accepted.

Choices where the paper leaves room, each deliberate:

- Submit while a request is outstanding raises ``ValueError``: Submit comes from the
  embedding application, so it is a programming error, not an operating condition. The
  application checks :attr:`Client.busy` or waits for :class:`Completed`.
- The view estimate follows the (f+1)-th highest view among the accepted replies, so at
  least one correct replica is in that view or a later one; a lone faulty replica cannot
  point the client at a made-up view.
- A replica that sent one result and then a different one for the same request is rejected
  ("conflicting-reply"; its first reply still counts once). When a result is accepted, every
  replica whose reply disagreed with it is reported ("wrong-result"), as is any later reply
  for that request with another result: correct replicas compute the same result.
- Replies for requests already completed are the normal tail of a quorum (n - (f+1) of them
  per request). They are counted in :class:`ClientStatus` as ``late_replies`` but not
  reported as rejections, and they are dropped before signature verification because they
  cannot change anything.
- Timeouts (``config.adaptive_timeouts``): the base timeout comes from a
  :class:`pbft.timeouts.LatencyEstimator` fed with the latency of each completed request that
  was never retransmitted (Karn's rule: a retransmitted request's latency includes the time
  lost to the failure). Without adaptive timeouts the base is ``config.client_timeout_s``.
  Doubling on each expiry is kept across requests until a request completes on its first
  attempt, as TCP keeps a backed-off timer until it gets a clean sample (RFC 6298 §5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

import attrs

import crypto
from pbft.config import Config
from pbft.effects import Completed, Effect, Rejected, Send, StartTimer, StopTimer
from pbft.ids import (
    ClientId,
    Principal,
    ReplicaId,
    TimerName,
    View,
    is_valid_client_id,
    replica_of,
    replica_principal,
)
from pbft.inputs import Received, Submit, TimerFired
from pbft.messages import MAX_UINT63, Envelope, Reply, Request, encode, sign, verify
from pbft.timeouts import Backoff, LatencyEstimator

RETRANSMIT_TIMER = TimerName("client-retransmit")

# Rejection reasons, one per way a reply can be wrong (counted in ClientStatus.rejections).
UNEXPECTED_MESSAGE = "unexpected-message"  # not a Reply: clients only accept replies
UNKNOWN_SENDER = "unknown-sender"  # not a replica of this cluster
REPLICA_MISMATCH = "replica-mismatch"  # Reply.replica is not the signing replica
BAD_SIGNATURE = "bad-signature"
WRONG_CLIENT = "wrong-client"  # a reply addressed to another client
FUTURE_TIMESTAMP = "future-timestamp"  # answers a request this client never sent
STALE_TIMESTAMP = "stale-timestamp"  # answers a timestamp below this client's first one
CONFLICTING_REPLY = "conflicting-reply"  # a second, different result from one replica
WRONG_RESULT = "wrong-result"  # a result other than the one f+1 replicas agreed on


@attrs.frozen(kw_only=True)
class ClientStatus:
    """A snapshot of a client's progress and of what it refused, for drivers and reports."""

    client: Principal
    view: View  # the client's estimate of the current view
    last_timestamp: int  # timestamp of the latest request (first_timestamp - 1 before any)
    outstanding: int | None  # timestamp of the request awaiting its result, if any
    completed: int  # requests completed
    retransmissions: int  # timer expiries that re-sent a request to all replicas
    timeout_s: float  # the timeout the next (re)transmission would arm
    late_replies: int  # replies for requests already completed (normal, not rejections)
    duplicate_replies: int  # the same reply again from the same replica (counted once)
    rejections: Mapping[str, int]  # reason -> count


@attrs.define(kw_only=True)
class _Vote:
    result: bytes
    view: View


@attrs.define(kw_only=True)
class _Outstanding:
    """The one request in flight and the replies gathered for it."""

    request: Envelope
    timestamp: int
    operation: bytes
    first_sent_s: float
    attempts: int = 1
    votes: dict[ReplicaId, _Vote] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class _Accepted:
    """The result accepted for the latest completed request, to judge late replies."""

    timestamp: int
    result: bytes


class Client:
    """One PBFT client: see the module docstring for the protocol and the choices made."""

    def __init__(
        self,
        *,
        config: Config,
        client: str,
        signer: crypto.Signer,
        keyring: crypto.Keyring,
        first_timestamp: int = 1,
    ) -> None:
        if not is_valid_client_id(client):
            raise ValueError(f"invalid client id {client!r}: lowercase, not a replica's name")
        if signer.principal != client:
            raise ValueError(f"signer is {signer.principal!r}, not client {client!r}")
        if type(first_timestamp) is not int or not 1 <= first_timestamp <= MAX_UINT63:
            raise ValueError(f"first_timestamp must be in [1, {MAX_UINT63}], got {first_timestamp}")
        self._config = config
        self._client = ClientId(client)
        self._signer = signer
        self._keyring = keyring
        self._first_timestamp = first_timestamp
        self._last_timestamp = first_timestamp - 1
        self._view = View(0)
        self._outstanding: _Outstanding | None = None
        self._accepted: _Accepted | None = None
        self._estimator = LatencyEstimator(
            initial_s=config.client_timeout_s,
            min_s=config.timeout_s_min,
            max_s=config.timeout_s_max,
        )
        self._backoff = Backoff()
        self._completed = 0
        self._retransmissions = 0
        self._late_replies = 0
        self._duplicate_replies = 0
        self._rejections: dict[str, int] = {}

    @property
    def busy(self) -> bool:
        """Whether a request is outstanding (a Submit now would raise ValueError)."""
        return self._outstanding is not None

    @property
    def rejections(self) -> Mapping[str, int]:
        """How many replies were rejected, per reason (a copy)."""
        return dict(self._rejections)

    def status(self) -> ClientStatus:
        return ClientStatus(
            client=self._client,
            view=self._view,
            last_timestamp=self._last_timestamp,
            outstanding=None if self._outstanding is None else self._outstanding.timestamp,
            completed=self._completed,
            retransmissions=self._retransmissions,
            timeout_s=self._timeout_s(),
            late_replies=self._late_replies,
            duplicate_replies=self._duplicate_replies,
            rejections=dict(sorted(self._rejections.items())),
        )

    def step(self, event: Submit | Received | TimerFired, *, now_s: float) -> list[Effect]:
        """Feed one input at local time ``now_s``; returns the effects, to carry out in order.

        Raises ValueError only for misuse by the embedding code (Submit while busy, a timer
        this client never arms); nothing a replica or the network sends makes it raise.
        """
        match event:
            case Submit(operation=operation):
                return self.on_submit(operation, now_s=now_s)
            case Received(envelope=envelope):
                return self.on_received(envelope, now_s=now_s)
            case TimerFired(timer=timer):
                return self.on_timer_fired(timer, now_s=now_s)
            case _:
                assert_never(event)

    def on_submit(self, operation: bytes, *, now_s: float) -> list[Effect]:
        """Sign <REQUEST, o, t, c> and send it to the presumed primary (§4.1)."""
        if self._outstanding is not None:
            raise ValueError(
                f"client {self._client} already has request {self._outstanding.timestamp} "
                "outstanding; submit the next one after its Completed effect"
            )
        if not isinstance(operation, bytes):
            raise ValueError(f"operation must be bytes, got {type(operation).__name__}")
        if self._last_timestamp >= MAX_UINT63:
            raise ValueError(f"client {self._client} has used up its timestamps")
        timestamp = self._last_timestamp + 1
        request = sign(
            self._signer,
            Request(client=self._client, timestamp=timestamp, operation=operation),
        )
        frame_bytes = len(encode(request))
        if frame_bytes > self._config.max_frame_bytes:
            raise ValueError(
                f"a request with this {len(operation)}-byte operation takes {frame_bytes} "
                f"bytes, more than max_frame_bytes ({self._config.max_frame_bytes})"
            )
        self._last_timestamp = timestamp
        self._outstanding = _Outstanding(
            request=request, timestamp=timestamp, operation=operation, first_sent_s=now_s
        )
        primary = replica_principal(self._config.primary(self._view))
        return [
            Send(to=primary, envelope=request),
            StartTimer(timer=RETRANSMIT_TIMER, fires_at_s=now_s + self._timeout_s()),
        ]

    def on_timer_fired(self, timer: TimerName, *, now_s: float) -> list[Effect]:
        """Retransmit the outstanding request to every replica and double the timer (§4.1).

        Sending to all replicas is what lets backups notice a primary that never orders the
        request and start a view change (§4.4). A timer firing with no request outstanding
        is a stale expiry (it raced with completion) and does nothing.
        """
        if timer != RETRANSMIT_TIMER:
            raise ValueError(f"client {self._client} never arms timer {timer!r}")
        outstanding = self._outstanding
        if outstanding is None:
            return []
        outstanding.attempts += 1
        self._retransmissions += 1
        self._backoff.record_failure()
        effects: list[Effect] = [
            Send(to=principal, envelope=outstanding.request)
            for principal in self._config.replica_principals
        ]
        effects.append(StartTimer(timer=RETRANSMIT_TIMER, fires_at_s=now_s + self._timeout_s()))
        return effects

    def on_received(self, envelope: Envelope, *, now_s: float) -> list[Effect]:
        """Judge a reply; accept a result once f+1 replicas agree on it (§4.1)."""
        payload = envelope.payload
        if not isinstance(payload, Reply):
            return self._reject(envelope.sender, UNEXPECTED_MESSAGE, type(payload).__name__)
        replica = replica_of(envelope.sender)
        if replica is None or replica >= self._config.n:
            return self._reject(envelope.sender, UNKNOWN_SENDER)
        if payload.replica != replica:
            return self._reject(envelope.sender, REPLICA_MISMATCH, f"replica={payload.replica}")
        if self._is_harmless_late_reply(payload):
            self._late_replies += 1
            return []
        if not verify(self._keyring, envelope):
            return self._reject(envelope.sender, BAD_SIGNATURE)
        reason = self._reject_reply(payload)
        if reason is not None:
            return self._reject(envelope.sender, reason, f"timestamp={payload.timestamp}")
        outstanding = self._outstanding
        assert outstanding is not None
        assert payload.timestamp == outstanding.timestamp
        return self._count_vote(outstanding, replica, payload, now_s=now_s)

    def _is_harmless_late_reply(self, reply: Reply) -> bool:
        """A reply to us for a request already completed that agrees, or cannot be judged."""
        if reply.client != self._client:
            return False
        if not self._first_timestamp <= reply.timestamp <= self._last_timestamp:
            return False
        if self._outstanding is not None and reply.timestamp == self._outstanding.timestamp:
            return False
        accepted = self._accepted
        return not (
            accepted is not None
            and accepted.timestamp == reply.timestamp
            and accepted.result != reply.result
        )

    def _reject_reply(self, reply: Reply) -> str | None:
        """The reason a validly signed reply cannot count for the outstanding request."""
        if reply.client != self._client:
            return WRONG_CLIENT
        if reply.timestamp > self._last_timestamp:
            return FUTURE_TIMESTAMP
        if reply.timestamp < self._first_timestamp:
            return STALE_TIMESTAMP
        outstanding = self._outstanding
        if outstanding is None or reply.timestamp != outstanding.timestamp:
            # Only a late reply that contradicts the accepted result gets this far.
            assert self._accepted is not None
            assert self._accepted.timestamp == reply.timestamp
            assert self._accepted.result != reply.result
            return WRONG_RESULT
        return None

    def _count_vote(
        self, outstanding: _Outstanding, replica: ReplicaId, reply: Reply, *, now_s: float
    ) -> list[Effect]:
        previous = outstanding.votes.get(replica)
        if previous is not None:
            if previous.result != reply.result:
                return self._reject(
                    replica_principal(replica), CONFLICTING_REPLY, f"timestamp={reply.timestamp}"
                )
            self._duplicate_replies += 1
            previous.view = max(previous.view, reply.view)
            return []
        outstanding.votes[replica] = _Vote(result=reply.result, view=reply.view)
        supporters = [r for r, vote in outstanding.votes.items() if vote.result == reply.result]
        if len(supporters) < self._config.weak_quorum:
            return []
        return self._complete(outstanding, result=reply.result, now_s=now_s)

    def _complete(self, outstanding: _Outstanding, *, result: bytes, now_s: float) -> list[Effect]:
        """Accept ``result``: f+1 distinct replicas vouched for it, so a correct one did."""
        votes = outstanding.votes
        matching_views = sorted(
            (vote.view for vote in votes.values() if vote.result == result), reverse=True
        )
        assert len(matching_views) >= self._config.weak_quorum
        # At least f+1 replicas, so at least one correct, are in this view or a later one.
        self._view = max(self._view, matching_views[self._config.weak_quorum - 1])
        if outstanding.attempts == 1:
            self._estimator.observe(now_s - outstanding.first_sent_s)
            self._backoff.reset()
        self._outstanding = None
        self._accepted = _Accepted(timestamp=outstanding.timestamp, result=result)
        self._completed += 1
        effects: list[Effect] = []
        for replica in sorted(votes):
            if votes[replica].result != result:
                effects += self._reject(
                    replica_principal(replica),
                    WRONG_RESULT,
                    f"timestamp={outstanding.timestamp}",
                )
        effects.append(StopTimer(timer=RETRANSMIT_TIMER))
        effects.append(
            Completed(
                client=self._client,
                timestamp=outstanding.timestamp,
                operation=outstanding.operation,
                result=result,
            )
        )
        return effects

    def _timeout_s(self) -> float:
        if self._config.adaptive_timeouts:
            base_s = self._estimator.timeout_s()
        else:
            base_s = self._config.client_timeout_s
        return self._backoff.apply(base_s, cap_s=self._config.timeout_s_max)

    def _reject(self, sender: Principal, reason: str, detail: str = "") -> list[Effect]:
        self._rejections[reason] = self._rejections.get(reason, 0) + 1
        return [Rejected(sender=sender, reason=reason, detail=detail)]
